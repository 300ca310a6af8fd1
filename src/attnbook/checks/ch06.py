"""Checks for chapter 6, the transformer block (PyTorch).

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch06.py`` holds one learner-style wrong answer per
mistake and proves it is named, and look-alikes that must not be.

The block exercises take a class as the answer: the check builds it (by
keyword: ``norm_first=...``), loads random weights into it by parameter
name (``self_attn.w_q.weight``, ``ff.linear1.weight``, ``norm1.weight``,
...), puts it in eval mode and compares its forward pass with the book's
block. The references are the catalogues' models with no mistake switched
on, which equal the book's blocks (a test proves it).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..attention import causal_mask
from ..transformer import DecoderBlock, EncoderBlock
from .core import (Case, CheckFailure, Code, ExactExercise, Exercise,
                   Mistake, Tolerance, as_array, describe, python_int)


def _tensor(rng, *shape, dtype=np.float64, scale=1.0, loc=0.0):
    values = loc + rng.normal(size=shape) * scale
    return torch.from_numpy(values.astype(dtype))


def _lengths(rng, batch, length):
    """The first row full, the others padded to 2 .. length - 1."""
    return np.concatenate([[length],
                           rng.integers(2, length, size=batch - 1)])


def _padding(rng, batch, length):
    """(batch, 1, 1, length) bool: True at real positions."""
    lengths = torch.from_numpy(_lengths(rng, batch, length))
    real = torch.arange(length)[None, :] < lengths[:, None]
    return real[:, None, None, :]


# ------------------------------------------------------------------ ex-06-1


def layer_norm(x, gamma, beta, eps=1e-5):
    """The reference: normalise every vector x[..., :] over its features,
    then scale and shift."""
    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def _norm(x, gamma, beta, eps=1e-5, *, dim=-1, unbiased=False,
          eps_mode="inside", center=True, swap=False, affine=True):
    """Layer norm with one switch per catalogued mistake; the reference
    when all are off."""
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
    if not affine:
        return normed
    return normed * beta + gamma if swap else normed * gamma + beta


def _norm_model(**switches):
    def model(x, gamma, beta, eps=1e-5):
        return _norm(x, gamma, beta, eps, **switches)
    return model


def _wrong_axis(result, case):
    x, gamma, beta = (case.args[k] for k in ("x", "gamma", "beta"))
    eps = case.args.get("eps", 1e-5)
    answer = as_array(result)
    for dim in {0, x.dim() - 2}:
        wrong = _norm(x, gamma, beta, eps, dim=dim).double().numpy()
        if answer.shape == wrong.shape and np.allclose(answer, wrong,
                                                       rtol=1e-4, atol=1e-5):
            return True
    return False


def _layer_norm_cases(rng):
    def case(shape, dtype=np.float64, eps=1e-5, loc=0.0, scale=1.0,
             constant_row=False, note=""):
        d = shape[-1]
        x = _tensor(rng, *shape, dtype=dtype, loc=loc, scale=scale)
        if constant_row:   # one word whose features are all equal
            x.view(-1, d)[1] = 0.75
        args = {"x": x,
                "gamma": _tensor(rng, d, dtype=dtype, loc=1.0, scale=0.5),
                "beta": _tensor(rng, d, dtype=dtype, scale=0.5)}
        if eps is not None:
            args["eps"] = eps
        return Case(args, note)

    return [
        case((3, 5, 6), note="a batch of sentences"),
        case((4, 7), dtype=np.float32, loc=3.0, scale=2.0,
             note="float32, vectors far from 0"),
        case((2, 3, 4), eps=0.5, scale=0.5,
             note="a large eps and small variances"),
        case((2, 2, 3, 5), note="two batch dimensions"),
        case((6, 2), eps=0.1, note="two features"),
        case((3, 4), eps=None, scale=3e-3, constant_row=True,
             note="eps left at its default, tiny variances; word 1 has "
                  "all its features equal"),
    ]


LAYER_NORM = Exercise(
    id="ex-06-1",
    title="Layer normalisation",
    chapter=6,
    points=2,
    function="layer_norm",
    reference=layer_norm,
    cases=_layer_norm_cases,
    keywords=("eps",),
    mistakes=[
        Mistake("unbiased-variance",
                "your variance divides by d - 1 (torch.var's default, "
                "Bessel's correction). Layer norm uses the plain mean of "
                "the squared deviations: x.var(dim=-1, unbiased=False, "
                "keepdim=True).",
                model=_norm_model(unbiased=True)),
        Mistake("std-plus-eps",
                "you divided by (x.std(-1) + eps), as some well-known code "
                "does: x.std() divides by d - 1, and eps sits outside the "
                "square root. Layer norm divides by sqrt(var + eps), with "
                "the variance of the d features divided by d.",
                model=_norm_model(unbiased=True, eps_mode="outside")),
        Mistake("eps-outside-sqrt",
                "eps belongs inside the square root: (x - mean) / "
                "sqrt(var + eps), not / (sqrt(var) + eps).",
                model=_norm_model(eps_mode="outside")),
        Mistake("eps-ignored",
                "you ignored eps: divide by sqrt(var + eps) with the eps "
                "you are given, which keeps a vector whose features are "
                "all equal from a division by zero.",
                model=_norm_model(eps_mode="none")),
        Mistake("eps-hard-coded",
                "your eps is always 1e-5, whatever eps the function is "
                "given: use the argument, sqrt(var + eps).",
                model=lambda x, gamma, beta, eps=1e-5: _norm(x, gamma, beta,
                                                             1e-5)),
        Mistake("gamma-beta-swapped",
                "gamma and beta are swapped: the normalised vector is "
                "multiplied by gamma (the scale) and then beta (the shift) "
                "is added.",
                model=_norm_model(swap=True)),
        Mistake("no-scale-shift",
                "you returned the normalised vectors without their scale "
                "and shift: multiply by gamma, then add beta.",
                model=_norm_model(affine=False)),
        Mistake("not-centred",
                "you divided by the root mean square without subtracting "
                "the mean first (that is RMSNorm, a cousin). Layer norm "
                "centres each vector: (x - mean) / sqrt(var + eps).",
                model=_norm_model(center=False)),
        Mistake("wrong-axis",
                "you normalised each feature across the words or the "
                "batch. Layer norm normalises each word's vector on its "
                "own: mean and variance over the last axis (dim=-1, "
                "keepdim=True).",
                detect=_wrong_axis),
    ],
    hints=[
        "Each vector x[..., :] is normalised on its own: its mean and "
        "variance are taken over the last axis. keepdim=True keeps them "
        "broadcastable against x.",
        "mean = x.mean(dim=-1, keepdim=True); var = ((x - mean) ** "
        "2).mean(dim=-1, keepdim=True). Beware: x.var() divides by d - 1 "
        "unless you pass unbiased=False.",
        Code("""
            mean = x.mean(dim=-1, keepdim=True)
            var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
            return (x - mean) / torch.sqrt(var + eps) * gamma + beta
        """),
    ],
    forbidden=["torch.nn.functional.layer_norm"],
)


# ------------------------------------------------------------------ ex-06-2


def feed_forward(x, w1, b1, w2, b2):
    """The reference: relu(x @ w1 + b1) @ w2 + b2, with w1 (d_model, d_ff)
    and w2 (d_ff, d_model)."""
    return torch.relu(x @ w1 + b1) @ w2 + b2


def _ff_cases(rng):
    def case(shape, d_ff, dtype=np.float64, note=""):
        d = shape[-1]
        return Case({"x": _tensor(rng, *shape, dtype=dtype),
                     "w1": _tensor(rng, d, d_ff, dtype=dtype,
                                   scale=1 / math.sqrt(d)),
                     "b1": _tensor(rng, d_ff, dtype=dtype, scale=0.5),
                     "w2": _tensor(rng, d_ff, d, dtype=dtype,
                                   scale=1 / math.sqrt(d_ff)),
                     "b2": _tensor(rng, d, dtype=dtype, scale=0.5)}, note)

    return [
        case((2, 5, 4), 8),
        case((3, 6), 10, dtype=np.float32, note="float32 inputs"),
        case((2, 3, 4, 6), 5,
             note="two batch dimensions, d_ff smaller than d_model"),
        case((7, 3), 12, note="no batch dimension"),
        case((2, 4, 5), 5, note="d_ff equal to d_model"),
    ]


def _gelu_ff(x, w1, b1, w2, b2):
    return F.gelu(x @ w1 + b1) @ w2 + b2


def _transposed_ff(x, w1, b1, w2, b2):
    return torch.relu(x @ w1.T + b1) @ w2.T + b2


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
                "your ReLU comes after the second linear layer. It belongs "
                "between the two: relu(x @ w1 + b1) @ w2 + b2. The output "
                "must be free to be negative, since it is added to the "
                "residual stream.",
                model=lambda x, w1, b1, w2, b2: torch.relu(
                    (x @ w1 + b1) @ w2 + b2)),
        Mistake("relu-twice",
                "you applied ReLU after both linear layers. Only the "
                "hidden layer gets it: relu(x @ w1 + b1) @ w2 + b2; the "
                "output stays linear.",
                model=lambda x, w1, b1, w2, b2: torch.relu(
                    torch.relu(x @ w1 + b1) @ w2 + b2)),
        Mistake("no-relu",
                "there is no ReLU: two linear layers in a row are just one "
                "linear map. Put torch.relu around the first layer: "
                "relu(x @ w1 + b1) @ w2 + b2.",
                model=lambda x, w1, b1, w2, b2: (x @ w1 + b1) @ w2 + b2),
        Mistake("bias-after-relu",
                "you added b1 after the ReLU; it goes inside: "
                "relu(x @ w1 + b1).",
                model=lambda x, w1, b1, w2, b2: (torch.relu(x @ w1) + b1)
                @ w2 + b2),
        Mistake("gelu",
                "you used GELU, the smooth cousin of ReLU that GPT-2 and "
                "BERT use. This exercise, like the original transformer, "
                "asks for ReLU: torch.relu(x @ w1 + b1).",
                model=_gelu_ff,
                # the tanh approximation of GELU is this mistake too
                tolerance=Tolerance(rtol=1e-2, atol=5e-3)),
        Mistake("weights-transposed",
                "you multiplied by the transposed weights: F.linear(x, w) "
                "computes x @ w.T, because nn.Linear stores its weight as "
                "(out, in). Here w1 is (d_model, d_ff) already: x @ w1.",
                model=_transposed_ff),
    ],
    hints=[
        "Two linear maps with a ReLU between them, applied to every "
        "position (every row) on its own: x @ w1 + b1 widens each vector "
        "to d_ff features, @ w2 + b2 brings it back to d_model.",
        "h = torch.relu(x @ w1 + b1) has shape (..., L, d_ff).",
        Code("""
            hidden = torch.relu(x @ w1 + b1)
            return hidden @ w2 + b2
        """),
    ],
)


# --------------------------------------------------- blocks: weights by name


def _random_state(block, rng, dtype):
    """Random weights for every parameter of ``block`` (a tuple, in
    state_dict order): linear weights of size 1/sqrt(fan_in), biases and
    layer-norm shifts around 0, layer-norm scales around 1."""
    values = []
    for name, p in block.state_dict().items():
        if name.startswith("norm") and name.endswith("weight"):
            values.append(_tensor(rng, *p.shape, dtype=dtype, loc=1.0,
                                  scale=0.3))
        elif name.endswith("bias"):
            values.append(_tensor(rng, *p.shape, dtype=dtype, scale=0.3))
        else:
            values.append(_tensor(rng, *p.shape, dtype=dtype,
                                  scale=1 / math.sqrt(p.shape[-1])))
    return tuple(values)


_KEYS = {
    "encoder": list(EncoderBlock(4, 2, 8).state_dict()),
    "decoder": list(DecoderBlock(4, 2, 8).state_dict()),
}
_NAMES = {
    "encoder": ("self_attn = MultiHeadAttention(d_model, n_heads), ff = "
                "FeedForward(d_model, d_ff), norm1 and norm2 = "
                "nn.LayerNorm(d_model)"),
    "decoder": ("self_attn and cross_attn = MultiHeadAttention(d_model, "
                "n_heads), ff = FeedForward(d_model, d_ff), norm1, norm2 and "
                "norm3 = nn.LayerNorm(d_model)"),
}


def _load(exercise_id, block, state, kind):
    """Load the tuple ``state`` (in the book's order) into ``block`` by
    name, with a clear message when the names differ."""
    names = _KEYS[kind]
    found = set(block.state_dict())
    missing = sorted(set(names) - found)
    unexpected = sorted(found - set(names))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}")
        raise CheckFailure(
            exercise_id,
            f"the check copies weights into your block by name, and the "
            f"names do not match: {'; '.join(parts)}. Use "
            f"{_NAMES[kind]}.")
    block.load_state_dict(dict(zip(names, state)))
    return block


def _book_block(cls, state, n_heads, d_ff, d_model, dtype, **kwargs):
    block = cls(d_model, n_heads, d_ff, **kwargs).to(dtype)
    kind = "encoder" if cls is EncoderBlock else "decoder"
    _load("ex-06-3" if kind == "encoder" else "ex-06-4", block, state, kind)
    return block.eval()


# ------------------------------------------------------------------ ex-06-3


def _encoder_cases(rng):
    def case(batch, length, d_model, n_heads, d_ff, norm_first,
             dtype=np.float64, mask=False, note=""):
        state = _random_state(EncoderBlock(d_model, n_heads, d_ff), rng,
                              dtype)
        return Case({"state": state, "n_heads": n_heads, "d_ff": d_ff,
                     "norm_first": norm_first,
                     "x": _tensor(rng, batch, length, d_model, dtype=dtype),
                     "mask": _padding(rng, batch, length) if mask else None},
                    note + (", pre-LN" if norm_first else ", post-LN"))

    return [
        case(2, 5, 8, 2, 16, True, note="no mask"),
        case(2, 5, 8, 2, 16, False, note="no mask"),
        case(3, 6, 8, 4, 12, True, mask=True, note="a padding mask"),
        case(3, 6, 12, 3, 20, False, dtype=np.float32, mask=True,
             note="float32 and a padding mask"),
        case(1, 7, 6, 3, 10, True, dtype=np.float32,
             note="float32, three heads"),
    ]


def _encoder_call(cls, state, n_heads, d_ff, norm_first, x, mask):
    block = cls(x.shape[-1], n_heads, d_ff, norm_first=norm_first)
    _load("ex-06-3", block.to(x.dtype), state, "encoder").eval()
    with torch.no_grad():
        return block(x, mask=mask)


def _encoder(state, n_heads, d_ff, norm_first, x, mask, *, mode=None):
    """The book's encoder block, or one of the catalogued mistakes
    (``mode``)."""
    b = _book_block(EncoderBlock, state, n_heads, d_ff, x.shape[-1],
                    x.dtype, norm_first=norm_first)
    if mode == "always-post":
        norm_first = False
    if mode == "always-pre":
        norm_first = True
    if mode == "mask-ignored":
        mask = None
    if mode == "mask-inverted" and mask is not None:
        mask = ~mask
    norm1, norm2 = b.norm1, (b.norm1 if mode == "one-norm" else b.norm2)

    def attend(h):
        return b.self_attn(h, h, h, mask)[0]

    if mode == "no-residual":
        if norm_first:
            return b.ff(norm2(attend(norm1(x))))
        return norm2(b.ff(norm1(attend(x))))
    if mode == "inverted":                 # the flag read the wrong way
        norm_first = not norm_first
    if mode == "normalised-residual" and norm_first:
        h = norm1(x)                       # x = norm(x), then x + F(x)
        x = h + attend(h)
        h = norm2(x)
        return h + b.ff(h)
    if mode == "parallel" and norm_first:  # both read the block's input
        return x + attend(norm1(x)) + b.ff(norm2(x))
    if mode == "norm-on-output" and not norm_first:
        x = x + norm1(attend(x))           # x + norm(F(x))
        return x + norm2(b.ff(x))
    if norm_first:
        x = x + attend(norm1(x))
        return x + b.ff(norm2(x))
    x = norm1(x + attend(x))
    return norm2(x + b.ff(x))


def _encoder_model(mode=None):
    """The encoder block with one catalogued mistake (``mode``); with
    ``mode=None``, the reference."""
    def model(state, n_heads, d_ff, norm_first, x, mask):
        with torch.no_grad():
            return _encoder(state, n_heads, d_ff, norm_first, x, mask,
                            mode=mode)
    return model


ENCODER_BLOCK = Exercise(
    id="ex-06-3",
    title="An encoder block, pre-LN and post-LN",
    chapter=6,
    points=3,
    function="EncoderBlock",
    reference=_encoder_model(),
    cases=_encoder_cases,
    call=_encoder_call,
    mistakes=[
        Mistake("post-ln-for-pre-ln",
                "with norm_first=True your block normalises after adding "
                "the residual (post-LN). Pre-LN normalises the input of "
                "each sub-layer and adds the sub-layer's output to the "
                "untouched x: x = x + attention(norm1(x)), then "
                "x = x + ff(norm2(x)).",
                model=_encoder_model("always-post")),
        Mistake("pre-ln-for-post-ln",
                "with norm_first=False your block normalises before the "
                "sub-layers (pre-LN). Post-LN adds first and normalises "
                "the sum: x = norm1(x + attention(x)), then "
                "x = norm2(x + ff(x)).",
                model=_encoder_model("always-pre")),
        Mistake("norm-first-inverted",
                "your block reads norm_first the wrong way round: with "
                "norm_first=True it adds first and normalises the sum "
                "(post-LN), with norm_first=False it normalises first "
                "(pre-LN). norm_first=True means: normalise the input of "
                "each sub-layer, x = x + attention(norm1(x)).",
                model=_encoder_model("inverted")),
        Mistake("no-residual",
                "there is no residual connection: each sub-layer's output "
                "must be added to its input (x + ...), otherwise the block "
                "forgets the words it was given.",
                model=_encoder_model("no-residual")),
        Mistake("normalised-residual",
                "you replaced x by norm1(x) before adding the residual, so "
                "the residual path carries the normalised vector. In a "
                "pre-LN block only the sub-layer sees the normalised "
                "copy: x = x + attention(norm1(x)).",
                model=_encoder_model("normalised-residual")),
        Mistake("parallel-sublayers",
                "your feed-forward reads the block's input instead of the "
                "output of the attention step. The sub-layers run one "
                "after the other: x = x + attention(norm1(x)); "
                "x = x + ff(norm2(x)) with the new x.",
                model=_encoder_model("parallel")),
        Mistake("norm-on-sublayer-output",
                "with norm_first=False your block normalises the "
                "sub-layer's output before adding it, x + norm(F(x)). "
                "Post-LN normalises the sum: x = norm1(x + "
                "attention(x)), then x = norm2(x + ff(x)).",
                model=_encoder_model("norm-on-output")),
        Mistake("one-norm-reused",
                "your block uses norm1 for both sub-layers. Each sub-layer "
                "has its own layer norm with its own gamma and beta: "
                "norm1 around the attention, norm2 around the "
                "feed-forward.",
                model=_encoder_model("one-norm")),
        Mistake("mask-ignored",
                "the padding mask has no effect: pass mask on to "
                "self.self_attn(h, h, h, mask).",
                model=_encoder_model("mask-ignored")),
        Mistake("mask-inverted",
                "you inverted the mask. In this book True means 'may "
                "attend' (PyTorch's layers use the opposite for their "
                "masks, True = blocked): pass mask to MultiHeadAttention "
                "unchanged.",
                model=_encoder_model("mask-inverted")),
    ],
    hints=[
        "In __init__: self.self_attn = MultiHeadAttention(d_model, "
        "n_heads), self.ff = FeedForward(d_model, d_ff), self.norm1 and "
        "self.norm2 = nn.LayerNorm(d_model), and keep norm_first. The "
        "names matter: the check copies weights into them.",
        "Pre-LN: h = self.norm1(x); x = x + self.self_attn(h, h, h, "
        "mask)[0]; x = x + self.ff(self.norm2(x)). MultiHeadAttention "
        "returns (output, weights): keep the output. Post-LN: x = "
        "self.norm1(x + self.self_attn(x, x, x, mask)[0]); x = "
        "self.norm2(x + self.ff(x)).",
        Code("""
            if self.norm_first:
                h = self.norm1(x)
                x = x + self.self_attn(h, h, h, mask)[0]
                return x + self.ff(self.norm2(x))
            x = self.norm1(x + self.self_attn(x, x, x, mask)[0])
            return self.norm2(x + self.ff(x))
        """, method="forward"),
    ],
    tolerance=Tolerance(rtol=1e-4, atol=1e-5),
)


# ------------------------------------------------------------------ ex-06-4


def _decoder_cases(rng):
    def case(batch, l_t, l_s, d_model, n_heads, d_ff, dtype=np.float64,
             self_mask="causal", memory_mask=False, note=""):
        state = _random_state(DecoderBlock(d_model, n_heads, d_ff), rng,
                              dtype)
        if self_mask == "causal":
            self_mask = causal_mask(l_t)                     # (L_t, L_t)
        elif self_mask == "causal+padding":  # (batch, 1, L_t, L_t)
            self_mask = causal_mask(l_t) & _padding(rng, batch, l_t)
        return Case({"state": state, "n_heads": n_heads, "d_ff": d_ff,
                     "y": _tensor(rng, batch, l_t, d_model, dtype=dtype),
                     "memory": _tensor(rng, batch, l_s, d_model,
                                       dtype=dtype),
                     "self_mask": self_mask,
                     "memory_mask": (_padding(rng, batch, l_s)
                                     if memory_mask else None)}, note)

    return [
        case(2, 5, 5, 8, 2, 16,
             note="a causal mask, target and source of the same length"),
        case(3, 6, 6, 8, 4, 12, memory_mask=True,
             note="a causal mask and a padded source"),
        case(2, 4, 7, 8, 2, 16, note="a causal mask, a longer source"),
        case(3, 6, 5, 12, 3, 20, dtype=np.float32,
             self_mask="causal+padding", memory_mask=True,
             note="float32, target padding in the causal mask, a padded "
                  "source"),
        case(1, 1, 3, 6, 3, 10, note="a single target position"),
        case(2, 4, 6, 8, 2, 16, self_mask=None, memory_mask=True,
             note="no self_mask: every target position sees every other"),
    ]


def _decoder_call(cls, state, n_heads, d_ff, y, memory, self_mask,
                  memory_mask):
    block = cls(y.shape[-1], n_heads, d_ff)
    _load("ex-06-4", block.to(y.dtype), state, "decoder").eval()
    with torch.no_grad():
        return block(y, memory, self_mask=self_mask,
                     memory_mask=memory_mask)


def _decoder(state, n_heads, d_ff, y, memory, self_mask, memory_mask, *,
             mode=None):
    """The book's pre-LN decoder block, or a catalogued mistake."""
    b = _book_block(DecoderBlock, state, n_heads, d_ff, y.shape[-1],
                    y.dtype, norm_first=True)
    if mode == "self-mask-ignored":
        self_mask = None
    if mode == "own-causal-mask":
        self_mask = causal_mask(y.shape[-2])
    if mode == "memory-mask-ignored":
        memory_mask = None
    if mode == "masks-inverted":
        self_mask = None if self_mask is None else ~self_mask
        memory_mask = None if memory_mask is None else ~memory_mask
    if mode == "masks-swapped":
        self_mask, memory_mask = memory_mask, self_mask

    def self_attend(h):
        return b.self_attn(h, h, h, self_mask)[0]

    def cross(h):
        if mode == "cross-reversed":       # queries from the source
            return b.cross_attn(memory, h, h, memory_mask)[0]
        if mode == "memory-unused":        # a second self-attention
            return b.cross_attn(h, h, h, self_mask)[0]
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


def _decoder_model(mode=None):
    """The decoder block with one catalogued mistake (``mode``); with
    ``mode=None``, the reference."""
    def model(state, n_heads, d_ff, y, memory, self_mask, memory_mask):
        with torch.no_grad():
            return _decoder(state, n_heads, d_ff, y, memory, self_mask,
                            memory_mask, mode=mode)
    return model


DECODER_BLOCK = Exercise(
    id="ex-06-4",
    title="A pre-LN decoder block with cross-attention",
    chapter=6,
    points=3,
    function="DecoderBlock",
    reference=_decoder_model(),
    cases=_decoder_cases,
    call=_decoder_call,
    mistakes=[
        Mistake("self-mask-ignored",
                "your self-attention ignores self_mask, so each position "
                "reads the words after it, the very words it must learn "
                "to predict. Pass self_mask to self.self_attn.",
                model=_decoder_model("self-mask-ignored")),
        Mistake("own-causal-mask",
                "your block builds a causal mask of its own and ignores "
                "self_mask. The caller's mask says what each position may "
                "see (here also which target positions are padding; "
                "with self_mask=None, everything): pass self_mask to "
                "self.self_attn as it is.",
                model=_decoder_model("own-causal-mask")),
        Mistake("masks-inverted",
                "you inverted the masks. In this book True means 'may "
                "attend' (PyTorch's layers use the opposite, True = "
                "blocked): pass self_mask and memory_mask on unchanged.",
                model=_decoder_model("masks-inverted")),
        Mistake("masks-swapped",
                "your masks are swapped: self_mask (target against "
                "target) belongs to the self-attention, memory_mask "
                "(target against source) to the cross-attention.",
                model=_decoder_model("masks-swapped")),
        Mistake("cross-reversed",
                "your cross-attention takes its queries from the encoder "
                "and its keys and values from the decoder. The decoder "
                "asks (queries from the target) and the source answers: "
                "self.cross_attn(h, memory, memory, memory_mask).",
                model=_decoder_model("cross-reversed")),
        Mistake("memory-unused",
                "your second attention never looks at memory: it is a "
                "second self-attention. Cross-attention takes its keys "
                "and values from the encoder's output: "
                "self.cross_attn(h, memory, memory, memory_mask).",
                model=_decoder_model("memory-unused")),
        Mistake("memory-mask-ignored",
                "the source padding mask has no effect: pass memory_mask "
                "to the cross-attention, so that no target word "
                "highlights a padded source position.",
                model=_decoder_model("memory-mask-ignored")),
        Mistake("memory-normalised",
                "you normalised memory with norm2. Only the decoder's own "
                "stream is normalised before cross-attention; the "
                "encoder's output arrives as it is (a pre-LN encoder ends "
                "with its own final norm).",
                model=_decoder_model("memory-normalised")),
        Mistake("post-ln",
                "your block normalises after adding the residual "
                "(post-LN); this exercise asks for pre-LN: "
                "y = y + sublayer(norm(y)) for each of the three "
                "sub-layers.",
                model=_decoder_model("post-ln")),
        Mistake("no-residual",
                "there is no residual connection: add each sub-layer's "
                "output to its input (y = y + ...).",
                model=_decoder_model("no-residual")),
    ],
    hints=[
        "Three sub-layers, each pre-LN with a residual: masked "
        "self-attention (norm1), cross-attention (norm2), feed-forward "
        "(norm3). Name them self_attn, cross_attn, ff, norm1, norm2, "
        "norm3.",
        "self_mask goes to the self-attention as it is (the caller has "
        "built it: causal, with the target's padding). In "
        "cross-attention the queries come from the decoder, the keys and "
        "values from memory, and memory_mask hides the source padding.",
        Code("""
            h = self.norm1(y)
            y = y + self.self_attn(h, h, h, self_mask)[0]
            h = self.norm2(y)
            y = y + self.cross_attn(h, memory, memory, memory_mask)[0]
            return y + self.ff(self.norm3(y))
        """, method="forward"),
    ],
)


# ------------------------------------------------------------------ ex-06-5


def block_parameters(d_model, n_heads, d_ff, kind):
    """The reference: the number of learned numbers in one block of the
    book, 'encoder' or 'decoder'."""
    attention = 4 * (d_model * d_model + d_model)  # w_q, w_k, w_v, w_o
    ff = d_model * d_ff + d_ff + d_ff * d_model + d_model  # two linears
    norm = 2 * d_model                             # gamma and beta
    if kind == "encoder":
        return attention + ff + 2 * norm
    return 2 * attention + ff + 3 * norm


def _count(d_model, n_heads, d_ff, kind, *, heads=False, biases=True,
           norm_size=2, one_attention=False, one_linear=False):
    attention = 4 * (d_model * d_model + (d_model if biases else 0))
    if heads:
        attention *= n_heads
    ff = d_model * d_ff + d_ff * d_model + ((d_ff + d_model) if biases
                                            else 0)
    if one_linear:
        ff = d_model * d_ff + (d_ff if biases else 0)
    norm = norm_size * d_model
    if kind == "encoder":
        return attention + ff + 2 * norm
    if one_attention:
        return attention + ff + 2 * norm
    return 2 * attention + ff + 3 * norm


def _count_model(**switches):
    def model(d_model, n_heads, d_ff, kind):
        return _count(d_model, n_heads, d_ff, kind, **switches)
    return model


def _count_cases(rng):
    cases = []
    for kind in ("encoder", "decoder", "encoder", "decoder"):
        n_heads = int(rng.choice([2, 3, 4]))
        d_model = n_heads * int(rng.integers(3, 9))
        article = "an" if kind == "encoder" else "a"
        cases.append(Case({"d_model": d_model, "n_heads": n_heads,
                           "d_ff": int(rng.integers(5, 40)), "kind": kind},
                          f"{article} {kind} block"))
    cases.append(Case({"d_model": 512, "n_heads": 8, "d_ff": 2048,
                       "kind": "encoder"},
                      "the base model of Vaswani et al., an encoder block"))
    return cases


def _show_count(result, expected, case):
    return f"for {case.describe()}: expected {expected}, got {result}."


PARAMETER_COUNT = ExactExercise(
    id="ex-06-5",
    title="Counting a block's parameters",
    chapter=6,
    points=2,
    function="block_parameters",
    reference=block_parameters,
    cases=_count_cases,
    keywords=("kind",),
    contract=python_int,
    canonical=int,
    show=_show_count,
    mistakes=[
        Mistake("per-head",
                "you multiplied the attention parameters by n_heads. The "
                "heads share out the d_model features (d_head = d_model / "
                "n_heads each), so the four d_model x d_model projections "
                "hold the same number of weights whatever the number of "
                "heads.",
                model=_count_model(heads=True)),
        Mistake("no-biases",
                "you forgot the biases: every nn.Linear(n_in, n_out) has "
                "n_in * n_out weights plus n_out biases.",
                model=_count_model(biases=False)),
        Mistake("no-norms",
                "you forgot the layer norms: each nn.LayerNorm(d_model) "
                "learns a scale and a shift, 2 * d_model numbers.",
                model=_count_model(norm_size=0)),
        Mistake("norm-scale-only",
                "you counted d_model numbers per layer norm; each learns "
                "a scale gamma and a shift beta, 2 * d_model numbers.",
                model=_count_model(norm_size=1)),
        Mistake("decoder-one-attention",
                "your decoder block has one attention layer (and two "
                "norms); it has two attention layers, masked "
                "self-attention and cross-attention, and three layer "
                "norms.",
                model=_count_model(one_attention=True)),
        Mistake("ff-one-linear",
                "you counted one linear layer in the feed-forward "
                "network; it has two, d_model -> d_ff and d_ff -> "
                "d_model, each with its biases.",
                model=_count_model(one_linear=True)),
    ],
    hints=[
        "Count layer by layer: nn.Linear(n_in, n_out) holds n_in * n_out "
        "+ n_out numbers, nn.LayerNorm(d) holds 2 * d. Does the number of "
        "heads change any of these shapes?",
        "An encoder block: one multi-head attention (four d_model x "
        "d_model linears), a feed-forward (two linears), two layer "
        "norms. A decoder block: two attentions, one feed-forward, three "
        "norms.",
        Code("""
            attention = 4 * (d_model**2 + d_model)
            ff = 2 * d_model * d_ff + d_ff + d_model
            norm = 2 * d_model
            if kind == "encoder":
                return attention + ff + 2 * norm
            return 2 * attention + ff + 3 * norm
        """),
    ],
)


# ------------------------------------------------------------------ ex-06-6
# The challenge: an output layer that shares the target embedding's table
# (Press and Wolf 2017; Vaswani et al. 2017, section 3.4). The answer is not
# in the chapter, so the reference lives here.


class _TiedOutput(nn.Module):
    """logits = y @ embedding.weight.T + bias, one table for both."""

    def __init__(self, embedding, mode=None):
        super().__init__()
        self.embedding, self.mode = embedding, mode
        vocab, d_model = embedding.weight.shape
        self.bias = nn.Parameter(torch.zeros(vocab))
        if mode == "copied":
            self.weight = nn.Parameter(embedding.weight.detach().clone())
        if mode == "new-parameter":   # the same numbers, a second tensor
            self.weight = nn.Parameter(embedding.weight)
        if mode == "unused-weight":
            self.linear = nn.Linear(d_model, vocab, bias=False)
        if mode == "no-bias":
            del self.bias

    def forward(self, y):
        weight = self.embedding.weight
        if self.mode in ("copied", "new-parameter"):
            weight = self.weight
        if self.mode == "detached":
            weight = weight.detach()
        if self.mode == "not-transposed":
            logits = y @ weight
        else:
            logits = y @ weight.T                       # (..., vocab)
        if self.mode != "no-bias":
            logits = logits + self.bias
        if self.mode == "scaled":
            logits = logits * math.sqrt(weight.shape[-1])
        if self.mode == "probabilities":
            logits = torch.softmax(logits, dim=-1)
        return logits


def _use_tied(cls, weight, bias, y):
    """Build ``cls(embedding)``, give the embedding and the bias the case's
    values; return (logits, logits after the table changed, the table's
    gradient, the parameters of embedding and output layer together)."""
    vocab, d_model = weight.shape
    embedding = nn.Embedding(vocab, d_model).to(weight.dtype)
    with torch.no_grad():
        embedding.weight.copy_(weight)
    module = cls(embedding)
    if not isinstance(module, nn.Module):
        raise CheckFailure("ex-06-6", "your TiedOutput should be an "
                                      "nn.Module (class TiedOutput("
                                      "nn.Module)).")
    module.to(weight.dtype).eval()
    with torch.no_grad():
        # again: an output layer may have given the embedding its own
        # tensor (embedding.weight = linear.weight), which ties them too
        embedding.weight.copy_(weight)
        biases = [p for p in module.parameters()
                  if p is not embedding.weight and p.shape == (vocab,)]
        if len(biases) > 1:
            raise CheckFailure(
                "ex-06-6", f"your output layer has {len(biases)} bias "
                           f"vectors of shape ({vocab},); it needs one.")
        for p in biases:
            p.copy_(bias)
    logits = module(y)
    if not isinstance(logits, torch.Tensor):
        raise CheckFailure("ex-06-6", f"forward should return the logits, "
                                      f"a tensor of shape (..., {vocab}); "
                                      f"it returned {describe(logits)}.")
    # an optimiser's step changes the table in place: a tied output layer
    # must follow it
    generator = torch.Generator().manual_seed(vocab * 1000 + d_model)
    step = torch.randn(weight.shape, generator=generator, dtype=weight.dtype)
    with torch.no_grad():
        embedding.weight.add_(0.1 * step)
    after = module(y)
    probe = torch.randn(after.shape, generator=generator, dtype=weight.dtype)
    embedding.zero_grad()
    if after.requires_grad:
        (after * probe).sum().backward()
    grad = embedding.weight.grad
    grad = torch.zeros_like(weight) if grad is None else grad.detach()
    both = nn.ModuleList([embedding, module])
    count = sum(p.numel() for p in both.parameters())
    return logits.detach(), after.detach(), grad, count


def _tied_model(mode=None):
    def model(weight, bias, y):
        return _use_tied(lambda e: _TiedOutput(e, mode), weight, bias, y)
    return model


def _tied_cases(rng):
    def case(shape, vocab, dtype=np.float64, note=""):
        d = shape[-1]
        return Case({"weight": _tensor(rng, vocab, d, dtype=dtype,
                                       scale=d ** -0.5),
                     "bias": _tensor(rng, vocab, dtype=dtype, scale=0.5),
                     "y": _tensor(rng, *shape, dtype=dtype)}, note)

    return [
        case((2, 5, 8), 13, note="a batch of sentences"),
        case((4, 6), 11, dtype=np.float32, note="float32, no batch axis"),
        case((2, 3, 4, 6), 20, note="two batch dimensions"),
        case((3, 7), 7, note="as many words in the vocabulary as features"),
    ]


TIED_OUTPUT = Exercise(
    id="ex-06-6",
    title="Challenge: an output layer tied to the embedding",
    chapter=6,
    points=3,
    function="TiedOutput",
    reference=_tied_model(),
    cases=_tied_cases,
    call=_use_tied,
    outputs=("logits", "logits after the embedding changed",
             "gradient of the embedding table",
             "parameters of embedding and output layer"),
    mistakes=[
        Mistake("copied-not-tied",
                "your output layer holds a copy of the table, not the "
                "table: when training changes the embedding, your logits "
                "do not follow, and the model has two tables to learn. "
                "Use embedding.weight itself (keep the embedding in "
                "self.embedding, or set a Linear's weight = "
                "embedding.weight), without .clone() or nn.Parameter(...).",
                model=_tied_model("copied")),
        Mistake("new-parameter",
                "you wrapped the table in a new nn.Parameter: it reads the "
                "same numbers, but it is a second tensor, so the gradient "
                "of your logits goes to it and never reaches the "
                "embedding, and the model counts the table twice. Use "
                "embedding.weight itself.",
                model=_tied_model("new-parameter")),
        Mistake("detached",
                "no gradient reaches the table through your output layer: "
                ".detach() (or .data) cuts it off. Use embedding.weight as "
                "it is, so that training the output layer trains the "
                "embedding too.",
                model=_tied_model("detached")),
        Mistake("no-bias",
                "your logits have no bias: a tied output layer shares the "
                "weights only, and keeps a bias of its own, "
                "nn.Parameter(torch.zeros(vocab)), added to y @ W.T.",
                model=_tied_model("no-bias")),
        Mistake("unused-weight",
                "your output layer still holds a (vocab, d_model) weight "
                "of its own that it does not use: tying is meant to save "
                "those vocab * d_model numbers. Keep only the shared "
                "table and the bias.",
                model=_tied_model("unused-weight")),
        Mistake("not-transposed",
                "you multiplied by the table as it is: embedding.weight is "
                "(vocab, d_model), one row per word, so the logits are "
                "y @ embedding.weight.T, one score per word "
                "(F.linear(y, weight) does the transpose for you).",
                model=_tied_model("not-transposed")),
        Mistake("scaled-by-sqrt-d",
                "you multiplied the logits by sqrt(d_model). That factor "
                "belongs to the embedding on the way in (chapter 6's "
                "embed); the output layer is y @ W.T + bias, no scale.",
                model=_tied_model("scaled")),
        Mistake("probabilities",
                "you returned probabilities (a softmax). The output layer "
                "returns logits, y @ W.T + bias: the loss "
                "(F.cross_entropy) applies the softmax itself.",
                model=_tied_model("probabilities")),
    ],
    hints=[
        "Tied means one tensor, not two equal ones: keep the embedding "
        "(self.embedding = embedding) and read embedding.weight in "
        "forward, every time. Give the layer its own bias, "
        "nn.Parameter(torch.zeros(vocab)).",
        "embedding.weight has shape (vocab, d_model), one row per word. "
        "The score of word w is the dot product of y with row w, so the "
        "logits are y @ embedding.weight.T + bias, shape (..., vocab).",
        Code("""
            return y @ self.embedding.weight.T + self.bias
        """, method="forward"),
    ],
)


EXERCISES = [LAYER_NORM, FEED_FORWARD, ENCODER_BLOCK, DECODER_BLOCK,
             PARAMETER_COUNT, TIED_OUTPUT]
