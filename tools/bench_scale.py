"""Print chapter 8's measured figures, the ranges its text quotes.

    OMP_NUM_THREADS=1 python tools/bench_scale.py             # about a minute
    OMP_NUM_THREADS=1 python tools/bench_scale.py --runs 3    # ranges of 3

Everything is measured on this machine, now, on one thread, with the sizes
the chapter uses: how attention's time and memory grow with the length
(manual against fused), the KV cache's speed-up, full against local and
linear attention, and the chapter's 150 training steps. With ``--runs N``
the whole set is measured N times and each figure is printed as the range
(smallest to largest) of the N runs: the ranges the chapter quotes come
from this tool on a 2-core machine. Timings on a busy machine are noisy:
read the trends, not the last digit.
"""

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from attnbook.attention import causal_mask, scaled_dot_product_attention
from attnbook.kv_cache import TinyGPT, generate
from attnbook.long_context import linear_attention, local_attention
from attnbook.scaling import (attention_weights_bytes, fit_power_law,
                              median_time, peak_memory_bytes)

TEXT = "the cat that was sitting on the mat jumped when it saw a dog. "


def attention_time(repeats):
    """Manual against fused attention, batch 1, 2 heads of 64."""
    lengths = [128, 256, 512, 1024, 2048]
    manual, fused = [], []
    for n in lengths:
        # (batch, heads, L, d_head) each
        q, k, v = (torch.randn(1, 2, n, 64) for _ in range(3))
        manual.append(median_time(
            lambda: scaled_dot_product_attention(q, k, v), repeats))
        fused.append(median_time(
            lambda: F.scaled_dot_product_attention(q, k, v), repeats))
    ratios = [m / f for m, f in zip(manual, fused)]
    return {
        "time exponent, manual (L >= 512)":
            fit_power_law(lengths[2:], manual[2:])[0],
        "time exponent, fused (L >= 512)":
            fit_power_law(lengths[2:], fused[2:])[0],
        "manual / fused, smallest over L": min(ratios),
        "manual / fused, largest over L": max(ratios),
        "manual / fused at L = 128": ratios[0],
        "manual / fused at L = 2048": ratios[-1],
    }


def attention_memory():
    """Peak memory of one call, batch 1, 2 heads of 64."""
    lengths, manual, fused, weights = [256, 512, 1024, 2048], [], [], []
    for n in lengths:
        q, k, v = (torch.randn(1, 2, n, 64) for _ in range(3))
        weights.append(attention_weights_bytes(1, 2, n, n))
        manual.append(peak_memory_bytes(
            lambda: scaled_dot_product_attention(q, k, v)))
        fused.append(peak_memory_bytes(
            lambda: F.scaled_dot_product_attention(q, k, v)))
    return {
        "memory exponent, manual": fit_power_law(lengths, manual)[0],
        "memory exponent, fused": fit_power_law(lengths, fused)[0],
        "manual peak / weights, smallest":
            min(m / w for m, w in zip(manual, weights)),
        "manual peak / weights, largest":
            max(m / w for m, w in zip(manual, weights)),
        "weights / fused peak at L = 2048": weights[-1] / fused[-1],
    }


def kv_cache(repeats):
    """Greedy decoding with and without the cache (TinyGPT as in the
    chapter, untrained: the time does not depend on the weights)."""
    model = TinyGPT(40, d_model=64, n_heads=4, n_layers=2, d_ff=128,
                    max_len=512).eval()
    prompt = torch.randint(0, 40, (1, 7))
    n_new, cached, plain = [32, 64, 128, 256], [], []
    for n in n_new:
        cached.append(median_time(
            lambda: generate(model, prompt, n, use_cache=True), repeats))
        plain.append(median_time(
            lambda: generate(model, prompt, n, use_cache=False), repeats,
            warmup=0))
    return {
        "decoding exponent, with the cache": fit_power_law(n_new, cached)[0],
        "decoding exponent, without": fit_power_law(n_new, plain)[0],
        "speed-up, 32 tokens": plain[0] / cached[0],
        "speed-up, 256 tokens": plain[-1] / cached[-1],
    }


def long_context(repeats):
    """Causal full, local (window 64) and linear attention, 1 head of 16."""
    lengths = [256, 512, 1024, 2048]
    times = {"full": [], "local": [], "linear": []}
    for n in lengths:
        q, k, v = (torch.randn(1, 1, n, 16) for _ in range(3))
        mask = causal_mask(n)
        times["full"].append(median_time(
            lambda: scaled_dot_product_attention(q, k, v, mask), repeats))
        times["local"].append(median_time(
            lambda: local_attention(q, k, v, 64), repeats))
        times["linear"].append(median_time(
            lambda: linear_attention(q, k, v, causal=True), repeats))
    figures = {f"causal exponent, {name}": fit_power_law(lengths, t)[0]
               for name, t in times.items()}
    for name, t in times.items():
        figures[f"causal {name} at L = 256 (ms)"] = t[0] * 1e3
    for name in ("local", "linear"):
        figures[f"causal full / {name} at L = 2048"] = (times["full"][-1]
                                                       / times[name][-1])
    return figures


def training():
    """The chapter's 150 training steps of TinyGPT on one sentence."""
    torch.manual_seed(0)
    chars = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in TEXT * 40])
    model = TinyGPT(len(chars), d_model=64, n_heads=4, n_layers=2,
                    d_ff=128, max_len=512)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for _ in range(150):
        starts = torch.randint(0, len(data) - 65, (16,))
        batch = torch.stack([data[s:s + 65] for s in starts])  # (16, 65)
        logits = model(batch[:, :-1])                 # (16, 64, vocab)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)),
                               batch[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"training, 150 steps (s)": time.perf_counter() - start}


def measure(repeats):
    torch.manual_seed(0)
    figures = {}
    for part in (attention_time(repeats), attention_memory(),
                 kv_cache(repeats), long_context(repeats), training()):
        figures.update(part)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed calls per point (the median is kept)")
    parser.add_argument("--runs", type=int, default=1,
                        help="how many times to measure everything")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    print(f"torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, 1 thread, "
          f"median of {args.repeats} repeats, {args.runs} run(s)")
    runs = [measure(args.repeats) for _ in range(args.runs)]
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"{name:>38}: {min(values):7.2f} to {max(values):7.2f}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
