"""attnbook.similarity: shapes for one query and a batch, limits of the temperature and the width."""

import numpy as np
import pytest

from attnbook.highlighter import softmax
from attnbook.similarity import (cosine_scores, dot_scores, gaussian_kernel_weights, hard_lookup,
                                 nadaraya_watson, soft_lookup)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return {"q": rng.normal(size=4), "Q": rng.normal(size=(3, 4)), "K": rng.normal(size=(6, 4)),
            "V": rng.normal(size=(6, 5))}


def test_scores_shapes_and_batch_rows(data):
    q, Q, K = data["q"], data["Q"], data["K"]
    for score in (dot_scores, cosine_scores):
        assert score(q, K).shape == (6,)
        assert score(Q, K).shape == (3, 6)
        assert np.allclose(score(Q, K)[1], score(Q[1], K))   # a batch is the queries one by one


def test_dot_scores_values(data):
    q, K = data["q"], data["K"]
    assert np.allclose(dot_scores(q, K), [np.dot(q, k) for k in K])


def test_cosine_is_in_range_and_ignores_lengths(data):
    Q, K = data["Q"], data["K"]
    cos = cosine_scores(Q, K)
    assert np.all(np.abs(cos) <= 1 + 1e-12)
    lengths = np.array([0.1, 1.0, 5.0, 2.0, 0.5, 30.0])[:, None]
    assert np.allclose(cosine_scores(7.0 * Q, lengths * K), cos)
    assert np.allclose(cosine_scores(K, K).diagonal(), 1.0)
    assert np.allclose(dot_scores(Q, lengths * K), dot_scores(Q, K) * lengths.T)  # dot products do scale


def test_long_key_wins_the_dot_product_not_the_cosine():
    query = np.array([1.0, 0.0])
    keys = np.array([[0.9, 0.1], [3.0, 2.5]])          # short and aligned, long and off to the side
    assert dot_scores(query, keys).argmax() == 1
    assert cosine_scores(query, keys).argmax() == 0
    values = np.array([[1.0], [2.0]])
    assert hard_lookup(query, keys, values) == 2.0
    assert hard_lookup(query, keys, values, score=cosine_scores) == 1.0


def test_soft_lookup_shapes_and_rows(data):
    q, Q, K, V = data["q"], data["Q"], data["K"], data["V"]
    out, w = soft_lookup(q, K, V)
    assert out.shape == (5,) and w.shape == (6,) and np.isclose(w.sum(), 1)
    out, w = soft_lookup(Q, K, V, temperature=0.5)
    assert out.shape == (3, 5) and w.shape == (3, 6) and np.allclose(w.sum(-1), 1)
    assert np.allclose(w, softmax(Q @ K.T / 0.5))
    assert np.allclose(out, w @ V)
    _, w_cos = soft_lookup(Q, K, V, score=cosine_scores)
    assert np.allclose(w_cos, softmax(cosine_scores(Q, K)))


def test_temperature_limits(data):
    Q, K, V = data["Q"], data["K"], data["V"]
    cold, w = soft_lookup(Q, K, V, temperature=1e-6)
    assert np.allclose(cold, hard_lookup(Q, K, V)) and np.allclose(w.max(-1), 1)
    hot, w = soft_lookup(Q, K, V, temperature=1e8)
    assert np.allclose(hot, V.mean(0)) and np.allclose(w, 1 / 6)


def test_hard_lookup_shapes(data):
    q, Q, K, V = data["q"], data["Q"], data["K"], data["V"]
    assert hard_lookup(q, K, V).shape == (5,)
    assert hard_lookup(Q, K, V).shape == (3, 5)
    assert np.array_equal(hard_lookup(Q, K, V), V[(Q @ K.T).argmax(1)])


def test_gaussian_kernel_weights():
    x_keys = np.array([0.0, 1.0, 2.0, 4.0])
    x_query = np.array([0.5, 3.0, 100.0])
    w = gaussian_kernel_weights(x_query, x_keys, width=0.8)
    assert w.shape == (3, 4) and np.allclose(w.sum(-1), 1)
    kernel = np.exp(-(x_query[:, None] - x_keys) ** 2 / (2 * 0.8**2))
    assert np.allclose(w[:2], kernel[:2] / kernel[:2].sum(-1, keepdims=True))
    assert np.allclose(w[2], [0, 0, 0, 1])               # far away: no NaN, the nearest key takes all
    assert gaussian_kernel_weights(1.0, x_keys, 0.5).shape == (4,)
    assert np.isclose(w[0, 0], w[0, 1])                   # halfway between two keys: equal weights


def test_nadaraya_watson_limits():
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0, 5, 20))
    y = np.sin(x) + rng.normal(0, 0.1, 20)
    pred, w = nadaraya_watson(x, x, y, width=1e-3)       # tiny width: each point predicts its own y
    assert pred.shape == (20,) and w.shape == (20, 20)
    assert np.allclose(pred, y) and np.allclose(w, np.eye(20))
    pred, _ = nadaraya_watson(np.linspace(0, 5, 7), x, y, width=1e4)   # huge width: the mean
    assert np.allclose(pred, y.mean())


def test_kernel_regression_is_a_dot_product_lookup():
    """The Gaussian kernel is a soft lookup with query (x, 1), keys (x_i, -x_i**2 / 2), temperature width**2."""
    rng = np.random.default_rng(2)
    xq, xk, y = rng.uniform(0, 5, 6), rng.uniform(0, 5, 9), rng.normal(size=9)
    width = 0.6
    pred, w = nadaraya_watson(xq, xk, y, width)
    queries = np.stack([xq, np.ones_like(xq)], axis=1)     # (6, 2)
    keys = np.stack([xk, -xk**2 / 2], axis=1)              # (9, 2)
    out, w_lookup = soft_lookup(queries, keys, y[:, None], temperature=width**2)
    assert np.allclose(w, w_lookup) and np.allclose(pred, out[:, 0])
