"""Chapter 11 checks: correct answers pass, each catalogued mistake is named, the rest is described."""

import itertools
import math

import jiwer
import numpy as np
import pytest
import torch

from attnbook.checks import EXERCISES
from checkkit import failure, make_tests, run_check

# --------------------------------------------------------------------------- ex-11-1 mel filterbank


def hz_to_mel(f):
    return 2595 * np.log10(1 + np.asarray(f, dtype=float) / 700)


def mel_to_hz(m):
    return 700 * (10 ** (np.asarray(m, dtype=float) / 2595) - 1)


def mel_vectorised(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    f_max = sample_rate / 2 if f_max is None else f_max
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((bins - left) / (centre - left), (right - bins) / (right - centre)))


def mel_loops_float32(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    if f_max is None:
        f_max = sample_rate / 2
    low, high = 1127 * math.log(1 + f_min / 700), 1127 * math.log(1 + f_max / 700)   # the same scale in ln
    edges = [700 * (math.exp((low + (high - low) * i / (n_mels + 1)) / 1127) - 1) for i in range(n_mels + 2)]
    fb = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for m in range(n_mels):
        a, b, c = edges[m], edges[m + 1], edges[m + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sample_rate / n_fft
            if a < f <= b:
                fb[m, k] = (f - a) / (b - a)
            elif b < f < c:
                fb[m, k] = (c - f) / (c - b)
    return fb


def mel_linear(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    f_max = sample_rate / 2 if f_max is None else f_max
    edges = np.linspace(f_min, f_max, n_mels + 2)                 # hertz, not mels
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((bins - left) / (centre - left), (right - bins) / (right - centre)))


def mel_librosa_scale(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    """Edges on Slaney's scale, as librosa.filters.mel(htk=False) (peaks still 1)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    f_sp, min_log_hz, min_log_mel, logstep = 200 / 3, 1000.0, 15.0, np.log(6.4) / 27

    def to_mel(f):
        return f / f_sp if f < min_log_hz else min_log_mel + np.log(f / min_log_hz) / logstep

    mels = np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2)
    edges = np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((bins - left) / (centre - left), (right - bins) / (right - centre)))


def mel_area(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    fb = mel_vectorised(n_mels, n_fft, sample_rate, f_min, f_max)
    f_max = sample_rate / 2 if f_max is None else f_max
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    return fb * (2.0 / (edges[2:] - edges[:-2]))[:, None]           # librosa's norm="slaney"


def mel_tutorial(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    """The integer-bin filterbank of a widely copied tutorial."""
    f_max = sample_rate / 2 if f_max is None else f_max
    hz_points = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    bin_ = np.floor((n_fft + 1) * hz_points / sample_rate)
    fbank = np.zeros((n_mels, int(np.floor(n_fft / 2 + 1))))
    for m in range(1, n_mels + 1):
        f_m_minus, f_m, f_m_plus = int(bin_[m - 1]), int(bin_[m]), int(bin_[m + 1])
        for k in range(f_m_minus, f_m):
            if k < fbank.shape[1]:
                fbank[m - 1, k] = (k - bin_[m - 1]) / (bin_[m] - bin_[m - 1])
        for k in range(f_m, f_m_plus):
            if k < fbank.shape[1]:
                fbank[m - 1, k] = (bin_[m + 1] - k) / (bin_[m + 1] - bin_[m])
    return fbank


def mel_transposed(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    return mel_vectorised(n_mels, n_fft, sample_rate, f_min, f_max).T.copy()


def mel_from_zero(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    return mel_vectorised(n_mels, n_fft, sample_rate, 0.0, f_max)


def mel_nyquist(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    return mel_vectorised(n_mels, n_fft, sample_rate, f_min, sample_rate if f_max is None else f_max)


# --------------------------------------------------------------------------- ex-11-2 greedy CTC decoding


def ctc_decode_loop(log_probs, blank=0):
    if log_probs.dim() == 3:
        return [ctc_decode_loop(x, blank) for x in log_probs]
    out, previous = [], None
    for label in log_probs.argmax(-1).tolist():
        if label != previous and label != blank:
            out.append(label)
        previous = label
    return out


def ctc_decode_groupby(log_probs, blank=0):
    best = torch.argmax(log_probs, dim=-1)
    if best.ndim == 2:
        return [[k for k, _ in itertools.groupby(row.tolist()) if k != blank] for row in best]
    return [k for k, _ in itertools.groupby(best.tolist()) if k != blank]


def ctc_decode_unique_consecutive(log_probs, blank=0):
    paths = log_probs.argmax(-1)
    rows = paths if paths.dim() == 2 else paths[None]
    out = []
    for row in rows:
        merged = torch.unique_consecutive(row)
        out.append(merged[merged != blank].tolist())
    return out if paths.dim() == 2 else out[0]


def ctc_blanks_first(log_probs, blank=0):
    if log_probs.dim() == 3:
        return [ctc_blanks_first(x, blank) for x in log_probs]
    path = [p for p in log_probs.argmax(-1).tolist() if p != blank]
    return [p for i, p in enumerate(path) if i == 0 or p != path[i - 1]]


def ctc_no_merge(log_probs, blank=0):
    if log_probs.dim() == 3:
        return [ctc_no_merge(x, blank) for x in log_probs]
    return [p for p in log_probs.argmax(-1).tolist() if p != blank]


def ctc_blank_kept(log_probs, blank=0):
    if log_probs.dim() == 3:
        return [ctc_blank_kept(x, blank) for x in log_probs]
    return [k for k, _ in itertools.groupby(log_probs.argmax(-1).tolist())]


def ctc_blank_zero(log_probs, blank=0):
    return ctc_decode_loop(log_probs, 0)


def ctc_argmax_time(log_probs, blank=0):
    best = log_probs.argmax(dim=-2)                                  # over the frames
    if best.dim() == 2:
        return [[k for k, _ in itertools.groupby(r.tolist()) if k != blank] for r in best]
    return [k for k, _ in itertools.groupby(best.tolist()) if k != blank]


# --------------------------------------------------------------------------- ex-11-3 word error rate


def distance(a, b):
    d = np.zeros((len(a) + 1, len(b) + 1), dtype=int)
    d[:, 0], d[0, :] = np.arange(len(a) + 1), np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return int(d[-1, -1])


def wer_table(references, hypotheses):
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    errors = sum(distance(r.split(), h.split()) for r, h in zip(references, hypotheses))
    return errors / sum(len(r.split()) for r in references)


def wer_recursive(references, hypotheses):
    from functools import lru_cache

    refs = [references] if isinstance(references, str) else references
    hyps = [hypotheses] if isinstance(hypotheses, str) else hypotheses
    total = words = 0
    for r, h in zip(refs, hyps):
        r, h = tuple(r.split()), tuple(h.split())

        @lru_cache(maxsize=None)
        def d(i, j):
            if i == 0 or j == 0:
                return i + j
            return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (r[i - 1] != h[j - 1]))

        total += d(len(r), len(h))
        words += len(r)
    return float(total / words)


def wer_numpy_float(references, hypotheses):
    return np.float64(wer_table(references, hypotheses))


def wer_by_hypothesis(references, hypotheses):
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    errors = sum(distance(r.split(), h.split()) for r, h in zip(references, hypotheses))
    return errors / sum(len(h.split()) for h in hypotheses)


def wer_mean(references, hypotheses):
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    return sum(distance(r.split(), h.split()) / len(r.split()) for r, h in zip(references, hypotheses)) / len(references)


def wer_characters(references, hypotheses):
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    errors = sum(distance(list(r.strip()), list(h.strip())) for r, h in zip(references, hypotheses))
    return errors / sum(len(r.strip()) for r in references)


def wer_positional(references, hypotheses):
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    errors = words = 0
    for r, h in zip(references, hypotheses):
        r, h = r.split(), h.split()
        errors += sum(a != b for a, b in zip(r, h)) + abs(len(r) - len(h))
        words += len(r)
    return errors / words


def wer_lcs(references, hypotheses):
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    errors = words = 0
    for r, h in zip(references, hypotheses):
        r, h = r.split(), h.split()
        lcs = np.zeros((len(r) + 1, len(h) + 1), dtype=int)     # longest common subsequence
        for i in range(1, len(r) + 1):
            for j in range(1, len(h) + 1):
                lcs[i, j] = lcs[i - 1, j - 1] + 1 if r[i - 1] == h[j - 1] else max(lcs[i - 1, j], lcs[i, j - 1])
        errors += len(r) + len(h) - 2 * lcs[-1, -1]               # a substitution costs 2
        words += len(r)
    return errors / words


def wer_split_space(references, hypotheses):
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    errors = sum(distance(r.split(" "), h.split(" ")) for r, h in zip(references, hypotheses))
    return errors / sum(len(r.split(" ")) for r in references)


def wer_percent(references, hypotheses):
    return 100 * wer_table(references, hypotheses)


# --------------------------------------------------------------------------- ex-11-4 alignment score


def align_loops(weights, spans, times):
    inside = total = 0
    for w, word_spans, t in zip(weights, spans, times):
        for i, (start, end) in enumerate(word_spans):
            peak = int(np.argmax(w[i]))
            inside += start <= t[peak] < end
            total += 1
    return inside / total


def align_vectorised(weights, spans, times):
    hits = []
    for w, s, t in zip(weights, spans, times):
        s = np.asarray(s)                                           # (n_words, 2)
        peak_t = np.asarray(t)[np.asarray(w)[: len(s)].argmax(axis=1)]
        hits.append((s[:, 0] <= peak_t) & (peak_t < s[:, 1]))
    return float(np.concatenate(hits).mean())


def align_eos(weights, spans, times):
    inside = total = 0
    for w, word_spans, t in zip(weights, spans, times):
        for i in range(len(w)):                                      # every row, <eos> too
            peak = t[np.argmax(w[i])]
            if i < len(word_spans):
                inside += word_spans[i][0] <= peak < word_spans[i][1]
            total += 1
    return inside / total


def align_axis0(weights, spans, times):
    inside = total = 0
    for w, word_spans, t in zip(weights, spans, times):
        peaks = np.argmax(w, axis=0)
        for (start, end), peak in zip(word_spans, peaks):
            inside += start <= t[peak] < end
            total += 1
    return inside / total


def align_macro(weights, spans, times):
    shares = [align_loops([w], [s], [t]) for w, s, t in zip(weights, spans, times)]
    return sum(shares) / len(shares)


def align_inclusive(weights, spans, times):
    inside = total = 0
    for w, word_spans, t in zip(weights, spans, times):
        for i, (start, end) in enumerate(word_spans):
            inside += start <= t[int(np.argmax(w[i]))] <= end
            total += 1
    return inside / total


def align_any(weights, spans, times):
    inside = total = 0
    for w, word_spans, t in zip(weights, spans, times):
        for i in range(len(word_spans)):
            peak = t[int(np.argmax(w[i]))]
            inside += any(a <= peak < b for a, b in word_spans)
            total += 1
    return inside / total


def align_mass(weights, spans, times):
    inside = total = 0
    for w, word_spans, t in zip(weights, spans, times):
        t = np.asarray(t)
        for i, (start, end) in enumerate(word_spans):
            inside += w[i][(t >= start) & (t < end)].sum()
            total += 1
    return float(inside / total)


def align_percent(weights, spans, times):
    return 100 * align_loops(weights, spans, times)


# --------------------------------------------------------------------------- ex-11-5 CTC loss


def extended(targets, blank):
    ext = [blank]
    for y in targets:
        ext += [y, blank]
    return ext


def ctc_loss_loops(log_probs, targets, blank=0, skip_rule="different", start_states=2, end_states=2,
                   combine="logsumexp", space="log"):
    ext = extended(targets, blank)
    lp = log_probs.double()
    T, S = lp.shape[0], len(ext)
    if space == "prob":
        p = lp.exp().tolist()
        alpha = [0.0] * S
        alpha[0] = p[0][ext[0]]
        if S > 1:
            alpha[1] = p[0][ext[1]]
        for t in range(1, T):
            new = []
            for s in range(S):
                total = alpha[s] + (alpha[s - 1] if s >= 1 else 0.0)
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    total += alpha[s - 2]
                new.append(total * p[t][ext[s]])
            alpha = new
        total = alpha[-1] + (alpha[-2] if S > 1 else 0.0)
        return -math.log(total) if total > 0 else math.inf
    neg = -math.inf

    def lse(values):
        values = [v for v in values if v != neg]
        if not values:
            return neg
        if combine == "max":
            return max(values)
        top = max(values)
        return top + math.log(sum(math.exp(v - top) for v in values))

    rows = lp.tolist()
    alpha = [neg] * S
    alpha[0] = rows[0][ext[0]]
    if S > 1 and start_states == 2:
        alpha[1] = rows[0][ext[1]]
    for t in range(1, T):
        new = []
        for s in range(S):
            options = [alpha[s]] + ([alpha[s - 1]] if s >= 1 else [])
            if s >= 2 and ext[s] != blank:
                if skip_rule == "different" and ext[s] != ext[s - 2]:
                    options.append(alpha[s - 2])
                elif skip_rule == "always":
                    options.append(alpha[s - 2])
            new.append(lse(options) + rows[t][ext[s]] if lse(options) != neg else neg)
        alpha = new
    ends = [alpha[-1], alpha[-2]] if end_states == 2 and S > 1 else [alpha[-2] if S > 1 else alpha[-1]]
    return -lse(ends)


def ctc_loss_tensor(log_probs, targets, blank=0):
    """Vectorised over the states, in float32 as the learner's model would be."""
    ext = torch.tensor(extended(targets, blank))
    S = len(ext)
    lp = log_probs.float()
    allowed = torch.zeros(S, dtype=torch.bool)
    allowed[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    alpha = torch.full((S,), -float("inf"))
    alpha[:2] = lp[0, ext[:2]]
    for t in range(1, lp.shape[0]):
        a1 = torch.cat([torch.tensor([-float("inf")]), alpha[:-1]])
        a2 = torch.cat([torch.tensor([-float("inf")] * 2), alpha[:-2]])
        a2 = torch.where(allowed, a2, torch.tensor(-float("inf")))
        alpha = torch.logsumexp(torch.stack([alpha, a1, a2]), dim=0) + lp[t, ext]
    return -torch.logsumexp(alpha[-2:], dim=0)


CORRECT = {
    "ex-11-1": [mel_vectorised, mel_loops_float32],
    "ex-11-2": [ctc_decode_loop, ctc_decode_groupby, ctc_decode_unique_consecutive],
    "ex-11-3": [wer_table, wer_recursive, wer_numpy_float],
    "ex-11-4": [align_loops, align_vectorised],
    "ex-11-5": [ctc_loss_loops, ctc_loss_tensor],
}

WRONG = {
    "ex-11-1": {"linear-spacing": mel_linear, "slaney-scale": mel_librosa_scale, "slaney-area": mel_area,
                "integer-bins": mel_tutorial, "transposed": mel_transposed, "f-min-ignored": mel_from_zero,
                "nyquist": mel_nyquist},
    "ex-11-2": {"blanks-first": ctc_blanks_first, "no-merge": ctc_no_merge, "blank-kept": ctc_blank_kept,
                "blank-zero": ctc_blank_zero, "argmax-over-time": ctc_argmax_time},
    "ex-11-3": {"hypothesis-length": wer_by_hypothesis, "mean-of-rates": wer_mean, "characters": wer_characters,
                "positional": wer_positional, "substitution-two": wer_lcs, "single-space": wer_split_space,
                "percent": wer_percent},
    "ex-11-4": {"eos-counted": align_eos, "wrong-axis": align_axis0, "mean-of-utterances": align_macro,
                "end-inclusive": align_inclusive, "any-word": align_any, "weight-inside": align_mass,
                "percent": align_percent},
    "ex-11-5": {
        "no-skip": lambda lp, y, blank=0: ctc_loss_loops(lp, y, blank, skip_rule="never"),
        "skip-repeats": lambda lp, y, blank=0: ctc_loss_loops(lp, y, blank, skip_rule="always"),
        "start-blank-only": lambda lp, y, blank=0: ctc_loss_loops(lp, y, blank, start_states=1),
        "end-label-only": lambda lp, y, blank=0: ctc_loss_loops(lp, y, blank, end_states=1),
        "viterbi": lambda lp, y, blank=0: ctc_loss_loops(lp, y, blank, combine="max"),
        "probabilities": lambda lp, y, blank=0: ctc_loss_loops(lp, y, blank, space="prob"),
        "log-likelihood": lambda lp, y, blank=0: -ctc_loss_loops(lp, y, blank),
        "divided-by-length": lambda lp, y, blank=0: ctc_loss_loops(lp, y, blank) / len(y),
        "blank-zero": lambda lp, y, blank=0: ctc_loss_loops(lp, y, 0),
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes, test_wrong_answer_is_named,
 test_stub_is_not_attempted) = make_tests(11, CORRECT, WRONG)


# --------------------------------------------------------------------------- the references themselves


def test_ctc_loss_reference_equals_pytorch():
    from attnbook.checks.ch11 import _ctc_forward

    rng = np.random.default_rng(0)
    for T, C, targets, blank in [(6, 4, [1, 2, 2], 0), (12, 5, [3, 1, 3, 4], 0), (9, 4, [0, 1, 1], 3),
                                 (400, 8, [3, 1, 4], 0), (1, 3, [2], 0)]:
        lp = torch.log_softmax(torch.from_numpy(rng.normal(size=(T, C))), dim=-1)
        torch_loss = torch.nn.functional.ctc_loss(lp[:, None], torch.tensor([targets]), [T], [len(targets)],
                                                  blank=blank, reduction="sum")
        assert _ctc_forward(lp, targets, blank) == pytest.approx(torch_loss.item(), rel=1e-9)


def test_the_book_wer_equals_jiwer_on_the_check_cases():
    ex = EXERCISES["ex-11-3"]
    for case in ex.cases(np.random.default_rng(0)):
        refs, hyps = case.args["references"], case.args["hypotheses"]
        assert ex.reference(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12)


def test_every_mistake_changes_a_case_on_every_seed():
    """Each mistake's model differs from the reference on at least one case, whatever the seed."""
    for ex_id, ex in EXERCISES.items():
        if ex.chapter != 11:
            continue
        for seed in range(5):
            cases = ex.cases(np.random.default_rng(seed))
            expected = [ex._prepare_expected(ex._apply(ex.reference, c), c) for c in cases]
            for mistake in ex.mistakes:
                model = [ex._prepare_expected(ex._apply(mistake.model, c), c) for c in cases]
                assert any(not ex.same(m, e) for m, e in zip(model, expected)), (ex_id, mistake.key, seed)


# --------------------------------------------------------------------------- messages and rules


def test_a_mix_of_two_mistakes_shows_the_smallest_failing_case():
    """Librosa's defaults (Slaney's scale and area) are two mistakes at once: no single name fits."""
    def librosa_like(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
        fb = mel_librosa_scale(n_mels, n_fft, sample_rate, f_min, f_max)
        return fb / fb.sum(axis=1, keepdims=True)

    exc = failure("ex-11-1", librosa_like)
    assert exc.mistake is None
    assert exc.message.startswith("for n_mels=4, n_fft=16, sample_rate=8000 (a small filterbank), filter")
    assert "expected [" in exc.message and "got [" in exc.message


def test_a_mistake_on_some_cases_only_is_not_named():
    def half_right(log_probs, blank=0):                      # right for a single utterance, wrong for a batch
        if log_probs.dim() == 3:
            return [ctc_no_merge(x, blank) for x in log_probs]
        return ctc_decode_loop(log_probs, blank)

    exc = failure("ex-11-2", half_right)
    assert exc.mistake is None
    assert "a batch of three" in exc.message and "expected [[4, 4, 1], [], [2, 3, 3]]" in exc.message


def test_the_result_type_is_what_the_text_says():
    exc = failure("ex-11-2", lambda log_probs, blank=0: torch.tensor(ctc_decode_loop(log_probs, blank)))
    assert "return a list of Python ints" in exc.message
    exc = failure("ex-11-2", lambda log_probs, blank=0: [np.int64(x) for x in ctc_decode_loop(log_probs, blank)])
    assert "holding int64" in exc.message
    exc = failure("ex-11-3", lambda r, h: torch.tensor(wer_table(r, h)))
    assert "return a Python float" in exc.message
    exc = failure("ex-11-1", lambda *a, **k: torch.from_numpy(mel_vectorised(*a, **k)))
    assert "return a NumPy array" in exc.message
    # a 0-d tensor is a scalar the CTC-loss text allows; a (1,) tensor is not
    run_check("ex-11-5", lambda lp, y, blank=0: torch.tensor(ctc_loss_loops(lp, y, blank)))
    exc = failure("ex-11-5", lambda lp, y, blank=0: torch.tensor([ctc_loss_loops(lp, y, blank)]))
    assert "return a scalar" in exc.message


def test_argument_names_are_the_ones_the_text_gives():
    exc = failure("ex-11-2", lambda log_probs, blank_id=0: ctc_decode_loop(log_probs, blank_id))
    assert "unexpected keyword argument 'blank'" in exc.message
    exc = failure("ex-11-1", lambda n_mels, n_fft, sample_rate, fmin=0.0, fmax=None: mel_vectorised(
        n_mels, n_fft, sample_rate, fmin, fmax))
    assert "unexpected keyword argument 'f_m" in exc.message


def test_the_challenge_forbids_pytorch_ctc_loss():
    def borrowed(log_probs, targets, blank=0):
        T = log_probs.shape[0]
        return torch.nn.functional.ctc_loss(log_probs[:, None], torch.tensor([targets]), [T], [len(targets)],
                                            blank=blank, reduction="sum")

    exc = failure("ex-11-5", borrowed)
    assert exc.mistake == "forbidden-builtin"


def test_bad_answers_do_not_break_the_checker():
    exc = failure("ex-11-3", lambda r, h: 1 / 0)
    assert "ZeroDivisionError" in exc.message

    def mutates(log_probs, blank=0):
        log_probs.zero_()
        return []

    assert failure("ex-11-2", mutates).mistake == "mutates-input"
    exc = failure("ex-11-4", lambda w, s, t: float("nan"))
    assert "expected" in exc.message and "nan" in exc.message
