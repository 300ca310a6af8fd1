"""attnbook.explorer in a real headless Chromium, launched as the book's own
browser tests launch it: pages written by the package, served from
localhost, read back from the DOM and compared with what NumPy computed.

Two kinds of page, each light and dark: a plain page from
``attnbook.explorer.page`` and the same views inside the book's markup for a
notebook output (with the book's theme CSS when a built book is there).
Set ATTNBOOK_SHOTS to a folder to keep screenshots of every page.
"""

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from attnbook import explorer as ex
from attnbook.highlighter import softmax
from notebooks import ROOT
from test_book import AXE_TAGS, QuietHandler, axe_script

THEME = ROOT / "_build" / "html" / "_static"
WORDS = ("The cat that was sitting on the mat jumped when it saw a dog ."
         .split())
QUESTION = "Who is the president of the United States ?".split()
SCORES = np.array([-0.5, -1.0, -1.5, 3.0, -1.0, -1.5, 2.0, 2.0, -2.0])
SOURCE = "the black cat does not see the dog".split()
TARGET = "le chat noir ne voit pas le chien".split()
LONG = [f"t{i}" for i in range(32)]
RNG = np.random.default_rng(18)
W4 = softmax(2 * RNG.normal(size=(2, 3, 15, 15)))    # (layers, heads, L, L)
CROSS = softmax(3 * RNG.normal(size=(2, 4, 8, 8)))   # (layers, heads, Lt, Ls)
LONG_W = softmax(2 * RNG.normal(size=(32, 32)))      # (L, L)
ONE = softmax(SCORES)                                # (L,)

VIEWS = {
    "hl": ex.highlighter(WORDS, W4, caption="Two layers, three heads"),
    "one": ex.highlighter(QUESTION, ONE, show_weights=True,
                          caption="One query"),
    "temp": ex.temperature_explorer(QUESTION, SCORES, caption="Softmax"),
    "cross": ex.cross_attention(SOURCE, TARGET, CROSS,
                                caption="Cross-attention"),
    "small": ex.matrix(SOURCE, TARGET, CROSS[0, 2], x_name="source",
                       y_name="target", caption="One head, with numbers"),
    "long": ex.matrix(LONG, LONG, LONG_W, caption="A long sentence"),
}
ORDER = list(VIEWS)
#: The marker at full strength, light and dark (src/attnbook/explorer.css).
MARK = {"light": (255, 196, 0), "dark": (140, 90, 0)}


def book_page(theme, styled):
    """The views as the book shows notebook outputs."""
    links = "".join(
        f'<link rel="stylesheet" href="_static/{css}">'
        for css in ("styles/theme.css", "styles/pydata-sphinx-theme.css",
                    "styles/sphinx-book-theme.css") if styled)
    cells = "".join(
        '<div class="cell docutils container"><div class="cell_output '
        'docutils container"><div class="output text_html">'
        f"{v.html()}</div></div></div>" for v in VIEWS.values())
    return (f'<!DOCTYPE html><html lang="en" data-theme="{theme}"><head>'
            '<meta charset="utf-8"><title>Book page</title>'
            f'<link rel="icon" href="data:,">{links}</head>'
            '<body><main class="bd-main"><div class="bd-content"><article '
            f'class="bd-article"><h1>Book page</h1>{cells}</article></div>'
            "</main></body></html>")


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explorer")
    styled = (THEME / "styles" / "pydata-sphinx-theme.css").exists()
    if styled:
        shutil.copytree(THEME / "styles", folder / "_static" / "styles")
        shutil.copy(THEME / "basic.css", folder / "_static" / "basic.css")
    for theme in ("light", "dark"):
        (folder / f"plain-{theme}.html").write_text(
            ex.page(*VIEWS.values(), theme=theme), encoding="utf-8")
        (folder / f"book-{theme}.html").write_text(
            book_page(theme, styled), encoding="utf-8")
    drawn = VIEWS["hl"].html()
    (folder / "twice.html").write_text(   # one output shown twice, same id
        ex.page(drawn, drawn, VIEWS["one"], VIEWS["one"]), encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_port}",
           "styled": styled}
    server.shutdown()


class Open:
    """A page of the site, with every request and console error noted."""

    def __init__(self, browser, site, name, javascript=True):
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900},
            java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.requests, self.errors = [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type in ("error", "warning")
                     and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{site['url']}/{name}", wait_until="load")
        self.site = site

    def view(self, name):
        return self.page.locator(".axv").nth(ORDER.index(name))

    def close(self):
        self.context.close()


@pytest.fixture
def opened(browser, site):
    pages = []

    def open_(name, javascript=True):
        pages.append(Open(browser, site, name, javascript))
        return pages[-1]

    yield open_
    for p in pages:
        p.close()


READ = """els => els.map(e => [e.dataset.w === undefined ? NaN :
    +e.dataset.w, +e.style.getPropertyValue('--s'),
    getComputedStyle(e).backgroundColor])"""


def read(locator):
    """(weights, shades, background colours) of words or cells."""
    return shown(locator.evaluate_all(READ))


def shown(rows):
    """READ's rows as (weights, shades, background colours)."""
    return (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
            [r[2] for r in rows])


def rgba(css):
    """'rgba(255, 196, 0, 0.25)' or 'rgb(...)' -> (r, g, b, a)."""
    v = [float(x) for x in re.findall(r"[\d.]+", css)]
    return tuple(v) if len(v) == 4 else (*v, 1.0)


def assert_shaded(weights, locator, want, theme="light", vmax=None):
    """The words carry the weights (1e-6), their markers follow them."""
    got, s, colours = read(locator)
    assert np.abs(got - want).max() <= 1e-6, (got, want)
    shade = np.minimum(1, want / (vmax or want.max()))
    assert np.abs(s - shade).max() <= 5e-4
    for colour, x in zip(colours, s):
        r, g, b, a = rgba(colour)      # Chromium keeps alpha in 1/255ths
        if x > 0:
            assert (r, g, b) == MARK[theme] and abs(a - x) <= 5e-3, colour


def mean_row(w, layer, i):
    return w[layer].mean(axis=0)[i]


# ------------------------------------------------------------- highlighter

@pytest.mark.parametrize("name", ["plain-light.html", "book-dark.html"])
def test_focus_on_a_word_shows_its_row(opened, name):
    theme = name.split("-")[1].split(".")[0]
    p = opened(name)
    words = p.view("hl").locator(".axv-w")
    assert_shaded(W4, words, mean_row(W4, 1, 14), theme)  # first picture
    for i in (0, 1, 8, 10):
        words.nth(i).focus()
        assert_shaded(W4, words, mean_row(W4, 1, i), theme)
        selected = words.evaluate_all(
            "els => els.map(e => e.getAttribute('aria-selected'))")
        assert selected == ["true" if j == i else "false"
                            for j in range(15)]
        status = p.view("hl").locator(".axv-status").inner_text()
        assert status.startswith(f"\u201c{WORDS[i]}\u201d looks at")
    assert not p.errors


def test_hover_shows_a_row_until_the_mouse_leaves(opened):
    p = opened("plain-light.html")
    words = p.view("hl").locator(".axv-w")
    words.nth(3).focus()
    words.nth(9).hover()
    assert_shaded(W4, words, mean_row(W4, 1, 9))
    p.page.mouse.move(5, 5)
    assert_shaded(W4, words, mean_row(W4, 1, 3))


def test_the_keyboard_walks_the_words(opened):
    p = opened("plain-light.html")
    words = p.view("hl").locator(".axv-w")
    stops = words.evaluate_all("els => els.filter(e => e.tabIndex === 0)"
                               ".length")
    assert stops == 1, "one Tab stop for the whole sentence"
    words.nth(0).focus()
    index = "() => [...document.activeElement.parentNode.children]" \
            ".indexOf(document.activeElement)"
    for key, want in [("ArrowRight", 1), ("ArrowRight", 2), ("End", 14),
                      ("ArrowRight", 14), ("Home", 0), ("ArrowDown", 1)]:
        p.page.keyboard.press(key)
        assert p.page.evaluate(index) == want, key
        assert_shaded(W4, words, mean_row(W4, 1, want))
    p.page.keyboard.press("Tab")                  # out of the sentence
    assert p.page.evaluate("() => document.activeElement.tagName") == \
        "SUMMARY"


def test_pickers_choose_the_layer_and_the_head(opened):
    p = opened("plain-dark.html")
    view = p.view("hl")
    words = view.locator(".axv-w")
    assert view.locator(".axv-bar").is_visible()
    words.nth(5).focus()
    view.locator(".axv-layer").select_option("0")
    assert_shaded(W4, words, mean_row(W4, 0, 5), "dark")
    view.locator(".axv-head").select_option("2")
    assert_shaded(W4, words, W4[0, 2, 5], "dark")
    assert "(layer 1, head 3)" in view.locator(".axv-status").inner_text()
    cells = view.locator(".axv-t td").evaluate_all(
        "els => els.map(e => +e.textContent)")
    assert np.allclose(np.reshape(cells, (15, 15)), W4[0, 2], atol=5e-4)
    assert "head 3" in view.locator(".axv-t caption").text_content()
    view.locator(".axv-layer").select_option("1")
    view.locator(".axv-head").select_option("mean")
    assert_shaded(W4, words, mean_row(W4, 1, 5), "dark")


def test_one_row_shows_each_weight_on_focus(opened):
    p = opened("plain-light.html")
    view = p.view("one")
    words = view.locator(".axv-w")
    assert_shaded(ONE, words, ONE)
    words.nth(3).focus()
    assert view.locator(".axv-status").inner_text() == \
        f"\u201cpresident\u201d: {ONE[3]:.6f}"
    numbers = view.locator(".axv-n").all_inner_texts()
    assert numbers == [f"{w:.2f}" for w in ONE]


# ------------------------------------------------------------- temperature

SET = """(el, v) => { el.value = v;
    el.dispatchEvent(new Event('input', {bubbles: true})); }"""


@pytest.mark.parametrize("name", ["plain-light.html", "book-dark.html"])
def test_the_slider_recomputes_numpys_softmax(opened, name):
    theme = name.split("-")[1].split(".")[0]
    p = opened(name)
    view = p.view("temp")
    words, slider = view.locator(".axv-w"), view.locator("input")
    assert_shaded(ONE, words, softmax(SCORES), theme, vmax=1)
    for value in ("-1", "-0.6", "-0.12", "0.3", "1.37", "2"):
        slider.evaluate(SET, value)
        t = float(view.get_attribute("data-t"))
        assert t == float(f"{10 ** float(value):.2g}")
        want = softmax(SCORES / t)
        got, _, _ = read(words)
        assert np.abs(got - want).max() <= 1e-12
        assert_shaded(ONE, words, want, theme, vmax=1)
        shown = f"{t:g}"
        assert view.locator("output").inner_text() == f"T = {shown}"
        assert slider.get_attribute("aria-valuetext") == \
            f"temperature {shown}"
        cells = view.locator(".axv-t td").all_text_contents()
        assert cells == [f"{w:.3f}" for w in want]


def test_the_slider_moves_with_the_keyboard(opened):
    p = opened("plain-light.html")
    view = p.view("temp")
    slider = view.locator("input")
    slider.focus()
    for _ in range(10):                     # log10(T) from 0 to 0.1
        p.page.keyboard.press("ArrowRight")
    assert float(view.get_attribute("data-t")) == 1.3
    got, _, _ = read(view.locator(".axv-w"))
    assert np.abs(got - softmax(SCORES / 1.3)).max() <= 1e-12
    p.page.keyboard.press("Home")
    assert float(view.get_attribute("data-t")) == 0.1


# ---------------------------------------------------------- cross-attention

LINES = """svg => [...svg.querySelectorAll('line')].map(l =>
    [+l.getAttribute('x1'), +l.getAttribute('x2'),
     +l.getAttribute('stroke-width')])"""


def lines_for(grid, keep):
    """(x1, x2, width) of the lines the view should draw."""
    ns, nt = grid.shape[1], grid.shape[0]
    return [((i + 0.5) * 1000 / ns, (j + 0.5) * 1000 / nt, 6 * w)
            for j, row in enumerate(grid) for i, w in enumerate(row)
            if keep(j, i) and round(w, 6) >= 0.01]


def assert_lines(view, want):
    got = view.locator(".axv-lines").evaluate(LINES)
    assert len(got) == len(want)
    assert np.allclose(got, want, atol=0.051)


def test_cross_attention_follows_the_word_in_focus(opened):
    p = opened("plain-light.html")
    view = p.view("cross")
    src, tgt = view.locator(".axv-src .axv-w"), view.locator(".axv-tgt "
                                                             ".axv-w")
    grid = CROSS[1].mean(axis=0)                   # (Lt, Ls)
    assert_lines(view, lines_for(grid, lambda j, i: True))
    for j in (0, 2, 5):
        tgt.nth(j).focus()
        assert_lines(view, lines_for(grid, lambda a, b: a == j))
        assert_shaded(CROSS, src, grid[j])
    src.nth(2).focus()                             # who looks at "cat"?
    assert_lines(view, lines_for(grid, lambda a, b: b == 2))
    assert_shaded(CROSS, tgt, grid[:, 2])
    status = view.locator(".axv-status").inner_text()
    assert status.startswith("\u201ccat\u201d is looked at by: ")
    p.page.keyboard.press("Escape")
    assert_lines(view, lines_for(grid, lambda j, i: True))
    view.locator(".axv-head").select_option("1")
    view.locator(".axv-layer").select_option("0")
    tgt.nth(4).hover()
    assert_lines(view, lines_for(CROSS[0, 1], lambda a, b: a == 4))
    assert_shaded(CROSS, src, CROSS[0, 1, 4])


# ------------------------------------------------------------------ matrix

def test_matrix_gives_the_exact_weight_on_focus_and_hover(opened):
    p = opened("plain-light.html")
    view = p.view("long")
    cells = view.locator("tbody td")
    got, _, _ = read(cells)
    assert np.abs(got - LONG_W.ravel()).max() <= 1e-6
    status = view.locator(".axv-status")
    cells.nth(0).focus()
    for key, (r, c) in [("ArrowRight", (0, 1)), ("ArrowDown", (1, 1)),
                        ("End", (1, 31)), ("PageDown", (31, 31)),
                        ("ArrowLeft", (31, 30)), ("Home", (31, 0))]:
        p.page.keyboard.press(key)
        text = status.inner_text()
        assert text.startswith(f"query \u201ct{r}\u201d, key \u201ct{c}"
                               "\u201d: "), key
        assert abs(float(text.rsplit(" ", 1)[1]) - LONG_W[r, c]) <= 1e-6
    cells.nth(7 * 32 + 11).hover()
    assert abs(float(status.inner_text().rsplit(" ", 1)[1])
               - LONG_W[7, 11]) <= 1e-6
    headers = view.locator(".axv-on").all_inner_texts()
    assert headers == ["t11", "t7"]


def test_small_matrix_writes_its_numbers(opened):
    p = opened("plain-dark.html")
    view = p.view("small")
    texts = view.locator("tbody td").all_inner_texts()
    assert texts == [f"{w:.2f}" for w in CROSS[0, 2].ravel()]
    assert_shaded(CROSS, view.locator("tbody td"), CROSS[0, 2].ravel(),
                  "dark")


# ------------------------------------------------------ page-level checks

PAGES = ["plain-light.html", "plain-dark.html", "book-light.html",
         "book-dark.html"]


def use_every_view(p):
    """Touch every control, so that later checks see the live states."""
    p.view("hl").locator(".axv-w").nth(8).focus()
    p.view("hl").locator(".axv-head").select_option("1")
    p.view("one").locator(".axv-w").nth(3).hover()
    p.view("temp").locator("input").evaluate(SET, "0.7")
    p.view("cross").locator(".axv-tgt .axv-w").nth(1).focus()
    p.view("long").locator("tbody td").nth(40).focus()
    p.view("small").locator("tbody td").nth(3).hover()


@pytest.mark.parametrize("name", PAGES)
def test_no_request_leaves_the_page_and_no_error(opened, name):
    p = opened(name)
    use_every_view(p)
    theme = [f"{p.site['url']}/_static/{css}" for css in (
        "styles/theme.css", "styles/pydata-sphinx-theme.css",
        "styles/sphinx-book-theme.css", "basic.css")]
    asked = [u for u in p.requests if u != f"{p.site['url']}/{name}"]
    allowed = theme if name.startswith("book") and p.site["styled"] else []
    assert set(asked) <= set(allowed), asked
    assert not p.errors
    ready = p.page.locator(".axv").evaluate_all(
        "els => els.map(e => e.axvReady === true)")
    assert ready == [True] * len(VIEWS)


@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_nothing(opened, name):
    p = opened(name)
    use_every_view(p)
    p.page.add_script_tag(content=axe_script())
    result = p.page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS)
    problems = [f"{v['id']}: {n['html'][:100]}"
                for v in result["violations"] for n in v["nodes"]]
    assert not problems, "\n".join(problems)
    passed = {v["id"]: len(v["nodes"]) for v in result["passes"]}
    assert passed.get("color-contrast", 0) > 50, "contrast was checked"


def luminance(r, g, b, *_):
    c = np.array([r, g, b]) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(c @ [0.2126, 0.7152, 0.0722])


def contrast(a, b):
    hi, lo = sorted((luminance(*a), luminance(*b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("name", ["plain-dark.html", "book-dark.html"])
def test_dark_mode_is_dark_and_readable(opened, name):
    p = opened(name)
    view = p.view("one")
    bg, fg = view.evaluate("e => [getComputedStyle(e).backgroundColor,"
                           " getComputedStyle(e).color]")
    bg, fg = rgba(bg), rgba(fg)
    assert luminance(*bg) < 0.02 and luminance(*fg) > 0.8
    r, g, b = MARK["dark"]                         # a full marker stroke
    assert contrast(fg, (r, g, b)) >= 4.5
    lines = p.view("cross").locator(".axv-lines").evaluate(
        "e => getComputedStyle(e).color")
    assert rgba(lines) == fg, "lines are drawn in the text colour"
    if name.startswith("book") and p.site["styled"]:
        frame = p.page.locator(".text_html").first.evaluate(
            "e => getComputedStyle(e).backgroundColor")
        assert rgba(frame)[3] == 0, "the theme's light frame is removed"


def test_without_javascript_the_first_picture_and_the_numbers_stay(
        opened):
    live = opened("plain-light.html")
    still = opened("plain-light.html", javascript=False)
    for name in VIEWS:
        want = live.view(name).locator(".axv-w, tbody td")
        got = still.view(name).locator(".axv-w, tbody td")
        assert np.allclose(read(got)[1], read(want)[1], atol=5e-4), name
        assert still.view(name).locator(".axv-bar, .axv-hint, "
                                        "select, input").count() == 0
        assert still.view(name).locator(".axv-status").inner_text()
    static = still.view("cross").locator(".axv-lines").evaluate(LINES)
    drawn = live.view("cross").locator(".axv-lines").evaluate(LINES)
    assert static == drawn and len(static) > 8
    cells = still.view("hl").locator(".axv-t td").all_text_contents()
    assert np.allclose(np.reshape([float(c) for c in cells], (15, 15)),
                       W4[1].mean(axis=0), atol=5e-4)
    assert still.view("hl").locator("[role=option]").count() == 0


def test_the_same_output_twice_works_twice(opened):
    p = opened("twice.html")
    roots = p.page.locator(".axv")
    ids = roots.evaluate_all("els => els.map(e => e.id)")
    assert ids[0] == ids[1] and ids[2] != ids[3]
    assert roots.evaluate_all("els => els.map(e => e.axvReady)") == \
        [True] * 4
    second = roots.nth(1).locator(".axv-w")
    second.nth(2).focus()
    assert_shaded(W4, second, mean_row(W4, 1, 2))
    assert_shaded(W4, roots.nth(0).locator(".axv-w"), mean_row(W4, 1, 14))
    roots.nth(3).locator(".axv-w").nth(6).focus()
    assert "United" in roots.nth(3).locator(".axv-status").inner_text()
    assert "Highest" in roots.nth(2).locator(".axv-status").inner_text()
    assert not p.errors


@pytest.mark.parametrize("name", PAGES)
def test_views_fit_the_page_and_screenshots(opened, name):
    """At a 1280-px window no word view scrolls sideways."""
    p = opened(name)
    use_every_view(p)
    wide = p.page.locator(".axv").evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.dataset.kind)")
    assert not wide
    shots = os.environ.get("ATTNBOOK_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        p.page.screenshot(path=str(Path(shots) / f"{name[:-5]}.png"),
                          full_page=True)


# ------------------------------------------------------- inside notebooks

# How the classic notebook (jQuery's .html()) shows an HTML output: the
# markup first, then each script evaluated from a new element in <head>.
CLASSIC = """html => { const out = document.createElement('div');
    document.querySelector('main').append(out);
    out.innerHTML = html;
    for (const old of out.querySelectorAll('script')) {
      if (old.type === 'application/json') continue;
      const s = document.createElement('script');
      s.text = old.text;
      document.head.appendChild(s).parentNode.removeChild(s);
    } }"""


def test_a_view_shown_as_the_classic_notebook_shows_outputs(opened):
    p = opened("plain-light.html")
    p.page.evaluate(CLASSIC, VIEWS["cross"].html())
    added = p.page.locator(".axv").last
    assert added.evaluate("e => e.axvReady") is True
    added.locator(".axv-tgt .axv-w").nth(3).focus()
    assert_shaded(CROSS, added.locator(".axv-src .axv-w"),
                  CROSS[1].mean(axis=0)[3])
    assert not p.errors


LAB_CELLS = [
    "import numpy as np\n"
    "from attnbook import explorer as ex\n"
    "from attnbook.highlighter import softmax\n"
    "w = softmax(2 * np.random.default_rng(5).normal(size=(2, 2, 5, 5)))\n"
    "view = ex.highlighter('the cat sat on it'.split(), w)\n"
    "view",
    "display(view)\n"
    "ex.temperature_explorer(list('abc'), np.array([1.0, 2.0, 3.0]))",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on localhost, in its dark theme, with one notebook."""
    import json
    import secrets
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import nbformat

    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(c) for c in LAB_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nbformat.write(nb, root / "views.ipynb")
    themes = (root / "settings" / "@jupyterlab" / "apputils-extension"
              / "themes.jupyterlab-settings")
    themes.parent.mkdir(parents=True)
    themes.write_text(json.dumps({"theme": "JupyterLab Dark"}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(8)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"))
    lab = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser",
         "--allow-root", f"--port={port}", "--ServerApp.port_retries=0",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True"],
        env=env, cwd=root, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}")
            break
        except OSError:
            time.sleep(0.5)
    else:
        lab.terminate()
        pytest.fail("JupyterLab did not start")
    yield f"{url}/lab/tree/views.ipynb?token={token}"
    lab.terminate()
    lab.wait(20)


def test_views_work_in_jupyterlab_in_its_dark_theme(browser, lab):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(lab)
    # Run the notebook once its kernel is ready, through JupyterLab's own
    # command: keystrokes sent while a loaded machine is still starting
    # the kernel can be lost.
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext",
        timeout=120000)
    page.evaluate("""async () => {
        const nb = window.jupyterapp.shell.currentWidget;
        await nb.context.ready;
        await nb.sessionContext.ready;
        await window.jupyterapp.commands.execute(
            'notebook:run-all-cells');
    }""")
    page.wait_for_selector(".axv[data-kind=temperature]", timeout=180000)
    roots = page.locator(".axv")
    page.wait_for_function("() => [...document.querySelectorAll('.axv')]"
                           ".every(e => e.axvReady)", timeout=10000)
    assert roots.count() == 3
    w = softmax(2 * np.random.default_rng(5).normal(size=(2, 2, 5, 5)))
    words = roots.nth(1).locator(".axv-w")
    words.nth(1).focus()
    assert_shaded(w, words, w[1].mean(axis=0)[1], "dark")
    assert_shaded(w, roots.nth(0).locator(".axv-w"), w[1].mean(axis=0)[4],
                  "dark")
    roots.nth(0).locator("select").first.select_option("0")
    assert_shaded(w, roots.nth(0).locator(".axv-w"), w[0].mean(axis=0)[4],
                  "dark")
    temp = roots.nth(2)
    temp.locator("input").evaluate(SET, "0.5")
    t = float(temp.get_attribute("data-t"))
    got, _, _ = read(temp.locator(".axv-w"))
    assert np.abs(got - softmax(np.array([1.0, 2.0, 3.0]) / t)).max() \
        <= 1e-12
    bg = rgba(roots.nth(0).evaluate("e => getComputedStyle(e)"
                                    ".backgroundColor"))
    assert luminance(*bg) < 0.02, "the view follows JupyterLab's dark theme"
    shots = os.environ.get("ATTNBOOK_SHOTS")
    if shots:
        page.screenshot(path=str(Path(shots) / "jupyterlab-dark.png"))
    page.close()
    assert not errors
