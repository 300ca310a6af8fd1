"""Chapter 7 checks: correct answers pass, each catalogued mistake is named, look-alikes are not,
stubs are not attempted."""

import math
import time
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook.checks import EXERCISES
from attnbook.checks.ch07 import ScriptedTranslator, _beam_cases, _wu_cases
from attnbook.decoding import greedy_decode
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
    a = np.full((len(french), width), pad_id, dtype=np.int64)
    b = np.full((len(french), width), pad_id, dtype=np.int64)
    for i, w in enumerate(french):
        a[i, : len(w) + 1] = [bos_id, *w]
        b[i, : len(w) + 1] = [*w, eos_id]
    return torch.from_numpy(a), torch.from_numpy(b)


def shift_lists(french, bos_id, eos_id, pad_id):
    width = max(len(w) for w in french) + 1
    rows_in = [[bos_id] + w + [pad_id] * (width - len(w) - 1) for w in french]
    rows_out = [w + [eos_id] + [pad_id] * (width - len(w) - 1) for w in french]
    return torch.tensor(rows_in), torch.tensor(rows_out)


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


@torch.no_grad()
def greedy_softmax_list(model, src, bos_id, eos_id, max_len):
    """Argmax of the probabilities (the same token), a list of columns stacked at the end."""
    memory, src_mask = model.encode(src)
    columns = [torch.full((src.size(0),), bos_id)]
    done = [False] * src.size(0)
    for _ in range(max_len):
        probs = torch.softmax(model.decode(torch.stack(columns, 1), memory, src_mask)[:, -1], -1)
        new = probs.argmax(-1)
        for row in range(src.size(0)):
            if done[row]:
                new[row] = model.pad_id
            elif new[row] == eos_id:
                done[row] = True
        columns.append(new)
        if all(done):
            break
    return torch.stack(columns[1:], dim=1)


# --------------------------------------------------------------------------- ex-07-3


@torch.no_grad()
def beam_batched(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """The whole beam at once, with topk over the flattened scores (fairseq's way)."""
    memory, src_mask = model.encode(src)
    tokens = torch.full((1, 1), bos_id, dtype=torch.long)     # (n_alive, t)
    scores = torch.zeros(1, dtype=torch.float64)
    finished = []
    for _ in range(max_len):
        n = tokens.size(0)
        logits = model.decode(tokens, memory.repeat(n, 1, 1), src_mask.repeat(n, 1, 1, 1))
        cand = scores[:, None] + F.log_softmax(logits[:, -1].double(), -1)   # (n, V)
        values, flat = cand.view(-1).topk(min(2 * beam_size, cand.numel()))
        parents, words = flat // cand.size(1), flat % cand.size(1)
        grown = torch.cat([tokens[parents], words[:, None]], dim=1)
        done = words == eos_id
        done_top = done & (torch.arange(len(done)) < beam_size)
        finished += [(g[1:].tolist(), v.item()) for g, v in zip(grown[done_top], values[done_top])]
        tokens, scores = grown[~done][:beam_size], values[~done][:beam_size]
        if len(finished) >= beam_size:
            break
    if not finished:                                            # max_len ran out: the unfinished ones
        finished = [(g[1:].tolist(), v.item()) for g, v in zip(tokens, scores)]
    return max(finished, key=lambda h: h[1] / len(h[0]) ** alpha)[0]


@torch.no_grad()
def beam_one_at_a_time(model, src, bos_id, eos_id, max_len, beam_size=4, alpha=1.0):
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
        done += [c for c in candidates[:beam_size] if c[1][-1] == eos_id]
        beam = [c for c in candidates if c[1][-1] != eos_id][:beam_size]
        if len(done) >= beam_size:
            break
    pool = done or beam
    best = max(pool, key=lambda c: c[0] / (len(c[1]) - 1) ** alpha)
    return best[1][1:]


@torch.no_grad()
def beam_hugging_face_style(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """Walk down the ranked candidates: <eos> within the first beam_size ranks finishes, the others
    fill the next beam until it is full (the loop of Hugging Face's BeamSearchScorer), float32."""
    memory, mask = model.encode(src)
    beam, finished = [([bos_id], 0.0)], []
    for _ in range(max_len):
        batch = torch.tensor([t for t, _ in beam])
        n = batch.size(0)
        logits = model.decode(batch, memory.expand(n, -1, -1), mask.expand(n, -1, -1, -1)).float()
        total = torch.tensor([s for _, s in beam])[:, None] + logits[:, -1].log_softmax(-1)
        order = total.flatten().argsort(descending=True)
        new_beam = []
        for rank, index in enumerate(order.tolist()):
            parent, token = divmod(index, total.size(1))
            hypothesis = (beam[parent][0] + [token], total.flatten()[index].item())
            if token == eos_id:
                if rank < beam_size:
                    finished.append(hypothesis)
            else:
                new_beam.append(hypothesis)
            if len(new_beam) == beam_size:
                break
        beam = new_beam
        if len(finished) >= beam_size:
            break
    pool = finished if finished else beam
    scores = [s / (len(t) - 1) ** alpha for t, s in pool]
    return pool[int(np.argmax(scores))][0][1:]


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


def precision_strings(hypothesis, reference, n):
    """n-grams as joined strings (the words hold no spaces), numpy counts turned into ints."""
    def grams(tokens):
        return [" ".join(tokens[i: i + n]) for i in range(len(tokens) - n + 1)]
    hyp, ref = grams(hypothesis), grams(reference)
    matches = sum(min(hyp.count(g), ref.count(g)) for g in set(hyp))
    return int(np.int64(matches)), len(hyp)


# --------------------------------------------------------------------------- ex-07-6 (challenge)


def _lp(n, alpha):
    return ((5 + n) / 6) ** alpha


@torch.no_grad()
def wu_lists(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    memory, src_mask = model.encode(src)
    beam, finished = [([bos_id], 0.0)], []
    for step in range(1, max_len + 1):
        candidates = []
        for tokens, score in beam:
            log_p = torch.log_softmax(model.decode(torch.tensor([tokens]), memory, src_mask)[0, -1], -1)
            candidates += [(tokens + [t], score + v) for t, v in enumerate(log_p.tolist())]
        candidates.sort(key=lambda c: c[1], reverse=True)
        finished += [c for c in candidates[:beam_size] if c[0][-1] == eos_id]
        beam = [c for c in candidates if c[0][-1] != eos_id][:beam_size]
        if finished:
            best = max(s / _lp(len(t) - 1, alpha) for t, s in finished)
            if all(best >= s / _lp(max_len, alpha) for _, s in beam):
                break
    pool = finished or beam
    return max(pool, key=lambda c: c[1] / _lp(len(c[0]) - 1, alpha))[0][1:], step


@torch.no_grad()
def wu_batched(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """The beam as tensors; the stopping test at the top of the next step (the same test)."""
    memory, src_mask = model.encode(src)
    tokens = torch.full((1, 1), bos_id, dtype=torch.long)
    scores = torch.zeros(1, dtype=torch.float64)
    done_tokens, done_scores = [], []
    penalty = lambda n: ((5.0 + n) / 6.0) ** alpha            # noqa: E731
    steps = 0
    for _ in range(max_len):
        if done_scores:
            best_done = max(s / penalty(len(t)) for t, s in zip(done_tokens, done_scores))
            if best_done >= (scores / penalty(max_len)).max().item():
                break
        steps += 1
        n = tokens.size(0)
        logits = model.decode(tokens, memory.expand(n, -1, -1), src_mask.expand(n, -1, -1, -1))
        cand = scores[:, None] + logits[:, -1].double().log_softmax(-1)
        values, flat = cand.flatten().topk(min(2 * beam_size, cand.numel()))
        parents, words = flat // cand.size(1), flat % cand.size(1)
        grown = torch.cat([tokens[parents], words[:, None]], 1)
        eos = words == eos_id
        top = eos & (torch.arange(eos.numel()) < beam_size)
        done_tokens += [g[1:].tolist() for g in grown[top]]
        done_scores += values[top].tolist()
        tokens, scores = grown[~eos][:beam_size], values[~eos][:beam_size]
    if done_scores:
        pool = list(zip(done_tokens, done_scores))
    else:
        pool = [(g[1:].tolist(), s) for g, s in zip(tokens, scores.tolist())]
    return max(pool, key=lambda h: h[1] / penalty(len(h[0])))[0], steps


@torch.no_grad()
def wu_bound_from_best_alive(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """The same test written with the best hypothesis of the beam only (its score is the largest, so
    its bound is the largest), float32 scores."""
    memory, mask = model.encode(src)
    beam, finished, steps = [([bos_id], 0.0)], [], 0
    while steps < max_len:
        steps += 1
        ranked = []
        for tokens, score in beam:
            out = model.decode(torch.tensor([tokens]), memory, mask)[0, -1].float()
            ranked += [(score + v, tokens + [t]) for t, v in enumerate(out.log_softmax(-1).tolist())]
        ranked.sort(reverse=True)
        finished += [(t, s) for s, t in ranked[:beam_size] if t[-1] == eos_id]
        beam = [(t, s) for s, t in ranked if t[-1] != eos_id][:beam_size]
        if finished and max(s / _lp(len(t) - 1, alpha) for t, s in finished) >= beam[0][1] / _lp(max_len, alpha):
            break
    best = max(finished or beam, key=lambda h: h[1] / _lp(len(h[0]) - 1, alpha))
    return best[0][1:], np.int64(steps)


CORRECT = {
    "ex-07-1": [shift_full, shift_pad_sequence, shift_numpy, shift_lists],
    "ex-07-2": [greedy_loop, greedy_rows, greedy_softmax_list, greedy_decode],
    "ex-07-3": [beam_batched, beam_one_at_a_time, beam_hugging_face_style],
    "ex-07-4": [smoothing_scatter, smoothing_mixture, smoothing_onehot32],
    "ex-07-5": [precision_counter, precision_loops, precision_strings],
    "ex-07-6": [wu_lists, wu_batched, wu_bound_from_best_alive],
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
    width = max(len(w) for w in french) + 1
    tgt_in = torch.zeros(len(french), width, dtype=torch.long)
    tgt_out = torch.zeros(len(french), width, dtype=torch.long)
    for i, w in enumerate(french):
        tgt_in[i, : len(w) + 1] = torch.tensor([bos_id] + w)
        tgt_out[i, : len(w) + 1] = torch.tensor(w + [eos_id])
    return tgt_in, tgt_out


def shift_eos_padding(french, bos_id, eos_id, pad_id):
    width = max(len(w) for w in french) + 1
    tgt_in = torch.tensor([[bos_id] + w + [pad_id] * (width - len(w) - 1) for w in french])
    tgt_out = torch.tensor([w + [eos_id] * (width - len(w)) for w in french])
    return tgt_in, tgt_out


def shift_left(french, bos_id, eos_id, pad_id):
    width = max(len(w) for w in french) + 1
    tgt_in = torch.full((len(french), width), pad_id)
    tgt_out = torch.full((len(french), width), pad_id)
    for i, w in enumerate(french):
        tgt_in[i, width - len(w) - 1:] = torch.tensor([bos_id] + w)
        tgt_out[i, width - len(w) - 1:] = torch.tensor(w + [eos_id])
    return tgt_in, tgt_out


def shift_time_major(french, bos_id, eos_id, pad_id):
    pad = torch.nn.utils.rnn.pad_sequence
    tgt_in = pad([torch.tensor([bos_id] + w) for w in french], padding_value=pad_id)
    tgt_out = pad([torch.tensor(w + [eos_id]) for w in french], padding_value=pad_id)
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


def _greedy(model, src, bos_id, eos_id, max_len, *, fill=None, stop=all, update_first=False,
            position=-1, last_only=False):
    """A learner's greedy loop with the choices a learner makes."""
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    fill = model.pad_id if fill is None else fill
    with torch.no_grad():
        for _ in range(max_len):
            read = tokens[:, -1:] if last_only else tokens
            nxt = model.decode(read, memory, src_mask)[:, position].argmax(-1)
            if update_first:
                finished = finished | (nxt == eos_id)
            nxt[finished] = fill
            tokens = torch.cat([tokens, nxt[:, None]], 1)
            if not update_first:
                finished = finished | (nxt == eos_id)
            if stop is not None and stop(finished.tolist()):
                break
    return tokens[:, 1:]


def greedy_pads_to_max_len(model, src, bos_id, eos_id, max_len):
    return _greedy(model, src, bos_id, eos_id, max_len, stop=None)


def greedy_with_bos(model, src, bos_id, eos_id, max_len):
    out = greedy_loop(model, src, bos_id, eos_id, max_len)
    return torch.cat([torch.full((src.size(0), 1), bos_id), out], dim=1)


def greedy_first_logits(model, src, bos_id, eos_id, max_len):
    return _greedy(model, src, bos_id, eos_id, max_len, position=0)


def greedy_fills_zero(model, src, bos_id, eos_id, max_len):
    return _greedy(model, src, bos_id, eos_id, max_len, fill=0)


def greedy_fills_eos(model, src, bos_id, eos_id, max_len):
    return _greedy(model, src, bos_id, eos_id, max_len, fill=eos_id)


def greedy_stops_at_any(model, src, bos_id, eos_id, max_len):
    return _greedy(model, src, bos_id, eos_id, max_len, stop=any)


def greedy_finishes_first(model, src, bos_id, eos_id, max_len):
    return _greedy(model, src, bos_id, eos_id, max_len, update_first=True)


def greedy_reads_last_token(model, src, bos_id, eos_id, max_len):
    return _greedy(model, src, bos_id, eos_id, max_len, last_only=True)


@torch.no_grad()
def _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, *, length=None, grow_finished=False,
          use_probs=False, keep_finished=False, shrink=False, stop_at_first=False, pool_all=False,
          score_of=None, never_stop=False):
    """A learner's beam search with the choices a learner makes."""
    memory, mask = model.encode(src)
    beam, done = [([bos_id], 0.0, False)], []
    length = length or (lambda seq: len(seq) - 1)
    for _ in range(max_len):
        cands = []
        for seq, s, fin in beam:
            if fin:
                cands.append((seq, s, True))
                continue
            out = model.decode(torch.tensor([seq]), memory, mask)[0, -1]
            step = torch.softmax(out, -1) if use_probs else torch.log_softmax(out, -1)
            for t, v in enumerate(step.tolist()):
                cands.append((seq + [t], s + v, t == eos_id and not grow_finished))
        cands.sort(key=lambda c: -c[1])
        if keep_finished:
            beam = cands[:beam_size]
            if all(c[2] for c in beam):
                break
            continue
        done += [c for c in cands[:beam_size] if c[2]]
        if shrink:
            beam = [c for c in cands[:beam_size] if not c[2]]
        else:
            beam = [c for c in cands if not c[2]][:beam_size]
        if never_stop:
            continue
        if not beam or len(done) >= beam_size or (stop_at_first and done):
            break
    if keep_finished:
        pool = [c for c in beam if c[2]] or beam
    else:
        pool = done + beam if pool_all else (done or beam)
    score_of = score_of or (lambda seq, s: s / length(seq) ** alpha)
    return max(pool, key=lambda c: score_of(c[0], c[1]))[0][1:]


def beam_grows_finished(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, grow_finished=True)


def beam_raw_scores(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, score_of=lambda seq, s: s)


def beam_length_without_eos(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha,
                 length=lambda seq: max(1, len([t for t in seq[1:] if t != eos_id])))


def beam_length_with_bos(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, length=len)


def beam_summed_probabilities(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, use_probs=True)


def beam_keeps_one(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, 1, alpha)


def beam_finished_stay(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, keep_finished=True)


def beam_shrinks(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """The rule of this book's first edition: the beam_size best, minus those that finished."""
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, shrink=True)


def beam_first_finished(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, stop_at_first=True)


def beam_pool_all(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, pool_all=True)


def beam_to_max_len(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """Never stops early (the stopping test was left out)."""
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, never_stop=True)


@torch.no_grad()
def beam_every_early_eos_finishes(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """Every <eos> met before the beam is full finishes, even below the first beam_size ranks (the
    simplest way to write 'the beam stays full')."""
    memory, mask = model.encode(src)
    beam, finished = [([bos_id], 0.0)], []
    for _ in range(max_len):
        cands = []
        for seq, s in beam:
            lp = torch.log_softmax(model.decode(torch.tensor([seq]), memory, mask)[0, -1], -1)
            cands += [(seq + [t], s + v) for t, v in enumerate(lp.tolist())]
        cands.sort(key=lambda c: -c[1])
        beam = []
        for seq, s in cands:
            if len(beam) == beam_size:
                break
            (finished if seq[-1] == eos_id else beam).append((seq, s))
        if len(finished) >= beam_size:
            break
    pool = finished or beam
    return max(pool, key=lambda c: c[1] / (len(c[0]) - 1) ** alpha)[0][1:]


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


def smoothing_v_minus_1(logits, target, smoothing, pad_id):
    loss = _smooth(logits, target, smoothing, pad_id, logits.size(-1) - 1)
    return loss[target != pad_id].mean()


def smoothing_none(logits, target, smoothing, pad_id):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=pad_id)


def smoothing_sum(logits, target, smoothing, pad_id):
    return _smooth(logits, target, smoothing, pad_id, logits.size(-1) - 2)[target != pad_id].sum()


def smoothing_per_sentence(logits, target, smoothing, pad_id):
    loss = _smooth(logits, target, smoothing, pad_id, logits.size(-1) - 2)
    real = (target != pad_id).float()
    return ((loss * real).sum(1) / real.sum(1)).mean()


def smoothing_kl(logits, target, smoothing, pad_id):
    """The Annotated Transformer's LabelSmoothing: KLDivLoss against the smoothed target."""
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


def precision_max(hypothesis, reference, n):
    hyp, ref = Counter(_grams(hypothesis, n)), Counter(_grams(reference, n))
    return sum(max(c, ref[g]) for g, c in hyp.items() if g in ref), sum(hyp.values())


def precision_reference_total(hypothesis, reference, n):
    matches, _ = precision_counter(hypothesis, reference, n)
    return matches, len(_grams(reference, n))


def precision_off_by_one(hypothesis, reference, n):
    hyp = Counter(tuple(hypothesis[i: i + n]) for i in range(len(hypothesis) - n))
    ref = Counter(tuple(reference[i: i + n]) for i in range(len(reference) - n))
    return sum(min(c, ref[g]) for g, c in hyp.items()), sum(hyp.values())


def precision_words(hypothesis, reference, n):
    return precision_counter(hypothesis, reference, 1)


@torch.no_grad()
def _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, *, lp=None, length=None, stop="bound",
        combine=None, width=None):
    """A learner's answer to the challenge, with the choices a learner makes."""
    lp = lp or (lambda n: ((5 + n) / 6) ** alpha)
    length = length or (lambda seq: len(seq) - 1)
    combine = combine or (lambda s, p: s / p)
    width = width or beam_size
    memory, src_mask = model.encode(src)
    beam, finished, steps = [([bos_id], 0.0)], [], 0
    for _ in range(max_len):
        steps += 1
        candidates = []
        for tokens, score in beam:
            log_p = torch.log_softmax(model.decode(torch.tensor([tokens]), memory, src_mask)[0, -1], -1)
            candidates += [(tokens + [t], score + v) for t, v in enumerate(log_p.tolist())]
        candidates.sort(key=lambda c: c[1], reverse=True)
        finished += [c for c in candidates[:width] if c[0][-1] == eos_id]
        beam = [c for c in candidates if c[0][-1] != eos_id][:width]
        if stop == "never":
            continue
        if stop == "count":
            if len(finished) >= width:
                break
        elif finished:
            best = max(combine(s, lp(length(t))) for t, s in finished)
            if stop == "bound":
                hope = max(combine(s, lp(max_len)) for _, s in beam)
            elif stop == "now":
                hope = max(combine(s, lp(length(t))) for t, s in beam)
            elif stop == "later":
                hope = max(combine(s, lp(max_len + 1)) for _, s in beam)
            else:
                hope = max(s for _, s in beam)
            if best >= hope:
                break
    pool = finished or beam
    return max(pool, key=lambda c: combine(c[1], lp(length(c[0]))))[0][1:], steps


def wu_is_exercise_3(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, stop="count",
               lp=lambda n: n ** alpha)


def wu_runs_to_max_len(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, stop="never")


def wu_power_penalty(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, lp=lambda n: n ** alpha)


def wu_count_stop(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, stop="count")


def wu_bound_now(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """Hugging Face's default test (early_stopping=False): the beam's best at its current length."""
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, stop="now")


def wu_bound_raw(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, stop="raw")


def wu_without_eos(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha,
               length=lambda seq: max(1, sum(t != eos_id for t in seq[1:])))


def wu_with_bos(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, length=len)


def wu_multiplied(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, combine=lambda s, p: s * p)


def wu_raw(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, combine=lambda s, p: s)


def wu_one_hypothesis(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, width=1)


WRONG = {
    "ex-07-1": {"not-shifted": shift_same, "swapped": shift_swapped, "eos-in-input": shift_eos_in,
                "pad-zero": shift_zero, "eos-padding": shift_eos_padding, "left-padded": shift_left,
                "time-major": shift_time_major},
    "ex-07-2": {"keeps-appending": [greedy_no_freeze, greedy_to_max_len], "pad-zero": greedy_fills_zero,
                "pad-eos": greedy_fills_eos, "eos-overwritten": greedy_finishes_first,
                "never-stops": greedy_pads_to_max_len, "stops-at-first": greedy_stops_at_any,
                "includes-bos": greedy_with_bos, "first-position": greedy_first_logits,
                "last-token": greedy_reads_last_token},
    "ex-07-3": {"finished-grow": beam_grows_finished, "not-normalised": beam_raw_scores,
                "eos-not-counted": beam_length_without_eos, "bos-counted": beam_length_with_bos,
                "probabilities": beam_summed_probabilities, "greedy": beam_keeps_one,
                "finished-stay": beam_finished_stay, "beam-shrinks": beam_shrinks,
                "first-finished": beam_first_finished, "unfinished-compete": beam_pool_all,
                "never-stops": beam_to_max_len, "late-eos": beam_every_early_eos_finishes},
    "ex-07-4": {"padding-counted": [smoothing_mean_all, smoothing_zeroed_mean],
                "smoothing-on-pad": [smoothing_pad_gets_mass, smoothing_pytorch],
                "share-v-minus-1": smoothing_v_minus_1, "no-smoothing": smoothing_none,
                "sum-not-mean": smoothing_sum, "mean-of-sentences": smoothing_per_sentence,
                "kl-divergence": smoothing_kl},
    "ex-07-5": {"not-clipped": precision_unclipped, "sets": precision_sets, "max-not-min": precision_max,
                "total-from-reference": precision_reference_total, "missing-last": precision_off_by_one,
                "n-ignored": precision_words},
    "ex-07-6": {"exercise-3": wu_is_exercise_3, "power-penalty": wu_power_penalty,
                "count-stop": wu_count_stop, "bound-now": wu_bound_now, "bound-raw": wu_bound_raw,
                "eos-not-counted": wu_without_eos, "bos-counted": wu_with_bos,
                "multiplied": wu_multiplied, "not-normalised": wu_raw, "greedy": wu_one_hypothesis,
                "never-stops": wu_runs_to_max_len},
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(7, CORRECT, WRONG)


# --------------------------------------------------------------------------- look-alikes
# Wrong answers a learner writes that coincide with a catalogued mistake on some case but not on
# the others: they must get the plain message (the smallest failing case), not the mistake's name.


def shift_zero_in_output_only(french, bos_id, eos_id, pad_id):
    """pad_id in the input, 0 in the output: pad-zero on the cases where pad_id is 0... and right."""
    tgt_in, _ = shift_full(french, bos_id, eos_id, pad_id)
    _, tgt_out = shift_full(french, bos_id, eos_id, 0)
    return tgt_in, tgt_out


def shift_left_input_only(french, bos_id, eos_id, pad_id):
    a, _ = shift_left(french, bos_id, eos_id, pad_id)
    _, b = shift_full(french, bos_id, eos_id, pad_id)
    return a, b


def shift_swapped_when_one_sentence(french, bos_id, eos_id, pad_id):
    """Returns the pair in the wrong order only when the batch has two sentences."""
    a, b = shift_full(french, bos_id, eos_id, pad_id)
    return (b, a) if len(french) == 2 else (a, b)


def greedy_fills_bos(model, src, bos_id, eos_id, max_len):
    """Fills finished rows with bos_id: pad-zero where <bos> is 0, but not elsewhere."""
    return _greedy(model, src, bos_id, eos_id, max_len, fill=bos_id)


def greedy_stops_when_row_0_ends(model, src, bos_id, eos_id, max_len):
    """Stops when the first sentence finishes: stops-at-first when it is the first to finish."""
    return _greedy(model, src, bos_id, eos_id, max_len, stop=lambda done: done[0])


@torch.no_grad()
def greedy_annotated_transformer(model, src, bos_id, eos_id, max_len):
    """The Annotated Transformer's greedy_decode, batched: max_len - 1 steps, no stop, <bos> kept."""
    memory, src_mask = model.encode(src)
    ys = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    for _ in range(max_len - 1):
        nxt = model.decode(ys, memory, src_mask)[:, -1].argmax(-1)
        ys = torch.cat([ys, nxt[:, None]], dim=1)
    return ys


def beam_alpha_ignored(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """Divides by the length itself: right where alpha is 1, wrong elsewhere."""
    return _beam(model, src, bos_id, eos_id, max_len, beam_size, alpha, score_of=lambda seq, s: s / (len(seq) - 1))


def beam_stops_after_two(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """Stops when two hypotheses have finished, whatever beam_size: right where beam_size is 2."""
    memory, mask = model.encode(src)
    beam, done = [([bos_id], 0.0)], []
    for _ in range(max_len):
        cands = []
        for seq, s in beam:
            lp = torch.log_softmax(model.decode(torch.tensor([seq]), memory, mask)[0, -1], -1)
            cands += [(seq + [t], s + v) for t, v in enumerate(lp.tolist())]
        cands.sort(key=lambda c: -c[1])
        done += [c for c in cands[:beam_size] if c[0][-1] == eos_id]
        beam = [c for c in cands if c[0][-1] != eos_id][:beam_size]
        if len(done) >= 2:
            break
    return max(done or beam, key=lambda c: c[1] / (len(c[0]) - 1) ** alpha)[0][1:]


def smoothing_pad_hard_coded(logits, target, smoothing, pad_id):
    """pad_id taken to be 0: right where it is, wrong (and like no known mistake) elsewhere."""
    return smoothing_scatter(logits, target, smoothing, 0)


def smoothing_fixed_01(logits, target, smoothing, pad_id):
    """The smoothing hard-coded to 0.1."""
    return smoothing_scatter(logits, target, 0.1, pad_id)


def smoothing_sum_over_sentences(logits, target, smoothing, pad_id):
    """The sum of each sentence's loss, averaged over the sentences."""
    loss = _smooth(logits, target, smoothing, pad_id, logits.size(-1) - 2)
    return (loss * (target != pad_id)).sum(1).mean()


def smoothing_pytorch_ignore_zero(logits, target, smoothing, pad_id):
    """PyTorch's label_smoothing with ignore_index=0 written in: smoothing-on-pad where pad_id is 0."""
    return F.cross_entropy(logits.transpose(1, 2), target, ignore_index=0, label_smoothing=smoothing)


def smoothing_plain_ignore_zero(logits, target, smoothing, pad_id):
    """nanoGPT-style cross-entropy with ignore_index=0 written in: no-smoothing where pad_id is 0."""
    return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=0)


def precision_hypothesis_off_by_one(hypothesis, reference, n):
    """range(len(hypothesis) - n) for the hypothesis only: missing-last where the reference's last
    n-gram does not matter."""
    hyp = Counter(tuple(hypothesis[i: i + n]) for i in range(len(hypothesis) - n))
    ref = Counter(_grams(reference, n))
    return sum(min(c, ref[g]) for g, c in hyp.items()), sum(hyp.values())


def precision_unigram_set(hypothesis, reference, n):
    """Unigrams as a set (a special case written first), n-grams counted: 'sets' where n is 1."""
    if n == 1:
        hyp = set(hypothesis)
        return len(hyp & set(reference)), len(hyp)
    return precision_counter(hypothesis, reference, n)


def precision_fallback_total(hypothesis, reference, n):
    """Avoids a zero total with the reference's count: total-from-reference on a hypothesis shorter
    than n, right everywhere else."""
    matches, total = precision_counter(hypothesis, reference, n)
    return matches, total or len(_grams(reference, n))


def precision_short_is_one(hypothesis, reference, n):
    """Avoids a zero total: (0, 1) for a hypothesis shorter than n, right everywhere else."""
    matches, total = precision_counter(hypothesis, reference, n)
    return matches, max(1, total)


def precision_clip_at_one(hypothesis, reference, n):
    """Each distinct n-gram matches at most once: 'sets' for the matches, not for the total."""
    hyp, ref = Counter(_grams(hypothesis, n)), Counter(_grams(reference, n))
    return sum(min(1, ref[g]) for g in hyp), sum(hyp.values())


def wu_bound_off_by_one(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """The bound at max_len + 1 tokens: the right tokens always, more steps on some cases (like
    never-stops there), the right steps on others."""
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, stop="later")


def wu_both_stops(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """Exercise 3's stopping rule kept beside the new one: count-stop where it comes first."""
    lp = lambda n: ((5 + n) / 6) ** alpha                     # noqa: E731
    memory, src_mask = model.encode(src)
    beam, finished, steps = [([bos_id], 0.0)], [], 0
    for _ in range(max_len):
        steps += 1
        candidates = []
        for tokens, score in beam:
            log_p = torch.log_softmax(model.decode(torch.tensor([tokens]), memory, src_mask)[0, -1], -1)
            candidates += [(tokens + [t], score + v) for t, v in enumerate(log_p.tolist())]
        candidates.sort(key=lambda c: c[1], reverse=True)
        finished += [c for c in candidates[:beam_size] if c[0][-1] == eos_id]
        beam = [c for c in candidates if c[0][-1] != eos_id][:beam_size]
        if len(finished) >= beam_size:
            break
        if finished and max(s / lp(len(t) - 1) for t, s in finished) >= max(s / lp(max_len) for _, s in beam):
            break
    return max(finished or beam, key=lambda c: c[1] / lp(len(c[0]) - 1))[0][1:], steps


def wu_alpha_once(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    """Wu's penalty without its power: right where alpha is 1."""
    return _wu(model, src, bos_id, eos_id, max_len, beam_size, alpha, lp=lambda n: (5 + n) / 6)


def shift_pad_is_bos_minus_one(french, bos_id, eos_id, pad_id):
    """Takes <pad> to be the id just below <bos>, as in the book's vocabulary."""
    return shift_full(french, bos_id, eos_id, bos_id - 1)


#: Other wrong answers a learner writes, like no catalogued mistake: the plain message.
PLAIN = {
    "ex-07-1": [shift_zero_in_output_only, shift_left_input_only, shift_pad_is_bos_minus_one],
    "ex-07-2": [greedy_annotated_transformer],
    "ex-07-4": [smoothing_pad_hard_coded, smoothing_fixed_01, smoothing_sum_over_sentences],
    "ex-07-5": [precision_short_is_one, precision_clip_at_one],
    "ex-07-6": [wu_alpha_once],
}

LOOK_ALIKES = {
    "ex-07-1": [shift_swapped_when_one_sentence],
    "ex-07-2": [greedy_fills_bos, greedy_stops_when_row_0_ends],
    "ex-07-3": [beam_alpha_ignored, beam_stops_after_two],
    "ex-07-4": [smoothing_pytorch_ignore_zero, smoothing_plain_ignore_zero],
    "ex-07-5": [precision_hypothesis_off_by_one, precision_unigram_set, precision_fallback_total],
    "ex-07-6": [wu_bound_off_by_one, wu_both_stops],
}


@pytest.mark.parametrize("ex_id,answer", [(k, a) for table in (LOOK_ALIKES, PLAIN) for k, v in table.items()
                                           for a in v], ids=lambda v: getattr(v, "__name__", v))
def test_a_look_alike_gets_the_plain_message(ex_id, answer):
    exc = failure(ex_id, answer)
    assert exc.mistake is None, f"{answer.__name__} was told {exc.mistake!r}: {exc.message}"
    assert exc.message.startswith("for "), exc.message            # the smallest failing case
    lines = exc._render_traceback_()
    assert all(len(line) <= 79 for line in lines)


def test_look_alikes_coincide_with_a_mistake_somewhere():
    """Each look-alike is one: on some case its answer is a catalogued mistake's answer where that
    differs from the right one (and the check still does not name it, see above)."""
    for ex_id, answers in LOOK_ALIKES.items():
        ex = EXERCISES[ex_id]
        cases = ex.make_cases()
        for answer in answers:
            found = False
            for case in cases:
                got = ex._prepare_expected(answer(*ex._copy_args(case)), case)
                right = ex._prepare_expected(ex.reference(*ex._copy_args(case)), case)
                for m in ex.mistakes:
                    if m.model is None:
                        wrong = ex._differs(got, right, case) is not None
                        found |= wrong and bool(ex._detects(m, case, got, right))
                        continue
                    try:
                        want = ex._prepare_expected(m.model(*ex._copy_args(case)), case)
                    except Exception:  # noqa: BLE001
                        continue
                    if ex._same(got, want, case) and not ex._same(want, right, case):
                        found = True
            assert found, f"{ex_id}: {answer.__name__} is not like any mistake on any case"


# --------------------------------------------------------------------------- the rules of the text


def _differ(ex_id, fn):
    ex = EXERCISES[ex_id]
    return sum(ex._prepare_expected(fn(*ex._copy_args(c)), c) != ex._prepare_expected(ex.reference(*ex._copy_args(c)), c)
               for c in ex.make_cases())


@pytest.mark.parametrize("ex_id", ["ex-07-3", "ex-07-6"])
def test_every_mistake_differs_on_two_decoding_cases_and_no_two_agree(ex_id):
    """The fixed cases tell every catalogued answer from the reference twice, and from each other."""
    ex = EXERCISES[ex_id]
    cases = ex.make_cases()
    answers = {"reference": [ex.reference(*ex._copy_args(c)) for c in cases]}
    for m in ex.mistakes:
        listed = WRONG[ex_id][m.key]
        model = m.model or (listed[0] if isinstance(listed, list) else listed)
        answers[m.key] = [ex._prepare_expected(model(*ex._copy_args(c)), c) for c in cases]
        assert sum(a != r for a, r in zip(answers[m.key], answers["reference"])) >= 2, m.key
    keys = list(answers)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert answers[a] != answers[b], f"{ex_id}: {a} and {b} agree on every case"


def test_the_beam_cases_hold_what_the_text_says():
    """A case uses other ids, and on one no hypothesis finishes (the unfinished ones then compete)."""
    assert any(c.args["eos_id"] != 2 for c in _beam_cases(None))
    for ex_id, cases in (("ex-07-3", _beam_cases(None)), ("ex-07-6", _wu_cases(None))):
        ends = [EXERCISES[ex_id]._prepare_expected(EXERCISES[ex_id].reference(*c.args.values()), c) for c in cases]
        ends = [e[0] if isinstance(e, tuple) else e for e in ends]
        assert any(e[-1] != c.args["eos_id"] for e, c in zip(ends, cases))
        assert sum(e[-1] == c.args["eos_id"] for e, c in zip(ends, cases)) >= len(cases) - 1


def test_greedy_cases_vary_the_padding():
    cases = EXERCISES["ex-07-2"].make_cases()
    assert len({c.args["model"].pad_id for c in cases}) >= 3
    assert len({c.args["eos_id"] for c in cases}) >= 2


def test_shift_cases_vary_the_ids():
    cases = EXERCISES["ex-07-1"].make_cases()
    assert len({c.args["pad_id"] for c in cases}) >= 3


def test_a_beam_rule_broken_changes_the_answer():
    """Each rule of ex-07-3's text, broken alone, changes the answer on some case (the catalogue's
    models are the rules broken one at a time; here the two the catalogue cannot hold)."""
    def no_max_len(model, src, bos_id, eos_id, max_len, beam_size, alpha):
        return beam_one_at_a_time(model, src, bos_id, eos_id, max_len + 3, beam_size, alpha)
    assert _differ("ex-07-3", no_max_len) >= 1


# --------------------------------------------------------------------------- the words of the text


def test_the_kind_of_result_is_what_the_text_asks():
    exc = failure("ex-07-1", lambda f, b, e, p: tuple(t.float() for t in shift_full(f, b, e, p)))
    assert "int64" in exc.message and "LongTensor" in exc.message
    exc = failure("ex-07-2", lambda *args: greedy_loop(*args).float())
    assert "int64" in exc.message
    exc = failure("ex-07-3", lambda *args: torch.tensor(beam_one_at_a_time(*args)))
    assert "list of ints" in exc.message and ".tolist()" in exc.message
    exc = failure("ex-07-3", lambda *args: [torch.tensor(t) for t in beam_one_at_a_time(*args)])
    assert "torch tensors" in exc.message
    exc = failure("ex-07-4", lambda *args: smoothing_scatter(*args).item())
    assert "scalar tensor" in exc.message
    exc = failure("ex-07-5", lambda h, r, n: tuple(float(x) for x in precision_counter(h, r, n)))
    assert "should be an int" in exc.message
    exc = failure("ex-07-5", lambda h, r, n: [*precision_counter(h, r, n)])
    assert "pair" in exc.message


def test_the_package_functions_pass():
    from attnbook import translate

    for ex_id, fn in [("ex-07-2", greedy_decode), ("ex-07-3", translate.beam_search),
                      ("ex-07-4", translate.label_smoothing_loss), ("ex-07-5", translate.clipped_precision)]:
        assert run_check(ex_id, fn).startswith("\u2714")


@pytest.mark.parametrize("ex_id", ["ex-07-1", "ex-07-2", "ex-07-3", "ex-07-4", "ex-07-5", "ex-07-6"])
def test_checks_are_fast(ex_id):
    started = time.process_time()
    run_check(ex_id, CORRECT[ex_id][0], seed=11)
    assert time.process_time() - started < 1.0


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
    assert "list of ints" in exc.message
    exc = failure("ex-07-2", lambda model, src, *args: src.float())
    assert "int64" in exc.message


def test_a_plain_beam_message_shows_both_scores():
    exc = failure("ex-07-3", beam_alpha_ignored)
    assert "log-probabilities" in exc.message and "yours" in exc.message
    exc = failure("ex-07-6", lambda *args: (beam_one_at_a_time(*args)[:1] + [args[3]], wu_lists(*args)[1]))
    assert "lp(length)" in exc.message
    exc = failure("ex-07-6", wu_bound_off_by_one)
    assert "right hypothesis" in exc.message and "steps" in exc.message
