"""Chapter 5, multi-head attention: several highlighters at once.

``MultiHeadAttention`` projects queries, keys and values with ``w_q``, ``w_k``, ``w_v``
(each ``nn.Linear(d_model, d_model)``), splits them into ``n_heads`` heads of size
``d_head = d_model // n_heads``, runs scaled dot-product attention in every head at once,
merges the heads and mixes them with ``w_o``. Inputs are batch-first; masks are boolean,
True where attention is allowed. Shown line for line in ``chapters/05_multi_head.ipynb``.
"""

from torch import nn

from .attention import scaled_dot_product_attention


def split_heads(x, n_heads):
    """(batch, L, d_model) -> (batch, n_heads, L, d_head)."""
    batch, length, d_model = x.shape
    x = x.view(batch, length, n_heads, d_model // n_heads)  # (batch, L, heads, d_head)
    return x.transpose(1, 2)                                 # (batch, heads, L, d_head)


def merge_heads(x):
    """(batch, n_heads, L, d_head) -> (batch, L, n_heads * d_head)."""
    batch, n_heads, length, d_head = x.shape
    x = x.transpose(1, 2).contiguous()                       # (batch, L, heads, d_head)
    return x.view(batch, length, n_heads * d_head)           # (batch, L, d_model)


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017), batch-first; returns (output, weights)."""

    def __init__(self, d_model, n_heads, bias=True):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.d_model, self.n_heads = d_model, n_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        """query (batch, L_q, d_model), key and value (batch, L_k, d_model);
        mask bool, broadcastable to (batch, n_heads, L_q, L_k), True = may attend."""
        q = split_heads(self.w_q(query), self.n_heads)   # (batch, heads, L_q, d_head)
        k = split_heads(self.w_k(key), self.n_heads)     # (batch, heads, L_k, d_head)
        v = split_heads(self.w_v(value), self.n_heads)   # (batch, heads, L_k, d_head)
        heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (batch, heads, L_q, d_head)
        return self.w_o(merge_heads(heads)), weights     # (batch, L_q, d_model), (batch, heads, L_q, L_k)
