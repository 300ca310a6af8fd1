"""Time budgets for the notebooks that nbval executes.

Each notebook must run within its budget (``[tool.attnbook.notebook-budgets]`` in
pyproject.toml, in seconds, kernel start included). The last cell of a notebook that ran
too long fails with the measured time, so the book stays fast on a 2-core laptop.
The measured times are printed at the end of the run.

The budgets were set on a machine whose speed probe (``speed_probe``: a small PyTorch
training loop, the kind of work the chapters do) took ``[tool.attnbook.machine]
probe-seconds``. A machine that runs slower today (a busy host, another job on the other
core) gets budgets longer in proportion, never shorter: the probe runs before and after
each notebook that has a budget of its own, and the budget is multiplied by
max(1, their mean / probe-seconds), at most by MAX_SCALE.
"""

import os
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_SETTINGS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["attnbook"]
_BUDGETS = _SETTINGS["notebook-budgets"]
_PROBE = _SETTINGS.get("machine", {}).get("probe-seconds")
_SLOW_TESTS = _SETTINGS.get("slow-tests", {})
#: A budget grows at most this much on a slow machine.
MAX_SCALE = 3.0
_started: dict[str, float] = {}
_probes: dict[str, list[float]] = {}
_elapsed: dict[str, float] = {}
_last_item: dict[str, str] = {}
_scales: dict[str, float] = {}


def statistics_of(notebook: str) -> str:
    probes = ", ".join(f"{p:.3f}" for p in _probes.get(notebook, []))
    return f"{probes} s against {_PROBE:g} s"


def budget_for(notebook: str) -> float:
    return float(_BUDGETS.get(notebook, _BUDGETS["default"]))


def speed_probe() -> float:
    """Seconds for a fixed piece of work: 300 steps of training a small
    two-layer network with AdamW on one thread (the median of 3 runs)."""
    import statistics

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        for _ in range(3):
            gen = torch.Generator().manual_seed(0)
            x = torch.randn(256, 64, generator=gen)
            w1 = torch.randn(64, 128, generator=gen).requires_grad_()
            w2 = torch.randn(128, 64, generator=gen).requires_grad_()
            opt = torch.optim.AdamW([w1, w2], lr=1e-3)
            start = time.perf_counter()
            for _ in range(300):
                loss = (torch.relu(x @ w1) @ w2 - x).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        torch.set_num_threads(threads)


def _probed(notebook: str) -> bool:
    return _PROBE is not None and notebook in _BUDGETS


def scale_for(notebook: str) -> float:
    """How much longer than its budget this machine gives the notebook."""
    probes = _probes.get(notebook, [])
    if not _probed(notebook) or not probes:
        return 1.0
    return min(MAX_SCALE, max(1.0, sum(probes) / len(probes) / _PROBE))


def _notebook_of(item):
    path = Path(str(item.path))
    return str(path.relative_to(ROOT)) if path.suffix == ".ipynb" else None


def expected_seconds(path: str) -> float:
    """About how long a file's tests take under ``make test``: a notebook's
    own budget is about 1.5 times its time; ``[tool.attnbook.slow-tests]``
    lists the slow test files. Other files count as quick (0)."""
    if path in _BUDGETS and path != "default":
        return float(_BUDGETS[path]) / 1.5
    return float(_SLOW_TESTS.get(path, 0))


def pytest_collection_modifyitems(session, config, items):
    # Longest files first, each file's tests kept together and in order: with
    # workers (`--dist loadfile --no-loadscope-reorder`), the long ones start
    # at once and the many short ones fill the gaps at the end.
    files = {}
    for item in items:
        files.setdefault(_file_of(item), len(files))
    items.sort(key=lambda item: (-expected_seconds(_file_of(item)), files[_file_of(item)]))
    for item in items:
        notebook = _notebook_of(item)
        if notebook:
            _last_item[notebook] = item.nodeid


def _file_of(item) -> str:
    path = Path(str(item.path))
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    notebook = _notebook_of(item)
    if notebook and notebook not in _started:
        if _probed(notebook):
            _probes[notebook] = [speed_probe()]
        _started[notebook] = time.perf_counter()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    notebook = _notebook_of(item)
    if notebook and _EXECUTED and outcome.get_result().failed:
        _recording(item.parent)["failed"] = True
    if not notebook or call.when != "call" or _last_item.get(notebook) != item.nodeid:
        return
    elapsed = time.perf_counter() - _started[notebook]
    if _probed(notebook):
        _probes[notebook].append(speed_probe())
    _elapsed[notebook] = elapsed
    _scales[notebook] = scale = scale_for(notebook)
    report = outcome.get_result()
    if elapsed > budget_for(notebook) * scale and report.outcome == "passed":
        report.outcome = "failed"
        slower = "" if scale == 1 else (
            f" x {scale:.2f} for this machine's speed today (probe {statistics_of(notebook)})")
        report.longrepr = (f"{notebook} took {elapsed:.1f} s, over its budget of {budget_for(notebook):g} s"
                           f"{slower} (pyproject.toml, [tool.attnbook.notebook-budgets])")
    if _EXECUTED and report.outcome == "passed":
        _write_executed(item, elapsed)


def pytest_terminal_summary(terminalreporter):
    elapsed = dict(_elapsed)
    if _EXECUTED and Path(_EXECUTED).exists():  # with workers, each wrote its own times there
        import json

        for timing in Path(_EXECUTED).rglob("*.json"):
            notebook = str(timing.relative_to(_EXECUTED).with_suffix(".ipynb"))
            record = json.loads(timing.read_text())
            elapsed.setdefault(notebook, record["execution_seconds"])
            _scales.setdefault(notebook, record.get("scale", 1.0))
            if record.get("probes"):
                _probes.setdefault(notebook, record["probes"])
    if elapsed:
        terminalreporter.section("notebook times (budget)")
        for notebook, seconds in sorted(elapsed.items()):
            scale = _scales.get(notebook, 1.0)
            note = f" x {scale:.2f}, probe {statistics_of(notebook)}" if _probes.get(notebook) else ""
            terminalreporter.write_line(f"{seconds:7.1f} s  ({budget_for(notebook):g} s{note})  {notebook}")


# --------------------------------------------------------------------------- executed notebooks
# With ATTNBOOK_EXECUTED=DIR, every notebook that nbval runs through without a failure is also
# written to DIR (same relative path) with its outputs, as Jupyter would save it; then
# `python tools/executed_to_cache.py DIR` puts them in the book's execution cache, so the book
# build that follows renders them instead of running every notebook a second time.

_EXECUTED = os.environ.get("ATTNBOOK_EXECUTED")
_runs: dict[str, dict] = {}


def _recording(nbfile) -> dict:
    return _runs.setdefault(str(nbfile.fspath), {"msg_ids": [], "messages": {}, "failed": False})


if _EXECUTED:
    from nbval.plugin import IPyNbFile

    _setup, _get_message = IPyNbFile.setup, IPyNbFile.get_kernel_message

    def _setup_and_record(self):
        _setup(self)
        run, execute = _recording(self), self.kernel.execute_cell_input

        def execute_and_record(*args, **kwargs):
            msg_id = execute(*args, **kwargs)
            run["msg_ids"].append(msg_id)
            return msg_id

        self.kernel.execute_cell_input = execute_and_record

    def _get_message_and_record(self, timeout=None, stream="iopub"):
        msg = _get_message(self, timeout=timeout, stream=stream)
        if stream == "iopub":
            parent = msg.get("parent_header", {}).get("msg_id")
            _recording(self)["messages"].setdefault(parent, []).append(msg)
        return msg

    IPyNbFile.setup, IPyNbFile.get_kernel_message = _setup_and_record, _get_message_and_record


def _outputs(messages, displays):
    """A cell's outputs from its iopub messages, as Jupyter builds them."""
    from nbformat.v4 import output_from_msg

    outputs, clear_next = [], False
    for msg in messages:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "clear_output":
            if content.get("wait"):
                clear_next = True
            else:
                outputs.clear()
            continue
        if kind == "update_display_data":
            for out in displays.get(content.get("transient", {}).get("display_id"), []):
                out["data"], out["metadata"] = content["data"], content["metadata"]
            continue
        if kind not in ("stream", "display_data", "execute_result", "error"):
            continue
        if clear_next:
            outputs.clear()
            clear_next = False
        if kind == "stream" and outputs and outputs[-1].get("output_type") == "stream" \
                and outputs[-1]["name"] == content["name"]:
            outputs[-1]["text"] += content["text"]
            continue
        out = output_from_msg(msg)
        display_id = content.get("transient", {}).get("display_id")
        if display_id:
            displays.setdefault(display_id, []).append(out)
        outputs.append(out)
    return outputs


def _write_executed(item, elapsed):
    import copy
    import json

    import nbformat

    run = _runs.get(str(item.parent.fspath))
    if not run or run["failed"]:
        return
    nb = copy.deepcopy(item.parent.nb)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    if len(cells) != len(run["msg_ids"]):
        return  # a cell was skipped: not what Jupyter would have run
    displays = {}
    for count, (cell, msg_id) in enumerate(zip(cells, run["msg_ids"]), start=1):
        cell.outputs = _outputs(run["messages"].get(msg_id, []), displays)
        cell.execution_count = count
    target = Path(_EXECUTED) / _notebook_of(item)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    target.with_suffix(".json").write_text(json.dumps({
        "execution_seconds": elapsed, "scale": _scales.get(_notebook_of(item), 1.0),
        "probes": _probes.get(_notebook_of(item), [])}))
