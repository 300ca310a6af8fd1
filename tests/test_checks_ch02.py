"""Chapter 2 checks: correct answers pass, each catalogued mistake is named, stubs are not attempted."""

import math

import numpy as np

from checkkit import failure, make_tests

# --------------------------------------------------------------------------- correct answers


def softmax_rows(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cos_keepdims(query, keys):
    q = query / np.linalg.norm(query, axis=-1, keepdims=True)
    k = keys / np.linalg.norm(keys, axis=-1, keepdims=True)
    return q @ k.T


def cos_einsum32(query, keys):
    q, k = np.asarray(query, np.float32), np.asarray(keys, np.float32)
    dots = np.einsum("...d,kd->...k", q, k)
    return dots / np.sqrt((q * q).sum(-1))[..., None] / np.sqrt((k * k).sum(-1))


def cos_loops(query, keys):
    """Query by query, key by key, in plain Python."""
    def cos(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a)) / math.sqrt(sum(y * y for y in b))

    query = np.asarray(query, dtype=float)
    if query.ndim == 1:
        return np.array([cos(query, k) for k in keys])
    return np.array([[cos(q, k) for k in keys] for q in query])


def lookup_matmul(query, keys, values, temperature=1.0):
    weights = softmax_rows(np.asarray(query) @ np.asarray(keys).T / temperature)
    return weights @ np.asarray(values), weights


def lookup_einsum32(query, keys, values, temperature=1.0):
    q, k, v = (np.asarray(a, np.float32) for a in (query, keys, values))
    scores = np.einsum("...d,kd->...k", q, k) / np.float32(temperature)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    w = e / e.sum(-1, keepdims=True)
    return np.einsum("...k,kv->...v", w, v), w


def lookup_batched(query, keys, values, temperature=1.0):
    """Always work on a batch; squeeze at the end for one query."""
    q = np.atleast_2d(query)
    out, w = lookup_matmul(q, keys, values, temperature)
    return (out[0], w[0]) if np.ndim(query) == 1 else (out, w)


def nw_softmax(x_query, x_keys, y_values, width):
    d = np.asarray(x_query)[:, None] - np.asarray(x_keys)[None, :]
    weights = softmax_rows(-d**2 / (2 * width**2))
    return weights @ y_values, weights


def nw_shift_by_min_distance(x_query, x_keys, y_values, width):
    """Kernel values divided by their sum, made safe by shifting with the nearest key's distance."""
    sq = (np.subtract.outer(np.asarray(x_query, float), np.asarray(x_keys, float))) ** 2
    sq = sq - sq.min(axis=1, keepdims=True)
    k = np.exp(-sq / 2 / width / width)
    weights = k / k.sum(axis=1, keepdims=True)
    return np.einsum("qk,k->q", weights, y_values), weights


def nw_list(x_query, x_keys, y_values, width):
    weights = []
    for xq in x_query:
        scores = [-(xq - xk) ** 2 / (2 * width**2) for xk in x_keys]
        top = max(scores)
        e = [math.exp(s - top) for s in scores]
        weights.append([v / sum(e) for v in e])
    weights = np.array(weights)
    return list(weights @ np.asarray(y_values, float)), weights


def hard_argmax(query, keys, values):
    return np.asarray(values)[np.argmax(np.asarray(query) @ np.asarray(keys).T, axis=-1)]


def hard_loop(query, keys, values):
    query = np.asarray(query)
    if query.ndim == 1:
        return values[int(np.argmax([query @ k for k in keys]))]
    return np.stack([hard_loop(q, keys, values) for q in query])


def hard_take32(query, keys, values):
    best = np.einsum("...d,kd->...k", np.float32(query), np.float32(keys)).argmax(-1)
    return np.take(np.float32(values), best, axis=0)


CORRECT = {
    "ex-02-1": [cos_keepdims, cos_einsum32, cos_loops],
    "ex-02-2": [lookup_matmul, lookup_einsum32, lookup_batched],
    "ex-02-3": [nw_softmax, nw_shift_by_min_distance, nw_list],
    "ex-02-4": [hard_argmax, hard_loop, hard_take32],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def cos_dot(query, keys):
    return query @ keys.T


def cos_keys_raw(query, keys):
    return (query / np.linalg.norm(query, axis=-1, keepdims=True)) @ keys.T


def cos_query_raw(query, keys):
    return query @ (keys / np.linalg.norm(keys, axis=-1, keepdims=True)).T


def cos_axis0(query, keys):
    return (query / np.linalg.norm(query, axis=0)) @ (keys / np.linalg.norm(keys, axis=0)).T


def cos_axis0_keys_only(query, keys):
    return (query / np.linalg.norm(query, axis=-1, keepdims=True)) @ (keys / np.linalg.norm(keys, axis=0)).T


def cos_whole(query, keys):
    return (query / np.linalg.norm(query)) @ (keys / np.linalg.norm(keys)).T


def cos_squared(query, keys):
    q = query / (query**2).sum(-1, keepdims=True)
    k = keys / (keys**2).sum(-1, keepdims=True)
    return q @ k.T


def cos_transposed(query, keys):
    return cos_keepdims(query, keys).T


def lk_axis0(query, keys, values, temperature=1.0):
    s = np.asarray(query) @ np.asarray(keys).T / temperature
    e = np.exp(s - s.max(axis=0, keepdims=True))
    w = e / e.sum(axis=0, keepdims=True)
    return w @ values, w


def lk_times(query, keys, values, temperature=1.0):
    return lookup_matmul(query, keys, values, 1.0 / temperature)


def lk_no_t(query, keys, values, temperature=1.0):
    return lookup_matmul(query, keys, values)


def lk_swapped(query, keys, values, temperature=1.0):
    out, w = lookup_matmul(query, keys, values, temperature)
    return w, out


def lk_keys(query, keys, values, temperature=1.0):
    _, w = lookup_matmul(query, keys, values, temperature)
    return w @ keys, w


def lk_exp(query, keys, values, temperature=1.0):
    w = np.exp(query @ keys.T / temperature)
    return w @ values, w


def lk_cosine(query, keys, values, temperature=1.0):
    w = softmax_rows(cos_keepdims(query, keys) / temperature)
    return w @ values, w


def nw_scores(score):
    def wrong(x_query, x_keys, y_values, width):
        d = np.asarray(x_query)[:, None] - np.asarray(x_keys)
        w = softmax_rows(score(d, width))
        return w @ y_values, w
    return wrong


def nw_axis0(x_query, x_keys, y_values, width):
    d = np.asarray(x_query)[:, None] - np.asarray(x_keys)
    s = -d**2 / (2 * width**2)
    e = np.exp(s - s.max(axis=0))
    w = e / e.sum(axis=0)
    return w @ y_values, w


def nw_kernel_values(x_query, x_keys, y_values, width):
    d = np.asarray(x_query)[:, None] - np.asarray(x_keys)
    k = np.exp(-d**2 / (2 * width**2))
    return k @ y_values, k


def nw_unstable(x_query, x_keys, y_values, width):
    d = np.asarray(x_query)[:, None] - np.asarray(x_keys)
    k = np.exp(-d**2 / (2 * width**2))
    w = k / k.sum(axis=1, keepdims=True)
    return w @ y_values, w


def nw_x(x_query, x_keys, y_values, width):
    _, w = nw_softmax(x_query, x_keys, y_values, width)
    return w @ x_keys, w


def nw_swapped(x_query, x_keys, y_values, width):
    p, w = nw_softmax(x_query, x_keys, y_values, width)
    return w, p


def hl_key(query, keys, values):
    return keys[np.argmax(query @ keys.T, axis=-1)]


def hl_index(query, keys, values):
    return np.argmax(query @ keys.T, axis=-1)


def hl_argmin(query, keys, values):
    return values[np.argmin(query @ keys.T, axis=-1)]


def hl_axis0(query, keys, values):
    return values[np.argmax(query @ keys.T, axis=0)]


def hl_cosine(query, keys, values):
    return values[np.argmax(cos_keepdims(query, keys), axis=-1)]


def hl_soft(query, keys, values):
    return lookup_matmul(query, keys, values)[0]


WRONG = {
    "ex-02-1": {
        "dot-product": cos_dot, "keys-not-normalised": cos_keys_raw, "query-not-normalised": cos_query_raw,
        "norm-over-wrong-axis": [cos_axis0, cos_axis0_keys_only], "norm-of-whole-array": cos_whole,
        "squared-norm": cos_squared, "keys-times-queries": cos_transposed,
    },
    "ex-02-2": {
        "softmax-over-queries": lk_axis0, "temperature-multiplied": lk_times, "temperature-ignored": lk_no_t,
        "swapped-return": lk_swapped, "averaged-keys": lk_keys, "not-normalised": lk_exp,
        "cosine-scores": lk_cosine,
    },
    "ex-02-3": {
        "softmax-over-queries": nw_axis0,
        "width-not-squared": nw_scores(lambda d, w: -d**2 / (2 * w)),
        "missing-half": nw_scores(lambda d, w: -(d / w) ** 2),
        "distance-not-squared": nw_scores(lambda d, w: -np.sqrt(d**2) / (2 * w**2)),
        "sign": nw_scores(lambda d, w: d**2 / (2 * w**2)),
        "width-ignored": nw_scores(lambda d, w: -0.5 * d**2),
        "not-normalised": nw_kernel_values, "underflow": nw_unstable, "averaged-x": nw_x,
        "swapped-return": nw_swapped,
    },
    "ex-02-4": {
        "returned-key": hl_key, "returned-index": hl_index, "most-dissimilar": hl_argmin,
        "argmax-over-queries": hl_axis0, "cosine": hl_cosine, "soft-average": hl_soft,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(2, CORRECT, WRONG)


def test_the_package_answers_are_refused():
    """The exercises ask for the functions of attnbook.similarity: calling them is refused, by name."""
    import attnbook.similarity as sim

    cases = {
        "ex-02-1": (lambda q, k: sim.cosine_scores(q, k), "attnbook.similarity.cosine_scores"),
        "ex-02-2": (lambda q, k, v, t=1.0: sim.soft_lookup(q, k, v, t), "attnbook.similarity.soft_lookup"),
        "ex-02-3": (lambda xq, xk, y, w: sim.nadaraya_watson(xq, xk, y, w), "attnbook.similarity.nadaraya_watson"),
        "ex-02-4": (lambda q, k, v: sim.hard_lookup(q, k, v), "attnbook.similarity.hard_lookup"),
    }
    for ex_id, (answer, name) in cases.items():
        exc = failure(ex_id, answer)
        assert exc.mistake == "forbidden-builtin" and name in exc.message
    weights_only = lambda xq, xk, y, w: (lambda a: (a @ y, a))(sim.gaussian_kernel_weights(xq, xk, w))  # noqa: E731
    assert failure("ex-02-3", weights_only).mistake == "forbidden-builtin"
