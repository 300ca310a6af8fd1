"""Chapter 2 checks: correct answers pass, each catalogued mistake is named, look-alikes get the
plain message, stubs are not attempted."""

import math

import numpy as np
import pytest

from attnbook.checks import EXERCISES
from checkkit import failure, make_tests
from test_checks_ch01 import check_look_alike, look_alike_params

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


def cos_eps(query, keys):
    """A small epsilon against zero vectors (the text says there are none): still right."""
    q = query / (np.linalg.norm(query, axis=-1, keepdims=True) + 1e-9)
    k = keys / (np.linalg.norm(keys, axis=-1, keepdims=True) + 1e-9)
    return q @ k.T


def add_broadcast(query, keys, w_q, w_k, v):
    q = np.asarray(query) @ w_q
    k = np.asarray(keys) @ w_k
    return np.tanh(q[..., None, :] + k) @ v


def add_concat(query, keys, w_q, w_k, v):
    """Bahdanau's own form: one matrix W on the concatenation [q; k], W = [w_q; w_k]."""
    query, keys = np.atleast_2d(query), np.asarray(keys)
    n_q, n_k = len(query), len(keys)
    pairs = np.concatenate([np.repeat(query[:, None, :], n_k, axis=1),
                            np.repeat(keys[None, :, :], n_q, axis=0)], axis=-1)   # (n_q, n_k, d_q + d_k)
    return np.tanh(pairs @ np.concatenate([w_q, w_k])) @ v                         # (n_q, n_k)


def add_concat_one_or_many(query, keys, w_q, w_k, v):
    scores = add_concat(query, keys, w_q, w_k, v)
    return scores[0] if np.ndim(query) == 1 else scores


def add_loops(query, keys, w_q, w_k, v):
    def score(q, k):
        hidden = [math.tanh(sum(q[i] * w_q[i, j] for i in range(len(q)))
                            + sum(k[i] * w_k[i, j] for i in range(len(k)))) for j in range(len(v))]
        return sum(h * a for h, a in zip(hidden, v))

    if np.ndim(query) == 1:
        return np.array([score(query, k) for k in keys])
    return np.array([[score(q, k) for k in keys] for q in query])


def add_einsum32(query, keys, w_q, w_k, v):
    q = np.einsum("...d,dh->...h", np.float32(query), np.float32(w_q))
    k = np.einsum("kd,dh->kh", np.float32(keys), np.float32(w_k))
    return np.einsum("...kh,h->...k", np.tanh(np.expand_dims(q, -2) + k), np.float32(v))


CORRECT = {
    "ex-02-1": [cos_keepdims, cos_einsum32, cos_loops, cos_eps],
    "ex-02-2": [lookup_matmul, lookup_einsum32, lookup_batched],
    "ex-02-3": [nw_softmax, nw_shift_by_min_distance, nw_list],
    "ex-02-4": [hard_argmax, hard_loop, hard_take32],
    "ex-02-5": [add_broadcast, add_concat_one_or_many, add_loops, add_einsum32],
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


def cos_no_keepdims(query, keys):
    return (query / np.linalg.norm(query, axis=-1)) @ (keys / np.linalg.norm(keys, axis=-1)).T


def lk_sqrt_d(query, keys, values, temperature=1.0):
    scores = np.asarray(query) @ np.asarray(keys).T / np.sqrt(np.shape(keys)[-1])
    w = softmax_rows(scores / temperature)
    return w @ values, w


def nw_d2l_weight(x_query, x_keys, y_values, width):
    """d2l's learned kernel, with the width where its w goes: -((x - x_i) * w)**2 / 2."""
    d = np.asarray(x_query)[:, None] - np.asarray(x_keys)
    w = softmax_rows(-((d * width) ** 2) / 2)
    return w @ y_values, w


def nw_precedence(x_query, x_keys, y_values, width):
    """The brackets forgotten: / 2 * width**2 multiplies by width**2."""
    d = np.asarray(x_query)[:, None] - np.asarray(x_keys)
    w = softmax_rows(-d**2 / 2 * width**2)
    return w @ y_values, w


def hl_flat_argmax(query, keys, values):
    return values[np.argmax(query @ keys.T)]


def add_no_tanh(query, keys, w_q, w_k, v):
    return ((np.asarray(query) @ w_q)[..., None, :] + keys @ w_k) @ v


def add_tanh_each(query, keys, w_q, w_k, v):
    return (np.tanh(np.asarray(query) @ w_q)[..., None, :] + np.tanh(keys @ w_k)) @ v


def add_tanh_last(query, keys, w_q, w_k, v):
    return np.tanh(((np.asarray(query) @ w_q)[..., None, :] + keys @ w_k) @ v)


def add_multiplicative(query, keys, w_q, w_k, v):
    """Luong's 'general' score, projected on both sides."""
    return (np.asarray(query) @ w_q) @ (keys @ w_k).T


def add_paired(query, keys, w_q, w_k, v):
    return np.tanh(np.asarray(query) @ w_q + keys @ w_k) @ v


def add_keys_first(query, keys, w_q, w_k, v):
    q = np.atleast_2d(query) @ w_q                       # (n_q, h)
    k = keys @ w_k                                        # (n_k, h)
    scores = np.tanh(k[:, None, :] + q[None, :, :]) @ v   # (n_k, n_q)
    return scores[:, 0] if np.ndim(query) == 1 else scores


def add_swapped(query, keys, w_q, w_k, v):
    return np.tanh((np.asarray(query) @ w_k)[..., None, :] + keys @ w_q) @ v


def add_columns(query, keys, w_q, w_k, v):
    """nn.Linear's habit: the weight matrix on the left of a column vector."""
    q = (w_q @ np.asarray(query).T).T
    k = (w_k @ np.asarray(keys).T).T
    return np.tanh(q[..., None, :] + k) @ v


def add_no_v(query, keys, w_q, w_k, v):
    return np.tanh((np.asarray(query) @ w_q)[..., None, :] + keys @ w_k).sum(axis=-1)


def add_softmax(query, keys, w_q, w_k, v):
    return softmax_rows(add_broadcast(query, keys, w_q, w_k, v))


WRONG = {
    "ex-02-1": {
        "dot-product": cos_dot, "keys-not-normalised": cos_keys_raw, "query-not-normalised": cos_query_raw,
        "norm-without-keepdims": cos_no_keepdims,
        "norm-over-wrong-axis": [cos_axis0, cos_axis0_keys_only], "norm-of-whole-array": cos_whole,
        "squared-norm": cos_squared, "keys-times-queries": cos_transposed,
    },
    "ex-02-2": {
        "softmax-over-queries": lk_axis0, "temperature-multiplied": lk_times, "temperature-ignored": lk_no_t,
        "swapped-return": lk_swapped, "averaged-keys": lk_keys, "not-normalised": lk_exp,
        "cosine-scores": lk_cosine, "scaled-by-sqrt-d": lk_sqrt_d,
    },
    "ex-02-3": {
        "softmax-over-queries": nw_axis0,
        "width-not-squared": nw_scores(lambda d, w: -d**2 / (2 * w)),
        "missing-half": nw_scores(lambda d, w: -(d / w) ** 2),
        "multiplied-by-width": [nw_d2l_weight, nw_precedence],
        "distance-not-squared": nw_scores(lambda d, w: -np.sqrt(d**2) / (2 * w**2)),
        "sign": nw_scores(lambda d, w: d**2 / (2 * w**2)),
        "width-ignored": nw_scores(lambda d, w: -0.5 * d**2),
        "not-normalised": nw_kernel_values, "underflow": nw_unstable, "averaged-x": nw_x,
        "swapped-return": nw_swapped,
    },
    "ex-02-4": {
        "returned-key": hl_key, "returned-index": hl_index, "most-dissimilar": hl_argmin,
        "argmax-over-queries": hl_axis0, "argmax-without-axis": hl_flat_argmax, "cosine": hl_cosine,
        "soft-average": hl_soft,
    },
    "ex-02-5": {
        "no-tanh": add_no_tanh, "tanh-of-each": add_tanh_each, "tanh-last": add_tanh_last,
        "multiplicative": add_multiplicative, "paired-rows": add_paired, "keys-times-queries": add_keys_first,
        "swapped-projections": add_swapped, "column-convention": add_columns, "no-v": add_no_v,
        "softmax-applied": add_softmax,
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


# --------------------------------------------------------------------------- look-alikes
# Wrong answers a learner writes that show a catalogued mistake on some case but not on every case
# where the mistake changes the result: they must not be given that mistake's name.


def cos_one_query_raw(query, keys):
    """Normalises a batch of queries, but forgets the single query."""
    query = np.asarray(query, dtype=float)
    if query.ndim == 2:
        query = query / np.linalg.norm(query, axis=-1, keepdims=True)
    return query @ (keys / np.linalg.norm(keys, axis=-1, keepdims=True)).T


def cos_query_no_keepdims(query, keys):
    """keepdims on the keys, not on the query: right for one query, a broadcast error for a batch."""
    q = query / np.linalg.norm(query, axis=-1)
    return q @ (keys / np.linalg.norm(keys, axis=-1, keepdims=True)).T


def lk_clamped_t(query, keys, values, temperature=1.0):
    return lookup_matmul(query, keys, values, max(temperature, 1.0))


def lk_keys_when_square(query, keys, values, temperature=1.0):
    """Two variables mixed up: averages the keys whenever they have the values' shape."""
    _, w = lookup_matmul(query, keys, values, temperature)
    return w @ (keys if np.shape(keys) == np.shape(values) else values), w


def hl_flat_when_square(query, keys, values):
    """Indexes the flattened scores with the best column: right for one query."""
    scores = np.asarray(query) @ np.asarray(keys).T
    return values[np.argmax(scores.reshape(-1)) % scores.shape[-1]]


def add_paired_when_equal(query, keys, w_q, w_k, v):
    """Pairs query i with key i whenever there are as many queries as keys."""
    q, k = np.asarray(query) @ w_q, keys @ w_k
    if np.ndim(query) == 2 and len(q) == len(k):
        return np.tanh(q + k) @ v
    return np.tanh(q[..., None, :] + k) @ v


def add_rows_as_columns(query, keys, w_q, w_k, v):
    """Transposes the weights whenever they are square ("to be safe"): right everywhere else."""
    if w_q.shape[0] == w_q.shape[1] == w_k.shape[0]:
        w_q, w_k = w_q.T, w_k.T
    return add_broadcast(query, keys, w_q, w_k, v)


LOOK_ALIKES = {
    "ex-02-1": [("query-not-normalised", cos_one_query_raw), ("norm-without-keepdims", cos_query_no_keepdims)],
    "ex-02-2": [("temperature-ignored", lk_clamped_t), ("averaged-keys", lk_keys_when_square)],
    "ex-02-3": [],
    "ex-02-4": [("argmax-without-axis", hl_flat_when_square)],
    "ex-02-5": [("paired-rows", add_paired_when_equal), ("column-convention", add_rows_as_columns)],
}


def nw_forgot_brackets(x_query, x_keys, y_values, width):
    d = np.asarray(x_query)[:, None] - np.asarray(x_keys)
    w = softmax_rows(-d**2 / 2 * width)
    return w @ y_values, w


def nw_no_keepdims(x_query, x_keys, y_values, width):
    k = np.exp(-(np.asarray(x_query)[:, None] - x_keys) ** 2 / (2 * width**2))
    w = k / k.sum(axis=1)
    return w @ y_values, w


def nw_clipped_queries(x_query, x_keys, y_values, width):
    """Pulls far queries back into the keys' range to avoid the NaN."""
    xq = np.clip(x_query, np.min(x_keys), np.max(x_keys))
    k = np.exp(-(xq[:, None] - x_keys) ** 2 / (2 * width**2))
    w = k / k.sum(axis=1, keepdims=True)
    return w @ y_values, w


# Other wrong answers that no catalogued mistake describes: the plain message.
PLAIN = {
    "ex-02-3": [nw_forgot_brackets, nw_no_keepdims, nw_clipped_queries],
}


def test_every_exercise_has_look_alikes_or_plain_answers():
    assert set(LOOK_ALIKES) == {ex_id for ex_id, ex in EXERCISES.items() if ex.chapter == 2}
    assert all(LOOK_ALIKES[ex_id] or PLAIN.get(ex_id) for ex_id in LOOK_ALIKES)


@pytest.mark.parametrize("ex_id,key,index", look_alike_params(LOOK_ALIKES))
def test_a_look_alike_gets_the_plain_message(ex_id, key, index):
    check_look_alike(LOOK_ALIKES, ex_id, key, index)


@pytest.mark.parametrize("ex_id,index", [(ex_id, i) for ex_id, listed in PLAIN.items()
                                         for i in range(len(listed))])
def test_an_unknown_mistake_gets_the_plain_message(ex_id, index):
    exc = failure(ex_id, PLAIN[ex_id][index])
    assert exc.mistake is None, exc.message


def test_the_temperature_is_passed_by_its_name():
    def renamed(query, keys, values, t=1.0):
        return lookup_matmul(query, keys, values, t)

    exc = failure("ex-02-2", renamed)
    assert exc.mistake is None and "temperature" in exc.message
