"""Checks for chapter 11, a tiny speech recogniser.

Every check here looks at all of its cases before it speaks:

- the cases are fixed edge cases, one at least for every catalogued
  mistake and every rule the exercise states, plus random cases drawn
  from the generator the check is given (the same on every run);
- a mistake is named only when the answer behaves like that mistake's
  model on every case where the model differs from the reference;
  otherwise the message shows the smallest failing case, expected
  against got;
- the check enforces what the exercise text says (the type of the
  result, the argument names given as keywords) and nothing else.

``tests/test_checks_ch11.py`` holds one learner-style wrong answer per
catalogued mistake and proves it is named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..listener import alignment_score, ctc_greedy_decode
from ..spectrogram import hz_to_mel, mel_filterbank, mel_to_hz
from ..speech import WORDS
from ..wer import edit_distance, word_error_rate
from .core import Case, Exercise, Mistake, Tolerance, describe, is_tensor
from .core import matches

# ------------------------------------------------------------------ runner


class NoteCase(Case):
    """A case described by its note alone (which shows its inputs)."""

    def describe(self):
        return self.note


@dataclass
class WholeExercise(Exercise):
    """An exercise whose results are compared in their own terms.

    ``canonical(result, case)`` checks the type the text asks for and
    returns a comparable value (or raises ValueError with a message);
    ``same(a, b)`` compares two canonical values; ``show(case, expected,
    got)`` writes the failure of the smallest failing case. The core does
    the rest (every case judged, a mistake named only when the answer
    behaves like it on every case, ``keywords`` passed by keyword)."""

    canonical: Callable | None = None
    same: Callable | None = None
    show: Callable | None = None

    def _prepare(self, raw, case):
        raw = super()._prepare(raw, case)
        try:
            return self.canonical(raw, case)
        except ValueError as exc:
            self.fail(f"for {case.note}, {exc}")

    def _prepare_expected(self, expected, case):
        return self.canonical(expected, case)

    def _differs(self, result, expected, case):
        return None if self.same(result, expected) else "differs"

    def _same(self, result, model_result, case, tolerance=None):
        return self.same(result, model_result)

    def _explain(self, failing):
        values = [o for o in failing if o.error is None]
        if len(values) < len(failing):
            return super()._explain(failing)
        o = min(values, key=lambda o: _size(o.case.args))
        return self.show(o.case, o.expected, o.result)


def _size(value):
    """How big a case is, to show the smallest failing one."""
    if is_tensor(value) or isinstance(value, np.ndarray):
        return int(np.prod(value.shape))
    if isinstance(value, str):
        return len(value.split()) + 1
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 1 + sum(_size(v) for v in value)
    return 1


def _close(tol):
    def same(a, b):
        if isinstance(a, float) and isinstance(b, float):
            if math.isinf(a) or math.isinf(b) or a != a or b != b:
                return a == b or (a != a and b != b)
        return matches(a, b, tol)
    return same


def _exact(a, b):
    return a == b


def _python_float(value, case):
    """A number the text asks for as a Python float."""
    if is_tensor(value) or isinstance(value, np.ndarray) or not isinstance(
            value, float):
        raise ValueError(f"return a Python float, got {describe(value)} "
                         f"({type(value).__name__}); float(x) makes one.")
    return float(value)


def _fmt(x, digits=4):
    """0.5 -> '0.5', 0.0 -> '0.0', 1/3 -> '0.3333'."""
    if not isinstance(x, float):
        return repr(x)
    text = f"{x:.{digits}g}"
    return text if any(c in text for c in ".ein") else text + ".0"


# --------------------------------------------------------------- ex-11-1


def _hz_to_slaney(f):
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=float)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (
        np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, f / (200.0 / 3))


def _slaney_to_hz(m):
    m = np.asarray(m, dtype=float)
    return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0
                                               * (m - 15.0)), m * 200.0 / 3)


def _mel_variant(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None, *,
                 mode):
    """The filterbank with one catalogued mistake."""
    if f_max is None:
        f_max = sample_rate if mode == "nyquist" else sample_rate / 2
    if mode == "f-min-ignored":
        f_min = 0.0
    if mode == "slaney-scale":  # librosa's default mel scale
        edges = _slaney_to_hz(np.linspace(_hz_to_slaney(f_min),
                                          _hz_to_slaney(f_max), n_mels + 2))
    elif mode == "linear-spacing":
        edges = np.linspace(f_min, f_max, n_mels + 2)
    else:
        edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max),
                                      n_mels + 2))
    n_bins = n_fft // 2 + 1
    bins = np.arange(n_bins) * sample_rate / n_fft
    if mode == "integer-bins":  # a well-known tutorial's shortcut
        points = np.floor((n_fft + 1) * edges / sample_rate).astype(int)
        fb = np.zeros((n_mels, n_bins))
        for m in range(1, n_mels + 1):
            left, centre, right = points[m - 1], points[m], points[m + 1]
            for k in range(left, centre):
                if k < n_bins:
                    fb[m - 1, k] = (k - left) / (centre - left)
            for k in range(centre, right):
                if k < n_bins:
                    fb[m - 1, k] = (right - k) / (right - centre)
        return fb
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0.0, np.minimum((bins - left) / (centre - left),
                                    (right - bins) / (right - centre)))
    if mode == "slaney-area":
        fb = fb * 2.0 / (right - left)
    if mode == "transposed":
        fb = fb.T
    return fb


def _mel_cases(rng):
    def case(n_mels, n_fft, sample_rate, note, **options):
        args = {"n_mels": n_mels, "n_fft": n_fft, "sample_rate": sample_rate}
        args.update(options)
        text = ", ".join(f"{k}={v:g}" for k, v in args.items())
        return NoteCase(args, f"{text} ({note})" if note else text)

    cases = [
        case(4, 16, 8000, "a small filterbank"),
        case(32, 256, 8000, "the chapter's filterbank"),
        case(10, 512, 16000, "a telephone band", f_min=300.0, f_max=3400.0),
        case(6, 64, 1000, "only f_max given", f_max=400.0),
        case(5, 33, 4000, "an odd n_fft"),
    ]
    n_fft = int(rng.choice([128, 200, 256, 400]))
    cases.append(case(int(rng.integers(5, 21)), n_fft,
                      int(rng.choice([8000, 16000])), "random sizes",
                      f_min=float(rng.integers(0, 200))))
    return cases


def _mel_canonical(value, case):
    if not isinstance(value, np.ndarray):
        raise ValueError(f"return a NumPy array, got {describe(value)}.")
    if value.dtype.kind != "f":
        raise ValueError(f"return an array of floats, got dtype "
                         f"{value.dtype}.")
    return value


def _mel_show(case, expected, got):
    if got.shape != expected.shape:
        return (f"for {case.note}, your filterbank has shape {got.shape}; "
                f"expected {expected.shape}, (n_mels, n_fft // 2 + 1).")
    if np.isnan(got).any():
        return f"for {case.note}, your filterbank contains NaN."
    error = np.abs(got - expected)                         # (n_mels, bins)
    row = int(np.unravel_index(int(error.argmax()), error.shape)[0])
    cut = slice(0, min(expected.shape[1], 12))
    return (f"for {case.note}, filter {row} is wrong: expected "
            f"{np.round(expected[row, cut], 3).tolist()}, got "
            f"{np.round(got[row, cut], 3).tolist()}"
            + (" (first 12 bins)." if expected.shape[1] > 12 else "."))


MEL = WholeExercise(
    id="ex-11-1",
    title="The mel filterbank",
    chapter=11,
    points=3,
    function="mel_filterbank",
    reference=mel_filterbank,
    cases=_mel_cases,
    keywords=("f_min", "f_max"),
    canonical=_mel_canonical,
    same=_close(Tolerance(rtol=1e-4, atol=1e-5)),
    show=_mel_show,
    mistakes=[
        Mistake("linear-spacing",
                "your filter edges are spaced evenly in hertz. Space them "
                "evenly in mels: np.linspace(hz_to_mel(f_min), "
                "hz_to_mel(f_max), n_mels + 2), then convert each back to "
                "hertz. That is what makes the low filters narrow.",
                model=lambda *a, **k: _mel_variant(*a, **k,
                                                   mode="linear-spacing")),
        Mistake("slaney-scale",
                "your edges follow Slaney's mel scale (librosa's default, "
                "linear below 1 kHz). This exercise uses the HTK formula, "
                "mel = 2595 * log10(1 + f / 700), in both directions.",
                model=lambda *a, **k: _mel_variant(*a, **k,
                                                   mode="slaney-scale")),
        Mistake("slaney-area",
                "your triangles are scaled to the same area (as librosa's "
                "norm='slaney' does). This exercise asks for a peak of 1: "
                "leave out the factor 2 / (right - left).",
                model=lambda *a, **k: _mel_variant(*a, **k,
                                                   mode="slaney-area")),
        Mistake("integer-bins",
                "you rounded the edges to whole FFT bins (floor((n_fft + 1) "
                "* f / sample_rate), as a popular tutorial does). Evaluate "
                "each triangle at the exact frequency of every bin, "
                "k * sample_rate / n_fft, with the edges where they fall.",
                model=lambda *a, **k: _mel_variant(*a, **k,
                                                   mode="integer-bins")),
        Mistake("transposed",
                "your filterbank is transposed: return one row per filter, "
                "shape (n_mels, n_fft // 2 + 1), so that power @ fb.T gives "
                "the mel energies.",
                model=lambda *a, **k: _mel_variant(*a, **k,
                                                   mode="transposed")),
        Mistake("f-min-ignored",
                "your filters always start at 0 Hz: the first edge is "
                "f_min (in mels, hz_to_mel(f_min)).",
                model=lambda *a, **k: _mel_variant(*a, **k,
                                                   mode="f-min-ignored")),
        Mistake("nyquist",
                "with f_max=None your filters go up to sample_rate. A "
                "sampled signal holds frequencies up to half the sample "
                "rate (the Nyquist frequency): f_max defaults to "
                "sample_rate / 2.",
                model=lambda *a, **k: _mel_variant(*a, **k, mode="nyquist")),
    ],
    hints=[
        "Make n_mels + 2 edge frequencies, evenly spaced on the mel scale "
        "from hz_to_mel(f_min) to hz_to_mel(f_max) (f_max defaults to "
        "sample_rate / 2), and convert them back to hertz with mel_to_hz.",
        "Bin k of an n_fft-point FFT sits at k * sample_rate / n_fft Hz, for "
        "k = 0 .. n_fft // 2. Filter m uses edges m, m + 1, m + 2 (left, "
        "centre, right): it rises as (f - left) / (centre - left) and "
        "falls as (right - f) / (right - centre).",
        "With edges (n_mels + 2,) and bins (n_bins,): left, centre, right = "
        "edges[:-2, None], edges[1:-1, None], edges[2:, None]; "
        "return np.maximum(0, np.minimum((bins - left) / (centre - left), "
        "(right - bins) / (right - centre)))",
    ],
)


# --------------------------------------------------------------- ex-11-2


def _ctc_path_variant(log_probs, blank=0, *, mode):
    """Greedy CTC decoding with one catalogued mistake."""
    x = torch.as_tensor(log_probs)
    if mode == "argmax-over-time":
        best = x.argmax(dim=-2)                             # (..., C)
    else:
        best = x.argmax(dim=-1)                             # (..., T)
    if mode == "blank-zero":
        blank = 0

    def collapse(path):
        if mode == "blanks-first":
            path = [p for p in path if p != blank]
        if mode != "no-merge":
            path = [p for t, p in enumerate(path)
                    if t == 0 or p != path[t - 1]]
        if mode == "blank-kept":
            return path
        return [p for p in path if p != blank]

    if best.dim() == 2:
        return [collapse(row.tolist()) for row in best]
    return collapse(best.tolist())


def _log_probs_of(paths, n_labels, rng):
    """Log-probabilities (batch, T, C) float32 whose best label per frame
    follows ``paths`` (lists of equal length T)."""
    paths = np.asarray(paths)                               # (batch, T)
    logits = rng.normal(size=paths.shape + (n_labels,))     # (batch, T, C)
    batch, t = np.indices(paths.shape)
    logits[batch, t, paths] += 4.0 + rng.uniform(0, 1, size=paths.shape)
    x = torch.from_numpy(logits).float()
    return torch.log_softmax(x, dim=-1)                     # (batch, T, C)


def _ctc_decode_cases(rng):
    def case(paths, n_labels, note, blank=None, batch=False):
        x = _log_probs_of(paths, n_labels, rng)
        args = {"log_probs": x if batch else x[0]}
        if blank is not None:
            args["blank"] = blank
        shown = paths if batch else paths[0]
        text = (f"log_probs of shape {tuple(args['log_probs'].shape)} whose "
                f"best label in each frame is {shown}"
                + (f", blank={blank}" if blank is not None else ""))
        return NoteCase(args, f"{text} ({note})")

    # one random batch of paths with runs of labels and blanks
    rows = []
    for _ in range(3):
        path = []
        while len(path) < 24:
            label = int(rng.integers(0, 6)) if rng.random() < 0.6 else 0
            path += [label] * int(rng.integers(1, 4))
        rows.append(path[:24])
    return [
        case([[1, 1, 0, 2, 2, 2, 0, 3]], 5, "runs of labels"),
        case([[2, 0, 2, 2, 0, 0, 1]], 4, "a label, a blank, the same label"),
        case([[0, 0, 3, 1, 1, 0]], 4, "leading blanks, then two labels"),
        case([[0, 0, 3, 0, 3, 3, 2, 1, 1]], 4, "the blank is the last label; "
             "0 is a word", blank=3),
        case([[4, 4, 0, 4, 1], [0, 0, 0, 0, 0], [2, 3, 3, 0, 3]], 6,
             "a batch of three, one of them all blank", batch=True),
        case(rows, 6, "a random batch", batch=True),
    ]


def _int_list(value):
    if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(
            f"return a list of Python ints, got {describe(value)}"
            + (f" holding {type(value[0]).__name__}" if isinstance(
                value, (list, tuple)) and value else "")
            + " (tensor.tolist() gives Python ints).")
    return list(value)


def _ctc_decode_canonical(value, case):
    if case.args["log_probs"].dim() == 3:
        if not isinstance(value, list) or not all(
                isinstance(v, list) for v in value):
            raise ValueError(f"return a list of lists for a batch (batch, "
                             f"T, C), one list per utterance; got "
                             f"{describe(value)}.")
        return [_int_list(v) for v in value]
    return _int_list(value)


def _ctc_decode_show(case, expected, got):
    return f"for {case.note}: expected {expected}, got {got}."


CTC_DECODE = WholeExercise(
    id="ex-11-2",
    title="Greedy CTC decoding",
    chapter=11,
    points=2,
    function="ctc_greedy_decode",
    reference=ctc_greedy_decode,
    cases=_ctc_decode_cases,
    keywords=("blank",),
    canonical=_ctc_decode_canonical,
    same=_exact,
    show=_ctc_decode_show,
    mistakes=[
        Mistake("blanks-first",
                "you removed the blanks before merging repeats, so a word "
                "said twice ('two <blank> two') became one. Merge the runs "
                "first, then drop the blanks: the blank is what keeps two "
                "equal words apart.",
                model=lambda *a, **k: _ctc_path_variant(
                    *a, **k, mode="blanks-first")),
        Mistake("no-merge",
                "you kept every frame's label: a word lasts several frames, "
                "so repeats must be merged into one (itertools.groupby, or "
                "keep a label only when it differs from the previous "
                "frame's).",
                model=lambda *a, **k: _ctc_path_variant(*a, **k,
                                                        mode="no-merge")),
        Mistake("blank-kept",
                "your result still holds blanks: after merging repeats, "
                "drop every label equal to `blank`.",
                model=lambda *a, **k: _ctc_path_variant(*a, **k,
                                                        mode="blank-kept")),
        Mistake("blank-zero",
                "you treated label 0 as the blank even when `blank` says "
                "otherwise. Use the `blank` argument (some models put the "
                "blank last).",
                model=lambda *a, **k: _ctc_path_variant(*a, **k,
                                                        mode="blank-zero")),
        Mistake("argmax-over-time",
                "you took the argmax over the frames. The best label of "
                "each frame is the argmax over the labels, the last axis: "
                "log_probs.argmax(dim=-1).",
                model=lambda *a, **k: _ctc_path_variant(
                    *a, **k, mode="argmax-over-time")),
    ],
    hints=[
        "path = log_probs.argmax(dim=-1).tolist() gives the best label of "
        "every frame. Then two steps, in this order: merge each run of "
        "equal labels into one, then remove the blanks.",
        "Merging: keep path[t] when t == 0 or path[t] != path[t - 1]. So "
        "[2, 2, 0, 2] -> [2, 0, 2] -> [2, 2]: the blank keeps the two 2s "
        "apart.",
        "For a batch (log_probs.dim() == 3) return [ctc_greedy_decode(x, "
        "blank) for x in log_probs].",
    ],
)


# --------------------------------------------------------------- ex-11-3


def _levenshtein(a, b, substitution=1):
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + substitution * (x != y)))
        previous = current
    return previous[-1]


def _wer_variant(references, hypotheses, *, mode):
    """The word error rate with one catalogued mistake."""
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    split = (lambda s: s.split(" ")) if mode == "single-space" else str.split
    rates, errors, words = [], 0, 0
    for ref, hyp in zip(references, hypotheses):
        r, h = split(ref), split(hyp)
        if mode == "characters":
            r, h = list(ref.strip()), list(hyp.strip())
        if mode == "positional":
            e = sum(x != y for x, y in zip(r, h)) + abs(len(r) - len(h))
        else:
            e = _levenshtein(r, h, 2 if mode == "substitution-two" else 1)
        n = len(h) if mode == "hypothesis-length" else len(r)
        rates.append(e / n)
        errors, words = errors + e, words + n
    if mode == "mean-of-rates":
        return float(np.mean(rates))
    return 100.0 * errors / words if mode == "percent" else errors / words


def _wer_cases(rng):
    def case(refs, hyps, note):
        return NoteCase({"references": refs, "hypotheses": hyps},
                    f"references={refs!r}, hypotheses={hyps!r} ({note})")

    refs, hyps = [], []
    for _ in range(4):
        ref = [str(w) for w in rng.choice(WORDS, size=int(rng.integers(2, 7)))]
        hyp = list(ref)
        for _ in range(int(rng.integers(1, 3))):
            at = int(rng.integers(len(hyp)))
            hyp[at] = str(rng.choice(WORDS))
        if rng.random() < 0.5:
            hyp.insert(int(rng.integers(len(hyp) + 1)), str(rng.choice(WORDS)))
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    return [
        case("seven two oh", "seven oh", "one string each, a word lost"),
        case(["oh six", "four four nine one"], ["oh six", "four"],
             "two utterances of different lengths"),
        case("one two", "one two three four", "two words inserted"),
        case("one two three", "two three one", "the same words, moved"),
        case("nine five", "nine four", "one word replaced"),
        case("  zero  eight ", "zero eight", "extra spaces between words"),
        case(refs, hyps, "random transcripts"),
    ]


def _number_show(case, expected, got):
    """A one-number result: its case, expected against got."""
    return f"for {case.note}: expected {_fmt(expected)}, got {_fmt(got)}."


WER = WholeExercise(
    id="ex-11-3",
    title="The word error rate",
    chapter=11,
    points=3,
    function="word_error_rate",
    reference=word_error_rate,
    cases=_wer_cases,
    canonical=_python_float,
    same=_close(Tolerance(rtol=1e-9, atol=1e-12)),
    show=_number_show,
    mistakes=[
        Mistake("hypothesis-length",
                "you divided by the number of words in the hypotheses. The "
                "word error rate is measured against what was said: divide "
                "by the number of reference words (and check that the "
                "references come first).",
                model=lambda r, h: _wer_variant(r, h,
                                                mode="hypothesis-length")),
        Mistake("mean-of-rates",
                "you averaged the error rates of the utterances. Add up the "
                "errors of all utterances and divide by all their reference "
                "words, so that a long utterance counts more than a short "
                "one (as jiwer does).",
                model=lambda r, h: _wer_variant(r, h, mode="mean-of-rates")),
        Mistake("characters",
                "you compared characters, not words. Split each sentence "
                "into words (sentence.split()) and run the edit distance "
                "on the word lists.",
                model=lambda r, h: _wer_variant(r, h, mode="characters")),
        Mistake("positional",
                "you compared the words position by position. A lost word "
                "shifts everything after it; the edit distance finds the "
                "cheapest alignment (dynamic programming), so 'one two "
                "three' -> 'two three one' costs 2, not 3.",
                model=lambda r, h: _wer_variant(r, h, mode="positional")),
        Mistake("substitution-two",
                "a substitution costs you 2 (a deletion and an insertion). "
                "Replacing one word by another is one error: the diagonal "
                "step costs 1 when the words differ, 0 when they match.",
                model=lambda r, h: _wer_variant(r, h,
                                                mode="substitution-two")),
        Mistake("single-space",
                "you split on single spaces (split(' ')), so extra spaces "
                "make empty 'words'. Use sentence.split(), which splits on "
                "any run of spaces.",
                model=lambda r, h: _wer_variant(r, h, mode="single-space")),
        Mistake("percent",
                "your answer is 100 times too large: return a fraction "
                "(0.25), not a percentage (25).",
                model=lambda r, h: _wer_variant(r, h, mode="percent")),
    ],
    hints=[
        "First the edit distance of two word lists: the fewest "
        "substitutions, insertions and deletions that turn one into the "
        "other. d[i][j] is the distance between the first i reference words "
        "and the first j hypothesis words; d[i][0] = i, d[0][j] = j.",
        "d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + (ref[i-1] "
        "!= hyp[j-1])). Then the WER adds the distances of all utterances "
        "and divides by the total number of reference words.",
        "If references is a str, make it [references] (and hypotheses "
        "too). errors = sum(distance(r.split(), h.split()) ...); words = "
        "sum(len(r.split()) ...); return errors / words",
    ],
)


# --------------------------------------------------------------- ex-11-4


def _alignment_variant(weights, spans, times, *, mode):
    """The alignment score with one catalogued mistake."""
    shares, inside, total = [], 0, 0
    for w, word_spans, t in zip(weights, spans, times):
        w = np.asarray(w, dtype=float)
        if mode == "wrong-axis":
            peaks = w.argmax(axis=0)[: len(word_spans)]
        else:
            peaks = w[: len(word_spans)].argmax(axis=-1)
        hits = 0
        for i, ((start, end), peak) in enumerate(zip(word_spans, peaks)):
            if mode == "weight-inside":
                hits += float(w[i][(t >= start) & (t < end)].sum())
            elif mode == "end-inclusive":
                hits += start <= t[peak] <= end
            elif mode == "any-word":
                hits += any(s <= t[peak] < e for s, e in word_spans)
            else:
                hits += start <= t[peak] < end
        n = len(w) if mode == "eos-counted" else len(word_spans)
        shares.append(hits / n)
        inside, total = inside + hits, total + n
    if mode == "mean-of-utterances":
        return float(np.mean(shares))
    return 100.0 * inside / total if mode == "percent" else inside / total


def _attention(rng, n_frames, peaks, sharp):
    """(len(peaks), n_frames) rows of weights, each peaking at its frame."""
    logits = rng.normal(size=(len(peaks), n_frames))        # (rows, frames)
    rows = np.arange(len(peaks))
    logits[rows, peaks] = logits.max(axis=1) + sharp        # a clear peak
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)                 # (rows, frames)


def _alignment_cases(rng):
    def case(utterances, note):
        args = {"weights": [u[0] for u in utterances],
                "spans": [u[1] for u in utterances],
                "times": [u[2] for u in utterances]}
        text = f"{len(utterances)} utterance" + "s" * (len(utterances) > 1)
        return NoteCase(args, f"{text} ({note})")

    def utterance(spans, peaks, n_frames, sharp=2.0):
        times = np.arange(n_frames) * 0.08 + 0.0125         # (n_frames,)
        return (_attention(rng, n_frames, peaks, sharp), spans, times)

    # the peaks of the first two words are inside, the third is not;
    # <eos> (the last row) peaks at the end of the audio
    small = utterance([(0.0, 0.2), (0.2, 0.36), (0.36, 0.5)],
                      [1, 3, 3, 6], 7)
    # word 0's peak is exactly at word 1's start (frame 2's time): inside
    # word 1, outside word 0, which ends there; word 1, the last, peaks
    # exactly at its own end (frame 4)
    t = np.arange(6) * 0.08 + 0.0125
    edge = utterance([(0.1, float(t[2])), (float(t[2]), float(t[4]))],
                     [2, 4, 5], 6)
    rows = []
    for _ in range(4):
        n = int(rng.integers(2, 6))
        bounds = np.sort(rng.choice(np.arange(1, 30), size=n + 1,
                                    replace=False)) * 0.04
        word_spans = [(float(a), float(b)) for a, b in zip(bounds, bounds[1:])]
        n_frames = int(bounds[-1] / 0.08) + 3
        centres = [int((a + b) / 2 / 0.08) for a, b in word_spans]
        peaks = [c if rng.random() < 0.7 else int(rng.integers(n_frames))
                 for c in centres] + [n_frames - 1]
        rows.append(utterance(word_spans, peaks, n_frames))
    long = utterance([(0.1 * i, 0.1 * i + 0.1) for i in range(8)],
                     [int((0.1 * i + 0.05) / 0.08) for i in range(8)] + [9],
                     11)
    return [
        case([small], "three words and <eos>; two peaks inside"),
        case([edge], "a peak exactly at a word boundary"),
        case([small, long], "a short and a long utterance"),
        case(rows, "random utterances"),
    ]


ALIGNMENT = WholeExercise(
    id="ex-11-4",
    title="The alignment score",
    chapter=11,
    points=3,
    function="alignment_score",
    reference=alignment_score,
    cases=_alignment_cases,
    canonical=_python_float,
    same=_close(Tolerance(rtol=1e-9, atol=1e-12)),
    show=_number_show,
    mistakes=[
        Mistake("eos-counted",
                "you counted the <eos> row as a word. It has no span: "
                "score only the first len(spans[i]) rows of each "
                "utterance, and count only those.",
                model=lambda *a: _alignment_variant(*a, mode="eos-counted")),
        Mistake("wrong-axis",
                "you took the argmax over the words (axis 0). Each row is "
                "one word's attention over the frames: the peak of word i "
                "is weights[i].argmax(), the argmax along the last axis.",
                model=lambda *a: _alignment_variant(*a, mode="wrong-axis")),
        Mistake("mean-of-utterances",
                "you averaged the shares of the utterances. Count the words "
                "inside their spans over all utterances and divide by all "
                "the words, so that every word counts the same.",
                model=lambda *a: _alignment_variant(
                    *a, mode="mean-of-utterances")),
        Mistake("end-inclusive",
                "a peak at a word's end counted as inside. A span is "
                "start <= t < end: the end of one word is the start of the "
                "next, and a peak there belongs to the next word.",
                model=lambda *a: _alignment_variant(*a,
                                                    mode="end-inclusive")),
        Mistake("any-word",
                "you counted a peak inside any word's span. It must be "
                "inside the span of the word being written: word i against "
                "spans[i].",
                model=lambda *a: _alignment_variant(*a, mode="any-word")),
        Mistake("weight-inside",
                "you measured how much attention weight falls inside each "
                "span. The score asks where the peak (the argmax) is: 1 for "
                "a word whose peak is inside, 0 otherwise.",
                model=lambda *a: _alignment_variant(*a,
                                                    mode="weight-inside")),
        Mistake("percent",
                "your answer is 100 times too large: return a share "
                "between 0 and 1, not a percentage.",
                model=lambda *a: _alignment_variant(*a, mode="percent")),
    ],
    hints=[
        "For one utterance, the peak of word i is the frame with the most "
        "weight in row i: peaks = w[:len(spans)].argmax(axis=1). Its time "
        "is times[peak].",
        "Word i counts as inside when start <= times[peak] < end for its "
        "own (start, end) = spans[i]. The <eos> row has no span.",
        "Keep two counters over all utterances, inside and total; "
        "return inside / total (a Python float).",
    ],
)


# --------------------------------------------------------------- ex-11-5


def _ctc_forward(log_probs, targets, blank=0, *, mode="right"):
    """-log p(targets | log_probs) by the CTC forward algorithm (or with
    one catalogued mistake), in float64. log_probs (T, C)."""
    lp = torch.as_tensor(log_probs).double()                # (T, C)
    if mode == "blank-zero":
        blank = 0
    ext = [blank]
    for label in targets:
        ext += [label, blank]                               # (S,) = 2L + 1
    s_len = len(ext)
    ext_t = torch.tensor(ext)
    skip = torch.zeros(s_len, dtype=torch.bool)             # s-2 -> s ok?
    for s in range(2, s_len):
        if mode == "skip-repeats":
            skip[s] = ext[s] != blank
        else:
            skip[s] = ext[s] != blank and ext[s] != ext[s - 2]
    if mode == "no-skip":
        skip[:] = False
    neg = torch.tensor(-math.inf, dtype=torch.float64)
    if mode == "probabilities":
        p = lp.exp()                                        # (T, C)
        alpha = torch.zeros(s_len, dtype=torch.float64)
        alpha[0] = p[0, ext[0]]
        if s_len > 1:
            alpha[1] = p[0, ext[1]]
        for t in range(1, lp.size(0)):
            stay = alpha
            step = torch.cat([alpha.new_zeros(1), alpha[:-1]])
            jump = torch.cat([alpha.new_zeros(2), alpha[:-2]]) * skip
            alpha = (stay + step + jump) * p[t, ext_t]      # (S,)
        total = alpha[-1] + (alpha[-2] if s_len > 1 else 0.0)
        return float(-torch.log(total))
    combine = torch.logsumexp if mode != "viterbi" else (
        lambda x, dim: x.max(dim=dim).values)
    alpha = torch.full((s_len,), -math.inf, dtype=torch.float64)
    alpha[0] = lp[0, ext[0]]
    if s_len > 1 and mode != "start-blank-only":
        alpha[1] = lp[0, ext[1]]
    for t in range(1, lp.size(0)):
        step = torch.cat([neg.view(1), alpha[:-1]])         # from s - 1
        jump = torch.cat([neg.repeat(2), alpha[:-2]])       # from s - 2
        jump = torch.where(skip, jump, neg)
        alpha = combine(torch.stack([alpha, step, jump]), dim=0) + lp[
            t, ext_t]                                       # (S,)
    if mode == "end-label-only" and s_len > 1:
        ends = alpha[-2:-1]                                 # the last label
    else:
        ends = alpha[-2:]                        # the last label or blank
    loss = -float(combine(ends, dim=0))
    if mode == "log-likelihood":
        return -loss
    if mode == "divided-by-length":
        return loss / max(1, len(targets))
    return loss


def _ctc_loss_reference(log_probs, targets, blank=0):
    return _ctc_forward(log_probs, targets, blank)


def _ctc_loss_cases(rng):
    def case(n_frames, n_labels, targets, note, blank=None, scale=1.0):
        logits = torch.from_numpy(rng.normal(size=(n_frames, n_labels))
                                  * scale)
        args = {"log_probs": torch.log_softmax(logits, dim=-1),
                "targets": list(targets)}
        if blank is not None:
            args["blank"] = blank
        text = (f"log_probs of shape ({n_frames}, {n_labels}), "
                f"targets={list(targets)}"
                + (f", blank={blank}" if blank is not None else ""))
        return NoteCase(args, f"{text} ({note})")

    t = int(rng.integers(10, 21))
    random_targets = [int(x) for x in rng.integers(1, 5, size=int(
        rng.integers(2, 5)))]
    return [
        case(4, 3, [1, 2], "two different labels"),
        case(6, 3, [1, 1, 2], "a repeated label"),
        case(3, 3, [1, 1], "one path only: 1, blank, 1"),
        case(5, 4, [0, 1, 0], "the blank is the last label", blank=3),
        case(1, 3, [2], "a single frame"),
        case(t, 5, random_targets, "random sizes", scale=2.0),
        case(400, 8, [3, 1, 4], "400 frames: probabilities underflow"),
    ]


def _loss_canonical(value, case):
    if is_tensor(value):
        if value.dim() != 0 or not value.dtype.is_floating_point:
            raise ValueError(f"return a scalar (a float or a 0-d tensor), "
                             f"got {describe(value)} of dtype "
                             f"{value.dtype}.")
        return float(value.detach())
    if isinstance(value, (float, np.floating)) and not isinstance(
            value, np.ndarray):
        return float(value)
    raise ValueError(f"return a scalar (a float or a 0-d tensor), got "
                     f"{describe(value)}.")


def _loss_show(case, expected, got):
    return f"for {case.note}: expected {_fmt(expected, 6)}, got " \
           f"{_fmt(got, 6)}."


CTC_LOSS = WholeExercise(
    id="ex-11-5",
    title="Challenge: the CTC loss by the forward algorithm",
    chapter=11,
    points=4,
    function="ctc_loss",
    reference=_ctc_loss_reference,
    cases=_ctc_loss_cases,
    keywords=("blank",),
    canonical=_loss_canonical,
    same=_close(Tolerance(rtol=1e-5, atol=1e-6)),
    show=_loss_show,
    forbidden=["torch.nn.functional.ctc_loss", "torch.ctc_loss"],
    mistakes=[
        Mistake("no-skip",
                "your paths always pass through a blank between two labels. "
                "Between two different labels the blank may be skipped "
                "(alpha[s] also takes alpha[s - 2] when ext[s] is a label "
                "different from ext[s - 2]).",
                model=lambda *a, **k: _ctc_forward(*a, **k, mode="no-skip")),
        Mistake("skip-repeats",
                "you let a path jump from a label straight to the same label "
                "again. 'two two' needs a blank between the two 'two's, or "
                "they merge into one: skip only when ext[s] != ext[s - 2].",
                model=lambda *a, **k: _ctc_forward(*a, **k,
                                                   mode="skip-repeats")),
        Mistake("start-blank-only",
                "your paths all start with a blank. A path may also start "
                "with the first label: alpha at t = 0 is set for s = 0 "
                "(blank) and s = 1 (the first label).",
                model=lambda *a, **k: _ctc_forward(*a, **k,
                                                   mode="start-blank-only")),
        Mistake("end-label-only",
                "your paths all end on the last label. They may also end "
                "on the blank after it: add the last two alphas (in log "
                "space, logsumexp of alpha[-1] and alpha[-2]).",
                model=lambda *a, **k: _ctc_forward(*a, **k,
                                                   mode="end-label-only")),
        Mistake("viterbi",
                "you kept only the best path (max) at each step. The CTC "
                "probability adds up all the paths: combine the alphas "
                "with logsumexp, not max.",
                model=lambda *a, **k: _ctc_forward(*a, **k, mode="viterbi")),
        Mistake("probabilities",
                "you multiplied probabilities, which underflow to 0 for "
                "long inputs (400 frames here), so the loss became "
                "infinite. Work with log-probabilities: add them, and "
                "combine paths with torch.logsumexp.",
                model=lambda *a, **k: _ctc_forward(*a, **k,
                                                   mode="probabilities")),
        Mistake("log-likelihood",
                "you returned log p(targets), a negative number. The loss "
                "is its negative, -log p(targets).",
                model=lambda *a, **k: _ctc_forward(*a, **k,
                                                   mode="log-likelihood")),
        Mistake("divided-by-length",
                "you divided the loss by the number of targets (as "
                "PyTorch's reduction='mean' does). This exercise asks for "
                "-log p(targets) itself (reduction='sum').",
                model=lambda *a, **k: _ctc_forward(
                    *a, **k, mode="divided-by-length")),
        Mistake("blank-zero",
                "you used label 0 as the blank whatever `blank` says: build "
                "the extended sequence with the `blank` argument.",
                model=lambda *a, **k: _ctc_forward(*a, **k,
                                                   mode="blank-zero")),
    ],
    hints=[
        "Put a blank before, between and after the targets: ext = [b, y1, "
        "b, y2, b, ...] (length 2L + 1). alpha[s] is the log-probability of "
        "all paths that, after frame t, have produced ext[:s + 1] and sit "
        "in state s.",
        "At t = 0 only s = 0 and s = 1 are possible: alpha = log_probs[0, "
        "ext[s]] there, -inf elsewhere. Then alpha_t[s] = logsumexp("
        "alpha[s], alpha[s - 1], alpha[s - 2] if ext[s] is not blank and "
        "ext[s] != ext[s - 2]) + log_probs[t, ext[s]].",
        "The loss is -logsumexp(alpha[-1], alpha[-2]) after the last frame. "
        "torch.logsumexp(torch.stack([...]), 0) works on tensors, "
        "-float('inf') marks an impossible state.",
    ],
    time_limit=10.0,
)


EXERCISES = [MEL, CTC_DECODE, WER, ALIGNMENT, CTC_LOSS]
