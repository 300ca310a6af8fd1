"""Checks for chapter 4, self-attention and positions (PyTorch).

Each exercise lists its known mistakes beside its hints; ``tests/test_checks_ch04.py``
holds one learner-style wrong answer per mistake and proves it is named.
"""

import math

import numpy as np
import torch

from ..attention import causal_mask
from ..positions import apply_rope, sinusoidal_positional_encoding
from ..self_attention import equivariance_gap, self_attention
from .core import Case, Exercise, Mistake, Tolerance


def _tensor(rng, *shape, dtype=np.float64, scale=1.0):
    return torch.from_numpy((rng.normal(size=shape) * scale).astype(dtype))


# --------------------------------------------------------------------------- ex-04-1


def _attend(x, w_q, w_k, w_v, mask=None, *, scale=None, dim=-1, transposed=False, swap_qk=False,
            project_v=True, mask_mode="fill"):
    """Self-attention with one switch per catalogued mistake; the reference when all are off."""
    if transposed:
        w_q, w_k, w_v = w_q.T, w_k.T, w_v.T
    q, k = x @ w_q, x @ w_k                                   # (..., L, d_k)
    if swap_qk:
        q, k = k, q
    v = x @ w_v if project_v else x                           # (..., L, d_v)
    scores = q @ k.transpose(-2, -1) / (math.sqrt(q.size(-1)) if scale is None else scale)
    if mask is not None and mask_mode in ("fill", "inverted"):
        scores = scores.masked_fill(~mask if mask_mode == "fill" else mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    if mask is not None and mask_mode == "after":
        weights = weights * mask
    return weights @ v, weights


def _self_attention_cases(rng):
    def case(batch, length, d_model, d_k, d_v, dtype=np.float64, mask=False, note=""):
        scale = 1 / math.sqrt(d_model)  # keeps the scores near 1: no saturated softmax hides a mistake
        args = {"x": _tensor(rng, *batch, length, d_model, dtype=dtype),
                "w_q": _tensor(rng, d_model, d_k, dtype=dtype, scale=scale),
                "w_k": _tensor(rng, d_model, d_k, dtype=dtype, scale=scale),
                "w_v": _tensor(rng, d_model, d_v, dtype=dtype, scale=scale)}
        if mask:
            lengths = torch.from_numpy(rng.integers(2, length, size=batch[0]))    # every row keeps a padded key
            args["mask"] = (torch.arange(length)[None, :] < lengths[:, None])[:, None, :]  # (batch, 1, L)
        return Case(args, note)

    return [
        case((2,), 5, 4, 4, 4, note="square weights: d_model = d_k = d_v"),
        case((3,), 6, 6, 3, 5, note="d_k and d_v smaller than d_model"),
        case((2,), 4, 5, 5, 3, dtype=np.float32, note="float32 inputs"),
        case((2, 3), 3, 4, 2, 4, note="two batch dimensions"),
        case((3,), 5, 4, 4, 3, mask=True, note="a padding mask, True at real words"),
        case((), 5, 3, 2, 2, note="no batch dimension"),
    ]


SELF_ATTENTION = Exercise(
    id="ex-04-1",
    title="Self-attention from weight matrices",
    chapter=4,
    points=3,
    function="self_attention",
    reference=self_attention,
    cases=_self_attention_cases,
    mistakes=[
        Mistake("transposed-weights",
                "you multiplied by the transposed weights (x @ w.T). Here each weight matrix has shape "
                "(d_model, d_k), so the projection is x @ w_q: it only looked right because this case "
                "has square weights.",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask, transposed=True)),
        Mistake("no-scale",
                "your scores are not divided by sqrt(d_k): multiply q @ k.transpose(-2, -1) by "
                "1 / math.sqrt(d_k) before the softmax.",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask, scale=1.0)),
        Mistake("scaled-by-d_model",
                "you scaled the scores by sqrt(d_model); the scale belongs to the size of the queries and "
                "keys, sqrt(d_k) = sqrt(w_q.shape[1]). The two only agree when the weights are square.",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask,
                                                               scale=math.sqrt(x.size(-1)))),
        Mistake("scaled-by-d_k",
                "you divided the scores by d_k; divide them by its square root, math.sqrt(d_k).",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask, scale=wq.size(-1))),
        Mistake("softmax-wrong-axis",
                "your weights sum to 1 down each column, over the queries. Each query's row must sum to "
                "1 over the keys: softmax over the last axis (dim=-1).",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask, dim=-2)),
        Mistake("queries-keys-swapped",
                "your queries and keys are swapped, so your weight matrix comes out transposed: queries come "
                "from x @ w_q, keys from x @ w_k, and the scores are q @ k.transpose(-2, -1).",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask, swap_qk=True)),
        Mistake("values-not-projected",
                "your output averages the input x itself; the weights average the values v = x @ w_v.",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask, project_v=False)),
        Mistake("swapped-return",
                "you returned (weights, output); return (output, weights), output first.",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask)[::-1]),
        Mistake("mask-ignored",
                "the mask has no effect: padded words still get weight. Set the scores where mask is "
                "False to -inf before the softmax (scores.masked_fill(~mask, float('-inf'))).",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, None)),
        Mistake("mask-inverted",
                "you blocked the words where the mask is True. In this book (and in PyTorch) True means "
                "'may attend': fill the scores where the mask is False, with ~mask.",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask, mask_mode="inverted")),
        Mistake("mask-after-softmax",
                "you zeroed the masked weights after the softmax, so the rows no longer sum to 1. Mask the "
                "scores (with -inf) before the softmax instead.",
                model=lambda x, wq, wk, wv, mask=None: _attend(x, wq, wk, wv, mask, mask_mode="after")),
    ],
    hints=[
        "Three projections first: q = x @ w_q, k = x @ w_k, v = x @ w_v. Then it is chapter 3's "
        "scaled dot-product attention of q, k and v.",
        "scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)) has shape (..., L, L); mask it with "
        "scores.masked_fill(~mask, float('-inf')) when a mask is given, then softmax over dim=-1.",
        "q, k, v = x @ w_q, x @ w_k, x @ w_v; scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)); "
        "(mask) weights = torch.softmax(scores, dim=-1); return weights @ v, weights",
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


# --------------------------------------------------------------------------- ex-04-2


def _permutation(rng, length):
    """A permutation that moves every word, and moves it again when applied twice (no 1- or 2-cycles),
    so that forgetting to undo it, or undoing it with itself, always shows."""
    positions = np.arange(length)
    while True:
        perm = rng.permutation(length)
        if np.all(perm != positions) and np.all(perm[perm] != positions):
            return torch.from_numpy(perm)


def _gap_cases(rng):
    def projections(d, d_out, dtype=np.float64):
        return [_tensor(rng, d, d_out, dtype=dtype, scale=1 / math.sqrt(d)) for _ in range(3)]

    pe = sinusoidal_positional_encoding(6, 4).double()           # (6, 4)
    w_pos = projections(4, 4)

    def with_positions(x):                                        # words plus their positions
        return self_attention(x + pe, *w_pos)[0]

    w_plain = projections(4, 3)

    def plain(x):                                                 # self-attention, no positions
        return self_attention(x, *w_plain)[0]

    w_causal = projections(3, 3)

    def causal(x):                                                # each word sees only the words before it
        return self_attention(x, *w_causal, mask=causal_mask(x.size(-2)))[0]

    w_word = _tensor(rng, 3, 2, dtype=np.float32)

    def per_word(x):                                              # every word on its own
        return torch.tanh(x @ w_word)

    w_rope = projections(4, 4)

    def rotary(x):                                                # RoPE on the queries and keys
        q, k = apply_rope(x @ w_rope[0]), apply_rope(x @ w_rope[1])
        weights = torch.softmax(q @ k.transpose(-2, -1) / 2.0, dim=-1)
        return weights @ (x @ w_rope[2])

    return [
        Case({"layer": with_positions, "x": _tensor(rng, 2, 6, 4), "perm": _permutation(rng, 6)},
             "self-attention with sinusoidal positions"),
        Case({"layer": plain, "x": _tensor(rng, 3, 5, 4), "perm": _permutation(rng, 5)},
             "self-attention without positions"),
        Case({"layer": causal, "x": _tensor(rng, 2, 7, 3), "perm": _permutation(rng, 7)},
             "causal self-attention"),
        Case({"layer": per_word, "x": _tensor(rng, 2, 5, 3, dtype=np.float32), "perm": _permutation(rng, 5)},
             "a float32 layer that treats each word on its own"),
        Case({"layer": rotary, "x": _tensor(rng, 1, 8, 4), "perm": _permutation(rng, 8)},
             "self-attention with rotary positions"),
    ]


def _gap_variant(layer, x, perm, kind):
    if kind == "not-permuted-back":
        return (layer(x[:, perm]) - layer(x)).abs().max().item()
    if kind == "input-not-permuted":
        return (layer(x) - layer(x)[:, perm]).abs().max().item()
    if kind == "inverse-permutation":
        return (layer(x[:, perm])[:, perm] - layer(x)).abs().max().item()
    return (layer(x[:, perm]) - layer(x)[:, perm]).abs().mean().item()  # "mean-not-max"


EQUIVARIANCE_GAP = Exercise(
    id="ex-04-2",
    title="Measuring permutation equivariance",
    chapter=4,
    points=2,
    function="equivariance_gap",
    reference=equivariance_gap,
    cases=_gap_cases,
    mistakes=[
        Mistake("not-permuted-back",
                "you compared layer(x[:, perm]) with layer(x) as it is. Shuffled words give shuffled "
                "outputs, so shuffle the original outputs the same way before comparing: layer(x)[:, perm].",
                model=lambda layer, x, perm: _gap_variant(layer, x, perm, "not-permuted-back")),
        Mistake("input-not-permuted",
                "you never ran the layer on the shuffled words: compare layer(x[:, perm]) (shuffle first) "
                "with layer(x)[:, perm] (shuffle after).",
                model=lambda layer, x, perm: _gap_variant(layer, x, perm, "input-not-permuted")),
        Mistake("inverse-permutation",
                "you undid the shuffle with perm itself. Indexing with perm again shuffles twice; the "
                "inverse permutation is torch.argsort(perm). Simplest: compare layer(x[:, perm]) with "
                "layer(x)[:, perm].",
                model=lambda layer, x, perm: _gap_variant(layer, x, perm, "inverse-permutation")),
        Mistake("mean-not-max",
                "you returned the mean absolute difference; the gap is the largest one, .abs().max().",
                model=lambda layer, x, perm: _gap_variant(layer, x, perm, "mean-not-max")),
    ],
    hints=[
        "Two ways to get shuffled outputs: shuffle the words and run the layer, or run the layer and "
        "shuffle its outputs. The positions are axis 1 of x (batch, L, d), so shuffling is x[:, perm].",
        "a = layer(x[:, perm]); b = layer(x)[:, perm]. For an equivariant layer a and b are equal. "
        "Return the largest absolute difference as a Python number.",
        "return (layer(x[:, perm]) - layer(x)[:, perm]).abs().max().item()",
    ],
    # One number per case, computed by the same layer on the same inputs as the reference: a tight
    # tolerance costs a correct answer nothing and keeps two mistakes from giving "the same" number.
    tolerance=Tolerance(rtol=1e-6, atol=1e-6),
)


# --------------------------------------------------------------------------- ex-04-3


def _table(seq_len, d_model, exponent, start=0, even=np.sin, odd=np.cos):
    """A sinusoid table: column j has the angle pos * 10000^(-exponent(j) / d_model)."""
    pos = np.arange(start, start + seq_len, dtype=float)[:, None]    # (seq_len, 1)
    j = np.arange(d_model)                                           # (d_model,)
    angles = pos * 10000.0 ** (-exponent(j) / d_model)               # (seq_len, d_model)
    return np.where(j % 2 == 0, even(angles), odd(angles))


def _two_i(j):
    return j - j % 2


def _halves(seq_len, d_model):
    pos = np.arange(seq_len, dtype=float)[:, None]
    angles = pos * 10000.0 ** (-np.arange(0, d_model, 2) / d_model)  # (seq_len, ceil(d_model / 2))
    return np.concatenate([np.sin(angles), np.cos(angles[:, : d_model // 2])], axis=1)


def _odd_width(result, case):
    d = case.args["d_model"]
    shape = tuple(np.shape(result))
    return d % 2 == 1 and len(shape) == 2 and shape[0] == case.args["seq_len"] and shape[1] in (d - 1, d + 1)


def _pe_cases(rng):
    def case(seq_len, d_model, note=""):
        return Case({"seq_len": int(seq_len), "d_model": int(d_model)}, note)

    return [
        case(rng.integers(5, 9), 8),
        case(rng.integers(10, 30), 16),
        case(1, 6, "a single position"),
        case(rng.integers(4, 12), rng.choice([5, 7, 9]), "an odd d_model"),
        case(rng.integers(40, 60), 2, "one sine and one cosine"),
        case(rng.integers(30, 50), 32),
    ]


SINUSOIDAL = Exercise(
    id="ex-04-3",
    title="Sinusoidal positional encoding",
    chapter=4,
    points=3,
    function="sinusoidal_positional_encoding",
    reference=sinusoidal_positional_encoding,
    cases=_pe_cases,
    mistakes=[
        Mistake("cos-on-even",
                "sine and cosine are swapped: the even columns 0, 2, 4, ... hold the sines and the odd "
                "columns the cosines, so row 0 reads 0, 1, 0, 1, ...",
                model=lambda n, d: _table(n, d, _two_i, even=np.cos, odd=np.sin)),
        Mistake("halves",
                "you put all the sines in the first half and all the cosines in the second. They are "
                "interleaved: pe[:, 0::2] = sines, pe[:, 1::2] = cosines.",
                model=_halves),
        Mistake("exponent-i",
                "your frequencies fall too slowly: the exponent is 2i / d_model where i counts the pairs "
                "(2i is the even column 0, 2, 4, ...), not i / d_model.",
                model=lambda n, d: _table(n, d, lambda j: j // 2)),
        Mistake("exponent-column",
                "your cosine columns use the exponent (2i+1) / d_model. A sine and the cosine next to it "
                "share one frequency, 10000^(-2i / d_model): use the even column index for both.",
                model=lambda n, d: _table(n, d, lambda j: j)),
        Mistake("frequency-inverted",
                "you multiplied the position by 10000^(2i/d_model); divide by it, so that the frequencies "
                "go down from 1 in column 0 to about 1/10000 in the last columns.",
                model=lambda n, d: _table(n, d, lambda j: -_two_i(j)),
                # angles of 10^5 radians and more: float32 follows them to about 0.03
                tolerance=Tolerance(rtol=0, atol=0.1)),
        Mistake("positions-from-1",
                "your positions start at 1; the first word is at position 0, whose row is 0, 1, 0, 1, ...",
                model=lambda n, d: _table(n, d, _two_i, start=1)),
        Mistake("transposed",
                "your table is transposed: return one row per position, shape (seq_len, d_model).",
                model=lambda n, d: sinusoidal_positional_encoding(n, d).T),
        Mistake("odd-d-model",
                "for an odd d_model your table does not have d_model columns. Compute the angles for the "
                "even columns 0, 2, ..., fill every even column with a sine and every odd column with a "
                "cosine: the last cosine is simply dropped.",
                detect=_odd_width),
    ],
    hints=[
        "Build a (seq_len, 1) column of positions 0, 1, 2, ... and a row of the even column indices "
        "2i = 0, 2, 4, ...; broadcasting gives every angle pos / 10000^(2i/d_model) at once.",
        "Start from pe = torch.zeros(seq_len, d_model), then pe[:, 0::2] = torch.sin(angles) and "
        "pe[:, 1::2] = torch.cos(angles) (keep only d_model // 2 cosine columns when d_model is odd).",
        "pos = torch.arange(seq_len)[:, None].double(); two_i = torch.arange(0, d_model, 2).double(); "
        "angles = pos / 10000 ** (two_i / d_model); fill pe as above and return pe.float()",
    ],
)


# --------------------------------------------------------------------------- ex-04-4


def _rope(x, positions=None, base=10000.0, *, sign=1.0, halves=False, start=0, pair_exponent=2):
    """RoPE with one switch per catalogued mistake; the reference when all are off."""
    length, d = x.shape[-2:]
    if positions is None:
        positions = torch.arange(start, start + length)
    angles = positions.double()[:, None] * base ** (-pair_exponent * torch.arange(d // 2).double() / d)
    cos, sin = angles.cos().to(x.dtype), (sign * angles.sin()).to(x.dtype)   # (L, d/2)
    if halves:
        a, b = x[..., : d // 2], x[..., d // 2:]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


def _rope_cases(rng):
    def case(shape, positions=None, base=10000.0, dtype=np.float64, note=""):
        return Case({"x": _tensor(rng, *shape, dtype=dtype), "positions": positions, "base": base}, note)

    offset = int(rng.integers(3, 20))
    return [
        case((2, 5, 8)),
        case((3, 7, 4), dtype=np.float32, note="float32 inputs"),
        case((6, 16), torch.arange(offset, offset + 6), note="positions that do not start at 0"),
        case((2, 2, 5, 6), torch.from_numpy(rng.integers(0, 40, size=5)), base=100.0,
             note="positions in any order and base=100"),
        case((1, 4, 2), note="a single pair of features"),
    ]


ROPE = Exercise(
    id="ex-04-4",
    title="Rotary position embedding",
    chapter=4,
    points=3,
    function="apply_rope",
    reference=apply_rope,
    cases=_rope_cases,
    mistakes=[
        Mistake("wrong-direction",
                "you rotate the wrong way round (the sign of the sine is flipped). The rotated pair is "
                "(a cos - b sin, a sin + b cos) for a = x[..., 0::2], b = x[..., 1::2].",
                model=lambda x, p, base: _rope(x, p, base, sign=-1.0)),
        Mistake("halves",
                "you paired feature i with feature i + d/2 (the two halves). This exercise rotates "
                "consecutive pairs: (x[..., 0], x[..., 1]), (x[..., 2], x[..., 3]), ...",
                model=lambda x, p, base: _rope(x, p, base, halves=True)),
        Mistake("exponent-i",
                "your angles fall too slowly across the pairs: pair i turns by pos * base^(-2i/d), "
                "with 2i = 0, 2, 4, ..., not base^(-i/d).",
                model=lambda x, p, base: _rope(x, p, base, pair_exponent=1)),
        Mistake("positions-from-1",
                "your default positions start at 1; they are 0, 1, ..., L-1, so the first word is not "
                "rotated at all.",
                model=lambda x, p, base: _rope(x, p, base, start=1)),
        Mistake("positions-ignored",
                "you ignored the positions argument: when it is given, rotate row j by the angle for "
                "positions[j]; only when it is None use 0, 1, ..., L-1.",
                model=lambda x, p, base: _rope(x, None, base)),
        Mistake("base-ignored",
                "you ignored the base argument: the angles are pos * base^(-2i/d) with the given base, "
                "not always 10000.",
                model=lambda x, p, base: _rope(x, p)),
        Mistake("added-encoding",
                "you added a sinusoidal encoding to x. RoPE does not add anything: it rotates each pair "
                "of features by an angle that grows with the position.",
                model=lambda x, p, base: x + sinusoidal_positional_encoding(*x.shape[-2:]).to(x.dtype)),
    ],
    hints=[
        "Split x into its pairs: a = x[..., 0::2] and b = x[..., 1::2], each (..., L, d/2). Every pair "
        "turns by its own angle: the position times base^(-2i/d).",
        "angles = positions[:, None] * base ** (-torch.arange(0, d, 2) / d) has shape (L, d/2). The "
        "rotated pair is (a cos - b sin, a sin + b cos); put the two back in alternate columns.",
        "out = torch.empty_like(x); out[..., 0::2] = a * cos - b * sin; out[..., 1::2] = a * sin + b * cos; "
        "return out   (use positions = torch.arange(L) when positions is None)",
    ],
)


EXERCISES = [SELF_ATTENTION, EQUIVARIANCE_GAP, SINUSOIDAL, ROPE]
