"""Chapter 5, multi-head attention: several highlighters at once.

``MultiHeadAttention`` projects queries, keys and values with ``w_q``,
``w_k``, ``w_v`` (each ``nn.Linear(d_model, d_model)``), splits them into
``n_heads`` heads of size ``d_head = d_model // n_heads``, runs scaled
dot-product attention in every head at once, merges the heads and mixes
them with ``w_o``. Inputs are batch-first; masks are boolean, True where
attention is allowed. Shown line for line in
``chapters/05_multi_head.ipynb``.
"""

import torch
from torch import nn

from .attention import scaled_dot_product_attention


def split_heads(x, n_heads):
    """(batch, L, d_model) -> (batch, n_heads, L, d_head)."""
    batch, length, d_model = x.shape
    # (batch, L, heads, d_head)
    x = x.view(batch, length, n_heads, d_model // n_heads)
    return x.transpose(1, 2)                # (batch, heads, L, d_head)


def merge_heads(x):
    """(batch, n_heads, L, d_head) -> (batch, L, n_heads * d_head)."""
    batch, n_heads, length, d_head = x.shape
    x = x.transpose(1, 2).contiguous()      # (batch, L, heads, d_head)
    return x.view(batch, length, n_heads * d_head)  # (batch, L, d_model)


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017), batch-first; returns
    (output, weights)."""

    def __init__(self, d_model, n_heads, bias=True):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by "
                             f"n_heads={n_heads}")
        self.d_model, self.n_heads = d_model, n_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        """query (batch, L_q, d_model), key and value (batch, L_k, d_model);
        mask bool, broadcastable to (batch, n_heads, L_q, L_k),
        True = may attend."""
        # (batch, heads, L_q, d_head), then (batch, heads, L_k, d_head)
        q = split_heads(self.w_q(query), self.n_heads)
        k = split_heads(self.w_k(key), self.n_heads)
        v = split_heads(self.w_v(value), self.n_heads)
        # (batch, heads, L_q, d_head), (batch, heads, L_q, L_k)
        heads, weights = scaled_dot_product_attention(q, k, v, mask)
        out = self.w_o(merge_heads(heads))      # (batch, L_q, d_model)
        return out, weights


def copy_from_torch(module, torch_mha):
    """Copy the weights of a ``torch.nn.MultiheadAttention`` (same d_model,
    no kdim/vdim) into our ``MultiHeadAttention``: its ``in_proj_weight``
    (3 d_model, d_model) stacks W_q, W_k, W_v."""
    with torch.no_grad():
        # 3 x (d_model, d_model), then 3 x (d_model,)
        weights = torch_mha.in_proj_weight.chunk(3)
        biases = (torch_mha.in_proj_bias.chunk(3)
                  if torch_mha.in_proj_bias is not None
                  else (None, None, None))
        layers = (module.w_q, module.w_k, module.w_v)
        for linear, weight, bias in zip(layers, weights, biases):
            linear.weight.copy_(weight)
            if bias is not None:
                linear.bias.copy_(bias)
        # (d_model, d_model), then (d_model,)
        module.w_o.weight.copy_(torch_mha.out_proj.weight)
        if torch_mha.out_proj.bias is not None:
            module.w_o.bias.copy_(torch_mha.out_proj.bias)
    return module


def multihead_cost(L_q, L_k, d_model, n_heads, bias=True):
    """(parameters, FLOPs) of one forward pass of ``MultiHeadAttention``
    for one sequence, two ints.

    A matrix product (m, n) @ (n, p) costs 2 m n p FLOPs (a multiply and
    an add each); biases, the scaling and the softmax are not counted.
    ``n_heads`` changes neither number.
    """
    d_head = d_model // n_heads
    # w_q, w_k, w_v, w_o: weights, then biases
    parameters = 4 * d_model * d_model + (4 * d_model if bias else 0)
    # q and the output from L_q words, k and v from L_k words
    projections = 2 * (L_q + 2 * L_k + L_q) * d_model * d_model
    scores = n_heads * 2 * L_q * L_k * d_head   # Q K^T in every head
    mixing = n_heads * 2 * L_q * L_k * d_head   # weights @ V in every head
    return parameters, projections + scores + mixing
