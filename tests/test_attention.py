"""attnbook.attention: scaled dot-product attention and masks, against PyTorch's own function."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from attnbook.attention import (attention_numpy, causal_mask, causal_padding_mask, padding_mask,
                                scaled_dot_product_attention)


def randn(*shape, dtype=torch.float64, seed=0):
    return torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


SHAPES = [  # (batch dims, L_q, L_k, d_k, d_v)
    ((), 4, 4, 8, 8),
    ((2,), 5, 7, 8, 3),
    ((3, 4), 6, 2, 16, 5),
    ((2, 1), 1, 9, 3, 4),
]


@pytest.mark.parametrize("batch,l_q,l_k,d_k,d_v", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_pytorch_without_mask(batch, l_q, l_k, d_k, d_v, dtype):
    q, k, v = randn(*batch, l_q, d_k, dtype=dtype), randn(*batch, l_k, d_k, dtype=dtype, seed=1), \
        randn(*batch, l_k, d_v, dtype=dtype, seed=2)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert out.shape == (*batch, l_q, d_v) and weights.shape == (*batch, l_q, l_k)
    assert out.dtype == dtype and weights.dtype == dtype
    assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert_close(weights.sum(-1), torch.ones(*batch, l_q, dtype=dtype))


def test_formula_by_hand():
    q, k, v = randn(3, 4), randn(5, 4, seed=1), randn(5, 2, seed=2)
    out, weights = scaled_dot_product_attention(q, k, v)
    scores = q @ k.T / 2.0                                                      # sqrt(4) = 2
    expected = torch.exp(scores) / torch.exp(scores).sum(dim=1, keepdim=True)
    assert_close(weights, expected)
    assert_close(out, expected @ v)


def test_each_query_row_is_one_pass():
    q, k, v = randn(2, 6, 4), randn(2, 5, 4, seed=1), randn(2, 5, 3, seed=2)
    out, weights = scaled_dot_product_attention(q, k, v)
    for i in range(6):
        row_out, row_weights = scaled_dot_product_attention(q[:, i:i + 1], k, v)
        assert_close(row_out[:, 0], out[:, i])
        assert_close(row_weights[:, 0], weights[:, i])


@pytest.mark.parametrize("mask_kind", ["padding", "causal", "both", "heads", "random"])
def test_matches_pytorch_with_masks(mask_kind):
    batch, heads, length = 3, 2, 6
    q, k, v = randn(batch, heads, length, 8), randn(batch, heads, length, 8, seed=1), \
        randn(batch, heads, length, 5, seed=2)
    lengths = torch.tensor([6, 4, 2])
    if mask_kind == "padding":
        mask = padding_mask(lengths, length)[:, None, None, :]                # (batch, 1, 1, L_k)
    elif mask_kind == "causal":
        mask = causal_mask(length)                                              # (L, L)
    elif mask_kind == "both":
        mask = padding_mask(lengths, length)[:, None, None, :] & causal_mask(length)  # (batch, 1, L, L)
    elif mask_kind == "heads":
        mask = causal_padding_mask(lengths, length)[:, None]                   # (batch, 1, L, L)
    else:
        mask = torch.rand(batch, heads, length, length, generator=torch.Generator().manual_seed(3)) < 0.6
        mask[..., 0] = True                                                     # no empty row here
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.all(weights[~mask.expand_as(weights)] == 0), "masked weights are exactly 0"
    assert_close(weights.sum(-1), torch.ones(batch, heads, length, dtype=weights.dtype))


def test_causal_mask_is_pytorch_is_causal():
    q, k, v = randn(2, 7, 4), randn(2, 7, 4, seed=1), randn(2, 7, 4, seed=2)
    out, weights = scaled_dot_product_attention(q, k, v, causal_mask(7))
    assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert torch.all(weights.triu(1) == 0)
    assert_close(weights[:, 0, 0], torch.ones(2, dtype=weights.dtype))     # the first word sees only itself


def test_fully_masked_row_gives_zero_weights_and_zero_output():
    q, k, v = randn(2, 3, 4), randn(2, 5, 4, seed=1), randn(2, 5, 6, seed=2)
    mask = padding_mask(torch.tensor([3, 0]), 5)[:, None, :]                   # the second sequence is empty
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert not torch.isnan(out).any() and not torch.isnan(weights).any()
    assert torch.all(weights[1] == 0) and torch.all(out[1] == 0)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert_close(weights[0].sum(-1), torch.ones(3, dtype=weights.dtype))


def test_fully_masked_row_has_finite_gradients():
    q, k, v = (randn(1, 3, 4, seed=s).requires_grad_() for s in range(3))
    mask = torch.tensor([[True, True, False], [False, False, False], [True, False, True]])
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    out.sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert torch.all(q.grad[0, 1] == 0), "a query that sees nothing gets no gradient"


def test_inputs_are_not_changed():
    q, k, v = randn(2, 3, 4), randn(2, 5, 4, seed=1), randn(2, 5, 6, seed=2)
    mask = padding_mask([5, 2], 5)[:, None, :]
    copies = [t.clone() for t in (q, k, v, mask)]
    scaled_dot_product_attention(q, k, v, mask)
    for before, after in zip(copies, (q, k, v, mask)):
        assert torch.equal(before, after)


def test_numpy_version_matches_torch():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 6, 8)), rng.normal(size=(2, 6, 3))
    out, weights = attention_numpy(q, k, v)
    ref_out, ref_weights = scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)))
    np.testing.assert_allclose(out, ref_out.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights, ref_weights.numpy(), rtol=1e-12, atol=1e-12)
    out1, _ = attention_numpy(q[0], k[0], v[0])                                  # no batch dimension
    np.testing.assert_allclose(out1, out[0])


def test_numpy_version_is_stable_for_large_scores():
    q = np.array([[1000.0, 0.0]])
    k = np.array([[1.0, 0.0], [0.0, 1.0]])
    out, weights = attention_numpy(q, k, np.eye(2))
    assert np.all(np.isfinite(weights)) and np.allclose(weights, [[1.0, 0.0]])


def test_causal_mask():
    assert causal_mask(1).tolist() == [[True]]
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(4).dtype == torch.bool


def test_padding_mask():
    mask = padding_mask(torch.tensor([3, 1, 0, 4]), 4)
    assert mask.dtype == torch.bool and mask.shape == (4, 4)
    assert mask.tolist() == [[True, True, True, False], [True, False, False, False],
                             [False] * 4, [True] * 4]
    assert padding_mask([2, 5], 6).sum(-1).tolist() == [2, 5]                    # a plain list works too


def test_causal_padding_mask():
    lengths, max_len = torch.tensor([2, 4]), 4
    mask = causal_padding_mask(lengths, max_len)
    assert mask.dtype == torch.bool and mask.shape == (2, 4, 4)
    for b, n in enumerate(lengths.tolist()):
        for i in range(max_len):
            for j in range(max_len):
                assert bool(mask[b, i, j]) == (j <= i and j < n)
    assert mask.any(-1).all(), "with at least one real token, no row is fully masked"


def test_scale_is_sqrt_d_k():
    """Doubling q and k quadruples the raw scores; only the 1/sqrt(d_k) scale is fixed by d_k."""
    q, k, v = randn(1, 2, 16), randn(1, 3, 16, seed=1), randn(1, 3, 2, seed=2)
    _, weights = scaled_dot_product_attention(q, k, v)
    manual = torch.softmax(q @ k.mT / math.sqrt(16), dim=-1)
    assert_close(weights, manual)
