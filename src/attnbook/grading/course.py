"""Set up an nbgrader course from the book, and explain every score.

    python -m attnbook.grading.course init COURSE_DIR [--chapters 1 3]
            [--without-sandbox]
        COURSE_DIR/nbgrader_config.py, the sandboxed kernel spec
        COURSE_DIR/kernels/attnbook-sandbox/ and COURSE_DIR/source/chNN/
        from the book's solutions/; says whether the sandbox works here.
    python -m attnbook.grading.course report COURSE_DIR ASSIGNMENT
            [--csv reasons.csv]
        one line per student and question: points, and the reason in the
        student's own words (the check's message), including submissions
        nbgrader could not grade at all and cells stopped by a limit.

The rest is plain nbgrader, run inside COURSE_DIR:
``nbgrader generate_assignment chNN --create``, hand out ``release/chNN``,
collect into ``submitted/STUDENT/chNN/``, ``nbgrader autograde chNN
--create``, ``nbgrader export``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from . import sandbox

BOOK_ROOT = Path(__file__).resolve().parents[3]
CONFIG_TEMPLATE = Path(__file__).with_name("nbgrader_config.py")


def assignment_name(notebook: Path) -> str:
    return f"ch{notebook.name[:2]}"


def init(course_dir: Path, chapters: list[int] | None = None,
         book_root: Path = BOOK_ROOT, without_sandbox: bool = False,
         limits: sandbox.Limits | None = None) -> list[str]:
    """Create the course folder; return the assignment names."""
    solutions = sorted((book_root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not solutions:
        raise SystemExit(f"no solution notebooks in "
                         f"{book_root / 'solutions'}: pass --book")
    if chapters:
        solutions = [s for s in solutions if int(s.name[:2]) in chapters]
    course_dir.mkdir(parents=True, exist_ok=True)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        shutil.copy(CONFIG_TEMPLATE, config)
    spec_dir = course_dir / "kernels" / sandbox.KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = sandbox.kernel_spec(course_dir, limits or sandbox.Limits(),
                               without_sandbox)
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
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


def limit_reason(ename: str, evalue: str, limits: sandbox.Limits) -> str:
    """A student's words for an error that a grading limit caused, or ''."""
    words = limits.words()
    text = f"{ename}: {evalue}"
    if ("MemoryError" in ename or "Unable to allocate" in evalue
            or "can't allocate memory" in evalue):
        return (f"your notebook tried to use more than {words['memory']} "
                f"of memory, the limit while grading")
    if "[Errno 11]" in text or "can't start new thread" in text:
        return (f"your notebook started more than {words['processes']}, "
                f"the limit while grading")
    if "[Errno 27]" in text or "File too large" in text:
        return (f"your notebook wrote a file larger than "
                f"{words['file_size']}, the limit while grading")
    if "[Errno 28]" in text:
        return (f"your notebook filled its private /tmp "
                f"({words['tmp_size']}), the limit while grading")
    if "[Errno 30]" in text or "[Errno 13]" in text:
        return ("your notebook tried to change a file outside its private "
                "/tmp, which grading does not allow (nothing was changed)")
    if ename in ("CellTimeoutError", "KeyboardInterrupt"):
        return ("a cell ran longer than the time limit per cell and was "
                "stopped")
    return ""


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]


def _reason(cell, limits: sandbox.Limits | None = None) -> str:
    errors = _errors(cell)
    if not errors:
        return "passed"
    error = errors[-1]
    message = (error.get("evalue") or "").strip().splitlines()
    text = message[0] if message else ""
    if error.get("ename") in ("CheckFailure", "NotAttempted"):
        return text.split(": ", 1)[-1]
    why = limit_reason(error.get("ename") or "", text,
                       limits or sandbox.Limits())
    return why or f"{error.get('ename')}: {text}"[:300]


def _limits_of(records: list[dict]) -> sandbox.Limits:
    for record in reversed(records):
        if "limits" in record:
            return sandbox.Limits(**record["limits"])
    return sandbox.Limits()


def kernel_ending(records: list[dict]) -> str:
    """Why the last kernel of these log records ended, in words."""
    if not records:
        return ""
    last = records[-1]
    if last["event"] == "refused":
        return "there was no sandbox, so its code was not run"
    if last["event"] == "start":
        return ("its kernel was stopped by nbgrader (it stopped answering: "
                "an endless loop, or too many processes?)")
    return f"its kernel {last['ending']}"


def report(course_dir: Path, assignment: str) -> list[Line]:
    """Every student's points per question, with the reason.

    From the gradebook, the graded notebooks and the sandbox's log.
    """
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    lines: list[Line] = []
    log = [r for r in sandbox.read_log(course_dir)
           if r.get("assignment") == assignment]
    submitted = sorted(p for p in (course_dir / "submitted")
                       .glob(f"*/{assignment}") if p.is_dir())
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for folder in submitted:
            student = folder.parent.name
            records = [r for r in log if r.get("student") == student]
            limits = _limits_of(records)
            for notebook in sorted(folder.glob("*.ipynb")):
                try:
                    nbformat.read(notebook, as_version=4)
                except Exception as exc:  # noqa: BLE001  reported, not fatal
                    first = str(exc).splitlines()[0][:120]
                    lines.append(Line(
                        student, "-", 0.0, None,
                        f"not a valid notebook, so nothing could be "
                        f"graded ({type(exc).__name__}: {first})"))
                    continue
                graded_path = (course_dir / "autograded" / student
                               / assignment / notebook.name)
                try:
                    nb_grades = gb.find_submission_notebook(
                        notebook.stem, assignment, student)
                    graded = nbformat.read(graded_path, as_version=4)
                except (MissingEntry, OSError):
                    ending = kernel_ending(records)
                    why = "nbgrader did not grade this notebook"
                    why += f": {ending}" if ending else " (see its log)"
                    lines.append(Line(student, "-", 0.0, None, why))
                    continue
                cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c
                         for c in graded.cells}
                for grade in nb_grades.grades:
                    cell = cells.get(grade.name)
                    reason = (_reason(cell, limits) if cell is not None else
                              "test cell missing from the graded notebook")
                    lines.append(Line(student, grade.name, grade.score,
                                      grade.max_score, reason))
                lines += _limit_lines(student, graded, limits)
    return lines


def _limit_lines(student, graded, limits) -> list[Line]:
    """Ungraded cells that a limit or the sandbox stopped."""
    lines = []
    for number, cell in enumerate(graded.cells, 1):
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get(
                "grade"):
            continue
        for error in _errors(cell):
            text = (error.get("evalue") or "").strip().splitlines()
            why = limit_reason(error.get("ename") or "",
                               text[0] if text else "", limits)
            if why:
                lines.append(Line(student, f"cell {number}", None, None,
                                  why))
                break
    return lines


def sandbox_summary(course_dir: Path, assignment: str | None) -> str:
    """How this assignment's kernels ran: sandboxed, or not, and why."""
    log = [r for r in sandbox.read_log(course_dir)
           if assignment is None or r.get("assignment") == assignment]
    last = {}  # the latest kernel of each student's notebook folder
    for record in log:
        if record["event"] in ("start", "refused"):
            last[record.get("folder")] = record
    starts = [r for r in last.values() if r["event"] == "start"]
    refused = [r for r in last.values() if r["event"] == "refused"]
    bare = [r for r in starts if r.get("sandbox") == "none"]
    if refused:
        return (f"NO SANDBOX: {len(refused)} notebooks were not run: "
                f"{refused[-1]['reason']}")
    if bare:
        return (f"NO SANDBOX: {len(bare)} of {len(starts)} kernels ran "
                f"without a sandbox, as you, with your files "
                f"(--without-sandbox)")
    if starts:
        return (f"sandbox: all {len(starts)} kernels ran in bubblewrap, "
                f"with limits")
    ok, what = sandbox.probe()
    return ("sandbox: " if ok else "NO SANDBOX: ") + what


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnbook.grading.course",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_init = sub.add_parser(
        "init", help="create an nbgrader course folder from the solutions")
    p_init.add_argument("course_dir", type=Path)
    p_init.add_argument("--chapters", type=int, nargs="*",
                        help="chapter numbers (default: all)")
    p_init.add_argument("--book", type=Path, default=BOOK_ROOT,
                        help="the book's folder (with solutions/)")
    p_init.add_argument(
        "--without-sandbox", action="store_true",
        help="where no sandbox works, run students' code as you anyway")
    p_report = sub.add_parser(
        "report", help="points and reasons per student and question")
    p_report.add_argument("course_dir", type=Path)
    p_report.add_argument("assignment")
    p_report.add_argument("--csv", type=Path,
                          help="also write the lines to this CSV file")
    args = parser.parse_args(argv)
    if args.command == "init":
        names = init(args.course_dir, args.chapters, args.book,
                     args.without_sandbox)
        print(f"created {args.course_dir} with assignments: "
              f"{', '.join(names)}")
        ok, what = sandbox.probe()
        if ok:
            print(f"sandbox: {what}; every student's kernel runs in it")
        elif args.without_sandbox:
            print(f"NO SANDBOX: {what}. As asked (--without-sandbox), "
                  f"students' code will run as you, with your files.")
        else:
            print(f"NO SANDBOX: {what}. Autograding will refuse to run "
                  f"students' code until a sandbox works, or until you "
                  f"run init again with --without-sandbox.")
        config = (args.course_dir / "nbgrader_config.py").read_text()
        if sandbox.KERNEL_NAME not in config:
            print(f"NOTE: {args.course_dir}/nbgrader_config.py (kept from "
                  f"before) does not choose the sandboxed kernel: add\n"
                  f"    c.Execute.kernel_name = \"{sandbox.KERNEL_NAME}\"\n"
                  f"and the JUPYTER_PATH lines of {CONFIG_TEMPLATE}")
        print(f"next: cd {args.course_dir} && "
              f"nbgrader generate_assignment {names[0]} --create")
        return 0
    lines = report(args.course_dir, args.assignment)
    print(sandbox_summary(args.course_dir, args.assignment))
    width = max([len(line.student) for line in lines] + [7])
    for line in lines:
        points = "-" if line.points is None else f"{line.points:g}"
        out_of = "" if line.max_points is None else f"/{line.max_points:g}"
        print(f"{line.student:<{width}}  {line.question:<8}  "
              f"{points + out_of:>6}  {line.reason}")
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student_id", "question", "points",
                             "max_points", "reason"])
            writer.writerows([line.student, line.question, line.points,
                              line.max_points, line.reason]
                             for line in lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
