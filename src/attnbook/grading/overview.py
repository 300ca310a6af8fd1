"""The instructors' overview, generated from the chapters and ``EXERCISES``.

Nothing here is typed twice: objectives and time estimates are read from
the top of each chapter notebook, exercises and points from the checks,
misconceptions from each check's catalogue of known mistakes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..checks import chapter_exercises

BOOK_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class ChapterInfo:
    number: int
    title: str
    path: str
    objectives: list[str] = field(default_factory=list)
    time: str = ""
    needs: str = ""


def _field(text: str, name: str) -> str:
    """The text after ``**name:**``, to the next bold label or the end of
    its paragraph, on one line (the source may break it anywhere)."""
    found = re.search(rf"\*\*{name}:\*\*\s*(.+?)(?=\*\*|\n\s*\n|\Z)",
                      text, re.S)
    return " ".join(found.group(1).split()) if found else ""


def read_chapter(path: Path) -> ChapterInfo:
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = "".join(nb["cells"][0]["source"])
    title = re.search(r"^# \d+\.\s*(.+)$", first, re.M).group(1).strip()
    info = ChapterInfo(int(path.name[:2]), title, f"chapters/{path.name}")
    block = first.split("**Learning objectives.**", 1)[-1]
    for line in block.splitlines()[1:]:
        if line.startswith("- "):
            info.objectives.append(line[2:].strip())
        elif info.objectives and line.strip() == "":
            break
    link = r"\[([^\]]+)\]\([^)]+\)"
    info.time = re.sub(link, r"\1", _field(first, "Time"))
    info.needs = _field(first, "You need")
    return info


def chapters(root: Path = BOOK_ROOT) -> list[ChapterInfo]:
    paths = sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))
    return [read_chapter(p) for p in paths]


def exercise_table(chapter: int) -> str:
    rows = ["| exercise | what the student writes | function | points |",
            "|---|---|---|---|"]
    exercises = chapter_exercises(chapter)
    for ex in exercises.values():
        rows.append(f"| `{ex.id}` | {ex.title} | `{ex.function}` "
                    f"| {ex.points} |")
    total = sum(ex.points for ex in exercises.values())
    rows.append(f"| | **total** | | **{total}** |")
    return "\n".join(rows)


def summary_table(root: Path = BOOK_ROOT) -> str:
    rows = ["| chapter | time | exercises | points |", "|---|---|---|---|"]
    for info in chapters(root):
        exercises = chapter_exercises(info.number)
        rows.append(f"| {info.number}. [{info.title}]({info.path}) "
                    f"| {info.time} | {len(exercises)} | "
                    f"{sum(ex.points for ex in exercises.values())} |")
    return "\n".join(rows)


def chapter_section(info: ChapterInfo) -> str:
    before = "none" if info.number == 1 else ", ".join(
        f"chapter {n}" for n in range(1, info.number))
    needs = f"; {info.needs}" if info.needs else ""
    parts = [f"### {info.number}. {info.title}", "",
             f"**Time:** {info.time}  ",
             f"**Prerequisites:** {before}" + needs,
             "", "**Learning objectives.** Students can", ""]
    parts += [f"- {objective}" for objective in info.objectives]
    parts += ["", f"**Exercises** (assignment `ch{info.number:02d}`):", "",
              exercise_table(info.number), "",
              "**Common misconceptions** (each is recognised by its check, "
              "which tells the student):", ""]
    for ex in chapter_exercises(info.number).values():
        for mistake in ex.mistakes:
            message = mistake.message[0].upper() + mistake.message[1:]
            parts.append(f"- `{ex.id}` *{mistake.key}*: {message}")
    return "\n".join(parts)


def overview(root: Path = BOOK_ROOT) -> str:
    sections = [chapter_section(info) for info in chapters(root)]
    return "\n\n".join([summary_table(root)] + sections)
