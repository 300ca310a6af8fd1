"""Measure what learners and instructors wait for, on this machine.

    python tools/benchmark.py notebooks [chapters/09 ...] [--runs 3]
                                                   # seconds to execute each notebook (kernel start
                                                   # included), the median of the runs
    python tools/benchmark.py grading [--students 100] [--chapter 1] [--runs 3] [--no-sandbox]
                                                   # seconds for nbgrader to autograde a class
                                                   # (median of the runs; each kernel sandboxed
                                                   # unless --no-sandbox)
    python tools/benchmark.py sandbox-start [--repeats 20]
                                                   # what the sandbox adds to each kernel's start

The chapters' own benchmarks:

    python -m attnbook.dates --threads 1            # chapter 6: date model, training time and accuracy
    OMP_NUM_THREADS=2 python tools/bench_translation.py   # chapter 7: training time, exact match, BLEU, beam
    python tools/bench_scale.py                     # chapter 8: attention cost, manual vs fused, KV cache

Figures are printed; nothing is asserted (the tests hold the time budgets).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from classroom import Submission, nbgrader_cmd, solution_answers, write_submissions  # noqa: E402


def time_notebooks(only: list[str], runs: int = 1) -> None:
    """Seconds to execute each notebook, kernel start included: the median
    of ``runs`` runs, one after the other (nothing else running)."""
    paths = sorted(p for kind in ("chapters", "solutions", "exercises") for p in (ROOT / kind).glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(o in str(p.relative_to(ROOT)) for o in only)]
    print(f"{'median':>8}  notebook   (runs: seconds; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"{os.cpu_count()} cores)")
    for path in paths:
        times = []
        for _ in range(runs):
            nb = nbformat.read(path, as_version=4)
            started = time.perf_counter()
            nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=900,
                                    resources={"metadata": {"path": str(path.parent)}}).execute()
            times.append(time.perf_counter() - started)
        print(f"{statistics.median(times):8.1f}  {path.relative_to(ROOT)}   (runs: "
              f"{', '.join(f'{t:.1f}' for t in times)})", flush=True)


def grading(students: int, chapter: int, runs: int = 1, sandboxed: bool = True) -> None:
    times = [grade_once(students, chapter, sandboxed) for _ in range(runs)]
    median = statistics.median(times)
    kind = "in the sandbox" if sandboxed else "without the sandbox"
    print(f"median of {runs} runs {kind}: {median:.1f} s, {median / students:.3f} s per submission "
          f"(runs: {', '.join(f'{t:.1f}' for t in times)}; OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')})")


def grade_once(students: int, chapter: int, sandboxed: bool) -> float:
    solution = next((ROOT / "solutions").glob(f"{chapter:02d}_*.ipynb"))
    answers = solution_answers(solution)
    ids = list(answers)
    # a realistic class: most right, some partly wrong (a stub left), some blank
    subs = []
    for i in range(students):
        kind = i % 4
        if kind in (0, 1):
            subs.append(Submission(f"s{i:03d}", answers=dict(answers)))
        elif kind == 2:
            subs.append(Submission(f"s{i:03d}", answers={**answers, ids[-1]: None}))
        else:
            subs.append(Submission(f"s{i:03d}"))
    course = Path(tempfile.mkdtemp(prefix="attnbook-bench-"))
    try:
        subprocess.run([sys.executable, "-m", "attnbook.grading.course", "init", str(course),
                        "--chapters", str(chapter)], check=True, capture_output=True)
        assignment = f"ch{chapter:02d}"
        result = nbgrader_cmd(course, "generate_assignment", assignment, "--create")
        assert result.returncode == 0, result.stderr[-2000:]
        write_submissions(course, assignment, solution.name, subs)
        # the same course, its kernels started the plain way (the kernel spec nbgrader uses by default)
        kernel = [] if sandboxed else ["--Execute.kernel_name=python3"]
        started = time.perf_counter()
        result = nbgrader_cmd(course, "autograde", assignment, "--create", *kernel, timeout=7200)
        seconds = time.perf_counter() - started
        graded = len(list((course / "autograded").glob(f"*/{assignment}/*.ipynb")))
        sandboxes = sum(1 for line in (course / "sandbox-log.jsonl").read_text().splitlines()
                        if '"event": "start"' in line) if (course / "sandbox-log.jsonl").exists() else 0
        print(f"nbgrader autograde {assignment}: {students} submissions, {graded} graded, {sandboxes} sandboxed, "
              f"{seconds:.1f} s in all, {seconds / students:.2f} s per submission (exit {result.returncode})",
              flush=True)
        return seconds
    finally:
        shutil.rmtree(course, ignore_errors=True)


def sandbox_start(repeats: int) -> None:
    """Seconds to start a Python through the sandbox's kernel command, against starting it plainly."""
    course = Path(tempfile.mkdtemp(prefix="attnbook-bench-"))
    folder = course / "autograded" / "s000" / "ch01"
    folder.mkdir(parents=True)
    python = [sys.executable, "-c", "import numpy"]
    sandboxed = [sys.executable, "-m", "attnbook.grading.sandbox", "kernel", "--course", str(course), "--", *python]
    try:
        times = {"plain": [], "sandboxed": []}
        for _ in range(repeats):
            for kind, command in (("plain", python), ("sandboxed", sandboxed)):
                started = time.perf_counter()
                subprocess.run(command, cwd=folder, check=True)
                times[kind].append(time.perf_counter() - started)
        plain, boxed = (statistics.median(times[k]) for k in ("plain", "sandboxed"))
        print(f"python -c 'import numpy', median of {repeats}: {plain:.3f} s plainly, {boxed:.3f} s through the "
              f"sandbox's kernel command: {boxed - plain:.3f} s more per kernel")
    finally:
        shutil.rmtree(course, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("notebooks")
    p.add_argument("only", nargs="*", help="parts of the paths to time (default: every notebook)")
    p.add_argument("--runs", type=int, default=1)
    p = sub.add_parser("grading")
    p.add_argument("--students", type=int, default=100)
    p.add_argument("--chapter", type=int, default=1)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--no-sandbox", action="store_true", help="start each kernel without the sandbox")
    p = sub.add_parser("sandbox-start")
    p.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    if args.what == "notebooks":
        time_notebooks(args.only, args.runs)
    elif args.what == "sandbox-start":
        sandbox_start(args.repeats)
    else:
        grading(args.students, args.chapter, args.runs, not args.no_sandbox)
    return 0


if __name__ == "__main__":
    sys.exit(main())
