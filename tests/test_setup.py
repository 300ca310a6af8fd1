"""What the set-up installs: pyproject.toml's ranges, and constraints.txt, the versions tested."""

import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version

from packaging.requirements import Requirement

from notebooks import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
REQUIREMENTS = [Requirement(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]]
CONSTRAINTS = {
    line.split("==")[0].lower().replace("_", "-"): line.split("==")[1].strip()
    for line in (ROOT / "constraints.txt").read_text().splitlines()
    if line and not line.startswith("#")
}


def test_only_torch_is_pinned():
    pinned = [r.name for r in REQUIREMENTS if any(s.operator == "==" for s in r.specifier)]
    assert pinned == ["torch"]
    for r in REQUIREMENTS:
        assert r.specifier, f"{r.name}: give a range"


def test_the_licence_is_an_spdx_expression():
    assert PROJECT["license"] == "MIT"


def test_constraints_hold_every_requirement_within_its_range():
    for r in REQUIREMENTS:
        if r.name == "torch":
            continue
        name = r.name.lower().replace("_", "-")
        assert name in CONSTRAINTS, f"{r.name} is missing from constraints.txt"
        assert r.specifier.contains(CONSTRAINTS[name]), f"{r.name} {CONSTRAINTS[name]} outside {r.specifier}"


def test_the_environment_is_what_constraints_txt_records():
    """The tests ran with exactly these versions (make setup installs with the constraints)."""
    different = {}
    for name, wanted in CONSTRAINTS.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # a package another platform needs
        if installed != wanted:
            different[name] = (wanted, installed)
    assert not different, f"constraints.txt and the environment differ: {different}"


GROUPED = '''import pytest

PAGES = ["a.html", "b.html"]


@pytest.mark.parametrize("page", [pytest.param(p, marks=pytest.mark.xdist_group(p), id=p)
                                  for p in PAGES])
@pytest.mark.parametrize("rule", range(4))
def test_rule(rule, page):
    pass
'''


def test_loadgroup_keeps_a_pages_tests_in_one_worker(tmp_path):
    """The built-book tests open each page once per worker (`by_page` in test_book.py). That
    holds only if `--dist loadgroup` sends all of a page's tests to the same worker, which
    pytest 9.2 with pytest-xdist 3.8 no longer does (no error, just twice the page loads)."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v",
                           "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers = {}
    for worker, page in re.findall(r"\[(gw\d)\].*PASSED .*test_rule\[\d-([ab]\.html)\]", done.stdout):
        workers.setdefault(page, set()).add(worker)
    assert sorted(workers) == ["a.html", "b.html"], done.stdout[-2000:]
    assert all(len(w) == 1 for w in workers.values()), f"a page's tests ran in several workers: {workers}"


def test_make_test_starts_the_longest_files_first():
    """conftest.py orders the collected files by their expected time (a notebook's budget, the
    slow test files pyproject.toml lists), longest first; each file's tests stay together and in
    their order, and the quick files keep the order pytest found them in."""
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval-lax",
                           "tests/test_attention.py", "chapters", "tests/test_verdicts.py",
                           "tests/test_grading_e2e.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    files = [f for i, f in enumerate(f.split("::")[0] for f in ids)
             if i == 0 or f != ids[i - 1].split("::")[0]]
    assert len(files) == len(set(files)), f"a file's tests were split: {files}"
    assert files == ["chapters/07_translation.ipynb", "tests/test_grading_e2e.py",
                     "chapters/09_tiny_gpt.ipynb", "chapters/11_listening.ipynb",
                     "tests/test_verdicts.py", "chapters/10_tiny_bert.ipynb",
                     "chapters/06_transformer_block.ipynb", "tests/test_attention.py",
                     *(f"chapters/{n}" for n in ["01_smart_highlighter.ipynb", "02_soft_lookup.ipynb",
                                                 "03_scaled_dot_product.ipynb",
                                                 "04_self_attention_positions.ipynb",
                                                 "05_multi_head.ipynb", "08_attention_at_scale.ipynb"])]
    cells = [int(i.rsplit("Cell ", 1)[1]) for i in ids if i.startswith("chapters/07_translation.ipynb::")]
    assert cells == list(range(len(cells)))
