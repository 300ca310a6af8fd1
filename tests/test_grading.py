"""grade() re-runs a check in a fresh process: run-time tampering in the notebook cannot fool it."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import attnbook.checks as checks
from attnbook.checks import CheckFailure, NotAttempted
from attnbook.grading import grade
from attnbook.grading.overview import chapters, overview


# Answers live in a notebook's namespace (``__main__``), as they do in Jupyter.
NOTEBOOK_CODE = """
import numpy as np
from attnbook.grading import grade

def softmax_with_temperature(scores, temperature=1.0):
    x = np.asarray(scores, dtype=float) / temperature
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

def weighted_average(weights, values):
    return np.mean(values, axis=0)  # wrong: the weights are ignored
"""


def in_notebook(code):
    namespace = {"__name__": "__main__"}
    exec(NOTEBOOK_CODE, namespace)
    exec(code, namespace)
    return namespace


def test_a_correct_function_passes_by_its_name():
    in_notebook('grade("ex-01-1")')  # found by its name in the notebook's namespace


def test_a_wrong_function_fails_with_the_same_message_as_check():
    with pytest.raises(CheckFailure) as info:
        in_notebook('grade("ex-01-2")')
    assert info.value.mistake == "unweighted-mean"


def test_tampering_in_this_process_does_not_help(monkeypatch):
    monkeypatch.setattr(checks.get_exercise("ex-01-2"), "reference", lambda w, v: np.mean(v, axis=0))
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    in_notebook('from attnbook.checks import check; check("ex-01-2", weighted_average)')  # fooled...
    with pytest.raises(CheckFailure, match="plain mean"):
        in_notebook('grade("ex-01-2")')  # ...the fresh process is not


def test_a_missing_function_is_named():
    with pytest.raises(CheckFailure, match="no function called `attention_weights`") as info:
        in_notebook('grade("ex-01-3")')
    assert info.value.mistake == "missing-function"


def test_a_stub_is_not_attempted():
    def stub(query, keys, temperature=1.0):
        raise NotImplementedError()

    with pytest.raises(NotAttempted):
        grade("ex-01-3", stub)


def test_an_endless_function_is_stopped():
    def forever(weights, values):
        while True:
            pass

    with pytest.raises(CheckFailure, match="did not finish"):
        grade("ex-01-2", forever)


def test_an_answer_that_cannot_be_sent_is_explained():
    import threading

    lock = threading.Lock()

    def uses_a_lock(weights, values):
        with lock:
            return np.asarray(weights) @ np.asarray(values)

    with pytest.raises(CheckFailure, match="could not be sent to the grader") as info:
        grade("ex-01-2", uses_a_lock)
    assert info.value.mistake == "unpicklable"


def test_an_answer_that_kills_the_process_is_explained():
    def exits(weights, values):
        import os

        os._exit(3)

    with pytest.raises(CheckFailure, match="ended without a result"):
        grade("ex-01-2", exits)


def test_instructor_overview_is_generated_from_the_checks():
    text = overview()
    for ex_id, ex in checks.EXERCISES.items():
        assert f"| `{ex_id}` | {ex.title} | `{ex.function}` | {ex.points} |" in text
        for mistake in ex.mistakes:
            assert f"`{ex_id}` *{mistake.key}*" in text
    for info in chapters():
        assert info.objectives and info.time, f"chapter {info.number} needs objectives and a time"
        assert f"### {info.number}. {info.title}" in text


def test_overview_reads_each_chapters_whole_time_sentence():
    """The chapters' "Time:" sentence may break across lines in the source: the page shows all of it."""
    from attnbook.grading.overview import chapters

    for info in chapters():
        assert re.search(r"\d+ minutes to read.*\d+ minutes for the exercises[^.]*\.$", info.time), (
            f"chapter {info.number}: {info.time!r}")


# --------------------------------------------------------------------------- the warm grader

def _parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _records(path):
    """An answer to ex-01-2 that notes its process, and whether an earlier
    question's answer left a mark in the package it was graded with."""
    def answer(weights, values):
        import os

        import attnbook.highlighter as h

        with open(path, "a") as f:
            f.write(f"{os.getpid()} {getattr(h, 'LEFT_BY_AN_ANSWER', 0)}\n")
        h.LEFT_BY_AN_ANSWER = 1
        return np.asarray(weights) @ np.asarray(values)
    return answer


def test_each_question_is_a_fresh_child_of_one_warm_server(tmp_path):
    from attnbook import grading

    notes = tmp_path / "notes.txt"
    for _ in range(3):
        grade("ex-01-2", _records(notes))
    server = grading._SERVER.pid
    assert server is not None and _alive(server)
    rows = [line.split() for line in notes.read_text().splitlines()]
    first = {}  # each process's first call: the check calls the answer on many cases
    for pid, mark in rows:
        first.setdefault(int(pid), mark)
    assert len(first) == 3 and server not in first and os.getpid() not in first
    assert list(first.values()) == ["0", "0", "0"], "a question saw the one before"
    # not the notebook's child: os.wait() in a notebook, or a kernel ending its children, never meets it
    assert _parent_of(server) != os.getpid()
    grade("ex-01-1", in_notebook("")["softmax_with_temperature"])
    assert grading._SERVER.pid == server


def test_a_server_that_ended_is_started_again():
    from attnbook import grading

    grade("ex-01-1", in_notebook("")["softmax_with_temperature"])
    old = grading._SERVER.pid
    os.kill(old, signal.SIGKILL)
    with pytest.raises(CheckFailure, match="plain mean"):
        in_notebook('grade("ex-01-2")')
    assert grading._SERVER.pid not in (None, old)


def test_without_a_server_each_question_has_its_own_process(monkeypatch, tmp_path):
    from attnbook import grading

    grading._SERVER.stop()
    monkeypatch.setattr(grading._ForkServer, "start", lambda self: False)
    notes = tmp_path / "notes.txt"
    grade("ex-01-2", _records(notes))
    with pytest.raises(CheckFailure, match="plain mean"):
        in_notebook('grade("ex-01-2")')
    assert grading._SERVER.pid is None and notes.read_text().split()[1] == "0"


def test_out_of_time_the_child_is_killed_and_the_next_question_is_graded(tmp_path):
    import cloudpickle

    from attnbook.grading import run_in_fresh_process

    pid_file = tmp_path / "pid"

    def stalls(weights, values):
        import os
        import time

        pid_file.write_text(str(os.getpid()))
        time.sleep(60)

    result = run_in_fresh_process("ex-01-2", cloudpickle.dumps(stalls), timeout=1.5)
    assert result["mistake"] == "timeout" and "stopped your function after 1.5 s" in result["message"]
    pid = int(pid_file.read_text())
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.05)
    assert not _alive(pid), "the stalled child still runs"
    grade("ex-01-1", in_notebook("")["softmax_with_temperature"])


def test_the_server_ends_with_its_kernel(tmp_path):
    """A kernel that dies without cleaning up (no atexit) leaves no server behind."""
    script = (
        "import os, sys\n"
        "import numpy as np\n"
        "from attnbook import grading\n"
        "grading.grade('ex-01-2', lambda weights, values: np.asarray(weights) @ np.asarray(values))\n"
        "print(grading._SERVER.pid, flush=True)\n"
        "os._exit(0)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    server = int(done.stdout.split()[0])
    for _ in range(200):
        if not _alive(server):
            break
        time.sleep(0.05)
    assert not _alive(server), "the server outlived its kernel"
