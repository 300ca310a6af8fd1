"""Set up an nbgrader course from the book, and explain every score.

    python -m attnbook.grading.course init COURSE_DIR [--chapters 1 3]
        COURSE_DIR/nbgrader_config.py and COURSE_DIR/source/chNN/ from the book's solutions/.
    python -m attnbook.grading.course report COURSE_DIR ASSIGNMENT [--csv reasons.csv]
        one line per student and question: points, and the reason in the student's own words
        (the check's message), including submissions nbgrader could not grade at all.

The rest is plain nbgrader, run inside COURSE_DIR:
``nbgrader generate_assignment chNN --create``, hand out ``release/chNN``, collect into
``submitted/STUDENT/chNN/``, ``nbgrader autograde chNN --create``, ``nbgrader export``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

BOOK_ROOT = Path(__file__).resolve().parents[3]
CONFIG_TEMPLATE = Path(__file__).with_name("nbgrader_config.py")


def assignment_name(notebook: Path) -> str:
    return f"ch{notebook.name[:2]}"


def init(course_dir: Path, chapters: list[int] | None = None, book_root: Path = BOOK_ROOT) -> list[str]:
    """Create the course folder; return the assignment names."""
    solutions = sorted((book_root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not solutions:
        raise SystemExit(f"no solution notebooks in {book_root / 'solutions'}: pass --book")
    if chapters:
        solutions = [s for s in solutions if int(s.name[:2]) in chapters]
    course_dir.mkdir(parents=True, exist_ok=True)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        shutil.copy(CONFIG_TEMPLATE, config)
    names = []
    for solution in solutions:
        target = course_dir / "source" / assignment_name(solution)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(solution, target / solution.name)
        names.append(assignment_name(solution))
    return names


@dataclass
class Line:
    student: str
    question: str
    points: float | None
    max_points: float | None
    reason: str


def _reason(cell) -> str:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return "passed"
    error = errors[-1]
    message = (error.get("evalue") or "").strip().splitlines()
    text = message[0] if message else ""
    if error.get("ename") in ("CheckFailure", "NotAttempted"):
        return text.split(": ", 1)[-1]
    return f"{error.get('ename')}: {text}"[:300]


def report(course_dir: Path, assignment: str) -> list[Line]:
    """Every student's points per question, with the reason, from the gradebook and the graded notebooks."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    lines: list[Line] = []
    submitted = sorted(p for p in (course_dir / "submitted").glob(f"*/{assignment}") if p.is_dir())
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for folder in submitted:
            student = folder.parent.name
            for notebook in sorted(folder.glob("*.ipynb")):
                try:
                    nbformat.read(notebook, as_version=4)
                except Exception as exc:  # noqa: BLE001  any unreadable file is reported, not fatal
                    lines.append(Line(student, "-", 0.0, None, f"not a valid notebook, so nothing could be graded "
                                                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"))
                    continue
                graded_path = course_dir / "autograded" / student / assignment / notebook.name
                try:
                    nb_grades = gb.find_submission_notebook(notebook.stem, assignment, student)
                except MissingEntry:
                    lines.append(Line(student, "-", 0.0, None, "nbgrader did not grade this notebook (see its log)"))
                    continue
                graded = nbformat.read(graded_path, as_version=4)
                cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
                for grade in nb_grades.grades:
                    cell = cells.get(grade.name)
                    reason = _reason(cell) if cell is not None else "test cell missing from the graded notebook"
                    lines.append(Line(student, grade.name, grade.score, grade.max_score, reason))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnbook.grading.course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_init = sub.add_parser("init", help="create an nbgrader course folder from the book's solutions")
    p_init.add_argument("course_dir", type=Path)
    p_init.add_argument("--chapters", type=int, nargs="*", help="chapter numbers (default: all)")
    p_init.add_argument("--book", type=Path, default=BOOK_ROOT, help="the book's folder (with solutions/)")
    p_report = sub.add_parser("report", help="points and reasons per student and question")
    p_report.add_argument("course_dir", type=Path)
    p_report.add_argument("assignment")
    p_report.add_argument("--csv", type=Path, help="also write the lines to this CSV file")
    args = parser.parse_args(argv)
    if args.command == "init":
        names = init(args.course_dir, args.chapters, args.book)
        print(f"created {args.course_dir} with assignments: {', '.join(names)}")
        print(f"next: cd {args.course_dir} && nbgrader generate_assignment {names[0]} --create")
        return 0
    lines = report(args.course_dir, args.assignment)
    width = max([len(line.student) for line in lines] + [7])
    for line in lines:
        points = "-" if line.points is None else f"{line.points:g}"
        out_of = "" if line.max_points is None else f"/{line.max_points:g}"
        print(f"{line.student:<{width}}  {line.question:<8}  {points + out_of:>6}  {line.reason}")
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student_id", "question", "points", "max_points", "reason"])
            writer.writerows([line.student, line.question, line.points, line.max_points, line.reason]
                             for line in lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
