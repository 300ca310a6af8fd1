"""Checks for chapter 1, the smart highlighter (NumPy only).

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch01.py`` holds a learner-style wrong answer for each
mistake and proves it is named, and look-alikes that must not be.

Exercises 5 and 6 are the chapter's challenge: the entropy of the weights
(how spread out the highlighter is) and the temperature that gives a chosen
entropy. The chapter prints neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..highlighter import highlighter_layer, softmax, weighted_average
from .core import (Case, Code, Exercise, Mistake, Tolerance, format_number,
                   python_number)


def _f(x):
    return np.asarray(x, dtype=np.float64)


def _exp_normalise(x, axis=-1):
    """Softmax without the max-subtraction: the overflow-prone version."""
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _not_normalised(result, case):
    """Weights of the right shape that do not sum to 1 along the last
    axis."""
    r = _f(result)
    return (r.shape == np.shape(case.args["scores"])
            and not np.allclose(r.sum(-1), 1))


# ------------------------------------------------------------------ ex-01-1


def _softmax_t(scores, temperature=1.0):
    return softmax(_f(scores) / temperature, axis=-1)


def _softmax_cases(rng):
    def scores(*shape, scale=2.0):
        return rng.normal(0.0, scale, size=shape)

    spread = rng.permutation(np.linspace(-1000.0, 1000.0, 6))
    return [
        Case({"scores": scores(6), "temperature": 1.0}),
        Case({"scores": scores(5),
              "temperature": float(rng.choice([0.25, 0.5]))}),
        Case({"scores": scores(4),
              "temperature": float(rng.choice([2.0, 5.0]))}),
        Case({"scores": scores(5)}, "the default temperature"),
        Case({"scores": scores(4, 4), "temperature": 0.5},
             "as many rows as columns"),
        Case({"scores": scores(3, 7), "temperature": 1.0}),
        Case({"scores": scores(2, 3, 5).astype(np.float32),
              "temperature": 2.0}, "float32 scores"),
        Case({"scores": 1000.0 + scores(6), "temperature": 1.0},
             "very large scores"),
        Case({"scores": np.stack([1000.0 + scores(5),
                                  -1000.0 + scores(5)]),
              "temperature": 1.0},
             "one row of large scores, one of very negative scores"),
        Case({"scores": spread + scores(6), "temperature": 1.0},
             "scores spread from -1000 to 1000"),
        Case({"scores": np.stack([0.8 * rng.permutation(spread) + scores(6),
                                  scores(6)]), "temperature": 2.0},
             "a row of scores spread from -800 to 800"),
        Case({"scores": scores(3, 4) + np.array([[0.0], [-1000.0], [500.0]]),
              "temperature": 1.0}, "rows of scores far apart"),
        Case({"scores": scores(2, 5), "temperature": 0.01},
             "a tiny temperature"),
    ]


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _max_no_keepdims(x):
    e = np.exp(x - x.max(axis=-1))
    return e / e.sum(axis=-1)


SOFTMAX_T = Exercise(
    id="ex-01-1",
    title="Softmax with temperature",
    chapter=1,
    points=2,
    function="softmax_with_temperature",
    reference=_softmax_t,
    cases=_softmax_cases,
    keywords=("temperature",),
    mistakes=[
        Mistake("overflow",
                "on very large scores your weights are NaN: np.exp "
                "overflowed to infinity. Subtract each row's largest score "
                "before np.exp; softmax does not change when every score "
                "in a row moves by the same amount.",
                model=lambda s, t=1.0: _exp_normalise(_f(s) / t)),
        Mistake("subtracted-min",
                "when the scores of a row are spread widely your weights "
                "are NaN: you subtracted the smallest score, so the largest "
                "one still overflows np.exp. Subtract the largest score of "
                "each row instead; then every exponent is at most 0.",
                model=lambda s, t=1.0: _exp_normalise(
                    _f(s) / t - (_f(s) / t).min(axis=-1, keepdims=True))),
        Mistake("global-max",
                "a row of very negative scores came out as NaN: you "
                "subtracted the maximum of the whole array, so that row "
                "underflowed to 0/0. Subtract each row's own maximum "
                "(x.max(axis=-1, keepdims=True)).",
                model=lambda s, t=1.0: _exp_normalise(
                    _f(s) / t - np.max(_f(s) / t))),
        Mistake("temperature-multiplied",
                "you multiplied the scores by the temperature; divide them "
                "by it, so that a high temperature flattens the weights and "
                "a low one sharpens them.",
                model=lambda s, t=1.0: softmax(_f(s) * t)),
        Mistake("temperature-ignored",
                "the temperature has no effect on your weights: divide the "
                "scores by it before the softmax.",
                model=lambda s, t=1.0: softmax(_f(s))),
        Mistake("wrong-axis",
                "your weights sum to 1 down each column (axis 0), not along "
                "each row. Normalise over the last axis: axis=-1 with "
                "keepdims=True.",
                model=lambda s, t=1.0: softmax(_f(s) / t, axis=0)),
        Mistake("whole-array",
                "your weights sum to 1 over the whole array, not along each "
                "row: sum over the last axis only (axis=-1, "
                "keepdims=True).",
                model=lambda s, t=1.0: softmax(
                    (_f(s) / t).ravel()).reshape(np.shape(s))),
        Mistake("plain-normalisation",
                "you divided the scores by their sum without "
                "exponentiating. With negative scores that gives negative "
                "'weights' (or a division by zero); apply np.exp first.",
                model=lambda s, t=1.0: (_f(s) / t) / (_f(s) / t).sum(
                    -1, keepdims=True)),
        Mistake("no-keepdims",
                "the sums were divided along the wrong axis: without "
                "keepdims=True, a sum of shape (n,) lines up with the "
                "columns of an (n, n) array. Use .sum(axis=-1, "
                "keepdims=True).",
                model=lambda s, t=1.0: np.exp(_f(s) / t) / np.exp(
                    _f(s) / t).sum(-1)),
        Mistake("max-no-keepdims",
                "for a batch of rows your weights are wrong (or the shapes "
                "do not fit): x.max(axis=-1) and .sum(axis=-1) without "
                "keepdims=True have shape (m,), which lines up with the "
                "columns, not the rows. Keep the axis: keepdims=True.",
                model=lambda s, t=1.0: _max_no_keepdims(_f(s) / t)),
        Mistake("log-softmax",
                "your weights are negative: you returned the logarithm of "
                "the softmax (x - max - log(sum(exp(x - max)))). Take "
                "np.exp of it, or divide the exponentials by their sum.",
                model=lambda s, t=1.0: _log_softmax(_f(s) / t)),
        Mistake("not-normalised",
                "your weights do not sum to 1 along the last axis. Divide "
                "the exponentials by their sum over that axis.",
                detect=_not_normalised),
    ],
    hints=[
        "Divide the scores by the temperature first; everything after "
        "that is an ordinary softmax over the last axis.",
        "Softmax is exp(x) / sum(exp(x)) along axis=-1. For large scores "
        "exp overflows: subtract x.max(axis=-1, keepdims=True) first. It "
        "cancels out in the division.",
        Code("""
            x = np.asarray(scores, dtype=float) / temperature
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
            """),
    ],
)


# ------------------------------------------------------------------ ex-01-2


def _weighted_average_cases(rng):
    def case(n, d, dtype=np.float64, note=""):
        weights = softmax(rng.normal(size=n)).astype(dtype)
        return Case({"weights": weights,
                     "values": rng.normal(size=(n, d)).astype(dtype)}, note)

    return [case(5, 5, note="as many words as features"), case(4, 3),
            case(7, 2), case(1, 4, note="a single word"),
            case(6, 3, np.float32, "float32 inputs")]


WEIGHTED_AVERAGE = Exercise(
    id="ex-01-2",
    title="The weighted average",
    chapter=1,
    points=2,
    function="weighted_average",
    reference=lambda w, v: weighted_average(_f(w), _f(v)),
    cases=_weighted_average_cases,
    mistakes=[
        Mistake("unweighted-mean",
                "you returned the plain mean of the word vectors: the "
                "weights were not used. Multiply each row by its weight "
                "before adding.",
                model=lambda w, v: _f(v).mean(axis=0)),
        Mistake("weights-on-features",
                "you multiplied each column (feature) by a weight; each "
                "weight belongs to a row (a word). Use weights[:, None] * "
                "values, or weights @ values.",
                model=lambda w, v: (_f(v) * _f(w)[None, :]).sum(axis=0)),
        Mistake("values-times-weights",
                "you computed values @ weights, which pairs each weight "
                "with a feature, not with a word. Put the weights first: "
                "weights @ values, (n,) @ (n, d) -> (d,).",
                model=lambda w, v: _f(v) @ _f(w)),
        Mistake("sum-over-features",
                "your result has one number per word: you added along the "
                "features. Add the weighted rows together (axis=0) to get "
                "one vector of size d.",
                model=lambda w, v: (_f(w)[:, None] * _f(v)).sum(axis=1)),
        Mistake("mean-not-sum",
                "your result is n times too small: you averaged the "
                "weighted rows. The weights already sum to 1, so just add "
                "the weighted rows.",
                model=lambda w, v: (_f(w)[:, None] * _f(v)).mean(axis=0)),
        Mistake("no-sum",
                "you weighted the rows but did not add them up; the output "
                "is one vector, the sum of the weighted rows.",
                model=lambda w, v: _f(w)[:, None] * _f(v)),
    ],
    hints=[
        "The output has one entry per feature (shape (d,)): each entry is "
        "sum_i weights[i] * values[i, j].",
        "weights[:, None] has shape (n, 1), so weights[:, None] * values "
        "scales each row by its weight. Then add the rows (axis=0).",
        Code("""
            # (n,) @ (n, d) -> (d,)
            return np.asarray(weights) @ np.asarray(values)
            """),
    ],
)


# ------------------------------------------------------------------ ex-01-3


def _attention_weights(query, keys, temperature=1.0):
    return softmax((_f(keys) @ _f(query)) / temperature)


def _query_cases(rng, with_values=False):
    def case(n, d_k, temperature, d_v=None, note="", dtype=np.float64):
        args = {"query": rng.normal(size=d_k).astype(dtype),
                "keys": rng.normal(size=(n, d_k)).astype(dtype)}
        if with_values:
            args["values"] = rng.normal(size=(n, d_v or d_k)).astype(dtype)
        if temperature is not None:
            args["temperature"] = temperature
        return Case(args, note)

    return [case(5, 3, 1.0, d_v=2), case(8, 4, 0.5, d_v=4),
            case(3, 6, 2.0, d_v=5),
            case(4, 4, 0.5, d_v=3, note="as many words as features"),
            case(6, 3, 1.0, d_v=3, note="float32 inputs", dtype=np.float32),
            case(5, 2, None, d_v=2, note="the default temperature"),
            case(4, 2, float(rng.choice([0.25, 4.0])), d_v=3)]


def _cosine_weights(q, k, t=1.0):
    q, k = _f(q), _f(k)
    cosines = (k @ q) / (np.linalg.norm(k, axis=1) * np.linalg.norm(q))
    return softmax(cosines / t)


def _raw_scores(result, case):
    raw = _f(case.args["keys"]) @ _f(case.args["query"])
    t = case.args.get("temperature", 1.0)
    return any(np.allclose(_f(result), raw / s, rtol=1e-4, atol=1e-5)
               for s in (t, 1.0))


def _weights_not_normalised(result, case):
    return (np.shape(result) == (len(case.args["keys"]),)
            and not np.isclose(np.sum(_f(result)), 1))


ATTENTION_WEIGHTS = Exercise(
    id="ex-01-3",
    title="Weights for a query",
    chapter=1,
    points=2,
    function="attention_weights",
    reference=_attention_weights,
    cases=_query_cases,
    keywords=("temperature",),
    mistakes=[
        Mistake("negated",
                "the key most similar to the query gets the smallest "
                "weight: the scores have the wrong sign. The score is the "
                "dot product query . key, not minus it or a distance.",
                model=lambda q, k, t=1.0: _attention_weights(q, k, -t)),
        Mistake("temperature-multiplied",
                "you multiplied the scores by the temperature; divide them "
                "by it.",
                model=lambda q, k, t=1.0: _attention_weights(q, k, 1.0 / t)),
        Mistake("temperature-ignored",
                "the temperature has no effect on your weights: divide the "
                "scores by it before the softmax.",
                model=lambda q, k, t=1.0: _attention_weights(q, k, 1.0)),
        Mistake("query-times-keys",
                "you computed query @ keys, which adds up the keys' rows "
                "weighted by the query's features. The scores are keys @ "
                "query: one dot product per key, shape (n,).",
                model=lambda q, k, t=1.0: softmax(_f(q) @ _f(k) / t)),
        Mistake("scaled-by-sqrt-d",
                "you divided the scores by sqrt(d), as a transformer does "
                "(chapter 3). This exercise uses the plain dot product, "
                "divided by the temperature only.",
                model=lambda q, k, t=1.0: _attention_weights(
                    q, k, t * np.sqrt(np.shape(q)[-1]))),
        Mistake("cosine",
                "you used cosine similarity; this exercise scores with the "
                "plain dot product keys @ query (chapter 2 compares the "
                "two).",
                model=_cosine_weights),
        Mistake("raw-scores",
                "you returned the raw scores: they can be negative and do "
                "not sum to 1. Divide them by the temperature and turn "
                "them into weights with a softmax.",
                detect=_raw_scores),
        Mistake("not-normalised",
                "your weights do not sum to 1: normalise with a softmax "
                "over the n keys.",
                detect=_weights_not_normalised),
    ],
    hints=[
        "One score per word: the dot product of the query with that word's "
        "key. keys has shape (n, d), query has shape (d,).",
        "keys @ query gives the n scores, shape (n,). Then divide by the "
        "temperature and apply a softmax: your softmax_with_temperature "
        "does both.",
        Code("""
            scores = np.asarray(keys) @ np.asarray(query)  # (n,)
            return softmax_with_temperature(scores, temperature)
            """),
    ],
)


# ------------------------------------------------------------------ ex-01-4


def _layer(q, k, v, temperature=1.0):
    return highlighter_layer(_f(q), _f(k), _f(v), temperature)


HIGHLIGHTER_LAYER = Exercise(
    id="ex-01-4",
    title="The highlighter layer",
    chapter=1,
    points=3,
    function="highlighter_layer",
    reference=_layer,
    cases=lambda rng: _query_cases(rng, with_values=True),
    keywords=("temperature",),
    outputs=("output", "weights"),
    mistakes=[
        Mistake("swapped-return",
                "you returned (weights, output); return (output, weights), "
                "output first.",
                model=lambda q, k, v, t=1.0: _layer(q, k, v, t)[::-1]),
        Mistake("averaged-keys",
                "your output averages the keys; the weights choose how much "
                "of each *value* to take. Use weights @ values.",
                model=lambda q, k, v, t=1.0: (
                    _attention_weights(q, k, t) @ _f(k),
                    _attention_weights(q, k, t))),
        Mistake("unweighted-output",
                "your output is the plain mean of the values: the weights "
                "were not used.",
                model=lambda q, k, v, t=1.0: (
                    _f(v).mean(0), _attention_weights(q, k, t))),
        Mistake("raw-score-average",
                "your output is weighted by the raw scores, not by the "
                "softmax weights.",
                model=lambda q, k, v, t=1.0: (
                    (_f(k) @ _f(q)) / t @ _f(v),
                    _attention_weights(q, k, t))),
        Mistake("temperature-multiplied",
                "you multiplied the scores by the temperature; divide them "
                "by it.",
                model=lambda q, k, v, t=1.0: _layer(q, k, v, 1.0 / t)),
        Mistake("temperature-ignored",
                "the temperature has no effect: divide the scores by it "
                "before the softmax.",
                model=lambda q, k, v, t=1.0: _layer(q, k, v, 1.0)),
        Mistake("scaled-by-sqrt-d",
                "you divided the scores by sqrt(d), as a transformer does "
                "(chapter 3). This layer uses the plain dot product, "
                "divided by the temperature only.",
                model=lambda q, k, v, t=1.0: _layer(
                    q, k, v, t * np.sqrt(np.shape(q)[-1]))),
        Mistake("negated",
                "the word most similar to the query gets the smallest "
                "weight: the scores have the wrong sign.",
                model=lambda q, k, v, t=1.0: _layer(q, k, v, -t)),
    ],
    hints=[
        "Three steps: scores from the query and the keys, weights from the "
        "scores, output from the weights and the values. Return both: "
        "(output, weights).",
        "You have written each step already: attention_weights(query, "
        "keys, temperature) and weighted_average(weights, values).",
        Code("""
            weights = attention_weights(query, keys, temperature)
            return weighted_average(weights, values), weights
            """),
    ],
)


# ----------------------------------------------- ex-01-5 (challenge, part 1)


def _entropy(weights):
    """Entropy in nats along the last axis, with 0 * log(0) taken as 0."""
    w = _f(weights)
    logs = np.log(np.where(w > 0, w, 1.0))
    return -(w * logs).sum(axis=-1)


def _entropy_cases(rng):
    def weights(*shape, scale=1.5):
        return softmax(rng.normal(0.0, scale, size=shape))

    with_zeros = np.array([[0.0, 1.0, 0.0, 0.0],
                           [0.5, 0.0, 0.5, 0.0],
                           [0.25, 0.25, 0.25, 0.25]])
    return [
        Case({"weights": weights(6)}),
        Case({"weights": weights(2)}, "two words"),
        Case({"weights": weights(3, 5)}, "a batch of 3 rows"),
        Case({"weights": weights(4, 4)}, "as many rows as words"),
        Case({"weights": weights(2, 3, 4)}, "a batch of 2 x 3 rows"),
        Case({"weights": with_zeros[rng.permutation(3)]},
             "rows with weights of exactly 0"),
        Case({"weights": np.array([0.2, 0.0, 0.8, 0.0])[rng.permutation(4)]},
             "weights of exactly 0"),
        Case({"weights": weights(5).astype(np.float32)}, "float32 weights"),
    ]


def _terms(w):
    return w * np.log(np.where(w > 0, w, 1.0))


ENTROPY = Exercise(
    id="ex-01-5",
    title="Challenge: the entropy of the weights",
    chapter=1,
    points=1,
    function="entropy",
    reference=_entropy,
    cases=_entropy_cases,
    mistakes=[
        Mistake("nan-at-zero",
                "your entropy is NaN for rows with a weight of exactly 0: "
                "0 * log(0) is 0 * -inf, which NumPy makes NaN. The limit "
                "of w log w as w goes to 0 is 0, so leave those terms out "
                "(np.where(w > 0, w, 1) inside the log does it).",
                model=lambda w: -(_f(w) * np.log(_f(w))).sum(axis=-1)),
        Mistake("bits",
                "your entropies are in bits (log base 2), 1 / ln 2 = 1.44 "
                "times the entropy in nats that this exercise asks for: "
                "use the natural log, np.log.",
                model=lambda w: _entropy(w) / np.log(2.0)),
        Mistake("no-minus",
                "your entropies are negative: the entropy is minus the sum "
                "of w * log(w) (each log of a weight below 1 is "
                "negative).",
                model=lambda w: -_entropy(w)),
        Mistake("mean-not-sum",
                "your entropies are n times too small: you averaged the "
                "terms w * log(w) over the n words; add them up instead.",
                model=lambda w: -_terms(_f(w)).mean(axis=-1)),
        Mistake("wrong-axis",
                "you added the terms down the columns (axis 0); each row "
                "holds the weights of one query, so add along the last "
                "axis (axis=-1).",
                model=lambda w: -_terms(_f(w)).sum(axis=0)),
        Mistake("whole-array",
                "you returned one number for the whole array; the exercise "
                "asks for one entropy per row: sum over the last axis only "
                "(axis=-1).",
                model=lambda w: -_terms(_f(w)).sum()),
    ],
    hints=[
        "The entropy of one row is H = -sum_i w_i log(w_i), with the "
        "natural log. Do the same for every row at once: sum over the last "
        "axis.",
        "np.log(0) is -inf and 0 * -inf is NaN. Take the log of "
        "np.where(w > 0, w, 1.0) instead: log(1) = 0, so those terms "
        "vanish, as they should.",
        Code("""
            w = np.asarray(weights, dtype=float)
            logs = np.log(np.where(w > 0, w, 1.0))  # 0 where w is 0
            return -(w * logs).sum(axis=-1)
            """),
    ],
)


# ----------------------------------------------- ex-01-6 (challenge, part 2)

#: How close to the target the entropy at the learner's temperature must
#: be, in nats (the exercise text says so).
ENTROPY_TOLERANCE = 1e-4


def _entropy_at(scores, temperature):
    return float(_entropy(softmax(_f(scores) / temperature)))


def _temperature_for(scores, target):
    """The temperature whose softmax weights have entropy ``target``
    (nats): bisection on log T, since the entropy grows with T."""
    low = high = 1.0
    while _entropy_at(scores, low) > target:
        low /= 2
    while _entropy_at(scores, high) < target:
        high *= 2
    for _ in range(100):
        middle = math.sqrt(low * high)
        if _entropy_at(scores, middle) < target:
            low = middle
        else:
            high = middle
    return math.sqrt(low * high)


def _positive_number(result, case=None):
    why = python_number(result)
    if why:
        return why
    if not (math.isfinite(result) and result > 0):
        return (f"a temperature is a positive number, got "
                f"{format_number(result)}")
    return None


@dataclass
class TemperatureExercise(Exercise):
    """The answer is a temperature; it is judged by the entropy of the
    weights it gives, which must be the case's target. Results are
    compared as (temperature, entropy) pairs."""

    def _prepare(self, raw, case):
        raw = super()._prepare(raw, case)
        return float(raw), _entropy_at(case.args["scores"], raw)

    def _prepare_expected(self, expected, case):
        return float(expected), _entropy_at(case.args["scores"], expected)

    def _differs(self, result, expected, case):
        (t, h), target = result, case.args["target"]
        if abs(h - target) <= ENTROPY_TOLERANCE:
            return None
        shown = f"{h:.5f}".replace("-0.00000", "0.00000")
        return (f"at your temperature T = {format_number(t)} the weights "
                f"have entropy {shown} nats; the target is "
                f"{format_number(target)} (reached at T = "
                f"{format_number(expected[0])})")

    def _same(self, result, model_result, case, tolerance=None):
        atol = (tolerance or self.tolerance).atol
        return abs(result[1] - model_result[1]) <= atol


def _temperature_cases(rng):
    def case(scores, fraction, note=""):
        n = len(scores)
        target = round(float(fraction * np.log(n)), 4)
        return Case({"scores": scores, "target": target}, note)

    spread = rng.permutation(np.linspace(-1000.0, 1000.0, 6))
    underflow = np.array([2.0, 1.0, 0.5, -3000.0])[rng.permutation(4)]
    return [
        case(rng.normal(0.0, 2.0, 6), 0.5),
        case(rng.normal(0.0, 2.0, 5), 0.1, "a sharp target"),
        case(rng.normal(0.0, 2.0, 8), 0.98, "a flat target"),
        case(rng.normal(0.0, 2.0, 2), 0.6, "two words"),
        case(1000.0 + rng.normal(0.0, 2.0, 6), 0.6, "scores around 1000"),
        case(spread + rng.normal(0.0, 2.0, 6), 0.5,
             "scores spread from -1000 to 1000"),
        case(underflow, 0.55, "one weight is exactly 0 at the answer"),
        case(rng.normal(0.0, 2.0, 7).astype(np.float32), 0.7,
             "float32 scores"),
    ]


def _at_an_end(result, case):
    """The temperature ran to an end of its search range: more than 30
    times too small or too large."""
    t, _ = result
    right = _temperature_for(case.args["scores"], case.args["target"])
    return abs(math.log(t / right)) > math.log(30.0)


TEMPERATURE_FOR_ENTROPY = TemperatureExercise(
    id="ex-01-6",
    title="Challenge: the temperature for a target entropy",
    chapter=1,
    points=2,
    function="temperature_for_entropy",
    reference=_temperature_for,
    cases=_temperature_cases,
    contract=_positive_number,
    tolerance=Tolerance(rtol=0.0, atol=1e-3),
    mistakes=[
        Mistake("returned-entropy",
                "you returned the entropy; return the temperature that "
                "reaches it.",
                model=lambda s, h: h),
        Mistake("temperature-multiplied",
                "your temperature is upside down: you multiplied the scores "
                "by it. The weights are softmax(scores / T); with T "
                "multiplied in, you found 1 / T.",
                model=lambda s, h: 1.0 / _temperature_for(s, h)),
        Mistake("bits",
                "your search reaches the target in bits (log base 2); "
                "entropy here is in nats: use the natural log, np.log, as "
                "in your entropy function.",
                model=lambda s, h: _temperature_for(s, h * np.log(2.0))),
        Mistake("ran-to-an-end",
                "your temperature is far off wherever it misses (more "
                "than 30 times too small or too large): it ran to an end "
                "of its search range. Print T and the entropy at each step "
                "of your search: does the entropy move towards the target "
                "(a higher T gives a higher entropy), is it ever NaN, and "
                "is the range wide enough?",
                detect=_at_an_end),
    ],
    hints=[
        "The entropy of softmax_with_temperature(scores, T) grows with T: "
        "near 0 at a tiny temperature (one word takes all), log(n) at a "
        "huge one (every word the same). So there is one T for each "
        "target in between, and you can search for it.",
        "Bisection: keep a low T whose entropy is below the target and a "
        "high T whose entropy is above it (double or halve until they "
        "are). Try their geometric middle sqrt(low * high), keep the half "
        "that still brackets the target, and repeat about 100 times.",
        Code("""
            def entropy_at(t):
                return entropy(softmax_with_temperature(scores, t))

            low = high = 1.0
            while entropy_at(low) > target:
                low /= 2
            while entropy_at(high) < target:
                high *= 2
            for _ in range(100):
                middle = (low * high) ** 0.5
                if entropy_at(middle) < target:
                    low = middle
                else:
                    high = middle
            return float(middle)
            """),
    ],
)


EXERCISES = [SOFTMAX_T, WEIGHTED_AVERAGE, ATTENTION_WEIGHTS, HIGHLIGHTER_LAYER,
             ENTROPY, TEMPERATURE_FOR_ENTROPY]
