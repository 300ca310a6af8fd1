"""Generate exercises/NN_*.ipynb from solutions/NN_*.ipynb.

    python tools/make_exercises.py          # write every exercise notebook
    python tools/make_exercises.py --check  # exit 1 if any is out of date

The rules follow nbgrader's ``generate_assignment``, so a solution notebook can
go into nbgrader's ``source/`` folder unchanged:

- in cells marked ``nbgrader.solution``, the lines between ``### BEGIN SOLUTION``
  and ``### END SOLUTION`` become ``# YOUR CODE HERE`` / ``raise NotImplementedError()``
  (markdown answers become ``YOUR ANSWER HERE``);
- lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed;
- graded check cells, and cells tagged ``uses-answers``, are tagged ``raises-exception``:
  with the stubs in place they fail (nbval and the book accept that; a test proves they do fail).
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
MARKDOWN_STUB = "YOUR ANSWER HERE"
REGIONS = {
    "solution": (re.compile(r"^(\s*)### BEGIN SOLUTION\s*$"), re.compile(r"^\s*### END SOLUTION\s*$")),
    "hidden": (re.compile(r"^(\s*)### BEGIN HIDDEN TESTS\s*$"), re.compile(r"^\s*### END HIDDEN TESTS\s*$")),
}


class GenerationError(ValueError):
    pass


def replace_regions(source: str, kind: str, stub: list[str] | None, where: str) -> tuple[str, int]:
    """Replace every BEGIN/END region of ``kind`` in ``source`` by ``stub`` (indented like its marker)."""
    begin, end = REGIONS[kind]
    out, count, indent = [], 0, None
    for line in source.splitlines():
        if indent is None:
            m = begin.match(line)
            if m:
                indent, count = m.group(1), count + 1
                out.extend(indent + s for s in (stub or []))
            else:
                if end.match(line):
                    raise GenerationError(f"{where}: END without BEGIN ({kind})")
                out.append(line)
        elif end.match(line):
            indent = None
        elif begin.match(line):
            raise GenerationError(f"{where}: nested BEGIN ({kind})")
    if indent is not None:
        raise GenerationError(f"{where}: BEGIN without END ({kind})")
    return "\n".join(out), count


def _add_tag(cell, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def make_exercise(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The exercise notebook for a solution notebook (which is left unchanged)."""
    nb = copy.deepcopy(solution)
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        where = f"{name}, cell {i} ({meta.get('grade_id', cell.cell_type)})"
        if meta.get("solution"):
            if cell.cell_type == "code":
                cell.source, count = replace_regions(cell.source, "solution", CODE_STUB, where)
                if count == 0:
                    raise GenerationError(f"{where}: a solution cell without ### BEGIN SOLUTION")
            else:
                cell.source = MARKDOWN_STUB
        if cell.cell_type == "code":
            cell.source, _ = replace_regions(cell.source, "hidden", None, where)
            if (meta.get("grade") and not meta.get("solution")) or "uses-answers" in cell.metadata.get("tags", []):
                _add_tag(cell, "raises-exception")
            cell.outputs, cell.execution_count = [], None
    nb.metadata["attnbook"] = {"generated_from": f"solutions/{name}", "edit": "edit the solution notebook, "
                               "then run: python tools/make_exercises.py"}
    return nb


def pairs(root: Path = ROOT):
    for solution in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        yield solution, root / "exercises" / solution.name


def render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report exercise notebooks that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for solution_path, exercise_path in pairs():
        text = render(make_exercise(nbformat.read(solution_path, as_version=4), solution_path.name))
        current = exercise_path.read_text(encoding="utf-8") if exercise_path.exists() else None
        if text == current:
            continue
        stale.append(exercise_path)
        if not args.check:
            exercise_path.write_text(text, encoding="utf-8")
            print(f"wrote {exercise_path.relative_to(ROOT)}")
    if args.check and stale:
        print("out of date (run: python tools/make_exercises.py):", *[str(p.relative_to(ROOT)) for p in stale])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
