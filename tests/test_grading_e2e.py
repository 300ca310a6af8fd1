"""Real nbgrader grades a generated class, and no submission can break it or fool it.

The solution notebooks go into nbgrader's source/ unchanged (via `python -m attnbook.grading.course init`);
nbgrader generates the students' notebooks, autogrades a class of good, bad and adversarial
submissions, and exports a CSV with one column per question. Every score is checked, and every
result has a reason a person can read (`python -m attnbook.grading.course report`).
"""

import csv
import hashlib
import json
import os
import pwd
import site
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_core.paths import jupyter_runtime_dir

import attnbook.checks
from attnbook.grading import sandbox

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

# Where a dishonest student would aim, as seen from the instructor's side (the sandbox hides them).
HOME_TARGET = Path.home() / ".attnbook-tamper-target"
USER_SITE = Path(site.getusersitepackages())
CHECKS_DIR = Path(attnbook.checks.__file__).parent
RUNTIME_DIR = Path(jupyter_runtime_dir())

# Ordinary Python in a setup cell: each attempt is recorded as "blocked: ..." or "SUCCEEDED".
TAMPER = f"""
import json, os, shutil, sqlite3, subprocess
from pathlib import Path
COURSE = Path.cwd().parents[2]  # the notebook runs in COURSE/autograded/STUDENT/ch01
NB = "{CH01}"
MINE = Path.cwd()
attempts = {{}}
def attempt(name, action):
    try:
        out = action()
        attempts[name] = "SUCCEEDED" + (f": {{out!r}}"[:80] if out is not None else "")
    except BaseException as exc:
        attempts[name] = f"blocked: {{type(exc).__name__}}: {{exc}}"[:160]
def zero_grades():
    db = sqlite3.connect(COURSE / "gradebook.db")
    db.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
    db.commit()
def write(path, text="tampered"):
    with open(path, "w") as f:
        f.write(text)
stub = json.dumps({{"cells": [], "metadata": {{}}, "nbformat": 4, "nbformat_minor": 5}})
attempt("set the classmates' grades to 0 in gradebook.db", zero_grades)
attempt("overwrite gradebook.db", lambda: write(COURSE / "gradebook.db"))
attempt("overwrite gradebook.db by a relative path", lambda: write("../../../gradebook.db"))
attempt("overwrite a classmate's submitted notebook", lambda: write(COURSE / "submitted" / "correct" / "ch01" / NB, stub))
attempt("overwrite a classmate's graded notebook", lambda: write(COURSE / "autograded" / "correct" / "ch01" / NB, stub))
attempt("read a classmate's submitted notebook", lambda: len((COURSE / "submitted" / "correct" / "ch01" / NB).read_text()))
attempt("copy a classmate's notebook into its own folder",
        lambda: shutil.copy(COURSE / "submitted" / "correct" / "ch01" / NB, MINE / "copied.ipynb"))
attempt("list the other students", lambda: os.listdir(COURSE / "submitted"))
attempt("read the instructor's source/", lambda: len((COURSE / "source" / "ch01" / NB).read_text()))
attempt("write a file into the course folder", lambda: write(COURSE / "hacked.txt"))
attempt("write into its own submission folder", lambda: write(MINE / "hacked.txt"))
attempt("write into the instructor's home", lambda: write("{HOME_TARGET}"))
attempt("put a file in the user's site-packages", lambda: write("{USER_SITE}/attnbook-tamper.txt"))
attempt("add a module to the book's checks", lambda: write("{CHECKS_DIR}/tamper_probe.py"))
attempt("list other kernels' connection files", lambda: os.listdir("{RUNTIME_DIR}"))
attempt("write outside /tmp (/var/tmp)", lambda: write("/var/tmp/attnbook-tamper.txt"))
def others():
    seen = [p for p in os.listdir("/proc") if p.isdigit() and int(p) > 2]
    if not seen:
        raise LookupError("only the sandbox and its kernel (pids 1 and 2) are there")
    return seen
attempt("see the processes outside the sandbox", others)
attempt("read the instructor's environment", lambda: os.environ["ATTNBOOK_SECRET"])
attempts["kernel"] = f"uid {{os.getuid()}}, sandbox {{os.environ.get('ATTNBOOK_SANDBOX')}}"
print("ATTEMPTS " + json.dumps(attempts))
write("../../../gradebook.db")  # the last attempt raises: the report shows it
"""

HOG = ("def weighted_average(weights, values):\n"
       "    big = np.ones(400_000_000)  # 3.2 GB\n"
       "    return np.asarray(weights) @ np.asarray(values)\n")
# A fork loop, bounded: 1000 children at most (the sandbox allows 256).
# Each child waits for its parent to close a pipe, then exits, whatever
# happens (a SIGINT too): the cell hits the process limit, lets its
# children go and waits for them, so that the notebook's later cells can
# start threads again. No sleep: the cell takes only as long as its forks.
FORK_LOOP = ("import os\nr, w = os.pipe()\ntry:\n"
             "    for _ in range(1000):\n"
             "        if os.fork() == 0:\n            try:\n"
             "                os.close(w)\n                os.read(r, 1)\n"
             "            finally:\n                os._exit(0)\n"
             "finally:\n    os.close(w)\n    while True:\n        try:\n"
             "            os.wait()\n        except ChildProcessError:\n"
             "            break")
BIG_FILE = ("with open('/tmp/big', 'wb') as f:\n    for _ in range(1024):\n"
            "        f.write(bytes(1 << 20))  # 1 GB in all")
FILL_TMP = ("import glob, os\nos.remove('/tmp/big')\ntry:\n    for i in range(8):\n"
            "        with open(f'/tmp/part{i}', 'wb') as f:\n"
            "            f.write(bytes(200 << 20))\n"
            "finally:  # room again for the hidden checks\n"
            "    for part in glob.glob('/tmp/part*'):\n        os.remove(part)")

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
    # Dishonest or greedy code, each run in the sandbox beside the honest class above.
    Submission("tamperer", answers=dict(SOL), extra_cells=[("setup", TAMPER)],
               metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
               expected=points(), reasons={"ex-01-1": "passed", "cell:write": "outside its private /tmp"}),
    Submission("hog", answers={**SOL, "ex-01-2": HOG}, extra_cells=[("setup", "hog = bytearray(3 * 2**30)")],
               expected=points("ex-01-2"),
               reasons={"ex-01-2": "MemoryError", "cell:hog": "more than 2 GB of memory"}),
    Submission("forker", answers=dict(SOL), extra_cells=[("ex-01-4", FORK_LOOP)], expected=points(),
               reasons={"ex-01-4": "passed", "cell:fork": "more than 256 processes and threads"}),
    Submission("writer", answers=dict(SOL), extra_cells=[("setup", BIG_FILE), ("setup", FILL_TMP)],
               expected=points(), reasons={"cell:big": "larger than 256 MB", "cell:fill": "filled its private /tmp"}),
    Submission("crasher", answers=dict(SOL), extra_cells=[("ex-01-1", "import ctypes\nctypes.string_at(0)")],
               expected={}, reasons={"-": "segmentation fault"}),
]



# --------------------------------------------------------------------------- chapter 4 (PyTorch)

CH04 = "04_self_attention_positions.ipynb"
SOL4 = solution_answers(ROOT / "solutions" / CH04)
# every question of chapter 4, with its points as the registry gives them
ALL_RIGHT4 = {k: ex.points for k, ex in attnbook.checks.EXERCISES.items() if ex.chapter == 4}


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
    HOME_TARGET.write_text("the instructor's file\n")
    before = fingerprints(course)
    os.environ["ATTNBOOK_SECRET"] = "instructor-token"
    try:
        auto = nbgrader_cmd(course, "autograde", name, "--create", "--Execute.timeout=10")
    finally:
        del os.environ["ATTNBOOK_SECRET"]
    after = fingerprints(course)
    HOME_TARGET.unlink()
    export = nbgrader_cmd(course, "export", "--to", str(course / "grades.csv"))
    assert export.returncode == 0, export.stderr[-3000:]
    report = subprocess.run([sys.executable, "-m", "attnbook.grading.course", "report", str(course), name,
                             "--csv", str(course / "reasons.csv")], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr[-3000:]
    return name, course, auto, before, after


def fingerprints(course):
    """A hash of every file a submission must not change (and of what must not appear)."""
    paths = [*(course / "submitted").rglob("*"), *(course / "source").rglob("*"), HOME_TARGET,
             USER_SITE / "attnbook-tamper.txt", CHECKS_DIR / "tamper_probe.py", course / "hacked.txt",
             Path("/var/tmp/attnbook-tamper.txt")]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            for p in paths if not p.is_dir()}


def test_release_is_the_books_exercise_notebook(graded):
    name, course = graded[:2]
    notebook = COURSES[name][1]
    release, exercise = read(course / "release" / name / notebook), read(ROOT / "exercises" / notebook)
    assert [c.source for c in release.cells] == [c.source for c in exercise.cells]


def test_every_score_is_the_one_deserved(graded):
    name, course, auto = graded[:3]
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
    name, course = graded[:2]
    students = COURSES[name][2]
    with open(course / "reasons.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    by_student = {}
    for line in lines:
        by_student.setdefault(line["student_id"], {})[line["question"]] = line
    for sub in students:
        assert sub.student in by_student, f"{sub.student} is missing from the report"
        for question, words in sub.reasons.items():
            if question.startswith("cell:"):  # a cell outside the graded ones, stopped by a limit
                cells = [q for q in by_student[sub.student] if q.startswith("cell ")]
                reason = " | ".join(by_student[sub.student][q]["reason"] for q in cells)
            else:
                reason = by_student[sub.student][question]["reason"]
            assert words in reason, f"{sub.student} {question}: {reason!r}"
        for line in by_student[sub.student].values():
            assert line["reason"] and "Traceback" not in line["reason"]


def test_bad_submissions_do_not_stop_the_batch(graded):
    name, course, auto = graded[:3]
    notebook, students = COURSES[name][1], COURSES[name][2]
    done = {p.parent.parent.name for p in (course / "autograded").glob(f"*/{name}/{notebook}")}
    assert done == {s.student for s in students if s.expected}
    assert "not_json" in auto.stderr  # nbgrader says which one it could not grade


def test_feedback_shows_the_short_message(graded):
    name, course = graded[:2]
    notebook = COURSES[name][1]
    result = nbgrader_cmd(course, "generate_feedback", name, "--student", "partial")
    assert result.returncode == 0, result.stderr[-2000:]
    html = (course / "feedback" / "partial" / name / notebook.replace(".ipynb", ".html")).read_text()
    assert FEEDBACK[name] in html
    assert "HIDDEN TESTS" not in html and "grade(" not in html, "the feedback hides the hidden tests"


def test_every_kernel_ran_in_the_sandbox(graded):
    name, course = graded[:2]
    students = {s.student for s in COURSES[name][2] if s.raw is None}
    starts = [json.loads(line) for line in (course / "sandbox-log.jsonl").read_text().splitlines()]
    starts = [r for r in starts if r["event"] == "start"]
    assert {r["student"] for r in starts} == students
    assert {r["sandbox"] for r in starts} == {"bubblewrap"}
    report = subprocess.run([sys.executable, "-m", "attnbook.grading.course", "report", str(course), name],
                            capture_output=True, text=True, check=True)
    assert report.stdout.startswith(f"sandbox: all {len(starts)} kernels ran in bubblewrap")


def test_tampering_changes_nothing_and_reads_nothing(graded):
    """The tamperer's attempts, as a table; every one fails and nothing outside its /tmp changed."""
    name, course, _, before, after = graded
    if name != "ch01":
        pytest.skip("the tampering class is chapter 1's")
    assert before == after, {p: (before.get(p), after.get(p)) for p in set(before) | set(after)
                             if before.get(p) != after.get(p)}
    graded_nb = read(course / "autograded" / "tamperer" / "ch01" / CH01)
    printed = "".join(o.get("text", "") for c in graded_nb.cells if c.cell_type == "code" for o in c.outputs)
    attempts = json.loads(printed.split("ATTEMPTS ", 1)[1].splitlines()[0])
    kernel = attempts.pop("kernel")
    print(f"\n| attempt (kernel: {kernel}) | what happened |\n|---|---|")
    for attempt, outcome in attempts.items():
        print(f"| {attempt} | {outcome} |")
    assert kernel.endswith(", sandbox bubblewrap"), kernel
    if os.geteuid() == 0:  # a user of its own, which no account has
        uid = int(kernel.split()[1].rstrip(","))
        assert uid > sandbox.USER_BASE, kernel
        with pytest.raises(KeyError):
            pwd.getpwuid(uid)
    succeeded = {a: o for a, o in attempts.items() if not o.startswith("blocked")}
    assert succeeded == {}, succeeded
    assert len(attempts) == 18
    assert not (course / "autograded" / "tamperer" / "ch01" / "copied.ipynb").exists()


def test_a_crashed_kernel_is_explained_and_the_batch_goes_on(graded):
    name, course, auto = graded[:3]
    if name != "ch01":
        pytest.skip("the crashing kernel is in chapter 1's class")
    log = [json.loads(line) for line in (course / "sandbox-log.jsonl").read_text().splitlines()]
    crashed = [r for r in log if r["student"] == "crasher" and r["event"] == "end"]
    assert crashed and crashed[-1]["ending"] == "crashed (segmentation fault)", crashed
    assert "crasher" in auto.stderr  # nbgrader says which one it could not grade, then goes on
    assert (course / "autograded" / "writer" / "ch01" / CH01).exists()


def test_without_a_sandbox_nothing_runs_unless_the_instructor_opts_in(tmp_path, monkeypatch):
    """A machine without bubblewrap: autograde runs no student code until `init --without-sandbox`."""
    no_bwrap = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                               if not os.path.exists(os.path.join(p, "bwrap")))
    monkeypatch.setenv("PATH", no_bwrap)
    course = tmp_path / "course"
    init = [sys.executable, "-m", "attnbook.grading.course", "init", str(course), "--chapters", "1"]
    said = subprocess.run(init, capture_output=True, text=True, check=True).stdout
    assert "NO SANDBOX: bubblewrap is not installed" in said and "refuse" in said
    assert nbgrader_cmd(course, "generate_assignment", "ch01", "--create").returncode == 0
    marker = course / "student-code-ran.txt"
    writes = f"open({str(marker)!r}, 'w').write('ran as the instructor')"
    write_submissions(course, "ch01", CH01, [Submission("correct", answers=dict(SOL)),
                                             Submission("writes", answers=dict(SOL), extra_cells=[("setup", writes)])])
    nbgrader_cmd(course, "autograde", "ch01", "--create")
    report = [sys.executable, "-m", "attnbook.grading.course", "report", str(course), "ch01"]
    refused = subprocess.run(report, capture_output=True, text=True, check=True).stdout
    assert not marker.exists()
    assert refused.splitlines()[0].startswith("NO SANDBOX: 2 notebooks were not run")
    assert refused.count("there was no sandbox, so its code was not run") == 2, refused

    said = subprocess.run([*init, "--without-sandbox"], capture_output=True, text=True, check=True).stdout
    assert "students' code will run as you" in said
    auto = nbgrader_cmd(course, "autograde", "ch01", "--create", "--force")
    assert auto.returncode == 0, auto.stderr[-2000:]
    graded = subprocess.run(report, capture_output=True, text=True, check=True).stdout
    assert marker.exists()  # what the opt-in risks: the student's code ran with the instructor's rights
    assert "NO SANDBOX: 2 of 2 kernels ran without a sandbox" in graded.splitlines()[0]
    assert graded.count(" 3/3  passed") == 2, graded
