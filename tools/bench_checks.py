"""How long each check takes on a correct answer: the median of several
runs, the slowest first.

    .venv/bin/python tools/bench_checks.py [--runs 5] [--top 10]

A learner waits this long after running a check cell; nbgrader's hidden
test takes about as long again in its own process. One thread, as in
`make test`.
"""

import argparse
import importlib
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=10)
    options = parser.parse_args()
    import torch

    from attnbook.checks import EXERCISES

    torch.set_num_threads(1)
    times = {}
    for chapter in sorted({ex.chapter for ex in EXERCISES.values()}):
        module = importlib.import_module(f"test_checks_ch{chapter:02d}")
        for ex_id, answers in module.CORRECT.items():
            runs = []
            for _ in range(options.runs):
                started = time.perf_counter()
                EXERCISES[ex_id].run(answers[0], quiet=True)
                runs.append(time.perf_counter() - started)
            times[ex_id] = statistics.median(runs)
    slowest = sorted(times.items(), key=lambda item: -item[1])
    print(f"{len(times)} checks, median of {options.runs} runs each, "
          f"1 thread; total {sum(times.values()):.2f} s")
    for ex_id, seconds in slowest[: options.top]:
        print(f"  {ex_id}: {seconds:.3f} s")


if __name__ == "__main__":
    main()
