"""Chapter 7 checks: correct answers pass, each catalogued mistake is named, stubs are not attempted."""

import time
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook.checks import EXERCISES
from attnbook.checks.ch07 import ScriptedTranslator, _beam_cases
from checkkit import failure, make_tests, run_check

# --------------------------------------------------------------------------- ex-07-1


def shift_full(french, bos_id, eos_id, pad_id):
    width = max(len(w) for w in french) + 1
    tgt_in = torch.full((len(french), width), pad_id, dtype=torch.long)
    tgt_out = torch.full((len(french), width), pad_id, dtype=torch.long)
    for i, w in enumerate(french):
        tgt_in[i, : len(w) + 1] = torch.tensor([bos_id] + w)
        tgt_out[i, : len(w) + 1] = torch.tensor(w + [eos_id])
    return tgt_in, tgt_out


def shift_pad_sequence(french, bos_id, eos_id, pad_id):
    full = [torch.tensor([bos_id] + w + [eos_id]) for w in french]
    padded = torch.nn.utils.rnn.pad_sequence(full, batch_first=True, padding_value=pad_id)  # (batch, L + 2)
    tgt_in = padded[:, :-1].clone()
    tgt_in[tgt_in == eos_id] = pad_id            # the decoder never reads <eos>
    return tgt_in, padded[:, 1:]


def shift_numpy(french, bos_id, eos_id, pad_id):
    width = max(map(len, french)) + 1
    a = np.full((len(french), width), pad_id)
    b = np.full((len(french), width), pad_id)
    for i, w in enumerate(french):
        a[i, : len(w) + 1] = [bos_id, *w]
        b[i, : len(w) + 1] = [*w, eos_id]
    return torch.from_numpy(a), torch.from_numpy(b)


# --------------------------------------------------------------------------- ex-07-2


@torch.no_grad()
def greedy_loop(model, src, bos_id, eos_id, max_len):
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_len):
        nxt = model.decode(tokens, memory, src_mask)[:, -1].argmax(-1)
        nxt = torch.where(finished, torch.full_like(nxt, model.pad_id), nxt)
        tokens = torch.cat([tokens, nxt.unsqueeze(1)], dim=1)
        finished = finished | (nxt == eos_id)
        if bool(finished.all()):
            break
    return tokens[:, 1:]


def greedy_rows(model, src, bos_id, eos_id, max_len):
    """One sentence at a time, padded together at the end."""
    rows = []
    for i in range(src.size(0)):
        memory, mask = model.encode(src[i: i + 1])
        out = [bos_id]
        while len(out) <= max_len and out[-1] != eos_id:
            out.append(int(model.decode(torch.tensor([out]), memory, mask)[0, -1].argmax()))
        rows.append(out[1:])
    width = max(len(r) for r in rows)
    return torch.tensor([r + [model.pad_id] * (width - len(r)) for r in rows])


# --------------------------------------------------------------------------- ex-07-3


@torch.no_grad()
def beam_batched(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    memory, src_mask = model.encode(src)
    tokens = torch.full((1, 1), bos_id, dtype=torch.long)     # (n_alive, t)
    scores = torch.zeros(1, dtype=torch.float64)
    finished = []
    for _ in range(max_len):
        n = tokens.size(0)
        logits = model.decode(tokens, memory.repeat(n, 1, 1), src_mask.repeat(n, 1, 1, 1))
        cand = scores[:, None] + F.log_softmax(logits[:, -1].double(), -1)
        values, flat = cand.view(-1).topk(min(beam_size, cand.numel()))
        parents, words = flat // cand.size(1), flat % cand.size(1)
        grown = torch.cat([tokens[parents], words[:, None]], dim=1)
        done = words == eos_id
        finished += [(g[1:].tolist(), v.item()) for g, v in zip(grown[done], values[done])]
        tokens, scores = grown[~done], values[~done]
        if len(finished) >= beam_size or tokens.size(0) == 0:
            break
    if not finished:                                            # max_len ran out: the unfinished ones
        finished = [(g[1:].tolist(), v.item()) for g, v in zip(tokens, scores)]
    return max(finished, key=lambda h: h[1] / len(h[0]) ** alpha)[0]


@torch.no_grad()
def beam_one_at_a_time(model, src, bos_id, eos_id, max_len, beam_size=4, alpha=1.0):
    import math

    memory, mask = model.encode(src)
    beam, done = [(0.0, [bos_id])], []
    for _ in range(max_len):
        candidates = []
        for logp, seq in beam:
            probs = torch.softmax(model.decode(torch.tensor([seq]), memory, mask)[0, -1], -1)
            for token, p in enumerate(probs.tolist()):
                if p > 0:
                    candidates.append((logp + math.log(p), seq + [token]))
        candidates.sort(key=lambda c: -c[0])
        beam = []
        for logp, seq in candidates[:beam_size]:
            (done if seq[-1] == eos_id else beam).append((logp, seq))
        if len(done) >= beam_size or not beam:
            break
    pool = done or beam
    best = max(pool, key=lambda c: c[0] / (len(c[1]) - 1) ** alpha)
    return torch.tensor(best[1][1:])


# --------------------------------------------------------------------------- ex-07-4


def smoothing_scatter(logits, target, smoothing, pad_id):
    log_probs = logits.log_softmax(-1)
    q = torch.full_like(log_probs, smoothing / (logits.size(-1) - 2))
    q[..., pad_id] = 0
    q.scatter_(-1, target.unsqueeze(-1), 1 - smoothing)
    loss = -(q * log_probs).sum(-1)
    real = target != pad_id
    return loss[real].mean()


def smoothing_mixture(logits, target, smoothing, pad_id):
    """(1 - eps) * NLL + eps * the mean of -log p over the V - 2 words that are neither target nor pad."""
    log_probs = F.log_softmax(logits.double(), dim=-1)            # (batch, L, V)
    nll = -log_probs.gather(-1, target[..., None])[..., 0]          # (batch, L)
    others = -(log_probs.sum(-1) - log_probs[..., pad_id]) - nll    # sum over words other than target and pad
    per_token = (1 - smoothing) * nll + smoothing * others / (logits.size(-1) - 2)
    real = (target != pad_id).double()
    return (per_token * real).sum() / real.sum()


def smoothing_onehot32(logits, target, smoothing, pad_id):
    V = logits.size(-1)
    onehot = F.one_hot(target, V).float()
    q = onehot * (1 - smoothing) + (1 - onehot) * smoothing / (V - 2)
    q[..., pad_id] = 0.0
    loss = -(q * torch.log_softmax(logits.float(), -1)).sum(-1)
    keep = target.ne(pad_id)
    return loss.masked_select(keep).mean()


# --------------------------------------------------------------------------- ex-07-5


def precision_counter(hypothesis, reference, n):
    hyp = Counter(zip(*[hypothesis[i:] for i in range(n)]))
    ref = Counter(zip(*[reference[i:] for i in range(n)]))
    return sum((hyp & ref).values()), sum(hyp.values())


def precision_loops(hypothesis, reference, n):
    ref_grams = [tuple(reference[i: i + n]) for i in range(len(reference) - n + 1)]
    used = [False] * len(ref_grams)
    matches = total = 0
    for i in range(len(hypothesis) - n + 1):
        gram = tuple(hypothesis[i: i + n])
        total += 1
        for j, r in enumerate(ref_grams):
            if not used[j] and r == gram:
                used[j] = True
                matches += 1
                break
    return matches, total


CORRECT = {
    "ex-07-1": [shift_full, shift_pad_sequence, shift_numpy],
    "ex-07-2": [greedy_loop, greedy_rows],
    "ex-07-3": [beam_batched, beam_one_at_a_time],
    "ex-07-4": [smoothing_scatter, smoothing_mixture, smoothing_onehot32],
    "ex-07-5": [precision_counter, precision_loops],
}

# --------------------------------------------------------------------------- wrong answers, one per mistake


def shift_same(french, bos_id, eos_id, pad_id):
    seqs = [torch.tensor([bos_id] + w + [eos_id]) for w in french]
    padded = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=pad_id)
    return padded, padded.clone()


def shift_swapped(french, bos_id, eos_id, pad_id):
    a, b = shift_full(french, bos_id, eos_id, pad_id)
    return b, a


def shift_eos_in(french, bos_id, eos_id, pad_id):
    width = max(len(w) for w in french) + 2
    tgt_in = torch.full((len(french), width), pad_id)
    tgt_out = torch.full((len(french), width), pad_id)
    for i, w in enumerate(french):
        tgt_in[i, : len(w) + 2] = torch.tensor([bos_id] + w + [eos_id])
        tgt_out[i, : len(w) + 1] = torch.tensor(w + [eos_id])
    return tgt_in, tgt_out


def shift_zero(french, bos_id, eos_id, pad_id):
    return shift_full(french, bos_id, eos_id, 0)


def shift_left(french, bos_id, eos_id, pad_id):
    width = max(len(w) for w in french) + 1
    tgt_in = torch.full((len(french), width), pad_id)
    tgt_out = torch.full((len(french), width), pad_id)
    for i, w in enumerate(french):
        tgt_in[i, width - len(w) - 1:] = torch.tensor([bos_id] + w)
        tgt_out[i, width - len(w) - 1:] = torch.tensor(w + [eos_id])
    return tgt_in, tgt_out


@torch.no_grad()
def greedy_no_freeze(model, src, bos_id, eos_id, max_len):
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    for _ in range(max_len):
        nxt = model.decode(tokens, memory, src_mask)[:, -1].argmax(-1)
        tokens = torch.cat([tokens, nxt[:, None]], 1)
        if (tokens == eos_id).any(dim=1).all():
            break
    return tokens[:, 1:]


@torch.no_grad()
def greedy_to_max_len(model, src, bos_id, eos_id, max_len):
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    for _ in range(max_len):
        nxt = model.decode(tokens, memory, src_mask)[:, -1].argmax(-1)
        tokens = torch.cat([tokens, nxt[:, None]], 1)
    return tokens[:, 1:]


@torch.no_grad()
def greedy_pads_to_max_len(model, src, bos_id, eos_id, max_len):
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_len):
        nxt = model.decode(tokens, memory, src_mask)[:, -1].argmax(-1).masked_fill(finished, model.pad_id)
        tokens = torch.cat([tokens, nxt[:, None]], 1)
        finished |= nxt == eos_id
    return tokens[:, 1:]


def greedy_with_bos(model, src, bos_id, eos_id, max_len):
    out = greedy_loop(model, src, bos_id, eos_id, max_len)
    return torch.cat([torch.full((src.size(0), 1), bos_id), out], dim=1)


@torch.no_grad()
def greedy_first_logits(model, src, bos_id, eos_id, max_len):
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_len):
        nxt = model.decode(tokens, memory, src_mask)[:, 0].argmax(-1).masked_fill(finished, model.pad_id)
        tokens = torch.cat([tokens, nxt[:, None]], 1)
        finished |= nxt == eos_id
        if finished.all():
            break
    return tokens[:, 1:]


@torch.no_grad()
def _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, *, score_of=None, grow_finished=False,
          use_probs=False):
    memory, mask = model.encode(src)
    beam, done = [([bos_id], 0.0)], []
    for _ in range(max_len):
        cands = []
        for seq, s in beam:
            out = model.decode(torch.tensor([seq]), memory, mask)[0, -1]
            step = torch.softmax(out, -1) if use_probs else torch.log_softmax(out, -1)
            for t, v in enumerate(step.tolist()):
                cands.append((seq + [t], s + v))
        cands.sort(key=lambda c: -c[1])
        beam = []
        for seq, s in cands[:beam_size]:
            (done if seq[-1] == eos_id and not grow_finished else beam).append((seq, s))
        if len(done) >= beam_size or not beam:
            break
    pool = done or beam
    score_of = score_of or (lambda seq, s: s / (len(seq) - 1) ** alpha)
    return max(pool, key=lambda c: score_of(*c))[0][1:]


def beam_grows_finished(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, grow_finished=True)


def beam_raw_scores(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, score_of=lambda seq, s: s)


def beam_length_without_eos(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha,
                 score_of=lambda seq, s: s / max(1, len(seq) - 2) ** alpha)


def beam_summed_probabilities(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, use_probs=True)


def beam_keeps_one(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, 1, alpha)


def _smooth(logits, target, smoothing, pad_id, share, zero_pad=True):
    log_probs = logits.log_softmax(-1)
    q = torch.full_like(log_probs, smoothing / share)
    if zero_pad:
        q[..., pad_id] = 0
    q.scatter_(-1, target.unsqueeze(-1), 1 - smoothing)
    return -(q * log_probs).sum(-1)                               # (batch, L)


def smoothing_mean_all(logits, target, smoothing, pad_id):
    return _smooth(logits, target, smoothing, pad_id, logits.size(-1) - 2).mean()


def smoothing_zeroed_mean(logits, target, smoothing, pad_id):
    loss = _smooth(logits, target, smoothing, pad_id, logits.size(-1) - 2)
    return (loss * (target != pad_id)).mean()


def smoothing_pad_gets_mass(logits, target, smoothing, pad_id):
    loss = _smooth(logits, target, smoothing, pad_id, logits.size(-1) - 1, zero_pad=False)
    return loss[target != pad_id].mean()


def smoothing_pytorch(logits, target, smoothing, pad_id):
    return F.cross_entropy(logits.transpose(1, 2), target, ignore_index=pad_id, label_smoothing=smoothing)


def smoothing_none(logits, target, smoothing, pad_id):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=pad_id)


def smoothing_sum(logits, target, smoothing, pad_id):
    return _smooth(logits, target, smoothing, pad_id, logits.size(-1) - 2)[target != pad_id].sum()


def smoothing_kl(logits, target, smoothing, pad_id):
    log_probs = logits.log_softmax(-1)
    q = torch.full_like(log_probs, smoothing / (logits.size(-1) - 2))
    q[..., pad_id] = 0
    q.scatter_(-1, target.unsqueeze(-1), 1 - smoothing)
    kl = F.kl_div(log_probs, q, reduction="none").sum(-1)        # sum q (log q - log p)
    return kl[target != pad_id].mean()


def _grams(tokens, n):
    return [tuple(tokens[i: i + n]) for i in range(len(tokens) - n + 1)]


def precision_unclipped(hypothesis, reference, n):
    ref = set(_grams(reference, n))
    hyp = _grams(hypothesis, n)
    return sum(1 for g in hyp if g in ref), len(hyp)


def precision_sets(hypothesis, reference, n):
    hyp, ref = set(_grams(hypothesis, n)), set(_grams(reference, n))
    return len(hyp & ref), len(hyp)


def precision_reference_total(hypothesis, reference, n):
    matches, _ = precision_counter(hypothesis, reference, n)
    return matches, len(_grams(reference, n))


def precision_off_by_one(hypothesis, reference, n):
    hyp = Counter(tuple(hypothesis[i: i + n]) for i in range(len(hypothesis) - n))
    ref = Counter(tuple(reference[i: i + n]) for i in range(len(reference) - n))
    return sum(min(c, ref[g]) for g, c in hyp.items()), sum(hyp.values())


def precision_words(hypothesis, reference, n):
    return precision_counter(hypothesis, reference, 1)


WRONG = {
    "ex-07-1": {"not-shifted": shift_same, "swapped": shift_swapped, "eos-in-input": shift_eos_in,
                "pad-zero": shift_zero, "left-padded": shift_left},
    "ex-07-2": {"keeps-appending": [greedy_no_freeze, greedy_to_max_len], "never-stops": greedy_pads_to_max_len,
                "includes-bos": greedy_with_bos, "first-position": greedy_first_logits},
    "ex-07-3": {"finished-grow": beam_grows_finished, "not-normalised": beam_raw_scores,
                "eos-not-counted": beam_length_without_eos, "probabilities": beam_summed_probabilities,
                "greedy": beam_keeps_one},
    "ex-07-4": {"padding-counted": [smoothing_mean_all, smoothing_zeroed_mean],
                "smoothing-on-pad": [smoothing_pad_gets_mass, smoothing_pytorch],
                "no-smoothing": smoothing_none, "sum-not-mean": smoothing_sum, "kl-divergence": smoothing_kl},
    "ex-07-5": {"not-clipped": precision_unclipped, "sets": precision_sets,
                "total-from-reference": precision_reference_total, "missing-last": precision_off_by_one,
                "n-ignored": precision_words},
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(7, CORRECT, WRONG)


@pytest.mark.parametrize("ex_id", ["ex-07-1", "ex-07-2", "ex-07-3", "ex-07-4", "ex-07-5"])
def test_checks_are_fast(ex_id):
    started = time.process_time()
    run_check(ex_id, CORRECT[ex_id][0], seed=11)
    assert time.process_time() - started < 1.0


def test_greedy_and_beam_differ_on_some_beam_case():
    """The beam cases are drawn so that greedy decoding is wrong on at least one of them."""
    for seed in range(5):
        cases = _beam_cases(np.random.default_rng(seed))
        assert any(greedy_loop(*list(c.args.values())[:5])[0].tolist() != beam_batched(*c.args.values())
                   for c in cases)


def test_scripted_model_is_a_fixed_function():
    model = ScriptedTranslator(9, seed=3)
    src = torch.tensor([[4, 5, 6, 0], [7, 8, 0, 0]])
    memory, src_mask = model.encode(src)
    assert src_mask.shape == (2, 1, 1, 4) and memory.shape == (2, 4, 1)
    tgt = torch.tensor([[1, 5, 6], [1, 3, 3]])
    a = model.decode(tgt, memory, src_mask)                      # (2, 3, 9)
    b = model.decode(tgt[:1], memory[:1], src_mask[:1])          # the first row alone
    assert a.shape == (2, 3, 9) and torch.equal(a[:1], b)
    assert torch.equal(a[0, :2], model.decode(tgt[:1, :2], memory[:1], src_mask[:1])[0])  # causal
    assert (a[..., model.pad_id] < -10).all() and (a[..., model.bos_id] < -10).all()


def test_wrong_output_type_gets_a_message():
    exc = failure("ex-07-3", lambda *args: "le chat")
    assert "list of token ids" in exc.message
    exc = failure("ex-07-2", lambda model, src, *args: src.float())
    assert "token ids" in exc.message
