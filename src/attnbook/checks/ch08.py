"""Checks for chapter 8, attention at scale (PyTorch).

Each exercise lists its known mistakes beside its hints; ``tests/test_checks_ch08.py``
holds one learner-style wrong answer per mistake and proves it is named.
"""

import math
import re

import numpy as np
import torch
import torch.nn.functional as F

from ..attention import scaled_dot_product_attention
from ..kv_cache import kv_cache_step
from ..long_context import linear_attention, sliding_window_mask
from ..scaling import attention_weights_bytes
from .core import Case, CheckFailure, Exercise, Mistake, Tolerance, is_tensor


def _tensor(rng, *shape, dtype=np.float64, scale=1.0):
    return torch.from_numpy((rng.normal(size=shape) * scale).astype(dtype))


# --------------------------------------------------------------------------- ex-08-1


def _band(n, window, *, lo=0, hi=None, both_ways=False, future=False, inverted=False):
    """A band mask with one switch per catalogued mistake; the reference when all are off.
    Query i may see key j when lo <= i - j < hi (hi defaults to window)."""
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    offset = i - j                                                # (n, n): how far back key j is
    if future:
        offset = -offset
    hi = window if hi is None else hi
    allowed = (offset.abs() < hi) if both_ways else ((offset >= lo) & (offset < hi))
    return ~allowed if inverted else allowed


NOT_BOOLEAN = ("your mask is not boolean. Return a torch.bool tensor (True = may attend), for example "
               "the result of a comparison such as (j <= i) & (i - j < window); 0/1 numbers would be "
               "read as scores, not as a mask.")


def _call_mask(answer, n, window):
    result = answer(n, window)
    if is_tensor(result) and result.dtype != torch.bool:
        raise CheckFailure("ex-08-1", NOT_BOOLEAN, "not-boolean")
    return result.double() if is_tensor(result) else result     # compared as 0/1 numbers


def _mask_cases(rng):
    n = int(rng.integers(9, 14))
    return [
        Case({"n": n, "window": int(rng.integers(3, 5))}, "a window shorter than the sequence"),
        Case({"n": 12, "window": 5}),
        Case({"n": 6, "window": 1}, "window=1: each word sees only itself"),
        Case({"n": 5, "window": 8}, "a window longer than the sequence: the causal mask"),
        Case({"n": 7, "window": 7}, "window = n"),
        Case({"n": 1, "window": 3}, "a single word"),
    ]


SLIDING_WINDOW = Exercise(
    id="ex-08-1",
    title="The sliding-window mask",
    chapter=8,
    points=2,
    function="sliding_window_mask",
    reference=lambda n, window: sliding_window_mask(n, window).double(),
    call=_call_mask,
    cases=_mask_cases,
    mistakes=[
        Mistake("not-boolean", NOT_BOOLEAN),
        Mistake("window-too-wide",
                "each word sees one word too many: the window counts the word itself, so query i may look "
                "at keys i - window + 1, ..., i, which is i - j < window (not <=).",
                model=lambda n, w: _band(n, w, hi=w + 1).double()),
        Mistake("window-too-narrow",
                "each word sees one word too few: with window = 3 a word sees itself and the 2 words before "
                "it, so the condition is i - j < window (not i - j < window - 1).",
                model=lambda n, w: _band(n, w, hi=w - 1).double()),
        Mistake("looks-ahead",
                "your window looks ahead: word i may also see words after it. A decoder's window is causal: "
                "keep only keys j <= i (and i - j < window).",
                model=lambda n, w: _band(n, w, both_ways=True).double()),
        Mistake("future-window",
                "your window is on the wrong side of the diagonal: word i sees the words after it, not "
                "before it. Query i is row i, key j is column j; allow j <= i and i - j < window.",
                model=lambda n, w: _band(n, w, future=True).double()),
        Mistake("excludes-itself",
                "no word may look at itself (the diagonal is False). The window holds the word itself and "
                "the window - 1 words before it: 0 <= i - j < window.",
                model=lambda n, w: _band(n, w, lo=1, hi=w + 1).double()),
        Mistake("inverted",
                "your mask is inverted: it is True where attention is blocked. In this book (and in PyTorch) "
                "True means 'may attend'.",
                model=lambda n, w: _band(n, w, inverted=True).double()),
    ],
    hints=[
        "Make the positions as a column and a row: i = torch.arange(n)[:, None] (queries), "
        "j = torch.arange(n)[None, :] (keys). Comparisons between them broadcast to (n, n).",
        "Key j is i - j words back from query i. It is allowed when it is not in the future (j <= i) "
        "and not too far back: the window counts the word itself, so i - j < window.",
        "i = torch.arange(n)[:, None]; j = torch.arange(n)[None, :]; return (j <= i) & (i - j < window)",
    ],
)


# --------------------------------------------------------------------------- ex-08-2


def _step(q, k, v, cache_k, cache_v, *, include_new=True, append=True, new_first=False, scale=None):
    """A KV-cache step with one switch per catalogued mistake; the reference when all are off."""
    grown_k = torch.cat([k, cache_k] if new_first else [cache_k, k], dim=-2)
    grown_v = torch.cat([v, cache_v] if new_first else [cache_v, v], dim=-2)
    keys, values = (grown_k, grown_v) if include_new else (cache_k, cache_v)
    scores = q @ keys.transpose(-2, -1) / (math.sqrt(q.size(-1)) if scale is None else scale)
    output = torch.softmax(scores, dim=-1) @ values
    return (output, grown_k, grown_v) if append else (output, cache_k, cache_v)


_AXES = {0: "batch", 1: "heads", 3: "feature"}
_AXIS_MESSAGES = {
    "batch": "you concatenated along axis 0, the batch axis, as if there were no batch. The caches are "
             "(batch, heads, P, d_head): the tokens line up along the sequence axis, dim=-2.",
    "heads": "you concatenated along axis 1, the heads axis. The caches are (batch, heads, P, d_head): "
             "a new token adds a row along the sequence axis, dim=-2 (or dim=2).",
    "feature": "you concatenated along the last axis, the features. A new token does not make the keys "
               "longer vectors; it adds one more key: concatenate along the sequence axis, dim=-2.",
}


def _call_step(answer, q, k, v, cache_k, cache_v):
    try:
        return answer(q, k, v, cache_k, cache_v)
    except RuntimeError as exc:
        found = re.search(r"Sizes of tensors must match except in dimension (-?\d+)", str(exc))
        if found:
            axis = _AXES.get(int(found.group(1)) % 4)
            if axis:
                raise CheckFailure("ex-08-2", _AXIS_MESSAGES[axis], f"cat-{axis}-axis") from None
        raise


def _step_cases(rng):
    def case(batch, heads, past, d_k, d_v, dtype=np.float64, note=""):
        return Case({"q": _tensor(rng, batch, heads, 1, d_k, dtype=dtype),
                     "k": _tensor(rng, batch, heads, 1, d_k, dtype=dtype),
                     "v": _tensor(rng, batch, heads, 1, d_v, dtype=dtype),
                     "cache_k": _tensor(rng, batch, heads, past, d_k, dtype=dtype),
                     "cache_v": _tensor(rng, batch, heads, past, d_v, dtype=dtype)}, note)

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
    mistakes=[
        Mistake("cat-batch-axis", _AXIS_MESSAGES["batch"]),
        Mistake("cat-heads-axis", _AXIS_MESSAGES["heads"]),
        Mistake("cat-feature-axis", _AXIS_MESSAGES["feature"]),
        Mistake("cache-without-self",
                "the new query looked only at the cache, not at its own key: append k and v to the caches "
                "first, then attend over the grown caches (a word may highlight itself).",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv, include_new=False)),
        Mistake("not-appended",
                "your output is right, but the caches you returned do not hold the new key and value: "
                "return the grown caches, or the next step forgets this token.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv, append=False)),
        Mistake("new-first",
                "you put the new key and value in front of the cache. The cache keeps the tokens in order: "
                "torch.cat([cache_k, k], dim=-2), the newest last.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv, new_first=True)),
        Mistake("no-scale",
                "your scores are not divided by sqrt(d_k): divide q @ keys.transpose(-2, -1) by "
                "math.sqrt(q.size(-1)) before the softmax.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv, scale=1.0)),
        Mistake("swapped-return",
                "return (output, cache_k, cache_v), in that order.",
                model=lambda q, k, v, ck, cv: _step(q, k, v, ck, cv)[::-1]),
    ],
    hints=[
        "The caches are (batch, heads, P, d) and the new k, v are (batch, heads, 1, d). The tokens line up "
        "along the sequence axis, dim=-2: torch.cat([cache_k, k], dim=-2) is (batch, heads, P + 1, d).",
        "Grow both caches first, then attend: the new query must see every old key and its own key. "
        "With a single new query no mask is needed.",
        "cache_k = torch.cat([cache_k, k], dim=-2); cache_v = torch.cat([cache_v, v], dim=-2); "
        "weights = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1); "
        "return weights @ cache_v, cache_k, cache_v",
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


# --------------------------------------------------------------------------- ex-08-3


def _bytes_cases(rng):
    def case(batch, heads, L_q, L_k, dtype, note=""):
        return Case({"batch": batch, "n_heads": heads, "L_q": L_q, "L_k": L_k, "dtype": dtype}, note)

    return [
        case(int(rng.integers(3, 9)), int(rng.choice([5, 6, 12])), int(rng.integers(100, 400)),
             int(rng.integers(500, 900)), torch.float32, "float32, L_q different from L_k"),
        case(3, 5, 1024, 1024, torch.float64, "float64: 8 bytes a number"),
        case(6, 7, 37, 2048, torch.float16, "float16: 2 bytes a number"),
        case(1, 16, 4096, 4096, torch.bfloat16, "bfloat16, one sequence"),
        case(5, 1, 1, 300, torch.float32, "one head, one query"),
    ]


def _size(dtype):
    return torch.empty((), dtype=dtype).element_size()


def _square(result, case):
    a = case.args
    value = float(np.asarray(result, dtype=float))
    return any(math.isclose(value, a["batch"] * a["n_heads"] * n * n * _size(a["dtype"]), rel_tol=1e-6)
               for n in (a["L_q"], a["L_k"]))


BYTES = Exercise(
    id="ex-08-3",
    title="Counting the bytes of the weights",
    chapter=8,
    points=2,
    function="attention_weights_bytes",
    reference=attention_weights_bytes,
    cases=_bytes_cases,
    mistakes=[
        Mistake("numbers-not-bytes",
                "you counted the numbers in the weight matrix, not the bytes: multiply by the size of one "
                "number, torch.empty((), dtype=dtype).element_size() (4 bytes for float32).",
                model=lambda b, h, lq, lk, dtype: b * h * lq * lk),
        Mistake("always-4-bytes",
                "you used 4 bytes a number whatever the dtype. That is float32; float64 takes 8 and float16 "
                "takes 2: ask the dtype, torch.empty((), dtype=dtype).element_size().",
                model=lambda b, h, lq, lk, dtype: b * h * lq * lk * 4),
        Mistake("bits-not-bytes",
                "you counted bits, not bytes: a float32 is 32 bits but 4 bytes. Divide by 8, or use "
                "element_size(), which is already in bytes.",
                model=lambda b, h, lq, lk, dtype: b * h * lq * lk * _size(dtype) * 8),
        Mistake("forgot-batch",
                "you counted one sequence: every sequence in the batch has its own weight matrix, so "
                "multiply by batch too.",
                model=lambda b, h, lq, lk, dtype: h * lq * lk * _size(dtype)),
        Mistake("forgot-heads",
                "you counted one head: each of the n_heads pens has its own (L_q, L_k) weight matrix.",
                model=lambda b, h, lq, lk, dtype: b * lq * lk * _size(dtype)),
        Mistake("square",
                "you counted an (L, L) matrix with one length for both sides. The weights have one row per "
                "query and one column per key: L_q * L_k.",
                detect=_square),
    ],
    hints=[
        "The weights have shape (batch, n_heads, L_q, L_k): how many numbers is that?",
        "Bytes = numbers x bytes per number. The size of one number depends on the dtype: "
        "torch.empty((), dtype=dtype).element_size() gives 4 for float32, 8 for float64, 2 for float16.",
        "return batch * n_heads * L_q * L_k * torch.empty((), dtype=dtype).element_size()",
    ],
    # whole numbers: a correct answer is exact
    tolerance=Tolerance(rtol=1e-9, atol=0.5),
)


# --------------------------------------------------------------------------- ex-08-4


def _linear(q, k, v, *, phi="elu+1", normalise=True, phi_values=False):
    """Linear attention with one switch per catalogued mistake; the reference when all are off."""
    maps = {"elu+1": lambda x: F.elu(x) + 1, "elu": F.elu, "none": lambda x: x}
    fq, fk = maps[phi](q), maps[phi](k)
    if phi_values:
        v = maps[phi](v)
    numerator = fq @ (fk.transpose(-2, -1) @ v)                     # (..., L_q, d_v)
    if not normalise:
        return numerator
    return numerator / (fq @ fk.sum(dim=-2).unsqueeze(-1))          # (..., L_q, d_v)


def _linear_cases(rng):
    def case(batch, L_q, L_k, d_k, d_v, dtype=np.float64, note=""):
        return Case({"q": _tensor(rng, *batch, L_q, d_k, dtype=dtype),
                     "k": _tensor(rng, *batch, L_k, d_k, dtype=dtype),
                     "v": _tensor(rng, *batch, L_k, d_v, dtype=dtype)}, note)

    return [
        case((2,), 5, 7, 4, 3, note="L_q different from L_k"),
        case((3,), 6, 6, 8, 8),
        case((2, 3), 4, 9, 3, 5, note="two batch dimensions"),
        case((2,), 8, 8, 4, 4, dtype=np.float32, note="float32"),
        case((), 3, 11, 6, 2, note="no batch dimension"),
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
                "you used q and k as they are. Linear attention first maps them with phi(x) = elu(x) + 1, "
                "which makes every entry positive so that the weights can never be negative.",
                model=lambda q, k, v: _linear(q, k, v, phi="none")),
        Mistake("elu-without-plus-one",
                "your feature map is elu(x), which can be negative; it is elu(x) + 1 (always positive), "
                "so the normaliser never comes near 0.",
                model=lambda q, k, v: _linear(q, k, v, phi="elu")),
        Mistake("no-normaliser",
                "your output is not normalised: divide by phi(q_i) . sum_j phi(k_j), which makes the "
                "weights of each query sum to 1 (as the softmax did).",
                model=lambda q, k, v: _linear(q, k, v, normalise=False)),
        Mistake("feature-map-on-values",
                "you applied the feature map to the values too. Only the queries and keys go through phi; "
                "the values are averaged as they are.",
                model=lambda q, k, v: _linear(q, k, v, phi_values=True)),
        Mistake("softmax-attention",
                "this is ordinary softmax attention. Linear attention replaces exp(q . k / sqrt(d_k)) with "
                "phi(q) . phi(k), phi(x) = elu(x) + 1, and sums phi(k_j) v_j^T once for all queries.",
                model=lambda q, k, v: scaled_dot_product_attention(q, k, v)[0]),
    ],
    hints=[
        "Map the queries and keys first: phi_q = F.elu(q) + 1 and phi_k = F.elu(k) + 1 (import "
        "torch.nn.functional as F). The values stay as they are.",
        "Sum over the keys once: kv = phi_k.transpose(-2, -1) @ v is (..., d_k, d_v) and z = phi_k.sum(dim=-2) "
        "is (..., d_k). Each query then needs phi_q @ kv and phi_q @ z.",
        "return (phi_q @ kv) / (phi_q @ z.unsqueeze(-1))",
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention"],
)


EXERCISES = [SLIDING_WINDOW, KV_CACHE_STEP, BYTES, LINEAR]
