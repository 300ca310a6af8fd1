"""Chapter 3 checks: correct answers pass, each catalogued mistake is named,
look-alikes of a mistake get the plain message, stubs are not attempted."""

import math

import numpy as np
import pytest
import torch

from checkkit import failure, make_tests, run_check

# ------------------------------------------------------------ correct answers


def sdpa_matmul(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_einsum32(q, k, v, mask=None):
    """float32 throughout, einsum, a by-hand softmax, empty rows found with
    any()."""
    q, k, v = q.float(), k.float(), v.float()
    scores = torch.einsum("...qd,...kd->...qk", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(-math.inf))
    top = scores.amax(dim=-1, keepdim=True)
    top = torch.where(torch.isinf(top), torch.zeros_like(top), top)
    e = torch.exp(scores - top)
    total = e.sum(dim=-1, keepdim=True)
    weights = torch.where(total > 0, e / total.clamp_min(1e-30),
                          torch.zeros_like(e))
    return torch.einsum("...qk,...kv->...qv", weights, v), weights


def sdpa_large_negative_then_zero(q, k, v, mask=None):
    """-1e9 instead of -inf (The Annotated Transformer), then fully masked
    rows set to 0 explicitly."""
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
    weights = torch.where(torch.isnan(weights), torch.zeros_like(weights),
                          weights)
    return weights @ v, weights


def sdpa_log_mask(q, k, v, mask=None):
    """The mask added as PyTorch adds a float mask: log(1) = 0, log(0) =
    -inf."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores + torch.log(mask.to(scores.dtype))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_renormalised(q, k, v, mask=None):
    """Softmax first, then the mask, then each row divided by its new sum:
    the same weights (a fully masked row is 0/0, then 0)."""
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)),
                            dim=-1)
    if mask is not None:
        weights = weights * mask
        weights = (weights / weights.sum(dim=-1, keepdim=True)).nan_to_num()
    return weights @ v, weights


CORRECT = {
    "ex-03-1": [sdpa_matmul, sdpa_einsum32, sdpa_large_negative_then_zero,
                sdpa_scale_queries_first, sdpa_log_mask, sdpa_renormalised],
}


def causal_tril(n):
    return torch.tril(torch.ones(n, n, dtype=torch.bool))


def causal_compare(n):
    positions = torch.arange(n)
    return positions[None, :] <= positions[:, None]


def causal_numpy(n):
    return torch.from_numpy(np.tri(n, dtype=bool))


def causal_not_future(n):
    """Hugging Face's way round: the future is triu(1); its negation."""
    return ~torch.ones(n, n, dtype=torch.bool).triu(1)


def padding_compare(lengths, max_len):
    return torch.arange(max_len)[None, :] < lengths[:, None]


def padding_loop(lengths, max_len):
    mask = torch.zeros(len(lengths), max_len, dtype=torch.bool)
    for b, n in enumerate(lengths.tolist()):
        mask[b, :n] = True
    return mask


def padding_numpy(lengths, max_len):
    return torch.from_numpy(np.arange(max_len)
                            < np.asarray(lengths)[:, None])


def combined_broadcast(lengths, max_len):
    keys = torch.arange(max_len)[None, :] < lengths[:, None]  # (batch, L)
    lower = torch.ones(max_len, max_len, dtype=torch.bool).tril()
    return keys[:, None, :] & lower


def combined_package(lengths, max_len):
    from attnbook.attention import causal_mask, padding_mask

    return padding_mask(lengths, max_len).unsqueeze(1).logical_and(
        causal_mask(max_len))


def combined_loops(lengths, max_len):
    mask = torch.zeros(len(lengths), max_len, max_len, dtype=torch.bool)
    for b, n in enumerate(lengths.tolist()):
        for i in range(max_len):
            for j in range(min(i + 1, n)):
                mask[b, i, j] = True
    return mask


def prefix_broadcast(prefix_lengths, lengths, max_len):
    j = torch.arange(max_len)[None, None, :]
    real = j < lengths[:, None, None]
    prompt = j < prefix_lengths[:, None, None]
    causal = torch.ones(max_len, max_len, dtype=torch.bool).tril()
    return real & (prompt | causal)


def prefix_block(prefix_lengths, lengths, max_len):
    """A square block for the prompt (both ways inside it) on top of the
    causal mask, then the padding: the same mask."""
    pos = torch.arange(max_len)
    in_prompt = pos[None, :] < prefix_lengths[:, None]       # (batch, L)
    block = in_prompt[:, :, None] & in_prompt[:, None, :]    # (batch, L, L)
    causal = pos[None, :] <= pos[:, None]                    # (L, L)
    real = (pos[None, :] < lengths[:, None])[:, None, :]     # (batch, 1, L)
    return (block | causal) & real


def prefix_loops(prefix_lengths, lengths, max_len):
    batch = len(lengths)
    mask = torch.zeros(batch, max_len, max_len, dtype=torch.bool)
    for b in range(batch):
        p, n = int(prefix_lengths[b]), int(lengths[b])
        for i in range(max_len):
            for j in range(n):
                mask[b, i, j] = j < p or j <= i
    return mask


def prefix_padding_inside(prefix_lengths, lengths, max_len):
    """The padding only on the causal part: the prompt's keys are real
    anyway, so this is the same mask."""
    pos = torch.arange(max_len)
    prompt = pos[None, None, :] < prefix_lengths[:, None, None]
    causal_real = ((pos[None, :] <= pos[:, None])[None]
                   & (pos[None, None, :] < lengths[:, None, None]))
    return prompt | causal_real


def prefix_from_book(prefix_lengths, lengths, max_len):
    """Chapter 3's causal_padding_mask, opened up over the prompt."""
    from attnbook.attention import causal_padding_mask, padding_mask

    prompt = padding_mask(prefix_lengths, max_len)[:, None, :]
    return causal_padding_mask(lengths, max_len) | prompt


CORRECT.update({
    "ex-03-2": [causal_tril, causal_compare, causal_numpy,
                causal_not_future],
    "ex-03-3": [padding_compare, padding_loop, padding_numpy],
    "ex-03-4": [combined_broadcast, combined_package, combined_loops],
    "ex-03-5": [prefix_broadcast, prefix_block, prefix_loops,
                prefix_padding_inside, prefix_from_book],
})

# ------------------------------------------ wrong answers, one per mistake


def _sdpa(q, k, v, mask=None, scale=None, dim=-1):
    if scale is None:
        scale = math.sqrt(q.shape[-1])
    scores = q @ k.transpose(-2, -1) / scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_axis(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, dim=-2)


def sdpa_no_scale(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, scale=1.0)


def sdpa_by_d_k(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, scale=q.shape[-1])


def sdpa_power_precedence(q, k, v, mask=None):
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / (d_k ** 1/2)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_by_length(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, scale=math.sqrt(k.shape[-2]))


def sdpa_by_d_v(q, k, v, mask=None):
    return _sdpa(q, k, v, mask, scale=v.shape[-1] ** 0.5)


def sdpa_bmm(q, k, v, mask=None):
    """d2l's batch matrix products: (batch, L, d) only."""
    scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return torch.bmm(weights, v), weights


def sdpa_transpose_1_2(q, k, v, mask=None):
    scores = q @ k.transpose(1, 2) / math.sqrt(q.size(2))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=2).nan_to_num(0.0)
    return weights @ v, weights


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


def sdpa_scores_times_mask(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores * mask
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sdpa_fill_zero(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask == 0, 0)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sdpa_mask_late(q, k, v, mask=None):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]),
                            dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


def sdpa_mask_late_multiply(q, k, v, mask=None):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]),
                            dim=-1)
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
    """The Annotated Transformer's -1e9, without the zero rows."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sdpa_finfo_min(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = torch.where(mask, scores, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_additive_min(q, k, v, mask=None):
    """Hugging Face's additive mask: (1 - mask) * the dtype's minimum."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        blocked = 1.0 - mask.to(scores.dtype)
        scores = scores + blocked * torch.finfo(scores.dtype).min
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def causal_strict(n):
    return torch.ones(n, n, dtype=torch.bool).tril(diagonal=-1)


def causal_upper(n):
    return torch.triu(torch.ones(n, n)).bool()


def causal_future_blocked(n):
    return torch.ones(n, n, dtype=torch.bool).triu(1)


def causal_float(n):
    """nanoGPT's buffer: torch.tril(torch.ones(n, n)), float."""
    return torch.tril(torch.ones(n, n))


def causal_int(n):
    positions = torch.arange(n)
    return (positions[None, :] <= positions[:, None]).long()


def padding_le(lengths, max_len):
    return torch.arange(max_len)[None, :] <= lengths[:, None]


def padding_inverted(lengths, max_len):
    return torch.arange(max_len)[None, :] >= lengths[:, None]


def padding_transposed(lengths, max_len):
    return torch.arange(max_len)[:, None] < lengths[None, :]


def padding_longest(lengths, max_len):
    """The width of the longest sequence, as many libraries compute it."""
    return torch.arange(int(lengths.max()))[None, :] < lengths[:, None]


def padding_float(lengths, max_len):
    return (torch.arange(max_len)[None, :] < lengths[:, None]).float()


def padding_attention_mask(lengths, max_len):
    """Hugging Face's attention_mask: 1 at real tokens, 0 at pads, int64."""
    return (torch.arange(max_len)[None, :] < lengths[:, None]).long()


def _combined(keys_rule, causal, combine=torch.logical_and):
    def answer(lengths, max_len):
        positions = torch.arange(max_len)
        keys = keys_rule(positions[None, :], lengths[:, None])  # (batch, L)
        return combine(keys[:, None, :], causal(max_len))

    return answer


def combined_queries(lengths, max_len):
    queries = torch.arange(max_len)[None, :] < lengths[:, None]
    lower = torch.ones(max_len, max_len, dtype=torch.bool).tril()
    return queries[:, :, None] & lower


def combined_both_axes(lengths, max_len):
    """The padding on the queries as well as on the keys."""
    real = torch.arange(max_len)[None, :] < lengths[:, None]
    return real[:, :, None] & real[:, None, :] & causal_tril(max_len)


def combined_no_padding(lengths, max_len):
    return causal_tril(max_len).expand(len(lengths), max_len, max_len)


def combined_no_causal(lengths, max_len):
    keys = padding_compare(lengths, max_len)
    return keys[:, None, :].expand(-1, max_len, -1)


def combined_inverted(lengths, max_len):
    return ~combined_broadcast(lengths, max_len)


def combined_heads(lengths, max_len):
    return combined_broadcast(lengths, max_len)[:, None]


def combined_longest(lengths, max_len):
    return combined_broadcast(lengths, int(lengths.max()))


def combined_float(lengths, max_len):
    return combined_broadcast(lengths, max_len).to(torch.float32)


def _prefix_answer(rule):
    def answer(prefix_lengths, lengths, max_len):
        i = torch.arange(max_len)[:, None]                   # (L, 1)
        j = torch.arange(max_len)[None, :]                   # (1, L)
        p = prefix_lengths[:, None, None]                    # (batch, 1, 1)
        n = lengths[:, None, None]
        return rule(i, j, p, n)

    return answer


def prefix_causal_only(prefix_lengths, lengths, max_len):
    from attnbook.attention import causal_padding_mask

    return causal_padding_mask(lengths, max_len)


def prefix_rows(prefix_lengths, lengths, max_len):
    """The prompt's rows opened up, as a learner who pictures the prompt
    as 'the queries that read both ways' writes it."""
    pos = torch.arange(max_len)
    prompt_rows = (pos[None, :] < prefix_lengths[:, None])[:, :, None]
    causal = (pos[None, :] <= pos[:, None])[None]
    real = (pos[None, :] < lengths[:, None])[:, None, :]
    return (prompt_rows | causal) & real


def prefix_both_ways(prefix_lengths, lengths, max_len):
    real = torch.arange(max_len)[None, :] < lengths[:, None]  # (batch, L)
    return real[:, None, :].expand(-1, max_len, -1)


def prefix_float(prefix_lengths, lengths, max_len):
    return prefix_broadcast(prefix_lengths, lengths, max_len).float()


WRONG = {
    "ex-03-1": {
        "softmax-wrong-axis": sdpa_axis, "no-scale": sdpa_no_scale,
        "scaled-by-d_k": sdpa_by_d_k,
        "power-precedence": sdpa_power_precedence,
        "scaled-by-length": sdpa_by_length, "scaled-by-d_v": sdpa_by_d_v,
        "three-axes-only": [sdpa_bmm, sdpa_transpose_1_2],
        "swapped-return": sdpa_swapped, "mask-ignored": sdpa_no_mask,
        "mask-inverted": sdpa_inverted,
        "masked-scores-zero": [sdpa_scores_times_mask, sdpa_fill_zero],
        "mask-after-softmax": [sdpa_mask_late, sdpa_mask_late_multiply],
        "fully-masked-nan": sdpa_nan_rows,
        "fully-masked-uniform": [sdpa_uniform_rows, sdpa_finfo_min,
                                 sdpa_additive_min],
    },
    "ex-03-2": {
        "diagonal-excluded": causal_strict, "upper-triangle": causal_upper,
        "mask-inverted": causal_future_blocked,
        "not-boolean": [causal_float, causal_int],
    },
    "ex-03-3": {
        "less-or-equal": padding_le, "mask-inverted": padding_inverted,
        "transposed": padding_transposed, "max-len-ignored": padding_longest,
        "not-boolean": [padding_float, padding_attention_mask],
    },
    "ex-03-4": {
        "padding-on-queries": [combined_queries, combined_both_axes],
        "or-instead-of-and": _combined(lambda j, n: j < n, causal_tril,
                                       torch.logical_or),
        "padding-missing": combined_no_padding,
        "causal-missing": combined_no_causal,
        "diagonal-excluded": _combined(lambda j, n: j < n, causal_strict),
        "upper-triangle": _combined(lambda j, n: j < n, causal_upper),
        "less-or-equal": _combined(lambda j, n: j <= n, causal_tril),
        "mask-inverted": combined_inverted,
        "extra-head-axis": combined_heads,
        "max-len-ignored": combined_longest,
        "not-boolean": combined_float,
    },
    "ex-03-5": {
        "prefix-ignored": prefix_causal_only,
        "prompt-queries-see-all": prefix_rows,
        "and-instead-of-or": _prefix_answer(
            lambda i, j, p, n: (j < n) & (j < p) & (j <= i)),
        "prefix-one-too-long": _prefix_answer(
            lambda i, j, p, n: (j < n) & ((j <= p) | (j <= i))),
        "causal-missing": prefix_both_ways,
        "padding-missing": _prefix_answer(
            lambda i, j, p, n: (j < p) | (j <= i)),
        "padding-on-queries": _prefix_answer(
            lambda i, j, p, n: (i < n) & ((j < p) | (j <= i))),
        "diagonal-excluded": _prefix_answer(
            lambda i, j, p, n: (j < n) & ((j < p) | (j < i))),
        "mask-inverted": _prefix_answer(
            lambda i, j, p, n: (j >= n) | ((j >= p) & (j > i))),
        "not-boolean": prefix_float,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(
    3, CORRECT, WRONG)


# ---------------------------------------------------------------- look-alikes
# Wrong answers a learner could write that behave like a catalogued mistake
# on some cases and not on others: they must get the plain message (the
# smallest failing case, expected against got), never the mistake's name.


def sdpa_dim_1(q, k, v, mask=None):
    """dim=1: the keys for (L_q, L_k) scores, but the queries with a batch
    and the heads with heads (like softmax-wrong-axis on 3-D inputs only)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_sqrt_shape_1(q, k, v, mask=None):
    """sqrt(k.shape[1]): d_k without a batch, L_k with one, the heads with
    heads."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_fill_minus_10(q, k, v, mask=None):
    """-10 is not 'minus infinity enough': uniform empty rows (like
    fully-masked-uniform), and taped keys that keep a little weight."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, -10.0)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def sdpa_mask_if_same_shape(q, k, v, mask=None):
    """The mask used only when it already has the scores' shape (no
    broadcasting): ignored for the padding masks only."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None and mask.shape[-2:] == scores.shape[-2:]:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def sdpa_swapped_when_masked(q, k, v, mask=None):
    """Two return statements, one of them the wrong way round."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is None:
        weights = torch.softmax(scores, dim=-1)
        return weights @ v, weights
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
    weights = weights.nan_to_num(0.0)
    return weights, weights @ v


def sdpa_nan_to_num_without_mask_only(q, k, v, mask=None):
    """Empty rows turned into 0 only for (batch, 1, L_k) masks."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None and mask.dim() == 3:
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def causal_first_row_patched(n):
    """tril(-1), then 'the first word needs a key': right for n = 1."""
    mask = torch.ones(n, n, dtype=torch.bool).tril(-1)
    mask[0, 0] = True
    return mask


def causal_one_ahead(n):
    """tril(1): each word sees one word of the future (no mistake of the
    catalogue)."""
    return torch.ones(n, n, dtype=torch.bool).tril(1)


def padding_greater(lengths, max_len):
    """True at the padding AND off by one (>, not >=): not mask-inverted."""
    return torch.arange(max_len)[None, :] > lengths[:, None]


def padding_batch_as_width(lengths, max_len):
    """torch.arange(len(lengths)): right only when batch == max_len."""
    return torch.arange(len(lengths))[None, :] < lengths[:, None]


def combined_or_and_le(lengths, max_len):
    """Two slips at once: | instead of &, and <= lengths."""
    keys = torch.arange(max_len)[None, :] <= lengths[:, None]
    return keys[:, None, :] | causal_tril(max_len)


def combined_diagonal_patched(lengths, max_len):
    """The diagonal left out, then 'the first word needs a key' patched."""
    mask = _combined(lambda j, n: j < n, causal_strict)(lengths, max_len)
    mask = mask.clone()
    mask[:, 0, 0] = True
    return mask


def combined_forward_on_queries(lengths, max_len):
    """Two slips: the triangle looks forward (i <= j) and the padding is
    on the queries."""
    pos = torch.arange(max_len)
    real_queries = (pos[None, :] < lengths[:, None])[:, :, None]
    return real_queries & (pos[:, None] <= pos[None, :])


def prefix_one_length_for_all(prefix_lengths, lengths, max_len):
    """One prompt length for the whole batch, the longest."""
    same = torch.full_like(prefix_lengths, int(prefix_lengths.max()))
    return prefix_broadcast(same, lengths, max_len)


def prefix_one_too_short(prefix_lengths, lengths, max_len):
    """j < p - 1: one prompt key too few (a causal mask for prompts of one
    or two tokens)."""
    j = torch.arange(max_len)[None, None, :]
    prompt = j < (prefix_lengths - 1)[:, None, None]
    real = j < lengths[:, None, None]
    return real & (prompt | causal_tril(max_len))


def prefix_rows_and_le(prefix_lengths, lengths, max_len):
    """The prompt's rows opened up, with <= for the prompt as well."""
    pos = torch.arange(max_len)
    prompt_rows = (pos[None, :] <= prefix_lengths[:, None])[:, :, None]
    real = (pos[None, :] < lengths[:, None])[:, None, :]
    return (prompt_rows | causal_tril(max_len)) & real


LOOK_ALIKES = [
    ("ex-03-1", sdpa_dim_1, "softmax-wrong-axis"),
    ("ex-03-1", sdpa_sqrt_shape_1, "scaled-by-length"),
    ("ex-03-1", sdpa_fill_minus_10, "fully-masked-uniform"),
    ("ex-03-1", sdpa_mask_if_same_shape, "mask-ignored"),
    ("ex-03-1", sdpa_swapped_when_masked, "swapped-return"),
    ("ex-03-1", sdpa_nan_to_num_without_mask_only, "fully-masked-nan"),
    ("ex-03-2", causal_first_row_patched, "diagonal-excluded"),
    ("ex-03-2", causal_one_ahead, None),
    ("ex-03-3", padding_greater, "mask-inverted"),
    ("ex-03-3", padding_batch_as_width, "max-len-ignored"),
    ("ex-03-4", combined_or_and_le, "or-instead-of-and"),
    ("ex-03-4", combined_diagonal_patched, "diagonal-excluded"),
    ("ex-03-4", combined_forward_on_queries, "upper-triangle"),
    ("ex-03-5", prefix_one_length_for_all, "prefix-ignored"),
    ("ex-03-5", prefix_one_too_short, "prefix-ignored"),
    ("ex-03-5", prefix_rows_and_le, "prompt-queries-see-all"),
]


@pytest.mark.parametrize("ex_id,answer,resembles", LOOK_ALIKES,
                         ids=[a.__name__ for _, a, _ in LOOK_ALIKES])
def test_a_look_alike_gets_the_plain_message(ex_id, answer, resembles):
    exc = failure(ex_id, answer)
    assert exc.mistake is None, (
        f"{answer.__name__} was told {exc.mistake!r}: {exc.message}")
    assert exc.message.startswith(("for ", "your function raised")), (
        exc.message)
    lines = exc._render_traceback_()
    assert all(len(line) <= 79 for line in lines)


def test_look_alikes_cover_every_exercise():
    from attnbook.checks import EXERCISES

    ids = {i for i, ex in EXERCISES.items() if ex.chapter == 3}
    assert {ex_id for ex_id, _, _ in LOOK_ALIKES} == ids


# ----------------------------------------------------------- other behaviour


def test_pytorch_attention_is_refused_in_exercise_1():
    def with_builtin(q, k, v, mask=None):
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=mask), None

    exc = failure("ex-03-1", with_builtin)
    assert exc.mistake == "forbidden-builtin"
    assert "torch.nn.functional.scaled_dot_product_attention" in exc.message


def test_the_mask_is_passed_by_its_name():
    """The text names the argument `mask`: an answer that calls it
    otherwise is told so, in plain words."""
    def attn_mask_named(q, k, v, attn_mask=None):
        return sdpa_matmul(q, k, v, attn_mask)

    exc = failure("ex-03-1", attn_mask_named)
    assert exc.mistake is None and "unexpected keyword argument 'mask'" in (
        exc.message)


def test_the_weights_are_named_in_messages():
    def output_wrong(q, k, v, mask=None):
        out, weights = sdpa_matmul(q, k, v, mask)
        return out + 1.0, weights

    exc = failure("ex-03-1", output_wrong)
    assert "item 0 of your result (output)" in exc.message
    exc = failure("ex-03-1", lambda q, k, v, mask=None: sdpa_matmul(
        q, k, v, mask)[0])
    assert "expected a pair (output, weights)" in exc.message


def test_checks_are_fast_on_a_correct_answer():
    import time

    for ex_id, answer in [("ex-03-1", sdpa_matmul), ("ex-03-2", causal_tril),
                          ("ex-03-3", padding_compare),
                          ("ex-03-4", combined_broadcast),
                          ("ex-03-5", prefix_broadcast)]:
        start = time.perf_counter()
        run_check(ex_id, answer)
        assert time.perf_counter() - start < 1.0, ex_id


def test_a_mask_of_wrong_values_and_dtype_is_told_about_its_values():
    """Values first: a float mask that is also wrong gets the value
    mistake, not 'not boolean'."""
    exc = failure("ex-03-2", lambda n: torch.ones(n, n).tril(-1))
    assert exc.mistake == "diagonal-excluded"


def test_a_numpy_mask_is_asked_to_be_a_tensor():
    exc = failure("ex-03-3", lambda lengths, max_len: np.arange(max_len)
                  < np.asarray(lengths)[:, None])
    assert exc.mistake is None and "torch tensor" in exc.message
