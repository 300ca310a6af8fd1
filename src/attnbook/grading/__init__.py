"""Grading a class: hidden tests that nothing in a student's notebook can fool.

A solution notebook's check cell ends with a hidden test (removed from the students' copy)::

    check("ex-01-1", softmax_with_temperature)
    ### BEGIN HIDDEN TESTS
    from attnbook.grading import grade; grade("ex-01-1")
    ### END HIDDEN TESTS

``grade`` finds the student's function by its expected name, sends it (with
cloudpickle, by value) to a fresh Python process, and runs the check there. Whatever the
notebook replaced at run time (``check``, the package's reference code, NumPy or torch
functions) is new and untouched in that process, built-ins the exercise forbids are
refused there, and a function that never returns is stopped. The result comes back as
the same short message ``check`` gives.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile

from ..checks import CheckFailure, NotAttempted, get_exercise
from ..checks.core import PASS_MARK

#: Seconds for the fresh process to start (imports) on top of the exercise's own time limit.
STARTUP_SECONDS = 60


def grade(exercise_id: str, answer=None) -> None:
    """Re-run the check for ``exercise_id`` in a fresh process; raise CheckFailure if it fails.

    ``answer`` defaults to the function the exercise asks for, looked up by its name
    in the calling notebook's namespace.
    """
    exercise = get_exercise(exercise_id)
    if answer is None:
        namespace = inspect.currentframe().f_back.f_globals
        if exercise.function not in namespace:
            raise CheckFailure(exercise_id, f"there is no function called `{exercise.function}` in the notebook. "
                                            f"Keep the name the exercise gives (was it renamed or deleted?).",
                               "missing-function")
        answer = namespace[exercise.function]
    import cloudpickle

    try:
        payload = cloudpickle.dumps(answer)
    except Exception as exc:  # an answer that cannot be sent cannot be graded
        raise CheckFailure(exercise_id, f"your answer could not be sent to the grader "
                                        f"({type(exc).__name__}: {str(exc)[:200]}).", "unpicklable") from None
    result = run_in_fresh_process(exercise_id, payload, exercise.time_limit + STARTUP_SECONDS)
    if result["status"] == "pass":
        return
    error = NotAttempted if result["status"] == "not-attempted" else CheckFailure
    raise error(exercise_id, result["message"], result.get("mistake"))


def run_in_fresh_process(exercise_id: str, payload: bytes, timeout: float) -> dict:
    """Run ``attnbook.grading.child`` on one answer; return its result (a dict with ``status``)."""
    with tempfile.TemporaryDirectory(prefix="attnbook-grade-") as tmp:
        answer_path = os.path.join(tmp, "answer.pkl")
        result_path = os.path.join(tmp, "result.json")
        with open(answer_path, "wb") as f:
            f.write(payload)
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
        try:
            subprocess.run([sys.executable, "-m", "attnbook.grading.child", exercise_id, answer_path, result_path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired:
            return {"status": "fail", "mistake": "timeout",
                    "message": f"the grader stopped your function after {timeout:g} s. Is there a loop that never ends?"}
        try:
            with open(result_path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"status": "fail", "mistake": "crashed",
                    "message": "the grader's process ended without a result (your code may have exited "
                               "Python or used up the memory)."}



__all__ = ["grade", "run_in_fresh_process"]
