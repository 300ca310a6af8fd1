"""Chapter 6 checks: correct answers pass, each catalogued mistake is named, stubs are not attempted."""

import math

import torch
from torch import nn

from attnbook.attention import causal_mask
from attnbook.multihead import MultiHeadAttention
from attnbook.transformer import FeedForward
from checkkit import failure, make_tests

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


def ln_unbiased(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(dim=-1, keepdim=True) + eps) * gamma + beta


def ln_eps_outside(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / (x.std(dim=-1, unbiased=False, keepdim=True) + eps) * gamma + beta


def ln_no_eps(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / x.var(dim=-1, unbiased=False, keepdim=True).sqrt() * gamma + beta


def ln_swapped(x, gamma, beta, eps=1e-5):
    return ln_mean_var(x, beta, gamma, eps)


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
    """Another formulation: one residual helper for both sub-layers."""

    def __init__(self, d_model, n_heads, d_ff, norm_first=True):
        super().__init__()
        self.pre = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff, dropout=0.1)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def sublayer(self, x, norm, f):
        return x + f(norm(x)) if self.pre else norm(x + f(x))

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

    def causal(self, y):
        return causal_mask(y.size(1))

    def self_attend(self, h, y):
        return self.self_attn(h, h, h, self.causal(y))[0]

    def cross(self, h, memory, memory_mask):
        return self.cross_attn(h, memory, memory, memory_mask)[0]

    def forward(self, y, memory, memory_mask=None):
        y = y + self.self_attend(self.norm1(y), y)
        y = y + self.cross(self.norm2(y), memory, memory_mask)
        return y + self.ff(self.norm3(y))


class DecoderGoodTriu(DecoderGood):
    """The causal mask built another way (no attnbook import), in float32."""

    def causal(self, y):
        n = y.size(1)
        return ~torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)

    def forward(self, y, memory, memory_mask=None):
        dtype = y.dtype
        self.float()
        out = super().forward(y.float(), memory.float(), memory_mask)
        return out.to(dtype)


class DecoderNoCausal(DecoderGood):
    def causal(self, y):
        return None


class DecoderFlipped(DecoderGood):
    def causal(self, y):
        return torch.ones(y.size(1), y.size(1), dtype=torch.bool).triu()


class DecoderCrossReversed(DecoderGood):
    def cross(self, h, memory, memory_mask):
        return self.cross_attn(memory, h, h, memory_mask)[0]


class DecoderMemoryUnused(DecoderGood):
    def cross(self, h, memory, memory_mask):
        return self.cross_attn(h, h, h, causal_mask(h.size(1)))[0]


class DecoderMemoryMaskIgnored(DecoderGood):
    def cross(self, h, memory, memory_mask):
        return self.cross_attn(h, memory, memory)[0]


class DecoderMemoryNormalised(DecoderGood):
    def cross(self, h, memory, memory_mask):
        m = self.norm2(memory)
        return self.cross_attn(h, m, m, memory_mask)[0]


class DecoderPostLN(DecoderGood):
    def forward(self, y, memory, memory_mask=None):
        y = self.norm1(y + self.self_attend(y, y))
        y = self.norm2(y + self.cross(y, memory, memory_mask))
        return self.norm3(y + self.ff(y))


class DecoderNoResidual(DecoderGood):
    def forward(self, y, memory, memory_mask=None):
        y = self.self_attend(self.norm1(y), y)
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


def count_one_attention(d_model, n_heads, d_ff, kind):
    return count_formula(d_model, n_heads, d_ff, "encoder")


def count_one_linear(d_model, n_heads, d_ff, kind):
    attention = 4 * d_model * (d_model + 1)
    ff = d_model * d_ff + d_ff
    return attention + ff + 4 * d_model if kind == "encoder" else 2 * attention + ff + 6 * d_model


# --------------------------------------------------------------------------- the tests

CORRECT = {
    "ex-06-1": [ln_mean_var, ln_var_float32, ln_std_correction],
    "ex-06-2": [ff_plain, ff_functional, ff_einsum],
    "ex-06-3": [EncoderGood, EncoderGoodSublayer],
    "ex-06-4": [DecoderGood, DecoderGoodTriu],
    "ex-06-5": [count_formula, count_modules],
}

WRONG = {
    "ex-06-1": {
        "unbiased-variance": ln_unbiased,
        "eps-outside-sqrt": ln_eps_outside,
        "eps-ignored": ln_no_eps,
        "gamma-beta-swapped": ln_swapped,
        "not-centred": ln_rms,
        "wrong-axis": [ln_batch_axis, ln_positions_axis],
    },
    "ex-06-2": {
        "relu-after-second": ff_relu_after_second,
        "relu-twice": ff_relu_twice,
        "no-relu": ff_linear,
        "bias-after-relu": ff_bias_after,
    },
    "ex-06-3": {
        "post-ln-for-pre-ln": EncoderAlwaysPost,
        "norm-first-inverted": EncoderInverted,
        "pre-ln-for-post-ln": EncoderAlwaysPre,
        "no-residual": EncoderNoResidual,
        "normalised-residual": EncoderNormalisedResidual,
        "parallel-sublayers": EncoderParallel,
        "mask-ignored": EncoderMaskIgnored,
        "mask-inverted": EncoderMaskInverted,
    },
    "ex-06-4": {
        "no-causal-mask": DecoderNoCausal,
        "causal-mask-flipped": DecoderFlipped,
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
        "decoder-one-attention": count_one_attention,
        "ff-one-linear": count_one_linear,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(6, CORRECT, WRONG)


def test_layer_norm_builtin_is_refused():
    exc = failure("ex-06-1", ln_builtin)
    assert exc.mistake == "forbidden-builtin" and "layer_norm" in exc.message


def test_block_with_other_names_gets_a_clear_message():
    class Renamed(EncoderGood):
        def __init__(self, d_model, n_heads, d_ff, norm_first=True):
            super().__init__(d_model, n_heads, d_ff, norm_first)
            self.attention = self.self_attn
            del self.self_attn

    exc = failure("ex-06-3", Renamed)
    assert "by name" in exc.message and "self_attn" in exc.message


def test_the_nn_layernorm_is_allowed_in_the_blocks():
    # ex-06-1 forbids F.layer_norm; the block exercises must not (nn.LayerNorm calls it)
    from checkkit import run_check

    assert "\u2714" in run_check("ex-06-3", EncoderGood, seed=0)
    assert math.isfinite(1.0)
