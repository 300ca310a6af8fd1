"""The built book, opened in a real headless Chromium (Playwright driving Debian's chromium).

Run ``make book`` first (``make test`` does). Every page of the table of contents is loaded over
HTTP from localhost: math typeset by the local MathJax, every image loaded, no failed request,
no script error (the allowed console messages are listed below with their reasons).
"""

import functools
import http.server
import re
import threading
from pathlib import Path

import pytest
import yaml

from notebooks import ROOT

HTML = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

# Console errors that sphinx-book-theme prints on every page, harmless for readers.
ALLOWED_CONSOLE_ERRORS = {
    # the theme reads a colour mode from localStorage, finds none in a fresh profile, and uses "auto"
    r"^Got invalid theme mode",
    # sphinx-thebe's loader script is included twice by the theme; the second declaration is ignored
    r"Identifier 'THEBE_JS_URL' has already been declared",
}


def toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    return [f + ".html" for f in files]


PAGES = toc_pages()


def by_page(pages):
    """Parameters for per-page tests; with workers (`--dist loadgroup`), one page's tests all run in
    the same worker, which loads the page once."""
    return [pytest.param(p, marks=pytest.mark.xdist_group(p), id=p) for p in pages]


@pytest.fixture(scope="session")
def site():
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built: run `make book` (or `make test`, which builds it)")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# The `browser` fixture (one Chromium for the session, launched with FLAGS) is in conftest.py.


class PageLog:
    def __init__(self, page, base):
        self.errors, self.failed, self.bad_status = [], [], []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on("response", lambda r: r.status >= 400 and self.bad_status.append(f"{r.status} {r.url}"))
        page.on("request", lambda r: r.url.startswith(("http:", "https:")) and not r.url.startswith(base)
                and self.failed.append(f"external: {r.url}"))

    def snapshot(self):
        copy = PageLog.__new__(PageLog)
        copy.errors, copy.failed, copy.bad_status = list(self.errors), list(self.failed), list(self.bad_status)
        return copy

    def unexpected_errors(self):
        return [e for e in self.errors if not any(re.search(p, e) for p in ALLOWED_CONSOLE_ERRORS)
                and not e.startswith("Failed to load resource")]  # those are counted via bad_status


#: The reader's window: the book is checked as it looks at this width.
VIEWPORT = {"width": 1280, "height": 900}


def open_page(browser, site, page_path):
    page = browser.new_page(viewport=VIEWPORT)
    log = PageLog(page, site)
    page.goto(f"{site}/{page_path}", wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, log


def typeset(page):
    """Wait for MathJax to finish; return (math elements, typeset containers)."""
    page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)",
                           timeout=60000)
    page.evaluate("() => window.MathJax && window.MathJax.startup.promise")
    return (page.locator(".math").count(), page.locator("mjx-container").count())


_REPORTS = {}

# Images in the page's article: their file, natural width and the width the reader sees.
SHOWN_IMAGES = """() => Array.from(document.querySelectorAll('article img')).map(i =>
    [new URL(i.src).pathname, i.naturalWidth, i.getBoundingClientRect().width])"""
# Code cells, outputs and messages that scroll sideways: wider content than their box.
SIDEWAYS = """() => Array.from(document.querySelectorAll('article pre')).filter(p =>
    p.scrollWidth > p.clientWidth + 1).map(p => [p.scrollWidth, p.clientWidth,
    p.innerText.split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 100)])"""
# The text of every error output (a failed check shows one, a stub's "not attempted yet" too).
ERROR_OUTPUTS = """() => Array.from(document.querySelectorAll('article .output.traceback, article .output.error'))
    .map(e => e.innerText)"""


def page_report(browser, site, page_path):
    """Open a page once; keep what the tests look at (its log, math, images, axe-core's findings)."""
    if page_path not in _REPORTS:
        page, log = open_page(browser, site, page_path)
        math, containers = typeset(page)
        report = {"log": log, "math": math, "containers": containers,
                  "merror": page.locator("mjx-container mjx-merror").count(),
                  "images": page.evaluate(
                      "() => Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])"),
                  "shown": page.evaluate(SHOWN_IMAGES),
                  "sideways": page.evaluate(SIDEWAYS),
                  "errors": page.evaluate(ERROR_OUTPUTS)}
        # snapshot the log first: axe-core re-reads the style sheets itself (its CSSOM preload resolves
        # the theme's @import against the page, not the sheet, and gets 404s that no reader sees)
        report["log"] = log.snapshot()
        page.add_script_tag(content=axe_script())
        report["axe"] = page.evaluate(AXE_RUN, [AXE_TAGS, page_path in CODE_CONTRAST_PAGES])
        page.close()
        _REPORTS[page_path] = report
    return _REPORTS[page_path]


@pytest.mark.parametrize("page_path", by_page(PAGES))
def test_page_loads_cleanly(browser, site, page_path):
    report = page_report(browser, site, page_path)
    if report["math"]:
        assert report["containers"] >= report["math"], f"{report['math']} math elements but only {report['containers']} typeset"
        assert report["merror"] == 0, "MathJax reported a TeX error"
    broken = [src for src, ok in report["images"] if not ok]
    assert not broken, f"images that did not load: {broken}"
    log = report["log"]
    assert not log.failed, f"failed or external requests: {log.failed}"
    assert not log.bad_status, f"HTTP errors: {log.bad_status}"
    assert not log.unexpected_errors(), f"script errors: {log.unexpected_errors()}"


@pytest.mark.parametrize("page_path", by_page(PAGES))
def test_nothing_scrolls_sideways(browser, site, page_path):
    """At a 1280-px window no code cell, output or check message is wider than the page."""
    wide = page_report(browser, site, page_path)["sideways"]
    assert not wide, "scrolls sideways (content px, box px, longest line):\n" + "\n".join(map(str, wide))


@pytest.mark.parametrize("page_path", by_page(PAGES))
def test_figure_text_is_legible(browser, site, page_path):
    """Every figure's smallest text, at the width the page shows it, is at least 9 px."""
    from attnbook.legibility import MIN_TEXT_PX, read_png_text

    small = []
    for path, natural, shown in page_report(browser, site, page_path)["shown"]:
        if not path.endswith(".png") or "/_images/" not in path:
            continue
        recorded = read_png_text((HTML / "_images" / path.split("/_images/", 1)[1]).read_bytes())
        assert recorded, f"{path} does not record its text size (is the build's IPython profile in place?)"
        size_pt, dpi = recorded
        px = size_pt * dpi / 72 * shown / natural
        if px < MIN_TEXT_PX:
            small.append(f"{path}: {size_pt:g}-pt text at {dpi:g} dpi, {natural} px shown at {shown:.0f} px "
                         f"-> {px:.1f} px")
    assert not small, "figure text too small to read:\n" + "\n".join(small)


@pytest.mark.parametrize("page_path", by_page([p for p in PAGES if p.startswith("exercises/")]))
def test_exercise_pages_show_short_messages_not_tracebacks(browser, site, page_path):
    """A learner's stubs: every error output is one or two lines with a cross, never a traceback."""
    errors = page_report(browser, site, page_path)["errors"]
    assert errors, "the exercise page shows its checks' messages"
    for text in errors:
        lines = text.strip().splitlines()
        assert len(lines) <= 2 and lines[0].startswith("\u2718"), f"not a short message: {text[:300]!r}"
        assert "Traceback" not in text


def chapter_pages():
    return [p for p in PAGES if p.startswith("chapters/")]


@pytest.mark.parametrize("page_path", by_page(chapter_pages()))
def test_chapter_has_figures_and_math(browser, site, page_path):
    report = page_report(browser, site, page_path)
    assert report["containers"] > 0, "a chapter has math"
    assert len(report["images"]) >= 1, "a chapter has figures"


def test_highlighted_text_is_shown(browser, site):
    page, _ = open_page(browser, site, "chapters/01_smart_highlighter.html")
    blocks = page.locator(".attnbook-highlight")
    assert blocks.count() >= 4
    words = page.locator(".attnbook-highlight").first.locator(".attnbook-word")
    assert words.count() == 15 and words.nth(8).inner_text() == "jumped"
    # the brightest word has the strongest background
    alphas = page.evaluate(r"""() => Array.from(document.querySelector('.attnbook-highlight')
        .querySelectorAll('.attnbook-word')).map(s => {
        const c = getComputedStyle(s).backgroundColor.match(/[\d.]+/g).map(Number);
        return c.length > 3 ? c[3] : 1; })""")
    assert max(alphas) == alphas[8]
    page.close()


def test_exercises_and_solutions_show_the_checks(browser, site):
    from attnbook.checks import EXERCISES

    ids = [k for k, ex in EXERCISES.items() if ex.chapter == 1]
    page, _ = open_page(browser, site, "exercises/01_smart_highlighter.html")
    assert page.get_by_text(re.compile(r"ex-01-\d: not attempted yet")).count() == len(ids)
    page.close()
    page, _ = open_page(browser, site, "solutions/01_smart_highlighter.html")
    text = page.inner_text("main")
    assert all(f"\u2714 {ex_id}" in text for ex_id in ids)
    assert "not attempted" not in text
    page.close()


def test_search_works_offline(browser, site):
    page, log = open_page(browser, site, "search.html?q=softmax")
    page.wait_for_selector("#search-results li", timeout=15000)
    assert page.locator("#search-results li").count() >= 2
    assert not log.failed
    page.close()


def test_download_button_offers_the_notebook(browser, site):
    page, _ = open_page(browser, site, "chapters/01_smart_highlighter.html")
    links = page.evaluate("() => Array.from(document.querySelectorAll('.dropdown-download-buttons a')).map(a => a.href)")
    notebooks = [l for l in links if l.endswith(".ipynb")]
    assert notebooks, f"no .ipynb download link among {links}"
    page.close()
    path = notebooks[0].split("/", 3)[3]
    assert (HTML / path).exists()


def test_no_page_asks_the_network():
    for html in HTML.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        for match in re.finditer(r'<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"', text):
            pytest.fail(f"{html.relative_to(HTML)} loads {match.group(1)}")
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").exists()


# --------------------------------------------------------------------------- accessibility and links

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# axe-core rules that the theme itself breaks on every page, with the reason they are allowed.
ALLOWED_AXE = {
    # sphinx-book-theme puts the book's title link at the top of the sidebar, outside the <nav>
    # landmark; every other part of the page is inside a landmark (a best practice, not a WCAG rule)
    "region": ".sidebar-primary-item",
}


# Code cells are coloured by one Pygments theme on every page: the contrast of their thousands of
# coloured spans is checked on these pages (a chapter, its exercises and solutions, the instructors'
# page); elsewhere the contrast rule skips code inputs, which halves the time axe takes.
CODE_CONTRAST_PAGES = {"chapters/07_translation.html", "exercises/07_translation.html",
                       "solutions/07_translation.html", "instructors.html"}
# Only violations are reported in full (`resultTypes`): axe then skips building the selectors of
# every node that passed, a quarter of its time on a chapter's page; the rules and their findings
# are the same.
AXE_RUN = """async ([tags, code]) => {
    const only = {resultTypes: ['violations']};
    const rest = await axe.run(document, {...only, runOnly: {type: 'tag', values: tags},
                                          rules: {'color-contrast': {enabled: false}}});
    const contrast = await axe.run(code ? document : {exclude: [['.cell_input pre']]},
                                   {...only, runOnly: {type: 'rule', values: ['color-contrast']}});
    return {violations: rest.violations.concat(contrast.violations)};
}"""


def axe_script():
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def axe_problems(result):
    """axe-core's violations as lines, but for the nodes ALLOWED_AXE lets through."""
    problems = []
    for violation in result["violations"]:
        allowed = ALLOWED_AXE.get(violation["id"])
        nodes = [n for n in violation["nodes"] if not (allowed and any(allowed in t for t in n["target"]))]
        problems += [f"{violation['id']} ({violation['help']}): {n['html'][:120]}" for n in nodes]
    return problems


# A page that breaks two rules: a picture without alt text, and pale text in prose and in code.
BROKEN_PAGE = """<!DOCTYPE html><html lang="en"><head><title>broken</title></head><body><main>
<h1>broken</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="10" height="10">
<p style="color: #c8c8c8; background: #ffffff">pale prose</p>
<div class="cell_input"><pre style="color: #c8c8c8; background: #ffffff">pale code</pre></div>
</main></body></html>"""


def test_axe_run_reports_what_a_page_breaks(browser):
    """AXE_RUN as every page gets it finds the missing alt text and the pale prose; the pale code
    only on the pages whose code is checked."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_content(BROKEN_PAGE)
    page.add_script_tag(content=axe_script())
    for code, pale in ((False, ["pale prose"]), (True, ["pale prose", "pale code"])):
        violations = page.evaluate(AXE_RUN, [AXE_TAGS, code])["violations"]
        assert {v["id"] for v in violations} == {"image-alt", "color-contrast"}
        contrast = next(v for v in violations if v["id"] == "color-contrast")
        assert [re.sub(r"<[^>]+>", "", n["html"]) for n in contrast["nodes"]] == pale
        assert all(n["target"] for v in violations for n in v["nodes"])
    page.close()


@pytest.mark.parametrize("page_path", by_page(PAGES))
def test_page_passes_axe(browser, site, page_path):
    problems = axe_problems(page_report(browser, site, page_path)["axe"])
    assert not problems, "accessibility problems:\n" + "\n".join(problems)


def main_html(page_path):
    text = (HTML / page_path).read_text(encoding="utf-8")
    start = text.index('<article class="bd-article"')
    return text[start:text.index("</article>", start)]


@pytest.mark.parametrize("page_path", by_page(PAGES))
def test_figures_have_alt_text_and_headings_are_in_order(page_path):
    html = main_html(page_path)
    for img in re.findall(r"<img [^>]*>", html):
        alt = re.search(r'alt="([^"]*)"', img)
        assert alt and len(alt.group(1)) > 15 and not re.search(r"\.(png|svg|jpe?g)$", alt.group(1)), (
            f"a figure without a description (set the cell's mystnb.image.alt): {img[:160]}")
    levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", html)]
    assert levels and levels[0] == 1 and levels.count(1) == 1, f"one h1 first, got {levels}"
    jumps = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert not jumps, f"headings skip a level: {jumps}"


class LinkParser(__import__("html.parser").parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        url = attrs.get("href") if tag in ("a", "link") else attrs.get("src") if tag in ("img", "script") else None
        if url and not url.startswith(("http:", "https:", "mailto:", "data:", "javascript:")):
            self.links.append(url)


def parse(path, cache={}):
    if path not in cache:
        parser = LinkParser()
        parser.feed(path.read_text(encoding="utf-8"))
        cache[path] = parser
    return cache[path]


def test_internal_links_resolve():
    from urllib.parse import unquote, urlsplit

    pages = [p for p in HTML.rglob("*.html") if not p.relative_to(HTML).parts[0].startswith("_")]
    assert len(pages) >= len(PAGES)
    broken = []
    for page in pages:
        for url in parse(page).links:
            parts = urlsplit(url)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(HTML)} -> {url}")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in parse(target).ids:
                broken.append(f"{page.relative_to(HTML)} -> {url} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("page_path", by_page(chapter_pages()))
def test_chapter_and_exercises_link_to_each_other_and_launch(page_path):
    name = page_path.split("/", 1)[1]
    chapter, exercise = main_html(page_path), main_html(f"exercises/{name}")
    assert f'href="../exercises/{name}' in chapter, "the chapter links to its exercises"
    assert f'href="../chapters/{name}' in exercise, "the exercises link back to their chapter"
    page = (HTML / page_path).read_text(encoding="utf-8")
    notebook = name.replace(".html", ".ipynb")
    assert re.search(rf'href="https://mybinder\.org/v2/gh/[^"]*chapters/{notebook}', page), "Binder launch button"
    assert re.search(rf'href="https://colab\.research\.google\.com/github/[^"]*chapters/{notebook}', page), "Colab button"
