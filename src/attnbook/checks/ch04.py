"""Checks for chapter 4, self-attention and positions (PyTorch).

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch04.py`` holds a learner-style wrong answer for every
mistake and proves it is named, and look-alikes that are not.

ex-04-5 is the chapter's challenge: attention with ALiBi's linear distance
bias (Press et al. 2022), which the chapter does not print. Its reference
lives here, not in the package.
"""

import math

import numpy as np
import torch

from ..attention import causal_mask, padding_mask
from ..positions import apply_rope, sinusoidal_positional_encoding
from ..self_attention import equivariance_gap, self_attention
from .core import (Case, Code, Exercise, Mistake, Tolerance, python_number,
                   tensor_of)


def _tensor(rng, *shape, dtype=np.float64, scale=1.0):
    return torch.from_numpy((rng.normal(size=shape) * scale).astype(dtype))


# ------------------------------------------------------------------ ex-04-1


def _attend(x, w_q, w_k, w_v, mask=None, *, scale=None, dim=-1,
            transposed=False, swap_qk=False, keys_from_q=False,
            project_v=True, mask_mode="fill", fill=float("-inf"),
            zero_empty=True):
    """Self-attention with one switch per catalogued mistake; the reference
    when all are off."""
    if transposed:
        w_q, w_k, w_v = w_q.T, w_k.T, w_v.T
    q, k = x @ w_q, x @ (w_q if keys_from_q else w_k)     # (..., L, d_k)
    if swap_qk:
        q, k = k, q
    v = x @ w_v if project_v else x                       # (..., L, d_v)
    if scale is None:
        scale = math.sqrt(q.size(-1))
    scores = q @ k.transpose(-2, -1) / scale              # (..., L, L)
    if mask is not None and mask_mode in ("fill", "inverted"):
        scores = scores.masked_fill(~mask if mask_mode == "fill" else mask,
                                    fill)
    weights = torch.softmax(scores, dim=dim)              # (..., L, L)
    if mask is not None and mask_mode == "after":
        weights = weights * mask
    if mask is not None and zero_empty:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def _sa_mistake(**switches):
    return lambda x, w_q, w_k, w_v, mask=None: _attend(x, w_q, w_k, w_v,
                                                       mask, **switches)


def _self_attention_cases(rng):
    def case(batch, length, d_model, d_k, d_v, dtype=np.float64, mask=None,
             note=""):
        # weights of scale 1/sqrt(d_model) keep the scores near 1: no
        # saturated softmax hides a mistake
        scale = 1 / math.sqrt(d_model)
        args = {"x": _tensor(rng, *batch, length, d_model, dtype=dtype),
                "w_q": _tensor(rng, d_model, d_k, dtype=dtype, scale=scale),
                "w_k": _tensor(rng, d_model, d_k, dtype=dtype, scale=scale),
                "w_v": _tensor(rng, d_model, d_v, dtype=dtype, scale=scale)}
        if mask is not None:
            args["mask"] = mask
        return Case(args, note)

    # 2 .. 4 real words of 5: every row keeps a padded key
    lengths = torch.from_numpy(rng.integers(2, 5, size=3))
    # (batch, L, L): the pads taped as queries too, so their rows are empty
    real = padding_mask(torch.tensor([6, int(rng.integers(2, 5))]), 6)
    both = real[:, :, None] & real[:, None, :]
    return [
        case((2,), 5, 4, 4, 4, note="square weights: d_model = d_k = d_v"),
        case((3,), 6, 6, 3, 5, note="d_k and d_v smaller than d_model"),
        case((2,), 4, 5, 5, 3, dtype=np.float32, note="float32 inputs"),
        case((2, 3), 3, 4, 2, 4, note="two batch dimensions"),
        case((3,), 5, 4, 4, 3, mask=padding_mask(lengths, 5)[:, None, :],
             note="a padding mask (batch, 1, L), True at real words"),
        case((), 5, 3, 2, 2, note="no batch dimension"),
        case((2,), 6, 4, 3, 2, mask=causal_mask(6),
             note="a causal mask (L, L)"),
        case((2,), 4, 3, 3, 4,
             mask=padding_mask(torch.tensor([3, 0]), 4)[:, None, :],
             note="the second sentence has no real word: every key of "
                  "its queries is masked"),
        case((2,), 6, 4, 4, 3, mask=both,
             note="a mask (batch, L, L) whose padded queries may see "
                  "nothing"),
    ]


SELF_ATTENTION = Exercise(
    id="ex-04-1",
    title="Self-attention from weight matrices",
    chapter=4,
    points=3,
    function="self_attention",
    reference=self_attention,
    cases=_self_attention_cases,
    keywords=("mask",),
    outputs=("output", "weights"),
    mistakes=[
        Mistake("transposed-weights",
                "you multiplied by the transposed weights (x @ w_q.T). "
                "Here each weight matrix has the shape the text gives, "
                "(d_model, d_k), so the projection is x @ w_q. (An "
                "nn.Linear stores its weight the other way round, "
                "(d_k, d_model), which is where the .T comes from.)",
                model=_sa_mistake(transposed=True)),
        Mistake("no-scale",
                "your scores are not divided by sqrt(d_k): divide "
                "q @ k.transpose(-2, -1) by math.sqrt(d_k) before the "
                "softmax.",
                model=_sa_mistake(scale=1.0)),
        Mistake("scaled-by-d_model",
                "you scaled the scores by sqrt(d_model); the scale belongs "
                "to the size of the queries and keys, sqrt(d_k) = "
                "sqrt(w_q.shape[1]). The two only agree when the weights "
                "are square.",
                model=lambda x, w_q, w_k, w_v, mask=None: _attend(
                    x, w_q, w_k, w_v, mask, scale=math.sqrt(x.size(-1)))),
        Mistake("scaled-by-d_k",
                "you divided the scores by d_k; divide them by its square "
                "root, math.sqrt(d_k).",
                model=lambda x, w_q, w_k, w_v, mask=None: _attend(
                    x, w_q, w_k, w_v, mask, scale=w_q.size(-1))),
        Mistake("softmax-wrong-axis",
                "your weights sum to 1 down each column, over the queries. "
                "Each query's row must sum to 1 over the keys: softmax "
                "over the last axis (dim=-1).",
                model=_sa_mistake(dim=-2)),
        Mistake("queries-keys-swapped",
                "your queries and keys are swapped, so your weight matrix "
                "comes out transposed: queries come from x @ w_q, keys "
                "from x @ w_k, and the scores are q @ k.transpose(-2, -1).",
                model=_sa_mistake(swap_qk=True)),
        Mistake("keys-from-w_q",
                "your keys come from w_q, like the queries (a copied line?): "
                "k = x @ w_k. With one matrix for both, every score matrix "
                "is symmetric and a word cannot look for something other "
                "than what it is.",
                model=_sa_mistake(keys_from_q=True)),
        Mistake("values-not-projected",
                "your output averages the input x itself; the weights "
                "average the values v = x @ w_v.",
                model=_sa_mistake(project_v=False)),
        Mistake("swapped-return",
                "you returned (weights, output); return (output, weights), "
                "output first.",
                model=lambda x, w_q, w_k, w_v, mask=None: _attend(
                    x, w_q, w_k, w_v, mask)[::-1]),
        Mistake("mask-ignored",
                "the mask has no effect: masked words still get weight. "
                "Set the scores where mask is False to -inf before the "
                "softmax (scores.masked_fill(~mask, float('-inf'))).",
                model=lambda x, w_q, w_k, w_v, mask=None: _attend(
                    x, w_q, w_k, w_v, None)),
        Mistake("mask-inverted",
                "you blocked the words where the mask is True. In this "
                "book (and in PyTorch) True means 'may attend': fill the "
                "scores where the mask is False, with ~mask.",
                model=_sa_mistake(mask_mode="inverted")),
        Mistake("masked-scores-zero",
                "you set the scores of the masked words to 0, but e^0 = 1: "
                "they still get weight. Fill them with float('-inf').",
                model=_sa_mistake(fill=0.0)),
        Mistake("mask-after-softmax",
                "you zeroed the masked weights after the softmax, so the "
                "rows no longer sum to 1. Mask the scores (with -inf) "
                "before the softmax instead.",
                model=_sa_mistake(mask_mode="after")),
        Mistake("fully-masked-nan",
                "a query whose keys are ALL masked gets NaN (its softmax "
                "is 0/0). As in chapter 3, such a row gets weights 0 and "
                "output 0: replace NaN by 0 after the softmax "
                "(weights.nan_to_num(0.0)).",
                model=_sa_mistake(zero_empty=False)),
        Mistake("fully-masked-uniform",
                "a query whose keys are ALL masked spreads its weight "
                "evenly over them: you filled (or added) a large negative "
                "number instead of -inf. Use float('-inf'), then "
                "weights.nan_to_num(0.0) for such rows, as in chapter 3.",
                model=_sa_mistake(fill=-1e9)),
    ],
    hints=[
        "Three projections first: q = x @ w_q, k = x @ w_k, v = x @ w_v. "
        "Then it is chapter 3's scaled dot-product attention of q, k and "
        "v.",
        "scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)) has "
        "shape (..., L, L); mask it with scores.masked_fill(~mask, "
        "float('-inf')) when a mask is given, softmax over dim=-1, and "
        "turn the NaN of a row with no allowed key into 0 with "
        "nan_to_num(0.0).",
        Code("""
            q, k, v = x @ w_q, x @ w_k, x @ w_v
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
            return weights @ v, weights
            """, text="All of it:"),
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


# ------------------------------------------------------------------ ex-04-2


def _permutation(rng, length):
    """A permutation that moves every word, and moves it again when applied
    twice (no 1- or 2-cycles), so that forgetting to undo it, or undoing it
    with itself, always shows."""
    positions = np.arange(length)
    while True:
        perm = rng.permutation(length)
        if np.all(perm != positions) and np.all(perm[perm] != positions):
            return torch.from_numpy(perm)


def _gap_cases(rng):
    def projections(d, d_out, dtype=np.float64):
        return [_tensor(rng, d, d_out, dtype=dtype, scale=1 / math.sqrt(d))
                for _ in range(3)]

    pe = sinusoidal_positional_encoding(6, 4).double()           # (6, 4)
    w_pos = projections(4, 4)

    def with_positions(x):              # words plus their positions
        return self_attention(x + pe, *w_pos)[0]

    w_plain = projections(4, 3)

    def plain(x):                       # self-attention, no positions
        return self_attention(x, *w_plain)[0]

    w_causal = projections(3, 3)

    def causal(x):                      # each word sees the words before it
        return self_attention(x, *w_causal,
                              mask=causal_mask(x.size(-2)))[0]

    w_word = _tensor(rng, 3, 2, dtype=np.float32)

    def per_word(x):                    # every word on its own
        return torch.tanh(x @ w_word)

    w_rope = projections(4, 4)

    def rotary(x):                      # RoPE on the queries and keys
        q, k = apply_rope(x @ w_rope[0]), apply_rope(x @ w_rope[1])
        weights = torch.softmax(q @ k.transpose(-2, -1) / 2.0, dim=-1)
        return weights @ (x @ w_rope[2])

    def counting(x):                    # adds each word's position to it
        return x + torch.arange(x.size(1), dtype=x.dtype)[:, None]

    def shuffled(layer, x, length, note):
        return Case({"layer": layer, "x": x,
                     "perm": _permutation(rng, length)}, note)

    return [
        shuffled(with_positions, _tensor(rng, 2, 6, 4), 6,
                 "self-attention with sinusoidal positions"),
        shuffled(plain, _tensor(rng, 3, 5, 4), 5,
                 "self-attention without positions"),
        shuffled(causal, _tensor(rng, 2, 7, 3), 7, "causal self-attention"),
        shuffled(per_word, _tensor(rng, 2, 5, 3, dtype=np.float32), 5,
                 "a float32 layer that treats each word on its own"),
        shuffled(rotary, _tensor(rng, 1, 8, 4), 8,
                 "self-attention with rotary positions"),
        shuffled(causal, _tensor(rng, 6, 4, 3), 4,
                 "causal self-attention, more sentences than words"),
        # the difference is j - perm[j] at word j: +1 four times, -4 once
        Case({"layer": counting, "x": _tensor(rng, 2, 5, 3),
              "perm": torch.tensor([4, 0, 1, 2, 3])},
             "a layer that adds each word's position to it; the last word "
             "moved to the front"),
        # -3 twice, +2 three times
        Case({"layer": counting, "x": _tensor(rng, 1, 5, 2),
              "perm": torch.tensor([3, 4, 0, 1, 2])},
             "a layer that adds each word's position to it; the last two "
             "words moved to the front"),
    ]


def _gap_variant(layer, x, perm, kind):
    if kind == "batch-axis":
        return (layer(x[perm]) - layer(x)[perm]).abs().max().item()
    first, after = layer(x[:, perm]), layer(x)[:, perm]
    if kind == "not-permuted-back":
        return (first - layer(x)).abs().max().item()
    if kind == "input-not-permuted":
        return (layer(x) - after).abs().max().item()
    if kind == "inverse-permutation":
        return (first[:, perm] - layer(x)).abs().max().item()
    if kind == "no-abs":
        return (first - after).max().item()
    if kind == "norm":
        return (first - after).norm().item()
    return (first - after).abs().mean().item()                # "mean"


def _gap_mistake(kind):
    return lambda layer, x, perm: _gap_variant(layer, x, perm, kind)


EQUIVARIANCE_GAP = Exercise(
    id="ex-04-2",
    title="Measuring permutation equivariance",
    chapter=4,
    points=2,
    function="equivariance_gap",
    reference=equivariance_gap,
    cases=_gap_cases,
    contract=python_number,
    mistakes=[
        Mistake("not-permuted-back",
                "you compared layer(x[:, perm]) with layer(x) as it is. "
                "Shuffled words give shuffled outputs, so shuffle the "
                "original outputs the same way before comparing: "
                "layer(x)[:, perm].",
                model=_gap_mistake("not-permuted-back")),
        Mistake("input-not-permuted",
                "you never ran the layer on the shuffled words: compare "
                "layer(x[:, perm]) (shuffle first) with layer(x)[:, perm] "
                "(shuffle after).",
                model=_gap_mistake("input-not-permuted")),
        Mistake("inverse-permutation",
                "you undid the shuffle with perm itself. Indexing with "
                "perm again shuffles twice; the inverse permutation is "
                "torch.argsort(perm). Simplest: compare layer(x[:, perm]) "
                "with layer(x)[:, perm].",
                model=_gap_mistake("inverse-permutation")),
        Mistake("batch-axis-shuffled",
                "you shuffled axis 0, the sentences of the batch, with "
                "x[perm]. The positions are axis 1: x[:, perm] and "
                "layer(x)[:, perm].",
                model=_gap_mistake("batch-axis")),
        Mistake("no-abs",
                "you returned the largest signed difference, .max() "
                "without .abs(): a difference of -3 is as far from "
                "equivariant as one of +3. Take .abs() first.",
                model=_gap_mistake("no-abs")),
        Mistake("mean-not-max",
                "you returned the mean absolute difference; the gap is the "
                "largest one, .abs().max().",
                model=_gap_mistake("mean")),
        Mistake("norm-not-max",
                "you returned the length (norm) of the whole difference; "
                "the gap is its largest entry in absolute value, "
                ".abs().max().",
                model=_gap_mistake("norm")),
    ],
    hints=[
        "Two ways to get shuffled outputs: shuffle the words and run the "
        "layer, or run the layer and shuffle its outputs. The positions "
        "are axis 1 of x (batch, L, d), so shuffling is x[:, perm].",
        "a = layer(x[:, perm]); b = layer(x)[:, perm]. For an equivariant "
        "layer a and b are equal. Return the largest absolute difference "
        "as a Python number (.item() turns a one-number tensor into one).",
        Code("return (layer(x[:, perm]) - layer(x)[:, perm]).abs().max()"
             ".item()", text="One line:"),
    ],
    # One number per case, computed by the same layer on the same inputs as
    # the reference: a tight tolerance costs a correct answer nothing and
    # keeps two mistakes from giving "the same" number.
    tolerance=Tolerance(rtol=1e-6, atol=1e-6),
)


# ------------------------------------------------------------------ ex-04-3


def _table(seq_len, d_model, exponent, start=0, even=np.sin, odd=np.cos):
    """A sinusoid table: column j has the angle
    pos * 10000^(-exponent(j) / d_model)."""
    # (seq_len, 1) positions, (d_model,) columns
    pos = np.arange(start, start + seq_len, dtype=float)[:, None]
    j = np.arange(d_model)
    angles = pos * 10000.0 ** (-exponent(j) / d_model)  # (seq_len, d_model)
    return np.where(j % 2 == 0, even(angles), odd(angles))


def _two_i(j):
    return j - j % 2


def _halves(seq_len, d_model):
    pos = np.arange(seq_len, dtype=float)[:, None]
    # (seq_len, ceil(d_model / 2))
    angles = pos * 10000.0 ** (-np.arange(0, d_model, 2) / d_model)
    return np.concatenate([np.sin(angles),
                           np.cos(angles[:, : d_model // 2])], axis=1)


def _odd_width(result, case):
    d = case.args["d_model"]
    shape = tuple(np.shape(result))
    return (d % 2 == 1 and len(shape) == 2
            and shape[0] == case.args["seq_len"] and shape[1] in (d - 1,
                                                                  d + 1))


def _crashes_on_odd(seq_len, d_model):
    if d_model % 2:
        raise RuntimeError("the cosines do not fit the odd columns")
    return sinusoidal_positional_encoding(seq_len, d_model)


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
        case(rng.integers(3, 8), 3, "an odd d_model"),
    ]


SINUSOIDAL = Exercise(
    id="ex-04-3",
    title="Sinusoidal positional encoding",
    chapter=4,
    points=3,
    function="sinusoidal_positional_encoding",
    reference=sinusoidal_positional_encoding,
    cases=_pe_cases,
    contract=tensor_of("float32"),
    mistakes=[
        Mistake("cos-on-even",
                "sine and cosine are swapped: the even columns 0, 2, 4, "
                "... hold the sines and the odd columns the cosines, so "
                "row 0 reads 0, 1, 0, 1, ...",
                model=lambda n, d: _table(n, d, _two_i, even=np.cos,
                                          odd=np.sin)),
        Mistake("halves",
                "you put all the sines in the first half and all the "
                "cosines in the second. They are interleaved: "
                "pe[:, 0::2] = sines, pe[:, 1::2] = cosines.",
                model=_halves),
        Mistake("exponent-i",
                "your frequencies fall too slowly: the exponent is "
                "2i / d_model where i counts the pairs (2i is the even "
                "column 0, 2, 4, ...), not i / d_model.",
                model=lambda n, d: _table(n, d, lambda j: j // 2)),
        Mistake("exponent-column",
                "your cosine columns use the exponent (2i+1) / d_model. A "
                "sine and the cosine next to it share one frequency, "
                "10000^(-2i / d_model): use the even column index for "
                "both.",
                model=lambda n, d: _table(n, d, lambda j: j)),
        Mistake("frequency-inverted",
                "you multiplied the position by 10000^(2i/d_model); divide "
                "by it, so that the frequencies go down from 1 in column 0 "
                "to about 1/10000 in the last columns.",
                model=lambda n, d: _table(n, d, lambda j: -_two_i(j)),
                # angles of 10^5 radians and more: float32 follows them to
                # about 0.03
                tolerance=Tolerance(rtol=0, atol=0.1)),
        Mistake("positions-from-1",
                "your positions start at 1; the first word is at position "
                "0, whose row is 0, 1, 0, 1, ...",
                model=lambda n, d: _table(n, d, _two_i, start=1)),
        Mistake("transposed",
                "your table is transposed: return one row per position, "
                "shape (seq_len, d_model).",
                model=lambda n, d: sinusoidal_positional_encoding(n, d).T),
        Mistake("odd-d-model-crash",
                "your function fails for an odd d_model: then there is "
                "one sine column more than cosine columns, so "
                "pe[:, 1::2] has d_model // 2 columns. Compute the angles "
                "for the even columns and keep only the first "
                "d_model // 2 of them for the cosines: "
                "angles[:, : d_model // 2].",
                model=_crashes_on_odd),
        Mistake("odd-d-model",
                "for an odd d_model your table does not have d_model "
                "columns. Compute the angles for the even columns 0, 2, "
                "..., fill every even column with a sine and every odd "
                "column with a cosine: the last cosine is simply dropped.",
                detect=_odd_width),
    ],
    hints=[
        "Build a (seq_len, 1) column of positions 0, 1, 2, ... and a row "
        "of the even column indices 2i = 0, 2, 4, ...; broadcasting gives "
        "every angle pos / 10000^(2i/d_model) at once.",
        "Start from pe = torch.zeros(seq_len, d_model), then pe[:, 0::2] = "
        "torch.sin(angles) and pe[:, 1::2] = torch.cos(angles) (keep only "
        "d_model // 2 cosine columns when d_model is odd). Return float32.",
        Code("""
            pos = torch.arange(seq_len, dtype=torch.float64)[:, None]
            two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
            angles = pos / 10000 ** (two_i / d_model)
            pe = torch.zeros(seq_len, d_model, dtype=torch.float64)
            pe[:, 0::2] = torch.sin(angles)
            pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
            return pe.float()
            """, text="In float64, returned as float32:"),
    ],
)


# ------------------------------------------------------------------ ex-04-4


def _rope(x, positions=None, base=10000.0, *, sign=1.0, halves=False,
          start=0, pair_exponent=2, repeated=False):
    """RoPE with one switch per catalogued mistake; the reference when all
    are off."""
    length, d = x.shape[-2:]
    if positions is None:
        positions = torch.arange(start, start + length)
    pairs = torch.arange(d // 2).double()
    # (L, d/2): one angle per position and pair
    angles = positions.double()[:, None] * base ** (
        -pair_exponent * pairs / d)
    if repeated:     # each feature 2i or 2i+1 gets the angle of (it mod d/2)
        full = torch.cat([angles, angles], dim=-1).to(x.dtype)   # (L, d)
        turned = torch.stack([-x[..., 1::2], x[..., 0::2]],
                             dim=-1).flatten(-2)
        return x * full.cos() + turned * full.sin()
    cos = angles.cos().to(x.dtype)                               # (L, d/2)
    sin = (sign * angles.sin()).to(x.dtype)
    if halves:
        a, b = x[..., : d // 2], x[..., d // 2:]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos],
                       dim=-1).flatten(-2)


def _rope_mistake(**switches):
    return lambda x, positions=None, base=10000.0: _rope(
        x, positions, base, **switches)


def _rope_cases(rng):
    def case(shape, positions=None, base=10000.0, dtype=np.float64,
             note=""):
        return Case({"x": _tensor(rng, *shape, dtype=dtype),
                     "positions": positions, "base": base}, note)

    offset = int(rng.integers(3, 20))
    return [
        case((2, 5, 8)),
        case((3, 7, 4), dtype=np.float32, note="float32 inputs"),
        case((6, 16), torch.arange(offset, offset + 6),
             note="positions that do not start at 0"),
        case((2, 2, 5, 6), torch.from_numpy(rng.integers(0, 40, size=5)),
             base=100.0, note="positions in any order and base=100"),
        case((1, 4, 2), note="a single pair of features"),
        case((2, 6, 8), base=500.0, dtype=np.float32,
             note="base=500, float32"),
    ]


ROPE = Exercise(
    id="ex-04-4",
    title="Rotary position embedding",
    chapter=4,
    points=3,
    function="apply_rope",
    reference=apply_rope,
    cases=_rope_cases,
    keywords=("positions", "base"),
    mistakes=[
        Mistake("wrong-direction",
                "you rotate the wrong way round (the sign of the sine is "
                "flipped). The rotated pair is (a cos - b sin, "
                "a sin + b cos) for a = x[..., 0::2], b = x[..., 1::2].",
                model=_rope_mistake(sign=-1.0)),
        Mistake("halves",
                "you paired feature i with feature i + d/2 (the two "
                "halves). This exercise rotates consecutive pairs: "
                "(x[..., 0], x[..., 1]), (x[..., 2], x[..., 3]), ...",
                model=_rope_mistake(halves=True)),
        Mistake("frequencies-not-interleaved",
                "the two features of a pair turn by different angles: you "
                "repeated the whole row of angles, torch.cat([angles, "
                "angles], -1), as libraries that pair feature i with "
                "i + d/2 do. For consecutive pairs, each angle goes twice "
                "side by side: angles.repeat_interleave(2, dim=-1).",
                model=_rope_mistake(repeated=True)),
        Mistake("exponent-i",
                "your angles fall too slowly across the pairs: pair i "
                "turns by pos * base^(-2i/d), with 2i = 0, 2, 4, ..., not "
                "base^(-i/d).",
                model=_rope_mistake(pair_exponent=1)),
        Mistake("positions-from-1",
                "your default positions start at 1; they are 0, 1, ..., "
                "L-1, so the first word is not rotated at all.",
                model=_rope_mistake(start=1)),
        Mistake("positions-ignored",
                "you ignored the positions argument: when it is given, "
                "rotate row j by the angle for positions[j]; only when it "
                "is None use 0, 1, ..., L-1.",
                model=lambda x, positions=None, base=10000.0: _rope(
                    x, None, base)),
        Mistake("base-ignored",
                "you ignored the base argument: the angles are "
                "pos * base^(-2i/d) with the given base, not always 10000.",
                model=lambda x, positions=None, base=10000.0: _rope(
                    x, positions)),
        Mistake("added-encoding",
                "you added a sinusoidal encoding to x. RoPE does not add "
                "anything: it rotates each pair of features by an angle "
                "that grows with the position.",
                model=lambda x, positions=None, base=10000.0: (
                    x + sinusoidal_positional_encoding(
                        *x.shape[-2:]).to(x.dtype))),
    ],
    hints=[
        "Split x into its pairs: a = x[..., 0::2] and b = x[..., 1::2], "
        "each (..., L, d/2). Every pair turns by its own angle: the "
        "position times base^(-2i/d).",
        "angles = positions[:, None] * base ** (-torch.arange(0, d, 2) / "
        "d) has shape (L, d/2). The rotated pair is (a cos - b sin, "
        "a sin + b cos); put the two back in alternate columns.",
        Code("""
            length, d = x.shape[-2:]
            if positions is None:
                positions = torch.arange(length)
            two_i = torch.arange(0, d, 2, dtype=torch.float64)
            angles = positions.double()[:, None] * base ** (-two_i / d)
            cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
            a, b = x[..., 0::2], x[..., 1::2]
            out = torch.empty_like(x)
            out[..., 0::2] = a * cos - b * sin
            out[..., 1::2] = a * sin + b * cos
            return out
            """, text="All of it:"),
    ],
)


# ------------------------------------------------- ex-04-5 (the challenge)


def _alibi(q, k, v, slopes, mask=None, *, sign=-1.0, distance="abs",
           scale_bias=False, bias=True, scale=True, slope_axis=-3,
           zero_empty=True, fill=float("-inf")):
    """Attention with ALiBi's bias, one switch per catalogued mistake; the
    reference when all are off."""
    positions = torch.arange(q.size(-2))
    offset = positions[None, :] - positions[:, None]          # (L, L): j - i
    far = {"abs": offset.abs(), "i-j": -offset}[distance]
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1)                 # (batch, heads, L, L)
    if slope_axis == -3:
        penalty = slopes[:, None, None] * far        # (heads, L, L)
    else:            # the slopes on the batch axis (batch, 1, L, L)
        penalty = slopes[:, None, None, None] * far
    penalty = (sign * penalty).to(q.dtype)
    if scale and not scale_bias:
        scores = scores / math.sqrt(d_k)
    if bias:
        scores = scores + penalty
    if scale and scale_bias:
        scores = scores / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, fill)
    weights = torch.softmax(scores, dim=-1)
    if zero_empty:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def _alibi_reference(q, k, v, slopes, mask=None):
    return _alibi(q, k, v, slopes, mask)


def _alibi_mistake(**switches):
    return lambda q, k, v, slopes, mask=None: _alibi(q, k, v, slopes, mask,
                                                     **switches)


def _alibi_cases(rng):
    def case(batch, heads, length, d_k, d_v, slopes=None, mask=None,
             dtype=np.float64, note=""):
        if slopes is None:     # spread widely, so every head looks its way
            slopes = rng.uniform(0.1, 1.5, size=heads)
        args = {"q": _tensor(rng, batch, heads, length, d_k, dtype=dtype),
                "k": _tensor(rng, batch, heads, length, d_k, dtype=dtype),
                "v": _tensor(rng, batch, heads, length, d_v, dtype=dtype),
                "slopes": torch.from_numpy(
                    np.asarray(slopes).astype(dtype))}
        if mask is not None:
            args["mask"] = mask
        return Case(args, note)

    paper = [2.0 ** (-8 * (h + 1) / 4) for h in range(4)]   # 4 heads
    empty = padding_mask(torch.tensor([5, 0]), 5)[:, None, None, :]
    # (batch, 1, L, L): some pattern, query 3 of sentence 1 sees no key
    blind = torch.from_numpy(rng.random((3, 1, 5, 5)) < 0.7)
    blind[..., 0] = True
    blind[1, 0, 3] = False
    return [
        case(2, 3, 6, 4, 3, note="no mask: the bias looks both ways"),
        case(3, 2, 5, 8, 4, dtype=np.float32, mask=blind,
             note="float32 inputs, a mask with a query that sees no key"),
        case(2, 4, 7, 4, 2, slopes=paper,
             note="the paper's slopes for 4 heads: 1/4, 1/16, 1/64, 1/256"),
        case(2, 2, 6, 3, 3, mask=causal_mask(6),
             note="a causal mask, as in the paper"),
        case(2, 2, 5, 4, 3, mask=empty,
             note="the second sentence has no real word: every key of its "
                  "queries is masked"),
        case(1, 3, 4, 2, 2, slopes=[0.0, 0.5, 2.0],
             note="one sentence; a head with slope 0 is plain attention"),
    ]


ALIBI = Exercise(
    id="ex-04-5",
    title="ALiBi, a linear distance bias (challenge)",
    chapter=4,
    points=3,
    function="alibi_attention",
    reference=_alibi_reference,
    cases=_alibi_cases,
    keywords=("mask",),
    outputs=("output", "weights"),
    mistakes=[
        Mistake("bias-sign",
                "your bias rewards distance: far words get MORE weight. "
                "ALiBi subtracts: bias[h, i, j] = -slopes[h] * |i - j|, "
                "so the pen presses less the further a word is.",
                model=_alibi_mistake(sign=1.0)),
        Mistake("distance-signed",
                "your bias is -slopes[h] * (i - j) without the absolute "
                "value, so every key AFTER the query gets a reward that "
                "grows with its distance. The penalty grows with the "
                "distance in both directions: |i - j|, with .abs().",
                model=_alibi_mistake(distance="i-j")),
        Mistake("bias-ignored",
                "the slopes have no effect: your weights are plain "
                "attention. Add bias[h, i, j] = -slopes[h] * |i - j| to "
                "the scores of head h before the softmax.",
                model=_alibi_mistake(bias=False)),
        Mistake("bias-scaled",
                "you divided the bias by sqrt(d_k) along with the scores. "
                "ALiBi adds its bias to the SCALED scores: "
                "q @ k.transpose(-2, -1) / math.sqrt(d_k) + bias.",
                model=_alibi_mistake(scale_bias=True)),
        Mistake("no-scale",
                "your scores are not divided by sqrt(d_k): ALiBi keeps "
                "chapter 3's scaled scores and only adds its bias.",
                model=_alibi_mistake(scale=False)),
        Mistake("slopes-on-batch-axis",
                "your slopes run along the batch, slopes[:, None, None, "
                "None], not along the heads: head h of every sentence "
                "uses slopes[h]. slopes[:, None, None] (heads, 1, 1) "
                "broadcasts against scores (batch, heads, L, L).",
                model=_alibi_mistake(slope_axis=0)),
        Mistake("mask-ignored",
                "the mask has no effect: masked keys still get weight. "
                "After adding the bias, set the scores where the mask is "
                "False to -inf.",
                model=lambda q, k, v, slopes, mask=None: _alibi(
                    q, k, v, slopes, None)),
        Mistake("fully-masked-nan",
                "a query whose keys are ALL masked gets NaN (0/0). As in "
                "chapter 3, such a row gets weights 0 and output 0: "
                "weights.nan_to_num(0.0).",
                model=_alibi_mistake(zero_empty=False)),
        Mistake("fully-masked-uniform",
                "a query whose keys are ALL masked spreads its weight "
                "evenly over them: you filled (or added) a large negative "
                "number instead of -inf. Use float('-inf'), then "
                "weights.nan_to_num(0.0) for such rows, as in chapter 3.",
                model=_alibi_mistake(fill=-1e9)),
    ],
    hints=[
        "ALiBi changes one thing in chapter 3's attention: before the "
        "softmax, it adds bias[h, i, j] = -slopes[h] * |i - j| to the "
        "scaled scores of head h. Make the distances |i - j| as an (L, L) "
        "table from a row and a column of positions.",
        "With positions = torch.arange(L), (positions[None, :] - "
        "positions[:, None]).abs() is the (L, L) table. slopes[:, None, "
        "None] has shape (heads, 1, 1); their product (heads, L, L) "
        "broadcasts against scores (batch, heads, L, L). Then mask, "
        "softmax and nan_to_num(0.0) as in chapter 3.",
        Code("""
            positions = torch.arange(q.size(-2))
            distance = (positions[None, :] - positions[:, None]).abs()
            bias = -slopes[:, None, None] * distance
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
            scores = scores + bias
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
            return weights @ v, weights
            """, text="All of it:"),
    ],
)


EXERCISES = [SELF_ATTENTION, EQUIVARIANCE_GAP, SINUSOIDAL, ROPE, ALIBI]
