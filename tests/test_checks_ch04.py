"""Chapter 4 checks: correct answers pass, each catalogued mistake is named, stubs are not attempted."""

import math

import numpy as np
import torch

from checkkit import failure, make_tests

# --------------------------------------------------------------------------- correct answers


def sa_matmul(x, w_q, w_k, w_v, mask=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(w_q.shape[1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sa_einsum32(x, w_q, w_k, w_v, mask=None):
    x, w_q, w_k, w_v = (t.float() for t in (x, w_q, w_k, w_v))
    q = torch.einsum("...ld,dk->...lk", x, w_q)
    k = torch.einsum("...ld,dk->...lk", x, w_k)
    v = torch.einsum("...ld,dv->...lv", x, w_v)
    scores = torch.einsum("...ik,...jk->...ij", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(-1e30))
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    weights = e / e.sum(dim=-1, keepdim=True)
    return torch.einsum("...ij,...jv->...iv", weights, v), weights


def sa_reuse_chapter3(x, w_q, w_k, w_v, mask=None):
    from attnbook.attention import scaled_dot_product_attention

    return scaled_dot_product_attention(torch.matmul(x, w_q), torch.matmul(x, w_k), torch.matmul(x, w_v), mask)


def sa_linear(x, w_q, w_k, w_v, mask=None):
    """Through torch.nn.functional.linear, which multiplies by the transpose of its weight."""
    import torch.nn.functional as F

    q, k, v = F.linear(x, w_q.T), F.linear(x, w_k.T), F.linear(x, w_v.T)
    scores = torch.matmul(q / math.sqrt(q.shape[-1]), k.mT)
    if mask is not None:
        scores[~mask.expand_as(scores)] = -math.inf
    weights = scores.softmax(-1)
    return weights @ v, weights


def gap_reference_style(layer, x, perm):
    return (layer(x[:, perm]) - layer(x)[:, perm]).abs().max().item()


def gap_unshuffle(layer, x, perm):
    inverse = torch.argsort(perm)
    return float(torch.max(torch.abs(layer(x[:, perm])[:, inverse] - layer(x))))


def gap_numpy(layer, x, perm):
    a = layer(x[:, perm]).detach().numpy()
    b = layer(x).detach().numpy()[:, np.asarray(perm)]
    return np.abs(a - b).max()


def gap_loop(layer, x, perm):
    shuffled = torch.stack([x[:, int(p)] for p in perm], dim=1)
    out, out_shuffled = layer(x), layer(shuffled)
    worst = 0.0
    for new_position, old_position in enumerate(perm.tolist()):
        worst = max(worst, (out_shuffled[:, new_position] - out[:, old_position]).abs().max().item())
    return torch.tensor(worst)


def pe_loops(seq_len, d_model):
    table = [[0.0] * d_model for _ in range(seq_len)]
    for pos in range(seq_len):
        for j in range(d_model):
            i = j // 2
            angle = pos / 10000 ** (2 * i / d_model)
            table[pos][j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return torch.tensor(table, dtype=torch.float32)


def pe_exp_log32(seq_len, d_model):
    position = torch.arange(seq_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
    return pe


def pe_stack_pairs(seq_len, d_model):
    half = (d_model + 1) // 2
    freqs = 1.0 / 10000 ** (2 * torch.arange(half, dtype=torch.float64) / d_model)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float64), freqs)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(seq_len, 2 * half)[:, :d_model]


def pe_numpy_then_torch(seq_len, d_model):
    pos = np.arange(seq_len)[:, np.newaxis]
    j = np.arange(d_model)[np.newaxis, :]
    angles = pos / np.power(10000, (2 * (j // 2)) / d_model)
    return torch.from_numpy(np.where(j % 2 == 0, np.sin(angles), np.cos(angles)))


def rope_slices(x, positions=None, base=10000.0):
    length, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(length)
    theta = positions.to(x.dtype)[:, None] * base ** (-torch.arange(0, d, 2, dtype=x.dtype) / d)
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * theta.cos() - b * theta.sin()
    out[..., 1::2] = a * theta.sin() + b * theta.cos()
    return out


def rope_complex(x, positions=None, base=10000.0):
    length, d = x.shape[-2:]
    pos = torch.arange(length, dtype=torch.float64) if positions is None else positions.double()
    freqs = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    turns = torch.polar(torch.ones(length, d // 2, dtype=torch.float64), torch.outer(pos, freqs))
    pairs = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(pairs * turns).reshape(x.shape).to(x.dtype)


def rope_matrices(x, positions=None, base=10000.0):
    length, d = x.shape[-2:]
    pos = range(length) if positions is None else positions.tolist()
    rotations = torch.zeros(length, d, d, dtype=torch.float64)
    for row, p in enumerate(pos):
        for i in range(d // 2):
            angle = p * base ** (-2 * i / d)
            c, s = math.cos(angle), math.sin(angle)
            rotations[row, 2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = torch.tensor([[c, -s], [s, c]])
    return torch.einsum("lij,...lj->...li", rotations, x.double())


CORRECT = {
    "ex-04-1": [sa_matmul, sa_einsum32, sa_reuse_chapter3, sa_linear],
    "ex-04-2": [gap_reference_style, gap_unshuffle, gap_numpy, gap_loop],
    "ex-04-3": [pe_loops, pe_exp_log32, pe_stack_pairs, pe_numpy_then_torch],
    "ex-04-4": [rope_slices, rope_complex, rope_matrices],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def _attention(q, k, v, mask=None, scale=None, dim=-1):
    scores = q @ k.transpose(-2, -1) / (math.sqrt(k.shape[-1]) if scale is None else scale)
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -float("inf"))
    weights = scores.softmax(dim=dim)
    return weights @ v, weights


def sa_transposed(x, w_q, w_k, w_v, mask=None):
    return _attention(x @ w_q.T, x @ w_k.T, x @ w_v.T, mask)


def sa_no_scale(x, w_q, w_k, w_v, mask=None):
    return _attention(x @ w_q, x @ w_k, x @ w_v, mask, scale=1)


def sa_d_model(x, w_q, w_k, w_v, mask=None):
    d_model = x.shape[-1]
    return _attention(x @ w_q, x @ w_k, x @ w_v, mask, scale=d_model ** 0.5)


def sa_d_k(x, w_q, w_k, w_v, mask=None):
    return _attention(x @ w_q, x @ w_k, x @ w_v, mask, scale=w_k.shape[-1])


def sa_axis(x, w_q, w_k, w_v, mask=None):
    return _attention(x @ w_q, x @ w_k, x @ w_v, mask, dim=-2)


def sa_keys_as_queries(x, w_q, w_k, w_v, mask=None):
    return _attention(x @ w_k, x @ w_q, x @ w_v, mask)


def sa_k_times_q(x, w_q, w_k, w_v, mask=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sa_raw_values(x, w_q, w_k, w_v, mask=None):
    return _attention(x @ w_q, x @ w_k, x, mask)


def sa_swapped(x, w_q, w_k, w_v, mask=None):
    out, weights = sa_matmul(x, w_q, w_k, w_v, mask)
    return weights, out


def sa_no_mask(x, w_q, w_k, w_v, mask=None):
    return _attention(x @ w_q, x @ w_k, x @ w_v)


def sa_mask_inverted(x, w_q, w_k, w_v, mask=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sa_mask_late(x, w_q, w_k, w_v, mask=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


def gap_unpermuted(layer, x, perm):
    return (layer(x[:, perm]) - layer(x)).abs().max().item()


def gap_only_output(layer, x, perm):
    out = layer(x)
    return (out[:, perm] - out).abs().max().item()


def gap_perm_twice(layer, x, perm):
    return float((layer(x[:, perm])[:, perm] - layer(x)).abs().max())


def gap_mean(layer, x, perm):
    return torch.mean(torch.abs(layer(x[:, perm]) - layer(x)[:, perm])).item()


def pe_cos_first(seq_len, d_model):
    pe = torch.zeros(seq_len, d_model)
    pos = torch.arange(seq_len).float().unsqueeze(1)
    freq = 10000 ** (-torch.arange(0, d_model, 2).float() / d_model)
    pe[:, 0::2] = torch.cos(pos * freq)
    pe[:, 1::2] = torch.sin(pos * freq)[:, : d_model // 2]
    return pe


def pe_halves(seq_len, d_model):
    pos = torch.arange(seq_len).float().unsqueeze(1)
    freq = 10000 ** (-torch.arange(0, d_model, 2).float() / d_model)
    return torch.cat([torch.sin(pos * freq), torch.cos(pos * freq)], dim=1)[:, :d_model]


def pe_i_over_d(seq_len, d_model):
    pe = torch.zeros(seq_len, d_model)
    for pos in range(seq_len):
        for i in range((d_model + 1) // 2):
            angle = pos / 10000 ** (i / d_model)
            pe[pos, 2 * i] = math.sin(angle)
            if 2 * i + 1 < d_model:
                pe[pos, 2 * i + 1] = math.cos(angle)
    return pe


def pe_column_exponent(seq_len, d_model):
    pe = torch.zeros(seq_len, d_model)
    for pos in range(seq_len):
        for j in range(d_model):
            angle = pos / 10000 ** (j / d_model)
            pe[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


def pe_times(seq_len, d_model):
    pe = torch.zeros(seq_len, d_model)
    pos = torch.arange(seq_len).float()[:, None]
    scale = 10000 ** (torch.arange(0, d_model, 2).float() / d_model)
    pe[:, 0::2] = torch.sin(pos * scale)
    pe[:, 1::2] = torch.cos(pos * scale)[:, : d_model // 2]
    return pe


def pe_from_one(seq_len, d_model):
    pe = torch.zeros(seq_len, d_model)
    pos = torch.arange(1, seq_len + 1).float()[:, None]
    freq = torch.exp(-math.log(10000) * torch.arange(0, d_model, 2).float() / d_model)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : d_model // 2]
    return pe


def pe_transposed(seq_len, d_model):
    return pe_exp_log32(seq_len, d_model).T.contiguous()


def pe_drops_column(seq_len, d_model):
    pos = torch.arange(seq_len, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, d_model - 1, 2, dtype=torch.float64) / d_model)
    return torch.stack([torch.sin(pos * freq), torch.cos(pos * freq)], dim=-1).flatten(1)  # 2 * (d // 2) columns


def pe_extra_column(seq_len, d_model):
    pos = torch.arange(seq_len, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    return torch.stack([torch.sin(pos * freq), torch.cos(pos * freq)], dim=-1).flatten(1)  # 2 * ceil(d / 2)


def _rope_angles(length, d, positions, base, exponent=2):
    if positions is None:
        positions = torch.arange(length)
    return positions.double()[:, None] * base ** (-exponent * torch.arange(d // 2).double() / d)


def rope_clockwise(x, positions=None, base=10000.0):
    angles = _rope_angles(x.shape[-2], x.shape[-1], positions, base).to(x.dtype)
    out = x.clone()
    out[..., 0::2] = x[..., 0::2] * angles.cos() + x[..., 1::2] * angles.sin()
    out[..., 1::2] = -x[..., 0::2] * angles.sin() + x[..., 1::2] * angles.cos()
    return out


def rope_rotate_half(x, positions=None, base=10000.0):
    d = x.shape[-1]
    angles = _rope_angles(x.shape[-2], d, positions, base).to(x.dtype)
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def rope_slow_decay(x, positions=None, base=10000.0):
    angles = _rope_angles(x.shape[-2], x.shape[-1], positions, base, exponent=1).to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * angles.cos() - b * angles.sin(), a * angles.sin() + b * angles.cos()], -1).flatten(-2)


def rope_from_one(x, positions=None, base=10000.0):
    if positions is None:
        positions = torch.arange(1, x.shape[-2] + 1)
    return rope_slices(x, positions, base)


def rope_no_positions(x, positions=None, base=10000.0):
    return rope_slices(x, None, base)


def rope_fixed_base(x, positions=None, base=10000.0):
    return rope_slices(x, positions)


def rope_added(x, positions=None, base=10000.0):
    return x + pe_exp_log32(x.shape[-2], x.shape[-1]).to(x.dtype)


WRONG = {
    "ex-04-1": {
        "transposed-weights": sa_transposed, "no-scale": sa_no_scale, "scaled-by-d_model": sa_d_model,
        "scaled-by-d_k": sa_d_k, "softmax-wrong-axis": sa_axis,
        "queries-keys-swapped": [sa_keys_as_queries, sa_k_times_q], "values-not-projected": sa_raw_values,
        "swapped-return": sa_swapped, "mask-ignored": sa_no_mask, "mask-inverted": sa_mask_inverted,
        "mask-after-softmax": sa_mask_late,
    },
    "ex-04-2": {
        "not-permuted-back": gap_unpermuted, "input-not-permuted": gap_only_output,
        "inverse-permutation": gap_perm_twice, "mean-not-max": gap_mean,
    },
    "ex-04-3": {
        "cos-on-even": pe_cos_first, "halves": pe_halves, "exponent-i": pe_i_over_d,
        "exponent-column": pe_column_exponent, "frequency-inverted": pe_times, "positions-from-1": pe_from_one,
        "transposed": pe_transposed, "odd-d-model": [pe_drops_column, pe_extra_column],
    },
    "ex-04-4": {
        "wrong-direction": rope_clockwise, "halves": rope_rotate_half, "exponent-i": rope_slow_decay,
        "positions-from-1": rope_from_one, "positions-ignored": rope_no_positions,
        "base-ignored": rope_fixed_base, "added-encoding": rope_added,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(4, CORRECT, WRONG)


def test_pytorch_attention_is_refused_in_exercise_1():
    def with_builtin(x, w_q, w_k, w_v, mask=None):
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask), None

    exc = failure("ex-04-1", with_builtin)
    assert exc.mistake == "forbidden-builtin"
    assert "torch.nn.functional.scaled_dot_product_attention" in exc.message
