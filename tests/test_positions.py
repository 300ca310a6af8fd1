"""attnbook.positions: the sinusoidal table, learned embeddings and rotary embeddings (RoPE)."""

import math

import pytest
import torch

from attnbook.positions import LearnedPositionalEmbedding, apply_rope, sinusoidal_positional_encoding


@pytest.mark.parametrize("seq_len,d_model", [(1, 2), (10, 16), (7, 5), (50, 64), (3, 1)])
def test_sinusoidal_shape_dtype_and_formula(seq_len, d_model):
    pe = sinusoidal_positional_encoding(seq_len, d_model)
    assert pe.shape == (seq_len, d_model) and pe.dtype == torch.float32
    for pos in range(seq_len):
        for j in range(d_model):
            angle = pos / 10000 ** (2 * (j // 2) / d_model)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(pe[pos, j].item() - expected) < 1e-6


def test_sinusoidal_first_row_and_range():
    pe = sinusoidal_positional_encoding(100, 32)
    assert torch.equal(pe[0, 0::2], torch.zeros(16)) and torch.equal(pe[0, 1::2], torch.ones(16))
    assert pe.abs().max() <= 1.0
    assert torch.allclose(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, torch.ones(100, 16), atol=1e-6)
    assert len({tuple(row.tolist()) for row in pe}) == 100          # every position its own fingerprint


def test_odd_d_model_drops_the_last_cosine():
    odd, even = sinusoidal_positional_encoding(9, 7), sinusoidal_positional_encoding(9, 8)
    angles = torch.arange(9.0)[:, None] / 10000 ** (torch.arange(0, 7, 2) / 7)
    assert torch.allclose(odd[:, 0::2], torch.sin(angles), atol=1e-6)
    assert torch.allclose(odd[:, 1::2], torch.cos(angles[:, :3]), atol=1e-6)
    assert not torch.allclose(odd, even[:, :7])                      # the frequencies use d_model = 7


def shift_matrix(k, d_model):
    """The block-diagonal rotation M with PE[pos + k] = M @ PE[pos] for every pos."""
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    for i in range(d_model // 2):
        w = k / 10000 ** (2 * i / d_model)
        m[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = torch.tensor([[math.cos(w), math.sin(w)],
                                                               [-math.sin(w), math.cos(w)]])
    return m


@pytest.mark.parametrize("k", [1, 3, 10])
def test_a_shift_is_a_rotation_that_does_not_depend_on_the_position(k):
    pe = sinusoidal_positional_encoding(80, 16).double()
    m = shift_matrix(k, 16)
    assert torch.allclose(pe[k:], pe[:-k] @ m.T, atol=1e-5)
    # pair by pair: the angle from (PE[pos, 2i], PE[pos, 2i+1]) to the same pair at pos + k is k * w_i
    turn = torch.atan2(pe[k:, 0::2], pe[k:, 1::2]) - torch.atan2(pe[:-k, 0::2], pe[:-k, 1::2])  # (80 - k, 8)
    turn = torch.remainder(turn + math.pi, 2 * math.pi) - math.pi                              # into [-pi, pi)
    w = 10000.0 ** (-torch.arange(0, 16, 2, dtype=torch.float64) / 16)
    expected = torch.remainder(k * w + math.pi, 2 * math.pi) - math.pi
    assert torch.allclose(turn, expected.expand_as(turn), atol=1e-5)


def test_dot_products_depend_only_on_the_offset():
    pe = sinusoidal_positional_encoding(60, 32).double()
    gram = pe @ pe.T                                                  # (60, 60)
    for offset in range(-20, 21):
        diagonal = torch.diagonal(gram, offset)
        assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-5)
    assert torch.allclose(gram, gram.T)


def test_learned_embedding_adds_one_vector_per_position():
    torch.manual_seed(0)
    layer = LearnedPositionalEmbedding(max_len=16, d_model=8)
    assert sum(p.numel() for p in layer.parameters()) == 16 * 8
    x = torch.randn(3, 10, 8)
    out = layer(x)
    assert out.shape == x.shape
    assert torch.allclose(out - x, layer.embedding.weight[:10].expand(3, 10, 8), atol=1e-6)
    out.sum().backward()
    grad = layer.embedding.weight.grad
    assert torch.all(grad[:10] != 0) and torch.all(grad[10:] == 0)  # rows past L are never trained here


def test_learned_embedding_cannot_extrapolate():
    layer = LearnedPositionalEmbedding(max_len=4, d_model=2)
    assert layer(torch.zeros(1, 4, 2)).shape == (1, 4, 2)
    with pytest.raises(ValueError, match="longer than max_len=4"):
        layer(torch.zeros(1, 5, 2))


def test_rope_shapes_dtypes_norms_and_position_zero():
    torch.manual_seed(1)
    for shape, dtype in [((2, 5, 8), torch.float32), ((3, 2, 7, 4), torch.float64), ((6, 2), torch.float32)]:
        x = torch.randn(*shape, dtype=dtype)
        y = apply_rope(x)
        assert y.shape == x.shape and y.dtype == x.dtype
        pairs_x, pairs_y = x.unflatten(-1, (-1, 2)), y.unflatten(-1, (-1, 2))
        assert torch.allclose(pairs_x.norm(dim=-1), pairs_y.norm(dim=-1), atol=1e-5)  # rotations keep lengths
        assert torch.equal(y[..., 0, :], x[..., 0, :])                                    # position 0: no turn
    with pytest.raises(ValueError, match="even"):
        apply_rope(torch.randn(3, 5))


def test_rope_formula_and_explicit_positions():
    torch.manual_seed(2)
    x = torch.randn(4, 6, dtype=torch.float64)
    y = apply_rope(x, positions=torch.tensor([3, 0, 7, 1]), base=100.0)
    for row, pos in enumerate([3, 0, 7, 1]):
        for i in range(3):
            angle = pos * 100.0 ** (-2 * i / 6)
            a, b = x[row, 2 * i].item(), x[row, 2 * i + 1].item()
            assert math.isclose(y[row, 2 * i].item(), a * math.cos(angle) - b * math.sin(angle), abs_tol=1e-12)
            assert math.isclose(y[row, 2 * i + 1].item(), a * math.sin(angle) + b * math.cos(angle), abs_tol=1e-12)
    assert torch.equal(apply_rope(x), apply_rope(x, torch.arange(4)))


def test_rope_equals_multiplying_complex_numbers():
    torch.manual_seed(3)
    x = torch.randn(2, 9, 10, dtype=torch.float64)
    freqs = 10000.0 ** (-torch.arange(0, 10, 2, dtype=torch.float64) / 10)
    turns = torch.polar(torch.ones(9, 5, dtype=torch.float64), torch.arange(9.0, dtype=torch.float64)[:, None] * freqs)
    expected = torch.view_as_real(torch.view_as_complex(x.unflatten(-1, (5, 2)).contiguous()) * turns).flatten(-2)
    assert torch.allclose(apply_rope(x), expected)


@pytest.mark.parametrize("shift", [1, 5, 37])
def test_rope_scores_depend_only_on_the_offset(shift):
    torch.manual_seed(4)
    q, k = torch.randn(12, 16), torch.randn(12, 16)
    positions = torch.arange(12)
    scores = apply_rope(q, positions) @ apply_rope(k, positions).T              # (12, 12)
    shifted = apply_rope(q, positions + shift) @ apply_rope(k, positions + shift).T
    assert torch.allclose(scores, shifted, atol=1e-5)
    # one query and one key at positions m and n: the score is a function of m - n only
    qm, kn = q[:1], k[:1]
    score = lambda m, n: (apply_rope(qm, torch.tensor([m])) @ apply_rope(kn, torch.tensor([n])).T).item()
    assert abs(score(2, 7) - score(12, 17)) < 1e-5 and abs(score(9, 4) - score(30, 25)) < 1e-5
    assert abs(score(2, 7) - score(7, 2)) > 1e-3                   # the sign of the offset matters
