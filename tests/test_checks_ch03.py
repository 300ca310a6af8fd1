"""Chapter 3 checks: correct answers pass, each catalogued mistake is named, stubs are not attempted."""

import math

import numpy as np
import torch

from checkkit import failure, make_tests, run_check

# --------------------------------------------------------------------------- correct answers


def sdpa_matmul(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_einsum32(q, k, v, mask=None):
    """float32 throughout, einsum, a by-hand softmax, empty rows found with any()."""
    q, k, v = q.float(), k.float(), v.float()
    scores = torch.einsum("...qd,...kd->...qk", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(-math.inf))
    top = scores.amax(dim=-1, keepdim=True)
    top = torch.where(torch.isinf(top), torch.zeros_like(top), top)
    e = torch.exp(scores - top)
    total = e.sum(dim=-1, keepdim=True)
    weights = torch.where(total > 0, e / total.clamp_min(1e-30), torch.zeros_like(e))
    return torch.einsum("...qk,...kv->...qv", weights, v), weights


def sdpa_large_negative_then_zero(q, k, v, mask=None):
    """-1e9 instead of -inf, then fully masked rows set to 0 explicitly."""
    scores = torch.matmul(q, k.mT) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -1e9)
    weights = scores.softmax(-1)
    if mask is not None:
        weights = weights * mask.any(dim=-1, keepdim=True)
    return torch.matmul(weights, v), weights


def sdpa_scale_queries_first(q, k, v, mask=None):
    """Scale q before the product, boolean indexing for the mask."""
    scores = (q / math.sqrt(q.shape[-1])) @ k.transpose(-1, -2)
    if mask is not None:
        scores = scores.clone()
        scores[~mask.expand_as(scores)] = -float("inf")
    weights = torch.softmax(scores, dim=-1)
    weights = torch.where(torch.isnan(weights), torch.zeros_like(weights), weights)
    return weights @ v, weights


def causal_tril(n):
    return torch.tril(torch.ones(n, n, dtype=torch.bool))


def causal_compare(n):
    positions = torch.arange(n)
    return positions[None, :] <= positions[:, None]


def causal_numpy(n):
    return torch.from_numpy(np.tri(n, dtype=bool))


def padding_compare(lengths, max_len):
    return torch.arange(max_len)[None, :] < lengths[:, None]


def padding_loop(lengths, max_len):
    mask = torch.zeros(len(lengths), max_len, dtype=torch.bool)
    for b, n in enumerate(lengths.tolist()):
        mask[b, :n] = True
    return mask


def padding_numpy(lengths, max_len):
    return torch.from_numpy(np.arange(max_len) < np.asarray(lengths)[:, None])


def combined_broadcast(lengths, max_len):
    keys = torch.arange(max_len)[None, :] < lengths[:, None]           # (batch, max_len)
    return keys[:, None, :] & torch.ones(max_len, max_len, dtype=torch.bool).tril()


def combined_package(lengths, max_len):
    from attnbook.attention import causal_mask, padding_mask

    return padding_mask(lengths, max_len).unsqueeze(1).logical_and(causal_mask(max_len))


def combined_loops(lengths, max_len):
    mask = torch.zeros(len(lengths), max_len, max_len, dtype=torch.bool)
    for b, n in enumerate(lengths.tolist()):
        for i in range(max_len):
            for j in range(min(i + 1, n)):
                mask[b, i, j] = True
    return mask


CORRECT = {
    "ex-03-1": [sdpa_matmul, sdpa_einsum32, sdpa_large_negative_then_zero, sdpa_scale_queries_first],
    "ex-03-2": [causal_tril, causal_compare, causal_numpy],
    "ex-03-3": [padding_compare, padding_loop, padding_numpy],
    "ex-03-4": [combined_broadcast, combined_package, combined_loops],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def _sdpa(q, k, v, mask=None, scale=None, dim=-1):
    scores = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_axis(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, dim=-2)


def sdpa_axis_1(q, k, v, mask=None):
    """dim=1 happens to be the query axis for (batch, L_q, L_k) scores."""
    scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]) if q.dim() == 3 else q @ k.mT / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-2).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_no_scale(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, scale=1.0)


def sdpa_by_d_k(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, scale=q.shape[-1])


def sdpa_by_length(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, scale=math.sqrt(k.shape[1] if k.dim() == 3 else k.shape[-2]))


def sdpa_by_d_v(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, scale=v.shape[-1] ** 0.5)


def sdpa_swapped(q, k, v, mask=None):
    out, weights = _sdpa(q, k, v, mask)
    return weights, out


def sdpa_no_mask(q, k, v, mask=None):
    return _sdpa(q, k, v)


def sdpa_inverted(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_mask_late(q, k, v, mask=None):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


def sdpa_mask_late_multiply(q, k, v, mask=None):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        weights = weights * mask.float()
    return weights @ v, weights


def sdpa_nan_rows(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sdpa_uniform_rows(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sdpa_finfo_min(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = torch.where(mask, scores, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def causal_strict(n):
    return torch.ones(n, n, dtype=torch.bool).tril(diagonal=-1)


def causal_upper(n):
    return torch.triu(torch.ones(n, n)).bool()


def causal_future_blocked(n):
    return torch.ones(n, n, dtype=torch.bool).triu(1)


def causal_float(n):
    return torch.ones(n, n).tril()


def causal_int(n):
    positions = torch.arange(n)
    return (positions[None, :] <= positions[:, None]).long()


def padding_le(lengths, max_len):
    return torch.arange(max_len)[None, :] <= lengths[:, None]


def padding_inverted(lengths, max_len):
    return torch.arange(max_len)[None, :] >= lengths[:, None]


def padding_transposed(lengths, max_len):
    return torch.arange(max_len)[:, None] < lengths[None, :]


def padding_float(lengths, max_len):
    return (torch.arange(max_len)[None, :] < lengths[:, None]).float()


def _combined(keys_rule, causal, combine=torch.logical_and):
    def answer(lengths, max_len):
        positions = torch.arange(max_len)
        keys = keys_rule(positions[None, :], lengths[:, None])          # (batch, max_len)
        return combine(keys[:, None, :], causal(max_len))

    return answer


def combined_queries(lengths, max_len):
    queries = torch.arange(max_len)[None, :] < lengths[:, None]         # (batch, max_len)
    return queries[:, :, None] & torch.ones(max_len, max_len, dtype=torch.bool).tril()


def combined_no_padding(lengths, max_len):
    return causal_tril(max_len).expand(len(lengths), max_len, max_len)


def combined_no_causal(lengths, max_len):
    keys = padding_compare(lengths, max_len)
    return keys[:, None, :].expand(-1, max_len, -1)


def combined_inverted(lengths, max_len):
    return ~combined_broadcast(lengths, max_len)


def combined_heads(lengths, max_len):
    return combined_broadcast(lengths, max_len)[:, None]


def combined_float(lengths, max_len):
    return combined_broadcast(lengths, max_len).to(torch.float32)


WRONG = {
    "ex-03-1": {
        "softmax-wrong-axis": [sdpa_axis, sdpa_axis_1], "no-scale": sdpa_no_scale, "scaled-by-d_k": sdpa_by_d_k,
        "scaled-by-length": sdpa_by_length, "scaled-by-d_v": sdpa_by_d_v, "swapped-return": sdpa_swapped,
        "mask-ignored": sdpa_no_mask, "mask-inverted": sdpa_inverted,
        "mask-after-softmax": [sdpa_mask_late, sdpa_mask_late_multiply],
        "fully-masked-nan": sdpa_nan_rows, "fully-masked-uniform": [sdpa_uniform_rows, sdpa_finfo_min],
    },
    "ex-03-2": {
        "diagonal-excluded": causal_strict, "upper-triangle": causal_upper,
        "mask-inverted": causal_future_blocked, "not-boolean": [causal_float, causal_int],
    },
    "ex-03-3": {
        "less-or-equal": padding_le, "mask-inverted": padding_inverted, "transposed": padding_transposed,
        "not-boolean": padding_float,
    },
    "ex-03-4": {
        "padding-on-queries": combined_queries,
        "or-instead-of-and": _combined(lambda j, n: j < n, causal_tril, torch.logical_or),
        "padding-missing": combined_no_padding, "causal-missing": combined_no_causal,
        "diagonal-excluded": _combined(lambda j, n: j < n, causal_strict),
        "upper-triangle": _combined(lambda j, n: j < n, causal_upper),
        "less-or-equal": _combined(lambda j, n: j <= n, causal_tril),
        "mask-inverted": combined_inverted, "extra-head-axis": combined_heads, "not-boolean": combined_float,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(3, CORRECT, WRONG)


def test_pytorch_attention_is_refused_in_exercise_1():
    def with_builtin(q, k, v, mask=None):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask), None

    exc = failure("ex-03-1", with_builtin)
    assert exc.mistake == "forbidden-builtin"
    assert "torch.nn.functional.scaled_dot_product_attention" in exc.message


def test_checks_are_fast_on_a_correct_answer():
    import time

    for ex_id, answer in [("ex-03-1", sdpa_matmul), ("ex-03-2", causal_tril), ("ex-03-3", padding_compare),
                          ("ex-03-4", combined_broadcast)]:
        start = time.perf_counter()
        run_check(ex_id, answer)
        assert time.perf_counter() - start < 1.0, ex_id


def test_a_mask_of_wrong_values_and_dtype_is_told_about_its_values():
    """Values first: a float mask that is also wrong gets the value mistake, not 'not boolean'."""
    exc = failure("ex-03-2", lambda n: torch.ones(n, n).tril(-1))
    assert exc.mistake == "diagonal-excluded"


def test_a_numpy_mask_is_asked_to_be_a_tensor():
    exc = failure("ex-03-3", lambda lengths, max_len: np.arange(max_len) < np.asarray(lengths)[:, None])
    assert exc.mistake is None and "torch tensor" in exc.message
