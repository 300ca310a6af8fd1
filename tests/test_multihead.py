"""attnbook.multihead: splitting and merging heads, the module, agreement with torch.nn.MultiheadAttention."""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from attnbook.attention import causal_mask, padding_mask, scaled_dot_product_attention
from attnbook.multihead import MultiHeadAttention, copy_from_torch, merge_heads, multihead_cost, split_heads


def pair(d_model, n_heads, bias=True, dtype=torch.float64, seed=0):
    """Our module and PyTorch's, with the same weights."""
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True).to(dtype)
    if bias:  # PyTorch starts its biases at 0: make them count
        with torch.no_grad():
            theirs.in_proj_bias.normal_()
            theirs.out_proj.bias.normal_()
    ours = copy_from_torch(MultiHeadAttention(d_model, n_heads, bias=bias).to(dtype), theirs)
    return ours.eval(), theirs.eval()


@pytest.mark.parametrize("batch,length,d_model,n_heads", [(2, 5, 12, 3), (1, 7, 8, 8), (3, 4, 6, 1)])
def test_split_and_merge(batch, length, d_model, n_heads):
    x = torch.randn(batch, length, d_model)
    heads = split_heads(x, n_heads)
    d_head = d_model // n_heads
    assert heads.shape == (batch, n_heads, length, d_head)
    for h in range(n_heads):                       # head h owns features h*d_head .. (h+1)*d_head - 1
        assert torch.equal(heads[:, h], x[..., h * d_head:(h + 1) * d_head])
    assert torch.equal(merge_heads(heads), x)
    y = torch.randn(batch, n_heads, length, d_head)
    assert torch.equal(split_heads(merge_heads(y), n_heads), y)


def test_indivisible_d_model_is_refused():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)


def test_shapes_and_contract_names():
    m = MultiHeadAttention(16, 4)
    for name in ("w_q", "w_k", "w_v", "w_o"):
        layer = getattr(m, name)
        assert isinstance(layer, nn.Linear) and layer.weight.shape == (16, 16)
    out, w = m(torch.randn(2, 5, 16), torch.randn(2, 9, 16), torch.randn(2, 9, 16))
    assert out.shape == (2, 5, 16) and w.shape == (2, 4, 5, 9)
    assert torch.allclose(w.sum(-1), torch.ones(2, 4, 5))


@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count(bias):
    for d_model, n_heads in [(16, 4), (12, 3), (8, 1)]:
        count = sum(p.numel() for p in MultiHeadAttention(d_model, n_heads, bias=bias).parameters())
        assert count == multihead_cost(1, 1, d_model, n_heads, bias)[0]
        assert count == 4 * d_model ** 2 + (4 * d_model if bias else 0)
        assert count == sum(p.numel() for p in nn.MultiheadAttention(d_model, n_heads, bias=bias).parameters())


@pytest.mark.parametrize("L_q,L_k,d_model,n_heads", [(5, 7, 16, 4), (9, 3, 12, 3), (6, 6, 8, 1)])
def test_flops_match_pytorchs_counter(L_q, L_k, d_model, n_heads):
    m = MultiHeadAttention(d_model, n_heads)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        m(torch.randn(1, L_q, d_model), torch.randn(1, L_k, d_model), torch.randn(1, L_k, d_model))
    assert counter.get_total_flops() == multihead_cost(L_q, L_k, d_model, n_heads)[1]
    assert multihead_cost(L_q, L_k, d_model, n_heads)[1] == multihead_cost(L_q, L_k, d_model, 1)[1]


@pytest.mark.parametrize("bias", [True, False])
def test_self_attention_matches_pytorch(bias):
    ours, theirs = pair(12, 3, bias=bias)
    x = torch.randn(2, 6, 12, dtype=torch.float64)
    out, w = ours(x, x, x)
    ref, ref_w = theirs(x, x, x, average_attn_weights=False)
    assert torch.allclose(out, ref, atol=1e-10) and torch.allclose(w, ref_w, atol=1e-10)
    _, mean_w = theirs(x, x, x)                      # by default PyTorch averages over the heads
    assert torch.allclose(w.mean(dim=1), mean_w, atol=1e-10)


def test_cross_attention_with_padding_matches_pytorch():
    ours, theirs = pair(16, 4)
    query = torch.randn(3, 4, 16, dtype=torch.float64)              # (batch, L_q, d_model)
    memory = torch.randn(3, 7, 16, dtype=torch.float64)             # (batch, L_k, d_model)
    keep = padding_mask(torch.tensor([7, 3, 5]), 7)                 # (batch, L_k), True at real words
    out, w = ours(query, memory, memory, keep[:, None, None, :])    # (batch, 1, 1, L_k)
    ref, ref_w = theirs(query, memory, memory, key_padding_mask=~keep, average_attn_weights=False)
    assert torch.allclose(out, ref, atol=1e-10) and torch.allclose(w, ref_w, atol=1e-10)
    assert torch.all(w[1, :, :, 3:] == 0)


def test_different_keys_and_values_match_pytorch():
    ours, theirs = pair(8, 2)
    q, k, v = (torch.randn(2, n, 8, dtype=torch.float64) for n in (3, 5, 5))
    out, w = ours(q, k, v)
    ref, ref_w = theirs(q, k, v, average_attn_weights=False)
    assert torch.allclose(out, ref, atol=1e-10) and torch.allclose(w, ref_w, atol=1e-10)


def test_causal_and_padding_masks_match_pytorch():
    ours, theirs = pair(12, 2, dtype=torch.float32)
    x = torch.randn(2, 6, 12)
    keep = padding_mask(torch.tensor([6, 4]), 6)                    # (batch, L)
    mask = causal_mask(6) & keep[:, None, None, :]                   # (batch, 1, L, L)
    out, w = ours(x, x, x, mask)
    ref, ref_w = theirs(x, x, x, attn_mask=~causal_mask(6), key_padding_mask=~keep, average_attn_weights=False)
    assert torch.allclose(out, ref, atol=1e-5) and torch.allclose(w, ref_w, atol=1e-6)
    assert torch.all(w.triu(diagonal=1) == 0)
    ref2, _ = theirs(x, x, x, attn_mask=~causal_mask(6), key_padding_mask=~keep, is_causal=True)
    assert torch.allclose(out, ref2, atol=1e-5)


def test_same_as_one_head_at_a_time():
    """Multi-head = concatenated single-head attentions with slices of the weights, then w_o."""
    torch.manual_seed(1)
    m = MultiHeadAttention(12, 3).double()
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    q, k, v = m.w_q(x), m.w_k(x), m.w_v(x)
    heads = [scaled_dot_product_attention(q[..., s:s + 4], k[..., s:s + 4], v[..., s:s + 4])[0]
             for s in range(0, 12, 4)]
    expected = m.w_o(torch.cat(heads, dim=-1))
    assert torch.allclose(m(x, x, x)[0], expected, atol=1e-12)
