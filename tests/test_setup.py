"""What the set-up installs: pyproject.toml's ranges, and constraints.txt, the versions tested."""

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
