"""Hints run as written in the exercise notebook.

A learner reads a hint in the exercise notebook, where only that notebook's imports and the
learner's own functions exist. So:

- every book function or class that a hint names (a name with an underscore, or a name followed
  by "(") must exist there;
- a hint that is code (:class:`attnbook.checks.Code`) is put in place of the exercise's function
  (or method) in a fresh copy of the notebook's code, and passes the check.
"""

import ast
import builtins
import importlib
import io
import pkgutil
import re
import textwrap
from contextlib import redirect_stdout

import pytest

import attnbook
from attnbook.checks import EXERCISES, Code
from notebooks import chapter_number, nbgrader, notebooks, read

SOLUTIONS = {chapter_number(p): p for p in notebooks("solutions")}
NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(?=\s*\()|(?<![\w.])([A-Za-z]\w*_\w*)")


def book_names():
    names = set()
    for m in pkgutil.iter_modules(attnbook.__path__):
        if m.name in ("checks", "grading"):
            continue
        module = importlib.import_module(f"attnbook.{m.name}")
        names |= {k for k, v in vars(module).items()
                  if not k.startswith("_") and callable(v) and getattr(v, "__module__", "") == module.__name__}
    for path in SOLUTIONS.values():
        for cell in read(path).cells:
            if cell.cell_type == "code" and nbgrader(cell).get("solution"):
                names |= {n.name for n in ast.parse(cell.source).body
                          if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return names


BOOK_NAMES = book_names()


def notebook_cells(chapter):
    """The code a learner's exercise notebook runs before the checks: set-up and answer cells."""
    nb = read(SOLUTIONS[chapter])
    return [c for c in nb.cells if c.cell_type == "code" and "grade_id" in nbgrader(c)
            and not nbgrader(c).get("grade")]


def namespace(chapter, replace=None):
    """Run the notebook's set-up and answer cells; ``replace`` maps a grade_id to new source."""
    ns = {"__name__": "__main__"}
    for cell in notebook_cells(chapter):
        source = (replace or {}).get(nbgrader(cell)["grade_id"], cell.source)
        with redirect_stdout(io.StringIO()):
            exec(compile(source, f"<{nbgrader(cell)['grade_id']}>", "exec"), ns)
    return ns


def hints_of(chapter):
    return [(ex_id, i) for ex_id, ex in EXERCISES.items() if ex.chapter == chapter for i in range(len(ex.hints))]


PARAMS = [(ex_id, i) for chapter in SOLUTIONS for ex_id, i in hints_of(chapter)]


@pytest.fixture(scope="module")
def namespaces():
    return {}


@pytest.mark.parametrize("ex_id,index", PARAMS)
def test_a_hint_names_only_what_the_notebook_has(ex_id, index, namespaces):
    ex = EXERCISES[ex_id]
    if ex.chapter not in namespaces:
        namespaces[ex.chapter] = namespace(ex.chapter)
    ns = namespaces[ex.chapter]
    text = str(ex.hints[index])
    named = {a or b for a, b in NAME.findall(text)} & BOOK_NAMES
    missing = sorted(n for n in named if n not in ns and not hasattr(builtins, n))
    assert not missing, (f"{ex_id} hint {index + 1} names {missing}, which the exercise notebook "
                         f"neither defines nor imports: {text!r}")


def with_body(source, function, body, method=None):
    """``source`` with the body of ``function`` (or of its method ``method``) replaced by ``body``."""
    tree = ast.parse(source)
    target = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == function)
    if method is not None:
        target = next(n for n in target.body if isinstance(n, ast.FunctionDef) and n.name == method)
    new_body = ast.parse(textwrap.dedent(body)).body
    doc = target.body[0] if (target.body and isinstance(target.body[0], ast.Expr)
                             and isinstance(getattr(target.body[0], "value", None), ast.Constant)) else None
    target.body = ([doc] if doc else []) + new_body
    return ast.unparse(tree)


CODE_HINTS = [(ex_id, i) for ex_id, i in PARAMS if isinstance(EXERCISES[ex_id].hints[i], Code)]


@pytest.mark.parametrize("ex_id,index", CODE_HINTS)
def test_a_code_hint_passes_the_check_in_the_notebook(ex_id, index):
    ex = EXERCISES[ex_id]
    hint = ex.hints[index]
    answer_cell = next(c for c in notebook_cells(ex.chapter) if nbgrader(c)["grade_id"] == f"{ex_id}-answer")
    source = with_body(answer_cell.source, ex.function, hint.body, hint.method)
    ns = namespace(ex.chapter, replace={f"{ex_id}-answer": source})
    with redirect_stdout(io.StringIO()) as out:
        ex.run(ns[ex.function])
    assert out.getvalue().startswith("\u2714")


def test_the_code_hint_test_runs_the_hint(monkeypatch):
    """The machinery above on a hint written here: right code passes, wrong code fails."""
    ex = EXERCISES["ex-01-3"]
    right = Code("return softmax_with_temperature(np.asarray(keys) @ np.asarray(query), temperature)")
    monkeypatch.setattr(ex, "hints", ex.hints + [right])
    test_a_code_hint_passes_the_check_in_the_notebook("ex-01-3", len(ex.hints) - 1)
    wrong = Code("return softmax_with_temperature(np.asarray(keys) @ np.asarray(query))")
    monkeypatch.setattr(ex, "hints", ex.hints[:-1] + [wrong])
    with pytest.raises(AssertionError, match="temperature"):
        test_a_code_hint_passes_the_check_in_the_notebook("ex-01-3", len(ex.hints) - 1)
    undefined = "use dot_scores(query, keys)"
    monkeypatch.setattr(ex, "hints", [undefined])
    with pytest.raises(AssertionError, match="dot_scores"):
        test_a_hint_names_only_what_the_notebook_has("ex-01-3", 0, {})
