"""Checks for chapter 1, the smart highlighter (NumPy only).

Each exercise lists its known mistakes beside its hints; ``tests/test_checks_ch01.py``
holds one learner-style wrong answer per mistake and proves it is named.
"""

import numpy as np

from ..highlighter import highlighter_layer, softmax, weighted_average
from .core import Case, Exercise, Mistake


def _exp_normalise(x, axis=-1):
    """Softmax without the max-subtraction: the overflow-prone version."""
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _not_normalised(result, case):
    """Weights of the right shape that do not sum to 1 along the last axis."""
    r = np.asarray(result, dtype=float)
    return r.shape == np.shape(case.args["scores"]) and not np.allclose(r.sum(-1), 1)


# --------------------------------------------------------------------------- ex-01-1


def _softmax_t(scores, temperature=1.0):
    return softmax(np.asarray(scores, dtype=np.float64) / temperature, axis=-1)


def _softmax_cases(rng):
    def scores(*shape, scale=2.0):
        return rng.normal(0.0, scale, size=shape)

    return [
        Case({"scores": scores(6), "temperature": 1.0}),
        Case({"scores": scores(5), "temperature": float(rng.choice([0.25, 0.5]))}),
        Case({"scores": scores(4), "temperature": float(rng.choice([2.0, 5.0]))}),
        Case({"scores": scores(4, 4), "temperature": 0.5}),
        Case({"scores": scores(3, 7), "temperature": 1.0}),
        Case({"scores": scores(2, 3, 5).astype(np.float32), "temperature": 2.0}, "float32 scores"),
        Case({"scores": 1000.0 + scores(6), "temperature": 1.0}, "very large scores"),
        Case({"scores": np.stack([1000.0 + scores(5), -1000.0 + scores(5)]), "temperature": 1.0},
             "one row of large scores, one of very negative scores"),
        Case({"scores": scores(2, 5), "temperature": 0.01}, "a tiny temperature"),
    ]


SOFTMAX_T = Exercise(
    id="ex-01-1",
    title="Softmax with temperature",
    chapter=1,
    points=2,
    function="softmax_with_temperature",
    reference=_softmax_t,
    cases=_softmax_cases,
    mistakes=[
        Mistake("overflow",
                "on very large scores your weights are NaN: np.exp overflowed to infinity. "
                "Subtract each row's largest score before np.exp; softmax does not change when "
                "every score in a row moves by the same amount.",
                model=lambda s, t: _exp_normalise(np.asarray(s) / t)),
        Mistake("global-max",
                "a row of very negative scores came out as NaN: you subtracted the maximum of the "
                "whole array, so that row underflowed to 0/0. Subtract each row's own maximum "
                "(x.max(axis=-1, keepdims=True)).",
                model=lambda s, t: _exp_normalise(np.asarray(s) / t - np.max(np.asarray(s) / t))),
        Mistake("temperature-multiplied",
                "you multiplied the scores by the temperature; divide them by it, so that a high "
                "temperature flattens the weights and a low one sharpens them.",
                model=lambda s, t: softmax(np.asarray(s, dtype=float) * t)),
        Mistake("temperature-ignored",
                "the temperature has no effect on your weights: divide the scores by it before "
                "the softmax.",
                model=lambda s, t: softmax(np.asarray(s, dtype=float))),
        Mistake("wrong-axis",
                "your weights sum to 1 down each column (axis 0), not along each row. Normalise "
                "over the last axis: axis=-1 with keepdims=True.",
                model=lambda s, t: softmax(np.asarray(s, dtype=float) / t, axis=0)),
        Mistake("whole-array",
                "your weights sum to 1 over the whole array, not along each row: sum over the last "
                "axis only (axis=-1, keepdims=True).",
                model=lambda s, t: softmax((np.asarray(s, dtype=float) / t).ravel()).reshape(np.shape(s))),
        Mistake("plain-normalisation",
                "you divided the scores by their sum without exponentiating. With negative scores "
                "that gives negative 'weights' (or a division by zero); apply np.exp first.",
                model=lambda s, t: (np.asarray(s) / t) / (np.asarray(s) / t).sum(-1, keepdims=True)),
        Mistake("no-keepdims",
                "the sums were divided along the wrong axis: without keepdims=True, a sum of shape "
                "(n,) lines up with the columns of an (n, n) array. Use .sum(axis=-1, keepdims=True).",
                model=lambda s, t: np.exp(np.asarray(s) / t) / np.exp(np.asarray(s) / t).sum(-1)),
        Mistake("not-normalised",
                "your weights do not sum to 1 along the last axis. Divide the exponentials by "
                "their sum over that axis.",
                detect=_not_normalised),
    ],
    hints=[
        "Divide the scores by the temperature first; everything after that is an ordinary softmax "
        "over the last axis.",
        "Softmax is exp(x) / sum(exp(x)) along axis=-1. For large scores exp overflows: subtract "
        "x.max(axis=-1, keepdims=True) first. It cancels out in the division.",
        "x = np.asarray(scores) / temperature; e = np.exp(x - x.max(axis=-1, keepdims=True)); "
        "return e / e.sum(axis=-1, keepdims=True)",
    ],
)


# --------------------------------------------------------------------------- ex-01-2


def _weighted_average_cases(rng):
    def case(n, d, dtype=np.float64, note=""):
        weights = softmax(rng.normal(size=n)).astype(dtype)
        return Case({"weights": weights, "values": rng.normal(size=(n, d)).astype(dtype)}, note)

    return [case(5, 5, note="as many words as features"), case(4, 3), case(7, 2),
            case(1, 4, note="a single word"), case(6, 3, np.float32, "float32 inputs")]


WEIGHTED_AVERAGE = Exercise(
    id="ex-01-2",
    title="The weighted average",
    chapter=1,
    points=2,
    function="weighted_average",
    reference=lambda w, v: weighted_average(np.asarray(w, float), np.asarray(v, float)),
    cases=_weighted_average_cases,
    mistakes=[
        Mistake("unweighted-mean",
                "you returned the plain mean of the word vectors: the weights were not used. "
                "Multiply each row by its weight before adding.",
                model=lambda w, v: np.asarray(v).mean(axis=0)),
        Mistake("weights-on-features",
                "you multiplied each column (feature) by a weight; each weight belongs to a row "
                "(a word). Use weights[:, None] * values, or weights @ values.",
                model=lambda w, v: (np.asarray(v) * np.asarray(w)[None, :]).sum(axis=0)),
        Mistake("sum-over-features",
                "your result has one number per word: you added along the features. Add the "
                "weighted rows together (axis=0) to get one vector of size d.",
                model=lambda w, v: (np.asarray(w)[:, None] * np.asarray(v)).sum(axis=1)),
        Mistake("mean-not-sum",
                "your result is n times too small: you averaged the weighted rows. The weights "
                "already sum to 1, so just add the weighted rows.",
                model=lambda w, v: (np.asarray(w)[:, None] * np.asarray(v)).mean(axis=0)),
        Mistake("no-sum",
                "you weighted the rows but did not add them up; the output is one vector, "
                "the sum of the weighted rows.",
                model=lambda w, v: np.asarray(w)[:, None] * np.asarray(v)),
    ],
    hints=[
        "The output has one entry per feature (shape (d,)): each entry is "
        "sum_i weights[i] * values[i, j].",
        "weights[:, None] has shape (n, 1), so weights[:, None] * values scales each row by its weight. "
        "Then add the rows.",
        "return weights @ values   # (n,) @ (n, d) -> (d,)",
    ],
)


# --------------------------------------------------------------------------- ex-01-3


def _attention_weights(query, keys, temperature=1.0):
    return softmax((np.asarray(keys, float) @ np.asarray(query, float)) / temperature)


def _query_cases(rng, with_values=False):
    def case(n, d_k, temperature, d_v=None, note="", dtype=np.float64):
        args = {"query": rng.normal(size=d_k).astype(dtype), "keys": rng.normal(size=(n, d_k)).astype(dtype)}
        if with_values:
            args["values"] = rng.normal(size=(n, d_v or d_k)).astype(dtype)
        args["temperature"] = temperature
        return Case(args, note)

    return [case(5, 3, 1.0, d_v=2), case(8, 4, 0.5, d_v=4), case(3, 6, 2.0, d_v=5),
            case(6, 3, 1.0, d_v=3, note="float32 inputs", dtype=np.float32),
            case(4, 2, float(rng.choice([0.25, 4.0])), d_v=3)]


def _cosine_weights(q, k, t):
    q, k = np.asarray(q, float), np.asarray(k, float)
    return softmax((k @ q) / (np.linalg.norm(k, axis=1) * np.linalg.norm(q)) / t)


ATTENTION_WEIGHTS = Exercise(
    id="ex-01-3",
    title="Weights for a query",
    chapter=1,
    points=2,
    function="attention_weights",
    reference=_attention_weights,
    cases=_query_cases,
    mistakes=[
        Mistake("raw-scores",
                "you returned the raw scores: they can be negative and do not sum to 1. Divide "
                "them by the temperature and turn them into weights with a softmax.",
                detect=lambda r, c: any(np.allclose(np.asarray(r, float), c.args["keys"] @ c.args["query"] / t,
                                                    rtol=1e-4, atol=1e-5)
                                        for t in (c.args["temperature"], 1.0))),
        Mistake("negated",
                "the key most similar to the query gets the smallest weight: the scores have "
                "the wrong sign. The score is the dot product query . key, not minus it or a distance.",
                model=lambda q, k, t: _attention_weights(q, k, -t)),
        Mistake("temperature-multiplied",
                "you multiplied the scores by the temperature; divide them by it.",
                model=lambda q, k, t: _attention_weights(q, k, 1.0 / t)),
        Mistake("temperature-ignored",
                "the temperature has no effect on your weights: divide the scores by it before "
                "the softmax.",
                model=lambda q, k, t: _attention_weights(q, k, 1.0)),
        Mistake("cosine",
                "you used cosine similarity; this exercise scores with the plain dot product "
                "keys @ query (chapter 2 compares the two).",
                model=_cosine_weights),
        Mistake("not-normalised",
                "your weights do not sum to 1: normalise with a softmax over the n keys.",
                detect=lambda r, c: np.shape(r) == (len(c.args["keys"]),) and not np.isclose(np.sum(r), 1)),
    ],
    hints=[
        "One score per word: the dot product of the query with that word's key. keys has shape "
        "(n, d), query has shape (d,).",
        "scores = keys @ query gives shape (n,). Divide by the temperature, then apply a softmax.",
        "return softmax_with_temperature(keys @ query, temperature)",
    ],
)


# --------------------------------------------------------------------------- ex-01-4


HIGHLIGHTER_LAYER = Exercise(
    id="ex-01-4",
    title="The highlighter layer",
    chapter=1,
    points=3,
    function="highlighter_layer",
    reference=lambda q, k, v, t: highlighter_layer(np.asarray(q, float), np.asarray(k, float),
                                                   np.asarray(v, float), t),
    cases=lambda rng: _query_cases(rng, with_values=True),
    mistakes=[
        Mistake("swapped-return",
                "you returned (weights, output); return (output, weights), output first.",
                model=lambda q, k, v, t: highlighter_layer(q, k, v, t)[::-1]),
        Mistake("averaged-keys",
                "your output averages the keys; the weights choose how much of each *value* to take. "
                "Use weights @ values.",
                model=lambda q, k, v, t: (lambda w: (w @ np.asarray(k, float), w))(_attention_weights(q, k, t))),
        Mistake("unweighted-output",
                "your output is the plain mean of the values: the weights were not used.",
                model=lambda q, k, v, t: (np.asarray(v, float).mean(0), _attention_weights(q, k, t))),
        Mistake("raw-score-average",
                "your output is weighted by the raw scores, not by the softmax weights.",
                model=lambda q, k, v, t: ((np.asarray(k) @ np.asarray(q)) / t @ np.asarray(v),
                                          _attention_weights(q, k, t))),
        Mistake("temperature-multiplied",
                "you multiplied the scores by the temperature; divide them by it.",
                model=lambda q, k, v, t: highlighter_layer(q, k, v, 1.0 / t)),
        Mistake("temperature-ignored",
                "the temperature has no effect: divide the scores by it before the softmax.",
                model=lambda q, k, v, t: highlighter_layer(q, k, v, 1.0)),
        Mistake("negated",
                "the word most similar to the query gets the smallest weight: the scores have "
                "the wrong sign.",
                model=lambda q, k, v, t: highlighter_layer(q, k, v, -t)),
    ],
    hints=[
        "Three steps: scores from the query and the keys, weights from the scores, output from "
        "the weights and the values. Return both: (output, weights).",
        "You have written each step already: attention_weights(query, keys, temperature) and "
        "weighted_average(weights, values).",
        "weights = attention_weights(query, keys, temperature); "
        "return weighted_average(weights, values), weights",
    ],
)


EXERCISES = [SOFTMAX_T, WEIGHTED_AVERAGE, ATTENTION_WEIGHTS, HIGHLIGHTER_LAYER]
