"""Chapter 3, scaled dot-product attention: softmax(Q K^T / sqrt(d_k)) V,
with masks.

Masks are boolean and **True where attention is allowed**, the same meaning
as in ``torch.nn.functional.scaled_dot_product_attention``. A query row
whose keys are all masked gets weights of 0 and an output of 0 (as
PyTorch's own function gives), not NaN.

Every function here is shown, line for line, in
``chapters/03_scaled_dot_product.ipynb``.
"""

import math

import numpy as np
import torch

from .highlighter import softmax


def attention_numpy(q, k, v):
    """Scaled dot-product attention in NumPy, without masks; returns
    (output, weights).

    q: (..., L_q, d_k), k: (..., L_k, d_k), v: (..., L_k, d_v).
    """
    d_k = q.shape[-1]
    # (..., L_q, d_k) @ (..., d_k, L_k) -> (..., L_q, L_k)
    scores = q @ np.swapaxes(k, -2, -1) / np.sqrt(d_k)
    weights = softmax(scores, axis=-1)    # (..., L_q, L_k): rows sum to 1
    # (..., L_q, L_k) @ (..., L_k, d_v) -> (..., L_q, d_v)
    return weights @ v, weights


def scaled_dot_product_attention(q, k, v, mask=None):
    """Attention of queries ``q`` over keys ``k`` and values ``v``;
    returns (output, weights).

    q: (..., L_q, d_k), k: (..., L_k, d_k), v: (..., L_k, d_v); mask:
    bool, broadcastable to (..., L_q, L_k), True where a query may look
    at a key.
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., L_q, L_k)
    if mask is not None:
        # forbidden keys -> -inf, (..., L_q, L_k)
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)            # (..., L_q, L_k)
    if mask is not None:
        weights = weights.nan_to_num(0.0)  # fully masked rows: 0/0 -> 0
    return weights @ v, weights       # (..., L_q, d_v), (..., L_q, L_k)


def causal_mask(n, device=None):
    """(n, n) bool, True on and below the diagonal: position i may look at
    positions 0..i."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def padding_mask(lengths, max_len):
    """(batch, max_len) bool, True at real tokens: position j of sequence
    b is real if j < lengths[b]."""
    lengths = torch.as_tensor(lengths)
    positions = torch.arange(max_len, device=lengths.device)  # (max_len,)
    return positions[None, :] < lengths[:, None]      # (batch, max_len)


def causal_padding_mask(lengths, max_len):
    """(batch, max_len, max_len) bool for self-attention over a padded
    batch that must not look ahead: query i of sequence b may look at key
    j if j <= i (causal) and j < lengths[b] (a real token)."""
    # (batch, 1, max_len): one row of tape, shared by every query
    keys_real = padding_mask(lengths, max_len)[:, None, :]
    # (max_len, max_len): the same triangle for every sequence
    lower = causal_mask(max_len, device=keys_real.device)
    return keys_real & lower       # (batch, max_len, max_len), broadcast
