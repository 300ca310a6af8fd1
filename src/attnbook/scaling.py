"""Chapter 8, attention at scale: count, time and measure what attention costs.

The highlighter pen looks at every word for every word: ``L * L`` strokes.
This module counts those strokes (:func:`attention_weights_bytes`,
:func:`attention_flops`), times them (:func:`median_time`), fits a power law
to the timings (:func:`fit_power_law`) and measures the peak memory that
PyTorch's CPU allocator holds while attention runs
(:func:`peak_memory_bytes`). Shown in ``chapters/08_attention_at_scale.ipynb``.
"""

import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
import time

import torch


def attention_weights_bytes(batch, n_heads, L_q, L_k, dtype=torch.float32):
    """Bytes of the (batch, n_heads, L_q, L_k) weights attention builds."""
    numbers = batch * n_heads * L_q * L_k      # one weight per (query, key)
    # the size of one number: 4 bytes for float32, 8 for float64
    bytes_per_number = torch.empty((), dtype=dtype).element_size()
    return numbers * bytes_per_number


def attention_flops(batch, n_heads, L_q, L_k, d_head):
    """Floating-point operations of Q K^T and weights @ V (a multiply-add
    counts as 2)."""
    # (L_q, d_head) @ (d_head, L_k) in every head
    scores = 2 * batch * n_heads * L_q * L_k * d_head
    # (L_q, L_k) @ (L_k, d_head) in every head
    mixing = 2 * batch * n_heads * L_q * L_k * d_head
    return scores + mixing


def median_time(fn, repeats=5, warmup=1):
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after
    ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fit_power_law(sizes, values):
    """Fit ``values ~ c * sizes ** p`` by least squares on a log-log scale;
    return (p, c)."""
    x = [math.log(s) for s in sizes]
    y = [math.log(v) for v in values]
    x_mean, y_mean = sum(x) / len(x), sum(y) / len(y)
    # the exponent p: the slope of the line
    slope = (sum((a - x_mean) * (b - y_mean) for a, b in zip(x, y))
             / sum((a - x_mean) ** 2 for a in x))
    return slope, math.exp(y_mean - slope * x_mean)


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the C++ profiler's start/stop log lines (they go straight
    to file descriptor 2)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def peak_memory_bytes(fn):
    """Peak bytes that PyTorch's CPU allocator held, above its level at the
    start, while ``fn()`` ran.

    Read from ``torch.profiler`` with ``profile_memory=True``: every
    allocation and every free made by PyTorch is a "[memory]" event of the
    profiler's trace, with its size in bytes (positive or negative). The
    running sum of the sizes, in time order, is the memory in use; its
    largest value is the peak. Memory held by Python objects or by other
    libraries is not counted.
    """
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU],
                                  profile_memory=True) as prof:
        result = fn()
        del result                # its memory is freed inside the window
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "trace.json")
        prof.export_chrome_trace(path)  # the public record of every event
        with open(path, encoding="utf-8") as file:
            trace = json.load(file)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    memory = sorted((e for e in events if e.get("name") == "[memory]"),
                    key=lambda e: e["ts"])          # in time order
    in_use = peak = 0
    for event in memory:                 # + for an allocation, - for a free
        in_use += event["args"]["Bytes"]
        peak = max(peak, in_use)
    return peak
