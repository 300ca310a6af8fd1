"""The notebook time budget really fails a notebook that runs too long."""

import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from notebooks import ROOT

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("budget,expect_failure", [(0.5, True), (120, False)])
def test_budget(pytester, budget, expect_failure):
    shutil.copy(ROOT / "conftest.py", pytester.path / "conftest.py")
    (pytester.path / "pyproject.toml").write_text(
        f"[tool.attnbook.notebook-budgets]\ndefault = {budget}\n")
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("import time; time.sleep(1.0)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, pytester.path / "slow.ipynb")
    result = pytester.runpytest_subprocess("--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
                                           "slow.ipynb")
    if expect_failure:
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(["*slow.ipynb took * s, over its budget of 0.5 s*"])
    else:
        result.assert_outcomes(passed=2)
