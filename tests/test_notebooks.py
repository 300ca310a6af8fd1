"""The notebooks keep the book's rules: clean, consistent with the package, exercises up to date."""

import ast
import importlib
import inspect
import json
import re
import textwrap

import pytest
import yaml

import make_exercises
from attnbook.checks import EXERCISES
from notebooks import ROOT, SAVED, chapter_number, graded_cells, nbgrader, notebooks, read, rel

ALL = notebooks()
CHECK_CALL = re.compile(r'^check\("(?P<id>ex-\d\d-\d+)", (?P<fn>\w+)\)$')


def test_every_chapter_has_solutions_and_exercises():
    chapters = {p.name for p in notebooks("chapters")}
    assert chapters, "no chapters found"
    assert chapters == {p.name for p in notebooks("solutions")} == {p.name for p in notebooks("exercises")}


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_committed_clean(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "commit notebooks without outputs"


def test_exercises_are_generated_from_solutions():
    for solution, exercise in make_exercises.pairs():
        expected = make_exercises.render(make_exercises.make_exercise(read(solution), solution.name))
        assert exercise.read_text(encoding="utf-8") == expected, (
            f"{rel(exercise)} is out of date: run `make exercises`")


def test_generator_replaces_solutions_and_hidden_tests():
    source = textwrap.dedent("""\
        def f(x):
            \"\"\"Doc.\"\"\"
            ### BEGIN SOLUTION
            return x + 1
            ### END SOLUTION
        ### BEGIN HIDDEN TESTS
        assert f(1) == 2
        ### END HIDDEN TESTS""")
    out, n = make_exercises.replace_regions(source, "solution", make_exercises.CODE_STUB, "t")
    assert n == 1 and "return x + 1" not in out
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in out
    out, n = make_exercises.replace_regions(out, "hidden", None, "t")
    assert n == 1 and "assert" not in out
    with pytest.raises(make_exercises.GenerationError, match="BEGIN without END"):
        make_exercises.replace_regions("### BEGIN SOLUTION\nx = 1", "solution", [], "t")


@pytest.mark.parametrize("path", notebooks("solutions"), ids=rel)
def test_solution_metadata_matches_the_checks(path):
    nb = read(path)
    chapter = chapter_number(path)
    grade_ids = [nbgrader(c)["grade_id"] for c in nb.cells if "grade_id" in nbgrader(c)]
    assert len(grade_ids) == len(set(grade_ids)), "grade_id must be unique"
    found = {}
    for cell in graded_cells(nb):
        meta = nbgrader(cell)
        match = CHECK_CALL.match(cell.source.strip().splitlines()[0])
        assert match, f"a graded cell starts with check(\"ex-..\", function): {cell.source!r}"
        ex = EXERCISES[match["id"]]
        assert meta["grade_id"] == ex.id and meta["points"] == ex.points and meta["locked"]
        assert match["fn"] == ex.function
        hidden = f'### BEGIN HIDDEN TESTS\nfrom attnbook.grading import grade; grade("{ex.id}")\n### END HIDDEN TESTS'
        assert hidden in cell.source, f"{ex.id}: the check cell ends with the hidden grade() test"
        found[ex.id] = ex
    expected = {i for i, ex in EXERCISES.items() if ex.chapter == chapter}
    assert set(found) == expected, "every exercise of the chapter has exactly one check cell"
    assert 3 <= len(found) <= 6
    for cell in nb.cells:
        if nbgrader(cell).get("solution"):
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        assert "raises-exception" not in cell.metadata.get("tags", []), "solutions must run clean"


@pytest.mark.parametrize("path", notebooks("chapters"), ids=rel)
def test_chapter_shape(path):
    nb = read(path)
    first = nb.cells[0].source
    assert first.startswith(f"# {chapter_number(path)}. ")
    assert "**Learning objectives.**" in first and "**Time:**" in first
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Summary" in text
    assert f"../exercises/{path.name}" in text, "the chapter links to its exercises"
    for cell in nb.cells:
        assert "raises-exception" not in cell.metadata.get("tags", []), "chapters must run clean"


def saved_definitions():
    """(notebook, module, name, source) for every definition in a '# saved in attnbook/...' cell."""
    found = []
    for path in notebooks("chapters"):
        for cell in read(path).cells:
            lines = cell.source.splitlines()
            if cell.cell_type != "code" or not lines or not SAVED.match(lines[0]):
                continue
            module = "attnbook." + SAVED.match(lines[0])["module"].replace("/", ".")
            tree = ast.parse(cell.source)
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                    source = "\n".join(lines[first - 1:node.end_lineno])  # whole lines: trailing comments too
                    found.append((rel(path), module, node.name, source))
    return found


@pytest.mark.parametrize("notebook,module,name,source", saved_definitions(),
                         ids=lambda v: v if isinstance(v, str) and "\n" not in v else "")
def test_chapter_code_is_the_package_code(notebook, module, name, source):
    """d2l's #@save, done simply: what the chapter shows is what the package runs."""
    package_source = inspect.getsource(getattr(importlib.import_module(module), name)).rstrip()
    assert source.rstrip() == package_source, f"{notebook} shows a different {module}.{name}"


def test_every_chapter_saves_code():
    assert {n for n, *_ in saved_definitions()} == {rel(p) for p in notebooks("chapters")}


def test_table_of_contents_lists_every_notebook():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {entry["file"] for part in toc["parts"] for entry in part["chapters"]}
    for path in ALL:
        assert str(path.relative_to(ROOT).with_suffix("")) in files, f"{rel(path)} is not in _toc.yml"
