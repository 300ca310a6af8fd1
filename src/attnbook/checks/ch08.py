"""Checks for chapter 8, attention at scale (PyTorch).

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch08.py`` holds a learner-style wrong answer for each
mistake and proves it is named, and look-alikes that must not be.
"""

import math
import re

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from ..attention import scaled_dot_product_attention
from ..kv_cache import kv_cache_step
from ..long_context import linear_attention, sliding_window_mask
from ..scaling import attention_weights_bytes
from .core import (Case, CheckFailure, Code, ExactExercise, Exercise,
                   Mistake, as_array, describe, is_tensor,
                   python_int)


def _tensor(rng, *shape, dtype=np.float64, scale=1.0):
    return torch.from_numpy((rng.normal(size=shape) * scale).astype(dtype))


# ----------------------------------------------------------------- ex-08-1


def _band(n, window, *, lo=0, hi=None, both_ways=False, future=False,
          inverted=False, causal=True):
    """A band mask with one switch per catalogued mistake; the reference
    when all are off. Query i may see key j when lo <= i - j < hi (hi
    defaults to window)."""
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    offset = i - j                           # (n, n): how far back key j is
    if future:
        offset = -offset
    hi = window if hi is None else hi
    if both_ways:
        allowed = offset.abs() < hi
    elif not causal:
        allowed = offset < hi
    else:
        allowed = (offset >= lo) & (offset < hi)
    return ~allowed if inverted else allowed


def _sliced_rows(n, window):
    """Rows filled with mask[i, i - window + 1:i + 1] = True: a negative
    start counts from the end of the row (the row stays empty)."""
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        mask[i, i - window + 1:i + 1] = True
    return mask


def _indexed_keys(n, window):
    """mask[i, j] = True for j in range(i - window + 1, i + 1): a negative
    j counts from the end of the row (a key at the end is allowed), and one
    below -n is an IndexError."""
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        for j in range(i - window + 1, i + 1):
            mask[i, j] = True
    return mask


def _boolean_mask(result, case=None):
    """The text asks for a torch tensor of dtype bool."""
    if not is_tensor(result):
        return (f"your mask should be a torch tensor of dtype bool (True = "
                f"may attend), got {describe(result)}")
    if result.dtype != torch.bool:
        dtype = str(result.dtype).replace("torch.", "")
        return (f"your mask has dtype {dtype}, not bool. Return the result "
                f"of a comparison such as (j <= i) & (i - j < window): 0/1 "
                f"numbers would be read as scores, not as a mask")
    return None


def _mask_rows(mask):
    """A mask as lists of bools (a torch tensor of dtype bool)."""
    return mask.detach().cpu().tolist()


def _shape_of(rows):
    if not isinstance(rows, list):
        return ()
    if rows and all(isinstance(r, list) for r in rows):
        return (len(rows), len(rows[0]))
    return (len(rows),)


def _show_mask(result, expected, case):
    n = case.args["n"]
    if _shape_of(result) != (n, n) or any(len(r) != n for r in result):
        return (f"for {case.describe()}: your mask has shape "
                f"{_shape_of(result)}, expected ({n}, {n}).")
    i = next(i for i in range(n) if result[i] != expected[i])
    allowed = [j for j in range(n) if expected[i][j]]
    got = [j for j in range(n) if result[i][j]]
    return (f"for {case.describe()}: row {i} (query {i}) should allow the "
            f"keys {allowed}, yours allows {got or 'none'}.")


def _mask_cases(rng):
    n = int(rng.integers(9, 14))
    return [
        Case({"n": n, "window": int(rng.integers(3, 5))},
             "a window shorter than the sequence"),
        Case({"n": 12, "window": 5}),
        Case({"n": 6, "window": 1}, "window=1: each word sees only itself"),
        Case({"n": 5, "window": 8},
             "a window longer than the sequence: the causal mask"),
        Case({"n": 7, "window": 7}, "window = n"),
        Case({"n": 1, "window": 3}, "a single word"),
    ]


SLIDING_WINDOW = ExactExercise(
    id="ex-08-1",
    title="The sliding-window mask",
    chapter=8,
    points=2,
    function="sliding_window_mask",
    reference=sliding_window_mask,
    cases=_mask_cases,
    contract=_boolean_mask,
    canonical=_mask_rows,
    show=_show_mask,
    mistakes=[
        Mistake("window-too-wide",
                "each word sees one word too many: the window counts the "
                "word itself, so query i may look at keys i - window + 1, "
                "..., i, which is i - j < window (not <=).",
                model=lambda n, w: _band(n, w, hi=w + 1)),
        Mistake("window-too-narrow",
                "each word sees one word too few: with window = 3 a word "
                "sees itself and the 2 words before it, so the condition "
                "is i - j < window (not i - j < window - 1).",
                model=lambda n, w: _band(n, w, hi=w - 1)),
        Mistake("looks-ahead",
                "your window looks ahead: word i may also see the words "
                "after it, as far as the window reaches. A decoder's "
                "window is causal: keep only keys j <= i (and "
                "i - j < window).",
                model=lambda n, w: _band(n, w, both_ways=True)),
        Mistake("forgot-causal",
                "your mask lets every word see all the words after it: "
                "i - j < window holds for every j > i too. Add the causal "
                "part, j <= i.",
                model=lambda n, w: _band(n, w, causal=False)),
        Mistake("future-window",
                "your window is on the wrong side of the diagonal: word i "
                "sees the words after it, not before it. Query i is row i, "
                "key j is column j; allow j <= i and i - j < window.",
                model=lambda n, w: _band(n, w, future=True)),
        Mistake("excludes-itself",
                "no word may look at itself (the diagonal is False). The "
                "window holds the word itself and the window - 1 words "
                "before it: 0 <= i - j < window.",
                model=lambda n, w: _band(n, w, lo=1, hi=w + 1)),
        Mistake("inverted",
                "your mask is inverted: it is True where attention is "
                "blocked. In this book (and in PyTorch) True means 'may "
                "attend'.",
                model=lambda n, w: _band(n, w, inverted=True)),
        Mistake("negative-slice",
                "the first window - 1 rows of your mask are empty: a slice "
                "mask[i, i - window + 1:i + 1] whose start is negative "
                "counts from the end of the row. Start it at "
                "max(0, i - window + 1).",
                model=_sliced_rows),
        Mistake("negative-index",
                "near the start your mask also allows keys at the end of "
                "the row: when i - window + 1 < 0, a negative index j "
                "counts from the end. Start j at max(0, i - window + 1).",
                model=_indexed_keys),
    ],
    hints=[
        "Make the positions a column and a row: i = torch.arange(n)[:, "
        "None] (queries) and j = torch.arange(n)[None, :] (keys). "
        "Comparisons between them broadcast to (n, n).",
        "Key j is i - j words back from query i. It is allowed when it is "
        "not in the future (j <= i) and not too far back: the window "
        "counts the word itself, so i - j < window. Combine the two with "
        "&.",
        Code("""
            i = torch.arange(n)[:, None]    # (n, 1): the queries
            j = torch.arange(n)[None, :]    # (1, n): the keys
            return (j <= i) & (i - j < window)
        """),
    ],
)


# ----------------------------------------------------------------- ex-08-2


def _step(q, k, v, cache_k, cache_v, *, include_new=True, append=True,
          new_first=False, scale=None, softmax_dim=-1, first_key_only=False):
    """A KV-cache step with one switch per catalogued mistake; the
    reference when all are off."""
    grown_k = torch.cat([k, cache_k] if new_first else [cache_k, k], dim=-2)
    grown_v = torch.cat([v, cache_v] if new_first else [cache_v, v], dim=-2)
    keys, values = (grown_k, grown_v) if include_new else (cache_k, cache_v)
    scale = math.sqrt(q.size(-1)) if scale is None else scale
    scores = q @ keys.transpose(-2, -1) / scale
    if first_key_only:  # a (1, P + 1) mask made with tril(): only key 0
        allowed = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    output = torch.softmax(scores, dim=softmax_dim) @ values
    return (output, grown_k, grown_v) if append else (output, cache_k,
                                                      cache_v)


_AXES = {0: "batch", 1: "heads", 3: "feature"}
_AXIS_MESSAGES = {
    "batch": "you concatenated along axis 0, the batch axis. The caches "
             "are (batch, heads, P, d_head): the tokens line up along the "
             "sequence axis, dim=-2.",
    "heads": "you concatenated along axis 1, the heads axis. The caches "
             "are (batch, heads, P, d_head): a new token adds a row along "
             "the sequence axis, dim=-2 (or dim=2).",
    "feature": "you concatenated along the last axis, the features. A new "
               "token does not make the keys longer vectors; it adds one "
               "more key: concatenate along the sequence axis, dim=-2.",
}


def _call_step(answer, q, k, v, cache_k, cache_v):
    """Call the answer; torch's error for a concatenation along the wrong
    axis names that axis, and the message says which it was."""
    try:
        return answer(q, k, v, cache_k, cache_v)
    except RuntimeError as exc:
        found = re.search(r"must match except in dimension (-?\d+)",
                          str(exc))
        axis = _AXES.get(int(found.group(1)) % 4) if found else None
        if axis:
            raise CheckFailure("ex-08-2", _AXIS_MESSAGES[axis],
                               f"cat-{axis}-axis") from None
        raise


def _step_cases(rng):
    def case(batch, heads, past, d_k, d_v, dtype=np.float64, note=""):
        def t(length, d):
            return _tensor(rng, batch, heads, length, d, dtype=dtype)

        return Case({"q": t(1, d_k), "k": t(1, d_k), "v": t(1, d_v),
                     "cache_k": t(past, d_k), "cache_v": t(past, d_v)},
                    note)

    return [
        case(2, 3, 5, 4, 4),
        case(3, 2, 7, 6, 3, note="d_v different from d_k"),
        case(2, 4, 3, 8, 8, dtype=np.float32, note="float32"),
        case(1, 1, 9, 5, 2, note="one sequence, one head"),
        case(2, 2, 0, 4, 4, note="an empty cache: the very first token"),
    ]


KV_CACHE_STEP = Exercise(
    id="ex-08-2",
    title="One step with a KV cache",
    chapter=8,
    points=3,
    function="kv_cache_step",
    reference=kv_cache_step,
    call=_call_step,
    cases=_step_cases,
    outputs=("output", "cache_k", "cache_v"),
    mistakes=[
        Mistake("cat-batch-axis", _AXIS_MESSAGES["batch"]),
        Mistake("cat-heads-axis", _AXIS_MESSAGES["heads"]),
        Mistake("cat-feature-axis", _AXIS_MESSAGES["feature"]),
        Mistake("cache-without-self",
                "the new query looked only at the cache, not at its own "
                "key: append k and v to the caches first, then attend over "
                "the grown caches (a word may highlight itself).",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv,
                                                    include_new=False)),
        Mistake("not-appended",
                "your output is right, but the caches you returned do not "
                "hold the new key and value: return the grown caches, or "
                "the next step forgets this token.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv,
                                                    append=False)),
        Mistake("new-first",
                "you put the new key and value in front of the cache. The "
                "cache keeps the tokens in order: torch.cat([cache_k, k], "
                "dim=-2), the newest last.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv,
                                                    new_first=True)),
        Mistake("no-scale",
                "your scores are not divided by sqrt(d_k): divide "
                "q @ keys.transpose(-2, -1) by math.sqrt(q.size(-1)) "
                "before the softmax.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv,
                                                    scale=1.0)),
        Mistake("multiplied-by-sqrt",
                "you multiplied the scores by sqrt(d_k) instead of "
                "dividing: divide by math.sqrt(q.size(-1)) (or multiply "
                "by 1 / math.sqrt(...)).",
                model=lambda q, k, v, ck, cv: _step(
                    q, k, v, ck, cv, scale=1 / math.sqrt(q.size(-1)))),
        Mistake("scaled-by-d_v",
                "you scaled the scores by the square root of the values' "
                "size d_v; the scale belongs to the dot product of a "
                "query and a key, sqrt(d_k) = math.sqrt(q.size(-1)).",
                model=lambda q, k, v, ck, cv: _step(
                    q, k, v, ck, cv, scale=math.sqrt(v.size(-1)))),
        Mistake("softmax-wrong-axis",
                "your softmax runs over the queries (dim=-2, of size 1 "
                "here), so every weight is 1 and the output is the sum of "
                "the values. The weights of a query run over the keys: "
                "dim=-1.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv,
                                                    softmax_dim=-2)),
        Mistake("mask-top-left",
                "your new query sees only the oldest key: a (1, P + 1) "
                "mask made with tril() is aligned to the top-left corner. "
                "The new token comes last and may see every key, so it "
                "needs no mask at all.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv,
                                                    first_key_only=True)),
        Mistake("swapped-return",
                "return (output, cache_k, cache_v), in that order.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv)[::-1]),
    ],
    hints=[
        "The caches are (batch, heads, P, d) and the new k, v are "
        "(batch, heads, 1, d). The tokens line up along the sequence axis, "
        "dim=-2: torch.cat([cache_k, k], dim=-2) is (batch, heads, P + 1, "
        "d).",
        "Grow both caches first, then attend: the new query must see every "
        "old key and its own key. With a single new query no mask is "
        "needed. Return the output and both grown caches.",
        Code("""
            cache_k = torch.cat([cache_k, k], dim=-2)  # (b, h, P + 1, d_k)
            cache_v = torch.cat([cache_v, v], dim=-2)  # (b, h, P + 1, d_v)
            # (batch, heads, 1, P + 1)
            scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1))
            weights = torch.softmax(scores, dim=-1)
            return weights @ cache_v, cache_k, cache_v
        """),
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


# ----------------------------------------------------------------- ex-08-3


def _bytes_cases(rng):
    def case(batch, heads, L_q, L_k, dtype, note=""):
        return Case({"batch": batch, "n_heads": heads, "L_q": L_q,
                     "L_k": L_k, "dtype": dtype}, note)

    return [
        case(int(rng.integers(3, 9)), int(rng.choice([5, 6, 12])),
             int(rng.integers(100, 400)), int(rng.integers(500, 900)),
             torch.float32, "float32, L_q different from L_k"),
        case(3, 5, 1024, 1024, torch.float64, "float64: 8 bytes a number"),
        case(6, 7, 37, 2048, torch.float16, "float16: 2 bytes a number"),
        case(1, 16, 4096, 4096, torch.bfloat16, "bfloat16, one sequence"),
        case(5, 1, 1, 300, torch.float32, "float32, one head, one query"),
    ]


def _size(dtype):
    return torch.empty((), dtype=dtype).element_size()


def _square(result, expected, case):
    a = case.args
    per_matrix = a["batch"] * a["n_heads"] * _size(a["dtype"])
    return any(result == per_matrix * n * n for n in (a["L_q"], a["L_k"]))


def _show_bytes(result, expected, case):
    text = (f"for {case.describe()}: the weights take {expected:,} bytes, "
            f"your function says {result:,}")
    if result and expected % result == 0:
        text += f" ({expected // result} times too few)"
    elif expected and result % expected == 0:
        text += f" ({result // expected} times too many)"
    return text + "."


BYTES = ExactExercise(
    id="ex-08-3",
    title="Counting the bytes of the weights",
    chapter=8,
    points=2,
    function="attention_weights_bytes",
    reference=attention_weights_bytes,
    cases=_bytes_cases,
    contract=python_int,
    canonical=int,
    show=_show_bytes,
    mistakes=[
        Mistake("numbers-not-bytes",
                "you counted the numbers in the weight matrix, not the "
                "bytes: multiply by the size of one number, "
                "torch.empty((), dtype=dtype).element_size() (4 bytes for "
                "float32).",
                model=lambda b, h, lq, lk, dtype: b * h * lq * lk),
        Mistake("always-4-bytes",
                "you used 4 bytes a number whatever the dtype. That is "
                "float32; float64 takes 8 and float16 takes 2: ask the "
                "dtype, torch.empty((), dtype=dtype).element_size().",
                model=lambda b, h, lq, lk, dtype: b * h * lq * lk * 4),
        Mistake("bits-not-bytes",
                "you counted bits, not bytes: a float32 is 32 bits but 4 "
                "bytes. Divide by 8, or use element_size(), which is "
                "already in bytes.",
                model=lambda b, h, lq, lk, dtype: (b * h * lq * lk
                                                   * _size(dtype) * 8)),
        Mistake("forgot-batch",
                "you counted one sequence: every sequence in the batch has "
                "its own weight matrix, so multiply by batch too.",
                model=lambda b, h, lq, lk, dtype: h * lq * lk * _size(dtype)),
        Mistake("forgot-heads",
                "you counted one head: each of the n_heads pens has its "
                "own (L_q, L_k) weight matrix.",
                model=lambda b, h, lq, lk, dtype: b * lq * lk * _size(dtype)),
        Mistake("scores-and-weights",
                "you counted two matrices, the scores and the weights. "
                "Both are alive for a moment (the chapter measured that), "
                "but the exercise asks for the bytes of the weights "
                "alone.",
                model=lambda b, h, lq, lk, dtype: (2 * b * h * lq * lk
                                                   * _size(dtype))),
        Mistake("square",
                "you counted an (L, L) matrix with one length for both "
                "sides. The weights have one row per query and one column "
                "per key: L_q * L_k.",
                detect=_square),
    ],
    hints=[
        "The weights have shape (batch, n_heads, L_q, L_k): how many "
        "numbers is that?",
        "Bytes = numbers x bytes per number. The size of one number "
        "depends on the dtype: torch.empty((), dtype=dtype).element_size() "
        "gives 4 for float32, 8 for float64, 2 for float16 and bfloat16.",
        Code("""
            size = torch.empty((), dtype=dtype).element_size()
            return batch * n_heads * L_q * L_k * size
        """),
    ],
)


# ----------------------------------------------------------------- ex-08-4


def _linear(q, k, v, *, phi="elu+1", normalise=True, phi_values=False,
            broadcast_bug=False):
    """Linear attention with one switch per catalogued mistake; the
    reference when all are off."""
    maps = {"elu+1": lambda x: F.elu(x) + 1, "elu": F.elu,
            "none": lambda x: x, "relu": F.relu,
            "elu(x+1)": lambda x: F.elu(x + 1)}
    fq, fk = maps[phi](q), maps[phi](k)
    if phi_values:
        v = maps[phi](v)
    numerator = fq @ (fk.transpose(-2, -1) @ v)        # (..., L_q, d_v)
    if not normalise:
        return numerator
    if broadcast_bug:  # (..., L_q) against (..., L_q, d_v): the last axes
        return numerator / torch.einsum("...qd,...d->...q", fq,
                                        fk.sum(dim=-2))
    return numerator / (fq @ fk.sum(dim=-2).unsqueeze(-1))


def _linear_cases(rng):
    def case(batch, L_q, L_k, d_k, d_v, dtype=np.float64, note=""):
        return Case({"q": _tensor(rng, *batch, L_q, d_k, dtype=dtype),
                     "k": _tensor(rng, *batch, L_k, d_k, dtype=dtype),
                     "v": _tensor(rng, *batch, L_k, d_v, dtype=dtype)}, note)

    return [
        case((2,), 5, 7, 4, 3, note="L_q different from L_k"),
        case((3,), 6, 6, 8, 6),
        case((2, 3), 4, 9, 3, 5, note="two batch dimensions"),
        case((2,), 8, 8, 4, 4, dtype=np.float32, note="float32"),
        case((), 3, 11, 6, 3, note="no batch dimension"),
    ]


LINEAR = Exercise(
    id="ex-08-4",
    title="Linear attention",
    chapter=8,
    points=3,
    function="linear_attention",
    reference=lambda q, k, v: linear_attention(q, k, v),
    cases=_linear_cases,
    mistakes=[
        Mistake("no-feature-map",
                "you used q and k as they are. Linear attention first maps "
                "them with phi(x) = elu(x) + 1, which makes every entry "
                "positive so that the weights can never be negative.",
                model=lambda q, k, v: _linear(q, k, v, phi="none")),
        Mistake("elu-without-plus-one",
                "your feature map is elu(x), which can be negative; it is "
                "elu(x) + 1 (always positive), so that the normaliser never "
                "comes near 0.",
                model=lambda q, k, v: _linear(q, k, v, phi="elu")),
        Mistake("elu-of-x-plus-one",
                "your feature map is elu(x + 1), which is negative for "
                "x < -1; the map is elu(x) + 1: F.elu(x) + 1, the 1 added "
                "after the elu.",
                model=lambda q, k, v: _linear(q, k, v, phi="elu(x+1)")),
        Mistake("relu-feature-map",
                "your feature map is relu(x). It is zero for every negative "
                "entry, so a query can end up with no weight at all (0 / "
                "0); the exercise asks for phi(x) = elu(x) + 1, which is "
                "always positive.",
                model=lambda q, k, v: _linear(q, k, v, phi="relu")),
        Mistake("no-normaliser",
                "your output is not normalised: divide by "
                "phi(q_i) . sum_j phi(k_j), which makes the weights of "
                "each query sum to 1 (as the softmax did).",
                model=lambda q, k, v: _linear(q, k, v, normalise=False)),
        Mistake("normaliser-broadcast",
                "your normaliser has shape (..., L_q) and the output "
                "(..., L_q, d_v): dividing lines up the normaliser with "
                "the last axis (an error, or a wrong answer when L_q = "
                "d_v). Keep its axis: denominator[..., None], or "
                "phi_q @ z.unsqueeze(-1), is (..., L_q, 1).",
                model=lambda q, k, v: _linear(q, k, v, broadcast_bug=True)),
        Mistake("feature-map-on-values",
                "you applied the feature map to the values too. Only the "
                "queries and keys go through phi; the values are averaged "
                "as they are.",
                model=lambda q, k, v: _linear(q, k, v, phi_values=True)),
        Mistake("softmax-attention",
                "this is ordinary softmax attention. Linear attention "
                "replaces exp(q . k / sqrt(d_k)) with phi(q) . phi(k), "
                "phi(x) = elu(x) + 1, and sums phi(k_j) v_j^T once for all "
                "queries.",
                model=lambda q, k, v: scaled_dot_product_attention(
                    q, k, v)[0]),
    ],
    hints=[
        "Map the queries and keys first: phi_q = F.elu(q) + 1 and "
        "phi_k = F.elu(k) + 1. The values stay as they are.",
        "Sum over the keys once: kv = phi_k.transpose(-2, -1) @ v is "
        "(..., d_k, d_v) and z = phi_k.sum(dim=-2) is (..., d_k). Each "
        "query then needs phi_q @ kv and phi_q @ z, the second with its "
        "last axis kept (unsqueeze(-1)).",
        Code("""
            phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
            kv = phi_k.transpose(-2, -1) @ v        # (..., d_k, d_v)
            z = phi_k.sum(dim=-2)                   # (..., d_k)
            return (phi_q @ kv) / (phi_q @ z.unsqueeze(-1))
        """),
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


# ----------------------------------------------------------------- ex-08-5
# The challenge: attention block by block with an online softmax.

ALL_KEYS = (
    "your function holds scores for all the keys at once (a tensor with "
    "one entry for every key, for some queries or for all of them). Go "
    "through the keys block_size at a time and keep, for each query, only "
    "a running maximum, a running sum and a running output.")


class _Watch(TorchFunctionMode):
    """Notes the first tensor made inside it that has an axis as long as
    the keys (``lengths``), unless it is the keys or the values themselves
    (the same number of entries: a view, a copy, padded or transposed)."""

    def __init__(self, lengths, per_key):
        super().__init__()
        self.lengths = set(lengths)
        self.per_key = set(per_key)    # entries per key of k and v
        self.found = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if self.found is None:
            items = result if isinstance(result, (tuple, list)) else [result]
            for item in items:
                if isinstance(item, torch.Tensor) and self._all_keys(item):
                    self.found = tuple(item.shape)
        return result

    def _all_keys(self, t):
        lengths = [n for n in t.shape if n in self.lengths]
        return bool(lengths) and not any(
            t.numel() == n * per for n in lengths for per in self.per_key)


def _call_blockwise(answer, q, k, v, block_size):
    """Call the answer; where the keys are longer than a block and their
    number is like no other size of the case, watch every tensor it makes
    for one that holds scores for all the keys."""
    n_keys = k.size(-2)
    lengths = range(n_keys, n_keys + block_size)     # padded keys too
    others = set(q.shape) | set(k.shape[:-2]) | {v.size(-1), block_size}
    if n_keys <= block_size or others & set(lengths):
        return answer(q, k, v, block_size=block_size)
    per_key = [k[..., :1, :].numel(), v[..., :1, :].numel()]
    watch = _Watch(lengths, per_key)
    with watch:
        result = answer(q, k, v, block_size=block_size)
    if watch.found is not None:
        raise CheckFailure("ex-08-5", ALL_KEYS, "all-keys-at-once")
    return result


def _blocks(k, v, block_size, drop_last=False):
    n_keys = k.size(-2)
    stop = n_keys - n_keys % block_size if drop_last else n_keys
    for start in range(0, stop, block_size):
        yield (k[..., start:start + block_size, :],
               v[..., start:start + block_size, :])


def _online(q, k, v, block_size, *, subtract_max=True, start_max=-math.inf,
            update_max=True, rescale_sum=True, rescale_out=True,
            inverted=False, scale=None, drop_last=False, shared_max=False,
            own_max=False):
    """Block-wise attention with an online softmax, one switch per
    catalogued mistake; full attention when all are off."""
    scale = math.sqrt(q.size(-1)) if scale is None else scale
    top = torch.full((*q.shape[:-1], 1), start_max, dtype=q.dtype)
    total = torch.zeros_like(top)                       # (..., L_q, 1)
    out = torch.zeros(*q.shape[:-1], v.size(-1), dtype=q.dtype)
    first = True
    for k_block, v_block in _blocks(k, v, block_size, drop_last):
        scores = q @ k_block.transpose(-2, -1) / scale  # (..., L_q, block)
        if not subtract_max:
            new_top = torch.zeros_like(top)
        elif own_max:  # each block against its own maximum, never rescaled
            new_top = scores.amax(-1, keepdim=True)
        elif shared_max:  # one maximum for every query of every sequence
            new_top = torch.maximum(top, scores.amax()).expand_as(top)
        elif update_max or first:
            new_top = torch.maximum(top, scores.amax(-1, keepdim=True))
        else:
            new_top = top
        factor = torch.exp(top - new_top)               # 0 on the first block
        if own_max:
            factor = torch.ones_like(top)
        if inverted:  # the first block sets the sums, the others rescale
            factor = 0 * new_top if first else torch.exp(new_top - top)
        weights = torch.exp(scores - new_top)           # (..., L_q, block)
        total = (total * factor if rescale_sum else total) + weights.sum(
            -1, keepdim=True)
        out = (out * factor if rescale_out else out) + weights @ v_block
        top, first = new_top, False
    return out / total                                  # (..., L_q, d_v)


def _block_average(q, k, v, block_size):
    """Each block's softmax on its own, the block outputs averaged."""
    outputs = [scaled_dot_product_attention(q, k_block, v_block)[0]
               for k_block, v_block in _blocks(k, v, block_size)]
    return torch.stack(outputs).mean(dim=0)


def _spread_case(rng, L_q, L_k, d_v, block, low, high, factors, order,
                 dtype, note):
    """Scores that are whole numbers from ``low`` to ``high`` (times a
    power of two per query), exact in float32: query i has q_i = (c_i, 0,
    0, 0) and key j has first entry 2 t_j, so with d_k = 4 the score is
    c_i t_j."""
    t = np.sort(rng.choice(np.arange(low, high + 1), L_k, replace=False))
    if order == "mixed":
        t = rng.permutation(t)
    q = np.zeros((L_q, 4))
    q[:, 0] = [factors[i % len(factors)] for i in range(L_q)]
    k = rng.normal(size=(L_k, 4))
    k[:, 0] = 2 * t
    v = rng.normal(size=(L_k, d_v))
    return Case({"q": torch.from_numpy(q.astype(dtype)),
                 "k": torch.from_numpy(k.astype(dtype)),
                 "v": torch.from_numpy(v.astype(dtype)),
                 "block_size": block}, note)


def _blockwise_cases(rng):
    def case(batch, L_q, L_k, d_k, d_v, block, dtype=np.float64, note=""):
        return Case({"q": _tensor(rng, *batch, L_q, d_k, dtype=dtype),
                     "k": _tensor(rng, *batch, L_k, d_k, dtype=dtype),
                     "v": _tensor(rng, *batch, L_k, d_v, dtype=dtype),
                     "block_size": block}, note)

    f32, f64 = np.float32, np.float64
    return [
        case((2,), 5, 23, 4, 3, 4, note="the last block holds 3 keys"),
        case((3,), 6, 16, 8, 8, 4, dtype=f32, note="float32, 4 full blocks"),
        case((2, 2), 4, 10, 4, 5, 32, note="one block: block_size > L_k"),
        case((), 3, 7, 6, 2, 1, note="block_size=1: one key at a time"),
        case((2,), 13, 211, 5, 3, 8,
             note="211 keys: the check watches the tensors you make"),
        _spread_case(rng, 4, 24, 3, 5, -1000, 1000, [1, 2, -1, 0.5],
                     "rising", f32, "float32, scores from -2000 to 2000, "
                     "larger in later blocks"),
        _spread_case(rng, 3, 18, 3, 4, -100, 100, [1, 0.5, -1], "rising",
                     f32, "float32, scores from -100 to 100, larger in "
                     "later blocks"),
        _spread_case(rng, 4, 20, 2, 6, -1000, 1000, [1, -1, 2, 0.5],
                     "mixed", f64, "float64, scores from -2000 to 2000"),
        _spread_case(rng, 3, 12, 3, 5, -1000, -900, [1, 2, 1.5], "mixed",
                     f32, "float32, every score near -1000"),
        _spread_case(rng, 3, 12, 3, 5, -800, -750, [1, 2], "mixed", f64,
                     "float64, every score below -750"),
        _spread_case(rng, 3, 12, 3, 5, 700, 800, [1, 2], "mixed", f64,
                     "float64, every score above 700"),
    ]


class BlockwiseExercise(Exercise):
    """An exercise whose stability mistakes give NaN or infinity: an
    answer behaves like such a mistake when it is not finite exactly
    where the mistake is not (NaN and infinity alike), and equal to it
    everywhere else."""

    def _same(self, result, model_result, case, tolerance=None):
        if super()._same(result, model_result, case, tolerance):
            return True
        try:
            a, b = as_array(result), as_array(model_result)
        except Exception:  # not numbers: not like the model
            return False
        if a.shape != b.shape or a.dtype.kind != "f":
            return False
        broken_a, broken_b = ~np.isfinite(a), ~np.isfinite(b)
        if not broken_b.any() or not np.array_equal(broken_a, broken_b):
            return False
        tol = tolerance or self.tolerance
        return bool(np.allclose(a[~broken_a], b[~broken_b], rtol=tol.rtol,
                                atol=tol.atol))


BLOCKWISE = BlockwiseExercise(
    id="ex-08-5",
    title="Challenge: attention block by block",
    chapter=8,
    points=4,
    function="blockwise_attention",
    reference=lambda q, k, v, block_size: scaled_dot_product_attention(
        q, k, v)[0],
    cases=_blockwise_cases,
    call=_call_blockwise,
    keywords=("block_size",),
    mistakes=[
        Mistake("all-keys-at-once", ALL_KEYS),
        Mistake("nan-everywhere",
                "your result is NaN everywhere. The running maximum starts "
                "at -inf, so on the first block anything taken against the "
                "old maximum, such as exp(m_new - m) or exp(scores - m), is "
                "infinite (and 0 x inf is NaN): rescale by exp(m - m_new), "
                "which is 0 there, and take the exponentials against the "
                "new maximum.",
                model=lambda q, k, v, b: torch.full(
                    (*q.shape[:-1], v.size(-1)), math.nan, dtype=q.dtype)),
        Mistake("no-running-max",
                "your result is NaN when the scores are far from 0 (such "
                "as 1000 or -1000): exp(1000) overflows and exp(-1000) is "
                "0. "
                "Subtract a running maximum m before the exponential, as "
                "chapter 1's stable softmax subtracts the largest score.",
                model=lambda q, k, v, b: _online(q, k, v, b,
                                                 subtract_max=False)),
        Mistake("max-starts-at-zero",
                "when every score of a query is far below 0 (such as "
                "-1000) your result is NaN: your running maximum starts at "
                "0, so exp(score - 0) is 0 and you divide 0 by 0. Start it "
                "at -inf (float(\"-inf\")), so that the first block sets "
                "it.",
                model=lambda q, k, v, b: _online(q, k, v, b, start_max=0.0)),
        Mistake("max-never-updated",
                "when a later block holds much larger scores than the "
                "first, your result is NaN: your maximum comes from the "
                "first block and is never raised, so exp(score - m) "
                "overflows. After each block set m_new = max(m, the "
                "block's largest score) and rescale what you summed by "
                "exp(m - m_new).",
                model=lambda q, k, v, b: _online(q, k, v, b,
                                                 update_max=False)),
        Mistake("own-max-per-block",
                "you measured each block's exponentials against that "
                "block's own maximum and added them up as if they shared "
                "one. Keep one running maximum m over the blocks so far; "
                "when a block raises it to m_new, multiply both running "
                "sums by exp(m - m_new) before adding the block's.",
                model=lambda q, k, v, b: _online(q, k, v, b, own_max=True)),
        Mistake("no-rescale",
                "your running maximum moves, but what you summed before it "
                "moved was not rescaled: when the maximum rises from m to "
                "m_new, multiply both the running sum and the running "
                "output by exp(m - m_new).",
                model=lambda q, k, v, b: _online(q, k, v, b,
                                                 rescale_sum=False,
                                                 rescale_out=False)),
        Mistake("sum-not-rescaled",
                "you rescaled the running output by exp(m - m_new) but not "
                "the running sum of the exponentials: both were measured "
                "against the old maximum, so both need the factor.",
                model=lambda q, k, v, b: _online(q, k, v, b,
                                                 rescale_sum=False)),
        Mistake("output-not-rescaled",
                "you rescaled the running sum by exp(m - m_new) but not "
                "the running output: both were measured against the old "
                "maximum, so both need the factor.",
                model=lambda q, k, v, b: _online(q, k, v, b,
                                                 rescale_out=False)),
        Mistake("one-max-for-all",
                "you keep one running maximum for all the queries (and "
                "sequences). A query whose scores all lie far below "
                "another query's maximum gets exp(score - m) = 0 for every "
                "key, and 0 / 0. Keep one maximum per query: "
                "scores.amax(-1, keepdim=True), shaped (..., L_q, 1).",
                model=lambda q, k, v, b: _online(q, k, v, b,
                                                 shared_max=True)),
        Mistake("rescale-upside-down",
                "your rescaling factor is upside down: when the maximum "
                "rises from m to m_new, multiply what you summed by "
                "exp(m - m_new), which is at most 1, not by "
                "exp(m_new - m).",
                model=lambda q, k, v, b: _online(q, k, v, b, inverted=True)),
        Mistake("no-scale",
                "your scores are not divided by sqrt(d_k): divide "
                "q @ k_block.transpose(-2, -1) by math.sqrt(q.size(-1)).",
                model=lambda q, k, v, b: _online(q, k, v, b, scale=1.0)),
        Mistake("drops-last-block",
                "when L_k is not a multiple of block_size you lose the "
                "keys of the last, shorter block: go all the way to L_k, "
                "for start in range(0, L_k, block_size), with "
                "k[..., start:start + block_size, :] (a slice past the end "
                "stops at L_k).",
                model=lambda q, k, v, b: _online(q, k, v, b,
                                                 drop_last=True)),
        Mistake("averages-blocks",
                "you took the softmax of each block on its own and "
                "averaged the blocks' outputs. A block's share of the "
                "whole softmax is its sum of exp(score - m), not 1 / (the "
                "number of blocks): keep unnormalised running sums and "
                "divide once, at the end.",
                model=_block_average),
    ],
    hints=[
        "Start from chapter 1's stable softmax: the softmax of scores s is "
        "exp(s - m) / sum(exp(s - m)) for any number m, and the largest "
        "score is the m that never overflows. Here the scores come one "
        "block at a time, so m can only be the largest score seen so "
        "far.",
        "Keep three running things for every query: the largest score so "
        "far, m, shaped (..., L_q, 1); the sum of exp(score - m), also "
        "(..., L_q, 1); and the sum of exp(score - m) times the values, "
        "(..., L_q, d_v). Start them at -inf, 0 and 0. At the end, the "
        "output is the third divided by the second.",
        "For each block: scores = q @ k_block.transpose(-2, -1) / "
        "math.sqrt(d_k); m_new = torch.maximum(m, scores.amax(-1, "
        "keepdim=True)). What you summed so far was measured against m: "
        "multiply both sums by exp(m - m_new), then add the block's "
        "exp(scores - m_new) and exp(scores - m_new) @ v_block.",
        Code("""
            d_k, d_v = q.size(-1), v.size(-1)
            m = torch.full((*q.shape[:-1], 1), -math.inf, dtype=q.dtype)
            total = torch.zeros_like(m)                     # (..., L_q, 1)
            out = torch.zeros(*q.shape[:-1], d_v, dtype=q.dtype)
            for start in range(0, k.size(-2), block_size):
                k_block = k[..., start:start + block_size, :]
                v_block = v[..., start:start + block_size, :]
                # (..., L_q, block)
                scores = q @ k_block.transpose(-2, -1) / math.sqrt(d_k)
                m_new = torch.maximum(m, scores.amax(-1, keepdim=True))
                factor = torch.exp(m - m_new)       # rescales the sums so far
                weights = torch.exp(scores - m_new)
                total = total * factor + weights.sum(-1, keepdim=True)
                out = out * factor + weights @ v_block
                m = m_new
            return out / total                      # (..., L_q, d_v)
        """),
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


EXERCISES = [SLIDING_WINDOW, KV_CACHE_STEP, BYTES, LINEAR, BLOCKWISE]
