"""Chapter 2, similarity and soft lookup: attention as a dictionary you look
up softly.

A query is scored against every key (dot product or cosine), the scores
become weights (a softmax with a temperature), and the weights mix the
values. With a Gaussian kernel on 1-D inputs the same recipe is
Nadaraya-Watson kernel regression.

Every function here is shown, line for line, in
``chapters/02_soft_lookup.ipynb``; a test keeps the two identical. Each one
takes one query ``(d,)`` or a batch of queries ``(n_q, d)``; the keys are
``(n_k, d)`` and the values ``(n_k, d_v)``.
"""

import numpy as np

from .highlighter import softmax


def dot_scores(query, keys):
    """Dot product of the query (or each query) with every key.

    ``query`` is ``(d,)`` or ``(n_q, d)``, ``keys`` is ``(n_k, d)``;
    returns ``(n_k,)`` or ``(n_q, n_k)``: one score per key, for each query.
    """
    query = np.asarray(query)  # (d,) or (n_q, d)
    keys = np.asarray(keys)    # (n_k, d)
    # (d,) @ (d, n_k) -> (n_k,), or (n_q, d) @ (d, n_k) -> (n_q, n_k)
    return query @ keys.T


def cosine_scores(query, keys):
    """Cosine of the angle between the query (or each query) and every
    key, in [-1, 1].

    The dot product of unit vectors: the lengths of the query and of the
    keys no longer count, only their directions. Shapes as in
    :func:`dot_scores`.
    """
    query = np.asarray(query, dtype=float)  # (d,) or (n_q, d)
    keys = np.asarray(keys, dtype=float)    # (n_k, d)
    # (d,) or (n_q, d): every query of length 1
    unit_query = query / np.linalg.norm(query, axis=-1, keepdims=True)
    # (n_k, d): every key of length 1
    unit_keys = keys / np.linalg.norm(keys, axis=-1, keepdims=True)
    return dot_scores(unit_query, unit_keys)  # (n_k,) or (n_q, n_k)


def soft_lookup(query, keys, values, temperature=1.0, score=dot_scores):
    """Look the query up softly: every key matches a little, by its softmax
    weight.

    ``score`` is :func:`dot_scores` (the default) or :func:`cosine_scores`.
    Returns ``(output, weights)``: output ``(d_v,)`` or ``(n_q, d_v)``,
    weights ``(n_k,)`` or ``(n_q, n_k)``, each query's weights summing to 1
    over the keys.
    """
    scores = score(query, keys)  # (n_k,) or (n_q, n_k)
    # the same shape: each query's weights sum to 1 over the keys
    weights = softmax(scores / temperature, axis=-1)
    # (n_k,) @ (n_k, d_v) -> (d_v,), or (n_q, n_k) @ (n_k, d_v) -> (n_q, d_v)
    output = weights @ np.asarray(values)
    return output, weights


def hard_lookup(query, keys, values, score=dot_scores):
    """The exact dictionary lookup: the value of the best-matching key, and
    nothing else.

    Returns ``(d_v,)`` for one query, ``(n_q, d_v)`` for a batch: the limit
    of :func:`soft_lookup` as the temperature goes to 0.
    """
    # () or (n_q,): the index of the best key, for each query
    best = np.argmax(score(query, keys), axis=-1)
    return np.asarray(values)[best]  # (d_v,) or (n_q, d_v)


def gaussian_kernel_weights(x_query, x_keys, width):
    """Attention weights of 1-D queries over 1-D keys with a Gaussian
    kernel of this ``width``.

    The score is minus the squared distance over ``2 * width**2``; a
    softmax over the keys turns the kernel values into weights. ``x_query``
    is ``(n_q,)`` (or a number), ``x_keys`` is ``(n_k,)``; returns
    ``(n_q, n_k)`` (or ``(n_k,)``).
    """
    x_query = np.asarray(x_query, dtype=float)  # (n_q,) or ()
    x_keys = np.asarray(x_keys, dtype=float)    # (n_k,)
    # (n_q, 1) - (n_k,) -> (n_q, n_k)
    distance = x_query[..., None] - x_keys
    # (n_q, n_k): 0 at the query's own position, negative elsewhere
    scores = -distance**2 / (2 * width**2)
    # (n_q, n_k): each row sums to 1 over the keys
    return softmax(scores, axis=-1)


def nadaraya_watson(x_query, x_keys, y_values, width):
    """Nadaraya-Watson kernel regression: predict each query's y as a
    weighted average of ``y_values``.

    Returns ``(predictions, weights)``: predictions ``(n_q,)`` (for values
    ``(n_k,)``) and the weights ``(n_q, n_k)`` of
    :func:`gaussian_kernel_weights`.
    """
    # (n_q, n_k)
    weights = gaussian_kernel_weights(x_query, x_keys, width)
    # (n_q, n_k) @ (n_k,) -> (n_q,)
    predictions = weights @ np.asarray(y_values, dtype=float)
    return predictions, weights
