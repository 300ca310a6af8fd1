"""The bibliography parses as sphinxcontrib-bibtex reads it, once per key,
and every citation of the book names an entry of it."""

import json
import re

import pybtex.database
import pybtex.errors

from notebooks import ROOT

CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


def cited_keys():
    """Every key cited in the book's notebooks and pages, with where."""
    found = {}
    for path in sorted(ROOT.glob("*.md")) + sorted(ROOT.glob("*/*.ipynb")):
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            text = "\n".join("".join(c["source"]) for c in cells
                             if c["cell_type"] == "markdown")
        else:
            text = path.read_text()
        for match in CITE.finditer(text):
            for key in match.group(1).split(","):
                found.setdefault(key.strip(), path.name)
    return found


def test_the_bibliography_parses_with_each_key_once():
    pybtex.errors.set_strict_mode(True)  # a duplicate key is an error
    data = pybtex.database.parse_file(str(ROOT / "references.bib"))
    entries = (ROOT / "references.bib").read_text().count("\n@") + 1
    assert len(data.entries) == entries, "an entry did not parse"


def test_every_citation_names_an_entry():
    data = pybtex.database.parse_file(str(ROOT / "references.bib"))
    missing = {k: where for k, where in cited_keys().items()
               if k not in data.entries}
    assert cited_keys(), "the book cites its sources"
    assert not missing, f"cited but not in references.bib: {missing}"
