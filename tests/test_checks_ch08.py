"""Chapter 8 checks: correct answers pass, each catalogued mistake is named, stubs are not attempted."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from checkkit import failure, make_tests

# --------------------------------------------------------------------------- correct answers


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


def step_matmul(q, k, v, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k], dim=-2)
    cache_v = torch.cat([cache_v, v], dim=-2)
    weights = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return weights @ cache_v, cache_k, cache_v


def step_dim2_einsum(q, k, v, cache_k, cache_v):
    keys = torch.cat((cache_k, k), 2)
    values = torch.cat((cache_v, v), 2)
    scores = torch.einsum("bhqd,bhkd->bhqk", q, keys) * q.shape[-1] ** -0.5
    weights = (scores - scores.amax(-1, keepdim=True)).exp()
    weights = weights / weights.sum(-1, keepdim=True)
    return torch.einsum("bhqk,bhkd->bhqd", weights, values), keys, values


def step_package(q, k, v, cache_k, cache_v):
    from attnbook.attention import scaled_dot_product_attention

    cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
    return scaled_dot_product_attention(q, cache_k, cache_v)[0], cache_k, cache_v


def step_float32(q, k, v, cache_k, cache_v):
    out, ck, cv = step_matmul(q.float(), k.float(), v.float(), cache_k.float(), cache_v.float())
    return out, ck.to(q.dtype), cv.to(q.dtype)


def bytes_element_size(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_k * torch.empty((), dtype=dtype).element_size()


def bytes_itemsize(batch, n_heads, L_q, L_k, dtype):
    return math.prod([batch, n_heads, L_q, L_k]) * dtype.itemsize


def bytes_bits(batch, n_heads, L_q, L_k, dtype):
    bits = torch.finfo(dtype).bits
    return batch * n_heads * L_q * L_k * bits / 8


def bytes_tensor(batch, n_heads, L_q, L_k, dtype):
    weights = torch.empty(batch, n_heads, L_q, L_k, dtype=dtype, device="meta")
    return weights.numel() * weights.element_size()


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
    """The same weights, built as an (L_q, L_k) matrix: slower but correct."""
    sims = (F.elu(q) + 1) @ (F.elu(k) + 1).transpose(-2, -1)
    return (sims / sims.sum(-1, keepdim=True)) @ v


CORRECT = {
    "ex-08-1": [mask_compare, mask_tril_triu, mask_loops, mask_numpy],
    "ex-08-2": [step_matmul, step_dim2_einsum, step_package, step_float32],
    "ex-08-3": [bytes_element_size, bytes_itemsize, bytes_bits, bytes_tensor],
    "ex-08-4": [linear_reference_style, linear_einsum32, linear_quadratic],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def mask_float(n, window):
    return mask_compare(n, window).float()


def mask_int(n, window):
    return torch.ones(n, n, dtype=torch.long).tril() - torch.ones(n, n, dtype=torch.long).tril(-window)


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
    return torch.triu(ones, diagonal=-(window - 1)) & torch.tril(ones, diagonal=window - 1)


def mask_future(n, window):
    return mask_compare(n, window).T


def mask_strictly_before(n, window):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (j < i) & (i - j <= window)


def mask_inverted(n, window):
    return ~mask_compare(n, window)


def step_cat_batch(q, k, v, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k], dim=0)
    cache_v = torch.cat([cache_v, v], dim=0)
    weights = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return weights @ cache_v, cache_k, cache_v


def step_cat_heads(q, k, v, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k], dim=1)
    cache_v = torch.cat([cache_v, v], dim=1)
    weights = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return weights @ cache_v, cache_k, cache_v


def step_cat_features(q, k, v, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k], dim=-1)
    cache_v = torch.cat([cache_v, v], dim=-1)
    weights = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return weights @ cache_v, cache_k, cache_v


def step_old_keys_only(q, k, v, cache_k, cache_v):
    weights = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    out = weights @ cache_v
    return out, torch.cat([cache_k, k], dim=-2), torch.cat([cache_v, v], dim=-2)


def step_forgets(q, k, v, cache_k, cache_v):
    keys, values = torch.cat([cache_k, k], dim=-2), torch.cat([cache_v, v], dim=-2)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return weights @ values, cache_k, cache_v


def step_prepend(q, k, v, cache_k, cache_v):
    return step_matmul(q, k, v, cache_k, cache_v)[0], torch.cat([k, cache_k], -2), torch.cat([v, cache_v], -2)


def step_unscaled(q, k, v, cache_k, cache_v):
    cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
    return torch.softmax(q @ cache_k.transpose(-2, -1), dim=-1) @ cache_v, cache_k, cache_v


def step_caches_first(q, k, v, cache_k, cache_v):
    out, ck, cv = step_matmul(q, k, v, cache_k, cache_v)
    return cv, ck, out


def bytes_numbers(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_k


def bytes_float32(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_k * 4


def bytes_in_bits(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_k * torch.finfo(dtype).bits


def bytes_one_sequence(batch, n_heads, L_q, L_k, dtype):
    return n_heads * L_q * L_k * torch.empty((), dtype=dtype).element_size()


def bytes_one_head(batch, n_heads, L_q, L_k, dtype):
    return batch * L_q * L_k * torch.empty((), dtype=dtype).element_size()


def bytes_square_keys(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_k ** 2 * dtype.itemsize


def bytes_square_queries(batch, n_heads, L_q, L_k, dtype):
    return batch * n_heads * L_q * L_q * dtype.itemsize


def linear_raw(q, k, v):
    kv = k.transpose(-2, -1) @ v
    return (q @ kv) / (q @ k.sum(-2).unsqueeze(-1))


def linear_elu(q, k, v):
    phi_q, phi_k = F.elu(q), F.elu(k)
    return (phi_q @ (phi_k.transpose(-2, -1) @ v)) / (phi_q @ phi_k.sum(-2).unsqueeze(-1))


def linear_unnormalised(q, k, v):
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    return phi_q @ (phi_k.transpose(-2, -1) @ v)


def linear_phi_everywhere(q, k, v):
    phi_q, phi_k, phi_v = F.elu(q) + 1, F.elu(k) + 1, F.elu(v) + 1
    return (phi_q @ (phi_k.transpose(-2, -1) @ phi_v)) / (phi_q @ phi_k.sum(-2).unsqueeze(-1))


def linear_softmax(q, k, v):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v


WRONG = {
    "ex-08-1": {
        "not-boolean": [mask_float, mask_int], "window-too-wide": mask_wide, "window-too-narrow": mask_narrow,
        "looks-ahead": [mask_both_ways, mask_tril_only_band], "future-window": mask_future,
        "excludes-itself": mask_strictly_before, "inverted": mask_inverted,
    },
    "ex-08-2": {
        "cat-batch-axis": step_cat_batch, "cat-heads-axis": step_cat_heads, "cat-feature-axis": step_cat_features,
        "cache-without-self": step_old_keys_only, "not-appended": step_forgets, "new-first": step_prepend,
        "no-scale": step_unscaled, "swapped-return": step_caches_first,
    },
    "ex-08-3": {
        "numbers-not-bytes": bytes_numbers, "always-4-bytes": bytes_float32, "bits-not-bytes": bytes_in_bits,
        "forgot-batch": bytes_one_sequence, "forgot-heads": bytes_one_head,
        "square": [bytes_square_keys, bytes_square_queries],
    },
    "ex-08-4": {
        "no-feature-map": linear_raw, "elu-without-plus-one": linear_elu, "no-normaliser": linear_unnormalised,
        "feature-map-on-values": linear_phi_everywhere, "softmax-attention": linear_softmax,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(8, CORRECT, WRONG)


def test_pytorch_attention_is_refused_in_the_cache_step():
    def with_builtin(q, k, v, cache_k, cache_v):
        cache_k, cache_v = torch.cat([cache_k, k], -2), torch.cat([cache_v, v], -2)
        return F.scaled_dot_product_attention(q, cache_k, cache_v), cache_k, cache_v

    exc = failure("ex-08-2", with_builtin)
    assert exc.mistake == "forbidden-builtin"


def test_an_unrelated_error_is_not_blamed_on_the_cache_axis():
    def broken(q, k, v, cache_k, cache_v):
        return torch.cat([cache_k, k], dim=-2) @ torch.zeros(3, 3), cache_k, cache_v

    exc = failure("ex-08-2", broken)
    assert exc.mistake is None and "RuntimeError" in exc.message
