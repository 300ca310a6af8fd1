"""The book's execution cache: filled by the tests, dropped when the package changes.

    python tools/book_cache.py fill DIR     # cache the notebooks the tests executed into DIR
    python tools/book_cache.py refresh      # drop the cache if src/ changed since it was filled

The build (`jupyter-book build`, execute_notebooks: cache) keys its cache by each notebook's
code, so it would not notice a change in the package the notebooks import: `refresh` drops the
whole cache when any file under src/ or tools/ipython/, or pyproject.toml, differs from when the cache was filled.

`fill` takes the executed copies of the notebooks that the tests ran through without a failure
(written with ATTNBOOK_EXECUTED=DIR, see conftest.py) and caches each under its source notebook,
so that the build right after the tests renders them instead of running them a second time. A
notebook whose source changed since it was executed is left out.
"""

import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"
STAMP = "attnbook-sources.sha256"


def sources_hash() -> str:
    digest = hashlib.sha256()
    paths = sorted((ROOT / "src").rglob("*.py")) + sorted((ROOT / "tools" / "ipython").glob("*.py"))
    for path in paths + [ROOT / "pyproject.toml"]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def refresh(cache_path: Path = CACHE) -> None:
    stamp = cache_path / STAMP
    if cache_path.exists() and (not stamp.exists() or stamp.read_text() != sources_hash()):
        shutil.rmtree(cache_path)
        print(f"dropped {cache_path.relative_to(ROOT)}: the package changed since it was filled")


def fill(directory, cache_path: Path = CACHE) -> None:
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    refresh(cache_path)
    directory = Path(directory)
    cache = get_cache(str(cache_path))
    cached = 0
    for executed in sorted(directory.rglob("*.ipynb")):
        source = ROOT / executed.relative_to(directory)
        if not source.exists():
            continue
        nb = nbformat.read(executed, as_version=4)
        _, wanted = cache.create_hashed_notebook(nbformat.read(source, as_version=4))
        _, have = cache.create_hashed_notebook(nb)
        if wanted != have:
            print(f"skipped {source.relative_to(ROOT)}: changed since it was executed")
            continue
        timing = executed.with_suffix(".json")
        data = json.loads(timing.read_text()) if timing.exists() else {}
        cache.cache_notebook_bundle(CacheBundleIn(nb, str(source), data=data),
                                    check_validity=False, overwrite=True)
        cached += 1
    (cache_path / STAMP).write_text(sources_hash())
    print(f"cached {cached} executed notebooks in {cache_path.relative_to(ROOT)}")


if __name__ == "__main__":
    command, *args = sys.argv[1:] or ["refresh"]
    {"fill": fill, "refresh": refresh}[command](*args)
