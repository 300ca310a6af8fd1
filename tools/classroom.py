"""A generated class of submissions, for the end-to-end grading tests and the grading benchmark.

A submission starts from the students' notebook (nbgrader's release) and changes it the way a
student would: answers written into the solution cells, extra cells added, test cells edited or
deleted, or the file broken. Each comes with the points it deserves and the words its reason must contain.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell


def read(path):
    return nbformat.read(path, as_version=4)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})

VENV_BIN = str(Path(sys.executable).parent)


def nbgrader_cmd(course_dir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run real nbgrader in the course folder (its scripts, e.g. alembic, need the venv on PATH)."""
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_dir, env=env,
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class Submission:
    student: str
    answers: dict = field(default_factory=dict)       # exercise id -> code for its answer cell (None: keep stub)
    extra_cells: list = field(default_factory=list)   # (after exercise id or "setup", code)
    edit_tests: dict = field(default_factory=dict)    # exercise id -> new source for its test cell ("" deletes it)
    raw: str | None = None                            # the file's whole text (for broken files)
    expected: dict = field(default_factory=dict)      # exercise id -> points it deserves
    reasons: dict = field(default_factory=dict)       # exercise id (or "-") -> words the reason contains
    metadata: dict = field(default_factory=dict)      # merged into the notebook's metadata


def solution_answers(solution_path: Path) -> dict:
    """Exercise id -> the full source of its solution cell (markers removed)."""
    out = {}
    for cell in read(solution_path).cells:
        meta = nbgrader(cell)
        if meta.get("solution") and cell.cell_type == "code":
            lines = [l for l in cell.source.splitlines() if "### BEGIN SOLUTION" not in l and "### END SOLUTION" not in l]
            out[meta["grade_id"].removesuffix("-answer")] = "\n".join(lines)
    return out


def build(release_nb, sub: Submission):
    nb = copy.deepcopy(release_nb)
    cells = []
    for cell in nb.cells:
        meta = nbgrader(cell)
        grade_id = meta.get("grade_id", "")
        if meta.get("solution") and grade_id.removesuffix("-answer") in sub.answers:
            code = sub.answers[grade_id.removesuffix("-answer")]
            if code is not None:
                cell.source = code
        if meta.get("grade") and not meta.get("solution") and grade_id in sub.edit_tests:
            if sub.edit_tests[grade_id] == "":
                continue  # the student deleted the test cell
            cell.source = sub.edit_tests[grade_id]
        cells.append(cell)
        anchor = "setup" if grade_id.startswith("setup") else grade_id
        cells += [new_code_cell(code) for after, code in sub.extra_cells if after == anchor]
    nb.cells = cells
    nb.metadata.update(sub.metadata)
    return nb


def write_submissions(course_dir: Path, assignment: str, notebook_name: str, subs: list[Submission]) -> None:
    release = read(course_dir / "release" / assignment / notebook_name)
    for sub in subs:
        folder = course_dir / "submitted" / sub.student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / notebook_name
        if sub.raw is not None:
            target.write_text(sub.raw, encoding="utf-8")
        else:
            nbformat.write(build(release, sub), target)
