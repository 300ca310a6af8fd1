"""attnbook.scaling: byte and FLOP counts, timing, power-law fits, peak
memory."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnbook.attention import scaled_dot_product_attention
from attnbook.scaling import (attention_flops, attention_weights_bytes,
                              fit_power_law, median_time, peak_memory_bytes)


def test_bytes_match_a_real_tensor():
    for dtype in (torch.float32, torch.float64, torch.float16,
                  torch.bfloat16):
        weights = torch.empty(2, 3, 5, 7, dtype=dtype)
        assert (attention_weights_bytes(2, 3, 5, 7, dtype)
                == weights.numel() * weights.element_size())
    # 4 MiB in float32
    assert attention_weights_bytes(1, 1, 1024, 1024) == 4 * 2 ** 20


def test_flops_count_two_matrix_products():
    assert attention_flops(1, 1, 1, 1, 1) == 4
    assert attention_flops(2, 4, 16, 32, 8) == 2 * 2 * 2 * 4 * 16 * 32 * 8
    # quadratic in L
    assert (attention_flops(1, 1, 2 * 64, 2 * 64, 8)
            == 4 * attention_flops(1, 1, 64, 64, 8))


def test_fit_power_law_recovers_exponent_and_coefficient():
    sizes = [10, 20, 40, 80, 160]
    p, c = fit_power_law(sizes, [3.0 * n ** 2 for n in sizes])
    assert math.isclose(p, 2.0, abs_tol=1e-9)
    assert math.isclose(c, 3.0, rel_tol=1e-9)
    p, c = fit_power_law(sizes, [0.5 * n ** 1.3 for n in sizes])
    assert math.isclose(p, 1.3, abs_tol=1e-9)
    assert math.isclose(c, 0.5, rel_tol=1e-9)


def test_median_time_calls_warmup_plus_repeats_and_returns_a_median():
    calls = []
    seconds = median_time(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and 0 <= seconds < 0.1


def test_peak_memory_sees_one_big_tensor():
    n = 1_000_000
    peak = peak_memory_bytes(lambda: torch.ones(n))
    assert n * 4 <= peak < n * 4 + 65536


def test_peak_memory_sees_a_temporary_freed_inside_the_call():
    def temporary():
        big = torch.ones(500_000)           # 2 MB, freed before returning
        return big.sum()

    assert peak_memory_bytes(temporary) >= 500_000 * 4


def test_peak_memory_of_manual_attention_holds_the_weight_matrix():
    torch.manual_seed(0)
    q = torch.randn(1, 2, 512, 16)              # (batch, heads, L, d_head)
    weights = attention_weights_bytes(1, 2, 512, 512)
    manual = peak_memory_bytes(lambda: scaled_dot_product_attention(q, q, q))
    fused = peak_memory_bytes(lambda: F.scaled_dot_product_attention(q, q, q))
    assert manual >= weights     # at least the (L, L) weights held at once
    assert fused < weights / 2   # the fused kernel never holds them all


def test_fit_needs_two_sizes():
    with pytest.raises(ZeroDivisionError):
        fit_power_law([8, 8], [1.0, 2.0])
