"""Every check answers in under a second on a correct answer (CPU time, so a busy machine does not count)."""

import importlib
import time

import pytest

from attnbook.checks import EXERCISES
from checkkit import run_check

LIMIT_CPU_SECONDS = 1.0


def correct_answer(ex_id):
    module = importlib.import_module(f"test_checks_ch{EXERCISES[ex_id].chapter:02d}")
    return module.CORRECT[ex_id][0]


@pytest.mark.parametrize("ex_id", sorted(EXERCISES))
def test_check_takes_under_a_second(ex_id):
    answer = correct_answer(ex_id)
    run_check(ex_id, answer, seed=0)                  # warm up: first calls import and compile
    start = time.process_time()
    printed = run_check(ex_id, answer, seed=1)
    used = time.process_time() - start
    assert printed.startswith("\u2714")
    assert used < LIMIT_CPU_SECONDS, f"{ex_id} took {used:.2f} s of CPU on a correct answer"
