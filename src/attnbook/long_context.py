"""Chapter 8, long contexts: attention that does not look at every pair of
words.

- :func:`sliding_window_mask`: each word may look at itself and the
  ``window - 1`` words before it (True = may attend, the book's meaning),
  as in Longformer's local attention.
- :func:`local_attention`: the same attention computed band by band, so that
  it never builds the (L, L) matrix: time and memory grow like
  ``L * window`` instead of ``L * L``.
- :func:`linear_attention`: Katharopoulos et al. (2020), a feature map
  instead of the softmax, so that keys and values can be summed once and
  shared by every query.

Shown in ``chapters/08_attention_at_scale.ipynb``.
"""

import math

import torch
import torch.nn.functional as F


def sliding_window_mask(n, window, device=None):
    """(n, n) bool, True where query i may look at key j: j <= i and
    i - j < window."""
    i = torch.arange(n, device=device)[:, None]   # (n, 1): query positions
    j = torch.arange(n, device=device)[None, :]   # (1, n): key positions
    # (n, n): the word itself and the window - 1 words before it
    return (j <= i) & (i - j < window)


def local_attention(q, k, v, window):
    """Causal sliding-window attention of q (..., L, d_k), k (..., L, d_k),
    v (..., L, d_v), computed band by band; returns
    (output (..., L, d_v), weights (..., L, window)).

    Row i of the weights holds the keys i - window + 1, ..., i (oldest
    first); slots before the start of the sequence get weight 0. Equals
    full attention with ``sliding_window_mask``.
    """
    length, d_k = q.size(-2), q.size(-1)
    pad = window - 1
    k = F.pad(k, (0, 0, pad, 0))          # (..., pad + L, d_k): zeros first
    v = F.pad(v, (0, 0, pad, 0))          # (..., pad + L, d_v)
    k_windows = k.unfold(-2, window, 1)   # (..., L, d_k, window): a view
    v_windows = v.unfold(-2, window, 1)   # (..., L, d_v, window)
    # (..., L, window)
    scores = (q.unsqueeze(-2) @ k_windows).squeeze(-2) / math.sqrt(d_k)
    slot = torch.arange(window, device=q.device)             # (window,)
    start = pad - torch.arange(length, device=q.device)      # (L,)
    real = slot[None, :] >= start[:, None]                   # (L, window)
    # padded slots get no weight
    scores = scores.masked_fill(~real, float("-inf"))
    # (..., L, window): each row sums to 1
    weights = torch.softmax(scores, dim=-1)
    # (..., L, d_v)
    output = (v_windows @ weights.unsqueeze(-1)).squeeze(-1)
    return output, weights


def linear_attention(q, k, v, causal=False):
    """Linear attention (Katharopoulos et al. 2020) with the feature map
    phi(x) = elu(x) + 1.

    q (..., L_q, d_k), k (..., L_k, d_k), v (..., L_k, d_v) -> output
    (..., L_q, d_v):
    output_i = phi(q_i) . sum_j phi(k_j) v_j^T  /  phi(q_i) . sum_j phi(k_j).
    With ``causal=True`` (L_q = L_k) query i sums only over the keys j <= i.
    No (L_q, L_k) matrix is ever built.
    """
    phi_q = F.elu(q) + 1                  # (..., L_q, d_k), every entry > 0
    phi_k = F.elu(k) + 1                  # (..., L_k, d_k)
    if not causal:
        # keys and values, summed once
        kv = phi_k.transpose(-2, -1) @ v             # (..., d_k, d_v)
        z = phi_k.sum(dim=-2)                        # (..., d_k): the keys
        numerator = phi_q @ kv                       # (..., L_q, d_v)
        denominator = phi_q @ z.unsqueeze(-1)        # (..., L_q, 1)
        return numerator / denominator               # (..., L_q, d_v)
    # running sums over the keys j <= i: (..., L, d_k, d_v)
    kv = torch.cumsum(phi_k.unsqueeze(-1) * v.unsqueeze(-2), dim=-3)
    z = torch.cumsum(phi_k, dim=-2)                  # (..., L, d_k)
    numerator = (phi_q.unsqueeze(-2) @ kv).squeeze(-2)      # (..., L, d_v)
    denominator = (phi_q * z).sum(dim=-1, keepdim=True)     # (..., L, 1)
    return numerator / denominator                          # (..., L, d_v)
