"""Real nbgrader grades a generated class, and no submission can break it or fool it.

The solution notebooks go into nbgrader's source/ unchanged (via `python -m attnbook.grading.course init`);
nbgrader generates the students' notebooks, autogrades a class of good, bad and adversarial
submissions, and exports a CSV with one column per question. Every score is checked, and every
result has a reason a person can read (`python -m attnbook.grading.course report`).
"""

import csv
import json
import subprocess
import sys

import pytest

from classroom import Submission, nbgrader_cmd, solution_answers, write_submissions
from notebooks import ROOT, read

CH01 = "01_smart_highlighter.ipynb"
SOL = solution_answers(ROOT / "solutions" / CH01)
ALL_RIGHT = {"ex-01-1": 2, "ex-01-2": 2, "ex-01-3": 2, "ex-01-4": 3}


# Exercises 3 and 4 reuse the student's earlier functions, so they inherit their mistakes.
USES = {"ex-01-3": {"ex-01-1"}, "ex-01-4": {"ex-01-1", "ex-01-2", "ex-01-3"}}


def points(*wrong):
    """The points a submission deserves when the exercises ``wrong`` (and those using them) fail."""
    failed = set(wrong) | {q for q, uses in USES.items() if uses & set(wrong)}
    return {q: 0 if q in failed else p for q, p in ALL_RIGHT.items()}


MEAN = "def weighted_average(weights, values):\n    return np.mean(values, axis=0)\n"
RAISES = "def weighted_average(weights, values):\n    raise ValueError('I give up')\n"
LOOPS = "def weighted_average(weights, values):\n    while True:\n        pass\n"
UNIFORM = ("def softmax_with_temperature(scores, temperature=1.0):\n"
           "    return np.ones(np.shape(scores)) / np.shape(scores)[-1]\n")

CLASS_CH01 = [
    Submission("correct", answers=dict(SOL), expected=points(), reasons={"ex-01-1": "passed"}),
    Submission("partial", answers={**SOL, "ex-01-2": MEAN, "ex-01-4": None},
               expected=points("ex-01-2", "ex-01-4"),
               reasons={"ex-01-2": "plain mean of the word vectors", "ex-01-4": "not attempted yet"}),
    Submission("blank", expected={k: 0 for k in ALL_RIGHT}, reasons={"ex-01-1": "not attempted yet"}),
    Submission("raises", answers={**SOL, "ex-01-2": RAISES}, expected=points("ex-01-2"),
               reasons={"ex-01-2": "raised ValueError: I give up"}),
    Submission("loops", answers={**SOL, "ex-01-2": LOOPS}, extra_cells=[("ex-01-3", "while True:\n    pass")],
               expected=points("ex-01-2"), reasons={"ex-01-2": "did not finish within"}),
    Submission("chatty", answers=dict(SOL), extra_cells=[("setup", "print('blah ' * 1_000_000)")],
               expected=points(), reasons={"ex-01-4": "passed"}),
    Submission("edited_test", answers={**SOL, "ex-01-2": MEAN},
               edit_tests={"ex-01-2": 'print("\\u2714 ex-01-2 The weighted average: passed")'},
               expected=points("ex-01-2"), reasons={"ex-01-2": "plain mean"}),
    Submission("deleted_test", answers=dict(SOL), edit_tests={"ex-01-4": ""}, expected=points(),
               reasons={"ex-01-4": "passed"}),
    Submission("cheat_check", answers={**SOL, "ex-01-1": UNIFORM, "ex-01-2": MEAN},
               extra_cells=[("setup", "def check(*args, **kwargs):\n    print('\\u2714 all good')")],
               expected=points("ex-01-1", "ex-01-2"),
               reasons={"ex-01-2": "plain mean of the word vectors"}),
    Submission("cheat_reference", answers={**SOL, "ex-01-2": MEAN},
               extra_cells=[("setup", "import attnbook.checks, attnbook.highlighter\n"
                                      "attnbook.checks.get_exercise('ex-01-2').reference = lambda w, v: np.mean(v, axis=0)\n"
                                      "attnbook.highlighter.weighted_average = lambda w, v: np.mean(v, axis=0)\n"
                                      "np.allclose = lambda *args, **kwargs: True")],
               expected=points("ex-01-2"), reasons={"ex-01-2": "plain mean of the word vectors"}),
    Submission("renamed", answers={**SOL, "ex-01-2": SOL["ex-01-2"].replace("def weighted_average", "def wavg")},
               expected=points("ex-01-2"), reasons={"ex-01-2": "weighted_average"}),
    Submission("not_json", raw='{"cells": [{"cell_type": "code", "source": "oops"',
               expected={}, reasons={"-": "not a valid notebook"}),
]


def run(cmd, course):
    result = nbgrader_cmd(course, *cmd)
    return result


@pytest.fixture(scope="module")
def graded_ch01(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    subprocess.run([sys.executable, "-m", "attnbook.grading.course", "init", str(course), "--chapters", "1"],
                   check=True, capture_output=True)
    gen = nbgrader_cmd(course, "generate_assignment", "ch01", "--create")
    assert gen.returncode == 0, gen.stderr[-3000:]
    write_submissions(course, "ch01", CH01, CLASS_CH01)
    auto = nbgrader_cmd(course, "autograde", "ch01", "--create", "--Execute.timeout=10")
    export = nbgrader_cmd(course, "export", "--to", str(course / "grades.csv"))
    assert export.returncode == 0, export.stderr[-3000:]
    report = subprocess.run([sys.executable, "-m", "attnbook.grading.course", "report", str(course), "ch01",
                             "--csv", str(course / "reasons.csv")], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr[-3000:]
    return course, auto


def test_release_is_the_books_exercise_notebook(graded_ch01):
    course, _ = graded_ch01
    release, exercise = read(course / "release" / "ch01" / CH01), read(ROOT / "exercises" / CH01)
    assert [c.source for c in release.cells] == [c.source for c in exercise.cells]


def test_every_score_is_the_one_deserved(graded_ch01):
    course, auto = graded_ch01
    with open(course / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    header = list(next(iter(rows.values())))
    assert header[6:] == list(ALL_RIGHT), "one column per question"
    for sub in CLASS_CH01:
        if not sub.expected:
            row = rows[sub.student]  # nothing could be graded: no points anywhere
            assert all(row[q] in ("", "0.0") for q in ["score", *ALL_RIGHT]), f"{sub.student}: {row}"
            continue
        got = {q: float(rows[sub.student][q]) for q in ALL_RIGHT}
        assert got == {q: float(p) for q, p in sub.expected.items()}, f"{sub.student}: {got}\n{auto.stderr[-2000:]}"
        assert float(rows[sub.student]["score"]) == sum(sub.expected.values())


def test_every_result_has_a_readable_reason(graded_ch01):
    course, _ = graded_ch01
    with open(course / "reasons.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    by_student = {}
    for line in lines:
        by_student.setdefault(line["student_id"], {})[line["question"]] = line
    for sub in CLASS_CH01:
        assert sub.student in by_student, f"{sub.student} is missing from the report"
        for question, words in sub.reasons.items():
            reason = by_student[sub.student][question]["reason"]
            assert words in reason, f"{sub.student} {question}: {reason!r}"
        for line in by_student[sub.student].values():
            assert line["reason"] and "Traceback" not in line["reason"]


def test_bad_submissions_do_not_stop_the_batch(graded_ch01):
    course, auto = graded_ch01
    graded = {p.parent.parent.name for p in (course / "autograded").glob(f"*/ch01/{CH01}")}
    assert graded == {s.student for s in CLASS_CH01 if s.expected}
    assert "not_json" in auto.stderr  # nbgrader says which one it could not grade


def test_feedback_shows_the_short_message(graded_ch01):
    course, _ = graded_ch01
    result = nbgrader_cmd(course, "generate_feedback", "ch01", "--student", "partial")
    assert result.returncode == 0, result.stderr[-2000:]
    html = (course / "feedback" / "partial" / "ch01" / CH01.replace(".ipynb", ".html")).read_text()
    assert "plain mean of the word vectors" in html
