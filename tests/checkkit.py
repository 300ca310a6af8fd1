"""Shared helpers for the tests of the exercise checks.

Each ``tests/test_checks_chNN.py`` defines

- ``CORRECT``: exercise id -> several different correct answers (float32/float64, other formulations);
- ``WRONG``: exercise id -> {mistake key: a learner-style wrong answer showing that mistake, or a list
  of several};

and calls :func:`make_tests`, which turns them into tests: every correct answer passes (on several
random seeds), every wrong answer fails with *its* mistake named, every mistake in the catalogue
has a wrong answer here, and a stub is "not attempted yet".
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest

from attnbook.checks import EXERCISES, CheckFailure, NotAttempted

# None is the exercise's own seed (what a learner and the grader see); the
# others draw other cases, to show the check does not depend on one draw.
SEEDS = [None, 1, 2, 3, 4]


def run_check(exercise_id, answer, seed=None):
    """Run the check quietly; return what it printed."""
    out = io.StringIO()
    with redirect_stdout(out):
        EXERCISES[exercise_id].run(answer, seed=seed)
    return out.getvalue()


def failure(exercise_id, answer, seed=None) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        run_check(exercise_id, answer, seed)
    return info.value


def make_tests(chapter: int, correct: dict, wrong: dict, stub_args: int = 1):
    """Return the test functions for one chapter's checks (assign them to module globals)."""
    ids = [ex_id for ex_id, ex in EXERCISES.items() if ex.chapter == chapter]

    def test_every_exercise_has_tests():
        assert ids, f"chapter {chapter} has no exercises"
        assert set(correct) == set(ids), "every exercise needs correct answers"
        assert set(wrong) == set(ids), "every exercise needs wrong answers"
        for ex_id in ids:
            assert len(correct[ex_id]) >= 2, f"{ex_id}: at least two different correct answers"
            catalogue = {m.key for m in EXERCISES[ex_id].mistakes}
            assert set(wrong[ex_id]) == catalogue, (
                f"{ex_id}: wrong answers must cover the catalogue exactly; "
                f"missing {sorted(catalogue - set(wrong[ex_id]))}, unknown {sorted(set(wrong[ex_id]) - catalogue)}")

    params_ok = [(ex_id, i, seed) for ex_id in correct for i in range(len(correct[ex_id])) for seed in SEEDS]

    @pytest.mark.parametrize("ex_id,index,seed", params_ok)
    def test_correct_answer_passes(ex_id, index, seed):
        printed = run_check(ex_id, correct[ex_id][index], seed)
        assert printed.startswith("\u2714") and ex_id in printed

    def answers(entry):
        return entry if isinstance(entry, (list, tuple)) else [entry]

    params_bad = [(ex_id, key, i, seed) for ex_id in wrong for key in wrong[ex_id]
                  for i in range(len(answers(wrong[ex_id][key]))) for seed in SEEDS[:3]]

    @pytest.mark.parametrize("ex_id,key,index,seed", params_bad)
    def test_wrong_answer_is_named(ex_id, key, index, seed):
        exc = failure(ex_id, answers(wrong[ex_id][key])[index], seed)
        assert not isinstance(exc, NotAttempted)
        message = next(m.message for m in EXERCISES[ex_id].mistakes if m.key == key)
        assert exc.mistake == key, f"expected mistake {key!r}, got {exc.mistake!r}: {exc.message}"
        assert exc.message == message
        lines = exc._render_traceback_()
        assert " ".join(line.strip() for line in lines) == " ".join(f"\u2718 {ex_id}: {message}".split())
        assert all(len(line) <= 79 for line in lines), "messages wrap to the page"

    @pytest.mark.parametrize("ex_id", ids)
    def test_stub_is_not_attempted(ex_id):
        def stub(*args, **kwargs):
            raise NotImplementedError()

        exc = failure(ex_id, stub)
        assert isinstance(exc, NotAttempted) and "not attempted yet" in exc.message

    return test_every_exercise_has_tests, test_correct_answer_passes, test_wrong_answer_is_named, test_stub_is_not_attempted
