"""One answer, one verdict: every answer of the check tests gets the same verdict on 20 runs,
each in a fresh process (other hash seeds, global random generators stirred differently), and
the grader's hidden test (``grade``, in its own process, the answer sent by value) agrees with the
notebook's ``check``."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from notebooks import ROOT

RUNS = 20
GRADER_RUNS = 2  # of the 20, these go through the grader's fresh process


def run(index):
    env = dict(os.environ, PYTHONHASHSEED=str(index * 7919 % 4096), OMP_NUM_THREADS="1")
    command = [sys.executable, str(ROOT / "tests" / "verdicts.py"), "--stir", str(index * 3)]
    if index < GRADER_RUNS:
        command.append("--grader")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_every_answer_gets_the_same_verdict_on_every_run():
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(run, range(RUNS)))
    first = runs[0]
    assert len(first) > 300, "every chapter's answers are in the runs"
    changes = {key: sorted({str(r[key]) for r in runs}) for key in first
               if len({str(r[key]) for r in runs}) > 1}
    assert not changes, f"verdicts that changed between runs: {changes}"
    for key, verdict in first.items():
        ex_id, label = key.split("/")
        if label.startswith("correct-"):
            assert verdict == "pass", f"{key}: {verdict}"
        else:
            assert verdict == label.rsplit("-", 1)[0], f"{key} was told: {verdict}"
