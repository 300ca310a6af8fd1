"""Time budgets for the notebooks that nbval executes.

Each notebook must run within its budget (``[tool.attnbook.notebook-budgets]`` in
pyproject.toml, in seconds, kernel start included). The last cell of a notebook that ran
too long fails with the measured time, so the book stays fast on a 2-core laptop.
The measured times are printed at the end of the run.
"""

import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_BUDGETS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["attnbook"]["notebook-budgets"]
_started: dict[str, float] = {}
_elapsed: dict[str, float] = {}
_last_item: dict[str, str] = {}


def budget_for(notebook: str) -> float:
    return float(_BUDGETS.get(notebook, _BUDGETS["default"]))


def _notebook_of(item):
    path = Path(str(item.path))
    return str(path.relative_to(ROOT)) if path.suffix == ".ipynb" else None


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        notebook = _notebook_of(item)
        if notebook:
            _last_item[notebook] = item.nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    notebook = _notebook_of(item)
    if notebook and notebook not in _started:
        _started[notebook] = time.perf_counter()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    notebook = _notebook_of(item)
    if not notebook or call.when != "call" or _last_item.get(notebook) != item.nodeid:
        return
    elapsed = time.perf_counter() - _started[notebook]
    _elapsed[notebook] = elapsed
    report = outcome.get_result()
    if elapsed > budget_for(notebook) and report.outcome == "passed":
        report.outcome = "failed"
        report.longrepr = (f"{notebook} took {elapsed:.1f} s, over its budget of {budget_for(notebook):g} s "
                           f"(pyproject.toml, [tool.attnbook.notebook-budgets])")


def pytest_terminal_summary(terminalreporter):
    if _elapsed:
        terminalreporter.section("notebook times (budget)")
        for notebook, seconds in sorted(_elapsed.items()):
            terminalreporter.write_line(f"{seconds:7.1f} s  ({budget_for(notebook):g} s)  {notebook}")
