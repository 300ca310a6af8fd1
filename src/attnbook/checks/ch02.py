"""Checks for chapter 2, similarity and soft lookup (NumPy only).

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch02.py`` holds a learner-style wrong answer for each
mistake and proves it is named, and look-alikes that must not be.

Exercise 5 is the chapter's challenge: additive scoring (Bahdanau, Cho and
Bengio), which the chapter only cites.
"""

import numpy as np

from ..highlighter import softmax
from ..similarity import (cosine_scores, dot_scores, hard_lookup,
                          nadaraya_watson, soft_lookup)
from .core import Case, Code, Exercise, Mistake, Tolerance, matches


def _f(x):
    return np.asarray(x, dtype=np.float64)


def _keys(rng, n_k, d, dtype=np.float64):
    """Random keys of clearly different lengths (0.3 to 3), so that lengths
    matter."""
    directions = rng.normal(size=(n_k, d))
    lengths = rng.uniform(0.3, 3.0, size=(n_k, 1))
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    return (unit * lengths).astype(dtype)


def _queries(rng, n_q, d, dtype=np.float64, scale=2.5):
    shape = (d,) if n_q is None else (n_q, d)
    return (rng.normal(size=shape) * scale / np.sqrt(d)).astype(dtype)


# ------------------------------------------------------------------ ex-02-1


def _normalise(x, how):
    """Divide ``x`` by a norm: the right one ("row") or one of the
    learners' wrong ones."""
    x = _f(x)
    if how == "none":
        return x
    if how == "row":
        return x / np.linalg.norm(x, axis=-1, keepdims=True)
    if how == "column":
        return x / np.linalg.norm(x, axis=0)
    if how == "whole":
        return x / np.linalg.norm(x)
    if how == "squared":
        return x / np.sum(x**2, axis=-1, keepdims=True)
    if how == "no-keepdims":
        return x / np.linalg.norm(x, axis=-1)
    raise ValueError(how)


def _cosine_variants(wrong):
    """A detector: the result equals q' @ k'.T for some pair of
    normalisations involving ``wrong``."""
    kinds = ["row", "none", wrong]

    def detect(result, case):
        q, k = case.args["query"], case.args["keys"]
        for a in kinds:
            for b in kinds:
                if wrong not in (a, b):
                    continue
                try:
                    scores = _normalise(q, a) @ _normalise(k, b).T
                except ValueError:  # shapes that do not fit: not this one
                    continue
                if matches(result, scores, Tolerance()):
                    return True
        return False

    return detect


def _cosine_cases(rng):
    def case(n_q, n_k, d, dtype=np.float64, note=""):
        return Case({"query": _queries(rng, n_q, d, dtype),
                     "keys": _keys(rng, n_k, d, dtype)}, note)

    return [
        case(None, 5, 3, note="one query"),
        case(3, 6, 4, note="a batch of 3 queries"),
        case(5, 3, 2, note="more queries than keys"),
        case(2, 4, 5, np.float32, note="float32 inputs"),
        case(None, 7, 2, note="one query, 2-D vectors"),
        case(None, 4, 4, note="one query, as many keys as features"),
    ]


COSINE_SCORES = Exercise(
    id="ex-02-1",
    title="Cosine scores",
    chapter=2,
    points=2,
    function="cosine_scores",
    reference=cosine_scores,
    cases=_cosine_cases,
    mistakes=[
        Mistake("dot-product",
                "you returned plain dot products: neither the query nor the "
                "keys were divided by their lengths. Cosine is the dot "
                "product of unit vectors: divide each by its norm first.",
                model=lambda q, k: _f(q) @ _f(k).T),
        Mistake("keys-not-normalised",
                "you divided the query by its length but not the keys, so "
                "long keys still win. Divide every key (every row of keys) "
                "by its own norm too.",
                model=lambda q, k: _normalise(q, "row") @ _f(k).T),
        Mistake("query-not-normalised",
                "you divided the keys by their lengths but not the query: "
                "your scores are the cosines times the query's length, so "
                "they can leave [-1, 1]. Divide the query by its norm too.",
                model=lambda q, k: _f(q) @ _normalise(k, "row").T),
        Mistake("norm-without-keepdims",
                "you divided by np.linalg.norm(x, axis=-1) without "
                "keepdims=True: its shape (n,) lines up with the features "
                "(the columns), not with the vectors (the rows), or does "
                "not fit at all. Keep the axis: keepdims=True.",
                model=lambda q, k: (_normalise(q, "no-keepdims")
                                    @ _normalise(k, "no-keepdims").T)),
        Mistake("norm-over-wrong-axis",
                "you took norms down the columns (axis=0): that divides "
                "each feature, not each vector. Each row is one vector: "
                "use np.linalg.norm(x, axis=-1, keepdims=True).",
                detect=_cosine_variants("column")),
        Mistake("norm-of-whole-array",
                "you divided by the norm of the whole matrix "
                "(np.linalg.norm without axis=), one number for all the "
                "keys. Each key needs its own norm: np.linalg.norm(keys, "
                "axis=-1, keepdims=True).",
                detect=_cosine_variants("whole")),
        Mistake("squared-norm",
                "you divided by the squared lengths (the sums of squares); "
                "the norm is their square root, np.linalg.norm(x, axis=-1, "
                "keepdims=True).",
                detect=_cosine_variants("squared")),
        Mistake("keys-times-queries",
                "your scores come out as (n_k, n_q), one row per key. Put "
                "the queries first: one row per query, one column per key, "
                "unit_query @ unit_keys.T.",
                model=lambda q, k: (_normalise(k, "row")
                                    @ _normalise(q, "row").T)),
    ],
    hints=[
        "Cosine similarity is the dot product of two vectors of length 1: "
        "first make every vector unit length, then take plain dot products "
        "(query @ keys.T).",
        "np.linalg.norm(x, axis=-1, keepdims=True) gives one norm per row, "
        "shaped to divide x row by row; it works for the query (d,) and "
        "for a batch (n_q, d) alike.",
        Code("""
            query = np.asarray(query, dtype=float)
            keys = np.asarray(keys, dtype=float)
            q = query / np.linalg.norm(query, axis=-1, keepdims=True)
            k = keys / np.linalg.norm(keys, axis=-1, keepdims=True)
            return q @ k.T
            """),
    ],
    forbidden=["attnbook.similarity.cosine_scores"],
)


# ------------------------------------------------------------------ ex-02-2


def _lookup(q, k, v, t=1.0, *, axis=-1, score=dot_scores, normalise=True):
    """Soft lookup with one switch per catalogued mistake; the reference
    when all are off."""
    scores = score(_f(q), _f(k)) / t
    weights = softmax(scores, axis=axis) if normalise else np.exp(scores)
    return weights @ _f(v), weights


def _scaled_scores(q, k):
    return dot_scores(q, k) / np.sqrt(np.shape(k)[-1])


def _lookup_cases(rng):
    def case(n_q, n_k, d, d_v, temperature, dtype=np.float64, note=""):
        args = {"query": _queries(rng, n_q, d, dtype),
                "keys": _keys(rng, n_k, d, dtype),
                "values": rng.normal(size=(n_k, d_v)).astype(dtype)}
        if temperature is not None:
            args["temperature"] = temperature
        return Case(args, note)

    return [
        case(None, 5, 3, 2, 1.0, note="one query"),
        case(None, 6, 4, 3, 0.5, note="one query"),
        case(4, 6, 3, 5, 0.5, note="a batch of 4 queries"),
        case(3, 3, 4, 4, 2.0, note="as many queries as keys"),
        case(2, 5, 3, 2, 1.0, np.float32, note="float32 inputs"),
        case(3, 4, 2, 3, None, note="the default temperature"),
        case(5, 2, 3, 3, float(rng.choice([0.25, 4.0])),
             note="more queries than keys"),
    ]


SOFT_LOOKUP = Exercise(
    id="ex-02-2",
    title="Soft lookup with a temperature",
    chapter=2,
    points=3,
    function="soft_lookup",
    reference=lambda q, k, v, temperature=1.0: soft_lookup(
        _f(q), _f(k), _f(v), temperature),
    cases=_lookup_cases,
    keywords=("temperature",),
    outputs=("output", "weights"),
    mistakes=[
        Mistake("softmax-over-queries",
                "your weights sum to 1 down each column, over the queries. "
                "Each query shares its attention among the keys: softmax "
                "over the last axis (axis=-1).",
                model=lambda q, k, v, t=1.0: _lookup(q, k, v, t, axis=0)),
        Mistake("temperature-multiplied",
                "you multiplied the scores by the temperature; divide them "
                "by it, so that a low temperature sharpens the lookup "
                "towards the best key.",
                model=lambda q, k, v, t=1.0: _lookup(q, k, v, 1.0 / t)),
        Mistake("temperature-ignored",
                "the temperature has no effect on your weights: divide the "
                "scores by it before the softmax.",
                model=lambda q, k, v, t=1.0: _lookup(q, k, v, 1.0)),
        Mistake("swapped-return",
                "you returned (weights, output); return (output, weights), "
                "output first.",
                model=lambda q, k, v, t=1.0: _lookup(q, k, v, t)[::-1]),
        Mistake("averaged-keys",
                "your output averages the keys; the keys only decide the "
                "weights. What gets copied out is the values: weights @ "
                "values.",
                model=lambda q, k, v, t=1.0: _lookup(q, k, k, t)),
        Mistake("not-normalised",
                "your weights do not sum to 1: you used np.exp of the "
                "scores directly. Normalise them with a softmax over the "
                "keys.",
                model=lambda q, k, v, t=1.0: _lookup(q, k, v, t,
                                                     normalise=False)),
        Mistake("cosine-scores",
                "you scored with cosine similarity; this lookup uses dot "
                "products, query @ keys.T (so longer keys may win).",
                model=lambda q, k, v, t=1.0: _lookup(q, k, v, t,
                                                     score=cosine_scores)),
        Mistake("scaled-by-sqrt-d",
                "you divided the scores by sqrt(d), as a transformer does "
                "(chapter 3). This lookup divides the dot products by the "
                "temperature only.",
                model=lambda q, k, v, t=1.0: _lookup(q, k, v, t,
                                                     score=_scaled_scores)),
    ],
    hints=[
        "Three steps, as in chapter 1: scores (one per key, for each "
        "query), weights (softmax of scores / temperature over the keys), "
        "output (weights @ values). Return (output, weights).",
        "query @ keys.T has shape (n_k,) for one query and (n_q, n_k) for "
        "a batch; the softmax runs over the last axis in both cases.",
        Code("""
            scores = np.asarray(query) @ np.asarray(keys).T
            weights = softmax(scores / temperature, axis=-1)
            return weights @ np.asarray(values), weights
            """),
    ],
    forbidden=["attnbook.similarity.soft_lookup"],
)


# ------------------------------------------------------------------ ex-02-3


def _kernel_regression(xq, xk, y, width, *, axis=-1, score=None,
                       normalise=True, stable=True, average=None):
    """Nadaraya-Watson with one switch per catalogued mistake; the
    reference when all are off."""
    xq, xk = _f(xq), _f(xk)
    d = xq[..., None] - xk                             # (n_q, n_k)
    scores = -d**2 / (2 * width**2) if score is None else score(d, width)
    if not normalise:
        weights = np.exp(scores)
    elif stable:
        weights = softmax(scores, axis=axis)
    else:
        weights = np.exp(scores) / np.exp(scores).sum(axis=axis,
                                                      keepdims=True)
    return weights @ _f(y if average is None else average), weights


def _kernel_cases(rng):
    def case(n_q, n_k, width, dtype=np.float64, far=False, note=""):
        x_keys = np.sort(rng.uniform(0.0, 5.0, size=n_k))
        y = np.sin(2 * x_keys) + 0.5 * x_keys + rng.normal(0.0, 0.3, n_k)
        x_query = rng.uniform(-0.5, 5.5, size=n_q)
        if far:
            x_query[:2] = [40.0, -35.0]
        return Case({"x_query": x_query.astype(dtype),
                     "x_keys": x_keys.astype(dtype),
                     "y_values": y.astype(dtype), "width": width}, note)

    return [
        case(7, 10, 0.7),
        case(4, 12, 0.3),
        case(9, 5, 1.5, note="more queries than keys"),
        case(6, 8, 0.5, np.float32, note="float32 inputs"),
        case(5, 9, 0.15, far=True,
             note="a small width and queries far from every key"),
        case(4, 6, 0.1, far=True,
             note="queries far on both sides of the keys"),
    ]


def _nw(score=None, **switches):
    return lambda xq, xk, y, w: _kernel_regression(xq, xk, y, w,
                                                   score=score, **switches)


NADARAYA_WATSON = Exercise(
    id="ex-02-3",
    title="Nadaraya-Watson kernel regression",
    chapter=2,
    points=3,
    function="nadaraya_watson",
    reference=nadaraya_watson,
    cases=_kernel_cases,
    outputs=("predictions", "weights"),
    mistakes=[
        Mistake("softmax-over-queries",
                "your weights sum to 1 down each column, over the queries. "
                "Each query's weights must sum to 1 over the keys (the "
                "training points): softmax over the last axis.",
                model=_nw(axis=0)),
        Mistake("width-not-squared",
                "your kernel divides by 2 * width; the Gaussian divides "
                "the squared distance by 2 * width**2.",
                model=_nw(lambda d, s: -d**2 / (2 * s))),
        Mistake("missing-half",
                "your kernel divides by width**2; the Gaussian has a "
                "factor 1/2: -(x - x_i)**2 / (2 * width**2).",
                model=_nw(lambda d, s: -d**2 / s**2)),
        Mistake("multiplied-by-width",
                "you multiplied the squared distances by width**2 (watch "
                "the brackets: -d**2 / 2 * width**2 multiplies; and a "
                "kernel whose parameter is an inverse width, like d2l's "
                "learned w, multiplies too). Here width is sigma, so "
                "divide: -(x - x_i)**2 / (2 * width**2).",
                model=_nw(lambda d, s: -(d * s)**2 / 2)),
        Mistake("distance-not-squared",
                "you used the distance |x - x_i| where the Gaussian kernel "
                "needs the squared distance (x - x_i)**2.",
                model=_nw(lambda d, s: -np.abs(d) / (2 * s**2))),
        Mistake("sign",
                "far points get the largest weights: the score must be "
                "minus the squared distance, so that nearby keys count "
                "most.",
                model=_nw(lambda d, s: d**2 / (2 * s**2))),
        Mistake("width-ignored",
                "the width has no effect: divide the squared distances by "
                "2 * width**2.",
                model=_nw(lambda d, s: -d**2 / 2)),
        Mistake("not-normalised",
                "you used the kernel values themselves as weights; they do "
                "not sum to 1, so the prediction is not an average. Divide "
                "each row by its sum (a softmax of the scores does both).",
                model=_nw(normalise=False)),
        Mistake("underflow",
                "for a query far from every key your weights are NaN: "
                "every kernel value underflowed to 0, and 0/0 is NaN. Turn "
                "the scores into weights with softmax, which subtracts the "
                "largest score first.",
                model=_nw(stable=False)),
        Mistake("averaged-x",
                "your predictions average the x of the keys; the weights "
                "must average the y_values.",
                model=lambda xq, xk, y, w: _kernel_regression(
                    xq, xk, y, w, average=xk)),
        Mistake("swapped-return",
                "you returned (weights, predictions); return (predictions, "
                "weights), predictions first.",
                model=lambda xq, xk, y, w: _kernel_regression(
                    xq, xk, y, w)[::-1]),
    ],
    hints=[
        "One row per query, one column per key: the distances "
        "x_query[:, None] - x_keys have shape (n_q, n_k).",
        "The scores are -(distance**2) / (2 * width**2). softmax(scores, "
        "axis=-1) turns each row into weights (and cannot underflow), and "
        "weights @ y_values gives the predictions.",
        Code("""
            x_query = np.asarray(x_query, dtype=float)
            distance = x_query[:, None] - np.asarray(x_keys)  # (n_q, n_k)
            weights = softmax(-distance**2 / (2 * width**2), axis=-1)
            return weights @ np.asarray(y_values), weights
            """),
    ],
    forbidden=["attnbook.similarity.nadaraya_watson",
               "attnbook.similarity.gaussian_kernel_weights"],
)


# ------------------------------------------------------------------ ex-02-4


def _hard_cases(rng):
    def case(n_q, n_k, d, d_v, dtype=np.float64, note=""):
        return Case({"query": _queries(rng, n_q, d, dtype),
                     "keys": _keys(rng, n_k, d, dtype),
                     "values": rng.normal(size=(n_k, d_v)).astype(dtype)},
                    note)

    # a short key that points the query's way, and a long one that does
    # not: dot product and cosine disagree
    angle = rng.uniform(0, 2 * np.pi)
    turn = np.array([[np.cos(angle), -np.sin(angle)],
                     [np.sin(angle), np.cos(angle)]])
    keys = np.array([[0.9, 0.1], [3.0, 2.5], [-1.0, 0.5],
                     [0.2, -1.5]]) @ turn.T
    query = np.array([1.0, 0.0]) @ turn.T
    order = rng.permutation(4)
    long_wins = Case({"query": query, "keys": keys[order],
                      "values": rng.normal(size=(4, 3))},
                     "a long key and a well-aligned short key")
    return [
        case(None, 5, 3, 2, note="one query"),
        long_wins,
        case(3, 6, 4, 3, note="a batch of 3 queries"),
        case(4, 4, 2, 5, np.float32, note="float32 inputs"),
        case(2, 7, 5, 1, note="values of size 1"),
    ]


def _flat_argmax(q, k, v):
    best = np.argmax(dot_scores(_f(q), _f(k)))
    return _f(v)[best]


HARD_LOOKUP = Exercise(
    id="ex-02-4",
    title="The hard lookup",
    chapter=2,
    points=2,
    function="hard_lookup",
    reference=lambda q, k, v: hard_lookup(_f(q), _f(k), _f(v)),
    cases=_hard_cases,
    mistakes=[
        Mistake("returned-key",
                "you returned the best key itself; a lookup returns the "
                "value stored under it: values[best].",
                model=lambda q, k, v: hard_lookup(_f(q), _f(k), _f(k))),
        Mistake("returned-index",
                "you returned the position of the best key; return the "
                "value at that position, values[best].",
                model=lambda q, k, v: np.argmax(dot_scores(_f(q), _f(k)),
                                                axis=-1)),
        Mistake("most-dissimilar",
                "you picked the key with the lowest score (argmin); the "
                "lookup wants the best match, np.argmax.",
                model=lambda q, k, v: _f(v)[np.argmin(
                    dot_scores(_f(q), _f(k)), axis=-1)]),
        Mistake("argmax-over-queries",
                "you took the argmax down the columns, over the queries. "
                "For each query, pick the best key: np.argmax(scores, "
                "axis=-1).",
                model=lambda q, k, v: _f(v)[np.argmax(
                    dot_scores(_f(q), _f(k)), axis=0)]),
        Mistake("argmax-without-axis",
                "for a batch of queries you picked one value (or an index "
                "past the end): np.argmax without axis= looks at the whole "
                "score matrix at once. Pick the best key in each row: "
                "np.argmax(scores, axis=-1).",
                model=_flat_argmax),
        Mistake("cosine",
                "you picked the key with the best cosine; this lookup "
                "scores with the dot product, where a long key can beat a "
                "better-aligned short one.",
                model=lambda q, k, v: hard_lookup(_f(q), _f(k), _f(v),
                                                  score=cosine_scores)),
        Mistake("soft-average",
                "you returned a soft average of the values (a softmax at "
                "temperature 1). The hard lookup takes the value of the "
                "single best key, no mixing.",
                model=lambda q, k, v: soft_lookup(_f(q), _f(k), _f(v))[0]),
    ],
    hints=[
        "Score every key with the dot product, as in soft_lookup, then "
        "keep only the best one.",
        "np.argmax(scores, axis=-1) gives the index of the best key: one "
        "number for one query, one per row for a batch. Indexing values "
        "with it picks the rows.",
        Code("""
            scores = np.asarray(query) @ np.asarray(keys).T
            best = np.argmax(scores, axis=-1)  # () or (n_q,)
            return np.asarray(values)[best]
            """),
    ],
    forbidden=["attnbook.similarity.hard_lookup"],
)


# ----------------------------------------------------- ex-02-5 (challenge)


def _additive(query, keys, w_q, w_k, v, *, q_proj=None, k_proj=None,
              combine=None, tanh=True):
    """Additive (Bahdanau) scores, with switches for the catalogued
    mistakes; the reference when all are off."""
    q = _f(query) @ _f(w_q) if q_proj is None else q_proj  # (h,), (n_q, h)
    k = _f(keys) @ _f(w_k) if k_proj is None else k_proj   # (n_k, h)
    both = q[..., None, :] + k if combine is None else combine(q, k)
    return (np.tanh(both) if tanh else both) @ _f(v)


def _additive_cases(rng):
    def case(n_q, n_k, d_q, d_k, h, dtype=np.float64, note=""):
        shape = (d_q,) if n_q is None else (n_q, d_q)
        args = {"query": rng.normal(size=shape),
                "keys": rng.normal(size=(n_k, d_k)),
                "w_q": rng.normal(size=(d_q, h)) / np.sqrt(d_q),
                "w_k": rng.normal(size=(d_k, h)) / np.sqrt(d_k),
                "v": rng.normal(size=h)}
        return Case({name: a.astype(dtype) for name, a in args.items()},
                    note)

    return [
        case(None, 6, 3, 4, 5, note="one query"),
        case(4, 6, 3, 5, 7, note="a batch of 4 queries"),
        case(5, 5, 2, 3, 4, note="as many queries as keys"),
        case(3, 5, 4, 4, 4, note="queries, keys and hidden size all 4"),
        case(None, 4, 3, 3, 6, np.float32, note="float32 inputs"),
        case(2, 3, 2, 5, 1, note="a hidden size of 1"),
    ]


def _transposed(query, keys, w_q, w_k, v):
    scores = _additive(query, keys, w_q, w_k, v)
    return scores.T


ADDITIVE_SCORES = Exercise(
    id="ex-02-5",
    title="Challenge: additive scores",
    chapter=2,
    points=3,
    function="additive_scores",
    reference=_additive,
    cases=_additive_cases,
    mistakes=[
        Mistake("no-tanh",
                "you left out the tanh. Without it the score is a query "
                "part plus a key part, and the query part cancels in the "
                "softmax: apply np.tanh to the sum before multiplying by "
                "v.",
                model=lambda q, k, wq, wk, v: _additive(q, k, wq, wk, v,
                                                        tanh=False)),
        Mistake("tanh-of-each",
                "you applied tanh to the projected query and the projected "
                "keys separately; tanh(a) + tanh(b) again splits into a "
                "query part and a key part. Add first, then tanh: "
                "np.tanh(q + k).",
                model=lambda q, k, wq, wk, v: _additive(
                    q, k, wq, wk, v, q_proj=np.tanh(_f(q) @ _f(wq)),
                    k_proj=np.tanh(_f(k) @ _f(wk)), tanh=False)),
        Mistake("tanh-last",
                "you applied tanh after multiplying by v. The score is "
                "v . tanh(q W_q + k W_k): the tanh comes first, on the "
                "h hidden features.",
                model=lambda q, k, wq, wk, v: np.tanh(_additive(
                    q, k, wq, wk, v, tanh=False))),
        Mistake("multiplicative",
                "you multiplied the projected query and key: that is the "
                "multiplicative ('general') score of Luong et al. Additive "
                "attention adds them, takes tanh, then the dot product "
                "with v.",
                model=lambda q, k, wq, wk, v: (_f(q) @ _f(wq))
                @ (_f(k) @ _f(wk)).T),
        Mistake("paired-rows",
                "you added the projected queries and keys row by row, "
                "pairing query i with key i only. Every query needs a "
                "score for every key: add with broadcasting, q[..., None, "
                ":] + k, shape (n_q, n_k, h).",
                model=lambda q, k, wq, wk, v: _additive(
                    q, k, wq, wk, v, combine=lambda a, b: a + b)),
        Mistake("keys-times-queries",
                "your scores come out as (n_k, n_q), one row per key. Put "
                "the queries first: one row per query, one column per "
                "key.",
                model=_transposed),
        Mistake("swapped-projections",
                "the query goes through w_q and the keys through w_k; you "
                "swapped them.",
                model=lambda q, k, wq, wk, v: _additive(q, k, wk, wq, v)),
        Mistake("column-convention",
                "you multiplied w_q @ query (a column vector, as in "
                "nn.Linear); here a query is a row and w_q has shape "
                "(d_q, h): query @ w_q, and keys @ w_k.",
                model=lambda q, k, wq, wk, v: _additive(
                    q, k, _f(wq).T, _f(wk).T, v)),
        Mistake("no-v",
                "you added up the h tanh features without v: the score is "
                "their dot product with v, np.tanh(...) @ v.",
                model=lambda q, k, wq, wk, v: _additive(
                    q, k, wq, wk, np.ones_like(_f(v)))),
        Mistake("softmax-applied",
                "you returned weights (a softmax of the scores); this "
                "exercise asks for the scores themselves, before any "
                "softmax.",
                model=lambda q, k, wq, wk, v: softmax(
                    _additive(q, k, wq, wk, v), axis=-1)),
    ],
    hints=[
        "Project first: query @ w_q has shape (h,) or (n_q, h), keys @ w_k "
        "has shape (n_k, h). Every query meets every key, so you need the "
        "sum of the two for every pair: shape (n_k, h) for one query, "
        "(n_q, n_k, h) for a batch.",
        "q[..., None, :] puts an axis of size 1 before the last one: (1, h) "
        "for one query, (n_q, 1, h) for a batch. Adding k of shape (n_k, h) "
        "then broadcasts to every pair. np.tanh of that, then @ v, gives "
        "one score per pair.",
        Code("""
            q = np.asarray(query) @ w_q  # (h,) or (n_q, h)
            k = np.asarray(keys) @ w_k   # (n_k, h)
            return np.tanh(q[..., None, :] + k) @ v
            """),
    ],
)


EXERCISES = [COSINE_SCORES, SOFT_LOOKUP, NADARAYA_WATSON, HARD_LOOKUP,
             ADDITIVE_SCORES]
