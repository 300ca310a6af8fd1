"""Chapter 5 checks: correct answers pass, each catalogued mistake is named, stubs are not attempted."""

import math

import pytest
import torch
from torch import nn

from checkkit import failure, make_tests, run_check

# --------------------------------------------------------------------------- correct answers


def split_view(x, n_heads):
    batch, length, d_model = x.shape
    return x.view(batch, length, n_heads, d_model // n_heads).transpose(1, 2)


def split_chunks(x, n_heads):
    return torch.stack(x.chunk(n_heads, dim=-1), dim=1)            # n_heads x (batch, L, d_head)


def split_unflatten(x, n_heads):
    return x.float().unflatten(-1, (n_heads, -1)).movedim(-2, 1)


def merge_reshape(x):
    batch, n_heads, length, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, length, n_heads * d_head)


def merge_cat(x):
    return torch.cat(x.unbind(dim=1), dim=-1)


def merge_permute_view(x):
    b, h, n, d = x.shape
    return x.permute(0, 2, 1, 3).contiguous().view(b, n, h * d).float()


class MHAPackage(nn.Module):
    """Built from the book's own helpers."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.w_q, self.w_k = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.w_v, self.w_o = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        from attnbook.attention import scaled_dot_product_attention
        from attnbook.multihead import merge_heads, split_heads

        q = split_heads(self.w_q(query), self.n_heads)
        k = split_heads(self.w_k(key), self.n_heads)
        v = split_heads(self.w_v(value), self.n_heads)
        heads, weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(heads)), weights


class MHAEinsum(nn.Module):
    """One einsum per step, heads as a named axis."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h, self.d_head = n_heads, d_model // n_heads
        for name in ("w_q", "w_k", "w_v", "w_o"):
            setattr(self, name, nn.Linear(d_model, d_model))

    def forward(self, query, key, value, mask=None):
        b, lq, _ = query.shape
        lk = key.shape[1]
        q = self.w_q(query).view(b, lq, self.h, self.d_head)
        k = self.w_k(key).view(b, lk, self.h, self.d_head)
        v = self.w_v(value).view(b, lk, self.h, self.d_head)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / self.d_head ** 0.5
        if mask is not None:
            scores = torch.where(mask, scores, torch.tensor(-1e30, dtype=scores.dtype))
        weights = scores.softmax(dim=-1)
        out = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, lq, -1)
        return self.w_o(out), weights


class MHALoop(nn.Module):
    """One head at a time, with slices of the weight matrices, then concatenated."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        q, k, v = self.w_q(query), self.w_k(key), self.w_v(value)
        d_head = q.shape[-1] // self.n_heads
        outs, all_weights = [], []
        for i in range(self.n_heads):
            part = slice(i * d_head, (i + 1) * d_head)
            scores = q[..., part] @ k[..., part].transpose(1, 2) / math.sqrt(d_head)
            if mask is not None:
                m = mask.expand(q.shape[0], 1, q.shape[1], k.shape[1])[:, 0]
                scores = scores.masked_fill(m.logical_not(), -math.inf)
            w = torch.softmax(scores, dim=-1)
            outs.append(w @ v[..., part])
            all_weights.append(w)
        return self.w_o(torch.cat(outs, dim=-1)), torch.stack(all_weights, dim=1)


def cost_formula(L_q, L_k, d_model, n_heads, bias=True):
    params = 4 * d_model ** 2 + (4 * d_model if bias else 0)
    return params, 4 * (L_q + L_k) * d_model ** 2 + 4 * L_q * L_k * d_model


def cost_by_matmul(L_q, L_k, d_model, n_heads, bias=True):
    def mm(m, n, p):
        return 2 * m * n * p

    d_head = d_model // n_heads
    flops = mm(L_q, d_model, d_model) + 2 * mm(L_k, d_model, d_model) + mm(L_q, d_model, d_model)
    flops += n_heads * (mm(L_q, d_head, L_k) + mm(L_q, L_k, d_head))
    layer_params = d_model * d_model + (d_model if bias else 0)
    return [4 * layer_params, float(flops)]


def cost_module(L_q, L_k, d_model, n_heads, bias=True):
    from attnbook.multihead import MultiHeadAttention

    module = MultiHeadAttention(d_model, n_heads, bias=bias)
    params = sum(p.numel() for p in module.parameters())
    return params, 4 * L_q * d_model * d_model + 4 * L_k * d_model * d_model + 4 * L_q * L_k * d_model


CORRECT = {
    "ex-05-1": [split_view, split_chunks, split_unflatten],
    "ex-05-2": [merge_reshape, merge_cat, merge_permute_view],
    "ex-05-3": [MHAPackage, MHAEinsum, MHALoop],
    "ex-05-4": [cost_formula, cost_by_matmul, cost_module],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def split_straight_view(x, n_heads):
    b, n, d = x.shape
    return x.view(b, n_heads, n, d // n_heads)


def split_no_transpose(x, n_heads):
    b, n, d = x.shape
    return x.view(b, n, n_heads, d // n_heads)


def split_strided(x, n_heads):
    return torch.stack([x[..., i::n_heads] for i in range(n_heads)], dim=1)


def merge_straight_reshape(x):
    b, h, n, d = x.shape
    return x.reshape(b, n, h * d)


def merge_interleaved(x):
    b, h, n, d = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, n, d * h)


def merge_wrong_axes(x):
    b, h, n, d = x.shape
    return x.transpose(2, 3).reshape(b, n, h * d)


def merge_forgot_glue(x):
    return x.transpose(1, 2).contiguous()


class _Wrong(nn.Module):
    """A learner's module with one switch per mistake."""

    mistake = None

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.d_model, self.n_heads = d_model, n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        m = self.mistake
        if m == "self-attention-only":
            key = value = query
        b, h = query.shape[0], self.n_heads
        d_head = self.d_model // h
        q, k, v = self.w_q(query), self.w_k(key), self.w_v(value)
        if m == "split-without-transpose":
            q, k, v = (t.view(b, h, t.shape[1], d_head) for t in (q, k, v))
        else:
            q, k, v = (t.view(b, t.shape[1], h, d_head).transpose(1, 2) for t in (q, k, v))
        scale = {"scaled-by-d_model": math.sqrt(self.d_model), "no-scale": 1.0}.get(m, math.sqrt(d_head))
        scores = q @ k.transpose(-2, -1) / scale
        if mask is not None and m != "mask-ignored":
            scores = scores.masked_fill(mask if m == "mask-inverted" else ~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-2 if m == "softmax-wrong-axis" else -1)
        heads = weights @ v                                     # (b, h, L_q, d_head)
        if m == "merge-without-transpose":
            merged = heads.reshape(b, heads.shape[2], self.d_model)
        else:
            merged = heads.transpose(1, 2).reshape(b, heads.shape[2], self.d_model)
        out = merged if m == "no-output-projection" else self.w_o(merged)
        return out, (weights.mean(dim=1) if m == "weights-averaged" else weights)


def wrong_module(mistake):
    return type(f"MHA_{mistake}", (_Wrong,), {"mistake": mistake})


MHA_MISTAKES = ["split-without-transpose", "merge-without-transpose", "scaled-by-d_model", "no-scale",
                "no-output-projection", "softmax-wrong-axis", "weights-averaged", "self-attention-only",
                "mask-inverted", "mask-ignored"]


class MHATorchStyleMask(_Wrong):
    """Converted the mask the way torch.nn.MultiheadAttention wants it, then used the book's convention."""

    def forward(self, query, key, value, mask=None):
        return super().forward(query, key, value, None if mask is None else mask.logical_not())


def cost_no_bias(L_q, L_k, d_model, n_heads, bias=True):
    return 4 * d_model ** 2, cost_formula(L_q, L_k, d_model, n_heads, bias)[1]


def cost_params_per_head(L_q, L_k, d_model, n_heads, bias=True):
    params, flops = cost_formula(L_q, L_k, d_model, n_heads, bias)
    return n_heads * params, flops


def cost_three_layers(L_q, L_k, d_model, n_heads, bias=True):
    return 3 * (d_model ** 2 + (d_model if bias else 0)), cost_formula(L_q, L_k, d_model, n_heads, bias)[1]


def cost_macs(L_q, L_k, d_model, n_heads, bias=True):
    params, _ = cost_formula(L_q, L_k, d_model, n_heads, bias)
    return params, 2 * (L_q + L_k) * d_model ** 2 + 2 * L_q * L_k * d_model


def cost_no_w_o(L_q, L_k, d_model, n_heads, bias=True):
    params, _ = cost_formula(L_q, L_k, d_model, n_heads, bias)
    return params, 2 * L_q * d_model ** 2 + 4 * L_k * d_model ** 2 + 4 * L_q * L_k * d_model


def cost_l_q_only(L_q, L_k, d_model, n_heads, bias=True):
    params, _ = cost_formula(L_q, L_k, d_model, n_heads, bias)
    return params, 8 * L_q * d_model ** 2 + 4 * L_q * L_q * d_model


def cost_heads_full_width(L_q, L_k, d_model, n_heads, bias=True):
    params, _ = cost_formula(L_q, L_k, d_model, n_heads, bias)
    return params, 4 * (L_q + L_k) * d_model ** 2 + n_heads * 4 * L_q * L_k * d_model


def cost_projections_only(L_q, L_k, d_model, n_heads, bias=True):
    params, _ = cost_formula(L_q, L_k, d_model, n_heads, bias)
    return params, 4 * (L_q + L_k) * d_model ** 2


WRONG = {
    "ex-05-1": {
        "view-without-transpose": split_straight_view, "no-transpose": split_no_transpose,
        "heads-interleaved": split_strided,
    },
    "ex-05-2": {
        "reshape-without-transpose": merge_straight_reshape, "heads-interleaved": merge_interleaved,
        "last-axes-transposed": merge_wrong_axes, "not-merged": merge_forgot_glue,
    },
    "ex-05-3": {key: wrong_module(key) for key in MHA_MISTAKES},
    "ex-05-4": {
        "params-no-bias": cost_no_bias, "params-per-head": cost_params_per_head,
        "params-no-output": cost_three_layers, "flops-multiply-adds": cost_macs,
        "flops-no-output-projection": cost_no_w_o, "flops-keys-as-queries": cost_l_q_only,
        "flops-d_model-per-head": cost_heads_full_width, "flops-no-attention": cost_projections_only,
    },
}
WRONG["ex-05-3"]["mask-inverted"] = [wrong_module("mask-inverted"), MHATorchStyleMask]

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(5, CORRECT, WRONG)


# --------------------------------------------------------------------------- more ways to go wrong


def test_view_after_transpose_names_the_pytorch_error():
    def merge_view(x):
        b, h, n, d = x.shape
        return x.transpose(1, 2).view(b, n, h * d)

    exc = failure("ex-05-2", merge_view)
    assert "RuntimeError" in exc.message and "view" in exc.message


def test_pytorch_attention_is_refused_in_exercise_3():
    class WithBuiltin(MHAPackage):
        def forward(self, query, key, value, mask=None):
            b = query.shape[0]
            q, k, v = (t.view(b, t.shape[1], self.n_heads, -1).transpose(1, 2)
                       for t in (self.w_q(query), self.w_k(key), self.w_v(value)))
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return self.w_o(out.transpose(1, 2).flatten(2)), None

    exc = failure("ex-05-3", WithBuiltin)
    assert exc.mistake == "forbidden-builtin"


def test_a_module_without_the_contract_names_is_told_so():
    class Renamed(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.query_proj = nn.Linear(d_model, d_model)

        def forward(self, query, key, value, mask=None):
            return query, None

    exc = failure("ex-05-3", Renamed)
    assert "w_q" in exc.message and "w_o" in exc.message


def test_wrapping_pytorchs_own_layer_is_refused():
    """Wrapping torch.nn.MultiheadAttention (with the right weights and masks) is not building it."""
    class Wrapped(MHAPackage):
        def forward(self, query, key, value, mask=None):
            d = query.shape[-1]
            mha = nn.MultiheadAttention(d, self.n_heads, batch_first=True).to(query.dtype)
            with torch.no_grad():
                mha.in_proj_weight.copy_(torch.cat([self.w_q.weight, self.w_k.weight, self.w_v.weight]))
                mha.in_proj_bias.copy_(torch.cat([self.w_q.bias, self.w_k.bias, self.w_v.bias]))
                mha.out_proj.weight.copy_(self.w_o.weight)
                mha.out_proj.bias.copy_(self.w_o.bias)
            blocked = None
            if mask is not None:
                blocked = ~mask.expand(query.shape[0], self.n_heads, query.shape[1], key.shape[1])
                blocked = blocked.reshape(-1, query.shape[1], key.shape[1])
            return mha(query, key, value, attn_mask=blocked, average_attn_weights=False)

    exc = failure("ex-05-3", Wrapped, seed=0)
    assert exc.mistake == "forbidden-builtin" and "multi_head_attention_forward" in exc.message


@pytest.mark.parametrize("seed", [0, 1])
def test_checks_are_fast(seed):
    import time

    for ex_id, answer in [("ex-05-1", split_view), ("ex-05-2", merge_reshape), ("ex-05-3", MHAPackage),
                          ("ex-05-4", cost_formula)]:
        start = time.perf_counter()
        run_check(ex_id, answer, seed)
        assert time.perf_counter() - start < 1.0, ex_id
