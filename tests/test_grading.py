"""grade() re-runs a check in a fresh process: run-time tampering in the notebook cannot fool it."""

import re

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
