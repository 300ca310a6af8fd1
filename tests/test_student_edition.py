"""`make student-book` builds the book without its solutions."""

import html
import re
import subprocess
import sys

import pytest

from notebooks import ROOT, notebooks, read

STUDENT_HTML = ROOT / "_build" / "student" / "_build" / "html"
# With workers (`--dist loadgroup`), all of its tests run in one, which builds the edition once:
# two workers would build it twice, into the same folder at the same time.
pytestmark = pytest.mark.xdist_group("student-edition")


@pytest.fixture(scope="module")
def student_site():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "student_edition.py")],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return STUDENT_HTML


def solution_lines():
    """Distinctive lines that only the solutions contain (the code between the markers).

    A line that a chapter teaches or an exercise notebook gives (the package's own code, shown in
    the chapter that introduces it) is no secret, so it is left out.
    """
    lines = set()
    for path in notebooks("solutions"):
        for cell in read(path).cells:
            if "### BEGIN SOLUTION" in cell.source:
                body = cell.source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
                lines |= {l.strip() for l in body.splitlines() if len(l.strip()) > 25}
    taught = "\n".join(cell.source for path in notebooks("chapters") + notebooks("exercises")
                        for cell in read(path).cells)
    return {line for line in lines if line not in taught}


def leaks(site):
    """Pages of ``site`` that show solution code, with the lines they show."""
    secrets = solution_lines()
    assert secrets
    found = {}
    for page in site.rglob("*"):
        if page.suffix in (".html", ".js", ".ipynb", ".txt") and page.is_file():
            text = page.read_text(encoding="utf-8", errors="replace")
            text = html.unescape(re.sub(r"<[^>]+>", "", text))  # highlighted code is split by tags
            leaked = [line for line in secrets if line in text]
            if leaked:
                found[str(page.relative_to(site))] = leaked
    return found


def test_no_solutions_in_the_student_edition(student_site):
    assert (student_site / "index.html").exists()
    assert not (student_site / "solutions").exists()
    assert leaks(student_site) == {}


def test_the_scan_finds_the_solutions_in_the_full_edition():
    full = leaks(ROOT / "_build" / "html")
    assert any(page.startswith("solutions/") for page in full)


def test_student_edition_keeps_chapters_and_exercises(student_site):
    for path in notebooks("chapters") + notebooks("exercises"):
        assert (student_site / path.parent.name / path.with_suffix(".html").name).exists()
