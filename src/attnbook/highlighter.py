"""Chapter 1, the smart highlighter: scores become weights, weights become
an average.

Every function here is shown, line for line, in
``chapters/01_smart_highlighter.ipynb``; a test keeps the two identical.
"""

import numpy as np


def softmax(x, axis=-1):
    """Turn scores into positive weights that sum to 1 along ``axis``.

    Subtracting the largest score first changes nothing mathematically
    (softmax does not move when every score moves by the same amount), but
    it keeps ``np.exp`` from overflowing when scores are large.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)        # integer scores become floats
    # (..., n): the largest score along the axis is now 0
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)                 # (..., n): every entry in (0, 1]
    # (..., n): sums to 1 along the axis
    return e / e.sum(axis=axis, keepdims=True)


def weighted_average(weights, values):
    """Average the rows of ``values`` using ``weights`` that sum to 1."""
    weights = np.asarray(weights)  # (n,) or (m, n): one weight per word
    values = np.asarray(values)    # (n, d): one vector per word
    return weights @ values        # (d,) or (m, d): the weighted rows added


def highlighter_layer(query, keys, values, temperature=1.0):
    """The whole highlighter: score every word, turn the scores into
    weights, average the values.

    Returns ``(output, weights)``: the output vector of size ``d_v`` and
    the ``n`` weights that say how strongly each word was highlighted.
    """
    # (n, d_k) @ (d_k,) -> (n,): one score per word
    scores = np.asarray(keys) @ np.asarray(query)
    weights = softmax(scores / temperature)     # (n,): positive, sum to 1
    # (n,) @ (n, d_v) -> (d_v,)
    output = weighted_average(weights, values)
    return output, weights
