"""Chapter 4, self-attention: one sequence makes its own queries, keys and
values.

Every word of the input is projected three times, by learned matrices,
into a query (what it looks for), a key (what it offers) and a value (what
it passes on). Every word then attends to every word of the same sequence
with :func:`attnbook.attention.scaled_dot_product_attention`. Inputs are
batch-first, ``(batch, L, d_model)``; masks are boolean, True where
attention is allowed.

Every definition here is shown, line for line, in
``chapters/04_self_attention_positions.ipynb``.
"""

from torch import nn

from .attention import scaled_dot_product_attention


def self_attention(x, w_q, w_k, w_v, mask=None):
    """Self-attention of ``x`` (..., L, d_model) with weight matrices
    ``w_q``, ``w_k`` (d_model, d_k) and ``w_v`` (d_model, d_v); returns
    (output (..., L, d_v), weights (..., L, L))."""
    q = x @ w_q    # (..., L, d_model) @ (d_model, d_k) -> (..., L, d_k)
    k = x @ w_k    # (..., L, d_k)
    v = x @ w_v    # (..., L, d_v)
    # (..., L, d_v), (..., L, L)
    return scaled_dot_product_attention(q, k, v, mask)


class SelfAttention(nn.Module):
    """Single-head self-attention, batch-first; ``forward(x, mask=None)``
    returns (output, weights).

    ``d_k`` (the size of queries and keys) defaults to ``d_model``; ``d_v``
    (the size of the values, hence of the output) defaults to ``d_k``.
    """

    def __init__(self, d_model, d_k=None, d_v=None, bias=True):
        super().__init__()
        self.d_model = d_model
        self.d_k = d_model if d_k is None else d_k
        self.d_v = self.d_k if d_v is None else d_v
        # weight (d_k, d_model): x @ weight.T + bias
        self.w_q = nn.Linear(d_model, self.d_k, bias=bias)
        self.w_k = nn.Linear(d_model, self.d_k, bias=bias)
        self.w_v = nn.Linear(d_model, self.d_v, bias=bias)

    def forward(self, x, mask=None):
        """x (batch, L, d_model); mask bool, broadcastable to
        (batch, L, L), True = may attend."""
        q = self.w_q(x)        # (batch, L, d_k): what each word looks for
        k = self.w_k(x)        # (batch, L, d_k): what each word offers
        v = self.w_v(x)        # (batch, L, d_v): what each word passes on
        # (batch, L, d_v), (batch, L, L)
        return scaled_dot_product_attention(q, k, v, mask)


def equivariance_gap(layer, x, perm):
    """How far ``layer`` is from permutation equivariance on ``x``
    (batch, L, d) for the permutation ``perm`` (L,) of the positions: the
    largest |layer(x[:, perm]) - layer(x)[:, perm]|, a Python float.

    It is 0 (up to rounding) when shuffling the words only shuffles the
    outputs the same way.
    """
    # (batch, L, d_out) each: shuffle then the layer, the layer then shuffle
    shuffled_first = layer(x[:, perm])
    shuffled_after = layer(x)[:, perm]
    return (shuffled_first - shuffled_after).abs().max().item()
