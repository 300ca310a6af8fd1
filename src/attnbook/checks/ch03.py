"""Checks for chapter 3, scaled dot-product attention and masks (PyTorch).

Each exercise lists its known mistakes beside its hints; ``tests/test_checks_ch03.py``
holds one learner-style wrong answer per mistake and proves it is named.

The three mask exercises return boolean tensors. The checker compares numbers, so their
``call`` turns a boolean answer into 0.0 / 1.0; an answer of another dtype whose values are
right fails with the "not-boolean" mistake (raised from ``call``, so it is named even though
no value differs).
"""

import math

import numpy as np
import torch

from ..attention import causal_mask, causal_padding_mask, padding_mask, scaled_dot_product_attention
from .core import Case, CheckFailure, Exercise, Mistake, is_tensor


def _tensor(rng, *shape, dtype=np.float64):
    return torch.from_numpy(rng.normal(size=shape).astype(dtype))


# --------------------------------------------------------------------------- ex-03-1


def _attend(q, k, v, mask=None, *, scale=None, dim=-1, mask_mode="fill", fill=float("-inf"), zero_empty=True):
    """Scaled dot-product attention with one switch per catalogued mistake; the reference when all are off."""
    scores = q @ k.transpose(-2, -1) / (math.sqrt(q.size(-1)) if scale is None else scale)  # (..., L_q, L_k)
    if mask is not None and mask_mode in ("fill", "inverted"):
        scores = scores.masked_fill(~mask if mask_mode == "fill" else mask, fill)
    weights = torch.softmax(scores, dim=dim)                                                 # (..., L_q, L_k)
    if mask is not None and mask_mode == "after":
        weights = weights * mask
    if mask is not None and zero_empty:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def _attention_cases(rng):
    def case(batch, l_q, l_k, d_k, d_v, dtype=np.float64, mask=None, note=""):
        args = {"q": _tensor(rng, *batch, l_q, d_k, dtype=dtype),
                "k": _tensor(rng, *batch, l_k, d_k, dtype=dtype),
                "v": _tensor(rng, *batch, l_k, d_v, dtype=dtype)}
        if mask is not None:
            args["mask"] = mask
        return Case(args, note)

    lengths = torch.from_numpy(rng.integers(1, 6, size=3))        # 1..5 of 6 keys: every row keeps a padded key
    empty = torch.tensor([int(rng.integers(1, 5)), 0])            # the second sequence has no real token
    rows = torch.from_numpy(rng.random((4, 6)) < 0.5)            # (L_q, L_k): any pattern ...
    rows[:, 0], rows[:, 1] = True, False                          # ... with an allowed and a forbidden key per row
    return [
        case((2,), 5, 7, 8, 3, note="L_q = 5 queries, L_k = 7 keys, d_k = 8, d_v = 3"),
        case((3,), 4, 4, 6, 5, dtype=np.float32, note="float32 inputs"),
        case((3,), 5, 6, 4, 4, mask=padding_mask(lengths, 6)[:, None, :], note="a padding mask (batch, 1, L_k)"),
        case((2, 3), 5, 5, 4, 2, mask=causal_mask(5), note="batch and heads, a causal mask (L, L)"),
        case((), 4, 6, 3, 5, mask=rows, note="no batch dimension, a mask (L_q, L_k)"),
        case((2,), 3, 5, 4, 3, mask=padding_mask(empty, 5)[:, None, :],
             note="the second sequence has no real token: every key of its queries is masked"),
    ]


SDPA = Exercise(
    id="ex-03-1",
    title="Scaled dot-product attention with a mask",
    chapter=3,
    points=4,
    function="scaled_dot_product_attention",
    reference=scaled_dot_product_attention,
    cases=_attention_cases,
    mistakes=[
        Mistake("softmax-wrong-axis",
                "your weights sum to 1 down each column, over the queries. Each query's row is one pass of "
                "the highlighter over the keys, so it must sum to 1 over the keys: softmax over dim=-1.",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, dim=-2)),
        Mistake("no-scale",
                "your scores are not divided by sqrt(d_k): divide q @ k.transpose(-2, -1) by "
                "math.sqrt(q.size(-1)) before the softmax.",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, scale=1.0)),
        Mistake("scaled-by-d_k",
                "you divided the scores by d_k; divide them by its square root, math.sqrt(d_k). The scores "
                "have a variance of about d_k, so sqrt(d_k) brings their spread back to 1.",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, scale=q.size(-1))),
        Mistake("scaled-by-length",
                "you scaled by the square root of the number of keys, L_k. The scale is sqrt(d_k), d_k being "
                "the LAST dimension of q and k: q.size(-1), not k.shape[1].",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, scale=math.sqrt(k.size(-2)))),
        Mistake("scaled-by-d_v",
                "you scaled by the square root of the size of the values, d_v. The scale belongs to the "
                "queries and keys: math.sqrt(q.size(-1)).",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, scale=math.sqrt(v.size(-1)))),
        Mistake("swapped-return",
                "you returned (weights, output); return (output, weights), output first.",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask)[::-1]),
        Mistake("mask-ignored",
                "the mask has no effect: forbidden keys still get weight. Set the scores where the mask is "
                "False to -inf before the softmax: scores.masked_fill(~mask, float('-inf')).",
                model=lambda q, k, v, mask=None: _attend(q, k, v, None)),
        Mistake("mask-inverted",
                "you blocked the keys where the mask is True. In this book (and in PyTorch) True means "
                "'may attend': fill the scores where the mask is False, with ~mask.",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, mask_mode="inverted")),
        Mistake("mask-after-softmax",
                "you zeroed the masked weights after the softmax, so the rows no longer sum to 1 (the ink "
                "meant for the taped words is lost). Mask the scores with -inf BEFORE the softmax.",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, mask_mode="after")),
        Mistake("fully-masked-nan",
                "a query whose keys are ALL masked gets NaN: its softmax is 0/0. The book (like PyTorch's "
                "own function) gives such a row weights 0 and output 0: after the softmax, replace NaN by 0 "
                "(weights.nan_to_num(0.0)).",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, zero_empty=False)),
        Mistake("fully-masked-uniform",
                "a query whose keys are ALL masked spreads its weight evenly over the forbidden keys: you "
                "filled with a large negative number instead of -inf. Use float('-inf') and replace the "
                "NaN of such rows by 0 after the softmax (weights.nan_to_num(0.0)).",
                model=lambda q, k, v, mask=None: _attend(q, k, v, mask, fill=-1e9)),
    ],
    hints=[
        "Four steps, every one on the last two axes: scores = q @ k.transpose(-2, -1), shape "
        "(..., L_q, L_k); divide by math.sqrt(d_k) with d_k = q.size(-1); softmax over the keys (dim=-1); "
        "then weights @ v, shape (..., L_q, d_v).",
        "With a mask, tape over the forbidden keys before the softmax: scores.masked_fill(~mask, "
        "float('-inf')). A row where every key is taped then becomes NaN (0/0): "
        "weights.nan_to_num(0.0) turns it into 0.",
        "scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)); if mask is not None: scores = "
        "scores.masked_fill(~mask, float('-inf')); weights = torch.softmax(scores, dim=-1).nan_to_num(0.0); "
        "return weights @ v, weights",
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


# --------------------------------------------------------------------------- boolean answers

NOT_BOOLEAN = ("your mask has the right values but is not boolean. Return a tensor of dtype torch.bool "
               "(True where attention is allowed): a float mask of 0s and 1s would be ADDED to the scores "
               "by PyTorch, not used to block keys. Comparisons such as a < b already give booleans; "
               "or use .bool().")


def _boolean_call(exercise_id, reference):
    """``call`` for a mask exercise: a bool tensor becomes 0.0 / 1.0 to be compared; right values in
    another dtype fail with the not-boolean mistake; other answers go on to be compared as they are."""

    def call(answer, *args):
        result = answer(*args)
        if is_tensor(result) and result.dtype == torch.bool:
            return result.double()
        if is_tensor(result) and not result.dtype.is_complex:
            expected = reference(*args)
            if result.shape == expected.shape and torch.equal(result.double(), expected):
                raise CheckFailure(exercise_id, NOT_BOOLEAN, "not-boolean")
        return result

    return call


def _not_boolean():
    # raised by the call above; never recognised from the values
    return Mistake("not-boolean", NOT_BOOLEAN, detect=lambda result, case: False)


# --------------------------------------------------------------------------- ex-03-2


def _causal_reference(n):
    return causal_mask(n).double()


CAUSAL = Exercise(
    id="ex-03-2",
    title="A causal mask",
    chapter=3,
    points=1,
    function="causal_mask",
    reference=_causal_reference,
    cases=lambda rng: [Case({"n": int(n)}) for n in (rng.integers(4, 9), 3, rng.integers(10, 20), 1, 2)],
    mistakes=[
        Mistake("diagonal-excluded",
                "your mask leaves out the diagonal: word i may not look at itself. The causal mask is True "
                "on AND below the diagonal (tril with diagonal=0), so the first word still has one key.",
                model=lambda n: torch.ones(n, n).tril(-1).double()),
        Mistake("upper-triangle",
                "your mask lets each word look at itself and the words AFTER it (the upper triangle). A "
                "causal mask looks back: row i is True at columns 0..i, the lower triangle (tril).",
                model=lambda n: torch.ones(n, n).triu().double()),
        Mistake("mask-inverted",
                "your mask is True where attention is FORBIDDEN (strictly above the diagonal). In this book "
                "and in PyTorch, True means 'may attend': return the lower triangle, diagonal included.",
                model=lambda n: torch.ones(n, n).triu(1).double()),
        _not_boolean(),
    ],
    hints=[
        "Row i is the query at position i; it may look at keys 0, 1, ..., i. That is the lower triangle "
        "of an (n, n) matrix, diagonal included.",
        "torch.tril keeps the lower triangle of a matrix and zeroes the rest; start from "
        "torch.ones(n, n, dtype=torch.bool).",
        "return torch.ones(n, n, dtype=torch.bool).tril()",
    ],
    call=_boolean_call("ex-03-2", _causal_reference),
)


# --------------------------------------------------------------------------- ex-03-3


def _padding_reference(lengths, max_len):
    return padding_mask(lengths, max_len).double()


def _padding_cases(rng):
    def case(batch, max_len, note=""):
        lengths = rng.integers(1, max_len, size=batch)          # 1..max_len-1: padded, but never empty
        lengths[0] = max_len                                     # a full sequence
        return Case({"lengths": torch.from_numpy(lengths), "max_len": int(max_len)}, note)

    return [
        case(3, int(rng.integers(5, 9))),
        case(5, int(rng.integers(10, 16))),
        Case({"lengths": torch.tensor([2, 0, 3]), "max_len": 4}, "an empty sequence, and max_len above every length"),
        Case({"lengths": torch.tensor([1]), "max_len": 1}, "one sequence of one token"),
    ]


PADDING = Exercise(
    id="ex-03-3",
    title="A padding mask from sequence lengths",
    chapter=3,
    points=2,
    function="padding_mask",
    reference=_padding_reference,
    cases=_padding_cases,
    mistakes=[
        Mistake("less-or-equal",
                "your mask has one True too many in every row: you compared positions with <=. Positions "
                "count from 0, so a sequence of length n has its real tokens at 0, ..., n-1: use "
                "positions < lengths.",
                model=lambda lengths, max_len: (torch.arange(max_len)[None, :] <= lengths[:, None]).double()),
        Mistake("mask-inverted",
                "your mask is True at the padding. In this book (and in PyTorch) True means 'a real token, "
                "may attend': positions < lengths.",
                model=lambda lengths, max_len: (torch.arange(max_len)[None, :] >= lengths[:, None]).double()),
        Mistake("transposed",
                "your mask is transposed: return one row per sequence, shape (batch, max_len).",
                model=lambda lengths, max_len: _padding_reference(lengths, max_len).T),
        _not_boolean(),
    ],
    hints=[
        "Compare a row of positions 0, 1, ..., max_len-1 with a column of lengths: position j of sequence "
        "b is a real token when j < lengths[b]. Broadcasting does every comparison at once.",
        "torch.arange(max_len) has shape (max_len,); lengths[:, None] has shape (batch, 1). Their "
        "comparison has shape (batch, max_len) and is already boolean.",
        "return torch.arange(max_len)[None, :] < lengths[:, None]",
    ],
    call=_boolean_call("ex-03-3", _padding_reference),
)


# --------------------------------------------------------------------------- ex-03-4


def _grid(lengths, max_len):
    """Query positions i (1, max_len, 1), key positions j (1, 1, max_len), lengths (batch, 1, 1)."""
    i = torch.arange(max_len)[None, :, None]
    j = torch.arange(max_len)[None, None, :]
    return i, j, lengths[:, None, None]


def _combined(rule):
    def model(lengths, max_len):
        i, j, n = _grid(lengths, max_len)
        return torch.broadcast_to(rule(i, j, n), (len(lengths), max_len, max_len)).double()

    return model


def _combined_reference(lengths, max_len):
    return causal_padding_mask(lengths, max_len).double()


def _combined_cases(rng):
    def case(max_len, note=""):
        lengths = rng.integers(2, max_len, size=3)                  # padded sequences of 2 .. max_len-1
        lengths[1] = max_len                                         # and a full one
        return Case({"lengths": torch.from_numpy(lengths), "max_len": int(max_len)}, note)

    return [
        case(int(rng.integers(5, 8))),
        case(int(rng.integers(8, 13))),
        Case({"lengths": torch.tensor([1, 3]), "max_len": 3}, "a sequence of a single token"),
    ]


COMBINED = Exercise(
    id="ex-03-4",
    title="Padding and causal masks together",
    chapter=3,
    points=3,
    function="causal_padding_mask",
    reference=_combined_reference,
    cases=_combined_cases,
    mistakes=[
        Mistake("padding-on-queries",
                "you masked the padded QUERIES (rows) instead of the padded KEYS (columns), so every row of a "
                "padded query is fully masked (0/0 in the softmax). The tape goes over the words the pen must "
                "not touch, the keys: padding_mask(lengths, max_len)[:, None, :], shape (batch, 1, max_len).",
                model=_combined(lambda i, j, n: (j <= i) & (i < n))),
        Mistake("or-instead-of-and",
                "you combined the two masks with OR. A key is allowed only if BOTH masks allow it: it is "
                "a real token AND not in the future. Use &.",
                model=_combined(lambda i, j, n: (j <= i) | (j < n))),
        Mistake("padding-missing",
                "your mask ignores the lengths: padded keys are still allowed. Combine the causal mask with "
                "the padding mask of the keys.",
                model=_combined(lambda i, j, n: j <= i)),
        Mistake("causal-missing",
                "your mask has no causal part: every query may look at later keys. Combine the padding mask "
                "with causal_mask(max_len) (True on and below the diagonal).",
                model=_combined(lambda i, j, n: j < n)),
        Mistake("diagonal-excluded",
                "your causal part leaves out the diagonal: a word may not look at itself, and the first "
                "word has no key at all. Keep the diagonal: key j is allowed for query i when j <= i.",
                model=_combined(lambda i, j, n: (j < i) & (j < n))),
        Mistake("upper-triangle",
                "your causal part looks forward (the upper triangle): query i may see keys i, i+1, ... "
                "It must look back: key j is allowed when j <= i, the lower triangle.",
                model=_combined(lambda i, j, n: (j >= i) & (j < n))),
        Mistake("less-or-equal",
                "your padding part lets every query see one padded key: you compared positions with <=. A "
                "sequence of length n has its real tokens at 0, ..., n-1: use < lengths.",
                model=_combined(lambda i, j, n: (j <= i) & (j <= n))),
        Mistake("mask-inverted",
                "your mask is True where attention is forbidden. In this book (and in PyTorch) True means "
                "'may attend'.",
                model=_combined(lambda i, j, n: ~((j <= i) & (j < n)))),
        Mistake("extra-head-axis",
                "your mask has shape (batch, 1, max_len, max_len); return (batch, max_len, max_len). (To use "
                "it with heads, add the axis later with mask[:, None].)",
                model=lambda lengths, max_len: _combined_reference(lengths, max_len)[:, None]),
        _not_boolean(),
    ],
    hints=[
        "Two masks, one allowed-key rule: key j is allowed for query i of sequence b when j <= i (causal) "
        "AND j < lengths[b] (a real token). The padding is about the KEYS, the columns.",
        "padding_mask(lengths, max_len)[:, None, :] has shape (batch, 1, max_len): one row of tape shared "
        "by every query. causal_mask(max_len) has shape (max_len, max_len). The & of the two broadcasts to "
        "(batch, max_len, max_len).",
        "keys = torch.arange(max_len)[None, :] < lengths[:, None]; "
        "return keys[:, None, :] & torch.ones(max_len, max_len, dtype=torch.bool).tril()",
    ],
    call=_boolean_call("ex-03-4", _combined_reference),
)


EXERCISES = [SDPA, CAUSAL, PADDING, COMBINED]
