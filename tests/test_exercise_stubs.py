"""With the stubs untouched, every graded cell of every exercise notebook really fails.

nbval's ``raises-exception`` tag only means "may raise"; this test runs each exercise notebook
top to bottom and reads every cell's output: each graded check says "not attempted yet" in one
short line, and nothing else fails except cells that use the learner's answers.
"""

import nbclient
import pytest

from notebooks import ROOT, graded_cells, notebooks, read, rel


@pytest.fixture(scope="module", params=notebooks("exercises"), ids=rel)
def executed(request):
    nb = read(request.param)
    client = nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300,
                                     resources={"metadata": {"path": str(ROOT / "exercises")}})
    client.execute()
    return nb


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def test_every_graded_cell_says_not_attempted(executed):
    graded = graded_cells(executed)
    assert graded
    for cell in graded:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        [error] = errors(cell)
        assert error.ename == "NotAttempted", f"{grade_id}: {error.ename}: {error.evalue}"
        assert len(error.traceback) <= 2, "a short message, not a traceback"
        assert all(len(line) <= 79 for line in error.traceback), "wrapped to the page"
        assert error.traceback[0].startswith(f"\u2718 {grade_id}: not attempted yet")


def test_nothing_else_fails(executed):
    for cell in executed.cells:
        if cell.cell_type != "code" or cell in graded_cells(executed):
            continue
        if "uses-answers" in cell.metadata.get("tags", []):
            assert all(e.ename == "NotImplementedError" for e in errors(cell))
            for error in errors(cell):  # one short line, as the book's pages show it
                assert len(error.traceback) <= 2 and error.traceback[0].startswith("\u2718 not attempted yet")
        else:
            assert not errors(cell), f"unexpected error in:\n{cell.source}"
