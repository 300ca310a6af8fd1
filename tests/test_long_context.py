"""attnbook.long_context: the sliding-window mask, banded local attention,
linear attention."""

import pytest
import torch
import torch.nn.functional as F

from attnbook.attention import causal_mask, scaled_dot_product_attention
from attnbook.long_context import (linear_attention, local_attention,
                                   sliding_window_mask)


def test_sliding_window_mask_small_case():
    expected = torch.tensor([[1, 0, 0, 0, 0],
                             [1, 1, 0, 0, 0],
                             [1, 1, 1, 0, 0],
                             [0, 1, 1, 1, 0],
                             [0, 0, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(sliding_window_mask(5, 3), expected)


@pytest.mark.parametrize("n", [1, 4, 9])
def test_sliding_window_mask_limits(n):
    assert torch.equal(sliding_window_mask(n, 1),
                       torch.eye(n, dtype=torch.bool))
    assert torch.equal(sliding_window_mask(n, n), causal_mask(n))
    assert torch.equal(sliding_window_mask(n, n + 5), causal_mask(n))
    assert sliding_window_mask(n, 2).dtype == torch.bool


@pytest.mark.parametrize("shape,window", [
    ((2, 3, 17), 1), ((2, 3, 17), 4), ((17,), 17), ((1, 2, 5), 9),
    ((3, 2, 2, 30), 7)])
def test_local_attention_equals_masked_full_attention(shape, window):
    torch.manual_seed(0)
    *batch, length = shape
    q, k = torch.randn(*batch, length, 8), torch.randn(*batch, length, 8)
    v = torch.randn(*batch, length, 5)
    out, weights = local_attention(q, k, v, window)
    ref_out, ref_weights = scaled_dot_product_attention(
        q, k, v, sliding_window_mask(length, window))
    assert out.shape == ref_out.shape
    assert weights.shape == (*batch, length, window)
    assert torch.allclose(out, ref_out, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(*batch, length),
                          atol=1e-6)
    # slot s of row i is key i - window + 1 + s
    for i in range(length):
        for s in range(window):
            j = i - window + 1 + s
            expected = ref_weights[..., i, j] if j >= 0 else torch.zeros(())
            assert torch.allclose(weights[..., i, s], expected, atol=1e-6)


def quadratic_linear_attention(q, k, v, causal=False):
    # (..., L_q, L_k), all positive
    sims = (F.elu(q) + 1) @ (F.elu(k) + 1).transpose(-2, -1)
    if causal:
        sims = sims * causal_mask(q.size(-2))
    return (sims / sims.sum(-1, keepdim=True)) @ v


@pytest.mark.parametrize("causal", [False, True])
def test_linear_attention_equals_its_quadratic_form(causal):
    torch.manual_seed(1)
    q = torch.randn(2, 3, 11, 6, dtype=torch.float64)
    k = torch.randn(2, 3, 11, 6, dtype=torch.float64)
    v = torch.randn(2, 3, 11, 4, dtype=torch.float64)
    out = linear_attention(q, k, v, causal=causal)
    assert out.shape == (2, 3, 11, 4)
    assert torch.allclose(out, quadratic_linear_attention(q, k, v, causal),
                          atol=1e-12)


def test_linear_attention_unequal_lengths_and_causal_prefix():
    torch.manual_seed(2)
    q, k, v = torch.randn(4, 5), torch.randn(9, 5), torch.randn(9, 3)
    assert linear_attention(q, k, v).shape == (4, 3)
    q, k, v = torch.randn(8, 5), torch.randn(8, 5), torch.randn(8, 3)
    full = linear_attention(q, k, v, causal=True)
    prefix = linear_attention(q[:5], k[:5], v[:5], causal=True)
    assert torch.allclose(full[:5], prefix, atol=1e-6)
    # the last row sees all the keys
    assert torch.allclose(full[-1], linear_attention(q[-1:], k, v)[0],
                          atol=1e-6)
