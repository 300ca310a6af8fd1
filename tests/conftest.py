import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # checkkit
sys.path.insert(0, str(ROOT / "tools"))                     # make_exercises


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for every browser test of a session (Playwright's sync API allows one
    per thread, so the book's tests and the explorer's share it), launched as test_book.py says."""
    from test_book import CHROMIUM, FLAGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()
