/* attnbook's attention explorer. A view is a <div class="axv"> that holds
   its weights as JSON; AttnExplorer.boot(id) makes it interactive. The page
   the view is drawn in already shows its first picture; this script only
   redraws it. No dependency, no request to the network. */
(function () {
"use strict";
const A = window.AttnExplorer;
if (A && A.version === 1) return;

const qa = (root, sel) => Array.from(root.querySelectorAll(sel));
const fix = (x, d) => x.toFixed(d);
const quote = (s) => "\u201c" + s + "\u201d";

// softmax(scores / t), computed as attnbook.highlighter.softmax does.
function softmax(scores, t) {
  const x = scores.map((s) => s / t);
  const top = Math.max(...x);
  const e = x.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// The (L_q, L_k) weights of one layer: one head, or the mean of the heads.
function weightsOf(d, layer, head) {
  const heads = d.w[layer];
  if (head !== "mean") return heads[head];
  return heads[0].map((row, i) => row.map((_, j) =>
    heads.reduce((a, h) => a + h[i][j], 0) / heads.length));
}

// How strong a word's marker is: its weight over the strongest one shown.
function shades(ws, vmax) {
  const top = vmax || Math.max(...ws) || 1;
  return ws.map((w) => Math.min(1, w / top));
}

function paint(node, w, s) {
  node.dataset.w = w;
  node.style.setProperty("--s", fix(s, 3));
  const n = node.querySelector(".axv-n");
  if (n) n.textContent = fix(w, 2);
}

function top3(names, ws) {
  return ws.map((_, j) => j).sort((a, b) => ws[b] - ws[a]).slice(0, 3)
    .map((j) => names[j] + " " + fix(ws[j], 3)).join(", ");
}

// A bar of controls above the picture, made here: without this script
// (or in a notebook that is not trusted) a view shows no dead controls.
function bar(root) {
  const b = document.createElement("div");
  b.className = "axv-bar";
  root.insertBefore(b, root.firstElementChild.nextElementSibling);
  return b;
}

function select(into, label, cls, options, value) {
  const l = document.createElement("label");
  const s = document.createElement("select");
  s.className = cls;
  options.forEach(([v, t]) => s.add(new Option(t, v, false, v === value)));
  l.append(label + " ", s);
  into.append(l);
  return s;
}

// The layer and head pickers; calls back with the weights they choose.
function pickers(root, d, redraw) {
  const many = d.layers.length > 1 || d.heads.length > 1;
  const b = many ? bar(root) : null;
  const layer = d.layers.length > 1 ? select(b, "Layer", "axv-layer",
    d.layers.map((n, i) => [String(i), n]), String(d.layer)) : null;
  const head = d.heads.length > 1 ? select(b, "Head", "axv-head",
    [["mean", "mean of heads"]].concat(d.heads.map((n, i) => [String(i), n])),
    String(d.head)) : null;
  const state = {layer: d.layer, head: d.head, grid: null, what: ""};
  function read() {
    if (layer) state.layer = +layer.value;
    if (head) state.head = head.value === "mean" ? "mean" : +head.value;
    state.grid = weightsOf(d, state.layer, state.head);
    const parts = [];
    if (d.layers.length > 1) parts.push(d.layers[state.layer]);
    if (d.heads.length > 1) {
      parts.push(state.head === "mean" ? "mean of heads"
        : d.heads[state.head]);
    }
    state.what = parts.join(", ");
  }
  [layer, head].forEach((s) => s && s.addEventListener("change", () => {
    read();
    redraw();
  }));
  read();
  return state;
}

// The weights as numbers, for readers who would rather read a table.
function table(root, values, caption) {
  const cells = qa(root, ".axv-t td");
  values.forEach((v, k) => { cells[k].textContent = fix(v, 3); });
  root.querySelector(".axv-t caption").textContent = caption;
}
const weightsCaption = (what) => "Weights" + (what ? " (" + what + ")" : "");

// Words that a reader picks with the mouse, the arrow keys or Tab.
function listbox(box, label, start, pick, peek) {
  const opts = qa(box, ".axv-w");
  let cur = start === null ? 0 : start;
  box.setAttribute("role", "listbox");
  box.setAttribute("aria-label", label);
  box.setAttribute("aria-orientation", "horizontal");
  const rove = (i) => opts.forEach((o, j) => {
    o.tabIndex = j === i ? 0 : -1;
  });
  opts.forEach((o, i) => {
    o.setAttribute("role", "option");
    o.setAttribute("aria-selected", "false");
    o.addEventListener("focus", () => { cur = i; rove(i); pick(i); });
    o.addEventListener("click", () => o.focus());
    o.addEventListener("mouseenter", () => peek(i));
  });
  rove(cur);
  box.addEventListener("mouseleave", () => peek(null));
  box.addEventListener("keydown", (e) => {
    const k = e.key, n = opts.length;
    let i = {ArrowRight: cur + 1, ArrowDown: cur + 1, ArrowLeft: cur - 1,
      ArrowUp: cur - 1, Home: 0, End: n - 1}[k];
    if (k === "Escape") { pick(null); return; }
    if (i === undefined) return;
    e.preventDefault();
    i = Math.max(0, Math.min(n - 1, i));
    rove(i);
    opts[i].focus();
  });
  return opts;
}

function mark(opts, sel, names, ws) {
  opts.forEach((o, j) => {
    o.setAttribute("aria-selected", String(j === sel));
    o.setAttribute("aria-label", names[j] + " " + fix(ws ? ws[j] : 0, 2));
  });
}

// Wire the first not yet wired view with this id (a notebook may show the
// same output twice); wait for it if the output is not in the page yet.
function boot(id, tries) {
  const root = qa(document, "[id=\"" + id + "\"]").find((r) => !r.axvReady);
  if (!root) {
    if ((tries || 0) < 40) setTimeout(() => boot(id, (tries || 0) + 1), 50);
    return;
  }
  root.axvReady = true;
  const d = JSON.parse(root.querySelector(".axv-json").textContent);
  const hint = document.createElement("p");
  hint.className = "axv-hint";
  hint.textContent = d.hint;
  root.querySelector(".axv-status").after(hint);
  window.AttnExplorer.kinds[d.kind](root, d);
}

window.AttnExplorer = {version: 1, kinds: {}, boot, qa, fix, quote, softmax,
  shades, paint, top3, bar, pickers, table, weightsCaption, listbox, mark};
})();

//@ highlighter
(function (A) {
"use strict";
const {fix, quote, shades, paint, top3, pickers, table, weightsCaption,
  listbox, mark} = A;
A.kinds.highlighter = A.kinds.highlighter || function (root, d) {
  let sel = d.query, peeked = null;
  const st = pickers(root, d, draw);
  const status = root.querySelector(".axv-status");
  const opts = listbox(root.querySelector(".axv-words"),
    d.one ? "Words and their weights" : "Query word: pick one to see where "
      + "it looks", d.one ? null : sel, (i) => { sel = i; draw(); },
    (i) => { peeked = i; draw(); });
  function draw() {
    const i = peeked === null ? sel : peeked;
    const row = d.one ? 0 : (i === null ? d.query : i);
    const ws = st.grid[row], s = shades(ws, d.vmax);
    opts.forEach((o, j) => paint(o, ws[j], s[j]));
    mark(opts, d.one ? i : row, d.words, ws);
    const what = st.what ? " (" + st.what + ")" : "";
    if (d.one) {
      status.textContent = i === null ? "Highest: " + top3(d.words, ws)
        : quote(d.words[i]) + ": " + fix(ws[i], 6);
    } else {
      status.textContent = quote(d.words[row]) + " looks at: "
        + top3(d.words, ws) + what;
    }
    table(root, [].concat(...st.grid), weightsCaption(st.what));
  }
  draw();
};
})(window.AttnExplorer);

//@ temperature
(function (A) {
"use strict";
const {qa, softmax, shades, paint, top3, bar, table} = A;
A.kinds.temperature = A.kinds.temperature || function (root, d) {
  const b = bar(root), label = document.createElement("label");
  const input = document.createElement("input");
  const out = document.createElement("output");
  Object.assign(input, {type: "range", min: Math.log10(d.range[0]),
    max: Math.log10(d.range[1]), step: 0.01, value: Math.log10(d.t)});
  label.append("Temperature ", input);
  b.append(label, out);
  const status = root.querySelector(".axv-status");
  const opts = qa(root, ".axv-words .axv-w");
  function set(t) {
    const ws = softmax(d.scores, t), s = shades(ws, d.vmax);
    const shown = String(+t.toPrecision(3));
    root.dataset.t = t;
    opts.forEach((o, j) => paint(o, ws[j], s[j]));
    out.textContent = "T = " + shown;
    input.setAttribute("aria-valuetext", "temperature " + shown);
    status.textContent = "At T = " + shown + ": " + top3(d.words, ws);
    table(root, ws, "Weights at T = " + shown);
  }
  // The slider moves along log10(T); T keeps two significant digits.
  input.addEventListener("input", () =>
    set(+Math.pow(10, +input.value).toPrecision(2)));
  set(d.t);
};
})(window.AttnExplorer);

//@ cross
(function (A) {
"use strict";
const {fix, quote, shades, paint, top3, pickers, table, weightsCaption,
  listbox, mark} = A;
A.kinds.cross = A.kinds.cross || function (root, d) {
  const st = pickers(root, d, draw);
  const status = root.querySelector(".axv-status");
  const lines = root.querySelector(".axv-lines g");
  const ns = d.source.length, nt = d.target.length;
  let sel = d.sel, peeked = null;
  const src = listbox(root.querySelector(".axv-src"), "Source words",
    null, (i) => { sel = i === null ? null : ["s", i]; draw(); },
    (i) => { peeked = i === null ? null : ["s", i]; draw(); });
  const tgt = listbox(root.querySelector(".axv-tgt"),
    "Target words: pick one to see where it looks", null,
    (i) => { sel = i === null ? null : ["t", i]; draw(); },
    (i) => { peeked = i === null ? null : ["t", i]; draw(); });
  function line(j, i, w) {
    return "<line x1=\"" + fix((i + 0.5) * 1000 / ns, 1) + "\" y1=\"0\" x2=\""
      + fix((j + 0.5) * 1000 / nt, 1) + "\" y2=\"100\" stroke-width=\""
      + fix(6 * w, 2) + "\"></line>";
  }
  function draw() {
    const g = st.grid, on = peeked || sel, svg = [];
    const what = st.what ? " (" + st.what + ")" : "";
    const none = Array(ns).fill(0);
    let ws = none, wt = Array(nt).fill(0);
    g.forEach((row, j) => row.forEach((w, i) => {
      const shown = !on || (on[0] === "t" ? on[1] === j : on[1] === i);
      if (shown && w >= 0.01) svg.push(line(j, i, w));
    }));
    if (!on) {
      status.textContent = "Every target word's lines; hover or focus a "
        + "word to follow one." + what;
    } else if (on[0] === "t") {
      ws = g[on[1]];
      status.textContent = quote(d.target[on[1]]) + " looks at: "
        + top3(d.source, ws) + what;
    } else {
      wt = g.map((row) => row[on[1]]);
      status.textContent = quote(d.source[on[1]]) + " is looked at by: "
        + top3(d.target, wt) + what;
    }
    const ss = on && on[0] === "t" ? shades(ws, d.vmax) : none;
    const stt = on && on[0] === "s" ? shades(wt, d.vmax) : Array(nt).fill(0);
    src.forEach((o, i) => paint(o, ws[i], ss[i]));
    tgt.forEach((o, j) => paint(o, wt[j], stt[j]));
    mark(src, on && on[0] === "s" ? on[1] : null, d.source, ws);
    mark(tgt, on && on[0] === "t" ? on[1] : null, d.target, wt);
    lines.innerHTML = svg.join("");
    table(root, [].concat(...g), weightsCaption(st.what));
  }
  draw();
};
})(window.AttnExplorer);

//@ matrix
(function (A) {
"use strict";
const {qa, fix, quote, shades, paint, pickers} = A;
A.kinds.matrix = A.kinds.matrix || function (root, d) {
  const st = pickers(root, d, draw);
  const status = root.querySelector(".axv-status");
  const grid = root.querySelector(".axv-m");
  const cells = qa(grid, "tbody td");
  const nx = d.x.length, ny = d.y.length;
  const heads = [qa(grid, "thead th"), qa(grid, "tbody th")];
  let cur = 0, peeked = null;
  grid.setAttribute("role", "grid");
  function draw() {
    const g = st.grid, flat = [].concat(...g);
    const s = shades(flat, d.vmax);
    cells.forEach((c, k) => {
      paint(c, flat[k], s[k]);
      c.firstChild.textContent = fix(flat[k], d.numbers ? 2 : 3);
    });
    const k = peeked === null ? cur : peeked, r = Math.floor(k / nx);
    heads[0].forEach((h, i) => h.classList.toggle("axv-on", i === k % nx));
    heads[1].forEach((h, i) => h.classList.toggle("axv-on", i === r));
    status.textContent = d.yname + " " + quote(d.y[r]) + ", " + d.xname
      + " " + quote(d.x[k % nx]) + ": " + fix(g[r][k % nx], d.digits)
      + (st.what ? " (" + st.what + ")" : "");
  }
  const rove = (k) => cells.forEach((c, j) => {
    c.tabIndex = j === k ? 0 : -1;
  });
  cells.forEach((c, k) => {
    c.setAttribute("aria-label", d.yname + " " + d.y[Math.floor(k / nx)]
      + ", " + d.xname + " " + d.x[k % nx]);
    c.addEventListener("focus", () => { cur = k; rove(k); draw(); });
    c.addEventListener("click", () => c.focus());
    c.addEventListener("mouseenter", () => { peeked = k; draw(); });
  });
  grid.addEventListener("mouseleave", () => { peeked = null; draw(); });
  grid.addEventListener("keydown", (e) => {
    const r = Math.floor(cur / nx), c = cur % nx;
    const to = {ArrowRight: [r, c + 1], ArrowLeft: [r, c - 1],
      ArrowDown: [r + 1, c], ArrowUp: [r - 1, c], Home: [r, 0],
      End: [r, nx - 1], PageUp: [0, c], PageDown: [ny - 1, c]}[e.key];
    if (!to) return;
    e.preventDefault();
    const k = Math.max(0, Math.min(ny - 1, to[0])) * nx
      + Math.max(0, Math.min(nx - 1, to[1]));
    rove(k);
    cells[k].focus();
  });
  rove(cur);
  draw();
};
})(window.AttnExplorer);
