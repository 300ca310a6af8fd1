"""Grading a class: hidden tests that the notebook's own tricks do not fool.

A solution notebook's check cell ends with a hidden test (removed from the
students' copy)::

    check("ex-01-1", softmax_with_temperature)
    ### BEGIN HIDDEN TESTS
    from attnbook.grading import grade; grade("ex-01-1")
    ### END HIDDEN TESTS

``grade`` finds the student's function by its expected name, sends it
(with cloudpickle, by value) to a fresh Python process, and runs the check
there. Whatever the notebook replaced at run time (``check``, the
package's reference code, NumPy or torch functions, environment variables
such as ``PYTHONPATH``) is new and untouched in that process, built-ins
the exercise forbids are refused there, and a function that never returns
is stopped. The result comes back as the same short message ``check``
gives. Under the course's sandbox (:mod:`attnbook.grading.sandbox`) the
fresh process runs inside the student's sandbox, with the same limits.

What this does not stop: code written on purpose to defeat the grading of
its own answers (the check runs the student's code, and ``grade`` itself is
called from the student's kernel). The sandbox keeps such code from
touching anything but its own notebook; the instructors' page says how to
spot it.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile

#: Seconds for the fresh process to start (imports) on top of the
#: exercise's own time limit.
STARTUP_SECONDS = 60


def grade(exercise_id: str, answer=None) -> None:
    """Re-run the check for ``exercise_id`` in a fresh process.

    Raises CheckFailure (or NotAttempted) if it fails. ``answer`` defaults
    to the function the exercise asks for, looked up by its name in the
    calling notebook's namespace.
    """
    from ..checks import CheckFailure, NotAttempted, get_exercise

    exercise = get_exercise(exercise_id)
    if answer is None:
        namespace = inspect.currentframe().f_back.f_globals
        if exercise.function not in namespace:
            raise CheckFailure(
                exercise_id,
                f"there is no function called `{exercise.function}` in the "
                f"notebook. Keep the name the exercise gives (was it "
                f"renamed or deleted?).", "missing-function")
        answer = namespace[exercise.function]
    import cloudpickle

    try:
        payload = cloudpickle.dumps(answer)
    except Exception as exc:  # an answer that cannot be sent is not graded
        raise CheckFailure(
            exercise_id,
            f"your answer could not be sent to the grader "
            f"({type(exc).__name__}: {str(exc)[:200]}).",
            "unpicklable") from None
    result = run_in_fresh_process(exercise_id, payload,
                                  exercise.time_limit + STARTUP_SECONDS)
    if result["status"] == "pass":
        return
    error = NotAttempted if result["status"] == "not-attempted" else \
        CheckFailure
    raise error(exercise_id, _with_limit(result["message"]),
                result.get("mistake"))


def _with_limit(message: str) -> str:
    """Name the memory limit when the answer ran out of memory under it."""
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if "MemoryError" not in message or limit == resource.RLIM_INFINITY:
        return message
    return (f"{message} (grading allows each process "
            f"{limit / 2**30:.3g} GB of memory)")


def run_in_fresh_process(exercise_id: str, payload: bytes,
                         timeout: float) -> dict:
    """Run ``attnbook.grading.child`` on one answer; return its result.

    The result is a dict with ``status``, and ``message`` and ``mistake``
    when it did not pass. The child runs in Python's isolated mode, so the
    notebook's ``PYTHON*`` variables and the user's site folder do not
    reach it.
    """
    with tempfile.TemporaryDirectory(prefix="attnbook-grade-") as tmp:
        answer_path = os.path.join(tmp, "answer.pkl")
        result_path = os.path.join(tmp, "result.json")
        with open(answer_path, "wb") as f:
            f.write(payload)
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
        command = [sys.executable, "-I", "-m", "attnbook.grading.child",
                   exercise_id, answer_path, result_path]
        try:
            subprocess.run(command, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=timeout,
                           env=env, check=False, cwd=tmp)
        except subprocess.TimeoutExpired:
            return {"status": "fail", "mistake": "timeout",
                    "message": f"the grader stopped your function after "
                               f"{timeout:g} s. Is there a loop that never "
                               f"ends?"}
        except OSError as exc:
            return {"status": "fail", "mistake": "no-process",
                    "message": f"the grader could not start its process "
                               f"({exc.strerror}): is your notebook using "
                               f"all the processes it may?"}
        try:
            with open(result_path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"status": "fail", "mistake": "crashed",
                    "message": "the grader's process ended without a "
                               "result (your code may have exited Python "
                               "or used up the memory)."}


__all__ = ["grade", "run_in_fresh_process"]
