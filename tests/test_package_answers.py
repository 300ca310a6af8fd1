"""What the chapter shows passes what the exercise asks: every object of the package that has the
name an exercise asks for (the chapter's own code) passes that exercise's check, called the way
the check calls a learner's answer. Exercises that forbid the package's own helper are skipped:
there the learner must write it without them."""

import importlib
import pkgutil

import pytest

import attnbook
from attnbook.checks import EXERCISES
from checkkit import run_check

MODULES = [m.name for m in pkgutil.iter_modules(attnbook.__path__) if m.name not in ("checks", "grading")]


def package_objects():
    found = []
    for name in MODULES:
        module = importlib.import_module(f"attnbook.{name}")
        for ex_id, ex in EXERCISES.items():
            obj = getattr(module, ex.function, None)
            if obj is not None and getattr(obj, "__module__", None) == module.__name__:
                found.append((ex_id, f"attnbook.{name}.{ex.function}"))
    return found


@pytest.mark.parametrize("ex_id,dotted", package_objects())
def test_the_package_passes_its_own_exercise(ex_id, dotted):
    ex = EXERCISES[ex_id]
    if dotted in ex.forbidden:
        pytest.skip("the exercise forbids the package's own version")
    module_name, name = dotted.rsplit(".", 1)
    printed = run_check(ex_id, getattr(importlib.import_module(module_name), name))
    assert printed.startswith("\u2714"), printed
