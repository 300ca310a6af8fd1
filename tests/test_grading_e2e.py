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
ALL_RIGHT = {"ex-01-1": 2, "ex-01-2": 2, "ex-01-3": 2, "ex-01-4": 3, "ex-01-5": 1, "ex-01-6": 2}


# Exercises 3, 4 and 6 reuse the student's earlier functions, so they inherit their mistakes.
USES = {"ex-01-3": {"ex-01-1"}, "ex-01-4": {"ex-01-1", "ex-01-2", "ex-01-3"}, "ex-01-6": {"ex-01-1", "ex-01-5"}}


def points(*wrong, all_right=ALL_RIGHT, uses=USES):
    """The points a submission deserves when the exercises ``wrong`` (and those using them) fail."""
    failed = set(wrong) | {q for q, needs in uses.items() if needs & set(wrong)}
    return {q: 0 if q in failed else p for q, p in all_right.items()}


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



# --------------------------------------------------------------------------- chapter 4 (PyTorch)

CH04 = "04_self_attention_positions.ipynb"
SOL4 = solution_answers(ROOT / "solutions" / CH04)
ALL_RIGHT4 = {"ex-04-1": 3, "ex-04-2": 2, "ex-04-3": 3, "ex-04-4": 3}


def points4(*wrong):
    return points(*wrong, all_right=ALL_RIGHT4, uses={})


NO_SCALE = SOL4["ex-04-1"].replace(" / math.sqrt(q.size(-1))", "")
COS_ON_EVEN = SOL4["ex-04-3"].replace("pe[:, 0::2] = torch.sin(angles)", "pe[:, 0::2] = torch.cos(angles)").replace(
    "pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])", "pe[:, 1::2] = torch.sin(angles[:, : d_model // 2])")
FUSED = ("def self_attention(x, w_q, w_k, w_v, mask=None):\n"
         "    import torch.nn.functional as F\n"
         "    q, k, v = x @ w_q, x @ w_k, x @ w_v\n"
         "    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)\n"
         "    return out, torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)\n")
NAN_ROPE = "def apply_rope(x, positions=None, base=10000.0):\n    return x * float('nan')\n"
SHORT_ROPE = "def apply_rope(x, positions=None, base=10000.0):\n    return x[..., :-1].clone()\n"
GAP_LOOPS = "def equivariance_gap(layer, x, perm):\n    while True:\n        x = x + 0\n"

CLASS_CH04 = [
    Submission("correct", answers=dict(SOL4), expected=points4(), reasons={"ex-04-1": "passed"}),
    Submission("partial", answers={**SOL4, "ex-04-1": NO_SCALE, "ex-04-3": COS_ON_EVEN},
               expected=points4("ex-04-1", "ex-04-3"),
               reasons={"ex-04-1": "not divided by sqrt(d_k)", "ex-04-3": "sine and cosine are swapped"}),
    Submission("blank", expected={k: 0 for k in ALL_RIGHT4}, reasons={"ex-04-2": "not attempted yet"}),
    Submission("fused", answers={**SOL4, "ex-04-1": FUSED}, expected=points4("ex-04-1"),
               reasons={"ex-04-1": "called torch.nn.functional.scaled_dot_product_attention"}),
    Submission("nan_and_shape", answers={**SOL4, "ex-04-4": NAN_ROPE}, expected=points4("ex-04-4"),
               reasons={"ex-04-4": "NaN"}),
    Submission("short", answers={**SOL4, "ex-04-4": SHORT_ROPE}, expected=points4("ex-04-4"),
               reasons={"ex-04-4": "shape"}),
    Submission("loops", answers={**SOL4, "ex-04-2": GAP_LOOPS}, expected=points4("ex-04-2"),
               reasons={"ex-04-2": "did not finish within"}),
    Submission("cheat_patch", answers={**SOL4, "ex-04-3": COS_ON_EVEN},
               extra_cells=[("setup", "import attnbook.checks, attnbook.positions\n"
                                      "attnbook.checks.check = lambda *a, **k: print('\\u2714 fine')\n"
                                      "check = attnbook.checks.check\n"
                                      "attnbook.checks.get_exercise('ex-04-3').reference = "
                                      "lambda n, d: sinusoidal_positional_encoding(n, d)\n"
                                      "torch.allclose = lambda *a, **k: True")],
               expected=points4("ex-04-3"), reasons={"ex-04-3": "sine and cosine are swapped"}),
    Submission("deleted_test", answers=dict(SOL4), edit_tests={"ex-04-2": ""}, expected=points4(),
               reasons={"ex-04-2": "passed"}),
    Submission("renamed", answers={**SOL4, "ex-04-4": SOL4["ex-04-4"].replace("def apply_rope", "def rope")},
               expected=points4("ex-04-4"), reasons={"ex-04-4": "apply_rope"}),
    Submission("not_json", raw="{\"cells\": [", expected={}, reasons={"-": "not a valid notebook"}),
]

COURSES = {
    "ch01": (1, CH01, CLASS_CH01, ALL_RIGHT),
    "ch04": (4, CH04, CLASS_CH04, ALL_RIGHT4),
}


FEEDBACK = {"ch01": "plain mean of the word vectors", "ch04": "not divided by sqrt(d_k)"}


@pytest.fixture(scope="module", params=list(COURSES))
def graded(request, tmp_path_factory):
    """A course with one chapter's assignment, generated, submitted by its class, autograded, exported."""
    name = request.param
    chapter, notebook, students, all_right = COURSES[name]
    course = tmp_path_factory.mktemp(f"course_{name}")
    subprocess.run([sys.executable, "-m", "attnbook.grading.course", "init", str(course), "--chapters", str(chapter)],
                   check=True, capture_output=True)
    gen = nbgrader_cmd(course, "generate_assignment", name, "--create")
    assert gen.returncode == 0, gen.stderr[-3000:]
    write_submissions(course, name, notebook, students)
    auto = nbgrader_cmd(course, "autograde", name, "--create", "--Execute.timeout=10")
    export = nbgrader_cmd(course, "export", "--to", str(course / "grades.csv"))
    assert export.returncode == 0, export.stderr[-3000:]
    report = subprocess.run([sys.executable, "-m", "attnbook.grading.course", "report", str(course), name,
                             "--csv", str(course / "reasons.csv")], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr[-3000:]
    return name, course, auto


def test_release_is_the_books_exercise_notebook(graded):
    name, course, _ = graded
    notebook = COURSES[name][1]
    release, exercise = read(course / "release" / name / notebook), read(ROOT / "exercises" / notebook)
    assert [c.source for c in release.cells] == [c.source for c in exercise.cells]


def test_every_score_is_the_one_deserved(graded):
    name, course, auto = graded
    _, _, students, all_right = COURSES[name]
    with open(course / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    header = list(next(iter(rows.values())))
    assert header[6:] == list(all_right), "one column per question"
    for sub in students:
        if not sub.expected:
            row = rows[sub.student]  # nothing could be graded: no points anywhere
            assert all(row[q] in ("", "0.0") for q in ["score", *all_right]), f"{sub.student}: {row}"
            continue
        got = {q: float(rows[sub.student][q]) for q in all_right}
        assert got == {q: float(p) for q, p in sub.expected.items()}, f"{sub.student}: {got}\n{auto.stderr[-2000:]}"
        assert float(rows[sub.student]["score"]) == sum(sub.expected.values())


def test_every_result_has_a_readable_reason(graded):
    name, course, _ = graded
    students = COURSES[name][2]
    with open(course / "reasons.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    by_student = {}
    for line in lines:
        by_student.setdefault(line["student_id"], {})[line["question"]] = line
    for sub in students:
        assert sub.student in by_student, f"{sub.student} is missing from the report"
        for question, words in sub.reasons.items():
            reason = by_student[sub.student][question]["reason"]
            assert words in reason, f"{sub.student} {question}: {reason!r}"
        for line in by_student[sub.student].values():
            assert line["reason"] and "Traceback" not in line["reason"]


def test_bad_submissions_do_not_stop_the_batch(graded):
    name, course, auto = graded
    notebook, students = COURSES[name][1], COURSES[name][2]
    done = {p.parent.parent.name for p in (course / "autograded").glob(f"*/{name}/{notebook}")}
    assert done == {s.student for s in students if s.expected}
    assert "not_json" in auto.stderr  # nbgrader says which one it could not grade


def test_feedback_shows_the_short_message(graded):
    name, course, _ = graded
    notebook = COURSES[name][1]
    result = nbgrader_cmd(course, "generate_feedback", name, "--student", "partial")
    assert result.returncode == 0, result.stderr[-2000:]
    html = (course / "feedback" / "partial" / name / notebook.replace(".ipynb", ".html")).read_text()
    assert FEEDBACK[name] in html
