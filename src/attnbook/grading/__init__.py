"""Grading a class: hidden tests that the notebook's own tricks do not fool.

A solution notebook's check cell ends with a hidden test (removed from the
students' copy)::

    check("ex-01-1", softmax_with_temperature)
    ### BEGIN HIDDEN TESTS
    from attnbook.grading import grade; grade("ex-01-1")
    ### END HIDDEN TESTS

``grade`` finds the student's function by its expected name, sends it
(with cloudpickle, by value) to a fresh Python process, and runs the check
there. The fresh processes are forked from a clean server that starts at
the kernel's first question (:mod:`attnbook.grading.forkserver`), so a
question costs a few hundredths of a second, not the 1.5 s of starting
Python and PyTorch again. Whatever the notebook replaced at run time
(``check``, the package's reference code, NumPy or torch functions,
environment variables such as ``PYTHONPATH``) is new and untouched in
that process, built-ins
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

import atexit
import inspect
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time

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


def _timed_out(timeout: float) -> dict:
    return {"status": "fail", "mistake": "timeout",
            "message": f"the grader stopped your function after "
                       f"{timeout:g} s. Is there a loop that never ends?"}


def _no_process(reason: str) -> dict:
    return {"status": "fail", "mistake": "no-process",
            "message": f"the grader could not start its process "
                       f"({reason}): is your notebook using all the "
                       f"processes it may?"}


def _environment() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")


class _ForkServer:
    """The kernel's end of :mod:`attnbook.grading.forkserver`: started at
    the first question, started again if it ended; when it cannot start,
    each question gets a new process of its own."""

    def __init__(self):
        self.pid = self.stdin = self.stdout = None
        self.buffer = b""

    def start(self) -> bool:
        command = [sys.executable, "-I", "-m", "attnbook.grading.forkserver"]
        try:
            launcher = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env=_environment(),
                cwd=tempfile.gettempdir())
        except OSError:
            return False
        self.stdin, self.stdout = launcher.stdin, launcher.stdout
        self.buffer = b""
        ready = self.read(STARTUP_SECONDS)
        launcher.wait()  # it forked the server and left at once
        if not isinstance(ready, dict) or "ready" not in ready:
            self.stop()
            return False
        self.pid = ready["ready"]
        return True

    def read(self, seconds: float):
        """The server's next message, or None if none came in time."""
        deadline = time.monotonic() + seconds
        fd = self.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            return None

    def send(self, request: dict) -> bool:
        for _ in range(2):  # once more with a new server if it had ended
            if self.pid is None and not self.start():
                return False
            try:
                self.stdin.write(json.dumps(request).encode() + b"\n")
                self.stdin.flush()
                return True
            except OSError:
                self.stop()
        return False

    def run(self, request: dict, timeout: float):
        """None when the child ran to its end, a result dict when it was
        stopped or could not start, "no server" when there is none."""
        child = None
        try:
            for _ in range(2):  # once more if the server had just ended
                if not self.send(request):
                    return "no server"
                started = self.read(STARTUP_SECONDS)
                if isinstance(started, dict) and (
                        "pid" in started or "error" in started):
                    break
                self.stop()
            else:
                return "no server"
            if "error" in started:
                return _no_process(started["error"])
            child = started["pid"]
            if self.read(timeout) is None:
                self.stop()  # the server kills the child it ran
                return _timed_out(timeout)
            child = None
            return None
        finally:
            if child is not None:  # interrupted, or out of time
                _kill(child)
                self.stop()

    def stop(self):
        for pipe in (self.stdin, self.stdout):
            try:
                pipe and pipe.close()
            except OSError:
                pass
        if self.pid is not None:
            _kill(self.pid)
        self.pid = self.stdin = self.stdout = None


def _kill(pid: int):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


_SERVER = _ForkServer()
atexit.register(_SERVER.stop)


def _run_alone(exercise_id, answer_path, result_path, tmp, timeout):
    """One new Python process for one question (when no server runs)."""
    command = [sys.executable, "-I", "-m", "attnbook.grading.child",
               exercise_id, answer_path, result_path]
    try:
        subprocess.run(command, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=timeout,
                       env=_environment(), check=False, cwd=tmp)
    except subprocess.TimeoutExpired:
        return _timed_out(timeout)
    except OSError as exc:
        return _no_process(exc.strerror)
    return None


def run_in_fresh_process(exercise_id: str, payload: bytes,
                         timeout: float) -> dict:
    """Run ``attnbook.grading.child`` on one answer; return its result.

    The result is a dict with ``status``, and ``message`` and ``mistake``
    when it did not pass. The child is forked from a clean server that
    started in Python's isolated mode (so the notebook's ``PYTHON*``
    variables and the user's site folder do not reach it) and imported
    nothing of the notebook's; without the server, it is a new process.
    """
    with tempfile.TemporaryDirectory(prefix="attnbook-grade-") as tmp:
        answer_path = os.path.join(tmp, "answer.pkl")
        result_path = os.path.join(tmp, "result.json")
        with open(answer_path, "wb") as f:
            f.write(payload)
        request = {"id": exercise_id, "answer": answer_path,
                   "result": result_path, "cwd": tmp}
        stopped = _SERVER.run(request, timeout)
        if stopped == "no server":
            stopped = _run_alone(exercise_id, answer_path, result_path, tmp,
                                 timeout)
        if stopped is not None:
            return stopped
        try:
            with open(result_path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"status": "fail", "mistake": "crashed",
                    "message": "the grader's process ended without a "
                               "result (your code may have exited Python "
                               "or used up the memory)."}


__all__ = ["grade", "run_in_fresh_process"]
