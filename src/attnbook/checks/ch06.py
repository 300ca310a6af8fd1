"""Checks for chapter 6, the transformer block (PyTorch).

Each exercise lists its known mistakes beside its hints; ``tests/test_checks_ch06.py``
holds one learner-style wrong answer per mistake and proves it is named. The two block
exercises take a class as the answer: the check builds it, loads random weights into it by
parameter name (``self_attn.w_q.weight``, ``ff.linear1.weight``, ``norm1.weight``, ...), and
compares its forward pass with the book's block.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..attention import causal_mask
from ..transformer import DecoderBlock, EncoderBlock
from .core import Case, Exercise, Mistake, Tolerance, as_array


def _tensor(rng, *shape, dtype=np.float64, scale=1.0, loc=0.0):
    return torch.from_numpy((loc + rng.normal(size=shape) * scale).astype(dtype))


def _padding(rng, batch, length):
    """(batch, 1, 1, length) bool: True at real positions; the first row is full, the others padded."""
    lengths = np.concatenate([[length], rng.integers(2, length, size=batch - 1)])
    return (torch.arange(length)[None, :] < torch.from_numpy(lengths)[:, None])[:, None, None, :]


# --------------------------------------------------------------------------- ex-06-1


def layer_norm(x, gamma, beta, eps=1e-5):
    """The reference: normalise every vector x[..., :] over its features, then scale and shift."""
    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def _norm(x, gamma, beta, eps=1e-5, *, dim=-1, unbiased=False, eps_mode="inside", center=True, swap=False):
    """Layer norm with one switch per catalogued mistake; the reference when all are off."""
    mean = x.mean(dim=dim, keepdim=True) if center else 0.0
    if center:
        var = x.var(dim=dim, keepdim=True, unbiased=unbiased)
    else:
        var = (x ** 2).mean(dim=dim, keepdim=True)
    if eps_mode == "inside":
        normed = (x - mean) / torch.sqrt(var + eps)
    elif eps_mode == "outside":
        normed = (x - mean) / (torch.sqrt(var) + eps)
    else:  # "none"
        normed = (x - mean) / torch.sqrt(var)
    return normed * beta + gamma if swap else normed * gamma + beta


def _wrong_axis(result, case):
    x, gamma, beta, eps = case.args.values()
    answer = as_array(result)
    for dim in {0, x.dim() - 2}:
        wrong = _norm(x, gamma, beta, eps, dim=dim).double().numpy()
        if answer.shape == wrong.shape and np.allclose(answer, wrong, rtol=1e-4, atol=1e-5):
            return True
    return False


def _layer_norm_cases(rng):
    def case(shape, dtype=np.float64, eps=1e-5, loc=0.0, scale=1.0, note=""):
        d = shape[-1]
        return Case({"x": _tensor(rng, *shape, dtype=dtype, loc=loc, scale=scale),
                     "gamma": _tensor(rng, d, dtype=dtype, loc=1.0, scale=0.5),
                     "beta": _tensor(rng, d, dtype=dtype, scale=0.5),
                     "eps": eps}, note)

    return [
        case((3, 5, 6), note="a batch of sentences"),
        case((4, 7), dtype=np.float32, loc=3.0, scale=2.0, note="float32, vectors far from 0"),
        case((2, 3, 4), eps=0.5, scale=0.5, note="a large eps and small variances"),
        case((2, 2, 3, 5), note="two batch dimensions"),
        case((6, 2), eps=0.1, note="two features"),
    ]


LAYER_NORM = Exercise(
    id="ex-06-1",
    title="Layer normalisation",
    chapter=6,
    points=2,
    function="layer_norm",
    reference=layer_norm,
    cases=_layer_norm_cases,
    mistakes=[
        Mistake("unbiased-variance",
                "your variance divides by d - 1 (torch.var's default, Bessel's correction). Layer norm "
                "uses the plain mean of the squared deviations: x.var(dim=-1, unbiased=False, keepdim=True).",
                model=lambda x, g, b, eps: _norm(x, g, b, eps, unbiased=True)),
        Mistake("eps-outside-sqrt",
                "eps belongs inside the square root: (x - mean) / sqrt(var + eps), not / (sqrt(var) + eps).",
                model=lambda x, g, b, eps: _norm(x, g, b, eps, eps_mode="outside")),
        Mistake("eps-ignored",
                "you ignored eps: divide by sqrt(var + eps) with the eps you are given, which keeps a "
                "vector whose features are all equal from a division by zero.",
                model=lambda x, g, b, eps: _norm(x, g, b, eps, eps_mode="none")),
        Mistake("gamma-beta-swapped",
                "gamma and beta are swapped: the normalised vector is multiplied by gamma (the scale) and "
                "then beta (the shift) is added.",
                model=lambda x, g, b, eps: _norm(x, g, b, eps, swap=True)),
        Mistake("not-centred",
                "you divided by the root mean square without subtracting the mean first (that is "
                "RMSNorm, a cousin). Layer norm centres each vector: (x - mean) / sqrt(var + eps).",
                model=lambda x, g, b, eps: _norm(x, g, b, eps, center=False)),
        Mistake("wrong-axis",
                "you normalised each feature across the words or the batch. Layer norm normalises each "
                "word's vector on its own: mean and variance over the last axis (dim=-1, keepdim=True).",
                detect=_wrong_axis),
    ],
    hints=[
        "Each vector x[..., :] is normalised on its own: its mean and variance are taken over the last "
        "axis. keepdim=True keeps them broadcastable against x.",
        "mean = x.mean(dim=-1, keepdim=True); var = ((x - mean) ** 2).mean(dim=-1, keepdim=True). "
        "Beware: x.var() divides by d - 1 unless you pass unbiased=False.",
        "return (x - mean) / torch.sqrt(var + eps) * gamma + beta",
    ],
    forbidden=["torch.nn.functional.layer_norm"],
)


# --------------------------------------------------------------------------- ex-06-2


def feed_forward(x, w1, b1, w2, b2):
    """The reference: relu(x @ w1 + b1) @ w2 + b2, with w1 (d_model, d_ff) and w2 (d_ff, d_model)."""
    return torch.relu(x @ w1 + b1) @ w2 + b2


def _ff_cases(rng):
    def case(shape, d_ff, dtype=np.float64, note=""):
        d = shape[-1]
        return Case({"x": _tensor(rng, *shape, dtype=dtype),
                     "w1": _tensor(rng, d, d_ff, dtype=dtype, scale=1 / math.sqrt(d)),
                     "b1": _tensor(rng, d_ff, dtype=dtype, scale=0.5),
                     "w2": _tensor(rng, d_ff, d, dtype=dtype, scale=1 / math.sqrt(d_ff)),
                     "b2": _tensor(rng, d, dtype=dtype, scale=0.5)}, note)

    return [
        case((2, 5, 4), 8),
        case((3, 6), 10, dtype=np.float32, note="float32 inputs"),
        case((2, 3, 4, 6), 5, note="two batch dimensions, d_ff smaller than d_model"),
        case((7, 3), 12, note="no batch dimension"),
    ]


FEED_FORWARD = Exercise(
    id="ex-06-2",
    title="The position-wise feed-forward network",
    chapter=6,
    points=2,
    function="feed_forward",
    reference=feed_forward,
    cases=_ff_cases,
    mistakes=[
        Mistake("relu-after-second",
                "your ReLU comes after the second linear layer. It belongs between the two: "
                "relu(x @ w1 + b1) @ w2 + b2. The output must be free to be negative, since it is added "
                "to the residual stream.",
                model=lambda x, w1, b1, w2, b2: torch.relu((x @ w1 + b1) @ w2 + b2)),
        Mistake("relu-twice",
                "you applied ReLU after both linear layers. Only the hidden layer gets it: "
                "relu(x @ w1 + b1) @ w2 + b2; the output stays linear.",
                model=lambda x, w1, b1, w2, b2: torch.relu(torch.relu(x @ w1 + b1) @ w2 + b2)),
        Mistake("no-relu",
                "there is no ReLU: two linear layers in a row are just one linear map. Put "
                "torch.relu around the first layer: relu(x @ w1 + b1) @ w2 + b2.",
                model=lambda x, w1, b1, w2, b2: (x @ w1 + b1) @ w2 + b2),
        Mistake("bias-after-relu",
                "you added b1 after the ReLU; it goes inside: relu(x @ w1 + b1).",
                model=lambda x, w1, b1, w2, b2: (torch.relu(x @ w1) + b1) @ w2 + b2),
    ],
    hints=[
        "Two linear maps with a ReLU between them, applied to every position (every row) on its own: "
        "x @ w1 + b1 widens each vector to d_ff features, @ w2 + b2 brings it back to d_model.",
        "h = torch.relu(x @ w1 + b1) has shape (..., L, d_ff).",
        "return torch.relu(x @ w1 + b1) @ w2 + b2",
    ],
)


# --------------------------------------------------------------------------- blocks: weights by name


def _random_state(block, rng, dtype):
    """Random weights for every parameter of ``block`` (a tuple, in state_dict order): linear weights
    of size 1/sqrt(fan_in), biases and layer-norm shifts around 0, layer-norm scales around 1."""
    values = []
    for name, p in block.state_dict().items():
        if name.startswith("norm") and name.endswith("weight"):
            values.append(_tensor(rng, *p.shape, dtype=dtype, loc=1.0, scale=0.3))
        elif name.endswith("bias"):
            values.append(_tensor(rng, *p.shape, dtype=dtype, scale=0.3))
        else:
            values.append(_tensor(rng, *p.shape, dtype=dtype, scale=1 / math.sqrt(p.shape[-1])))
    return tuple(values)


def _load(block, state, kind):
    """Load the tuple ``state`` (in the book's order) into ``block`` by name, with a clear error."""
    names = _KEYS[kind]
    found = set(block.state_dict())
    missing, unexpected = sorted(set(names) - found), sorted(found - set(names))
    if missing or unexpected:
        raise ValueError(
            "the check copies weights into your block by name, and the names do not match: "
            + (f"missing {', '.join(missing[:4])}" if missing else "")
            + ("; " if missing and unexpected else "")
            + (f"unexpected {', '.join(unexpected[:4])}" if unexpected else "")
            + ". Use self_attn" + (" and cross_attn" if kind == "decoder" else "")
            + " = MultiHeadAttention(d_model, n_heads), ff = FeedForward(d_model, d_ff), "
            + ("norm1, norm2, norm3" if kind == "decoder" else "norm1, norm2") + " = nn.LayerNorm(d_model)")
    block.load_state_dict(dict(zip(names, state)))
    return block


_KEYS = {
    "encoder": list(EncoderBlock(4, 2, 8).state_dict()),
    "decoder": list(DecoderBlock(4, 2, 8).state_dict()),
}


def _book_block(cls, state, n_heads, d_ff, d_model, dtype, **kwargs):
    block = cls(d_model, n_heads, d_ff, **kwargs).to(dtype)
    _load(block, state, "encoder" if cls is EncoderBlock else "decoder")
    return block.eval()


# --------------------------------------------------------------------------- ex-06-3


def _encoder_cases(rng):
    def case(batch, length, d_model, n_heads, d_ff, norm_first, dtype=np.float64, mask=False, note=""):
        state = _random_state(EncoderBlock(d_model, n_heads, d_ff), rng, dtype)
        return Case({"state": state, "n_heads": n_heads, "d_ff": d_ff, "norm_first": norm_first,
                     "x": _tensor(rng, batch, length, d_model, dtype=dtype),
                     "mask": _padding(rng, batch, length) if mask else None},
                    note + (", pre-LN" if norm_first else ", post-LN"))

    return [
        case(2, 5, 8, 2, 16, True, note="no mask"),
        case(2, 5, 8, 2, 16, False, note="no mask"),
        case(3, 6, 8, 4, 12, True, mask=True, note="a padding mask"),
        case(3, 6, 12, 3, 20, False, dtype=np.float32, mask=True, note="float32 and a padding mask"),
        case(1, 7, 6, 3, 10, True, dtype=np.float32, note="float32, three heads"),
    ]


def _encoder_call(cls, state, n_heads, d_ff, norm_first, x, mask):
    block = cls(x.shape[-1], n_heads, d_ff, norm_first).to(x.dtype)
    _load(block, state, "encoder").eval()
    return block(x, mask) if mask is not None else block(x)


def _encoder(state, n_heads, d_ff, norm_first, x, mask, *, mode=None):
    """The book's encoder block, or one of the catalogued mistakes (``mode``)."""
    b = _book_block(EncoderBlock, state, n_heads, d_ff, x.shape[-1], x.dtype, norm_first=norm_first)
    if mode is None:
        return b(x, mask)
    if mode == "always-post":
        norm_first = False
    if mode == "always-pre":
        norm_first = True
    if mode == "mask-ignored":
        mask = None
    if mode == "mask-inverted" and mask is not None:
        mask = ~mask

    def attend(h):
        return b.self_attn(h, h, h, mask)[0]

    if mode == "no-residual":
        if norm_first:
            return b.ff(b.norm2(attend(b.norm1(x))))
        return b.norm2(b.ff(b.norm1(attend(x))))
    if mode == "inverted":                          # the flag read the wrong way round
        norm_first = not norm_first
    if mode == "normalised-residual" and norm_first:  # x = norm(x), then x = x + sublayer(x)
        h = b.norm1(x)
        x = h + attend(h)
        h = b.norm2(x)
        return h + b.ff(h)
    if mode == "parallel" and norm_first:           # both sub-layers read the block's input
        return x + attend(b.norm1(x)) + b.ff(b.norm2(x))
    if norm_first:
        x = x + attend(b.norm1(x))
        return x + b.ff(b.norm2(x))
    x = b.norm1(x + attend(x))
    return b.norm2(x + b.ff(x))


def _encoder_mistake(mode):
    """The encoder block with one catalogued mistake (``mode``); with ``mode=None``, the reference."""
    def model(state, n_heads, d_ff, norm_first, x, mask):
        with torch.no_grad():
            return _encoder(state, n_heads, d_ff, norm_first, x, mask, mode=mode)
    return model


_encoder_reference = _encoder_mistake(None)


ENCODER_BLOCK = Exercise(
    id="ex-06-3",
    title="An encoder block, pre-LN and post-LN",
    chapter=6,
    points=3,
    function="EncoderBlock",
    reference=_encoder_reference,
    cases=_encoder_cases,
    call=_encoder_call,
    mistakes=[
        Mistake("post-ln-for-pre-ln",
                "with norm_first=True your block normalises after adding the residual (post-LN). Pre-LN "
                "normalises the input of each sub-layer and adds the sub-layer's output to the untouched "
                "x: x = x + attention(norm1(x)), then x = x + ff(norm2(x)).",
                model=_encoder_mistake("always-post")),
        Mistake("pre-ln-for-post-ln",
                "with norm_first=False your block normalises before the sub-layers (pre-LN). Post-LN "
                "adds first and normalises the sum: x = norm1(x + attention(x)), then "
                "x = norm2(x + ff(x)).",
                model=_encoder_mistake("always-pre")),
        Mistake("norm-first-inverted",
                "your block reads norm_first the wrong way round: with norm_first=True it adds first "
                "and normalises the sum (post-LN), with norm_first=False it normalises first (pre-LN). "
                "norm_first=True means: normalise the input of each sub-layer, x = x + attention(norm1(x)).",
                model=_encoder_mistake("inverted")),
        Mistake("no-residual",
                "there is no residual connection: each sub-layer's output must be added to its input "
                "(x + ...), otherwise the block forgets the words it was given.",
                model=_encoder_mistake("no-residual")),
        Mistake("normalised-residual",
                "you replaced x by norm1(x) before adding the residual, so the residual path carries the "
                "normalised vector. In a pre-LN block only the sub-layer sees the normalised copy: "
                "x = x + attention(norm1(x)).",
                model=_encoder_mistake("normalised-residual")),
        Mistake("parallel-sublayers",
                "your feed-forward reads the block's input instead of the output of the attention step. "
                "The sub-layers run one after the other: x = x + attention(norm1(x)); "
                "x = x + ff(norm2(x)) with the new x.",
                model=_encoder_mistake("parallel")),
        Mistake("mask-ignored",
                "the padding mask has no effect: pass mask on to self.self_attn(h, h, h, mask).",
                model=_encoder_mistake("mask-ignored")),
        Mistake("mask-inverted",
                "you inverted the mask. In this book True means 'may attend' (PyTorch's layers use the "
                "opposite for their masks, True = blocked): pass mask to MultiHeadAttention unchanged.",
                model=_encoder_mistake("mask-inverted")),
    ],
    hints=[
        "In __init__: self.self_attn = MultiHeadAttention(d_model, n_heads), self.ff = FeedForward(d_model, "
        "d_ff), self.norm1 and self.norm2 = nn.LayerNorm(d_model), and keep norm_first. The names matter: "
        "the check copies weights into them.",
        "Pre-LN: h = self.norm1(x); x = x + self.self_attn(h, h, h, mask)[0]; x = x + self.ff(self.norm2(x)). "
        "MultiHeadAttention returns (output, weights): keep the output.",
        "Post-LN: x = self.norm1(x + self.self_attn(x, x, x, mask)[0]); x = self.norm2(x + self.ff(x)).",
    ],
    tolerance=Tolerance(rtol=1e-4, atol=1e-5),
)


# --------------------------------------------------------------------------- ex-06-4


def _decoder_cases(rng):
    def case(batch, l_t, l_s, d_model, n_heads, d_ff, dtype=np.float64, mask=False, note=""):
        state = _random_state(DecoderBlock(d_model, n_heads, d_ff), rng, dtype)
        return Case({"state": state, "n_heads": n_heads, "d_ff": d_ff,
                     "y": _tensor(rng, batch, l_t, d_model, dtype=dtype),
                     "memory": _tensor(rng, batch, l_s, d_model, dtype=dtype),
                     "memory_mask": _padding(rng, batch, l_s) if mask else None}, note)

    return [
        case(2, 5, 5, 8, 2, 16, note="target and source of the same length"),
        case(3, 6, 6, 8, 4, 12, mask=True, note="a padded source of the same length"),
        case(2, 4, 7, 8, 2, 16, note="a longer source"),
        case(3, 6, 5, 12, 3, 20, dtype=np.float32, mask=True, note="float32, a padded source"),
        case(1, 1, 3, 6, 3, 10, note="a single target position"),
    ]


def _decoder_call(cls, state, n_heads, d_ff, y, memory, memory_mask):
    block = cls(y.shape[-1], n_heads, d_ff).to(y.dtype)
    _load(block, state, "decoder").eval()
    return block(y, memory, memory_mask) if memory_mask is not None else block(y, memory)


def _decoder(state, n_heads, d_ff, y, memory, memory_mask, *, mode=None):
    """The book's pre-LN decoder block with its own causal mask, or a catalogued mistake."""
    b = _book_block(DecoderBlock, state, n_heads, d_ff, y.shape[-1], y.dtype, norm_first=True)
    causal = causal_mask(y.shape[-2])
    if mode is None:
        return b(y, memory, causal, memory_mask)
    if mode == "no-causal-mask":
        causal = None
    if mode == "causal-mask-flipped":
        causal = causal.T
    if mode == "memory-mask-ignored":
        memory_mask = None

    def self_attend(h):
        return b.self_attn(h, h, h, causal)[0]

    def cross(h):
        if mode == "cross-reversed":
            return b.cross_attn(memory, h, h, memory_mask)[0]   # queries from the source
        if mode == "memory-unused":
            return b.cross_attn(h, h, h, causal)[0]             # a second self-attention
        if mode == "memory-normalised":
            m = b.norm2(memory)
            return b.cross_attn(h, m, m, memory_mask)[0]
        return b.cross_attn(h, memory, memory, memory_mask)[0]

    if mode == "post-ln":
        y = b.norm1(y + self_attend(y))
        y = b.norm2(y + cross(y))
        return b.norm3(y + b.ff(y))
    if mode == "no-residual":
        return b.ff(b.norm3(cross(b.norm2(self_attend(b.norm1(y))))))
    y = y + self_attend(b.norm1(y))
    y = y + cross(b.norm2(y))
    return y + b.ff(b.norm3(y))


def _decoder_mistake(mode):
    """The decoder block with one catalogued mistake (``mode``); with ``mode=None``, the reference."""
    def model(state, n_heads, d_ff, y, memory, memory_mask):
        with torch.no_grad():
            return _decoder(state, n_heads, d_ff, y, memory, memory_mask, mode=mode)
    return model


_decoder_reference = _decoder_mistake(None)


DECODER_BLOCK = Exercise(
    id="ex-06-4",
    title="A pre-LN decoder block with cross-attention",
    chapter=6,
    points=3,
    function="DecoderBlock",
    reference=_decoder_reference,
    cases=_decoder_cases,
    call=_decoder_call,
    mistakes=[
        Mistake("no-causal-mask",
                "your self-attention has no causal mask, so each position reads the words after it, the "
                "very words it must learn to predict. Build causal_mask(L_t) and pass it to self.self_attn.",
                model=_decoder_mistake("no-causal-mask")),
        Mistake("causal-mask-flipped",
                "your causal mask points the wrong way: each position sees itself and the words after it. "
                "It must see itself and the words before it: True on and below the diagonal (tril).",
                model=_decoder_mistake("causal-mask-flipped")),
        Mistake("cross-reversed",
                "your cross-attention takes its queries from the encoder and its keys and values from the "
                "decoder. The decoder asks (queries from the target) and the source answers: "
                "self.cross_attn(h, memory, memory, memory_mask).",
                model=_decoder_mistake("cross-reversed")),
        Mistake("memory-unused",
                "your second attention never looks at memory: it is a second self-attention. Cross-attention "
                "takes its keys and values from the encoder's output: self.cross_attn(h, memory, memory, "
                "memory_mask).",
                model=_decoder_mistake("memory-unused")),
        Mistake("memory-mask-ignored",
                "the source padding mask has no effect: pass memory_mask to the cross-attention, so that "
                "no target word highlights a padded source position.",
                model=_decoder_mistake("memory-mask-ignored")),
        Mistake("memory-normalised",
                "you normalised memory with norm2. Only the decoder's own stream is normalised before "
                "cross-attention; the encoder's output arrives as it is (a pre-LN encoder ends with its "
                "own final norm).",
                model=_decoder_mistake("memory-normalised")),
        Mistake("post-ln",
                "your block normalises after adding the residual (post-LN); this exercise asks for pre-LN: "
                "y = y + sublayer(norm(y)) for each of the three sub-layers.",
                model=_decoder_mistake("post-ln")),
        Mistake("no-residual",
                "there is no residual connection: add each sub-layer's output to its input "
                "(y = y + ...).",
                model=_decoder_mistake("no-residual")),
    ],
    hints=[
        "Three sub-layers, each pre-LN with a residual: masked self-attention (norm1), cross-attention "
        "(norm2), feed-forward (norm3). Name them self_attn, cross_attn, ff, norm1, norm2, norm3.",
        "The causal mask: causal_mask(y.size(1)) from attnbook.attention, True on and below the diagonal. "
        "In cross-attention the queries come from the decoder, the keys and values from memory.",
        "h = self.norm1(y); y = y + self.self_attn(h, h, h, causal)[0]; h = self.norm2(y); "
        "y = y + self.cross_attn(h, memory, memory, memory_mask)[0]; return y + self.ff(self.norm3(y))",
    ],
)


# --------------------------------------------------------------------------- ex-06-5


def block_parameters(d_model, n_heads, d_ff, kind):
    """The reference: the number of learned numbers in one block of the book, 'encoder' or 'decoder'."""
    attention = 4 * (d_model * d_model + d_model)              # w_q, w_k, w_v, w_o with biases
    ff = d_model * d_ff + d_ff + d_ff * d_model + d_model      # linear1, linear2 with biases
    norm = 2 * d_model                                         # gamma and beta
    if kind == "encoder":
        return attention + ff + 2 * norm
    return 2 * attention + ff + 3 * norm


def _count(d_model, n_heads, d_ff, kind, *, heads=False, biases=True, norms=True, one_attention=False,
           one_linear=False):
    attention = 4 * (d_model * d_model + (d_model if biases else 0))
    if heads:
        attention *= n_heads
    ff = d_model * d_ff + d_ff * d_model + ((d_ff + d_model) if biases else 0)
    if one_linear:
        ff = d_model * d_ff + (d_ff if biases else 0)
    norm = 2 * d_model if norms else 0
    if kind == "encoder":
        return attention + ff + 2 * norm
    return (1 if one_attention else 2) * attention + ff + (2 if one_attention else 3) * norm


def _count_cases(rng):
    cases = []
    for kind in ("encoder", "decoder", "encoder", "decoder"):
        n_heads = int(rng.choice([2, 3, 4]))
        d_model = n_heads * int(rng.integers(3, 9))
        cases.append(Case({"d_model": d_model, "n_heads": n_heads, "d_ff": int(rng.integers(5, 40)),
                           "kind": kind}, f"a{'n' if kind == 'encoder' else ''} {kind} block"))
    cases.append(Case({"d_model": 512, "n_heads": 8, "d_ff": 2048, "kind": "encoder"},
                      "the base model of Vaswani et al., an encoder block"))
    return cases


PARAMETER_COUNT = Exercise(
    id="ex-06-5",
    title="Counting a block's parameters",
    chapter=6,
    points=2,
    function="block_parameters",
    reference=block_parameters,
    cases=_count_cases,
    mistakes=[
        Mistake("per-head",
                "you multiplied the attention parameters by n_heads. The heads share out the d_model "
                "features (d_head = d_model / n_heads each), so the four d_model x d_model projections "
                "hold the same number of weights whatever the number of heads.",
                model=lambda d, h, f, kind: _count(d, h, f, kind, heads=True)),
        Mistake("no-biases",
                "you forgot the biases: every nn.Linear(n_in, n_out) has n_in * n_out weights plus n_out "
                "biases.",
                model=lambda d, h, f, kind: _count(d, h, f, kind, biases=False)),
        Mistake("no-norms",
                "you forgot the layer norms: each nn.LayerNorm(d_model) learns a scale and a shift, "
                "2 * d_model numbers.",
                model=lambda d, h, f, kind: _count(d, h, f, kind, norms=False)),
        Mistake("decoder-one-attention",
                "your decoder block has one attention layer (and two norms); it has two attention layers, "
                "masked self-attention and cross-attention, and three layer norms.",
                model=lambda d, h, f, kind: _count(d, h, f, kind, one_attention=True)),
        Mistake("ff-one-linear",
                "you counted one linear layer in the feed-forward network; it has two, d_model -> d_ff "
                "and d_ff -> d_model, each with its biases.",
                model=lambda d, h, f, kind: _count(d, h, f, kind, one_linear=True)),
    ],
    hints=[
        "Count layer by layer: nn.Linear(n_in, n_out) holds n_in * n_out + n_out numbers, "
        "nn.LayerNorm(d) holds 2 * d. Does the number of heads change any of these shapes?",
        "An encoder block: one multi-head attention (four d_model x d_model linears), a feed-forward "
        "(two linears), two layer norms. A decoder block: two attentions, one feed-forward, three norms.",
        "attention = 4 * (d_model**2 + d_model); ff = 2 * d_model * d_ff + d_ff + d_model; norm = 2 * d_model; "
        "encoder: attention + ff + 2 * norm; decoder: 2 * attention + ff + 3 * norm",
    ],
    tolerance=Tolerance(rtol=0.0, atol=0.0),
)


EXERCISES = [LAYER_NORM, FEED_FORWARD, ENCODER_BLOCK, DECODER_BLOCK, PARAMETER_COUNT]
