"""Chapter 6 checks: correct answers pass, each catalogued mistake is named, look-alikes are not,
stubs are not attempted."""

import math
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attnbook.attention import causal_mask
from attnbook.checks import EXERCISES
from attnbook.multihead import MultiHeadAttention
from attnbook.transformer import FeedForward
from checkkit import failure, make_tests, run_check
from test_checks_ch05 import coincidences

# --------------------------------------------------------------------------- ex-06-1 layer norm


def ln_mean_var(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def ln_var_float32(x, gamma, beta, eps=1e-5):
    x, gamma, beta = x.float(), gamma.float(), beta.float()
    normed = (x - x.mean(-1, keepdim=True)) * torch.rsqrt(x.var(-1, unbiased=False, keepdim=True) + eps)
    return gamma * normed + beta


def ln_std_correction(x, gamma, beta, eps=1e-5):
    mean = torch.mean(x, -1, keepdim=True)
    var = torch.var(x, dim=-1, keepdim=True, correction=0)
    return torch.addcmul(beta, (x - mean) / (var + eps).sqrt(), gamma)


def ln_var_mean(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
    return gamma * (x - mean) / (var + eps) ** 0.5 + beta


def ln_unbiased(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(dim=-1, keepdim=True) + eps) * gamma + beta


def ln_annotated_transformer(x, gamma, beta, eps=1e-5):
    """The Annotated Transformer's LayerNorm: a_2 * (x - mean) / (std + eps) + b_2."""
    mean = x.mean(-1, keepdim=True)
    std = x.std(-1, keepdim=True)
    return gamma * (x - mean) / (std + eps) + beta


def ln_eps_outside(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / (x.std(dim=-1, unbiased=False, keepdim=True) + eps) * gamma + beta


def ln_no_eps(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / x.var(dim=-1, unbiased=False, keepdim=True).sqrt() * gamma + beta


def ln_eps_fixed(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5) * gamma + beta


def ln_swapped(x, gamma, beta, eps=1e-5):
    return ln_mean_var(x, beta, gamma, eps)


def ln_plain(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + eps)


def ln_rms(x, gamma, beta, eps=1e-5):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps) * gamma + beta


def ln_batch_axis(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=0, keepdim=True)
    var = x.var(dim=0, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def ln_positions_axis(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-2, keepdim=True)
    var = x.var(dim=-2, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def ln_builtin(x, gamma, beta, eps=1e-5):
    return nn.functional.layer_norm(x, x.shape[-1:], gamma, beta, eps)


# --------------------------------------------------------------------------- ex-06-2 feed-forward


def ff_plain(x, w1, b1, w2, b2):
    return torch.relu(x @ w1 + b1) @ w2 + b2


def ff_functional(x, w1, b1, w2, b2):
    x, w1, b1, w2, b2 = (t.float() for t in (x, w1, b1, w2, b2))
    h = nn.functional.linear(x, w1.T, b1).clamp(min=0)
    return nn.functional.linear(h, w2.T, b2)


def ff_einsum(x, w1, b1, w2, b2):
    h = torch.einsum("...d,df->...f", x, w1) + b1
    h = torch.where(h > 0, h, torch.zeros_like(h))
    return torch.einsum("...f,fd->...d", h, w2) + b2


def ff_relu_after_second(x, w1, b1, w2, b2):
    return torch.relu((x @ w1 + b1) @ w2 + b2)


def ff_relu_twice(x, w1, b1, w2, b2):
    return torch.relu(torch.relu(x @ w1 + b1) @ w2 + b2)


def ff_linear(x, w1, b1, w2, b2):
    return (x @ w1 + b1) @ w2 + b2


def ff_bias_after(x, w1, b1, w2, b2):
    return (torch.relu(x @ w1) + b1) @ w2 + b2


def ff_gelu(x, w1, b1, w2, b2):
    return nn.functional.gelu(x @ w1 + b1) @ w2 + b2


def ff_gelu_tanh(x, w1, b1, w2, b2):
    """GPT-2's tanh approximation of GELU."""
    h = x @ w1 + b1
    h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
    return h @ w2 + b2


def ff_nn_linear_habit(x, w1, b1, w2, b2):
    """F.linear expects (out, in) weights, as nn.Linear stores them."""
    return F.linear(torch.relu(F.linear(x, w1, b1)), w2, b2)


# --------------------------------------------------------------------------- ex-06-3 encoder block


class EncoderGood(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, norm_first=True):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def attend(self, h, mask):
        return self.self_attn(h, h, h, mask)[0]

    def forward(self, x, mask=None):
        if self.norm_first:
            x = x + self.attend(self.norm1(x), mask)
            return x + self.ff(self.norm2(x))
        x = self.norm1(x + self.attend(x, mask))
        return self.norm2(x + self.ff(x))


class EncoderGoodSublayer(nn.Module):
    """Another formulation: one residual helper for both sub-layers, and dropout (off in eval mode),
    with dropout before norm_first as in the chapter's block."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=True):
        super().__init__()
        self.pre = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def sublayer(self, x, norm, f):
        return x + self.drop(f(norm(x))) if self.pre else norm(x + self.drop(f(x)))

    def forward(self, x, mask=None):
        x = self.sublayer(x, self.norm1, lambda h: self.self_attn(h, h, h, mask=mask)[0])
        return self.sublayer(x, self.norm2, self.ff)


class EncoderAlwaysPost(EncoderGood):
    def forward(self, x, mask=None):
        x = self.norm1(x + self.attend(x, mask))
        return self.norm2(x + self.ff(x))


class EncoderAlwaysPre(EncoderGood):
    def forward(self, x, mask=None):
        x = x + self.attend(self.norm1(x), mask)
        return x + self.ff(self.norm2(x))


class EncoderInverted(EncoderGood):
    """norm_first read the wrong way round: post-LN for True, pre-LN for False."""

    def forward(self, x, mask=None):
        if not self.norm_first:
            x = x + self.attend(self.norm1(x), mask)
            return x + self.ff(self.norm2(x))
        x = self.norm1(x + self.attend(x, mask))
        return self.norm2(x + self.ff(x))


class EncoderNoResidual(EncoderGood):
    def forward(self, x, mask=None):
        if self.norm_first:
            x = self.attend(self.norm1(x), mask)
            return self.ff(self.norm2(x))
        x = self.norm1(self.attend(x, mask))
        return self.norm2(self.ff(x))


class EncoderNormalisedResidual(EncoderGood):
    def forward(self, x, mask=None):
        if self.norm_first:
            x = self.norm1(x)
            x = x + self.attend(x, mask)
            x = self.norm2(x)
            return x + self.ff(x)
        return super().forward(x, mask)


class EncoderParallel(EncoderGood):
    def forward(self, x, mask=None):
        if self.norm_first:
            return x + self.attend(self.norm1(x), mask) + self.ff(self.norm2(x))
        return super().forward(x, mask)


class EncoderNormOnOutput(EncoderGood):
    def forward(self, x, mask=None):
        if self.norm_first:
            return super().forward(x, mask)
        x = x + self.norm1(self.attend(x, mask))
        return x + self.norm2(self.ff(x))


class EncoderOneNorm(EncoderGood):
    def forward(self, x, mask=None):
        if self.norm_first:
            x = x + self.attend(self.norm1(x), mask)
            return x + self.ff(self.norm1(x))
        x = self.norm1(x + self.attend(x, mask))
        return self.norm1(x + self.ff(x))


class EncoderMaskIgnored(EncoderGood):
    def forward(self, x, mask=None):
        return super().forward(x, None)


class EncoderMaskInverted(EncoderGood):
    def forward(self, x, mask=None):
        return super().forward(x, None if mask is None else ~mask)


# --------------------------------------------------------------------------- ex-06-4 decoder block


class DecoderGood(nn.Module):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))

    def self_attend(self, h, self_mask):
        return self.self_attn(h, h, h, self_mask)[0]

    def cross(self, h, memory, memory_mask):
        return self.cross_attn(h, memory, memory, memory_mask)[0]

    def forward(self, y, memory, self_mask=None, memory_mask=None):
        y = y + self.self_attend(self.norm1(y), self_mask)
        y = y + self.cross(self.norm2(y), memory, memory_mask)
        return y + self.ff(self.norm3(y))


class DecoderGoodFloat32(DecoderGood):
    """Computes in float32 whatever it is given, with its masks in other names."""

    def forward(self, y, memory, self_mask=None, memory_mask=None):
        dtype = y.dtype
        self.float()
        out = super().forward(y.float(), memory.float(), self_mask=self_mask, memory_mask=memory_mask)
        return out.to(dtype)


class DecoderGoodBook(nn.Module):
    """Built like the chapter's block: dropout and norm_first arguments, private helpers."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=True):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(0.2)

    def forward(self, y, memory, self_mask=None, memory_mask=None):
        h = self.norm1(y)
        y = y + self.dropout(self.self_attn(h, h, h, mask=self_mask)[0])
        h = self.norm2(y)
        y = y + self.dropout(self.cross_attn(h, memory, memory, mask=memory_mask)[0])
        return y + self.dropout(self.ff(self.norm3(y)))


class DecoderSelfMaskIgnored(DecoderGood):
    def self_attend(self, h, self_mask):
        return self.self_attn(h, h, h)[0]


class DecoderOwnCausal(DecoderGood):
    def self_attend(self, h, self_mask):
        return self.self_attn(h, h, h, causal_mask(h.size(1)))[0]


class DecoderNanoGPTStyle(DecoderGood):
    """nanoGPT's habit: a registered tril buffer, always applied."""

    def __init__(self, d_model, n_heads, d_ff):
        super().__init__(d_model, n_heads, d_ff)
        self.register_buffer("bias", torch.tril(torch.ones(64, 64)), persistent=False)

    def self_attend(self, h, self_mask):
        n = h.size(1)
        return self.self_attn(h, h, h, self.bias[:n, :n] == 1)[0]


class DecoderMasksInverted(DecoderGood):
    def forward(self, y, memory, self_mask=None, memory_mask=None):
        flip = (lambda m: None if m is None else ~m)
        return super().forward(y, memory, flip(self_mask), flip(memory_mask))


class DecoderMasksSwapped(DecoderGood):
    def forward(self, y, memory, self_mask=None, memory_mask=None):
        return super().forward(y, memory, memory_mask, self_mask)


class DecoderCrossReversed(DecoderGood):
    def cross(self, h, memory, memory_mask):
        return self.cross_attn(memory, h, h, memory_mask)[0]


class DecoderMemoryUnused(DecoderGood):
    def forward(self, y, memory, self_mask=None, memory_mask=None):
        y = y + self.self_attend(self.norm1(y), self_mask)
        h = self.norm2(y)
        y = y + self.cross_attn(h, h, h, self_mask)[0]
        return y + self.ff(self.norm3(y))


class DecoderMemoryMaskIgnored(DecoderGood):
    def cross(self, h, memory, memory_mask):
        return self.cross_attn(h, memory, memory)[0]


class DecoderMemoryNormalised(DecoderGood):
    def cross(self, h, memory, memory_mask):
        m = self.norm2(memory)
        return self.cross_attn(h, m, m, memory_mask)[0]


class DecoderPostLN(DecoderGood):
    def forward(self, y, memory, self_mask=None, memory_mask=None):
        y = self.norm1(y + self.self_attend(y, self_mask))
        y = self.norm2(y + self.cross(y, memory, memory_mask))
        return self.norm3(y + self.ff(y))


class DecoderNoResidual(DecoderGood):
    def forward(self, y, memory, self_mask=None, memory_mask=None):
        y = self.self_attend(self.norm1(y), self_mask)
        y = self.cross(self.norm2(y), memory, memory_mask)
        return self.ff(self.norm3(y))


# --------------------------------------------------------------------------- ex-06-5 parameter count


def count_formula(d_model, n_heads, d_ff, kind):
    attention = 4 * d_model * (d_model + 1)
    ff = d_model * d_ff + d_ff + d_ff * d_model + d_model
    if kind == "encoder":
        return attention + ff + 4 * d_model
    return 2 * attention + ff + 6 * d_model


def count_modules(d_model, n_heads, d_ff, kind):
    from attnbook.transformer import DecoderBlock, EncoderBlock

    block = (EncoderBlock if kind == "encoder" else DecoderBlock)(d_model, n_heads, d_ff)
    return sum(p.numel() for p in block.parameters())


def count_layers(d_model, n_heads, d_ff, kind):
    def linear(n_in, n_out):
        return n_in * n_out + n_out

    attention = 4 * linear(d_model, d_model)
    layers = {"encoder": [attention], "decoder": [attention, attention]}[kind]
    layers += [linear(d_model, d_ff), linear(d_ff, d_model)]
    layers += [2 * d_model] * (len(layers) - 1)
    return sum(layers)


def count_per_head(d_model, n_heads, d_ff, kind):
    attention = n_heads * 4 * d_model * (d_model + 1)
    ff = 2 * d_model * d_ff + d_ff + d_model
    return attention + ff + 4 * d_model if kind == "encoder" else 2 * attention + ff + 6 * d_model


def count_no_biases(d_model, n_heads, d_ff, kind):
    attention = 4 * d_model * d_model
    ff = 2 * d_model * d_ff
    return attention + ff + 4 * d_model if kind == "encoder" else 2 * attention + ff + 6 * d_model


def count_no_norms(d_model, n_heads, d_ff, kind):
    attention = 4 * d_model * (d_model + 1)
    ff = 2 * d_model * d_ff + d_ff + d_model
    return attention + ff if kind == "encoder" else 2 * attention + ff


def count_gamma_only(d_model, n_heads, d_ff, kind):
    attention = 4 * d_model * (d_model + 1)
    ff = 2 * d_model * d_ff + d_ff + d_model
    return attention + ff + 2 * d_model if kind == "encoder" else 2 * attention + ff + 3 * d_model


def count_one_attention(d_model, n_heads, d_ff, kind):
    return count_formula(d_model, n_heads, d_ff, "encoder")


def count_one_linear(d_model, n_heads, d_ff, kind):
    attention = 4 * d_model * (d_model + 1)
    ff = d_model * d_ff + d_ff
    return attention + ff + 4 * d_model if kind == "encoder" else 2 * attention + ff + 6 * d_model


# --------------------------------------------------------------------------- ex-06-6 tied output


class TiedKeepEmbedding(nn.Module):
    """The solution's way: keep the embedding, read its table in forward."""

    def __init__(self, embedding):
        super().__init__()
        self.embedding = embedding
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))

    def forward(self, y):
        return y @ self.embedding.weight.T + self.bias


class TiedLinear(nn.Module):
    """An nn.Linear whose weight is the embedding's table (its own bias stays)."""

    def __init__(self, embedding):
        super().__init__()
        vocab, d_model = embedding.weight.shape
        self.linear = nn.Linear(d_model, vocab)
        self.linear.weight = embedding.weight

    def forward(self, y):
        return self.linear(y)


class TiedFunctional(nn.Module):
    def __init__(self, embedding):
        super().__init__()
        self.embedding = embedding
        self.bias = nn.Parameter(torch.zeros(embedding.weight.shape[0], dtype=embedding.weight.dtype))

    def forward(self, y):
        return F.linear(y, self.embedding.weight, self.bias)


class TiedNanoGPTDirection(nn.Module):
    """nanoGPT ties the other way round: the embedding is given the output layer's tensor."""

    def __init__(self, embedding):
        super().__init__()
        vocab, d_model = embedding.weight.shape
        self.lm_head = nn.Linear(d_model, vocab)
        embedding.weight = self.lm_head.weight

    def forward(self, y):
        return self.lm_head(y)


class TiedCloneInForward(TiedKeepEmbedding):
    """clone() inside forward is still tied: it copies the current values, and the gradient flows."""

    def forward(self, y):
        return torch.einsum("...d,vd->...v", y, self.embedding.weight.clone()) + self.bias


class _WrongTied(TiedKeepEmbedding):
    mistake = None

    def __init__(self, embedding):
        super().__init__(embedding)
        m = self.mistake
        if m == "copied-not-tied":
            self.weight = nn.Parameter(embedding.weight.detach().clone())
        elif m == "new-parameter":
            self.weight = nn.Parameter(embedding.weight)
        elif m == "unused-weight":
            self.out = nn.Linear(*embedding.weight.shape[::-1], bias=False)
        elif m == "no-bias":
            del self.bias

    def table(self):
        m = self.mistake
        if m in ("copied-not-tied", "new-parameter"):
            return self.weight
        if m == "detached":
            return self.embedding.weight.detach()
        return self.embedding.weight

    def forward(self, y):
        m = self.mistake
        w = self.table()
        logits = y @ w if m == "not-transposed" else y @ w.T
        if m != "no-bias":
            logits = logits + self.bias
        if m == "scaled-by-sqrt-d":
            logits = logits * math.sqrt(w.shape[1])
        if m == "probabilities":
            logits = logits.softmax(dim=-1)
        return logits


def wrong_tied(mistake):
    return type(f"Tied_{mistake}", (_WrongTied,), {"mistake": mistake})


class TiedDataOnce(nn.Module):
    """Keeps embedding.weight.data: the same numbers, no gradient."""

    def __init__(self, embedding):
        super().__init__()
        self.table = embedding.weight.data
        self.bias = nn.Parameter(torch.zeros(self.table.shape[0]))

    def forward(self, y):
        return y @ self.table.T + self.bias


# --------------------------------------------------------------------------- the tests

CORRECT = {
    "ex-06-1": [ln_mean_var, ln_var_float32, ln_std_correction, ln_var_mean],
    "ex-06-2": [ff_plain, ff_functional, ff_einsum],
    "ex-06-3": [EncoderGood, EncoderGoodSublayer],
    "ex-06-4": [DecoderGood, DecoderGoodFloat32, DecoderGoodBook],
    "ex-06-5": [count_formula, count_modules, count_layers],
    "ex-06-6": [TiedKeepEmbedding, TiedLinear, TiedFunctional, TiedNanoGPTDirection, TiedCloneInForward],
}

WRONG = {
    "ex-06-1": {
        "unbiased-variance": ln_unbiased,
        "std-plus-eps": ln_annotated_transformer,
        "eps-outside-sqrt": ln_eps_outside,
        "eps-ignored": ln_no_eps,
        "eps-hard-coded": ln_eps_fixed,
        "gamma-beta-swapped": ln_swapped,
        "no-scale-shift": ln_plain,
        "not-centred": ln_rms,
        "wrong-axis": [ln_batch_axis, ln_positions_axis],
    },
    "ex-06-2": {
        "relu-after-second": ff_relu_after_second,
        "relu-twice": ff_relu_twice,
        "no-relu": ff_linear,
        "bias-after-relu": ff_bias_after,
        "gelu": [ff_gelu, ff_gelu_tanh],
        "weights-transposed": ff_nn_linear_habit,
    },
    "ex-06-3": {
        "post-ln-for-pre-ln": EncoderAlwaysPost,
        "norm-first-inverted": EncoderInverted,
        "pre-ln-for-post-ln": EncoderAlwaysPre,
        "no-residual": EncoderNoResidual,
        "normalised-residual": EncoderNormalisedResidual,
        "parallel-sublayers": EncoderParallel,
        "norm-on-sublayer-output": EncoderNormOnOutput,
        "one-norm-reused": EncoderOneNorm,
        "mask-ignored": EncoderMaskIgnored,
        "mask-inverted": EncoderMaskInverted,
    },
    "ex-06-4": {
        "self-mask-ignored": DecoderSelfMaskIgnored,
        "own-causal-mask": [DecoderOwnCausal, DecoderNanoGPTStyle],
        "masks-inverted": DecoderMasksInverted,
        "masks-swapped": DecoderMasksSwapped,
        "cross-reversed": DecoderCrossReversed,
        "memory-unused": DecoderMemoryUnused,
        "memory-mask-ignored": DecoderMemoryMaskIgnored,
        "memory-normalised": DecoderMemoryNormalised,
        "post-ln": DecoderPostLN,
        "no-residual": DecoderNoResidual,
    },
    "ex-06-5": {
        "per-head": count_per_head,
        "no-biases": count_no_biases,
        "no-norms": count_no_norms,
        "norm-scale-only": count_gamma_only,
        "decoder-one-attention": count_one_attention,
        "ff-one-linear": count_one_linear,
    },
    "ex-06-6": {m.key: wrong_tied(m.key) for m in EXERCISES["ex-06-6"].mistakes},
}
WRONG["ex-06-6"]["detached"] = [wrong_tied("detached"), TiedDataOnce]

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(6, CORRECT, WRONG)


# --------------------------------------------------------------------------- look-alikes
# Wrong answers as a learner writes them that behave like a catalogued mistake on some case and
# differently on others: they must get the plain message (the smallest failing case), not the name.


def ln_unbiased_fixed_eps(x, gamma, beta, eps=1e-5):
    """Two mistakes at once: with the default eps only the d - 1 shows."""
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(dim=-1, keepdim=True) + 1e-5) * gamma + beta


def ln_outside_fixed_eps(x, gamma, beta, eps=1e-5):
    """eps outside the root and always 1e-5: like no eps at all when eps is large."""
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / (x.std(dim=-1, unbiased=False, keepdim=True) + 1e-5) * gamma + beta


def ln_dim_1(x, gamma, beta, eps=1e-5):
    """Normalises over dim=1: the features of a 2-D input, the words of a 3-D one."""
    mean = x.mean(dim=1, keepdim=True)
    var = x.var(dim=1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def ff_linear_no_relu(x, w1, b1, w2, b2):
    """F.linear's (out, in) habit, and the ReLU forgotten."""
    return F.linear(F.linear(x, w1, b1), w2, b2)


def ff_second_transposed(x, w1, b1, w2, b2):
    return torch.relu(x @ w1 + b1) @ w2.T + b2


class EncoderPostOneNorm(EncoderGood):
    """Pre-LN right; the post-LN branch, copied and pasted, uses norm1 twice."""

    def forward(self, x, mask=None):
        if self.norm_first:
            return super().forward(x, mask)
        x = self.norm1(x + self.attend(x, mask))
        return self.norm1(x + self.ff(x))


class EncoderParallelBoth(EncoderGood):
    """Parallel sub-layers in both placements."""

    def forward(self, x, mask=None):
        if self.norm_first:
            return x + self.attend(self.norm1(x), mask) + self.ff(self.norm2(x))
        return self.norm2(self.norm1(x + self.attend(x, mask) + self.ff(x)))


class EncoderPostForgetsMask(EncoderGood):
    def forward(self, x, mask=None):
        return super().forward(x, mask if self.norm_first else None)


class DecoderCausalAnd(DecoderGood):
    """Adds a causal mask of its own to the caller's: the same when the caller's is causal."""

    def self_attend(self, h, self_mask):
        causal = causal_mask(h.size(1))
        return self.self_attn(h, h, h, causal if self_mask is None else self_mask & causal)[0]


class DecoderMemoryMaskPyTorchStyle(DecoderGood):
    """Reads memory_mask as PyTorch's memory_key_padding_mask (True at pads), self_mask the book's way."""

    def cross(self, h, memory, memory_mask):
        return self.cross_attn(h, memory, memory, None if memory_mask is None else ~memory_mask)[0]


def count_decoder_without_norms(d_model, n_heads, d_ff, kind):
    attention = 4 * d_model * (d_model + 1)
    ff = 2 * d_model * d_ff + d_ff + d_model
    return attention + ff + 4 * d_model if kind == "encoder" else 2 * attention + ff


def count_encoder_without_norms(d_model, n_heads, d_ff, kind):
    attention = 4 * d_model * (d_model + 1)
    ff = 2 * d_model * d_ff + d_ff + d_model
    return attention + ff if kind == "encoder" else 2 * attention + ff + 6 * d_model


class TiedTransposeIfNeeded(TiedKeepEmbedding):
    """'Fixes' the shape error by transposing only when the shapes do not line up."""

    def forward(self, y):
        w = self.embedding.weight
        return y @ (w if y.shape[-1] == w.shape[0] else w.T) + self.bias


class TiedScaledByAxis1(TiedKeepEmbedding):
    """Multiplies by sqrt(y.shape[1]), meant as sqrt(d_model): right only for 2-D inputs."""

    def forward(self, y):
        return (y @ self.embedding.weight.T + self.bias) * math.sqrt(y.shape[1])


LOOK_ALIKES = {
    "ex-06-1": [(ln_unbiased_fixed_eps, "unbiased-variance"), (ln_outside_fixed_eps, "eps-ignored")],
    "ex-06-2": [(ff_linear_no_relu, "weights-transposed"), (ff_second_transposed, "weights-transposed")],
    "ex-06-3": [(EncoderPostOneNorm, "one-norm-reused"), (EncoderParallelBoth, "parallel-sublayers"),
                (EncoderPostForgetsMask, "mask-ignored")],
    "ex-06-4": [(DecoderCausalAnd, "own-causal-mask"), (DecoderMemoryMaskPyTorchStyle, "masks-inverted")],
    "ex-06-5": [(count_decoder_without_norms, "no-norms"), (count_encoder_without_norms, "no-norms")],
    "ex-06-6": [(TiedTransposeIfNeeded, "not-transposed"), (TiedScaledByAxis1, "scaled-by-sqrt-d")],
}
LOOK_ALIKE_PARAMS = [(ex_id, i) for ex_id in LOOK_ALIKES for i in range(len(LOOK_ALIKES[ex_id]))]


@pytest.mark.parametrize("ex_id,index", LOOK_ALIKE_PARAMS)
def test_a_look_alike_gets_the_plain_message(ex_id, index):
    answer, key = LOOK_ALIKES[ex_id][index]
    like, unlike = coincidences(ex_id, answer, key)
    assert like, f"the look-alike never behaves like {key!r}: it tests nothing"
    assert unlike, f"the look-alike behaves like {key!r} on every failing case: it is that mistake"
    exc = failure(ex_id, answer)
    assert exc.mistake is None, f"a look-alike was named {exc.mistake!r}: {exc.message}"
    assert exc.message.startswith(("for ", "your function raised")), exc.message
    assert all(len(line) <= 79 for line in exc._render_traceback_())


def test_every_catalogue_has_look_alikes():
    assert set(LOOK_ALIKES) == {ex_id for ex_id, ex in EXERCISES.items() if ex.chapter == 6}


# --------------------------------------------------------------------------- more ways to go wrong


def test_layer_norm_builtin_is_refused():
    exc = failure("ex-06-1", ln_builtin)
    assert exc.mistake == "forbidden-builtin" and "layer_norm" in exc.message


def test_layer_norm_takes_eps_by_keyword_with_its_default():
    def renamed(x, gamma, beta, epsilon=1e-5):
        return ln_mean_var(x, gamma, beta, epsilon)

    def default_1e_6(x, gamma, beta, eps=1e-6):
        return ln_mean_var(x, gamma, beta, eps)

    assert "TypeError" in failure("ex-06-1", renamed).message
    assert "eps left at its default" in failure("ex-06-1", default_1e_6).message


def test_block_with_other_names_gets_a_clear_message():
    class Renamed(EncoderGood):
        def __init__(self, d_model, n_heads, d_ff, norm_first=True):
            super().__init__(d_model, n_heads, d_ff, norm_first)
            self.attention = self.self_attn
            del self.self_attn

    exc = failure("ex-06-3", Renamed)
    assert "by name" in exc.message and "self_attn" in exc.message


def test_the_blocks_are_built_and_called_by_keyword():
    """The chapter's signatures (dropout before norm_first; self_mask before memory_mask) pass; a
    block that takes norm_first in another place passes too."""
    from attnbook.transformer import DecoderBlock, EncoderBlock

    class NormFirstFirst(EncoderGood):
        def __init__(self, d_model, n_heads, d_ff, norm_first=True, dropout=0.0):
            super().__init__(d_model, n_heads, d_ff, norm_first)

    for ex_id, block in [("ex-06-3", EncoderBlock), ("ex-06-3", NormFirstFirst), ("ex-06-4", DecoderBlock)]:
        assert run_check(ex_id, block).startswith("\u2714")


def test_the_references_are_the_book_blocks():
    """The catalogues' models with no mistake switched on equal the book's blocks on every case."""
    from attnbook.checks.ch06 import _decoder_call, _encoder_call
    from attnbook.transformer import DecoderBlock, EncoderBlock

    for ex_id, block, call in [("ex-06-3", EncoderBlock, _encoder_call),
                               ("ex-06-4", DecoderBlock, _decoder_call)]:
        ex = EXERCISES[ex_id]
        for case in ex.make_cases():
            book = call(block, *ex._copy_args(case))
            assert torch.allclose(book, ex.reference(*ex._copy_args(case)), atol=1e-6)


def test_the_nn_layernorm_is_allowed_in_the_blocks():
    # ex-06-1 forbids F.layer_norm; the block exercises must not (nn.LayerNorm calls it)
    assert "\u2714" in run_check("ex-06-3", EncoderGood, seed=0)


def test_a_float_count_is_told_to_count_in_integers():
    exc = failure("ex-06-5", lambda d_model, n_heads, d_ff, kind: float(count_formula(d_model, n_heads, d_ff, kind)))
    assert "asks for an int, got a float" in exc.message


def test_a_count_message_shows_the_numbers():
    exc = failure("ex-06-5", count_decoder_without_norms)
    assert "expected" in exc.message and "got" in exc.message and ".0" not in exc.message


def test_a_tied_layer_with_two_biases_is_told_so():
    class TwoBiases(TiedLinear):
        def __init__(self, embedding):
            super().__init__(embedding)
            self.extra = nn.Parameter(torch.zeros(embedding.weight.shape[0]))

    assert "2 bias vectors" in failure("ex-06-6", TwoBiases).message


def test_a_tied_message_names_the_part_that_differs():
    exc = failure("ex-06-6", TiedScaledByAxis1)
    assert "item 0 of your result (logits)" in exc.message


def test_tying_saves_the_table_in_the_chapters_model():
    """What the exercise's Try-it cell shows: tying the date model's output layer saves
    tgt_vocab * d_model parameters, and the tied model still runs."""
    from attnbook.transformer import Seq2SeqTransformer

    model = Seq2SeqTransformer(40, 14)
    before = sum(p.numel() for p in model.parameters())
    model.out.weight = model.tgt_embed.weight
    assert before - sum(p.numel() for p in model.parameters()) == 14 * 64
    assert model(torch.randint(3, 40, (2, 9)), torch.randint(3, 14, (2, 5))).shape == (2, 5, 14)


@pytest.mark.parametrize("seed", [0, 1])
def test_checks_are_fast(seed):
    for ex_id, answer in [("ex-06-1", ln_mean_var), ("ex-06-2", ff_plain), ("ex-06-3", EncoderGood),
                          ("ex-06-4", DecoderGood), ("ex-06-5", count_formula), ("ex-06-6", TiedKeepEmbedding)]:
        start = time.perf_counter()
        run_check(ex_id, answer, seed)
        assert time.perf_counter() - start < 1.0, ex_id
