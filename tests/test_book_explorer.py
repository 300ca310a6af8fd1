"""The attention explorer in the built book, opened as a reader opens it.

Run ``make book`` first; without a built book these tests are skipped. Every page that holds an
explorer view is served from localhost and loaded in headless Chromium (tests/test_book.py's
browser, flags and window). A reader's moves (focus or hover a word, pick a layer and a head, move
the slider) are made, and the shading each view shows is read back from the DOM and compared with
the weights Python computed: the JSON the view embeds, the table of numbers Python wrote into the
page, and what the chapter itself prints and glues (chapter 1's scores and weights, chapter 7's
table of marks, chapter 9's context). No request may leave the page, no script may fail, axe-core
must pass in the theme's light and dark modes.

Set ATTNBOOK_SHOTS to a folder to keep a screenshot of every view, light and dark.
"""

import html
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from test_book import AXE_TAGS, HTML, VIEWPORT, PageLog, axe_problems, axe_script, site  # noqa: F401
# the views' DOM, read as tests/test_explorer_browser.py reads it on pages of its own
from test_explorer_browser import MARK, READ, contrast, luminance, read, rgba, shown

pytestmark = pytest.mark.skipif(not (HTML / "index.html").exists(),
                                reason="the book is not built: run `make book`")

#: The pages that show explorer views, and the kind of each view, in page order.
EXPLORERS = {
    "chapters/01_smart_highlighter.html": ["temperature"],
    "chapters/05_multi_head.html": ["highlighter"],
    "chapters/07_translation.html": ["cross"],
    "chapters/09_tiny_gpt.html": ["highlighter"],
    "chapters/10_tiny_bert.html": ["highlighter"],
}
PAGES = list(EXPLORERS)


# --------------------------------------------------------------------------- the page as written

VIEW = re.compile(r'<div class="axv" id="(axv-[0-9a-f]+-\d+)" data-kind="(\w+)".*?'
                  r'AttnExplorer\.boot\("\1"\);</script></div>', re.S)


def views_in_file(page_path):
    """The views of a built page as Python wrote them: id, kind, HTML, data, static table."""
    found = []
    for m in VIEW.finditer((HTML / page_path).read_text(encoding="utf-8")):
        text = m.group(0)
        data = json.loads(re.search(r'<script type="application/json" class="axv-json">(.*?)</script>',
                                    text, re.S).group(1))
        cells = re.findall(r"<td>([-\d.]+)</td>", text.split('<table class="axv-t">', 1)[-1])
        found.append({"id": m.group(1), "kind": m.group(2), "html": text, "data": data,
                      "table": np.array([float(c) for c in cells])})
    return found


def pre_texts(page_path):
    """The text of every <pre> of the page's article (code and printed outputs)."""
    article = (HTML / page_path).read_text(encoding="utf-8")
    return [html.unescape(re.sub(r"<[^>]+>", "", p)) for p in re.findall(r"<pre[^>]*>(.*?)</pre>", article, re.S)]


def grid(data, layer, head):
    """The (rows, cols) weights one layer and head (or "mean") of a view shows."""
    w = np.array(data["w"], dtype=float)            # (layers, heads, rows, cols)
    return w[layer].mean(axis=0) if head == "mean" else w[layer, head]


def test_the_book_uses_the_explorer_where_it_says():
    pages = {}
    for path in sorted(HTML.rglob("*.html")):
        views = views_in_file(path.relative_to(HTML))
        if views:
            pages[str(path.relative_to(HTML))] = [v["kind"] for v in views]
    assert pages == EXPLORERS


@pytest.mark.parametrize("page_path", PAGES)
def test_each_view_is_small_and_holds_its_data_once(page_path):
    for view in views_in_file(page_path):
        text = view["html"]
        size = len(text.encode("utf-8"))
        code = sum(len(s.encode("utf-8")) for s in re.findall(r"<style>(.*?)</style>", text, re.S)
                   + re.findall(r"<script>(.*?)</script>", text, re.S))
        assert text.count('class="axv-json"') == 1 and text.count("<style>") == 1
        assert code < 12_000, f"{code} bytes of script and style"
        # the data grows as layers x heads x L^2: chapter 9's 45 tokens, 2 layers of 2 heads
        assert size < 100_000, f"{size} bytes"
        assert not re.search(r'(?:src|href)="(?!#)', text), "a view loads nothing"
        print(f"{page_path}: {view['kind']} view {size} bytes ({code} of script and style)")


# --------------------------------------------------------------------------- the page as read

class Reader:
    """One built page in Chromium, light or dark, with its requests and console errors noted."""

    def __init__(self, browser, site, page_path, mode="light"):
        self.context = browser.new_context(viewport=VIEWPORT, color_scheme=mode)
        self.page = self.context.new_page()
        self.mode, self.path = mode, page_path
        self.log = PageLog(self.page, site)
        self.requests = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(f"{site}/{page_path}", wait_until="load")
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_function("() => [...document.querySelectorAll('.axv')].every(e => e.axvReady)",
                                    timeout=10000)
        self.views = self.page.locator(".axv")
        self.data = [json.loads(self.views.nth(i).locator(".axv-json").text_content())
                     for i in range(self.views.count())]

    def close(self):
        self.context.close()


@pytest.fixture
def reader(browser, site):
    opened = []

    def open_(page_path, mode="light"):
        opened.append(Reader(browser, site, page_path, mode))
        return opened[-1]

    yield open_
    for r in opened:
        r.close()


def assert_shows(locator, want, mode, vmax=None):
    """The words hold ``want`` (to 1e-6) and their markers are as strong as ``want`` says."""
    assert_read(read(locator), want, mode, vmax)


# Focus word i, then read every word back (as `read` does) with its aria-selected: one round trip
# to the browser for each of the hundreds of moves the tests below make.
FOCUS_READ = f"""(els, i) => {{ els[i].focus(); return [({READ})(els),
    els.map(e => e.getAttribute('aria-selected'))]; }}"""


def focus_and_read(words, i):
    """Focus word ``i`` (as a reader's Tab does); return (what `read` returns, aria-selected)."""
    rows, selected = words.evaluate_all(FOCUS_READ, i)
    return shown(rows), selected


def assert_read(words, want, mode, vmax=None):
    """As assert_shows, on what `read` returned."""
    got, strength, colours = words
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-6, (got, want)
    shade = np.minimum(1, want / (vmax or want.max() or 1))
    assert np.abs(strength - shade).max() <= 5e-4
    for colour, s in zip(colours, strength):
        if s > 0:
            r, g, b, a = rgba(colour)
            assert (r, g, b) == MARK[mode] and abs(a - s) <= 5e-3, colour


def choices(view, data):
    """Every (layer, head) a reader can pick, each picked in the view as it is yielded."""
    for layer in range(len(data["layers"])):
        for head in ["mean"] + list(range(len(data["heads"]))):
            if len(data["layers"]) > 1:
                view.locator(".axv-layer").select_option(str(layer))
            if len(data["heads"]) > 1:
                view.locator(".axv-head").select_option(str(head))
            elif head != "mean":
                continue
            yield layer, head


# --------------------------------------------------------------------------- highlighters: 5 and 9

HIGHLIGHTERS = [p for p, kinds in EXPLORERS.items() if "highlighter" in kinds]


@pytest.mark.parametrize("page_path", HIGHLIGHTERS)
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_a_focused_or_hovered_word_shows_its_row(reader, page_path, mode):
    r = reader(page_path, mode)
    written = views_in_file(page_path)
    for k, d in enumerate(r.data):
        if d["kind"] != "highlighter":
            continue
        view = r.views.nth(k)
        words = view.locator(".axv-words .axv-w")
        assert [t.split("\n")[0] for t in words.all_inner_texts()] == d["words"]
        first = grid(d, d["layer"], d["head"])                  # (L, L)
        assert_shows(words, first[d["query"]], mode, d["vmax"])  # before any move
        # the table of numbers Python wrote into the page, 3 decimals
        assert np.abs(written[k]["table"] - first.ravel()).max() <= 5e-4 + 1e-9
        assert written[k]["data"] == d
        n = len(d["words"])
        for layer, head in choices(view, d):
            g = grid(d, layer, head)
            for i in range(n):
                seen, selected = focus_and_read(words, i)
                assert_read(seen, g[i], mode, d["vmax"])
                assert selected == ["true" if j == i else "false" for j in range(n)]
            words.nth(1).hover()                                 # the mouse wins while it stays
            assert_shows(words, g[1], mode, d["vmax"])
            r.page.mouse.move(1, 1)                              # then the focused word again
            assert_shows(words, g[n - 1], mode, d["vmax"])
            table = view.locator(".axv-t td").evaluate_all("els => els.map(e => +e.textContent)")
            assert np.abs(np.array(table) - g.ravel()).max() <= 5e-4 + 1e-9
    assert not r.log.unexpected_errors()


def test_chapter_5_pens_mark_what_the_chapter_says(reader):
    """The yellow pen marks the word before, the blue pen every copy of the word (the chapter's
    own check, here on what the page shows)."""
    r = reader("chapters/05_multi_head.html")
    d = r.data[0]
    words, view = r.views.nth(0).locator(".axv-w"), r.views.nth(0)
    sentence = d["words"]
    assert " ".join(sentence) == "the cat saw the dog and the dog saw the cat"
    assert d["heads"][0].startswith("yellow") and d["heads"][1].startswith("blue")
    view.locator(".axv-head").select_option("0")
    for i in range(1, len(sentence)):
        words.nth(i).focus()
        assert read(words)[0][i - 1] > 0.999
    view.locator(".axv-head").select_option("1")
    for i, word in enumerate(sentence):
        words.nth(i).focus()
        got = read(words)[0]
        assert all(got[j] < 1e-3 for j, other in enumerate(sentence) if other != word)


def test_chapter_9_shows_the_hard_context_and_its_masks(reader):
    """The view holds the context the chapter prints; layer 1 sees only its window of the past,
    layer 2 all of the past, never a later word."""
    page = "chapters/09_tiny_gpt.html"
    r = reader(page)
    d = r.data[0]
    printed = [t for t in pre_texts(page) if "who is the president of the united states ?" in t
               and "umar" in t]
    assert printed and any(" ".join(t.split()).startswith(" ".join(d["words"])) for t in printed)
    assert d["layers"] == ["layer 1", "layer 2"] and d["query"] == len(d["words"]) - 1
    w = np.array(d["w"])                                         # (layers, heads, L, L)
    n = len(d["words"])
    future = np.triu(np.ones((n, n), dtype=bool), 1)
    assert np.all(w[:, :, future] == 0)
    window = np.tril(np.ones((n, n), dtype=bool), -9)            # layer 1 sees 9 tokens
    assert np.all(w[0][:, window] == 0) and np.any(w[1][:, window] > 0.01)
    words = r.views.nth(0).locator(".axv-w")
    words.nth(n // 2).focus()
    got = read(words)[0]
    assert np.all(got[n // 2 + 1:] == 0)


def test_chapter_10_opens_on_it_in_the_opening_sentence(reader):
    """The view holds the opening's sentence after <cls>, starts on "it" in layer 1, and that row
    is the one the chapter prints for layer 1's heads (cat and that)."""
    page = "chapters/10_tiny_bert.html"
    r = reader(page)
    d = r.data[0]
    opening = "the cat that was sitting on the mat jumped when it saw a dog ."
    assert d["words"] == ["<cls>", *opening.split()]
    assert d["words"][d["query"]] == "it" and d["layer"] == 0
    assert d["layers"] == ["layer 1", "layer 2"] and d["heads"] == ["head 0", "head 1"]
    w = np.array(d["w"])                                         # (layers, heads, L, L)
    cat, that = d["words"].index("cat"), d["words"].index("that")
    printed = [t for t in pre_texts(page) if "layer 1, head 0: cat" in t]
    assert printed
    for h in range(2):
        m = re.search(rf"layer 1, head {h}: cat (\d\.\d\d), that (\d\.\d\d)", printed[0])
        assert m, h
        assert f"{w[0, h, d['query'], cat]:.2f}" == m.group(1)
        assert f"{w[0, h, d['query'], that]:.2f}" == m.group(2)
    words = r.views.nth(0).locator(".axv-w")
    r.views.nth(0).locator(".axv-head").select_option("0")
    words.nth(d["query"]).focus()
    assert_shows(words, w[0, 0, d["query"]], "light", d["vmax"])


# --------------------------------------------------------------------------- cross-attention: 7

LINES = """svg => [...svg.querySelectorAll('line')].map(l =>
    [+l.getAttribute('x1'), +l.getAttribute('x2'), +l.getAttribute('stroke-width')])"""


def lines_for(g, keep):
    nt, ns = g.shape
    return sorted(((i + 0.5) * 1000 / ns, (j + 0.5) * 1000 / nt, 6 * w)
                  for j, row in enumerate(g) for i, w in enumerate(row) if keep(j, i) and w >= 0.01)


def assert_lines(view, want, got=None):
    got = sorted(map(tuple, view.locator(".axv-lines").evaluate(LINES) if got is None else got))
    assert len(got) == len(want) and np.allclose(got, want, atol=0.051)


# After a move on a chapter 7 view: the words of one side (`read`) and the lines, in one round
# trip; with `focus`, the target word of that index is focused first.
CROSS_READ = f"""(view, [side, focus]) => {{
    if (focus !== null) view.querySelectorAll('.axv-tgt .axv-w')[focus].focus();
    return [({READ})([...view.querySelectorAll(`.axv-${{side}} .axv-w`)]),
            ({LINES})(view.querySelector('.axv-lines'))]; }}"""


def cross_read(view, side, focus=None):
    rows, lines = view.evaluate(CROSS_READ, [side, focus])
    return shown(rows), lines


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_chapter_7_cross_attention_every_head_of_every_layer(reader, mode):
    page = "chapters/07_translation.html"
    r = reader(page, mode)
    d = r.data[0]
    view = r.views.nth(0)
    src, tgt = view.locator(".axv-src .axv-w"), view.locator(".axv-tgt .axv-w")
    assert src.all_inner_texts() == d["source"] and tgt.all_inner_texts() == d["target"]
    w = np.array(d["w"])
    assert w.shape[:2] == (2, 4), "every head of both decoder layers"
    written = views_in_file(page)[0]
    first = grid(d, d["layer"], d["head"])
    assert np.abs(written["table"] - first.ravel()).max() <= 5e-4 + 1e-9
    assert_lines(view, lines_for(first, lambda j, i: True))
    for layer, head in choices(view, d):
        g = grid(d, layer, head)                               # (L_t, L_s)
        for j in range(len(d["target"])):
            seen, lines = cross_read(view, "src", focus=j)
            assert_read(seen, g[j], mode, d["vmax"])
            assert_lines(view, lines_for(g, lambda a, b: a == j), lines)
        for i in range(len(d["source"])):
            src.nth(i).hover()
            seen, lines = cross_read(view, "tgt")
            assert_read(seen, g[:, i], mode, d["vmax"])
            assert_lines(view, lines_for(g, lambda a, b: b == i), lines)
        r.page.mouse.move(1, 1)
        r.page.keyboard.press("Escape")
        assert_lines(view, lines_for(g, lambda a, b: True))
    assert not r.log.unexpected_errors()


def test_chapter_7_view_agrees_with_the_chapters_table_of_marks(reader):
    """The chapter prints, for each French token, the English token each head of the last layer
    marks most; the view, head by head, marks the same ones."""
    page = "chapters/07_translation.html"
    r = reader(page)
    d = r.data[0]
    n_heads = len(d["heads"])
    table = None
    for text in pre_texts(page):
        rows = [line.split() for line in text.strip().splitlines()]
        if (len(rows) == len(d["target"]) and all(len(row) == n_heads + 1 for row in rows)
                and [row[0] for row in rows] == [t + ":" for t in d["target"]]):
            table = [row[1:] for row in rows]
    assert table, "the chapter's table of marks is on the page"
    view = r.views.nth(0)
    view.locator(".axv-layer").select_option(str(len(d["layers"]) - 1))
    src, tgt = view.locator(".axv-src .axv-w"), view.locator(".axv-tgt .axv-w")
    for h in range(n_heads):
        view.locator(".axv-head").select_option(str(h))
        for j in range(len(d["target"])):
            tgt.nth(j).focus()
            assert d["source"][int(np.argmax(read(src)[0]))] == table[j][h], (h, d["target"][j])


# --------------------------------------------------------------------------- the slider: chapter 1

SET = "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }"


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def glued(pattern, page_path):
    text = re.sub(r"<[^>]+>", "", (HTML / page_path).read_text(encoding="utf-8"))
    m = re.search(pattern, html.unescape(text), re.S)
    assert m, pattern
    return [float(x) for x in m.groups()]


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_chapter_1_slider_is_numpys_softmax(reader, mode):
    page = "chapters/01_smart_highlighter.html"
    r = reader(page, mode)
    d = r.data[0]
    view = r.views.nth(0)
    words, slider = view.locator(".axv-w"), view.locator("input[type=range]")
    scores = np.array(d["scores"])
    # the scores are the ones the chapter prints
    printed = [t for t in pre_texts(page) if re.search(r"^\s*president\s+\+3\.0\s*$", t, re.M)]
    assert printed
    lines = [line.split() for line in printed[0].strip().splitlines()]
    assert [w for w, _ in lines] == d["words"] and np.allclose([float(s) for _, s in lines], scores)
    assert_shows(words, softmax(scores / d["t"]), mode, d["vmax"])
    seen = {}
    for value in ("-1", "-0.60206", "-0.3", "0", "0.25", "0.7", "1.2", "1.69897", "2"):
        slider.evaluate(SET, value)
        t = float(view.get_attribute("data-t"))
        assert t == float(f"{10 ** float(value):.2g}")
        want = softmax(scores / t)                              # (9,)
        assert_shows(words, want, mode, d["vmax"])
        assert view.locator("output").inner_text() == f"T = {t:g}"
        cells = view.locator(".axv-t td").all_text_contents()
        assert cells == [f"{x:.3f}" for x in want]
        seen[t] = read(words)[0]
    # the numbers the chapter glues into its prose, from the same softmax in Python
    president = d["words"].index("president")
    (share,) = glued(r"gets most of the weight \((\d\.\d\d)\)", page)
    assert f"{seen[1.0][president]:.2f}" == f"{share:.2f}"
    (cold,) = glued(r"takes almost everything \((\d\.\d\d)\)", page)
    assert f"{seen[0.25][president]:.2f}" == f"{cold:.2f}"
    low, high = glued(r"they run from (\d\.\d{3}) to\s+(\d\.\d{3})", page)
    assert (f"{seen[50.0].min():.3f}", f"{seen[50.0].max():.3f}") == (f"{low:.3f}", f"{high:.3f}")
    # the keyboard moves it too
    slider.evaluate(SET, "0")
    slider.focus()
    for _ in range(10):
        r.page.keyboard.press("ArrowRight")
    t = float(view.get_attribute("data-t"))
    assert t == 1.3
    assert_shows(words, softmax(scores / t), mode, d["vmax"])


# --------------------------------------------------------------------------- every page

def use_every_view(r):
    """A reader's moves on every view: the states the later checks see."""
    for k, d in enumerate(r.data):
        view = r.views.nth(k)
        if d["kind"] == "temperature":
            view.locator("input").evaluate(SET, "-0.4")
        else:
            list(choices(view, d))                 # ends on the last layer and head
            view.locator(".axv-w").nth(1).focus()
            view.locator(".axv-w").nth(0).hover()


@pytest.mark.parametrize("page_path", PAGES)
def test_no_request_and_no_error(reader, page_path):
    r = reader(page_path)
    loaded = list(r.requests)
    use_every_view(r)
    assert r.requests == loaded, f"the explorer asked for {r.requests[len(loaded):]}"
    assert not r.log.failed, f"failed or external requests: {r.log.failed}"
    assert not r.log.bad_status
    assert not r.log.unexpected_errors(), r.log.unexpected_errors()


@pytest.mark.parametrize("page_path", PAGES)
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_axe_passes_and_dark_mode_is_readable(reader, page_path, mode):
    r = reader(page_path, mode)
    assert r.page.evaluate("() => document.documentElement.dataset.theme") == mode
    use_every_view(r)
    r.page.add_script_tag(content=axe_script())
    # the views themselves (test_book.py runs axe on every whole page in light mode)
    result = r.page.evaluate("tags => axe.run({include: [['.axv']]}, {runOnly: {type: 'tag', values: tags}})",
                             AXE_TAGS)
    problems = axe_problems(result)
    assert not problems, "accessibility problems:\n" + "\n".join(problems)
    checked = [n for v in result["passes"] if v["id"] == "color-contrast" for n in v["nodes"]
               if any(".axv" in t or "axv-" in t for t in n["target"]) or "axv" in n["html"]]
    assert checked, "axe checked the contrast of the views' text"
    for k in range(len(r.data)):
        view = r.views.nth(k)
        bg, fg = (rgba(c) for c in view.evaluate(
            "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"))
        assert (luminance(*bg) < 0.02 and luminance(*fg) > 0.8) if mode == "dark" else \
            (luminance(*bg) > 0.9 and luminance(*fg) < 0.05)
        assert contrast(fg, MARK[mode]) >= 4.5, "text on a full marker"
        wide = view.evaluate("e => e.scrollWidth > e.clientWidth + 1")
        assert not wide, "the view fits the page at 1280 px"
    shots = os.environ.get("ATTNBOOK_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        for k in range(len(r.data)):
            r.views.nth(k).scroll_into_view_if_needed()
            r.page.evaluate("k => document.querySelectorAll('.axv')[k].scrollIntoView({block: 'center'})", k)
            name = f"{Path(page_path).stem}-{k}-{mode}.png"
            r.page.screenshot(path=str(Path(shots) / name))
