"""Attention to explore in the page: hover or focus a word, move a slider.

Each function returns a view that JupyterLab, the classic notebook and the
built book show through ``_repr_html_``, with no kernel once it is drawn:

- ``highlighter(words, weights)``: a sentence shaded by its weights; hover
  or focus a word to see its row; pickers for the layer and the head.
- ``cross_attention(source, target, weights)``: the source sentence above
  the target, joined by lines as thick as the weights.
- ``temperature_explorer(words, scores)``: a slider for T; the page itself
  recomputes softmax(scores / T).
- ``matrix(x_labels, y_labels, weights)``: a heatmap for long sentences, the
  exact weight of a cell on hover or focus.
- ``page(*views)``: a standalone HTML document holding several views.

A view is self-contained: its weights as JSON, the book's own JavaScript and
CSS (a few KB), no request to the network. Without JavaScript it still shows
its first picture and a table of its weights, which screen readers read too.
The weights are embedded rounded to ``digits`` decimals (6 by default, so
within 5e-7 of the computed ones).
"""

import html
import json
import secrets
from importlib import resources

import numpy as np

_ASSETS = resources.files("attnbook")
_IDS = {"salt": secrets.token_hex(3), "count": 0}
_DIGITS = 6


_WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "0123456789_$")


def _squeeze(line, css):
    """One line of code without the spaces a browser does not need.

    Strings are kept as they are. A space stays between two word characters
    and, in JavaScript, between two + or two - signs; in CSS it stays in
    front of selectors (``.a .b``) and around + and - (``calc()``).
    """
    out, i, quote = [], 0, None
    while i < len(line):
        c = line[i]
        if quote:
            out.append(c)
            if c == "\\":
                out.append(line[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
            out.append(c)
        elif c == " ":
            j = i
            while j < len(line) and line[j] == " ":
                j += 1
            a = out[-1] if out else ""
            b = line[j] if j < len(line) else ""
            if css:
                keep = b and a not in "{};:,>(" and b not in "{};,>)"
            else:
                keep = (a in _WORD and b in _WORD) or (a + b in ("++", "--"))
            if keep:
                out.append(" ")
            i = j - 1
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _asset(name, css=False):
    """A JavaScript or CSS file, split at its ``//@ kind`` marks, without
    comments and indentation: {"": common part, kind: that kind's part}."""
    parts, key, comment = {"": []}, "", False
    text = (_ASSETS / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("//@ "):
            key = line[4:]
            parts[key] = []
            continue
        if line.startswith("/*"):
            comment = True
        if not comment and line and not line.startswith("//"):
            parts[key].append(_squeeze(line, css))
        if comment and line.endswith("*/"):
            comment = False
    if css:
        return {k: _squeeze(" ".join(v), css) for k, v in parts.items()}
    return {k: "\n".join(v) for k, v in parts.items()}


_CODE = {}


def _code(kind):
    """The CSS and JavaScript one view of this kind needs."""
    if not _CODE:
        _CODE["css"] = _asset("explorer.css", css=True)[""]
        _CODE.update(_asset("explorer.js"))
    return _CODE["css"], _CODE[""] + "\n" + _CODE[kind]


def _new_id():
    """An id unique in the page, even when a view is displayed twice."""
    _IDS["count"] += 1
    return f"axv-{_IDS['salt']}-{_IDS['count']}"


# --------------------------------------------------------------- checking


def _array(values, name):
    """A float array from NumPy, lists or a torch tensor; finite values."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    a = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return a


def _labels(labels, name):
    labels = [str(x) for x in labels]
    if not labels:
        raise ValueError(f"{name} is empty")
    return labels


def _weights(weights, n_rows, n_cols, normalize, one_row=False):
    """Weights as (layers, heads, n_rows, n_cols), each row summing to 1."""
    a = _array(weights, "weights")
    want = f"({n_rows}, {n_cols})" if not one_row else f"({n_cols},)"
    if one_row and a.ndim == 1:
        a = a[None]
    if a.ndim == 2:
        a = a[None, None]                  # (1, 1, n_rows, n_cols)
    elif a.ndim == 3:
        a = a[None]                        # (1, heads, n_rows, n_cols)
    if a.ndim != 4 or a.shape[-2:] != (n_rows, n_cols):
        raise ValueError(
            f"weights of shape {np.shape(weights)} do not fit the words: "
            f"expected {want}, (heads, {n_rows}, {n_cols}) or "
            f"(layers, heads, {n_rows}, {n_cols})")
    if (a < 0).any():
        raise ValueError("weights must not be negative")
    sums = a.sum(axis=-1)                  # (layers, heads, n_rows)
    if normalize:
        if (sums <= 0).any():
            raise ValueError("a row of weights sums to 0: nothing to scale")
        return a / sums[..., None]
    bad = np.abs(sums - 1) > 1e-3
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"the weights at (layer, head, row) {where} sum to "
            f"{sums[where]:.4g}, not 1; pass normalize=True to divide "
            "every row by its sum")
    return a


def _names(names, n, default):
    if names is None:
        return [f"{default} {i + 1}" for i in range(n)]
    names = [str(x) for x in names]
    if len(names) != n:
        raise ValueError(f"{len(names)} {default} names for {n} {default}s")
    return names


def _pick(index, n, name):
    if not -n <= index < n:
        raise ValueError(f"{name}={index} is out of range for {n}")
    return index % n


# ---------------------------------------------------------------- drawing

def _num(x, digits):
    """A weight as short JSON: 6 decimals, no trailing zeros."""
    s = f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def _nested(a, digits):
    if a.ndim == 1:
        return "[" + ",".join(_num(x, digits) for x in a) + "]"
    return "[" + ",".join(_nested(x, digits) for x in a) + "]"


def _json(data, weights=None, digits=_DIGITS):
    """The view's data as JSON that is safe inside a <script> element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if weights is not None:
        text = text[:-1] + ',"w":' + _nested(weights, digits) + "}"
    for c, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(c, code)
    return text


def _f(x):
    """A marker's strength, short: 0.25 -> .25, 1.0 -> 1."""
    return f"{x:.3f}".rstrip("0").rstrip(".").removeprefix("0") or "0"


def _shades(ws, vmax):
    """How strong each marker is: the weight over the strongest one."""
    top = vmax or float(np.max(ws)) or 1.0
    return [min(1.0, float(w) / top) for w in ws]


def _word(text, w, s, numbers):
    num = f'<span class="axv-n">{w:.2f}</span>' if numbers else ""
    return (f'<span class="axv-w" style="--s:{_f(s)}">{html.escape(text)}'
            f"{num}</span>")


def _top3(names, ws):
    order = sorted(range(len(ws)), key=lambda j: -ws[j])[:3]
    return ", ".join(f"{names[j]} {ws[j]:.3f}" for j in order)


def _quote(text):
    return f"\u201c{text}\u201d"


def _what(layers, heads, layer, head):
    parts = [layers[layer]] if len(layers) > 1 else []
    if len(heads) > 1:
        parts.append("mean of heads" if head == "mean" else heads[head])
    return ", ".join(parts)


def _grid(w, layer, head):
    """The (rows, cols) weights of one layer: one head or their mean."""
    return w[layer].mean(axis=0) if head == "mean" else w[layer, head]


def _table(rows, cols, values, caption, corner=""):
    """A table of weights (3 decimals): one row per query word."""
    esc = html.escape
    head = ""
    if cols is not None:
        head = ("<thead><tr><th scope=\"col\">" + esc(corner) + "</th>"
                + "".join(f'<th scope="col">{esc(c)}</th>' for c in cols)
                + "</tr></thead>")
    body = "".join(
        f'<tr><th scope="row">{esc(r)}</th>'
        + "".join(f"<td>{v:.3f}</td>" for v in np.atleast_1d(row))
        + "</tr>" for r, row in zip(rows, values))
    return ('<details><summary>The weights as numbers</summary>'
            f'<table class="axv-t"><caption>{esc(caption)}</caption>'
            f"{head}<tbody>{body}</tbody></table></details>")


def _caption(text):
    return f"Weights ({text})" if text else "Weights"


class View:
    """One interactive view; Jupyter and the book show it as HTML."""

    def __init__(self, kind, label, body, data, weights=None, summary=""):
        self.kind, self.label, self.body = kind, label, body
        self.data = data
        self.weights = weights          # (layers, heads, rows, cols) or None
        self.summary = summary

    def html(self):
        """The view's HTML, with a fresh id each time it is drawn."""
        uid = _new_id()
        data = _json(self.data, self.weights, self.data.get("digits"))
        css, js = _code(self.kind)
        return (
            f'<div class="axv" id="{uid}" data-kind="{self.kind}" '
            f'role="figure" aria-label="{html.escape(self.label)}">'
            f"<style>{css}</style>{self.body}"
            f'<script type="application/json" class="axv-json">{data}'
            f'</script><script>{js}\nAttnExplorer.boot("{uid}");</script>'
            "</div>")

    def _repr_html_(self):
        return self.html()

    def __repr__(self):
        return f"<{self.kind} view: {self.summary}>"


def _tail(status, caption, table):
    """The status line (the script puts its hint after it), the caption
    and the table of weights."""
    cap = (f'<p class="axv-cap">{html.escape(caption)}</p>'
           if caption else "")
    return (f'<p class="axv-status" aria-live="polite">'
            f"{html.escape(status)}</p>{cap}{table}")


def _sizes(w):
    layers, heads = w.shape[:2]
    return f"{layers} layer(s) x {heads} head(s)"


# ------------------------------------------------------------------ views

def highlighter(words, weights, *, query=None, layer=-1, head="mean",
                layer_names=None, head_names=None, show_weights=False,
                caption=None, label=None, vmax=None, normalize=False,
                digits=_DIGITS):
    """A sentence whose words are shaded by their attention weights.

    ``words``: the L words (strings). ``weights``, one of:

    - ``(L,)``: one weight per word (one query's row); a reader hovers or
      focuses a word to read its weight;
    - ``(L, L)``: self-attention, row ``i`` the weights word ``i`` gives to
      every word; hovering or focusing word ``i`` shows row ``i``;
    - ``(heads, L, L)`` or ``(layers, heads, L, L)``: pickers choose the
      layer and a head or the mean of the heads.

    A torch tensor is taken as it is (detached). Every row must sum to 1
    (within 1e-3); with ``normalize=True`` each row is divided by its sum
    instead, silently. ``query`` is the row shown first (default: the last
    word), ``layer`` and ``head`` (an index or ``"mean"``) the first layer
    and head. A word's marker is its weight over the strongest weight of
    the row, or over ``vmax`` when given. ``show_weights`` writes each
    weight under its word. Raises ValueError on shapes that do not fit the
    words, NaN, negative weights and rows that do not sum to 1.
    """
    words = _labels(words, "words")
    n = len(words)
    one = np.ndim(weights) == 1
    w = _weights(weights, 1 if one else n, n, normalize, one_row=one)
    w = np.round(w, digits)             # (layers, heads, L_q, L)
    layers = _names(layer_names, w.shape[0], "layer")
    heads = _names(head_names, w.shape[1], "head")
    layer = _pick(layer, w.shape[0], "layer")
    if head != "mean":
        head = _pick(head, w.shape[1], "head")
    row = None if one else _pick(n - 1 if query is None else query, n,
                                 "query")
    grid = _grid(w, layer, head)        # (L_q, L)
    ws = grid[0 if one else row]        # (L,)
    shade = _shades(ws, vmax)
    spans = "".join(_word(t, x, s, show_weights)
                    for t, x, s in zip(words, ws, shade))
    what = _what(layers, heads, layer, head)
    if one:
        status = "Highest: " + _top3(words, ws)
        hint = "Hover or focus a word to read its weight."
        table = _table(words, None, ws, _caption(what))
    else:
        status = (f"{_quote(words[row])} looks at: {_top3(words, ws)}"
                  + (f" ({what})" if what else ""))
        hint = ("Hover a word, or focus it with Tab and the arrow keys, to "
                "see where it looks.")
        table = _table(words, words, grid, _caption(what),
                       "query \u2193 key \u2192")
    body = (f'<div class="axv-words">{spans}</div>'
            + _tail(status, caption, table))
    data = {"kind": "highlighter", "hint": hint, "words": words, "one": one,
            "query": row, "layers": layers, "heads": heads,
            "layer": layer, "head": head, "vmax": vmax, "digits": digits}
    label = label or caption or "Attention weights over a sentence"
    return View("highlighter", label, body, data, w,
                f"{n} words, {_sizes(w)}")


def cross_attention(source, target, weights, *, layer=-1, head="mean",
                    layer_names=None, head_names=None, caption=None,
                    label=None, vmax=None, normalize=False,
                    digits=_DIGITS):
    """The source sentence above the target, joined by weighted lines.

    ``source``: the L_s source words, ``target``: the L_t target words.
    ``weights``: ``(L_t, L_s)``, row ``j`` the weights target word ``j``
    gives to the source words; or ``(heads, L_t, L_s)`` or
    ``(layers, heads, L_t, L_s)``, with pickers for the layer and a head or
    the mean of the heads. A line's thickness is its weight (6 px for a
    weight of 1; weights under 0.01 draw no line). At first every line is
    drawn; hovering or focusing a target word keeps its lines and shades
    the source words by its row; a source word shows which target words
    look at it. Escape shows every line again. Rows must sum to 1, or pass
    ``normalize=True`` (each row divided by its sum, silently); ValueError
    otherwise and on bad shapes or NaN.
    """
    source = _labels(source, "source")
    target = _labels(target, "target")
    ns, nt = len(source), len(target)
    w = np.round(_weights(weights, nt, ns, normalize), digits)
    layers = _names(layer_names, w.shape[0], "layer")
    heads = _names(head_names, w.shape[1], "head")
    layer = _pick(layer, w.shape[0], "layer")
    if head != "mean":
        head = _pick(head, w.shape[1], "head")
    grid = _grid(w, layer, head)        # (L_t, L_s)
    lines = "".join(
        f'<line x1="{(i + 0.5) * 1000 / ns:.1f}" y1="0" '
        f'x2="{(j + 0.5) * 1000 / nt:.1f}" y2="100" '
        f'stroke-width="{6 * x:.2f}"></line>'
        for j, row in enumerate(grid) for i, x in enumerate(row)
        if x >= 0.01)
    what = _what(layers, heads, layer, head)
    src = "".join(_word(t, 0.0, 0.0, False) for t in source)
    tgt = "".join(_word(t, 0.0, 0.0, False) for t in target)
    status = ("Every target word's lines; hover or focus a word to follow "
              "one." + (f" ({what})" if what else ""))
    hint = ("Hover or focus a target word (below) to see where it looks, "
            "or a source word (above) to see who looks at it; Escape "
            "shows every line.")
    table = _table(target, source, grid, _caption(what),
                   "target \u2193 source \u2192")
    body = (f'<div class="axv-cross" style="--n:{max(ns, nt)}">'
            + f'<div class="axv-src axv-grid" style="--n:{ns}">{src}</div>'
            + '<svg class="axv-lines" viewBox="0 0 1000 100" '
            + 'preserveAspectRatio="none" aria-hidden="true" '
            + f'focusable="false"><g>{lines}</g></svg>'
            + f'<div class="axv-tgt axv-grid" style="--n:{nt}">{tgt}</div>'
            + "</div>" + _tail(status, caption, table))
    data = {"kind": "cross", "hint": hint, "source": source,
            "target": target,
            "sel": None, "layers": layers, "heads": heads, "layer": layer,
            "head": head, "vmax": vmax, "digits": digits}
    label = label or caption or "Cross-attention from target to source"
    return View("cross", label, body, data, w,
                f"{ns} source and {nt} target words, {_sizes(w)}")


def temperature_explorer(words, scores, temperature=1.0, *,
                         t_range=(0.1, 100.0), caption=None, label=None,
                         vmax=1.0):
    """A slider for the temperature T of softmax(scores / T).

    ``words``: the L words, ``scores``: ``(L,)``, one relevance score per
    word. The page recomputes the weights in the browser as
    ``attnbook.highlighter.softmax(scores / T)`` does (to within 1e-12) and
    shades the words by them, each weight written under its word. The
    slider runs along log10(T) over ``t_range``; T keeps two significant
    digits as it moves. ``temperature`` is the first T. A marker is the
    weight itself by default (``vmax=1``): a cold softmax marks one word
    fully, a hot one fades every word to 1/L; ``vmax=None`` scales by the
    strongest weight instead.
    """
    words = _labels(words, "words")
    s = _array(scores, "scores")
    if s.shape != (len(words),):
        raise ValueError(f"scores of shape {s.shape} for {len(words)} "
                         f"words: expected ({len(words)},)")
    lo, hi = (float(t) for t in t_range)
    if not 0 < lo < hi:
        raise ValueError(f"t_range {t_range} must satisfy 0 < low < high")
    t = float(temperature)
    if not lo <= t <= hi:
        raise ValueError(f"temperature {t} is outside t_range {t_range}")
    x = s / t                           # (L,)
    e = np.exp(x - x.max())             # (L,)
    ws = e / e.sum()                    # (L,): softmax(scores / T)
    shade = _shades(ws, vmax)
    spans = "".join(_word(a, b, c, True)
                    for a, b, c in zip(words, ws, shade))
    shown = f"{t:.3g}"
    rows = [f"{a} (score {b:g})" for a, b in zip(words, s)]
    table = _table(rows, None, ws, f"Weights at T = {shown}")
    status = f"At T = {shown}: {_top3(words, ws)}"
    hint = ("Move the slider (or use the arrow keys on it): low T puts "
            "all the weight on the best word, high T spreads it evenly.")
    body = (f'<div class="axv-words">{spans}</div>'
            + _tail(status, caption, table))
    data = {"kind": "temperature", "hint": hint, "words": words,
            "scores": [float(v) for v in s], "t": t, "range": [lo, hi],
            "vmax": vmax}
    label = label or caption or "Softmax weights at a chosen temperature"
    return View("temperature", label, body, data, None,
                f"{len(words)} words, T = {shown}")


def matrix(x_labels, y_labels, weights, *, layer=-1, head="mean",
           layer_names=None, head_names=None, x_name="key",
           y_name="query", show_weights=None, caption=None, label=None,
           vmax=None, normalize=False, digits=_DIGITS):
    """A heatmap of attention weights, for sentences too long to read.

    ``x_labels``: the L_x column labels (keys), ``y_labels``: the L_y row
    labels (queries). ``weights``: ``(L_y, L_x)``, each row summing to 1
    (or ``normalize=True`` divides it by its sum, silently), or
    ``(heads, L_y, L_x)`` or ``(layers, heads, L_y, L_x)`` with pickers.
    A cell's colour is its weight over the largest weight shown (or
    ``vmax``). Hovering or focusing a cell (Tab, then the arrow keys, Home,
    End, PageUp, PageDown) shows its exact weight; every cell holds it as
    text. ``show_weights`` writes two decimals in every cell (default: when
    there are at most 12 columns). ValueError on bad shapes, NaN, negative
    weights or rows that do not sum to 1.
    """
    xs = _labels(x_labels, "x_labels")
    ys = _labels(y_labels, "y_labels")
    w = np.round(_weights(weights, len(ys), len(xs), normalize), digits)
    layers = _names(layer_names, w.shape[0], "layer")
    heads = _names(head_names, w.shape[1], "head")
    layer = _pick(layer, w.shape[0], "layer")
    if head != "mean":
        head = _pick(head, w.shape[1], "head")
    numbers = len(xs) <= 12 if show_weights is None else bool(show_weights)
    grid = _grid(w, layer, head)        # (L_y, L_x)
    shade = _shades(grid.ravel(), vmax)
    esc = html.escape
    cols = "".join(f'<th scope="col">{esc(x)}</th>' for x in xs)
    rows = []
    for r, y in enumerate(ys):
        cells = []
        for c, v in enumerate(grid[r]):
            cells.append(f'<td style="--s:{_f(shade[r * len(xs) + c])}">'
                         f"<span>{v:.{2 if numbers else 3}f}</span></td>")
        rows.append(f'<tr><th scope="row">{esc(y)}</th>{"".join(cells)}'
                    "</tr>")
    what = _what(layers, heads, layer, head)
    quiet = "" if numbers else " axv-quiet"
    table = (f'<table class="axv-m{quiet}"><caption class="axv-sr">'
             f"{esc(_caption(what))}: rows are {esc(y_name)} words, "
             f"columns {esc(x_name)} words</caption><thead><tr>"
             f'<td></td>{cols}</tr></thead><tbody>{"".join(rows)}'
             "</tbody></table>")
    status = (f"{y_name} {_quote(ys[0])}, {x_name} {_quote(xs[0])}: "
              f"{grid[0, 0]:.{digits}f}" + (f" ({what})" if what else ""))
    hint = ("Hover a cell, or focus it with Tab and the arrow keys, to read "
            "its exact weight.")
    body = table + _tail(status, caption, "")
    data = {"kind": "matrix", "hint": hint, "x": xs, "y": ys,
            "xname": x_name,
            "yname": y_name, "numbers": numbers, "layers": layers,
            "heads": heads, "layer": layer, "head": head, "vmax": vmax,
            "digits": digits}
    label = label or caption or "Attention weights as a matrix"
    return View("matrix", label, body, data, w,
                f"{len(ys)} x {len(xs)}, {_sizes(w)}")


def page(*views, title="Attention explorer", theme="light"):
    """A standalone HTML document that shows ``views`` one after another.

    ``theme`` ("light" or "dark") sets ``<html data-theme>`` as the book's
    theme does. The document loads nothing from anywhere.
    """
    if theme not in ("light", "dark"):
        raise ValueError(f"theme must be 'light' or 'dark', not {theme!r}")
    body = "\n".join(v.html() if isinstance(v, View) else str(v)
                     for v in views)
    return (f'<!DOCTYPE html>\n<html lang="en" data-theme="{theme}">'
            f'<head><meta charset="utf-8"><title>{html.escape(title)}'
            '</title><meta name="viewport" content="width=device-width">'
            '<link rel="icon" href="data:,">'
            "<style>body{font-family:sans-serif;max-width:60em;margin:auto;"
            "padding:1em}html[data-theme=dark] body{background:#14181e;"
            "color:#f0f2f4}</style></head>\n<body><main><h1>"
            + html.escape(title) + "</h1>\n" + body
            + "\n</main></body></html>\n")
