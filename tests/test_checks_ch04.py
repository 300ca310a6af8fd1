"""Chapter 4 checks: correct answers pass, each catalogued mistake is named,
look-alikes of a mistake get the plain message, stubs are not attempted."""

import math

import numpy as np
import pytest
import torch

from checkkit import failure, make_tests, run_check

# --------------------------------------------------------------------------- correct answers


def sa_matmul(x, w_q, w_k, w_v, mask=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(w_q.shape[1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
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
    if mask is not None:                   # rows with no allowed key: 0
        weights = weights * mask.any(dim=-1, keepdim=True)
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
    weights[weights.isnan()] = 0.0
    return weights @ v, weights


def gap_reference_style(layer, x, perm):
    return (layer(x[:, perm]) - layer(x)[:, perm]).abs().max().item()


def gap_unshuffle(layer, x, perm):
    inverse = torch.argsort(perm)
    return float(torch.max(torch.abs(layer(x[:, perm])[:, inverse] - layer(x))))


def gap_numpy(layer, x, perm):
    a = layer(x[:, perm]).detach().numpy()
    b = layer(x).detach().numpy()[:, np.asarray(perm)]
    return float(np.abs(a - b).max())


def gap_loop(layer, x, perm):
    shuffled = torch.stack([x[:, int(p)] for p in perm], dim=1)
    out, out_shuffled = layer(x), layer(shuffled)
    worst = 0.0
    for new_position, old_position in enumerate(perm.tolist()):
        worst = max(worst, (out_shuffled[:, new_position] - out[:, old_position]).abs().max().item())
    return worst


def gap_both_directions(layer, x, perm):
    """No abs(), but the largest difference either way: the same number."""
    d = layer(x[:, perm]) - layer(x)[:, perm]
    return max(d.max().item(), -d.min().item())


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
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(seq_len, 2 * half)[:, :d_model].float()


def pe_numpy_then_torch(seq_len, d_model):
    pos = np.arange(seq_len)[:, np.newaxis]
    j = np.arange(d_model)[np.newaxis, :]
    angles = pos / np.power(10000, (2 * (j // 2)) / d_model)
    return torch.from_numpy(np.where(j % 2 == 0, np.sin(angles), np.cos(angles)).astype(np.float32))


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


def rope_repeat_interleave(x, positions=None, base=10000.0):
    """cos and sin spread over every feature, each angle twice side by side,
    and an interleaved 'rotate every pair' (GPT-J's layout)."""
    length, d = x.shape[-2:]
    if positions is None:
        positions = torch.arange(length)
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2).double() / d)
    angles = torch.outer(positions.double(), inv_freq)
    angles = angles.repeat_interleave(2, dim=-1).to(x.dtype)          # (L, d)
    turned = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)
    return x * angles.cos() + turned * angles.sin()


def alibi_reference_style(q, k, v, slopes, mask=None):
    positions = torch.arange(q.size(-2))
    distance = (positions[None, :] - positions[:, None]).abs()
    bias = -slopes[:, None, None] * distance
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)) + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def alibi_einsum32(q, k, v, slopes, mask=None):
    """float32, einsum, distances from torch.cdist, the bias as a float
    mask that also carries the -inf of the boolean one."""
    q, k, v, slopes = q.float(), k.float(), v.float(), slopes.float()
    pos = torch.arange(q.shape[-2], dtype=torch.float32)[:, None]
    distance = torch.cdist(pos, pos, p=1)                              # (L, L)
    bias = -torch.einsum("h,ij->hij", slopes, distance)
    if mask is not None:
        bias = bias.masked_fill(~mask, -math.inf)
    scores = torch.einsum("bhid,bhjd->bhij", q, k) / q.shape[-1] ** 0.5
    weights = torch.softmax(scores + bias, dim=-1)
    weights = torch.where(torch.isnan(weights), 0.0, weights)
    return torch.einsum("bhij,bhjd->bhid", weights, v), weights


def alibi_head_loop(q, k, v, slopes, mask=None):
    """One head at a time, the bias built from the causal formula and its
    mirror image."""
    length = q.shape[-2]
    i = torch.arange(length)[:, None]
    j = torch.arange(length)[None, :]
    behind = torch.where(j <= i, i - j, j - i)                        # |i - j|
    outputs, all_weights = [], []
    for h in range(q.shape[1]):
        scores = q[:, h] @ k[:, h].mT / math.sqrt(q.shape[-1])
        scores = scores - slopes[h] * behind
        if mask is not None:
            head_mask = mask if mask.dim() < 3 else mask[:, min(h, mask.shape[1] - 1)]
            scores = scores.masked_fill(~head_mask, -math.inf)
        w = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        outputs.append(w @ v[:, h])
        all_weights.append(w)
    return torch.stack(outputs, dim=1), torch.stack(all_weights, dim=1)


def alibi_on_chapter3(q, k, v, slopes, mask=None):
    """The softmax of chapter 3, with the bias folded into the queries'
    scores by hand: scores + bias, then the book's masking rules."""
    length = q.size(-2)
    positions = torch.arange(length, dtype=q.dtype)
    distance = (positions.view(1, -1) - positions.view(-1, 1)).abs()
    scores = torch.matmul(q, k.transpose(-1, -2)) * q.size(-1) ** -0.5
    scores = scores - slopes.view(-1, 1, 1) * distance
    if mask is not None:
        scores = torch.where(mask, scores, float("-inf"))
    weights = scores.softmax(dim=-1)
    weights = weights.masked_fill(weights.isnan(), 0)
    return weights @ v, weights


CORRECT = {
    "ex-04-1": [sa_matmul, sa_einsum32, sa_reuse_chapter3, sa_linear],
    "ex-04-2": [gap_reference_style, gap_unshuffle, gap_numpy, gap_loop, gap_both_directions],
    "ex-04-3": [pe_loops, pe_exp_log32, pe_stack_pairs, pe_numpy_then_torch],
    "ex-04-4": [rope_slices, rope_complex, rope_matrices, rope_repeat_interleave],
    "ex-04-5": [alibi_reference_style, alibi_einsum32, alibi_head_loop, alibi_on_chapter3],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def _attention(q, k, v, mask=None, scale=None, dim=-1):
    scores = q @ k.transpose(-2, -1) / (math.sqrt(k.shape[-1]) if scale is None else scale)
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -float("inf"))
    weights = scores.softmax(dim=dim).nan_to_num(0.0)
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
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sa_copied_line(x, w_q, w_k, w_v, mask=None):
    q = x @ w_q
    k = x @ w_q
    v = x @ w_v
    return _attention(q, k, v, mask)


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
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sa_fill_zero(x, w_q, w_k, w_v, mask=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores * mask
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sa_nan_rows(x, w_q, w_k, w_v, mask=None):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v, torch.softmax(scores, dim=-1)


def sa_annotated(x, w_q, w_k, w_v, mask=None):
    """The Annotated Transformer's masked_fill(mask == 0, -1e9)."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = scores.softmax(dim=-1)
    return torch.matmul(p_attn, v), p_attn


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


def gap_batch_axis(layer, x, perm):
    return (layer(x[perm]) - layer(x)[perm]).abs().max().item()


def gap_signed(layer, x, perm):
    return (layer(x[:, perm]) - layer(x)[:, perm]).max().item()


def gap_norm(layer, x, perm):
    return torch.dist(layer(x[:, perm]), layer(x)[:, perm]).item()


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


def pe_annotated(seq_len, d_model):
    """The Annotated Transformer's table: fine for an even d_model, a shape
    error for an odd one."""
    pe = torch.zeros(seq_len, d_model)
    position = torch.arange(0, seq_len).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2) * -(math.log(10000.0) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


def pe_drops_column(seq_len, d_model):
    pos = torch.arange(seq_len, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, d_model - 1, 2, dtype=torch.float64) / d_model)
    return torch.stack([torch.sin(pos * freq), torch.cos(pos * freq)], dim=-1).flatten(1).float()  # 2 * (d // 2)


def pe_extra_column(seq_len, d_model):
    pos = torch.arange(seq_len, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    return torch.stack([torch.sin(pos * freq), torch.cos(pos * freq)], dim=-1).flatten(1).float()  # 2 * ceil(d / 2)


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


def rope_cat_angles(x, positions=None, base=10000.0):
    """LLaMA's torch.cat((freqs, freqs), -1) with an interleaved rotation."""
    length, d = x.shape[-2:]
    angles = _rope_angles(length, d, positions, base)
    emb = torch.cat((angles, angles), dim=-1).to(x.dtype)            # (L, d)
    turned = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)
    return x * emb.cos() + turned * emb.sin()


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


def _alibi(q, k, v, slopes, mask=None, bias_of=None, scale_bias=False, zero=True):
    positions = torch.arange(q.size(-2))
    i, j = positions[:, None], positions[None, :]
    bias = bias_of(i, j, slopes[:, None, None]) if bias_of else 0.0
    scores = q @ k.transpose(-2, -1)
    if scale_bias:
        scores = (scores + bias) / math.sqrt(q.size(-1))
    else:
        scores = scores / math.sqrt(q.size(-1)) + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if zero:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def alibi_plus(q, k, v, slopes, mask=None):
    return _alibi(q, k, v, slopes, mask, lambda i, j, m: m * (i - j).abs())


def alibi_signed(q, k, v, slopes, mask=None):
    """The paper's causal formula -m (i - j), used with no mask."""
    return _alibi(q, k, v, slopes, mask, lambda i, j, m: -m * (i - j))


def alibi_no_bias(q, k, v, slopes, mask=None):
    return _alibi(q, k, v, slopes, mask)


def alibi_bias_scaled(q, k, v, slopes, mask=None):
    return _alibi(q, k, v, slopes, mask, lambda i, j, m: -m * (i - j).abs(), scale_bias=True)


def alibi_no_scale(q, k, v, slopes, mask=None):
    distance = (torch.arange(q.size(-2))[None, :] - torch.arange(q.size(-2))[:, None]).abs()
    scores = q @ k.transpose(-2, -1) - slopes[:, None, None] * distance
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def alibi_batch_axis(q, k, v, slopes, mask=None):
    distance = (torch.arange(q.size(-2))[None, :] - torch.arange(q.size(-2))[:, None]).abs()
    bias = -slopes.view(-1, 1, 1, 1) * distance                        # (heads, 1, L, L)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)) + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def alibi_no_mask(q, k, v, slopes, mask=None):
    return _alibi(q, k, v, slopes, None, lambda i, j, m: -m * (i - j).abs())


def alibi_annotated(q, k, v, slopes, mask=None):
    """The distances from a list, and The Annotated Transformer's -1e9."""
    L = q.shape[-2]
    distance = torch.tensor([[abs(i - j) for j in range(L)] for i in range(L)], dtype=q.dtype)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) - slopes[:, None, None] * distance
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = torch.softmax(scores, -1)
    return weights @ v, weights


def alibi_nan_rows(q, k, v, slopes, mask=None):
    return _alibi(q, k, v, slopes, mask, lambda i, j, m: -m * (i - j).abs(), zero=False)


WRONG = {
    "ex-04-1": {
        "transposed-weights": sa_transposed, "no-scale": sa_no_scale, "scaled-by-d_model": sa_d_model,
        "scaled-by-d_k": sa_d_k, "softmax-wrong-axis": sa_axis,
        "queries-keys-swapped": [sa_keys_as_queries, sa_k_times_q], "keys-from-w_q": sa_copied_line,
        "values-not-projected": sa_raw_values,
        "swapped-return": sa_swapped, "mask-ignored": sa_no_mask, "mask-inverted": sa_mask_inverted,
        "masked-scores-zero": sa_fill_zero, "mask-after-softmax": sa_mask_late,
        "fully-masked-nan": sa_nan_rows, "fully-masked-uniform": sa_annotated,
    },
    "ex-04-2": {
        "not-permuted-back": gap_unpermuted, "input-not-permuted": gap_only_output,
        "inverse-permutation": gap_perm_twice, "mean-not-max": gap_mean,
        "batch-axis-shuffled": gap_batch_axis, "no-abs": gap_signed, "norm-not-max": gap_norm,
    },
    "ex-04-3": {
        "cos-on-even": pe_cos_first, "halves": pe_halves, "exponent-i": pe_i_over_d,
        "exponent-column": pe_column_exponent, "frequency-inverted": pe_times, "positions-from-1": pe_from_one,
        "transposed": pe_transposed, "odd-d-model-crash": pe_annotated,
        "odd-d-model": [pe_drops_column, pe_extra_column],
    },
    "ex-04-4": {
        "wrong-direction": rope_clockwise, "halves": rope_rotate_half, "exponent-i": rope_slow_decay,
        "positions-from-1": rope_from_one, "positions-ignored": rope_no_positions,
        "base-ignored": rope_fixed_base, "added-encoding": rope_added,
        "frequencies-not-interleaved": rope_cat_angles,
    },
    "ex-04-5": {
        "bias-sign": alibi_plus, "distance-signed": alibi_signed, "bias-ignored": alibi_no_bias,
        "bias-scaled": alibi_bias_scaled, "no-scale": alibi_no_scale,
        "slopes-on-batch-axis": alibi_batch_axis, "mask-ignored": alibi_no_mask,
        "fully-masked-nan": alibi_nan_rows, "fully-masked-uniform": alibi_annotated,
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


# ---------------------------------------------------------------- look-alikes
# Wrong answers a learner could write that behave like a catalogued mistake
# on some cases and not on others: they must get the plain message (the
# smallest failing case, expected against got), never the mistake's name.


def sa_sqrt_shape_1(x, w_q, w_k, w_v, mask=None):
    """math.sqrt(x.shape[1]): d_model for one sentence (like
    scaled-by-d_model), the length with a batch."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return _attention(q, k, v, mask, scale=math.sqrt(x.shape[1]))


def sa_values_transposed(x, w_q, w_k, w_v, mask=None):
    """Only the values multiplied by w_v.T: right shape for square weights
    only (like transposed-weights there)."""
    return _attention(x @ w_q, x @ w_k, x @ w_v.T, mask)


def sa_mask_if_3d(x, w_q, w_k, w_v, mask=None):
    """The mask used only when it has a batch axis: ignored for (L, L)."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return _attention(q, k, v, mask if mask is not None and mask.dim() == 3 else None)


def sa_fill_minus_5(x, w_q, w_k, w_v, mask=None):
    """-5 is not far enough below: empty rows come out uniform (like
    fully-masked-uniform), taped keys keep a little weight."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, -5.0)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def gap_signed_the_other_way(layer, x, perm):
    """No abs, and the difference taken the other way round."""
    return (layer(x)[:, perm] - layer(x[:, perm])).max().item()


def gap_batch_axis_on_one_side(layer, x, perm):
    """The input shuffled along the words, the output along the batch."""
    return (layer(x[:, perm]) - layer(x)[perm]).abs().max().item()


def gap_first_sentence(layer, x, perm):
    """Only the first sentence compared."""
    return (layer(x[:, perm])[0] - layer(x)[0, perm]).abs().max().item()


def pe_two_j(seq_len, d_model):
    """2j / d_model with j the column itself: frequencies fall twice too fast
    (not one of the catalogue's exponents)."""
    pos = torch.arange(seq_len, dtype=torch.float64)[:, None]
    j = torch.arange(d_model, dtype=torch.float64)
    angles = pos / 10000 ** (2 * j / d_model)
    return torch.where(j.long() % 2 == 0, angles.sin(), angles.cos()).float()


def pe_odd_as_even(seq_len, d_model):
    """For an odd d_model, the table of d_model + 1 columns with the last
    one cut off... from the frequencies of d_model + 1."""
    width = d_model + d_model % 2
    return pe_exp_log32(seq_len, width)[:, :d_model]


def rope_sorted_positions(x, positions=None, base=10000.0):
    """The positions sorted first: right when they come in order."""
    if positions is not None:
        positions = positions.sort().values
    return rope_slices(x, positions, base)


def rope_sign_in_one_line(x, positions=None, base=10000.0):
    """The sign of the sine flipped in the second line only."""
    angles = _rope_angles(x.shape[-2], x.shape[-1], positions, base).to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * angles.cos() - b * angles.sin()
    out[..., 1::2] = -a * angles.sin() + b * angles.cos()
    return out


def rope_base_as_int(x, positions=None, base=10000.0):
    """base ** -2i/d with 2i / d in integer arithmetic: 0 for every pair."""
    length, d = x.shape[-2:]
    if positions is None:
        positions = torch.arange(length)
    exponent = torch.arange(0, d, 2) // d                            # all 0
    angles = positions.double()[:, None] * base ** (-exponent.double())
    a, b = x[..., 0::2], x[..., 1::2]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    return torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)


def alibi_causal_bias_everywhere(q, k, v, slopes, mask=None):
    """The paper's causal bias, -m (i - j) behind the query and 0 ahead of
    it, used without a causal mask: right where the future is masked."""
    return _alibi(q, k, v, slopes, mask, lambda i, j, m: -m * (i - j).clamp(min=0))


def alibi_j_minus_i(q, k, v, slopes, mask=None):
    """-m (j - i): a signed distance the other way round."""
    return _alibi(q, k, v, slopes, mask, lambda i, j, m: -m * (j - i))


def alibi_slopes_reversed(q, k, v, slopes, mask=None):
    """The slopes read from the last head to the first."""
    return _alibi(q, k, v, slopes.flip(0), mask, lambda i, j, m: -m * (i - j).abs())


LOOK_ALIKES = [
    ("ex-04-1", sa_sqrt_shape_1, "scaled-by-d_model"),
    ("ex-04-1", sa_values_transposed, "transposed-weights"),
    ("ex-04-1", sa_mask_if_3d, "mask-ignored"),
    ("ex-04-1", sa_fill_minus_5, "fully-masked-uniform"),
    ("ex-04-2", gap_signed_the_other_way, "no-abs"),
    ("ex-04-2", gap_batch_axis_on_one_side, "batch-axis-shuffled"),
    ("ex-04-2", gap_first_sentence, None),
    ("ex-04-3", pe_two_j, "exponent-column"),
    ("ex-04-3", pe_odd_as_even, "odd-d-model"),
    ("ex-04-4", rope_sorted_positions, "positions-ignored"),
    ("ex-04-4", rope_sign_in_one_line, "wrong-direction"),
    ("ex-04-4", rope_base_as_int, "exponent-i"),
    ("ex-04-5", alibi_causal_bias_everywhere, "distance-signed"),
    ("ex-04-5", alibi_j_minus_i, "distance-signed"),
    ("ex-04-5", alibi_slopes_reversed, "slopes-on-batch-axis"),
]


@pytest.mark.parametrize("ex_id,answer,resembles", LOOK_ALIKES,
                         ids=[a.__name__ for _, a, _ in LOOK_ALIKES])
def test_a_look_alike_gets_the_plain_message(ex_id, answer, resembles):
    exc = failure(ex_id, answer)
    assert exc.mistake is None, f"{answer.__name__} was told {exc.mistake!r}: {exc.message}"
    assert exc.message.startswith(("for ", "your function raised")), exc.message
    assert all(len(line) <= 79 for line in exc._render_traceback_())


def test_look_alikes_cover_every_exercise():
    from attnbook.checks import EXERCISES

    ids = {i for i, ex in EXERCISES.items() if ex.chapter == 4}
    assert {ex_id for ex_id, _, _ in LOOK_ALIKES} == ids


# ------------------------------------------------------- what the text asks


@pytest.mark.parametrize("answer,kind", [
    (lambda layer, x, perm: (layer(x[:, perm]) - layer(x)[:, perm]).abs().max(), "torch tensor"),
    (lambda layer, x, perm: np.float32(gap_numpy(layer, x, perm)), "float32"),
])
def test_the_gap_is_a_python_number(answer, kind):
    exc = failure("ex-04-2", answer)
    assert exc.mistake is None and "asks for a Python number" in exc.message and kind in exc.message


def test_the_table_is_float32():
    exc = failure("ex-04-3", lambda n, d: pe_exp_log32(n, d).double())
    assert exc.mistake is None and "float32, got float64" in exc.message


def test_rope_arguments_are_passed_by_name():
    def renamed(x, pos=None, base=10000.0):
        return rope_slices(x, pos, base)

    exc = failure("ex-04-4", renamed)
    assert "unexpected keyword argument 'positions'" in exc.message


def test_the_checks_are_fast_on_a_correct_answer():
    import time

    for ex_id, answers in CORRECT.items():
        start = time.perf_counter()
        run_check(ex_id, answers[0])
        assert time.perf_counter() - start < 1.0, ex_id
