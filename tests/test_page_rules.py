"""Rules of the page that hold for every notebook and page of the book, read from the sources.

- Code fits the page: every line of src/ and of every notebook's code cells has at most 79
  characters (a code cell shows 79-81 at a 1280-px window), checked with ruff.
- Markup renders: no MyST role and no backtick stands inside $...$ or $$...$$ (MathJax would
  print it as it is).
"""

import re
import subprocess
import sys

import pytest
import yaml

from notebooks import ROOT, notebooks, read, rel


def test_code_lines_fit_the_page():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "E501", "--output-format",
                           "concise", "src", "chapters", "solutions", "exercises", "instructors.ipynb"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, "lines over 79 characters:\n" + done.stdout[-4000:]


def test_the_line_check_finds_a_long_line(tmp_path):
    (tmp_path / "long.py").write_text("x = 1  # " + "a" * 80 + "\n")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "E501", "long.py"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "E501" in done.stdout


ROLE = re.compile(r"\{[a-z][\w:-]*\}`")


def math_regions(markdown):
    """The $...$ and $$...$$ regions of ``markdown``, read as MyST reads them: left to right,
    skipping fenced blocks and code spans outside math; inside math a backtick is just a
    character."""
    text = re.sub(r"^(```|~~~).*?^\1", "", markdown, flags=re.S | re.M)
    regions, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == "`":
            run = re.match(r"`+", text[i:]).group()
            end = text.find(run, i + len(run))
            i = len(text) if end < 0 else end + len(run)
        elif text.startswith("$$", i):
            end = text.find("$$", i + 2)
            end = len(text) if end < 0 else end + 2
            regions.append(text[i:end])
            i = end
        elif text[i] == "$":
            end = text.find("$", i + 1)
            if end < 0 or "\n" in text[i:end]:
                i += 1
                continue
            regions.append(text[i:end + 1])
            i = end + 1
        else:
            i += 1
    return regions


def math_problems(markdown):
    """The math regions of ``markdown`` that hold a role or a backtick."""
    return [m for m in math_regions(markdown) if "`" in m or ROLE.search(m)]


def pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    return [ROOT / f"{f}.md" for f in files if (ROOT / f"{f}.md").exists()]


SOURCES = notebooks() + [ROOT / "instructors.ipynb"] + pages()


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_no_role_or_backtick_inside_math(path):
    if path.suffix == ".ipynb":
        texts = [(i, c.source) for i, c in enumerate(read(path).cells) if c.cell_type == "markdown"]
    else:
        texts = [(0, path.read_text(encoding="utf-8"))]
    problems = [f"cell {i}: {m[:120]!r}" for i, text in texts for m in math_problems(text)]
    assert not problems, "MyST roles and backticks do not work inside math:\n" + "\n".join(problems)


def test_the_math_rule_finds_a_role_in_math():
    assert math_problems(r"$$\operatorname{{term}`softmax <softmax>`}(x)$$")
    assert math_problems(r"the weights $w = `x`$ sum to 1")
    assert not math_problems(r"a {term}`softmax` of $x$, with `code $1` and $$\frac{a}{b}$$")


def glossary_terms_without_a_blank_line(text: str) -> list[str]:
    """Terms of a glossary directive that follow their neighbour's
    definition directly (Sphinx warns, and the book's build fails)."""
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    lines = body.split("\n")
    return [line for before, line in zip(lines, lines[1:])
            if line and not line.startswith(" ") and before.startswith(" ")]


def test_every_glossary_term_follows_an_empty_line():
    text = (ROOT / "glossary.md").read_text()
    assert "```{glossary}" in text
    assert glossary_terms_without_a_blank_line(text) == []


def test_the_glossary_rule_finds_a_term_without_its_blank_line():
    text = "```{glossary}\n:sorted:\n\nab\n  one\ncd\n  two\n```\n"
    assert glossary_terms_without_a_blank_line(text) == ["cd"]
