"""Chapter 5 checks: correct answers pass, each catalogued mistake is named, look-alikes are not,
stubs are not attempted."""

import math
import time
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from attnbook.checks import EXERCISES
from attnbook.checks.core import seeded
from checkkit import failure, make_tests, run_check

# --------------------------------------------------------------------------- correct answers


def split_view(x, n_heads):
    batch, length, d_model = x.shape
    return x.view(batch, length, n_heads, d_model // n_heads).transpose(1, 2)


def split_chunks(x, n_heads):
    return torch.stack(x.chunk(n_heads, dim=-1), dim=1)            # n_heads x (batch, L, d_head)


def split_unflatten(x, n_heads):
    return x.float().unflatten(-1, (n_heads, -1)).movedim(-2, 1)


def split_einops_style(x, n_heads):
    b, n, d = x.shape
    return x.reshape(b, n, n_heads, d // n_heads).permute(0, 2, 1, 3).contiguous()


def merge_reshape(x):
    batch, n_heads, length, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, length, n_heads * d_head)


def merge_cat(x):
    return torch.cat(x.unbind(dim=1), dim=-1)


def merge_permute_view(x):
    b, h, n, d = x.shape
    return x.permute(0, 2, 1, 3).contiguous().view(b, n, h * d).float()


def merge_flatten(x):
    return x.transpose(1, 2).flatten(start_dim=2)


def attend(q, k, v, mask=None, fill=-math.inf):
    """A learner's own attention in every head, with chapter 3's rule for fully masked rows."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, fill)
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = torch.nan_to_num(weights, nan=0.0)
    return weights @ v, weights


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
    """One einsum per step, heads as a named axis; masked rows with torch.where."""

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
            scores = torch.where(mask, scores, torch.tensor(-math.inf, dtype=scores.dtype))
        weights = scores.softmax(dim=-1)
        if mask is not None:
            weights = torch.where(mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights))
        out = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, lq, -1)
        return self.w_o(out), weights


class MHALoop(nn.Module):
    """One head at a time, with slices of the weight matrices, then concatenated; with dropout on
    the weights, as PyTorch's layer has (the check runs in eval mode)."""

    def __init__(self, d_model, n_heads, dropout=0.1):
        super().__init__()
        self.n_heads = n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query, key, value, mask=None):
        q, k, v = self.w_q(query), self.w_k(key), self.w_v(value)
        d_head = q.shape[-1] // self.n_heads
        outs, all_weights = [], []
        for i in range(self.n_heads):
            part = slice(i * d_head, (i + 1) * d_head)
            m = None
            if mask is not None:
                m = mask.expand(q.shape[0], 1, q.shape[1], k.shape[1])[:, 0]
            out, w = attend(q[..., part], k[..., part], v[..., part], m)
            outs.append(self.dropout(w) @ v[..., part])
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
    return [4 * layer_params, flops]


def cost_module(L_q, L_k, d_model, n_heads, bias=True):
    from attnbook.multihead import MultiHeadAttention

    module = MultiHeadAttention(d_model, n_heads, bias=bias)
    params = sum(p.numel() for p in module.parameters())
    return params, np.int64(4 * L_q * d_model * d_model + 4 * L_k * d_model * d_model
                            + 4 * L_q * L_k * d_model)


# ex-05-5: grouped-query attention


class GQABase(nn.Module):
    """The constructor the exercise gives."""

    def __init__(self, d_model, n_heads, n_kv_heads):
        super().__init__()
        self.n_heads, self.n_kv_heads = n_heads, n_kv_heads
        self.d_head = d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, n_kv_heads * self.d_head)
        self.w_v = nn.Linear(d_model, n_kv_heads * self.d_head)
        self.w_o = nn.Linear(d_model, d_model)

    def heads(self, query, key, value):
        return (split_view(self.w_q(query), self.n_heads), split_view(self.w_k(key), self.n_kv_heads),
                split_view(self.w_v(value), self.n_kv_heads))


class GQAInterleave(GQABase):
    """The solution's way: repeat_interleave, then chapter 3's attention."""

    def forward(self, query, key, value, mask=None):
        from attnbook.attention import scaled_dot_product_attention

        q, k, v = self.heads(query, key, value)
        group = self.n_heads // self.n_kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        heads, weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_reshape(heads)), weights


class GQARepeatKV(GQABase):
    """Llama's repeat_kv: expand a new axis after the key/value heads, then fold it in."""

    def forward(self, query, key, value, mask=None):
        q, k, v = self.heads(query, key, value)
        b, h_kv, n, d = k.shape
        group = self.n_heads // h_kv
        k = k[:, :, None].expand(b, h_kv, group, n, d).reshape(b, h_kv * group, n, d)
        v = v[:, :, None].expand(b, h_kv, group, n, d).reshape(b, h_kv * group, n, d)
        out, weights = attend(q, k, v, mask)
        return self.w_o(merge_flatten(out)), weights


class GQAGrouped(GQABase):
    """No copies at all: the query heads get a group axis and broadcast against the shared keys."""

    def forward(self, query, key, value, mask=None):
        q, k, v = self.heads(query, key, value)
        b, h, lq, d = q.shape
        g = h // self.n_kv_heads
        qg = q.reshape(b, self.n_kv_heads, g, lq, d)                      # (b, h_kv, g, L_q, d)
        scores = qg @ k[:, :, None].transpose(-2, -1) / math.sqrt(d)      # (b, h_kv, g, L_q, L_k)
        scores = scores.reshape(b, h, lq, -1)
        if mask is not None:
            scores = scores.masked_fill(~mask, -math.inf)
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        out = (weights.reshape(b, self.n_kv_heads, g, lq, -1) @ v[:, :, None]).reshape(b, h, lq, d)
        return self.w_o(merge_reshape(out)), weights


class GQALoop(GQABase):
    """One query head at a time, reading key/value head i // group; in float32."""

    def forward(self, query, key, value, mask=None):
        dtype = query.dtype
        self.float()
        q, k, v = self.heads(query.float(), key.float(), value.float())
        group = self.n_heads // self.n_kv_heads
        outs, ws = [], []
        for i in range(self.n_heads):
            m = None if mask is None else mask[:, 0] if mask.dim() == 4 else mask
            out, w = attend(q[:, i], k[:, i // group], v[:, i // group], m, fill=-1e30)
            if m is not None:
                w = w * m.any(dim=-1, keepdim=True)
                out = w @ v[:, i // group]
            outs.append(out)
            ws.append(w)
        result = self.w_o(torch.cat(outs, dim=-1)), torch.stack(ws, dim=1)
        self.to(dtype)
        return result[0].to(dtype), result[1].to(dtype)


CORRECT = {
    "ex-05-1": [split_view, split_chunks, split_unflatten, split_einops_style],
    "ex-05-2": [merge_reshape, merge_cat, merge_permute_view, merge_flatten],
    "ex-05-3": [MHAPackage, MHAEinsum, MHALoop],
    "ex-05-4": [cost_formula, cost_by_matmul, cost_module],
    "ex-05-5": [GQAInterleave, GQARepeatKV, GQAGrouped, GQALoop],
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


def split_transpose_first(x, n_heads):
    b, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n_heads, n, d // n_heads)


def split_d2l(x, n_heads):
    """d2l's transpose_qkv: the heads end up in the batch axis."""
    x = x.reshape(x.shape[0], x.shape[1], n_heads, -1)
    x = x.permute(0, 2, 1, 3)
    return x.reshape(-1, x.shape[2], x.shape[3])


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


def merge_cat_words(x):
    return torch.cat([x[:, i] for i in range(x.shape[1])], dim=1)


class _Wrong(nn.Module):
    """A learner's module with one switch per mistake (their own attention, chapter 3's rules)."""

    mistake = None

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.d_model, self.n_heads = d_model, n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def scale(self, q, k, d_head):
        m = self.mistake
        return {"scaled-by-d_model": math.sqrt(self.d_model), "no-scale": 1.0}.get(m, math.sqrt(d_head))

    def keys_values(self, query, key, value):
        return (query, query) if self.mistake == "self-attention-only" else (key, value)

    def mask_of(self, mask, scores):
        m = self.mistake
        if m == "always-causal":
            causal = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
            return causal if mask is None else mask & causal
        if m == "mask-ignored":
            return None
        return mask

    def project_out(self, merged):
        return merged if self.mistake == "no-output-projection" else self.w_o(merged)

    def forward(self, query, key, value, mask=None):
        m = self.mistake
        key, value = self.keys_values(query, key, value)
        b, h = query.shape[0], self.n_heads
        d_head = self.d_model // h
        q, k, v = self.w_q(query), self.w_k(key), self.w_v(value)
        if m == "split-without-transpose":
            q, k, v = (t.view(b, h, t.shape[1], d_head) for t in (q, k, v))
        else:
            q, k, v = (t.view(b, t.shape[1], h, d_head).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / self.scale(q, k, d_head)
        mask = self.mask_of(mask, scores)
        if mask is not None and m != "mask-after-softmax":
            fill = -1e9 if m == "fully-masked-uniform" else float("-inf")
            scores = scores.masked_fill(mask if m == "mask-inverted" else ~mask, fill)
        weights = torch.softmax(scores, dim=-2 if m == "softmax-wrong-axis" else -1)
        if mask is not None and m not in ("fully-masked-nan", "fully-masked-uniform"):
            weights = weights.nan_to_num(0.0)
        if mask is not None and m == "mask-after-softmax":
            weights = weights * mask
        heads = weights @ v                                     # (b, h, L_q, d_head)
        if m == "merge-without-transpose":
            merged = heads.reshape(b, heads.shape[2], self.d_model)
        else:
            merged = heads.transpose(1, 2).reshape(b, heads.shape[2], self.d_model)
        out = self.project_out(merged)
        return out, (weights.mean(dim=1) if m == "weights-averaged" else weights)


def wrong_module(mistake, base=_Wrong):
    return type(f"MHA_{mistake}", (base,), {"mistake": mistake})


MHA_MISTAKES = [m.key for m in EXERCISES["ex-05-3"].mistakes]


class MHATorchStyleMask(_Wrong):
    """Converted the mask the way torch.nn.MultiheadAttention wants it, then used the book's convention."""

    def forward(self, query, key, value, mask=None):
        return super().forward(query, key, value, None if mask is None else mask.logical_not())


class MHANanoGPT(nn.Module):
    """nanoGPT's CausalSelfAttention, adapted to the exercise's names: it keeps its causal mask."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_head = n_heads
        self.w_q, self.w_k = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.w_v, self.w_o = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        B, T, C = query.size()
        S = key.size(1)
        q = self.w_q(query).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = self.w_k(key).view(B, S, self.n_head, C // self.n_head).transpose(1, 2)
        v = self.w_v(value).view(B, S, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        bias = torch.tril(torch.ones(T, S, dtype=torch.bool))
        att = att.masked_fill(~bias, float("-inf"))
        if mask is not None:
            att = att.masked_fill(~mask, float("-inf"))
        att = torch.softmax(att, dim=-1).nan_to_num(0.0)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.w_o(y), att


class MHAAnnotated(nn.Module):
    """The Annotated Transformer's attention: masked_fill(mask == 0, -1e9)."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.h, self.d_k = n_heads, d_model // n_heads
        self.w_q, self.w_k = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.w_v, self.w_o = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        nbatches = query.size(0)
        q, k, v = [lin(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2)
                   for lin, x in zip((self.w_q, self.w_k, self.w_v), (query, key, value))]
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        p_attn = scores.softmax(dim=-1)
        x = torch.matmul(p_attn, v).transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
        return self.w_o(x), p_attn


def cost_no_bias(L_q, L_k, d_model, n_heads, bias=True):
    return 4 * d_model ** 2, cost_formula(L_q, L_k, d_model, n_heads, bias)[1]


def cost_bias_always(L_q, L_k, d_model, n_heads, bias=True):
    return 4 * d_model ** 2 + 4 * d_model, cost_formula(L_q, L_k, d_model, n_heads, bias)[1]


def cost_params_per_head(L_q, L_k, d_model, n_heads, bias=True):
    params, flops = cost_formula(L_q, L_k, d_model, n_heads, bias)
    return n_heads * params, flops


def cost_params_d_head(L_q, L_k, d_model, n_heads, bias=True):
    d_head = d_model // n_heads
    per_layer = d_model * d_head + (d_head if bias else 0)      # each head's slice, counted once
    return 4 * per_layer, cost_formula(L_q, L_k, d_model, n_heads, bias)[1]


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


class _WrongGQA(GQABase):
    """A learner's grouped-query attention with one switch per mistake."""

    mistake = None

    def forward(self, query, key, value, mask=None):
        m = self.mistake
        q = split_view(self.w_q(query), self.n_heads)
        k, v = self.w_k(key), self.w_v(value)
        b = k.shape[0]
        if m == "kv-split-without-transpose":
            k, v = (t.view(b, self.n_kv_heads, t.shape[1], self.d_head) for t in (k, v))
        else:
            k, v = split_view(k, self.n_kv_heads), split_view(v, self.n_kv_heads)
        group = self.n_heads // self.n_kv_heads
        if m == "kv-tiled":
            k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
        else:
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scale = {"scaled-by-kv-width": math.sqrt(self.w_k.out_features),
                 "scaled-by-d_model": math.sqrt(query.shape[-1])}.get(m, math.sqrt(self.d_head))
        scores = q @ k.transpose(-2, -1) / scale
        if mask is not None and m != "mask-ignored":
            scores = scores.masked_fill(mask if m == "mask-inverted" else ~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None and m != "fully-masked-nan":
            weights = weights.nan_to_num(0.0)
        merged = merge_reshape(weights @ v)
        return (merged if m == "no-output-projection" else self.w_o(merged)), weights


def wrong_gqa(mistake):
    return type(f"GQA_{mistake}", (_WrongGQA,), {"mistake": mistake})


WRONG = {
    "ex-05-1": {
        "view-without-transpose": split_straight_view, "no-transpose": split_no_transpose,
        "heads-interleaved": split_strided, "transpose-before-view": split_transpose_first,
        "heads-in-batch": split_d2l,
    },
    "ex-05-2": {
        "reshape-without-transpose": merge_straight_reshape, "heads-interleaved": merge_interleaved,
        "last-axes-transposed": merge_wrong_axes, "not-merged": merge_forgot_glue,
        "glued-along-words": merge_cat_words,
    },
    "ex-05-3": {key: wrong_module(key) for key in MHA_MISTAKES},
    "ex-05-4": {
        "params-no-bias": cost_no_bias, "params-bias-ignored": cost_bias_always,
        "params-per-head": cost_params_per_head, "params-d_head": cost_params_d_head,
        "params-no-output": cost_three_layers, "flops-multiply-adds": cost_macs,
        "flops-no-output-projection": cost_no_w_o, "flops-keys-as-queries": cost_l_q_only,
        "flops-d_model-per-head": cost_heads_full_width, "flops-no-attention": cost_projections_only,
    },
    "ex-05-5": {m.key: wrong_gqa(m.key) for m in EXERCISES["ex-05-5"].mistakes},
}
WRONG["ex-05-3"]["mask-inverted"] = [wrong_module("mask-inverted"), MHATorchStyleMask]
WRONG["ex-05-3"]["always-causal"] = [wrong_module("always-causal"), MHANanoGPT]
WRONG["ex-05-3"]["fully-masked-uniform"] = [wrong_module("fully-masked-uniform"), MHAAnnotated]

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(5, CORRECT, WRONG)


# --------------------------------------------------------------------------- look-alikes
# Wrong answers as a learner writes them that behave like a catalogued mistake on some case and
# differently on others: they must get the plain message (the smallest failing case), not the name.


def split_single_head_shortcut(x, n_heads):
    """Special-cases one head, and puts the new axis in the wrong place there."""
    if n_heads == 1:
        return x.unsqueeze(2)
    return split_view(x, n_heads)


def split_folded_no_permute(x, n_heads):
    """d2l's folding of the heads into the batch, without its permute."""
    b, n, d = x.shape
    return x.reshape(b * n_heads, n, d // n_heads)


def merge_transpose_1_3(x):
    b, h, n, d = x.shape
    return x.transpose(1, 3).reshape(b, n, h * d)


def merge_squeeze(x):
    """squeeze() meant to drop a one-head axis; it drops a batch of one too."""
    return x.transpose(1, 2).squeeze()


class MHAPaddingMaskInverted(_Wrong):
    """Treats a (batch, 1, 1, L_k) mask like PyTorch's key_padding_mask (True at pads), a causal
    (L, L) mask the book's way."""

    def forward(self, query, key, value, mask=None):
        if mask is not None and mask.dim() == 4:
            mask = ~mask
        return super().forward(query, key, value, mask)


class MHANoMixingForOneHead(_Wrong):
    """'With one head there is nothing to mix': skips w_o when n_heads == 1."""

    def project_out(self, merged):
        return merged if self.n_heads == 1 else self.w_o(merged)


class MHAWeightsSummed(_Wrong):
    """Summed the heads' weights where it meant to return them all."""

    def forward(self, query, key, value, mask=None):
        out, weights = super().forward(query, key, value, mask)
        return out, weights.sum(dim=1)


class MHAScaleByLength(_Wrong):
    """Divides by the square root of k.size(-2), the number of keys, meaning k.size(-1)."""

    def scale(self, q, k, d_head):
        return math.sqrt(k.size(-2))


class MHAScaleByBatch(_Wrong):
    """Divides by the square root of k.size(0), meaning k.size(-1)."""

    def scale(self, q, k, d_head):
        return math.sqrt(k.size(0))


class MHASelfAttentionShortcut(_Wrong):
    """Takes 'same shapes' to mean self-attention, and then uses the query for keys and values."""

    def keys_values(self, query, key, value):
        return (query, query) if key.shape == query.shape else (key, value)


def cost_no_bias_and_macs(L_q, L_k, d_model, n_heads, bias=True):
    """Two mistakes at once: on the case without biases only the FLOPs are wrong."""
    return 4 * d_model ** 2, 2 * (L_q + L_k) * d_model ** 2 + 2 * L_q * L_k * d_model


def cost_per_head_no_bias(L_q, L_k, d_model, n_heads, bias=True):
    """Per-head matrices and no biases: on the case without biases, only the per-head mistake shows."""
    return n_heads * 4 * d_model ** 2, cost_formula(L_q, L_k, d_model, n_heads, bias)[1]


class GQATiledAndKVWidth(_WrongGQA):
    """Tiles the heads and scales by the key projection's width: with as many key/value heads as
    query heads, that is exactly scaling by sqrt(d_model)."""

    def forward(self, query, key, value, mask=None):
        q = split_view(self.w_q(query), self.n_heads)
        k, v = split_view(self.w_k(key), self.n_kv_heads), split_view(self.w_v(value), self.n_kv_heads)
        group = self.n_heads // self.n_kv_heads
        k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
        out, weights = attend(q * math.sqrt(self.d_head) / math.sqrt(self.w_k.out_features), k, v, mask)
        return self.w_o(merge_reshape(out)), weights


class GQAPaddingMaskInverted(_WrongGQA):
    def forward(self, query, key, value, mask=None):
        if mask is not None and mask.dim() == 4 and mask.shape[-2] == 1:
            mask = ~mask
        return super().forward(query, key, value, mask)


LOOK_ALIKES = {
    "ex-05-1": [(split_single_head_shortcut, "no-transpose"), (split_folded_no_permute, "heads-in-batch")],
    "ex-05-2": [(merge_transpose_1_3, "last-axes-transposed"), (merge_squeeze, "not-merged")],
    "ex-05-3": [(MHAPaddingMaskInverted, "mask-inverted"), (MHANoMixingForOneHead, "no-output-projection"),
                (MHAWeightsSummed, "weights-averaged"), (MHAScaleByLength, "scaled-by-d_model"),
                (MHAScaleByBatch, "no-scale"), (MHASelfAttentionShortcut, "self-attention-only")],
    "ex-05-4": [(cost_no_bias_and_macs, "flops-multiply-adds"), (cost_per_head_no_bias, "params-per-head")],
    "ex-05-5": [(GQATiledAndKVWidth, "scaled-by-d_model"), (GQAPaddingMaskInverted, "mask-inverted")],
}
LOOK_ALIKE_PARAMS = [(ex_id, i) for ex_id in LOOK_ALIKES for i in range(len(LOOK_ALIKES[ex_id]))]


def coincidences(ex_id, answer, key):
    """The exercise's own cases on which the answer fails as the mistake ``key`` does, and those on
    which it does not behave like that mistake (failing otherwise, or right where the mistake is
    wrong)."""
    ex = EXERCISES[ex_id]
    mistake = next(m for m in ex.mistakes if m.key == key)
    like, unlike = [], []
    with warnings.catch_warnings(), np.errstate(all="ignore"), seeded(ex.seed):
        warnings.simplefilter("ignore")
        for i, case in enumerate(ex.cases(np.random.default_rng(ex.seed))):
            outcome = ex._outcome(answer, case, time.perf_counter() + 30)
            try:
                model = ex._prepare_expected(mistake.model(*ex._copy_args(case)), case)
                same = outcome.error is None and ex._same(outcome.result, model, case, mistake.tolerance)
            except Exception:  # noqa: BLE001
                same = outcome.error is not None
            if not same:
                unlike.append(i)
            elif outcome.error is not None or outcome.why is not None:
                like.append(i)
    return like, unlike


@pytest.mark.parametrize("ex_id,index", LOOK_ALIKE_PARAMS)
def test_a_look_alike_gets_the_plain_message(ex_id, index):
    answer, key = LOOK_ALIKES[ex_id][index]
    like, unlike = coincidences(ex_id, answer, key)
    assert like, f"the look-alike never behaves like {key!r}: it tests nothing"
    assert unlike, f"the look-alike behaves like {key!r} on every failing case: it is that mistake"
    exc = failure(ex_id, answer)
    assert exc.mistake is None, f"a look-alike was named {exc.mistake!r}: {exc.message}"
    assert exc.message.startswith("for "), exc.message       # the smallest failing case
    assert all(len(line) <= 79 for line in exc._render_traceback_())


def test_every_catalogue_has_look_alikes():
    assert set(LOOK_ALIKES) == {ex_id for ex_id, ex in EXERCISES.items() if ex.chapter == 5}


# --------------------------------------------------------------------------- more ways to go wrong


def test_view_after_transpose_names_the_pytorch_error():
    def merge_view(x):
        b, h, n, d = x.shape
        return x.transpose(1, 2).view(b, n, h * d)

    exc = failure("ex-05-2", merge_view)
    assert "RuntimeError" in exc.message and ".contiguous()" in exc.message


def test_pytorch_attention_is_refused_in_exercises_3_and_5():
    class WithBuiltin(MHAPackage):
        def forward(self, query, key, value, mask=None):
            b = query.shape[0]
            q, k, v = (t.view(b, t.shape[1], self.n_heads, -1).transpose(1, 2)
                       for t in (self.w_q(query), self.w_k(key), self.w_v(value)))
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return self.w_o(out.transpose(1, 2).flatten(2)), None

    class GQABuiltin(GQABase):
        def forward(self, query, key, value, mask=None):
            q, k, v = self.heads(query, key, value)
            g = self.n_heads // self.n_kv_heads
            out = torch.nn.functional.scaled_dot_product_attention(
                q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1), attn_mask=mask)
            return self.w_o(merge_reshape(out)), None

    assert failure("ex-05-3", WithBuiltin).mistake == "forbidden-builtin"
    assert failure("ex-05-5", GQABuiltin).mistake == "forbidden-builtin"


def test_a_module_without_the_contract_names_is_told_so():
    class Renamed(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.query_proj = nn.Linear(d_model, d_model)

        def forward(self, query, key, value, mask=None):
            return query, None

    exc = failure("ex-05-3", Renamed)
    assert "w_q" in exc.message and "w_o" in exc.message and "missing" in exc.message


def test_a_grouped_module_with_full_width_keys_is_told_the_shape():
    class FullWidth(GQAInterleave):
        def __init__(self, d_model, n_heads, n_kv_heads):
            super().__init__(d_model, n_heads, n_kv_heads)
            self.w_k = nn.Linear(d_model, d_model)

    exc = failure("ex-05-5", FullWidth)
    assert "`w_k` should be nn.Linear(8, 4), it is nn.Linear(8, 8)" in exc.message


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


def test_dropout_in_training_mode_does_not_decide_the_verdict():
    """The check runs a learner's module in eval mode: dropout on the weights is switched off."""
    class Dropping(MHALoop):
        def __init__(self, d_model, n_heads):
            super().__init__(d_model, n_heads, dropout=0.5)

    assert run_check("ex-05-3", Dropping).startswith("\u2714")


def test_the_references_are_the_book_and_the_models_with_no_mistake():
    """ex-05-3's reference (the catalogue's model, no switch on) equals the book's MultiHeadAttention;
    ex-05-5's equals it whenever there are as many key/value heads as query heads."""
    from attnbook.checks.ch05 import _gqa_model, _use_mha
    from attnbook.multihead import MultiHeadAttention

    mha = EXERCISES["ex-05-3"]
    for case in mha.make_cases():
        book = _use_mha(MultiHeadAttention, *mha._copy_args(case))
        ours = mha.reference(*mha._copy_args(case))
        for a, b in zip(book, ours):
            assert torch.allclose(a, b, atol=1e-6, equal_nan=True)
        d, h, p, q, k, v, m = mha._copy_args(case)
        grouped = _gqa_model()(d, h, h, p, q, k, v, m)
        for a, b in zip(grouped, ours):
            assert torch.allclose(a, b, atol=1e-6, equal_nan=True)


def test_a_cost_with_float_flops_is_told_to_count_in_integers():
    def cost_float(L_q, L_k, d_model, n_heads, bias=True):
        params, flops = cost_formula(L_q, L_k, d_model, n_heads, bias)
        return params, flops / 1.0

    exc = failure("ex-05-4", cost_float)
    assert "flops should be an int, got a float" in exc.message


def test_a_cost_that_is_not_a_pair_is_told_so():
    exc = failure("ex-05-4", lambda L_q, L_k, d_model, n_heads, bias=True: cost_formula(
        L_q, L_k, d_model, n_heads, bias)[0])
    assert "asks for the pair (parameters, flops), got an int" in exc.message


def test_cost_takes_bias_by_keyword_and_has_its_default():
    def cost_renamed(L_q, L_k, d_model, n_heads, use_bias=True):
        return cost_formula(L_q, L_k, d_model, n_heads, use_bias)

    def cost_default_false(L_q, L_k, d_model, n_heads, bias=False):
        return cost_formula(L_q, L_k, d_model, n_heads, bias)

    assert "TypeError" in failure("ex-05-4", cost_renamed).message
    exc = failure("ex-05-4", cost_default_false)
    assert "bias left at its default" in exc.message


def test_plain_messages_name_the_part_that_differs():
    exc = failure("ex-05-3", MHAWeightsSummed)
    assert "item 1 of your result (weights)" in exc.message


@pytest.mark.parametrize("seed", [0, 1])
def test_checks_are_fast(seed):
    for ex_id, answer in [("ex-05-1", split_view), ("ex-05-2", merge_reshape), ("ex-05-3", MHAPackage),
                          ("ex-05-4", cost_formula), ("ex-05-5", GQAInterleave)]:
        start = time.perf_counter()
        run_check(ex_id, answer, seed)
        assert time.perf_counter() - start < 1.0, ex_id
