"""Print chapter 8's measured figures: how attention's cost grows, manual vs fused, the KV-cache speed-up.

    OMP_NUM_THREADS=1 python tools/bench_scale.py            # about a minute on one core
    OMP_NUM_THREADS=1 python tools/bench_scale.py --repeats 7

Everything is measured on this machine, now, on one thread (the same sizes as the chapter, plus
more repeats). Timings on a busy machine are noisy: read the trends, not the last digit.
"""

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from attnbook.attention import scaled_dot_product_attention
from attnbook.kv_cache import TinyGPT, generate
from attnbook.scaling import attention_weights_bytes, fit_power_law, median_time, peak_memory_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per point (the median is kept)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start = time.perf_counter()
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, 1 thread, "
          f"median of {args.repeats} repeats")

    print("\n1. Attention time vs sequence length (batch 1, 2 heads, d_head 64)")
    lengths = [128, 256, 512, 1024, 2048]
    manual, fused = [], []
    print(f"{'L':>6} {'manual ms':>10} {'fused ms':>9} {'manual/fused':>13}")
    for L in lengths:
        q, k, v = (torch.randn(1, 2, L, 64) for _ in range(3))
        manual.append(median_time(lambda: scaled_dot_product_attention(q, k, v), repeats=args.repeats))
        fused.append(median_time(lambda: F.scaled_dot_product_attention(q, k, v), repeats=args.repeats))
        print(f"{L:>6} {manual[-1] * 1e3:>10.2f} {fused[-1] * 1e3:>9.2f} {manual[-1] / fused[-1]:>13.2f}")
    p_manual, _ = fit_power_law(lengths[2:], manual[2:])
    p_fused, _ = fit_power_law(lengths[2:], fused[2:])
    ratios = [m / f for m, f in zip(manual, fused)]
    print(f"fitted exponent (L >= 512): manual L^{p_manual:.2f}, fused L^{p_fused:.2f}")
    print(f"manual / fused ratio: {min(ratios):.2f} to {max(ratios):.2f} (median per length, same run)")

    print("\n2. Peak memory of one call (torch.profiler allocation events), batch 1, 2 heads")
    print(f"{'L':>6} {'weights MiB':>12} {'manual MiB':>11} {'fused MiB':>10}")
    mem_lengths, manual_peak, fused_peak = [256, 512, 1024, 2048], [], []
    for L in mem_lengths:
        q, k, v = (torch.randn(1, 2, L, 64) for _ in range(3))
        manual_peak.append(peak_memory_bytes(lambda: scaled_dot_product_attention(q, k, v)))
        fused_peak.append(peak_memory_bytes(lambda: F.scaled_dot_product_attention(q, k, v)))
        print(f"{L:>6} {attention_weights_bytes(1, 2, L, L) / 2**20:>12.2f} {manual_peak[-1] / 2**20:>11.2f} "
              f"{fused_peak[-1] / 2**20:>10.2f}")
    print(f"fitted exponent of the peak: manual L^{fit_power_law(mem_lengths, manual_peak)[0]:.2f}, "
          f"fused L^{fit_power_law(mem_lengths, fused_peak)[0]:.2f}")

    print("\n3. Greedy decoding with and without the KV cache (TinyGPT d_model 64, 2 layers, untrained)")
    model = TinyGPT(40, d_model=64, n_heads=4, n_layers=2, d_ff=128, max_len=512).eval()
    prompt = torch.randint(0, 40, (1, 7))
    print(f"{'new tokens':>10} {'cache s':>8} {'no cache s':>11} {'speed-up':>9} {'same tokens':>12}")
    for n in [32, 64, 128, 256]:
        same = torch.equal(generate(model, prompt, n)[0], generate(model, prompt, n, use_cache=False)[0])
        with_cache = median_time(lambda: generate(model, prompt, n, use_cache=True), repeats=args.repeats)
        without = median_time(lambda: generate(model, prompt, n, use_cache=False), repeats=args.repeats, warmup=0)
        print(f"{n:>10} {with_cache:>8.3f} {without:>11.3f} {without / with_cache:>8.1f}x {str(same):>12}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
