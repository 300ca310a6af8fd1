"""attnbook.self_attention: projections, shapes, agreement with PyTorch, permutation equivariance."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnbook.attention import causal_mask, padding_mask
from attnbook.positions import LearnedPositionalEmbedding, apply_rope, sinusoidal_positional_encoding
from attnbook.self_attention import SelfAttention, equivariance_gap, self_attention


def weights(*shape):
    return torch.randn(*shape, dtype=torch.float64) / math.sqrt(shape[0])


@pytest.mark.parametrize("d_model,d_k,d_v", [(8, None, None), (8, 4, None), (8, 4, 6), (5, 3, 7)])
def test_module_shapes_and_defaults(d_model, d_k, d_v):
    torch.manual_seed(0)
    layer = SelfAttention(d_model, d_k, d_v)
    expected_k = d_model if d_k is None else d_k
    expected_v = expected_k if d_v is None else d_v
    assert (layer.d_k, layer.d_v) == (expected_k, expected_v)
    assert layer.w_q.weight.shape == layer.w_k.weight.shape == (expected_k, d_model)
    assert layer.w_v.weight.shape == (expected_v, d_model)
    x = torch.randn(3, 6, d_model)                                  # (batch, L, d_model)
    out, w = layer(x)
    assert out.shape == (3, 6, expected_v) and w.shape == (3, 6, 6)
    assert torch.allclose(w.sum(-1), torch.ones(3, 6))


def test_function_matches_pytorch_on_projected_inputs():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)               # two batch dimensions
    w_q, w_k, w_v = weights(6, 4), weights(6, 4), weights(6, 5)
    out, w = self_attention(x, w_q, w_k, w_v)
    expected = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)
    assert out.shape == (2, 3, 7, 5) and w.shape == (2, 3, 7, 7)
    assert torch.allclose(out, expected)
    scores = (x @ w_q) @ (x @ w_k).transpose(-2, -1) / 2.0          # sqrt(d_k) = 2
    assert torch.allclose(w, torch.softmax(scores, dim=-1))


def test_module_is_the_function_with_the_linear_weights():
    torch.manual_seed(2)
    layer = SelfAttention(6, 4, 3, bias=False).double()
    x = torch.randn(2, 5, 6, dtype=torch.float64)
    mask = causal_mask(5)
    out, w = layer(x, mask)
    ref_out, ref_w = self_attention(x, layer.w_q.weight.T, layer.w_k.weight.T, layer.w_v.weight.T, mask)
    assert torch.allclose(out, ref_out) and torch.allclose(w, ref_w)


def test_masks_give_exact_zeros():
    torch.manual_seed(3)
    layer = SelfAttention(4)
    x = torch.randn(3, 5, 4)
    mask = padding_mask(torch.tensor([5, 3, 1]), 5)[:, None, :]     # (batch, 1, L)
    _, w = layer(x, mask)
    assert torch.all(w.masked_select(~mask.expand_as(w)) == 0)
    assert torch.allclose(w.sum(-1), torch.ones(3, 5))
    _, w = layer(x, causal_mask(5))
    assert torch.all(w.triu(1) == 0)


@pytest.mark.parametrize("bias", [True, False])
def test_self_attention_without_positions_is_permutation_equivariant(bias):
    torch.manual_seed(4)
    layer = SelfAttention(8, 4, 6, bias=bias)
    x = torch.randn(2, 7, 8)
    perm = torch.randperm(7)
    out, w = layer(x)
    out_p, w_p = layer(x[:, perm])
    assert torch.allclose(out_p, out[:, perm], atol=1e-6)
    assert torch.allclose(w_p, w[:, perm][:, :, perm], atol=1e-6)  # rows and columns move together
    assert equivariance_gap(lambda t: layer(t)[0], x, perm) < 1e-5


def test_word_order_does_not_change_the_set_of_outputs():
    torch.manual_seed(5)
    vocab = {w: torch.randn(6) for w in ["the", "dog", "bit", "man"]}
    layer = SelfAttention(6)
    a = torch.stack([vocab[w] for w in "the dog bit the man".split()])[None]  # (1, 5, 6)
    b = torch.stack([vocab[w] for w in "the man bit the dog".split()])[None]
    out_a, out_b = layer(a)[0][0], layer(b)[0][0]
    assert torch.allclose(out_a[2], out_b[2], atol=1e-6)              # "bit" cannot tell who bit whom
    assert torch.allclose(out_a[[0, 1, 2, 3, 4]], out_b[[0, 4, 2, 3, 1]], atol=1e-6)


def test_positions_break_equivariance():
    torch.manual_seed(6)
    layer = SelfAttention(8)
    x = torch.randn(2, 6, 8)
    perm = torch.tensor([1, 2, 3, 4, 5, 0])
    pe = sinusoidal_positional_encoding(6, 8)
    learned = LearnedPositionalEmbedding(6, 8)
    with torch.no_grad():
        assert equivariance_gap(lambda t: layer(t)[0], x, perm) < 1e-5
        assert equivariance_gap(lambda t: layer(t + pe)[0], x, perm) > 1e-2
        assert equivariance_gap(lambda t: layer(learned(t))[0], x, perm) > 1e-2

        def rotary(t):
            q, k, v = apply_rope(layer.w_q(t)), apply_rope(layer.w_k(t)), layer.w_v(t)
            return F.scaled_dot_product_attention(q, k, v)

        assert equivariance_gap(rotary, x, perm) > 1e-2
        # a causal mask also makes order matter, even without positions
        assert equivariance_gap(lambda t: layer(t, causal_mask(6))[0], x, perm) > 1e-2


def test_equivariance_gap_is_a_number_and_zero_for_per_word_layers():
    x = torch.randn(3, 5, 4)
    gap = equivariance_gap(torch.tanh, x, torch.tensor([4, 0, 1, 2, 3]))
    assert isinstance(gap, float) and gap == 0.0
    gap = equivariance_gap(lambda t: t.cumsum(1), x, torch.tensor([4, 0, 1, 2, 3]))
    assert gap > 0.1
