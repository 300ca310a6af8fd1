"""attnbook.explorer, without a browser: the HTML a view writes, the data
it embeds, its first picture, its size, and the errors it raises."""

import html
import json
import re
import tomllib

import numpy as np
import pytest
import torch

from attnbook import explorer as ex
from attnbook.highlighter import softmax
from notebooks import ROOT

SENTENCE = "The cat that was sitting on the mat jumped when it saw a dog ."
WORDS = SENTENCE.split()
QUESTION = "Who is the president of the United States ?".split()
SCORES = np.array([-0.5, -1.0, -1.5, 3.0, -1.0, -1.5, 2.0, 2.0, -2.0])


def weights(*shape, seed=0):
    """Softmax rows, seeded: (..., L_q, L_k)."""
    rng = np.random.default_rng(seed)
    return softmax(2 * rng.normal(size=shape))


def embedded(view_html):
    """The JSON a view's script reads."""
    found = re.findall(r'<script type="application/json" class="axv-json">'
                       r"(.*?)</script>", view_html, re.S)
    assert len(found) == 1, "one data block per view"
    return json.loads(found[0])


def shades(view_html):
    """The --s of every word or cell, in the order of the page."""
    return [float(s) for s in re.findall(r'style="--s:([0-9.]+)"',
                                         view_html)]


def all_views():
    return {
        "highlighter (L,)": ex.highlighter(QUESTION, softmax(SCORES)),
        "highlighter (2, 4, L, L)": ex.highlighter(
            WORDS, weights(2, 4, 15, 15)),
        "temperature": ex.temperature_explorer(QUESTION, SCORES),
        "cross (2, 4, L_t, L_s)": ex.cross_attention(
            WORDS[:9], QUESTION, weights(2, 4, 9, 9)),
        "matrix 30 x 30": ex.matrix(
            [f"w{i}" for i in range(30)], [f"w{i}" for i in range(30)],
            weights(30, 30)),
    }


def test_weights_are_embedded_once_as_given_to_1e_6():
    w = weights(2, 4, 15, 15)
    data = embedded(ex.highlighter(WORDS, w).html())
    got = np.array(data["w"])
    assert got.shape == (2, 4, 15, 15)
    assert np.abs(got - w).max() <= 5e-7
    assert data["words"] == WORDS and data["layer"] == 1
    assert data["head"] == "mean" and data["query"] == 14


@pytest.mark.parametrize("shape,stored", [
    ((15,), (1, 1, 1, 15)), ((15, 15), (1, 1, 15, 15)),
    ((3, 15, 15), (1, 3, 15, 15)), ((2, 3, 15, 15), (2, 3, 15, 15))])
def test_every_documented_shape_is_taken(shape, stored):
    w = weights(*shape)
    view = ex.highlighter(WORDS, w)
    got = np.array(embedded(view.html())["w"])
    assert got.shape == stored
    assert np.allclose(got.reshape(shape), w, atol=5e-7)


def test_torch_weights_are_taken_as_they_are():
    w = torch.softmax(torch.randn(2, 4, 6, 5, requires_grad=True), dim=-1)
    data = embedded(ex.cross_attention(WORDS[:5], WORDS[:6], w).html())
    assert np.allclose(np.array(data["w"]), w.detach().numpy(), atol=5e-7)


def test_first_picture_is_drawn_without_javascript():
    """The static page shades the words as the script would: weight over
    the strongest weight of the row, for the row and head shown first."""
    w = weights(2, 3, 15, 15)
    view = ex.highlighter(WORDS, w, query=8, layer=0, head=1).html()
    row = np.round(w, 6)[0, 1, 8]
    assert np.allclose(shades(view), row / row.max(), atol=5e-4)
    mean = np.round(w, 6)[1].mean(axis=0)[14]       # defaults
    assert np.allclose(shades(ex.highlighter(WORDS, w).html()),
                       mean / mean.max(), atol=5e-4)
    assert f"{html.escape(_quote('jumped'))} looks at" in view
    assert '<div class="axv-bar"' not in view      # the script adds them


def _quote(word):
    return f"\u201c{word}\u201d"


def test_the_weights_are_in_the_page_as_text():
    w = weights(15, 15)
    view = ex.highlighter(WORDS, w, query=3).html()
    table = re.search(r'<table class="axv-t">.*?</table>', view, re.S)[0]
    numbers = [float(x) for x in re.findall(r"<td>([0-9.]+)</td>", table)]
    assert np.allclose(np.reshape(numbers, (15, 15)), w, atol=5e-4)
    assert table.count('<th scope="row">') == 15


def test_temperature_draws_numpys_softmax():
    view = ex.temperature_explorer(QUESTION, SCORES, temperature=0.25)
    page = view.html()
    want = softmax(SCORES / 0.25)
    got = [float(x) for x in re.findall(r'class="axv-n">([0-9.]+)<', page)]
    assert np.allclose(got, want, atol=5e-3)
    assert np.allclose(shades(page), want, atol=5e-4)   # vmax=1: absolute
    data = embedded(page)
    assert data["scores"] == SCORES.tolist() and data["t"] == 0.25
    assert data["range"] == [0.1, 100.0] and "At T = 0.25:" in page


def test_cross_attention_draws_its_lines_without_javascript():
    w = weights(6, 4)
    view = ex.cross_attention(["a", "b", "c", "d"], list("uvwxyz"), w)
    lines = re.findall(r'<line x1="([\d.]+)" y1="0" x2="([\d.]+)" '
                       r'y2="100" stroke-width="([\d.]+)">', view.html())
    big = [(j, i) for j in range(6) for i in range(4)
           if round(w[j, i], 6) >= 0.01]
    assert len(lines) == len(big)
    for (x1, x2, width), (j, i) in zip(lines, big):
        assert float(x1) == pytest.approx((i + 0.5) * 250, abs=0.05)
        assert float(x2) == pytest.approx((j + 0.5) * 1000 / 6, abs=0.05)
        assert float(width) == pytest.approx(6 * w[j, i], abs=0.005)


def test_matrix_cells_hold_their_weights():
    w = weights(20, 25)
    view = ex.matrix([f"k{i}" for i in range(25)],
                     [f"q{i}" for i in range(20)], w).html()
    cells = re.findall(r'<td style="--s:([0-9.]+)"><span>([0-9.]+)</span>',
                       view)
    assert len(cells) == 500
    assert np.allclose([float(c[1]) for c in cells], w.ravel(), atol=5e-4)
    assert np.allclose([float(c[0]) for c in cells], w.ravel() / w.max(),
                       atol=5e-4)
    assert 'class="axv-m axv-quiet"' in view  # 25 columns: no numbers
    small = ex.matrix(list("abc"), list("xy"), weights(2, 3)).html()
    assert 'class="axv-m"' in small


def test_each_drawing_has_its_own_id():
    view = ex.highlighter(WORDS, weights(15, 15))
    first, second = view.html(), view._repr_html_()
    ids = [re.search(r'<div class="axv" id="([\w-]+)"', h)[1]
           for h in (first, second)]
    assert ids[0] != ids[1]
    for uid, h in zip(ids, (first, second)):
        assert f'AttnExplorer.boot("{uid}")' in h
        assert h.count(f'id="{uid}"') == 1
    page = ex.page(*all_views().values(), view, view)
    found = re.findall(r'<div class="axv" id="([\w-]+)"', page)
    assert len(found) == 7 == len(set(found))


def test_nothing_is_loaded_from_anywhere():
    page = ex.page(*all_views().values())
    assert re.findall(r"<link[^>]*>", page) == [
        '<link rel="icon" href="data:,">']      # no icon to ask for
    assert not re.search(r"<(img|iframe)\b", page)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"(url\(|@import|https?://|fetch\(|XMLHttp)",
                         page)
    assert "<!DOCTYPE html>" in page and '<html lang="en"' in page


def test_words_cannot_break_the_page():
    words = ["</script><b>x</b>", "a & b", '"q"', "<!--", "ok"]
    w = weights(5, 5)
    h = ex.highlighter(words, w).html()
    assert "<b>" not in h and "<!--" not in h.replace("<!-- ", "")
    assert h.count("</script>") == 2
    assert embedded(h)["words"] == words
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in h


def test_code_is_small_and_sizes_are_reported(capsys):
    """Each view carries its own CSS and only its kind's JavaScript."""
    for kind in ("highlighter", "temperature", "cross", "matrix"):
        css, js = ex._code(kind)
        assert len(css.encode()) + len(js.encode()) < 9000, kind
        others = {"highlighter", "temperature", "cross", "matrix"} - {kind}
        assert f"A.kinds.{kind}=" in js
        assert not any(f"A.kinds.{k}=" in js for k in others)
    sizes = {name: len(v.html().encode())
             for name, v in all_views().items()}
    with capsys.disabled():
        print("\nbytes per view:", sizes)
    assert sizes["highlighter (L,)"] < 12_000
    assert sizes["matrix 30 x 30"] < 60_000


def test_the_wheel_ships_the_script_and_the_style():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = meta["tool"]["setuptools"]["package-data"]["attnbook"]
    assert {"explorer.js", "explorer.css"} <= set(data)


@pytest.mark.parametrize("line,css,want", [
    ('const a = "x  y" + b;', False, 'const a="x  y"+b;'),
    ("x = a - -b; y = c + +d;", False, "x=a- -b;y=c+ +d;"),
    ("return (a) => a;", False, "return(a)=>a;"),
    ("let s = 'it''s';", False, "let s='it''s';"),
    (".axv [hidden] { display: none; }", True, ".axv [hidden]{display:none;}"),
    ("a { width: calc(1em + 2px); }", True, "a{width:calc(1em + 2px);}"),
    (".a > .b, .c :focus { x: 1 }", True, ".a>.b,.c :focus{x:1}"),
])
def test_squeeze_keeps_what_the_browser_needs(line, css, want):
    assert ex._squeeze(line, css) == want


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("call,message", [
    (lambda: ex.highlighter(WORDS, weights(14, 14)), "do not fit"),
    (lambda: ex.highlighter(WORDS, weights(2, 2, 2, 15, 15)), "do not fit"),
    (lambda: ex.highlighter(WORDS, np.full(15, np.nan)), "NaN"),
    (lambda: ex.highlighter(WORDS, np.full(15, 0.1)), "sum to 1.5"),
    (lambda: ex.highlighter(WORDS[:2], [1.5, -0.5]), "negative"),
    (lambda: ex.highlighter([], []), "empty"),
    (lambda: ex.highlighter(WORDS, weights(15, 15), query=15), "query=15"),
    (lambda: ex.highlighter(WORDS, weights(2, 15, 15), head=2), "head=2"),
    (lambda: ex.highlighter(WORDS, weights(2, 15, 15), head_names=["a"]),
     "1 head names for 2"),
    (lambda: ex.cross_attention(WORDS[:3], WORDS[:4], weights(3, 4)),
     r"expected \(4, 3\)"),
    (lambda: ex.matrix(list("ab"), list("xyz"), weights(2, 3)),
     r"expected \(3, 2\)"),
    (lambda: ex.temperature_explorer(QUESTION, SCORES[:3]), "expected"),
    (lambda: ex.temperature_explorer(QUESTION, SCORES, 0), "outside"),
    (lambda: ex.temperature_explorer(QUESTION, SCORES, t_range=(2, 1)),
     "0 < low < high"),
    (lambda: ex.temperature_explorer(QUESTION, SCORES * np.inf), "NaN"),
    (lambda: ex.page(theme="sepia"), "theme"),
])
def test_bad_inputs_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_normalize_divides_each_row_by_its_sum():
    raw = np.arange(1.0, 16.0)                 # sums to 120
    view = ex.highlighter(WORDS, raw, normalize=True)
    got = np.array(embedded(view.html())["w"]).ravel()
    assert np.allclose(got, raw / 120, atol=5e-7)
    with pytest.raises(ValueError, match="sums to 0"):
        ex.highlighter(WORDS, np.zeros(15), normalize=True)


def test_rows_a_little_off_1_are_accepted_as_they_are():
    w = weights(15, 15).astype(np.float32) * np.float32(1 + 5e-4)
    data = embedded(ex.highlighter(WORDS, w).html())
    assert np.allclose(np.array(data["w"])[0, 0], w, atol=5e-7)


def test_repr_says_what_the_view_holds():
    view = ex.cross_attention(WORDS[:9], QUESTION, weights(2, 4, 9, 9))
    assert repr(view) == ("<cross view: 9 source and 9 target words, "
                          "2 layer(s) x 4 head(s)>")
