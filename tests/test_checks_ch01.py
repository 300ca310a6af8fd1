"""Chapter 1 checks: correct answers pass, each catalogued mistake is named, stubs are not attempted."""

import math

import numpy as np

from checkkit import make_tests

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


CORRECT = {
    "ex-01-1": [softmax_t_plain, softmax_t_logsumexp, softmax_t_float32, softmax_t_loops, softmax_t_torch],
    "ex-01-2": [wavg_matmul, wavg_broadcast, wavg_einsum32, wavg_loop],
    "ex-01-3": [weights_matmul, weights_einsum, weights_loop],
    "ex-01-4": [layer_composed, layer_inline, layer_list],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def sm_overflow(scores, temperature=1.0):
    e = np.exp(np.asarray(scores) / temperature)
    return e / np.sum(e, axis=-1, keepdims=True)


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


def sm_unnormalised(scores, temperature=1.0):
    x = np.asarray(scores) / temperature
    return np.exp(x - x.max(axis=-1, keepdims=True))


def wavg_mean(weights, values):
    return np.mean(values, axis=0)


def wavg_features(weights, values):
    return np.sum(np.asarray(values) * np.asarray(weights), axis=0)


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


def layer_negated(query, keys, values, temperature=1.0):
    w = softmax_t_plain(-(np.asarray(keys) @ np.asarray(query)) / temperature)
    return w @ np.asarray(values), w


WRONG = {
    "ex-01-1": {
        "overflow": sm_overflow, "global-max": sm_global_max, "temperature-multiplied": sm_times_t,
        "temperature-ignored": sm_no_t, "wrong-axis": sm_axis0, "whole-array": sm_whole,
        "plain-normalisation": sm_plain, "no-keepdims": sm_no_keepdims, "not-normalised": sm_unnormalised,
    },
    "ex-01-2": {
        "unweighted-mean": wavg_mean, "weights-on-features": wavg_features, "sum-over-features": wavg_axis1,
        "mean-not-sum": wavg_mean_weighted, "no-sum": wavg_no_sum,
    },
    "ex-01-3": {
        "raw-scores": [w_raw, w_raw_no_t], "negated": w_negated,
        "temperature-multiplied": w_times_t, "temperature-ignored": w_no_t, "cosine": w_cosine,
        "not-normalised": w_unnormalised,
    },
    "ex-01-4": {
        "swapped-return": layer_swapped, "averaged-keys": layer_keys, "unweighted-output": layer_mean,
        "raw-score-average": layer_raw, "temperature-multiplied": layer_times_t,
        "temperature-ignored": layer_no_t, "negated": layer_negated,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(1, CORRECT, WRONG)
