"""The notebook time budget really fails a notebook that runs too long."""

import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from notebooks import ROOT

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("budget,probe,expect_failure", [
    (0.5, None, True), (120, None, False),
    # a machine much faster than the budgets': never a shorter budget
    (1.5, 1e6, True),
    # a machine far slower than the budgets' (no probe takes 1e-6 s): the budget grows, but
    # only MAX_SCALE times
    (1.5, 1e-6, False), (0.5, 1e-6, True)])
def test_budget(pytester, budget, probe, expect_failure):
    shutil.copy(ROOT / "conftest.py", pytester.path / "conftest.py")
    machine = "" if probe is None else f"[tool.attnbook.machine]\nprobe-seconds = {probe}\n"
    (pytester.path / "pyproject.toml").write_text(
        f"{machine}[tool.attnbook.notebook-budgets]\ndefault = 60\n\"slow.ipynb\" = {budget}\n")
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("import time; time.sleep(1.0)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, pytester.path / "slow.ipynb")
    result = pytester.runpytest_subprocess("--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
                                           "slow.ipynb")
    if expect_failure:
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines([f"*slow.ipynb took * s, over its budget of {budget} s*"])
        if probe == 1e-6:
            result.stdout.fnmatch_lines(["* x 3.00 for this machine's speed today (probe *"])
    else:
        result.assert_outcomes(passed=2)
