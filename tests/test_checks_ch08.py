"""Chapter 8 checks: correct answers pass, each catalogued mistake is named,
look-alikes get the plain message, stubs are not attempted."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook.checks import EXERCISES
from checkkit import failure, make_tests, run_check

# ---------------------------------------------------------- correct answers


def mask_compare(n, window):
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return (j <= i) & (i - j < window)


def mask_tril_triu(n, window):
    ones = torch.ones(n, n, dtype=torch.bool)
    return torch.tril(ones) & torch.triu(ones, diagonal=-(window - 1))


def mask_loops(n, window):
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        for j in range(max(0, i - window + 1), i + 1):
            mask[i, j] = True
    return mask


def mask_numpy(n, window):
    offsets = np.subtract.outer(np.arange(n), np.arange(n))       # i - j
    return torch.from_numpy((offsets >= 0) & (offsets < window))


def mask_slices(n, window):
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        mask[i, max(0, i - window + 1):i + 1] = True
    return mask


def step_matmul(q, k, v, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k], dim=-2)
    cache_v = torch.cat([cache_v, v], dim=-2)
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


def step_dim2_einsum(q, k, v, cache_k, cache_v):
    keys = torch.cat((cache_k, k), 2)
    values = torch.cat((cache_v, v), 2)
    scores = torch.einsum("bhqd,bhkd->bhqk", q, keys) * q.shape[-1] ** -0.5
    weights = (scores - scores.amax(-1, keepdim=True)).exp()
    weights = weights / weights.sum(-1, keepdim=True)
    return torch.einsum("bhqk,bhkd->bhqd", weights, values), keys, values


def step_package(q, k, v, cache_k, cache_v):
    from attnbook.attention import scaled_dot_product_attention

    cache_k = torch.cat([cache_k, k], -2)
    cache_v = torch.cat([cache_v, v], -2)
    output, _ = scaled_dot_product_attention(q, cache_k, cache_v)
    return output, cache_k, cache_v


def step_float32(q, k, v, cache_k, cache_v):
    out, ck, cv = step_matmul(q.float(), k.float(), v.float(),
                              cache_k.float(), cache_v.float())
    return out, ck.to(q.dtype), cv.to(q.dtype)


def step_nanogpt_scale(q, k, v, cache_k, cache_v):
    """nanoGPT writes the scale as a product."""
    cache_k, cache_v = torch.cat([cache_k, k], 2), torch.cat([cache_v, v], 2)
    att = (q @ cache_k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
    return F.softmax(att, dim=-1) @ cache_v, cache_k, cache_v


def bytes_element_size(batch, n_heads, L_q, L_k, dtype):
    size = torch.empty((), dtype=dtype).element_size()
    return batch * n_heads * L_q * L_k * size


def bytes_itemsize(batch, n_heads, L_q, L_k, dtype):
    return math.prod([batch, n_heads, L_q, L_k]) * dtype.itemsize


def bytes_bits(batch, n_heads, L_q, L_k, dtype):
    bits = torch.finfo(dtype).bits
    return batch * n_heads * L_q * L_k * bits // 8


def bytes_tensor(batch, n_heads, L_q, L_k, dtype):
    weights = torch.empty(batch, n_heads, L_q, L_k, dtype=dtype,
                          device="meta")
    return weights.numel() * weights.element_size()


def bytes_numpy_int(batch, n_heads, L_q, L_k, dtype):
    """NumPy's product is a NumPy integer: an int all the same."""
    return np.prod([batch, n_heads, L_q, L_k]) * dtype.itemsize


def linear_reference_style(q, k, v):
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    kv = phi_k.transpose(-2, -1) @ v
    return (phi_q @ kv) / (phi_q @ phi_k.sum(-2).unsqueeze(-1))


def linear_einsum32(q, k, v):
    q, k, v = q.float(), k.float(), v.float()
    phi_q = torch.where(q > 0, q + 1, torch.exp(q))
    phi_k = torch.where(k > 0, k + 1, torch.exp(k))
    kv = torch.einsum("...kd,...ke->...de", phi_k, v)
    numerator = torch.einsum("...qd,...de->...qe", phi_q, kv)
    denominator = torch.einsum("...qd,...d->...q", phi_q, phi_k.sum(-2))
    return numerator / denominator[..., None]


def linear_quadratic(q, k, v):
    """The same weights, built as an (L_q, L_k) matrix: slower but
    correct."""
    sims = (F.elu(q) + 1) @ (F.elu(k) + 1).transpose(-2, -1)
    return (sims / sims.sum(-1, keepdim=True)) @ v


def linear_with_eps(q, k, v):
    """As Katharopoulos et al.'s code: a small eps in the normaliser."""
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    kv = torch.einsum("...sd,...sm->...dm", phi_k, v)
    z = 1 / (torch.einsum("...ld,...d->...l", phi_q, phi_k.sum(-2)) + 1e-6)
    return torch.einsum("...ld,...dm,...l->...lm", phi_q, kv, z)


def linear_scaled_scores(q, k, v):
    """Scaling the similarities by 1 / sqrt(d_k) cancels in the ratio."""
    scale = 1 / math.sqrt(q.size(-1))
    phi_q, phi_k = (F.elu(q) + 1) * scale, F.elu(k) + 1
    numerator = phi_q @ (phi_k.transpose(-2, -1) @ v)
    return numerator / (phi_q @ phi_k.sum(-2, keepdim=True).transpose(-2, -1))


def blocks_online(q, k, v, block_size):
    d_k, d_v = q.size(-1), v.size(-1)
    top = torch.full((*q.shape[:-1], 1), -math.inf, dtype=q.dtype)
    total = torch.zeros_like(top)
    out = torch.zeros(*q.shape[:-1], d_v, dtype=q.dtype)
    for start in range(0, k.size(-2), block_size):
        k_block = k[..., start:start + block_size, :]
        v_block = v[..., start:start + block_size, :]
        scores = q @ k_block.transpose(-2, -1) / math.sqrt(d_k)
        new_top = torch.maximum(top, scores.amax(-1, keepdim=True))
        factor = torch.exp(top - new_top)
        weights = torch.exp(scores - new_top)
        total = total * factor + weights.sum(-1, keepdim=True)
        out = out * factor + weights @ v_block
        top = new_top
    return out / total


def blocks_two_passes(q, k, v, block_size):
    """First the largest score of each query, block by block; then the
    sums against it. Twice the work, never more than a block held."""
    scale = q.size(-1) ** -0.5
    k_blocks, v_blocks = k.split(block_size, -2), v.split(block_size, -2)
    top = None
    for k_block in k_blocks:
        block_top = (q @ k_block.mT * scale).amax(-1, keepdim=True)
        top = block_top if top is None else torch.maximum(top, block_top)
    total, out = 0, 0
    for k_block, v_block in zip(k_blocks, v_blocks):
        weights = torch.exp(q @ k_block.mT * scale - top)
        total = total + weights.sum(-1, keepdim=True)
        out = out + weights @ v_block
    return out / total


def blocks_logsumexp(q, k, v, block_size):
    """Each block's own softmax output and log-sum-exp, merged as they
    come (the way FlashAttention-2 combines its pieces)."""
    lse, out = None, None
    for start in range(0, k.shape[-2], block_size):
        scores = torch.einsum("...qd,...kd->...qk", q,
                              k[..., start:start + block_size, :])
        scores = scores / math.sqrt(q.shape[-1])
        block_lse = torch.logsumexp(scores, dim=-1, keepdim=True)
        block_out = torch.softmax(scores, -1) @ v[..., start:start
                                                  + block_size, :]
        if lse is None:
            lse, out = block_lse, block_out
            continue
        new_lse = torch.logaddexp(lse, block_lse)
        out = (out * torch.exp(lse - new_lse)
               + block_out * torch.exp(block_lse - new_lse))
        lse = new_lse
    return out


def blocks_padded_float64(q, k, v, block_size):
    """Pads the keys to whole blocks (padded keys get -inf) and works in
    float64 whatever the inputs."""
    dtype = q.dtype
    q, k, v = q.double(), k.double(), v.double()
    n_keys = k.size(-2)
    pad = -n_keys % block_size
    k = F.pad(k, (0, 0, 0, pad))
    v = F.pad(v, (0, 0, 0, pad))
    top = torch.full(q.shape[:-1] + (1,), float("-inf"), dtype=q.dtype)
    total = torch.zeros_like(top)
    out = torch.zeros(q.shape[:-1] + v.shape[-1:], dtype=q.dtype)
    for start in range(0, n_keys + pad, block_size):
        scores = q @ k[..., start:start + block_size, :].transpose(-1, -2)
        scores = scores / math.sqrt(q.shape[-1])
        real = torch.arange(start, start + block_size) < n_keys
        scores = scores.masked_fill(~real, float("-inf"))
        new_top = torch.maximum(top, scores.max(-1, keepdim=True).values)
        factor = (top - new_top).exp()
        weights = (scores - new_top).exp()
        total = factor * total + weights.sum(-1, keepdim=True)
        out = factor * out + weights @ v[..., start:start + block_size, :]
        top = new_top
    return (out / total).to(dtype)


def blocks_package_per_block(q, k, v, block_size):
    """The chapter's attention on each block, merged with the blocks'
    log-sum-exp computed from their scores."""
    from attnbook.attention import scaled_dot_product_attention

    pieces = []
    for start in range(0, k.size(-2), block_size):
        k_block = k[..., start:start + block_size, :]
        v_block = v[..., start:start + block_size, :]
        out, _ = scaled_dot_product_attention(q, k_block, v_block)
        scores = q @ k_block.transpose(-2, -1) / math.sqrt(q.size(-1))
        pieces.append((torch.logsumexp(scores, -1, keepdim=True), out))
    lse, out = pieces[0]
    for block_lse, block_out in pieces[1:]:
        merged = torch.logaddexp(lse, block_lse)
        out = (torch.exp(lse - merged) * out
               + torch.exp(block_lse - merged) * block_out)
        lse = merged
    return out


CORRECT = {
    "ex-08-1": [mask_compare, mask_tril_triu, mask_loops, mask_numpy,
                mask_slices],
    "ex-08-2": [step_matmul, step_dim2_einsum, step_package, step_float32,
                step_nanogpt_scale],
    "ex-08-3": [bytes_element_size, bytes_itemsize, bytes_bits,
                bytes_tensor, bytes_numpy_int],
    "ex-08-4": [linear_reference_style, linear_einsum32, linear_quadratic,
                linear_with_eps, linear_scaled_scores],
    "ex-08-5": [blocks_online, blocks_two_passes, blocks_logsumexp,
                blocks_padded_float64, blocks_package_per_block],
}

# ------------------------------------------- wrong answers, one per mistake


def mask_wide(n, window):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (j <= i) & (i - j <= window)


def mask_narrow(n, window):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (j <= i) & (i - j < window - 1)


def mask_both_ways(n, window):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (i - j).abs() < window


def mask_tril_only_band(n, window):
    ones = torch.ones(n, n, dtype=torch.bool)
    return (torch.triu(ones, diagonal=-(window - 1))
            & torch.tril(ones, diagonal=window - 1))


def mask_no_causal(n, window):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return i - j < window


def mask_triu_only(n, window):
    ones = torch.ones(n, n, dtype=torch.bool)
    return torch.triu(ones, diagonal=1 - window)


def mask_future(n, window):
    return mask_compare(n, window).T


def mask_strictly_before(n, window):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (j < i) & (i - j <= window)


def mask_inverted(n, window):
    return ~mask_compare(n, window)


def mask_annotated_style(n, window):
    """The Annotated Transformer builds a mask with triu and keeps `== 0`;
    here the `== 0` is forgotten."""
    band = torch.triu(torch.ones(n, n), diagonal=1) + torch.tril(
        torch.ones(n, n), diagonal=-window)
    return band.bool()


def mask_negative_slice(n, window):
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        mask[i, i - window + 1:i + 1] = True
    return mask


def mask_negative_index(n, window):
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        for j in range(i - window + 1, i + 1):
            mask[i, j] = True
    return mask


def step_cat_batch(q, k, v, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k], dim=0)
    cache_v = torch.cat([cache_v, v], dim=0)
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


def step_cat_heads(q, k, v, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k], dim=1)
    cache_v = torch.cat([cache_v, v], dim=1)
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


def step_cat_features(q, k, v, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k], dim=-1)
    cache_v = torch.cat([cache_v, v], dim=-1)
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


def step_old_keys_only(q, k, v, cache_k, cache_v):
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1))
    out = torch.softmax(scores, dim=-1) @ cache_v
    return (out, torch.cat([cache_k, k], dim=-2),
            torch.cat([cache_v, v], dim=-2))


def step_forgets(q, k, v, cache_k, cache_v):
    keys = torch.cat([cache_k, k], dim=-2)
    values = torch.cat([cache_v, v], dim=-2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-1) @ values, cache_k, cache_v


def step_prepend(q, k, v, cache_k, cache_v):
    out = step_matmul(q, k, v, cache_k, cache_v)[0]
    return out, torch.cat([k, cache_k], -2), torch.cat([v, cache_v], -2)


def step_unscaled(q, k, v, cache_k, cache_v):
    cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
    weights = torch.softmax(q @ cache_k.transpose(-2, -1), dim=-1)
    return weights @ cache_v, cache_k, cache_v


def step_times_sqrt(q, k, v, cache_k, cache_v):
    cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
    scores = q @ cache_k.transpose(-2, -1) * math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


def step_scale_d_v(q, k, v, cache_k, cache_v):
    cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(cache_v.size(-1))
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


def step_softmax_queries(q, k, v, cache_k, cache_v):
    cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-2) @ cache_v, cache_k, cache_v


def step_tril_mask(q, k, v, cache_k, cache_v):
    """A causal mask for one new query, built the way chapter 3 built a
    square one."""
    cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1))
    mask = torch.tril(torch.ones(q.size(-2), cache_k.size(-2))).bool()
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


def step_caches_first(q, k, v, cache_k, cache_v):
    out, ck, cv = step_matmul(q, k, v, cache_k, cache_v)
    return cv, ck, out


def bytes_numbers(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_k


def bytes_float32(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_k * 4


def bytes_default_tensor(batch, n_heads, L_q, L_k, dtype):
    """torch.empty(()) without the dtype is a float32 tensor."""
    return batch * n_heads * L_q * L_k * torch.empty(()).element_size()


def bytes_in_bits(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_k * torch.finfo(dtype).bits


def bytes_one_sequence(batch, n_heads, L_q, L_k, dtype):
    size = torch.empty((), dtype=dtype).element_size()
    return n_heads * L_q * L_k * size


def bytes_one_head(batch, n_heads, L_q, L_k, dtype):
    size = torch.empty((), dtype=dtype).element_size()
    return batch * L_q * L_k * size


def bytes_scores_too(batch, n_heads, L_q, L_k, dtype):
    scores = batch * n_heads * L_q * L_k * dtype.itemsize
    weights = batch * n_heads * L_q * L_k * dtype.itemsize
    return scores + weights


def bytes_square_keys(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_k ** 2 * dtype.itemsize


def bytes_square_queries(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_q * dtype.itemsize


def linear_raw(q, k, v):
    kv = k.transpose(-2, -1) @ v
    return (q @ kv) / (q @ k.sum(-2).unsqueeze(-1))


def linear_elu(q, k, v):
    phi_q, phi_k = F.elu(q), F.elu(k)
    numerator = phi_q @ (phi_k.transpose(-2, -1) @ v)
    return numerator / (phi_q @ phi_k.sum(-2).unsqueeze(-1))


def linear_elu_shifted(q, k, v):
    phi_q, phi_k = F.elu(q + 1), F.elu(k + 1)
    numerator = phi_q @ (phi_k.transpose(-2, -1) @ v)
    return numerator / (phi_q @ phi_k.sum(-2).unsqueeze(-1))


def linear_relu(q, k, v):
    phi_q, phi_k = torch.relu(q), torch.relu(k)
    kv = torch.einsum("...kd,...ke->...de", phi_k, v)
    z = torch.einsum("...qd,...d->...q", phi_q, phi_k.sum(-2))
    return torch.einsum("...qd,...de->...qe", phi_q, kv) / z[..., None]


def linear_unnormalised(q, k, v):
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    return phi_q @ (phi_k.transpose(-2, -1) @ v)


def linear_broadcast(q, k, v):
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    kv = torch.einsum("...kd,...ke->...de", phi_k, v)
    numerator = torch.einsum("...qd,...de->...qe", phi_q, kv)
    denominator = torch.einsum("...qd,...d->...q", phi_q, phi_k.sum(-2))
    return numerator / denominator


def linear_phi_everywhere(q, k, v):
    phi_q, phi_k, phi_v = F.elu(q) + 1, F.elu(k) + 1, F.elu(v) + 1
    numerator = phi_q @ (phi_k.transpose(-2, -1) @ phi_v)
    return numerator / (phi_q @ phi_k.sum(-2).unsqueeze(-1))


def linear_softmax(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-1) @ v


def blocks_full_matrix(q, k, v, block_size):
    """Full attention: holds the whole (L_q, L_k) matrix."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-1) @ v


def blocks_of_queries(q, k, v, block_size):
    """Blocks of queries, each against every key: never (L_q, L_k), but
    the scores of all the keys at once all the same."""
    outputs = []
    for start in range(0, q.size(-2), block_size):
        q_block = q[..., start:start + block_size, :]
        scores = q_block @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        outputs.append(torch.softmax(scores, dim=-1) @ v)
    return torch.cat(outputs, dim=-2)


def blocks_one_query_at_a_time(q, k, v, block_size):
    rows = []
    for i in range(q.size(-2)):
        # (..., L_k, 1)
        scores = k @ q[..., i, :, None] / math.sqrt(q.size(-1))
        rows.append((torch.softmax(scores, dim=-2) * v).sum(-2))
    return torch.stack(rows, dim=-2)


def blocks_upside_down_from_inf(q, k, v, block_size):
    """The factor exp(new - old) with old = -inf: infinite on the first
    block."""
    top = torch.full((*q.shape[:-1], 1), -math.inf, dtype=q.dtype)
    total = torch.zeros_like(top)
    out = torch.zeros(*q.shape[:-1], v.size(-1), dtype=q.dtype)
    for start in range(0, k.size(-2), block_size):
        scores = q @ k[..., start:start + block_size, :].mT
        scores = scores / math.sqrt(q.size(-1))
        new_top = torch.maximum(top, scores.amax(-1, keepdim=True))
        factor = torch.exp(new_top - top)
        weights = torch.exp(scores - new_top)
        total = total * factor + weights.sum(-1, keepdim=True)
        out = out * factor + weights @ v[..., start:start + block_size, :]
        top = new_top
    return out / total


def blocks_old_max_in_exp(q, k, v, block_size):
    """The exponentials taken against the maximum before the block."""
    top = torch.full((*q.shape[:-1], 1), -math.inf, dtype=q.dtype)
    total = torch.zeros_like(top)
    out = torch.zeros(*q.shape[:-1], v.size(-1), dtype=q.dtype)
    for start in range(0, k.size(-2), block_size):
        scores = q @ k[..., start:start + block_size, :].mT
        scores = scores / math.sqrt(q.size(-1))
        weights = torch.exp(scores - top)
        new_top = torch.maximum(top, scores.amax(-1, keepdim=True))
        factor = torch.exp(top - new_top)
        total = total * factor + weights.sum(-1, keepdim=True)
        out = out * factor + weights @ v[..., start:start + block_size, :]
        top = new_top
    return out / total


def blocks_naive(q, k, v, block_size):
    """Block by block, but exp(score) with nothing subtracted."""
    total, out = 0, 0
    for k_block, v_block in zip(k.split(block_size, -2),
                                v.split(block_size, -2)):
        weights = torch.exp(q @ k_block.mT / math.sqrt(q.size(-1)))
        total = total + weights.sum(-1, keepdim=True)
        out = out + weights @ v_block
    return out / total


def blocks_naive_at_the_end(q, k, v, block_size):
    numerator = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    denominator = torch.zeros(*q.shape[:-1], 1, dtype=q.dtype)
    for s in range(0, k.shape[-2], block_size):
        e = (q @ k[..., s:s + block_size, :].transpose(-2, -1)
             / q.shape[-1] ** 0.5).exp()
        numerator += e @ v[..., s:s + block_size, :]
        denominator += e.sum(-1, keepdim=True)
    return numerator / denominator


def online_with(start=-math.inf, update=True, rescale_sum=True,
                rescale_out=True, upside_down=False, scale=True,
                drop_last=False):
    """A learner's online softmax with one slip (or none)."""
    def answer(q, k, v, block_size):
        d_k = q.size(-1)
        m = torch.full(q.shape[:-1] + (1,), start, dtype=q.dtype)
        total = torch.zeros_like(m)
        acc = torch.zeros(q.shape[:-1] + (v.size(-1),), dtype=q.dtype)
        n_keys = k.size(-2)
        stop = n_keys - n_keys % block_size if drop_last else n_keys
        for i, s in enumerate(range(0, stop, block_size)):
            scores = q @ k[..., s:s + block_size, :].transpose(-2, -1)
            if scale:
                scores = scores / math.sqrt(d_k)
            if update or i == 0:
                m_new = torch.maximum(m, scores.amax(-1, keepdim=True))
            else:
                m_new = m
            alpha = torch.exp(m - m_new)
            if upside_down:
                alpha = torch.exp(m_new - m) if i else torch.zeros_like(m)
            p = torch.exp(scores - m_new)
            total = total * alpha if rescale_sum else total
            total = total + p.sum(-1, keepdim=True)
            acc = acc * alpha if rescale_out else acc
            acc = acc + p @ v[..., s:s + block_size, :]
            m = m_new
        return acc / total

    return answer


def blocks_one_max(q, k, v, block_size):
    """One running maximum for everything: the largest score of all."""
    m, total, out = torch.tensor(float("-inf"), dtype=q.dtype), 0, 0
    for s in range(0, k.shape[-2], block_size):
        scores = q @ k[..., s:s + block_size, :].transpose(-2, -1)
        scores = scores / math.sqrt(q.shape[-1])
        m_new = torch.maximum(m, scores.max())
        p = torch.exp(scores - m_new)
        total = total * torch.exp(m - m_new) + p.sum(-1, keepdim=True)
        out = out * torch.exp(m - m_new) + p @ v[..., s:s + block_size, :]
        m = m_new
    return out / total


def blocks_python_max(q, k, v, block_size):
    """Python's max and math.exp on the largest score of the block."""
    m, total, out = float("-inf"), 0, 0
    for s in range(0, k.shape[-2], block_size):
        scores = q @ k[..., s:s + block_size, :].transpose(-2, -1)
        scores = scores / math.sqrt(q.shape[-1])
        m_new = max(m, scores.max().item())
        p = torch.exp(scores - m_new)
        total = total * math.exp(m - m_new) + p.sum(-1, keepdim=True)
        out = out * math.exp(m - m_new) + p @ v[..., s:s + block_size, :]
        m = m_new
    return out / total


def blocks_own_max(q, k, v, block_size):
    """A first try: each block's softmax made stable with its own maximum,
    the sums simply added."""
    total, out = 0, 0
    for s in range(0, k.shape[-2], block_size):
        scores = q @ k[..., s:s + block_size, :].transpose(-2, -1)
        scores = scores / q.shape[-1] ** 0.5
        p = torch.exp(scores - scores.amax(-1, keepdim=True))
        total = total + p.sum(-1, keepdim=True)
        out = out + p @ v[..., s:s + block_size, :]
    return out / total


def blocks_averaged(q, k, v, block_size):
    outputs = []
    for start in range(0, k.size(-2), block_size):
        k_block = k[..., start:start + block_size, :]
        scores = q @ k_block.transpose(-2, -1) / math.sqrt(q.size(-1))
        outputs.append(torch.softmax(scores, -1)
                       @ v[..., start:start + block_size, :])
    return sum(outputs) / len(outputs)


WRONG = {
    "ex-08-1": {
        "window-too-wide": mask_wide, "window-too-narrow": mask_narrow,
        "looks-ahead": [mask_both_ways, mask_tril_only_band],
        "forgot-causal": [mask_no_causal, mask_triu_only],
        "future-window": mask_future,
        "excludes-itself": mask_strictly_before,
        "inverted": [mask_inverted, mask_annotated_style],
        "negative-slice": mask_negative_slice,
        "negative-index": mask_negative_index,
    },
    "ex-08-2": {
        "cat-batch-axis": step_cat_batch, "cat-heads-axis": step_cat_heads,
        "cat-feature-axis": step_cat_features,
        "cache-without-self": step_old_keys_only,
        "not-appended": step_forgets, "new-first": step_prepend,
        "no-scale": step_unscaled, "multiplied-by-sqrt": step_times_sqrt,
        "scaled-by-d_v": step_scale_d_v,
        "softmax-wrong-axis": step_softmax_queries,
        "mask-top-left": step_tril_mask,
        "swapped-return": step_caches_first,
    },
    "ex-08-3": {
        "numbers-not-bytes": bytes_numbers,
        "always-4-bytes": [bytes_float32, bytes_default_tensor],
        "bits-not-bytes": bytes_in_bits,
        "forgot-batch": bytes_one_sequence, "forgot-heads": bytes_one_head,
        "scores-and-weights": bytes_scores_too,
        "square": [bytes_square_keys, bytes_square_queries],
    },
    "ex-08-4": {
        "no-feature-map": linear_raw, "elu-without-plus-one": linear_elu,
        "elu-of-x-plus-one": linear_elu_shifted,
        "relu-feature-map": linear_relu,
        "no-normaliser": linear_unnormalised,
        "normaliser-broadcast": linear_broadcast,
        "feature-map-on-values": linear_phi_everywhere,
        "softmax-attention": linear_softmax,
    },
    "ex-08-5": {
        "all-keys-at-once": [blocks_full_matrix, blocks_of_queries,
                             blocks_one_query_at_a_time],
        "nan-everywhere": [blocks_upside_down_from_inf,
                           blocks_old_max_in_exp],
        "no-running-max": [blocks_naive, blocks_naive_at_the_end],
        "max-starts-at-zero": online_with(start=0.0),
        "max-never-updated": online_with(update=False),
        "no-rescale": online_with(rescale_sum=False, rescale_out=False),
        "sum-not-rescaled": online_with(rescale_sum=False),
        "output-not-rescaled": online_with(rescale_out=False),
        "one-max-for-all": [blocks_one_max, blocks_python_max],
        "own-max-per-block": blocks_own_max,
        "rescale-upside-down": online_with(upside_down=True),
        "no-scale": online_with(scale=False),
        "drops-last-block": online_with(drop_last=True),
        "averages-blocks": blocks_averaged,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named,
 test_stub_is_not_attempted) = make_tests(8, CORRECT, WRONG)


def test_the_learner_style_online_softmax_is_right():
    """The wrong answers above are one slip away from this right one."""
    assert run_check("ex-08-5", online_with()).startswith("\u2714")


# ------------------------------------------------------------ look-alikes
# Wrong answers a learner could write that behave like a catalogued
# mistake on some case but not on the others: they must get the plain
# message (the smallest failing case), never that mistake's name.


def mask_wide_but_window_one(n, window):
    """`<=` in general, with window = 1 handled apart: only itself."""
    if window == 1:
        return torch.eye(n, dtype=torch.bool)
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (j <= i) & (i - j <= window)


def mask_two_sided_half(n, window):
    """Longformer's two-sided window: window // 2 on each side."""
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (i - j).abs() <= window // 2


def mask_clamped_slice(n, window):
    """The negative start clamped at -1 instead of 0."""
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        mask[i, max(-1, i - window + 1):i + 1] = True
    return mask


def step_scale_of_the_cache(q, k, v, cache_k, cache_v):
    """The scale read off the old cache: its size is d_k, except an empty
    cache of another width."""
    cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
    scale = math.sqrt(cache_v.size(-1)) if cache_v.size(-2) > 8 else \
        math.sqrt(q.size(-1))
    scores = q @ cache_k.transpose(-2, -1) / scale
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


def step_old_keys_unless_empty(q, k, v, cache_k, cache_v):
    """The empty cache handled apart; otherwise the old keys only."""
    keys, values = (k, v) if cache_k.size(-2) == 0 else (cache_k, cache_v)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.size(-1))
    out = torch.softmax(scores, dim=-1) @ values
    return (out, torch.cat([cache_k, k], dim=-2),
            torch.cat([cache_v, v], dim=-2))


def bytes_size_table(batch, n_heads, L_q, L_k, dtype):
    """A table of sizes that forgets the 2-byte types (4 by default)."""
    sizes = {torch.float32: 4, torch.float64: 8}
    return batch * n_heads * L_q * L_k * sizes.get(dtype, 4)


def bytes_table_without_bfloat16(batch, n_heads, L_q, L_k, dtype):
    sizes = {torch.float32: 4, torch.float64: 8, torch.float16: 2}
    return batch * n_heads * L_q * L_k * sizes.get(dtype, 4)


def bytes_heads_as_batch(batch, n_heads, L_q, L_k, dtype):
    """n_heads read as the head size: heads counted only when few."""
    size = torch.empty((), dtype=dtype).element_size()
    heads = n_heads if n_heads < 8 else 1
    return batch * heads * L_q * L_k * size


def linear_shape_patched(q, k, v):
    """The normaliser's axis added only where the shapes clashed."""
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    numerator = phi_q @ (phi_k.transpose(-2, -1) @ v)
    denominator = torch.einsum("...qd,...d->...q", phi_q, phi_k.sum(-2))
    if denominator.shape[-1] != numerator.shape[-1]:
        denominator = denominator[..., None]
    return numerator / denominator


def linear_softmax_when_short(q, k, v):
    """Softmax attention for short inputs, linear attention otherwise."""
    if k.size(-2) <= 7:
        return linear_softmax(q, k, v)
    return linear_reference_style(q, k, v)


def blocks_clamped_scores(q, k, v, block_size):
    """exp of scores clamped to [-80, 80]: no NaN, but wrong weights at
    the extremes (where the plain exp would give NaN)."""
    total, out = 0, 0
    for k_block, v_block in zip(k.split(block_size, -2),
                                v.split(block_size, -2)):
        scores = (q @ k_block.mT / math.sqrt(q.size(-1))).clamp(-80, 80)
        weights = torch.exp(scores)
        total = total + weights.sum(-1, keepdim=True)
        out = out + weights @ v_block
    return out / total


def blocks_naive_float64(q, k, v, block_size):
    """No maximum subtracted, but in float64: NaN only beyond +-709."""
    return blocks_naive(q.double(), k.double(), v.double(),
                        block_size).to(q.dtype)


def blocks_start_at_minus_500(q, k, v, block_size):
    """The running maximum starts at -500 instead of -inf."""
    return online_with(start=-500.0)(q, k, v, block_size)


def blocks_first_max_float64(q, k, v, block_size):
    """The first block's maximum kept, in float64."""
    return online_with(update=False)(q.double(), k.double(), v.double(),
                                     block_size).to(q.dtype)


def blocks_rescale_sum_when_big(q, k, v, block_size):
    """The running sum is rescaled only when the maximum jumps by more
    than 20: right at the extremes, wrong on ordinary scores."""
    top = torch.full((*q.shape[:-1], 1), -math.inf, dtype=q.dtype)
    total = torch.zeros_like(top)
    out = torch.zeros(*q.shape[:-1], v.size(-1), dtype=q.dtype)
    for k_block, v_block in zip(k.split(block_size, -2),
                                v.split(block_size, -2)):
        scores = q @ k_block.mT / math.sqrt(q.size(-1))
        new_top = torch.maximum(top, scores.amax(-1, keepdim=True))
        factor = torch.exp(top - new_top)
        weights = torch.exp(scores - new_top)
        big = (new_top - top) > 20
        total = torch.where(big, total * factor, total) + weights.sum(
            -1, keepdim=True)
        out = out * factor + weights @ v_block
        top = new_top
    return out / total


def blocks_last_block_if_short(q, k, v, block_size):
    """Drops the last block only when it holds fewer than 3 keys."""
    n_keys = k.size(-2)
    if 0 < n_keys % block_size < 3:
        k = k[..., :n_keys - n_keys % block_size, :]
        v = v[..., :n_keys - n_keys % block_size, :]
    return blocks_online(q, k, v, block_size)


LOOK_ALIKES = {
    "ex-08-1": [(mask_wide_but_window_one, "window-too-wide"),
                (mask_two_sided_half, "looks-ahead"),
                (mask_clamped_slice, "negative-slice")],
    "ex-08-2": [(step_scale_of_the_cache, "scaled-by-d_v"),
                (step_old_keys_unless_empty, "cache-without-self")],
    "ex-08-3": [(bytes_size_table, "always-4-bytes"),
                (bytes_table_without_bfloat16, "always-4-bytes"),
                (bytes_heads_as_batch, "forgot-heads")],
    "ex-08-4": [(linear_shape_patched, "normaliser-broadcast"),
                (linear_softmax_when_short, "softmax-attention")],
    "ex-08-5": [(blocks_naive_float64, "no-running-max"),
                (blocks_start_at_minus_500, "max-starts-at-zero"),
                (blocks_first_max_float64, "max-never-updated"),
                (blocks_rescale_sum_when_big, "sum-not-rescaled"),
                (blocks_last_block_if_short, "drops-last-block")],
}
LOOK_ALIKE_PARAMS = [(ex_id, i) for ex_id, pairs in LOOK_ALIKES.items()
                     for i in range(len(pairs))]


def model_of(ex_id, key):
    return next(m.model for m in EXERCISES[ex_id].mistakes if m.key == key)


@pytest.mark.parametrize("ex_id,index", LOOK_ALIKE_PARAMS)
def test_a_look_alike_gets_the_plain_message(ex_id, index):
    answer, resembles = LOOK_ALIKES[ex_id][index]
    ex = EXERCISES[ex_id]
    # it really does look like the mistake: the same result on a case
    # where the mistake is wrong
    model = model_of(ex_id, resembles)
    def result(fn, case):
        try:
            return ex._prepare_expected(fn(*ex._copy_args(case)), case)
        except Exception as exc:  # noqa: BLE001  an error is a result too
            return type(exc)

    def same(a, b, case):
        if isinstance(a, type) or isinstance(b, type):
            return a is b
        return ex._same(a, b, case)

    like = []
    for case in ex.make_cases():
        expected, mistaken = result(ex.reference, case), result(model, case)
        if not same(mistaken, expected, case):
            like.append(same(result(answer, case), mistaken, case))
    assert any(like) and not all(like), (
        f"{answer.__name__} should behave like {resembles!r} on some of "
        f"the cases where that mistake is wrong, not on all")
    exc = failure(ex_id, answer)
    assert exc.mistake is None, (
        f"{answer.__name__} was told {exc.mistake!r}: {exc.message}")
    # the smallest failing case, or the error raised on it
    assert exc.message.startswith(("for ", "your function raised")), \
        exc.message


# --------------------------------------------- what the texts ask, checked


@pytest.mark.parametrize("answer,words", [
    (lambda n, window: mask_compare(n, window).float(), "dtype float32"),
    (lambda n, window: mask_compare(n, window).long(), "dtype int64"),
    (lambda n, window: mask_compare(n, window).numpy(), "a NumPy array"),
])
def test_the_mask_must_be_a_bool_tensor(answer, words):
    exc = failure("ex-08-1", answer)
    assert exc.mistake is None and words in exc.message
    assert "True = may attend" in exc.message or "not bool" in exc.message


def test_a_mask_of_the_wrong_shape_is_told_its_shape():
    exc = failure("ex-08-1", lambda n, window: mask_compare(n + 1, window))
    assert "has shape" in exc.message and exc.mistake is None


def test_a_plain_mask_message_names_the_row_and_its_keys():
    def off_by_one_late(n, window):  # right, except the last row
        mask = mask_compare(n, window)
        mask[-1, 0] = n > 1
        return mask

    exc = failure("ex-08-1", off_by_one_late)
    assert "row" in exc.message and "should allow the keys" in exc.message


@pytest.mark.parametrize("answer,words", [
    (lambda b, h, lq, lk, dtype: float(bytes_element_size(b, h, lq, lk,
                                                          dtype)),
     "a float"),
    (lambda b, h, lq, lk, dtype: torch.tensor(bytes_element_size(
        b, h, lq, lk, dtype)), "a torch tensor"),
    (lambda b, h, lq, lk, dtype: b * h * lq * lk
     * torch.finfo(dtype).bits / 8, "a float"),
])
def test_the_byte_count_must_be_an_int(answer, words):
    exc = failure("ex-08-3", answer)
    assert exc.mistake is None and "asks for an int" in exc.message
    assert words in exc.message


def test_the_block_size_is_passed_by_name():
    def renamed(q, k, v, size):
        return blocks_online(q, k, v, size)

    exc = failure("ex-08-5", renamed)
    assert "block_size" in exc.message


def test_pytorch_attention_is_refused_in_the_cache_step():
    def with_builtin(q, k, v, cache_k, cache_v):
        cache_k = torch.cat([cache_k, k], -2)
        cache_v = torch.cat([cache_v, v], -2)
        out = F.scaled_dot_product_attention(q, cache_k, cache_v)
        return out, cache_k, cache_v

    exc = failure("ex-08-2", with_builtin)
    assert exc.mistake == "forbidden-builtin"


def test_pytorch_attention_is_refused_block_by_block():
    def per_block_builtin(q, k, v, block_size):
        return F.scaled_dot_product_attention(q, k, v)

    assert failure("ex-08-5", per_block_builtin).mistake == \
        "forbidden-builtin"


def test_an_unrelated_error_is_not_blamed_on_the_cache_axis():
    def broken(q, k, v, cache_k, cache_v):
        grown = torch.cat([cache_k, k], dim=-2)
        return grown @ torch.zeros(3, 3), cache_k, cache_v

    exc = failure("ex-08-2", broken)
    assert exc.mistake is None and "RuntimeError" in exc.message


def test_a_tuple_result_names_its_items():
    def output_only_wrong(q, k, v, cache_k, cache_v):
        out, ck, cv = step_matmul(q, k, v, cache_k, cache_v)
        return out + 1, ck, cv

    assert "(output)" in failure("ex-08-2", output_only_wrong).message


def test_the_watch_sees_only_the_answer():
    """The watch is on only while the answer runs, and it does not count
    the keys and values themselves, padded or in blocks."""
    assert run_check("ex-08-5", blocks_padded_float64).startswith("\u2714")
    torch.ones(300, 300) @ torch.ones(300, 5)       # outside: not watched
