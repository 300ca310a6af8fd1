"""Chapter 1 checks: correct answers pass, each catalogued mistake is named, look-alikes get the
plain message, stubs are not attempted."""

import math
import time
import warnings

import numpy as np
import pytest

from attnbook.checks import EXERCISES
from attnbook.checks.core import seeded
from checkkit import failure, make_tests

# --------------------------------------------------------------------------- correct answers


def softmax_t_plain(scores, temperature=1.0):
    x = np.asarray(scores, dtype=float) / temperature
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_t_logsumexp(scores, temperature=1.0):
    x = np.asarray(scores, dtype=np.float64) / temperature
    m = np.max(x, axis=-1, keepdims=True)
    return np.exp(x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))


def softmax_t_float32(scores, temperature=1.0):
    x = np.asarray(scores, dtype=np.float32) / np.float32(temperature)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def softmax_t_loops(scores, temperature=1.0):
    """Row by row in plain Python: slow to write, still right."""
    x = np.asarray(scores, dtype=float)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        row = [s / temperature for s in x[index]]
        top = max(row)
        exps = [math.exp(s - top) for s in row]
        total = sum(exps)
        out[index] = [e / total for e in exps]
    return out


def softmax_t_torch(scores, temperature=1.0):
    import torch

    return torch.softmax(torch.as_tensor(np.asarray(scores, dtype=float)) / temperature, dim=-1)


def softmax_t_swapaxes(scores, temperature=1.0):
    """Move the last axis first, normalise over axis 0, move it back."""
    x = np.moveaxis(np.asarray(scores, dtype=float) / temperature, -1, 0)
    e = np.exp(x - x.max(axis=0))
    return np.moveaxis(e / e.sum(axis=0), 0, -1)


def wavg_matmul(weights, values):
    return np.asarray(weights) @ np.asarray(values)


def wavg_broadcast(weights, values):
    return (np.asarray(weights)[:, None] * np.asarray(values)).sum(axis=0)


def wavg_einsum32(weights, values):
    return np.einsum("n,nd->d", np.asarray(weights, np.float32), np.asarray(values, np.float32))


def wavg_loop(weights, values):
    total = np.zeros(np.shape(values)[1])
    for w, v in zip(weights, values):
        total = total + w * np.asarray(v)
    return total


def wavg_np_average(weights, values):
    return np.average(values, axis=0, weights=weights)


def weights_matmul(query, keys, temperature=1.0):
    return softmax_t_plain(np.asarray(keys) @ np.asarray(query), temperature)


def weights_einsum(query, keys, temperature=1.0):
    scores = np.einsum("nd,d->n", np.asarray(keys, np.float32), np.asarray(query, np.float32))
    return softmax_t_float32(scores, temperature)


def weights_loop(query, keys, temperature=1.0):
    scores = np.array([sum(q * k for q, k in zip(query, key)) for key in keys])
    return softmax_t_loops(scores, temperature)


def layer_composed(query, keys, values, temperature=1.0):
    weights = weights_matmul(query, keys, temperature)
    return wavg_matmul(weights, values), weights


def layer_inline(query, keys, values, temperature=1.0):
    s = np.asarray(keys) @ np.asarray(query) / temperature
    w = np.exp(s - s.max())
    w /= w.sum()
    return w @ np.asarray(values), w


def layer_list(query, keys, values, temperature=1.0):
    weights = weights_loop(query, keys, temperature)
    return [wavg_loop(weights, values), list(weights)]


def entropy_where(weights):
    w = np.asarray(weights, dtype=float)
    return -(w * np.log(np.where(w > 0, w, 1.0))).sum(axis=-1)


def entropy_nansum(weights):
    w = np.asarray(weights, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nansum(w * np.log(w), axis=-1)


def entropy_eps(weights):
    """A tiny epsilon in the log: not exact, but far inside the tolerance."""
    w = np.asarray(weights)
    return -np.sum(w * np.log(w + 1e-12), axis=-1)


def entropy_loops(weights):
    w = np.asarray(weights, dtype=float)
    out = np.zeros(w.shape[:-1])
    for index in np.ndindex(w.shape[:-1]):
        out[index] = -sum(p * math.log(p) for p in w[index] if p > 0)
    return out if out.ndim else float(out)


def entropy_float32(weights):
    w = np.asarray(weights, dtype=np.float32)
    return -(w * np.log(np.clip(w, 1e-30, None))).sum(axis=-1)


def entropy_of(scores, t):
    return float(entropy_where(softmax_t_plain(scores, t)))


def temperature_bisect_log(scores, target):
    low = high = 1.0
    while entropy_of(scores, low) > target:
        low /= 2
    while entropy_of(scores, high) < target:
        high *= 2
    for _ in range(100):
        middle = (low * high) ** 0.5
        if entropy_of(scores, middle) < target:
            low = middle
        else:
            high = middle
    return float(middle)


def temperature_bisect_beta(scores, target):
    """Search the inverse temperature beta = 1 / T on a fixed range, in plain steps."""
    low, high = 1e-6, 1e4                       # entropy falls as beta grows
    for _ in range(200):
        beta = (low + high) / 2
        if entropy_of(scores, 1 / beta) > target:
            low = beta
        else:
            high = beta
    return 1 / beta


def temperature_newton(scores, target):
    """Newton steps on log T (dH / dlog T is the variance of scores / T), kept inside a bracket."""
    s = np.asarray(scores, dtype=float)
    low, high, log_t = -20.0, 20.0, 0.0
    for _ in range(200):
        t = math.exp(log_t)
        w = softmax_t_plain(s, t)
        h = float(entropy_where(w))
        if abs(h - target) < 1e-10:
            break
        if h < target:
            low = log_t
        else:
            high = log_t
        slope = float(w @ (s / t) ** 2 - (w @ (s / t)) ** 2)
        step = log_t - (h - target) / slope if slope > 0 else None
        log_t = step if step is not None and low < step < high else (low + high) / 2
    return np.float64(math.exp(log_t))


CORRECT = {
    "ex-01-1": [softmax_t_plain, softmax_t_logsumexp, softmax_t_float32, softmax_t_loops, softmax_t_torch,
                softmax_t_swapaxes],
    "ex-01-2": [wavg_matmul, wavg_broadcast, wavg_einsum32, wavg_loop, wavg_np_average],
    "ex-01-3": [weights_matmul, weights_einsum, weights_loop],
    "ex-01-4": [layer_composed, layer_inline, layer_list],
    "ex-01-5": [entropy_where, entropy_nansum, entropy_eps, entropy_loops, entropy_float32],
    "ex-01-6": [temperature_bisect_log, temperature_bisect_beta, temperature_newton],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def sm_overflow(scores, temperature=1.0):
    e = np.exp(np.asarray(scores) / temperature)
    return e / np.sum(e, axis=-1, keepdims=True)


def sm_min(scores, temperature=1.0):
    """Any constant cancels out, so subtract the smallest score: all exponents are then >= 0."""
    x = np.asarray(scores) / temperature
    e = np.exp(x - x.min(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sm_global_max(scores, temperature=1.0):
    x = np.asarray(scores) / temperature
    e = np.exp(x - x.max())
    return e / e.sum(axis=-1, keepdims=True)


def sm_times_t(scores, temperature=1.0):
    x = np.asarray(scores) * temperature
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sm_no_t(scores, temperature=1.0):
    x = np.asarray(scores)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sm_axis0(scores, temperature=1.0):
    x = np.asarray(scores) / temperature
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def sm_whole(scores, temperature=1.0):
    x = np.asarray(scores) / temperature
    e = np.exp(x - x.max())
    return e / e.sum()


def sm_plain(scores, temperature=1.0):
    x = np.asarray(scores) / temperature
    return x / x.sum(axis=-1, keepdims=True)


def sm_no_keepdims(scores, temperature=1.0):
    e = np.exp(np.asarray(scores) / temperature)
    return e / e.sum(axis=-1)


def sm_max_no_keepdims(scores, temperature=1.0):
    x = np.asarray(scores) / temperature
    e = np.exp(x - np.max(x, axis=-1))
    return e / np.sum(e, axis=-1)


def sm_log(scores, temperature=1.0):
    """The log-sum-exp trick, stopped one step early."""
    x = np.asarray(scores) / temperature
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def sm_unnormalised(scores, temperature=1.0):
    x = np.asarray(scores) / temperature
    return np.exp(x - x.max(axis=-1, keepdims=True))


def wavg_mean(weights, values):
    return np.mean(values, axis=0)


def wavg_features(weights, values):
    return np.sum(np.asarray(values) * np.asarray(weights), axis=0)


def wavg_values_first(weights, values):
    return np.asarray(values) @ np.asarray(weights)


def wavg_axis1(weights, values):
    return (np.asarray(values) * np.asarray(weights)[:, None]).sum(axis=1)


def wavg_mean_weighted(weights, values):
    return np.mean(np.asarray(values) * np.asarray(weights).reshape(-1, 1), axis=0)


def wavg_no_sum(weights, values):
    return np.asarray(values) * np.asarray(weights)[:, None]


def w_raw(query, keys, temperature=1.0):
    return np.dot(keys, query) / temperature


def w_raw_no_t(query, keys, temperature=1.0):
    return np.dot(keys, query)


def w_negated(query, keys, temperature=1.0):
    return softmax_t_plain(-(np.asarray(keys) @ np.asarray(query)), temperature)


def w_times_t(query, keys, temperature=1.0):
    return softmax_t_plain(np.asarray(keys) @ np.asarray(query) * temperature)


def w_no_t(query, keys, temperature=1.0):
    return softmax_t_plain(np.asarray(keys) @ np.asarray(query))


def w_query_first(query, keys, temperature=1.0):
    return softmax_t_plain(np.asarray(query) @ np.asarray(keys), temperature)


def w_sqrt_d(query, keys, temperature=1.0):
    """Scaled dot-product scores, as in every transformer."""
    scores = np.asarray(keys) @ np.asarray(query) / np.sqrt(len(query))
    return softmax_t_plain(scores, temperature)


def w_cosine(query, keys, temperature=1.0):
    keys, query = np.asarray(keys), np.asarray(query)
    cos = keys @ query / np.linalg.norm(keys, axis=-1) / np.linalg.norm(query)
    return softmax_t_plain(cos, temperature)


def w_unnormalised(query, keys, temperature=1.0):
    return np.exp(np.asarray(keys) @ np.asarray(query) / temperature)


def layer_swapped(query, keys, values, temperature=1.0):
    out, w = layer_composed(query, keys, values, temperature)
    return w, out


def layer_keys(query, keys, values, temperature=1.0):
    w = weights_matmul(query, keys, temperature)
    return w @ np.asarray(keys), w


def layer_mean(query, keys, values, temperature=1.0):
    return np.asarray(values).mean(axis=0), weights_matmul(query, keys, temperature)


def layer_raw(query, keys, values, temperature=1.0):
    scores = np.asarray(keys) @ np.asarray(query) / temperature
    return scores @ np.asarray(values), softmax_t_plain(scores)


def layer_times_t(query, keys, values, temperature=1.0):
    w = softmax_t_plain(np.asarray(keys) @ np.asarray(query) * temperature)
    return w @ np.asarray(values), w


def layer_no_t(query, keys, values, temperature=1.0):
    return layer_composed(query, keys, values, 1.0)


def layer_sqrt_d(query, keys, values, temperature=1.0):
    w = w_sqrt_d(query, keys, temperature)
    return w @ np.asarray(values), w


def layer_negated(query, keys, values, temperature=1.0):
    w = softmax_t_plain(-(np.asarray(keys) @ np.asarray(query)) / temperature)
    return w @ np.asarray(values), w


def entropy_naive(weights):
    w = np.asarray(weights)
    return -np.sum(w * np.log(w), axis=-1)


def entropy_bits(weights):
    w = np.asarray(weights, dtype=float)
    return -(w * np.log2(np.where(w > 0, w, 1.0))).sum(axis=-1)


def entropy_no_minus(weights):
    w = np.asarray(weights, dtype=float)
    return (w * np.log(np.where(w > 0, w, 1.0))).sum(axis=-1)


def entropy_mean(weights):
    w = np.asarray(weights, dtype=float)
    return -np.mean(w * np.log(np.where(w > 0, w, 1.0)), axis=-1)


def entropy_axis0(weights):
    w = np.asarray(weights, dtype=float)
    return -(w * np.log(np.where(w > 0, w, 1.0))).sum(axis=0)


def entropy_whole(weights):
    w = np.asarray(weights, dtype=float)
    return -np.sum(w * np.log(np.where(w > 0, w, 1.0)))


def bisect(entropy_at, target, increasing=True, low=1e-3, high=1e3, steps=100, give=None):
    """The bisection a learner writes, on log T; ``increasing`` says which way they think it goes."""
    for _ in range(steps):
        middle = (low * high) ** 0.5
        if (entropy_at(middle) < target) == increasing:
            low = middle
        else:
            high = middle
    return give(middle) if give else middle


def t_returns_entropy(scores, target):
    return bisect(lambda t: entropy_of(scores, t), target, give=lambda t: entropy_of(scores, t))


def t_times(scores, target):
    """softmax(scores * t): the entropy falls as t grows, and the search follows it."""
    return bisect(lambda t: float(entropy_where(softmax_t_plain(np.asarray(scores) * t))), target,
                  increasing=False)


def t_bits(scores, target):
    return bisect(lambda t: float(entropy_bits(softmax_t_plain(scores, t))), target)


def t_wrong_way(scores, target):
    return bisect(lambda t: entropy_of(scores, t), target, increasing=False)


def t_naive_entropy(scores, target):
    """An entropy that is NaN as soon as a weight underflows to 0: the search runs off."""
    return bisect(lambda t: float(entropy_naive(softmax_t_plain(scores, t))), target, low=1e-6, high=1e6)


WRONG = {
    "ex-01-1": {
        "overflow": sm_overflow, "subtracted-min": sm_min, "global-max": sm_global_max,
        "temperature-multiplied": sm_times_t, "temperature-ignored": sm_no_t, "wrong-axis": sm_axis0,
        "whole-array": sm_whole, "plain-normalisation": sm_plain, "no-keepdims": sm_no_keepdims,
        "max-no-keepdims": sm_max_no_keepdims, "log-softmax": sm_log, "not-normalised": sm_unnormalised,
    },
    "ex-01-2": {
        "unweighted-mean": wavg_mean, "weights-on-features": wavg_features,
        "values-times-weights": wavg_values_first, "sum-over-features": wavg_axis1,
        "mean-not-sum": wavg_mean_weighted, "no-sum": wavg_no_sum,
    },
    "ex-01-3": {
        "raw-scores": [w_raw, w_raw_no_t], "negated": w_negated,
        "temperature-multiplied": w_times_t, "temperature-ignored": w_no_t,
        "query-times-keys": w_query_first, "scaled-by-sqrt-d": w_sqrt_d, "cosine": w_cosine,
        "not-normalised": w_unnormalised,
    },
    "ex-01-4": {
        "swapped-return": layer_swapped, "averaged-keys": layer_keys, "unweighted-output": layer_mean,
        "raw-score-average": layer_raw, "temperature-multiplied": layer_times_t,
        "temperature-ignored": layer_no_t, "scaled-by-sqrt-d": layer_sqrt_d, "negated": layer_negated,
    },
    "ex-01-5": {
        "nan-at-zero": entropy_naive, "bits": entropy_bits, "no-minus": entropy_no_minus,
        "mean-not-sum": entropy_mean, "wrong-axis": entropy_axis0, "whole-array": entropy_whole,
    },
    "ex-01-6": {
        "returned-entropy": t_returns_entropy, "temperature-multiplied": t_times, "bits": t_bits,
        "ran-to-an-end": [t_wrong_way, t_naive_entropy],
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(1, CORRECT, WRONG)


# --------------------------------------------------------------------------- look-alikes
# Wrong answers a learner writes that show a catalogued mistake on some case but not on every
# case where the mistake changes the result: they must get the plain message (the smallest failing
# case, expected against got), never the mistake's name.


def sm_clamped_t(scores, temperature=1.0):
    """"Dividing by a small temperature blows up": only temperatures above 1 are used."""
    x = np.asarray(scores) / max(temperature, 1.0)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sm_matrix_sum(scores, temperature=1.0):
    """Normalises each matrix (the last two axes) instead of each row."""
    x = np.asarray(scores, dtype=float) / temperature
    if x.ndim == 1:
        return softmax_t_plain(x)
    e = np.exp(x - x.max(axis=(-2, -1), keepdims=True))
    return e / e.sum(axis=(-2, -1), keepdims=True)


def sm_mean_shift(scores, temperature=1.0):
    """Subtracts the mean: enough for scores around 1000, not for scores spread widely."""
    x = np.asarray(scores) / temperature
    e = np.exp(x - x.mean(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def wavg_keepdims(weights, values):
    """The softmax habit: keepdims=True, so the result keeps a row axis, (1, d)."""
    return np.sum(np.asarray(weights)[:, None] * np.asarray(values), axis=0, keepdims=True)


def w_clamped_t(query, keys, temperature=1.0):
    return softmax_t_plain(np.asarray(keys) @ np.asarray(query), max(temperature, 1.0))


def w_sqrt_n(query, keys, temperature=1.0):
    """Scales by the square root of the number of keys, not of the features."""
    scores = np.asarray(keys) @ np.asarray(query) / np.sqrt(len(keys))
    return softmax_t_plain(scores, temperature)


def layer_clamped_t(query, keys, values, temperature=1.0):
    return layer_composed(query, keys, values, max(temperature, 1.0))


def layer_keys_when_square(query, keys, values, temperature=1.0):
    """Averages the keys whenever they have the values' shape (a mix-up of two variables)."""
    w = weights_matmul(query, keys, temperature)
    chosen = keys if np.shape(keys) == np.shape(values) else values
    return w @ np.asarray(chosen), w


def entropy_normalised(weights):
    """Divides by log(n), the largest possible entropy: equal to bits for two words only."""
    w = np.asarray(weights, dtype=float)
    return entropy_where(w) / np.log(w.shape[-1])


def entropy_words_first(weights):
    """Reads the words along axis -2 (one column per row of weights): the columns of a matrix."""
    w = np.asarray(weights, dtype=float)
    return -(w * np.log(np.where(w > 0, w, 1.0))).sum(axis=-2)


def t_narrow_range(scores, target):
    """A search range of 0.1 to 10: too narrow for the sharp and the widely spread cases."""
    return bisect(lambda t: entropy_of(scores, t), target, low=0.1, high=10.0)


def t_coarse_grid(scores, target):
    """The best of 200 temperatures between 0.01 and 100: close, not close enough."""
    grid = np.logspace(-2, 2, 200)
    return float(grid[np.argmin([abs(entropy_of(scores, t) - target) for t in grid])])


LOOK_ALIKES = {
    "ex-01-1": [("temperature-ignored", sm_clamped_t), ("whole-array", sm_matrix_sum),
                ("overflow", sm_mean_shift)],
    "ex-01-2": [("no-sum", wavg_keepdims)],
    "ex-01-3": [("temperature-ignored", w_clamped_t), ("scaled-by-sqrt-d", w_sqrt_n)],
    "ex-01-4": [("temperature-ignored", layer_clamped_t), ("averaged-keys", layer_keys_when_square)],
    "ex-01-5": [("bits", entropy_normalised), ("wrong-axis", entropy_words_first)],
    "ex-01-6": [("ran-to-an-end", t_narrow_range)],
}

# Other wrong answers that no catalogued mistake describes: the plain message.
PLAIN = {
    "ex-01-6": [t_coarse_grid],
}


def coincidence(ex, key, answer):
    """Over the exercise's own cases: (the answer shows the mistake on some case where the mistake
    matters, it does not on another such case)."""
    mistake = next(m for m in ex.mistakes if m.key == key)
    shows, misses = False, False
    with warnings.catch_warnings(), np.errstate(all="ignore"), seeded(ex.seed):
        warnings.simplefilter("ignore")
        for case in ex.make_cases():
            outcome = ex._outcome(answer, case, deadline=time.perf_counter() + 60)
            expected = ex._prepare_expected(ex.reference(*ex._copy_args(case)), case)
            if mistake.model is not None:
                try:
                    model = ex._prepare_expected(mistake.model(*ex._copy_args(case)), case)
                except Exception:  # noqa: BLE001
                    model = None
                if model is not None and ex._same(model, expected, case, mistake.tolerance):
                    continue  # the mistake changes nothing here
                same = (outcome.error is not None if model is None else
                        outcome.error is None and ex._same(outcome.result, model, case, mistake.tolerance))
            else:
                if outcome.error is not None or not outcome.why:
                    continue
                same = ex._detects(mistake, case, outcome.result, outcome.expected)
            shows, misses = shows or same, misses or not same
    return shows, misses


def look_alike_params(look_alikes):
    return [(ex_id, key, i) for ex_id, listed in look_alikes.items() for i, (key, _) in enumerate(listed)]


def check_look_alike(look_alikes, ex_id, key, index):
    ex, answer = EXERCISES[ex_id], look_alikes[ex_id][index][1]
    shows, misses = coincidence(ex, key, answer)
    assert shows, f"{answer.__name__} never shows the mistake {key!r}: not a look-alike"
    assert misses, f"{answer.__name__} shows {key!r} wherever it matters: it is that mistake"
    exc = failure(ex_id, answer)
    assert exc.mistake != key, f"{answer.__name__} was told {exc.mistake!r}: {exc.message}"
    if exc.mistake is None:
        assert exc.message.startswith("for ") or exc.message.startswith("your function raised")


def test_every_exercise_has_look_alikes():
    assert set(LOOK_ALIKES) == {ex_id for ex_id, ex in EXERCISES.items() if ex.chapter == 1}


@pytest.mark.parametrize("ex_id,key,index", look_alike_params(LOOK_ALIKES))
def test_a_look_alike_gets_the_plain_message(ex_id, key, index):
    check_look_alike(LOOK_ALIKES, ex_id, key, index)


@pytest.mark.parametrize("ex_id,index", [(ex_id, i) for ex_id, listed in PLAIN.items()
                                         for i in range(len(listed))])
def test_an_unknown_mistake_gets_the_plain_message(ex_id, index):
    exc = failure(ex_id, PLAIN[ex_id][index])
    assert exc.mistake is None and exc.message.startswith("for "), exc.message


# --------------------------------------------------------------------------- what the text states


def test_the_temperature_is_passed_by_its_name():
    """The text names the argument `temperature`: an answer that calls it t cannot be called."""
    def renamed(scores, t=1.0):
        return softmax_t_plain(scores, t)

    exc = failure("ex-01-1", renamed)
    assert exc.mistake is None and "temperature" in exc.message


def test_the_challenge_asks_for_a_python_number():
    exc = failure("ex-01-6", lambda scores, target: np.array(temperature_bisect_log(scores, target)))
    assert "Python number" in exc.message
    exc = failure("ex-01-6", lambda scores, target: -1.0)
    assert "positive" in exc.message


def test_the_challenge_message_speaks_of_entropy():
    exc = failure("ex-01-6", t_coarse_grid)
    assert "nats" in exc.message and "T = " in exc.message
