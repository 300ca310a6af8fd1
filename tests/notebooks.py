"""Finding and reading the book's notebooks (shared by the notebook tests)."""

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("chapters", "solutions", "exercises")
SAVED = re.compile(r"^# saved in attnbook/(?P<module>[\w/]+)\.py\s*$")


def notebooks(kind=None):
    kinds = KINDS if kind is None else (kind,)
    return sorted(p for k in kinds for p in (ROOT / k).glob("[0-9][0-9]_*.ipynb"))


def read(path):
    return nbformat.read(path, as_version=4)


def chapter_number(path) -> int:
    return int(Path(path).name[:2])


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def graded_cells(nb):
    return [c for c in nb.cells if nbgrader(c).get("grade") and not nbgrader(c).get("solution")]


def rel(path) -> str:
    return str(Path(path).relative_to(ROOT))
