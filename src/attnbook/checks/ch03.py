"""Checks for chapter 3, scaled dot-product attention and masks (PyTorch).

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch03.py`` holds a learner-style wrong answer for every
mistake and proves it is named, and look-alikes that are not.

The mask exercises return boolean tensors. The checker compares numbers, so
their ``call`` turns a boolean answer into 0.0 / 1.0; an answer of another
dtype whose values are right fails with the "not-boolean" mistake (raised
from ``call``, so it is named even though no value differs).

ex-03-5 is the chapter's challenge: a prefix-LM mask, which the chapter does
not print. Its reference lives here, not in the package.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..attention import (causal_mask, causal_padding_mask, padding_mask,
                         scaled_dot_product_attention)
from .core import (Case, CheckFailure, Code, Exercise, Mistake, difference,
                   format_number, is_tensor)


def _tensor(rng, *shape, dtype=np.float64):
    return torch.from_numpy(rng.normal(size=shape).astype(dtype))


# ------------------------------------------------------------------ ex-03-1


def _attend(q, k, v, mask=None, *, scale=None, dim=-1, mask_mode="fill",
            fill=float("-inf"), zero_empty=True, front_axes=False):
    """Scaled dot-product attention with one switch per catalogued
    mistake; the reference when all are off."""
    if scale is None:
        scale = math.sqrt(q.size(-1))
    keys_t = k.transpose(1, 2) if front_axes else k.transpose(-2, -1)
    scores = q @ keys_t / scale                           # (..., L_q, L_k)
    if mask is not None and mask_mode in ("fill", "inverted"):
        scores = scores.masked_fill(~mask if mask_mode == "fill" else mask,
                                    fill)
    weights = torch.softmax(scores, dim=dim)              # (..., L_q, L_k)
    if mask is not None and mask_mode == "after":
        weights = weights * mask
    if mask is not None and zero_empty:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def _sdpa_mistake(**switches):
    return lambda q, k, v, mask=None: _attend(q, k, v, mask, **switches)


def _attention_cases(rng):
    def case(batch, l_q, l_k, d_k, d_v, dtype=np.float64, mask=None,
             note=""):
        args = {"q": _tensor(rng, *batch, l_q, d_k, dtype=dtype),
                "k": _tensor(rng, *batch, l_k, d_k, dtype=dtype),
                "v": _tensor(rng, *batch, l_k, d_v, dtype=dtype)}
        if mask is not None:
            args["mask"] = mask
        return Case(args, note)

    # 1..5 real keys of 6: every row keeps a padded key
    lengths = torch.from_numpy(rng.integers(1, 6, size=3))
    # the second sequence has no real token at all
    empty = torch.tensor([int(rng.integers(1, 5)), 0])
    # (L_q, L_k): any pattern, with an allowed and a forbidden key per row
    rows = torch.from_numpy(rng.random((4, 6)) < 0.5)
    rows[:, 0], rows[:, 1] = True, False
    # (batch, 1, L_q, L_k): a query that may see no key, over the heads
    blind = torch.from_numpy(rng.random((2, 1, 4, 5)) < 0.6)
    blind[:, :, :, 0] = True
    blind[1, 0, 2] = False
    return [
        case((2,), 5, 7, 8, 3,
             note="L_q = 5 queries, L_k = 7 keys, d_k = 8, d_v = 3"),
        case((3,), 4, 4, 6, 5, dtype=np.float32, note="float32 inputs"),
        case((3,), 5, 6, 4, 4, mask=padding_mask(lengths, 6)[:, None, :],
             note="a padding mask (batch, 1, L_k)"),
        case((2, 3), 5, 5, 4, 2, mask=causal_mask(5),
             note="batch and heads, a causal mask (L, L)"),
        case((), 4, 6, 3, 5, mask=rows,
             note="no batch dimension, a mask (L_q, L_k)"),
        case((2,), 3, 5, 4, 3, mask=padding_mask(empty, 5)[:, None, :],
             note="the second sequence has no real token: every key of "
                  "its queries is masked"),
        case((2, 2), 4, 5, 3, 2, mask=blind,
             note="a mask (batch, 1, L_q, L_k) with a query whose every "
                  "key is masked"),
    ]


SDPA = Exercise(
    id="ex-03-1",
    title="Scaled dot-product attention with a mask",
    chapter=3,
    points=4,
    function="scaled_dot_product_attention",
    reference=scaled_dot_product_attention,
    cases=_attention_cases,
    keywords=("mask",),
    outputs=("output", "weights"),
    mistakes=[
        Mistake("softmax-wrong-axis",
                "your weights sum to 1 down each column, over the queries. "
                "Each query's row is one pass of the highlighter over the "
                "keys, so it must sum to 1 over the keys: softmax over "
                "dim=-1.",
                model=_sdpa_mistake(dim=-2)),
        Mistake("no-scale",
                "your scores are not divided by sqrt(d_k): divide "
                "q @ k.transpose(-2, -1) by math.sqrt(q.size(-1)) before "
                "the softmax.",
                model=_sdpa_mistake(scale=1.0)),
        Mistake("scaled-by-d_k",
                "you divided the scores by d_k; divide them by its square "
                "root, math.sqrt(d_k). The scores have a variance of about "
                "d_k, so sqrt(d_k) brings their spread back to 1.",
                model=lambda q, k, v, mask=None: _attend(
                    q, k, v, mask, scale=q.size(-1))),
        Mistake("power-precedence",
                "you divided the scores by d_k / 2: in Python d_k ** 1/2 "
                "means (d_k ** 1) / 2, because ** binds tighter than /. "
                "Write d_k ** 0.5 or math.sqrt(d_k).",
                model=lambda q, k, v, mask=None: _attend(
                    q, k, v, mask, scale=q.size(-1) / 2)),
        Mistake("scaled-by-length",
                "you scaled by the square root of the number of keys, L_k. "
                "The scale is sqrt(d_k), d_k being the LAST dimension of q "
                "and k: q.size(-1), not k.shape[1].",
                model=lambda q, k, v, mask=None: _attend(
                    q, k, v, mask, scale=math.sqrt(k.size(-2)))),
        Mistake("scaled-by-d_v",
                "you scaled by the square root of the size of the values, "
                "d_v. The scale belongs to the queries and keys: "
                "math.sqrt(q.size(-1)).",
                model=lambda q, k, v, mask=None: _attend(
                    q, k, v, mask, scale=math.sqrt(v.size(-1)))),
        Mistake("three-axes-only",
                "your function works for (batch, L, d) inputs only: it "
                "fails for a single sentence (L, d) and for heads (batch, "
                "heads, L, d). Count the axes from the end, "
                "k.transpose(-2, -1) and dim=-1, and use @ rather than "
                "torch.bmm, so that one function serves every number of "
                "leading axes.",
                model=_sdpa_mistake(front_axes=True)),
        Mistake("swapped-return",
                "you returned (weights, output); return (output, weights), "
                "output first.",
                model=lambda q, k, v, mask=None: _attend(q, k, v,
                                                         mask)[::-1]),
        Mistake("mask-ignored",
                "the mask has no effect: forbidden keys still get weight. "
                "Set the scores where the mask is False to -inf before the "
                "softmax: scores.masked_fill(~mask, float('-inf')).",
                model=lambda q, k, v, mask=None: _attend(q, k, v, None)),
        Mistake("mask-inverted",
                "you blocked the keys where the mask is True. In this book "
                "(and in PyTorch) True means 'may attend': fill the scores "
                "where the mask is False, with ~mask.",
                model=_sdpa_mistake(mask_mode="inverted")),
        Mistake("masked-scores-zero",
                "you set the scores of the forbidden keys to 0, but "
                "e^0 = 1: they still get as much weight as a key that "
                "scores 0. Fill them with float('-inf'), whose e^-inf is "
                "exactly 0.",
                model=_sdpa_mistake(fill=0.0)),
        Mistake("mask-after-softmax",
                "you zeroed the masked weights after the softmax, so the "
                "rows no longer sum to 1 (the ink meant for the taped "
                "words is lost). Mask the scores with -inf BEFORE the "
                "softmax.",
                model=_sdpa_mistake(mask_mode="after")),
        Mistake("fully-masked-nan",
                "a query whose keys are ALL masked gets NaN: its softmax "
                "is 0/0. The book (like PyTorch's own function) gives "
                "such a row weights 0 and output 0: after the softmax, "
                "replace NaN by 0 (weights.nan_to_num(0.0)).",
                model=_sdpa_mistake(zero_empty=False)),
        Mistake("fully-masked-uniform",
                "a query whose keys are ALL masked spreads its weight "
                "evenly over the forbidden keys: you filled (or added) a "
                "large negative number instead of -inf. Use float('-inf') "
                "and replace the NaN of such rows by 0 after the softmax "
                "(weights.nan_to_num(0.0)).",
                model=_sdpa_mistake(fill=-1e9)),
    ],
    hints=[
        "Four steps, every one on the last two axes: scores = q @ "
        "k.transpose(-2, -1), shape (..., L_q, L_k); divide by "
        "math.sqrt(d_k) with d_k = q.size(-1); softmax over the keys "
        "(dim=-1); then weights @ v, shape (..., L_q, d_v).",
        "With a mask, tape over the forbidden keys before the softmax: "
        "scores.masked_fill(~mask, float('-inf')). A row where every key "
        "is taped then becomes NaN (0/0): weights.nan_to_num(0.0) turns "
        "it into 0.",
        Code("""
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
            return weights @ v, weights
            """, text="All of it, in five lines:"),
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


# ---------------------------------------------------------- boolean answers

NOT_BOOLEAN = (
    "your mask has the right values but is not boolean. Return a tensor "
    "of dtype torch.bool (True where attention is allowed): a float mask "
    "of 0s and 1s would be ADDED to the scores by PyTorch, not used to "
    "block keys. Comparisons such as a < b already give booleans; or use "
    ".bool().")


def _boolean_call(exercise_id, reference):
    """``call`` for a mask exercise: a bool tensor becomes 0.0 / 1.0 to be
    compared; right values in another dtype fail with the not-boolean
    mistake; other answers go on to be compared as they are."""

    def call(answer, *args):
        result = answer(*args)
        if is_tensor(result) and result.dtype == torch.bool:
            return result.double()
        if is_tensor(result) and not result.dtype.is_complex:
            expected = reference(*args)
            if (result.shape == expected.shape
                    and torch.equal(result.double(), expected)):
                raise CheckFailure(exercise_id, NOT_BOOLEAN, "not-boolean")
        return result

    return call


class _MaskCase(Case):
    """A case of a mask exercise: its lengths are shown as numbers."""

    def describe(self) -> str:
        shown = {name: value.tolist() if (is_tensor(value)
                                          and value.dim() == 1
                                          and not value.is_floating_point())
                 else value for name, value in self.args.items()}
        return Case(shown, self.note).describe()


@dataclass
class _MaskExercise(Exercise):
    """A mask exercise: a mask that differs is shown as the first row where
    it differs, in 1s (may attend) and 0s (taped). ``rows`` names the axes
    before the keys, e.g. ("sequence", "query")."""

    rows: tuple = ("query",)

    def _differs(self, result, expected, case):
        why = difference(result, expected, self.tolerance)
        if why is None or not is_tensor(result) or (
                tuple(result.shape) != tuple(expected.shape)):
            return why
        values = result.double()
        where = torch.nonzero(values != expected)
        if not len(where) or values.isnan().any():
            return why          # NaN or the like: the plain message
        index = [int(i) for i in where[0]]
        row = tuple(index[:-1])
        got = values[row]
        if ((got == 0) | (got == 1)).all():
            got = got.int()
        where = ", ".join(f"{axis} {i}" for axis, i in zip(self.rows, row))
        return (f"the row of {where} in your mask is {_row(got)}, expected "
                f"{_row(expected[row].int())} (1: may attend, 0: taped)")


def _row(values):
    return "[" + ", ".join(format_number(v) for v in values.tolist()) + "]"


def _not_boolean():
    # raised by the call above; never recognised from the values
    return Mistake("not-boolean", NOT_BOOLEAN,
                   detect=lambda result, case: False)


def _lengths(values, dtype=np.int64):
    return torch.from_numpy(np.asarray(values, dtype=dtype))


# ------------------------------------------------------------------ ex-03-2


def _causal_reference(n):
    return causal_mask(n).double()


CAUSAL = _MaskExercise(
    id="ex-03-2",
    title="A causal mask",
    chapter=3,
    points=1,
    function="causal_mask",
    reference=_causal_reference,
    cases=lambda rng: [Case({"n": int(n)}) for n in
                       (rng.integers(4, 9), 3, rng.integers(10, 20), 1, 2)],
    mistakes=[
        Mistake("diagonal-excluded",
                "your mask leaves out the diagonal: word i may not look at "
                "itself. The causal mask is True on AND below the diagonal "
                "(tril with diagonal=0), so the first word still has one "
                "key.",
                model=lambda n: torch.ones(n, n).tril(-1).double()),
        Mistake("upper-triangle",
                "your mask lets each word look at itself and the words "
                "AFTER it (the upper triangle). A causal mask looks back: "
                "row i is True at columns 0..i, the lower triangle (tril).",
                model=lambda n: torch.ones(n, n).triu().double()),
        Mistake("mask-inverted",
                "your mask is True where attention is FORBIDDEN (strictly "
                "above the diagonal). In this book and in PyTorch, True "
                "means 'may attend': return the lower triangle, diagonal "
                "included.",
                model=lambda n: torch.ones(n, n).triu(1).double()),
        _not_boolean(),
    ],
    hints=[
        "Row i is the query at position i; it may look at keys 0, 1, ..., "
        "i. That is the lower triangle of an (n, n) matrix, diagonal "
        "included.",
        "torch.tril keeps the lower triangle of a matrix and zeroes the "
        "rest; start from torch.ones(n, n, dtype=torch.bool).",
        Code("return torch.ones(n, n, dtype=torch.bool).tril()",
             text="One line:"),
    ],
    call=_boolean_call("ex-03-2", _causal_reference),
)


# ------------------------------------------------------------------ ex-03-3


def _padding_reference(lengths, max_len):
    return padding_mask(lengths, max_len).double()


def _padding_cases(rng):
    def case(batch, max_len, full=True, dtype=np.int64, note=""):
        # 1 .. max_len-1: padded, never empty; the first one full if asked
        lengths = rng.integers(1, max_len, size=batch)
        if full:
            lengths[0] = max_len
        return _MaskCase({"lengths": _lengths(lengths, dtype),
                     "max_len": int(max_len)}, note)

    return [
        case(3, int(rng.integers(5, 9))),
        case(5, int(rng.integers(10, 16)), full=False,
             note="every sequence shorter than max_len"),
        case(4, int(rng.integers(6, 10)), dtype=np.int32,
             note="lengths of dtype int32"),
        _MaskCase({"lengths": torch.tensor([2, 0, 3]), "max_len": 4},
             "an empty sequence, and max_len above every length"),
        _MaskCase({"lengths": torch.tensor([1]), "max_len": 1},
             "one sequence of one token"),
    ]


def _positions_vs(lengths, max_len, compare):
    positions = torch.arange(max_len)[None, :]           # (1, max_len)
    return compare(positions, lengths[:, None]).double()  # (batch, max_len)


PADDING = _MaskExercise(
    id="ex-03-3",
    title="A padding mask from sequence lengths",
    chapter=3,
    points=2,
    function="padding_mask",
    reference=_padding_reference,
    cases=_padding_cases,
    mistakes=[
        Mistake("less-or-equal",
                "your mask has one True too many in every row: you "
                "compared positions with <=. Positions count from 0, so a "
                "sequence of length n has its real tokens at 0, ..., n-1: "
                "use positions < lengths.",
                model=lambda lengths, max_len: _positions_vs(
                    lengths, max_len, lambda p, n: p <= n)),
        Mistake("mask-inverted",
                "your mask is True at the padding. In this book (and in "
                "PyTorch) True means 'a real token, may attend': "
                "positions < lengths.",
                model=lambda lengths, max_len: _positions_vs(
                    lengths, max_len, lambda p, n: p >= n)),
        Mistake("transposed",
                "your mask is transposed: return one row per sequence, "
                "shape (batch, max_len).",
                model=lambda lengths, max_len: _padding_reference(
                    lengths, max_len).T),
        Mistake("max-len-ignored",
                "your mask is as wide as the longest sequence, "
                "lengths.max(), but the batch is padded to max_len, which "
                "may be longer: compare with torch.arange(max_len).",
                model=lambda lengths, max_len: _padding_reference(
                    lengths, int(lengths.max()))),
        _not_boolean(),
    ],
    hints=[
        "Compare a row of positions 0, 1, ..., max_len-1 with a column of "
        "lengths: position j of sequence b is a real token when j < "
        "lengths[b]. Broadcasting does every comparison at once.",
        "torch.arange(max_len) has shape (max_len,); lengths[:, None] has "
        "shape (batch, 1). Their comparison has shape (batch, max_len) and "
        "is already boolean.",
        Code("return torch.arange(max_len)[None, :] < lengths[:, None]",
             text="One line:"),
    ],
    call=_boolean_call("ex-03-3", _padding_reference),
    rows=("sequence",),
)


# ------------------------------------------------------------------ ex-03-4


def _grid(lengths, max_len):
    """Query positions i (1, max_len, 1), key positions j (1, 1, max_len),
    lengths (batch, 1, 1)."""
    i = torch.arange(max_len)[None, :, None]
    j = torch.arange(max_len)[None, None, :]
    return i, j, lengths[:, None, None]


def _combined(rule):
    def model(lengths, max_len):
        i, j, n = _grid(lengths, max_len)
        shape = (len(lengths), max_len, max_len)
        return torch.broadcast_to(rule(i, j, n), shape).double()

    return model


def _combined_reference(lengths, max_len):
    return causal_padding_mask(lengths, max_len).double()


def _combined_cases(rng):
    def case(max_len, full=True, note=""):
        # padded sequences of 2 .. max_len-1, and a full one if asked
        lengths = rng.integers(2, max_len, size=3)
        if full:
            lengths[1] = max_len
        return _MaskCase({"lengths": torch.from_numpy(lengths),
                     "max_len": int(max_len)}, note)

    return [
        case(int(rng.integers(5, 8))),
        case(int(rng.integers(8, 13))),
        case(int(rng.integers(6, 10)), full=False,
             note="every sequence shorter than max_len"),
        _MaskCase({"lengths": torch.tensor([1, 3]), "max_len": 3},
             "a sequence of a single token"),
        _MaskCase({"lengths": torch.tensor([2, 0]), "max_len": 4},
             "an empty sequence, every sequence shorter than max_len"),
    ]


COMBINED = _MaskExercise(
    id="ex-03-4",
    title="Padding and causal masks together",
    chapter=3,
    points=3,
    function="causal_padding_mask",
    reference=_combined_reference,
    cases=_combined_cases,
    mistakes=[
        Mistake("padding-on-queries",
                "you masked the padded QUERIES (rows), instead of (or as "
                "well as) the padded KEYS (columns), so every row of a "
                "padded query is fully masked (0/0 in the softmax). The "
                "tape goes over the words the pen must not touch, the "
                "keys: padding_mask(lengths, max_len)[:, None, :], shape "
                "(batch, 1, max_len).",
                model=_combined(lambda i, j, n: (j <= i) & (i < n))),
        Mistake("or-instead-of-and",
                "you combined the two masks with OR. A key is allowed only "
                "if BOTH masks allow it: it is a real token AND not in the "
                "future. Use &.",
                model=_combined(lambda i, j, n: (j <= i) | (j < n))),
        Mistake("padding-missing",
                "your mask ignores the lengths: padded keys are still "
                "allowed. Combine the causal mask with the padding mask of "
                "the keys.",
                model=_combined(lambda i, j, n: j <= i)),
        Mistake("causal-missing",
                "your mask has no causal part: every query may look at "
                "later keys. Combine the padding mask with "
                "causal_mask(max_len) (True on and below the diagonal).",
                model=_combined(lambda i, j, n: j < n)),
        Mistake("diagonal-excluded",
                "your causal part leaves out the diagonal: a word may not "
                "look at itself, and the first word has no key at all. "
                "Keep the diagonal: key j is allowed for query i when "
                "j <= i.",
                model=_combined(lambda i, j, n: (j < i) & (j < n))),
        Mistake("upper-triangle",
                "your causal part looks forward (the upper triangle): "
                "query i may see keys i, i+1, ... It must look back: key "
                "j is allowed when j <= i, the lower triangle.",
                model=_combined(lambda i, j, n: (j >= i) & (j < n))),
        Mistake("less-or-equal",
                "your padding part lets every query see one padded key: "
                "you compared positions with <=. A sequence of length n "
                "has its real tokens at 0, ..., n-1: use < lengths.",
                model=_combined(lambda i, j, n: (j <= i) & (j <= n))),
        Mistake("mask-inverted",
                "your mask is True where attention is forbidden. In this "
                "book (and in PyTorch) True means 'may attend'.",
                model=_combined(lambda i, j, n: ~((j <= i) & (j < n)))),
        Mistake("extra-head-axis",
                "your mask has shape (batch, 1, max_len, max_len); return "
                "(batch, max_len, max_len). (To use it with heads, add the "
                "axis later with mask[:, None].)",
                model=lambda lengths, max_len: _combined_reference(
                    lengths, max_len)[:, None]),
        Mistake("max-len-ignored",
                "your mask is as wide as the longest sequence, "
                "lengths.max(), but the batch is padded to max_len, which "
                "may be longer: the result is (batch, max_len, max_len).",
                model=lambda lengths, max_len: _combined_reference(
                    lengths, int(lengths.max()))),
        _not_boolean(),
    ],
    hints=[
        "Two masks, one allowed-key rule: key j is allowed for query i of "
        "sequence b when j <= i (causal) AND j < lengths[b] (a real "
        "token). The padding is about the KEYS, the columns.",
        "padding_mask(lengths, max_len)[:, None, :] has shape (batch, 1, "
        "max_len): one row of tape shared by every query. "
        "causal_mask(max_len) has shape (max_len, max_len). The & of the "
        "two broadcasts to (batch, max_len, max_len).",
        Code("""
            keys_real = torch.arange(max_len)[None, :] < lengths[:, None]
            lower = torch.ones(max_len, max_len, dtype=torch.bool).tril()
            return keys_real[:, None, :] & lower
            """, text="Written out, without your other two functions:"),
    ],
    call=_boolean_call("ex-03-4", _combined_reference),
    rows=("sequence", "query"),
)


# ------------------------------------------------- ex-03-5 (the challenge)


def _prefix_grid(prefix_lengths, lengths, max_len):
    """Query positions i (1, L, 1), key positions j (1, 1, L), prompt
    lengths p and sequence lengths n, each (batch, 1, 1)."""
    i = torch.arange(max_len)[None, :, None]
    j = torch.arange(max_len)[None, None, :]
    return i, j, prefix_lengths[:, None, None], lengths[:, None, None]


def _prefix(rule):
    """A prefix-LM mask from ``rule(i, j, p, n)``, as 0.0 / 1.0."""
    def mask(prefix_lengths, lengths, max_len):
        i, j, p, n = _prefix_grid(prefix_lengths, lengths, max_len)
        shape = (len(lengths), max_len, max_len)
        return torch.broadcast_to(rule(i, j, p, n), shape).double()

    return mask


# key j is a real token, and in the prompt or not in the future
_prefix_reference = _prefix(lambda i, j, p, n: (j < n)
                            & ((j < p) | (j <= i)))


def _prefix_cases(rng):
    def case(max_len, batch, note=""):
        # lengths 3 .. max_len, one full and one padded; prompts of 2 ..
        # length-1 tokens (a prompt of one token is just a causal mask)
        lengths = rng.integers(3, max_len + 1, size=batch)
        lengths[0], lengths[-1] = max_len, max_len - 2
        prefix = rng.integers(2, lengths)
        return _MaskCase({"prefix_lengths": torch.from_numpy(prefix),
                     "lengths": torch.from_numpy(lengths),
                     "max_len": int(max_len)}, note)

    return [
        case(int(rng.integers(6, 9)), 3),
        case(int(rng.integers(9, 13)), 4),
        _MaskCase({"prefix_lengths": torch.tensor([0, 4, 1]),
              "lengths": torch.tensor([4, 4, 2]), "max_len": 5},
             "no prompt (0), a prompt that is the whole sequence (4), and "
             "a prompt of one token"),
    ]


PREFIX_LM = _MaskExercise(
    id="ex-03-5",
    title="A prefix-LM mask (challenge)",
    chapter=3,
    points=3,
    function="prefix_lm_mask",
    reference=_prefix_reference,
    cases=_prefix_cases,
    mistakes=[
        Mistake("prefix-ignored",
                "your mask is causal everywhere: the prompt is read one "
                "way, like the answer. In a prefix LM every query may see "
                "the WHOLE prompt, key j < prefix_lengths[b], even the "
                "prompt words that come after it.",
                model=_prefix(lambda i, j, p, n: (j < n) & (j <= i))),
        Mistake("prompt-queries-see-all",
                "the words of the prompt may look at every word, the "
                "answer included: you gave the freedom to the prompt's "
                "QUERIES (rows) instead of its KEYS (columns). Every query "
                "may see the keys of the prompt, j < prefix_lengths[b]; "
                "nobody may see a word of the answer that comes after it.",
                model=_prefix(lambda i, j, p, n: (j < n)
                              & ((i < p) | (j <= i)))),
        Mistake("and-instead-of-or",
                "you required a key to be in the prompt AND not in the "
                "future, so the answer cannot see itself or its own past. "
                "A key is allowed when it is in the prompt OR not in the "
                "future (and, in both cases, a real token): "
                "real & (prompt | causal).",
                model=_prefix(lambda i, j, p, n: (j < n) & (j < p)
                              & (j <= i))),
        Mistake("prefix-one-too-long",
                "your prompt is one token too long: a prompt of p tokens "
                "sits at positions 0, ..., p-1, so key j is in it when "
                "j < prefix_lengths[b], not j <= prefix_lengths[b].",
                model=_prefix(lambda i, j, p, n: (j < n)
                              & ((j <= p) | (j <= i)))),
        Mistake("causal-missing",
                "your mask reads the whole sequence both ways: the answer "
                "may look ahead at words it has not written yet. After "
                "the prompt, key j is allowed for query i only when "
                "j <= i.",
                model=_prefix(lambda i, j, p, n: j < n)),
        Mistake("padding-missing",
                "your mask ignores the lengths: padded keys are still "
                "allowed. A key must also be a real token, "
                "j < lengths[b].",
                model=_prefix(lambda i, j, p, n: (j < p) | (j <= i))),
        Mistake("padding-on-queries",
                "you taped the padded QUERIES (rows) instead of the "
                "padded KEYS (columns), so the rows of the pads are empty. "
                "The tape goes on the keys: j < lengths[b], shape "
                "(batch, 1, max_len).",
                model=_prefix(lambda i, j, p, n: (i < n)
                              & ((j < p) | (j <= i)))),
        Mistake("diagonal-excluded",
                "after the prompt a word may not look at itself in your "
                "mask: the causal part is j <= i, diagonal included.",
                model=_prefix(lambda i, j, p, n: (j < n)
                              & ((j < p) | (j < i)))),
        Mistake("mask-inverted",
                "your mask is True where attention is forbidden. In this "
                "book (and in PyTorch) True means 'may attend'.",
                model=_prefix(lambda i, j, p, n: ~((j < n)
                                                   & ((j < p) | (j <= i))))),
        _not_boolean(),
    ],
    hints=[
        "Three rules for key j, query i, sequence b: the key is a real "
        "token (j < lengths[b]); and it is in the prompt (j < "
        "prefix_lengths[b]) or it is not in the future (j <= i). Each "
        "rule is a comparison of positions.",
        "Give every rule a shape that broadcasts to (batch, max_len, "
        "max_len): the real keys and the keys of the prompt are "
        "(batch, 1, max_len), from lengths[:, None, None] and "
        "prefix_lengths[:, None, None]; the causal triangle is "
        "(max_len, max_len). Then real & (prompt | causal).",
        Code("""
            j = torch.arange(max_len)[None, None, :]
            real = j < lengths[:, None, None]
            prompt = j < prefix_lengths[:, None, None]
            causal = torch.ones(max_len, max_len, dtype=torch.bool).tril()
            return real & (prompt | causal)
            """, text="All three rules at once:"),
    ],
    call=_boolean_call("ex-03-5", _prefix_reference),
    rows=("sequence", "query"),
)


EXERCISES = [SDPA, CAUSAL, PADDING, COMBINED, PREFIX_LM]
