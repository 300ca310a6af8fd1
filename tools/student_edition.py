"""Build the student edition of the book: the same book without the Solutions part.

    python tools/student_edition.py     # -> _build/student/_build/html   (make student-book)

It writes a table of contents without the parts named in DROP and builds with it; the
notebooks' outputs come from the execution cache that `make book` filled, so nothing runs twice.
"""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DROP = {"Solutions"}
OUT = ROOT / "_build" / "student"


def student_toc() -> dict:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    toc["parts"] = [part for part in toc["parts"] if part.get("caption") not in DROP]
    return toc


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    toc_path = OUT / "_toc.yml"
    toc_path.write_text(yaml.safe_dump(student_toc(), sort_keys=False), encoding="utf-8")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    return subprocess.call([str(jupyter_book), "build", str(ROOT), "--toc", str(toc_path),
                            "--path-output", str(OUT), "--all", "-W", "--keep-going"])


if __name__ == "__main__":
    sys.exit(main())
