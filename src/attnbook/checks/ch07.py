"""Checks for chapter 7, a small translation model (PyTorch).

The decoding exercises run on a :class:`ScriptedTranslator`: a stand-in for a trained model whose
next-token scores are a fixed pseudo-random function of the source sentence and of the prefix
written so far. It has the real model's ``encode``/``decode`` interface, needs no training, and
answers in microseconds, so a whole check takes well under a second.

Each exercise lists its known mistakes beside its hints; ``tests/test_checks_ch07.py`` holds one
learner-style wrong answer per mistake and proves it is named.
"""

from __future__ import annotations


import numpy as np
import torch
from torch import nn

from ..decoding import greedy_decode
from ..translate import beam_search, clipped_precision, label_smoothing_loss, pad_sequences
from .core import (Case, ExactExercise, Exercise, Mistake, Tolerance, describe,
                   is_tensor, matches)

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


# --------------------------------------------------------------------------- a scripted model


class ScriptedTranslator(nn.Module):
    """A fake translator for the decoding exercises, with the interface of ``Seq2SeqTransformer``.

    ``encode(src)`` returns (memory (batch, L_s, 1) holding the source ids, src_mask (batch, 1, 1, L_s));
    ``decode(tgt_in, memory, src_mask)`` returns float64 logits (batch, L_t, vocab_size) where the
    logits at position t are a fixed pseudo-random function of (source, tgt_in[:, :t+1]). <eos> grows
    likelier with every token written; <pad> and <bos> are never likely. ``script`` overrides the
    logits of chosen (source, prefix) pairs.
    """

    def __init__(self, vocab_size, seed, pad_id=PAD_ID, bos_id=BOS_ID, eos_id=EOS_ID, spread=1.5,
                 eos_start=3.0, eos_slope=0.8, script=None):
        super().__init__()
        self.vocab_size, self.seed, self.spread = vocab_size, int(seed), spread
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.eos_start, self.eos_slope = eos_start, eos_slope
        self.script = dict(script or {})
        self._cache = {}

    def __deepcopy__(self, memo):  # a fixed function: checks may "copy" it freely
        return self

    def __repr__(self):
        return f"ScriptedTranslator(vocab_size={self.vocab_size}, seed={self.seed})"

    def next_logits(self, source, prefix):
        """The logits (vocab_size,) after ``prefix`` (a tuple of ids starting with <bos>)."""
        key = (tuple(source), tuple(prefix))
        if key in self.script:
            return np.asarray(self.script[key], dtype=np.float64)
        if key not in self._cache:
            rng = np.random.default_rng([self.seed, len(source), *source, len(prefix), *prefix])
            logits = rng.normal(size=self.vocab_size) * self.spread
            logits[self.eos_id] += self.eos_slope * (len(prefix) - 1 - self.eos_start)
            logits[self.pad_id] = logits[self.bos_id] = -20.0
            self._cache[key] = logits
        return self._cache[key]

    def encode(self, src):
        src_mask = (src != self.pad_id)[:, None, None, :]               # (batch, 1, 1, L_s)
        memory = src.to(torch.float64)[..., None]                       # (batch, L_s, 1): the ids
        return memory, src_mask

    def decode(self, tgt_in, memory, src_mask):
        batch, length = tgt_in.shape
        mask = src_mask.reshape(src_mask.size(0), -1)                   # (batch or 1, L_s)
        rows = tgt_in.tolist()
        out = np.empty((batch, length, self.vocab_size))
        for b, row in enumerate(rows):
            m = min(b, memory.size(0) - 1)
            source = [int(x) for x, keep in zip(memory[m, :, 0].tolist(), mask[min(b, mask.size(0) - 1)].tolist())
                      if keep]
            for t in range(length):
                out[b, t] = self.next_logits(source, row[: t + 1])
        return torch.from_numpy(out)                                    # (batch, L_t, vocab)

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, *self.encode(src))


def _sources(rng, batch, vocab_size, lengths=(3, 7)):
    """A padded (batch, L_s) batch of random source sentences (ids 3 .. vocab_size-1, then padding)."""
    seqs = [list(rng.integers(3, vocab_size, size=int(rng.integers(*lengths)))) for _ in range(batch)]
    return pad_sequences([[int(t) for t in s] for s in seqs], PAD_ID)


# --------------------------------------------------------------------------- exact answers


def _int_rows(value):
    """A tensor (batch, n) or a list of lists -> a list of lists of ints."""
    if is_tensor(value):
        if value.dtype.is_floating_point or value.dtype.is_complex or value.dim() != 2:
            raise ValueError(f"expected a tensor of token ids of shape (batch, n), got {describe(value)} "
                             f"of dtype {value.dtype}.")
        return value.tolist()
    if isinstance(value, (list, tuple)) and all(isinstance(r, (list, tuple)) for r in value):
        return [[int(t) for t in r] for r in value]
    raise ValueError(f"expected a LongTensor of token ids of shape (batch, n), got {describe(value)}.")


def _int_list(value):
    """A list of ids (or a 1-D tensor) -> a list of ints."""
    if is_tensor(value):
        if value.dtype.is_floating_point or value.dim() != 1:
            raise ValueError(f"expected a list of token ids, got {describe(value)} of dtype {value.dtype}.")
        return [int(t) for t in value.tolist()]
    if isinstance(value, (list, tuple)) and all(isinstance(t, (int, np.integer)) or
                                                (is_tensor(t) and t.dim() == 0) for t in value):
        return [int(t) for t in value]
    raise ValueError(f"expected a list of token ids (ints), got {describe(value)}.")


# --------------------------------------------------------------------------- ex-07-1


def _shift(french, bos_id, eos_id, pad_id, *, mode="right"):
    """The reference when mode == "right"; one switch per catalogued mistake otherwise."""
    if mode == "not-shifted":
        tgt_in = [[bos_id] + s + [eos_id] for s in french]
        return pad_sequences(tgt_in, pad_id), pad_sequences(tgt_in, pad_id)
    tgt_in = [[bos_id] + s for s in french]
    tgt_out = [s + [eos_id] for s in french]
    if mode == "swapped":
        tgt_in, tgt_out = tgt_out, tgt_in
    if mode == "eos-in-input":
        tgt_in = [[bos_id] + s + [eos_id] for s in french]
        tgt_out = [s + [eos_id, pad_id] for s in french]
    if mode == "pad-zero":
        pad_id = 0
    if mode == "left-padded":
        width = max(len(s) for s in tgt_in)
        pad = lambda s: [pad_id] * (width - len(s)) + s  # noqa: E731
        return torch.tensor([pad(s) for s in tgt_in]), torch.tensor([pad(s) for s in tgt_out])
    return pad_sequences(tgt_in, pad_id), pad_sequences(tgt_out, pad_id)


def _shift_reference(french, bos_id, eos_id, pad_id):
    return _shift(french, bos_id, eos_id, pad_id)


def _shift_cases(rng):
    def case(batch, vocab, bos, eos, pad, note="", lengths=(1, 8)):
        words = [i for i in range(vocab) if i not in (bos, eos, pad)]
        french = [[int(w) for w in rng.choice(words, size=int(rng.integers(*lengths)))] for _ in range(batch)]
        french[int(rng.integers(batch))] = [int(w) for w in rng.choice(words, size=lengths[1])]  # one longest
        return Case({"french": french, "bos_id": bos, "eos_id": eos, "pad_id": pad}, note)

    return [
        case(3, 12, 1, 2, 0, "the book's ids: <pad> 0, <bos> 1, <eos> 2"),
        case(5, 20, 1, 2, 0, "five sentences of different lengths"),
        case(4, 15, 2, 3, 1, "other ids: <pad> 1, <bos> 2, <eos> 3"),
        case(1, 9, 1, 2, 0, "a single sentence", lengths=(3, 6)),
    ]


SHIFT = Exercise(
    id="ex-07-1",
    title="Decoder input and output (teacher forcing)",
    chapter=7,
    points=2,
    function="shift_targets",
    reference=_shift_reference,
    cases=_shift_cases,
    mistakes=[
        Mistake("not-shifted",
                "your decoder input and output are the same sequence. The output must be the input "
                "moved one step to the left: tgt_in = <bos> + words, tgt_out = words + <eos>, so that at "
                "every position the model predicts the next word.",
                model=lambda f, b, e, p: _shift(f, b, e, p, mode="not-shifted")),
        Mistake("swapped",
                "you returned (tgt_out, tgt_in): the input, which starts with <bos>, comes first.",
                model=lambda f, b, e, p: _shift(f, b, e, p, mode="swapped")),
        Mistake("eos-in-input",
                "your decoder input ends with <eos>. The decoder never reads <eos>: it only has to write "
                "it. tgt_in = <bos> + words, tgt_out = words + <eos>, both of the same length.",
                model=lambda f, b, e, p: _shift(f, b, e, p, mode="eos-in-input")),
        Mistake("pad-zero",
                "you padded with 0 instead of pad_id: use the pad_id you are given.",
                model=lambda f, b, e, p: _shift(f, b, e, p, mode="pad-zero")),
        Mistake("left-padded",
                "you put the padding in front of the sentences. Pad at the end, so that every sentence "
                "starts at position 0 (with <bos> in the decoder input).",
                model=lambda f, b, e, p: _shift(f, b, e, p, mode="left-padded")),
    ],
    hints=[
        "For one sentence of ids w: tgt_in = [bos_id] + w and tgt_out = w + [eos_id]. Both have len(w) + 1 "
        "tokens, and tgt_out[t] is the word that follows tgt_in[: t + 1].",
        "Make the two lists for every sentence, then pad each group to the longest with pad_id: "
        "torch.full((batch, width), pad_id) and copy each row into its start.",
        "width = max(len(w) for w in french) + 1; tgt_in = torch.full((len(french), width), pad_id); "
        "tgt_out likewise; for i, w in enumerate(french): tgt_in[i, :len(w) + 1] = torch.tensor([bos_id] + w); "
        "tgt_out[i, :len(w) + 1] = torch.tensor(w + [eos_id]); return tgt_in, tgt_out",
    ],
    tolerance=Tolerance(rtol=0, atol=0),
)


# --------------------------------------------------------------------------- ex-07-2


def _greedy_variant(model, src, bos_id, eos_id, max_len, *, mode):
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_len):
        logits = model.decode(tokens, memory, src_mask)
        position = 0 if mode == "first-position" else -1
        next_token = logits[:, position].argmax(dim=-1)
        if mode != "keeps-appending":
            next_token = next_token.masked_fill(finished, model.pad_id)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        finished |= next_token == eos_id
        if finished.all() and mode != "never-stops":
            break
    return tokens if mode == "includes-bos" else tokens[:, 1:]


def _greedy_cases(rng):
    def case(batch, vocab, max_len, note="", **options):
        model = ScriptedTranslator(vocab, int(rng.integers(2**31)), **options)
        return Case({"model": model, "src": _sources(rng, batch, vocab), "bos_id": BOS_ID, "eos_id": EOS_ID,
                     "max_len": max_len}, note)

    def ragged(c):  # the sentences end at different steps, and before max_len
        rows = greedy_decode(*c.args.values())
        ends = [r.index(EOS_ID) if EOS_ID in r else None for r in rows.tolist()]
        return None not in ends and len(set(ends)) > 1

    cases = []
    while not cases:
        c = case(4, 9, 12, "four sentences that end at different steps")
        cases = [c] if ragged(c) else []
    cases += [case(3, 12, 10, "a larger vocabulary"),
              case(1, 7, 8, "a single sentence"),
              case(3, 8, 4, "max_len too short for some sentences to finish", eos_start=6.0),
              case(5, 10, 12, "five sentences", eos_slope=1.2)]
    return cases


def _show_rows(result, expected, case):
    return (f"for {case.describe()}, your tokens were {result}, expected {expected} (each row: the greedy "
            f"tokens after <bos>, ending with <eos> = {case.args['eos_id']}, then <pad> = 0).")


def _after_eos(rows, eos_id, pad_id=PAD_ID):
    return any(eos_id in r and any(t != pad_id for t in r[r.index(eos_id) + 1:]) for r in rows)


GREEDY = ExactExercise(
    id="ex-07-2",
    title="Greedy decoding",
    chapter=7,
    points=3,
    function="greedy_decode",
    reference=greedy_decode,
    cases=_greedy_cases,
    mistakes=[
        Mistake("keeps-appending",
                "a sentence that has written <eos> keeps getting new words after it. Once a row has "
                "finished, every later token of that row must be padding (model.pad_id): keep a boolean "
                "`finished` per row and use next_token.masked_fill(finished, model.pad_id).",
                detect=lambda result, expected, case: _after_eos(result, case.args["eos_id"])),
        Mistake("never-stops",
                "your loop always runs max_len steps, so the result has extra columns of padding. Stop "
                "as soon as every sentence has written <eos> (if finished.all(): break).",
                model=lambda *a: _greedy_variant(*a, mode="never-stops")),
        Mistake("includes-bos",
                "your result starts with the <bos> column. Return only the generated tokens: "
                "tokens[:, 1:].",
                model=lambda *a: _greedy_variant(*a, mode="includes-bos")),
        Mistake("first-position",
                "you took the logits of the first position, logits[:, 0], at every step. The next token "
                "is predicted at the last position: logits[:, -1].",
                model=lambda *a: _greedy_variant(*a, mode="first-position")),
    ],
    hints=[
        "Encode once: memory, src_mask = model.encode(src). Start from tokens = a (batch, 1) tensor "
        "full of bos_id. At every step run model.decode(tokens, memory, src_mask), take the argmax of "
        "the last position's logits and append it as a new column.",
        "Keep finished = a (batch,) bool tensor. A finished row gets model.pad_id instead of a new word "
        "(next_token.masked_fill(finished, model.pad_id)); then finished |= next_token == eos_id; "
        "stop when finished.all() or after max_len steps.",
        "for _ in range(max_len): logits = model.decode(tokens, memory, src_mask); "
        "nxt = logits[:, -1].argmax(-1).masked_fill(finished, model.pad_id); "
        "tokens = torch.cat([tokens, nxt[:, None]], 1); finished |= nxt == eos_id; "
        "(break when finished.all()) ... return tokens[:, 1:]",
    ],
    canonical=_int_rows,
    show=_show_rows,
)


# --------------------------------------------------------------------------- ex-07-3


@torch.no_grad()
def _beam_variant(model, src, bos_id, eos_id, max_len, beam_size, alpha, *, mode):
    """Beam search with one catalogued mistake (or an alternative length convention)."""
    memory, src_mask = model.encode(src)
    alive, finished = [([bos_id], 0.0)], []
    for _ in range(max_len):
        tokens = torch.tensor([t for t, _ in alive])
        n = tokens.size(0)
        logits = model.decode(tokens, memory.expand(n, *memory.shape[1:]), src_mask.expand(n, *src_mask.shape[1:]))
        log_probs = torch.log_softmax(logits[:, -1].double(), dim=-1)
        if mode == "probabilities":
            log_probs = log_probs.exp()
        scores = torch.tensor([s for _, s in alive], dtype=torch.float64)[:, None] + log_probs
        top = scores.flatten().topk(min(beam_size, scores.numel()))
        alive = []
        for score, index in zip(top.values.tolist(), top.indices.tolist()):
            parent, token = divmod(index, scores.size(1))
            hypothesis = (tokens[parent].tolist() + [token], score)
            (finished if token == eos_id and mode != "finished-grow" else alive).append(hypothesis)
        if len(finished) >= beam_size or not alive:
            break
    candidates = finished or alive
    if mode == "not-normalised":
        key = lambda h: h[1]  # noqa: E731
    elif mode == "eos-not-counted":
        key = lambda h: h[1] / max(1, len(h[0]) - 2) ** alpha  # noqa: E731
    else:
        key = lambda h: h[1] / (len(h[0]) - 1) ** alpha  # noqa: E731
    return max(candidates, key=key)[0][1:]


def _beam_reference(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return beam_search(model, src, bos_id, eos_id, max_len, beam_size, alpha)


def _beam_cases(rng):
    """Random scripted sentences, drawn until every catalogued mistake and greedy decoding each give
    a different answer from the reference on at least one case (so every run can catch them all)."""
    wrong = {"greedy": lambda *a: greedy_decode(*a[:5])[0].tolist(),
             **{m: (lambda *a, _m=m: _beam_variant(*a, mode=_m))
                for m in ("not-normalised", "eos-not-counted", "probabilities")}}

    def case(vocab, beam_size, alpha, max_len, note="", **options):
        model = ScriptedTranslator(vocab, int(rng.integers(2**31)), **options)
        return Case({"model": model, "src": _sources(rng, 1, vocab), "bos_id": BOS_ID, "eos_id": EOS_ID,
                     "max_len": max_len, "beam_size": beam_size, "alpha": alpha}, note)

    def draw():
        return [case(6, 3, 1.0, 8, "beam of 3, alpha 1", eos_start=2.0, eos_slope=0.5),
                case(7, 4, 1.0, 10, "beam of 4, alpha 1", eos_start=2.0, eos_slope=0.4, spread=1.0),
                case(6, 2, 0.7, 8, "beam of 2, alpha 0.7", eos_start=2.0, eos_slope=0.5),
                case(8, 5, 1.0, 6, "beam of 5, max_len 6", eos_start=3.0, eos_slope=0.4, spread=1.2),
                case(5, 3, 0.5, 7, "beam of 3, alpha 0.5", eos_start=1.0, eos_slope=0.5)]

    def telling(cases):  # each wrong answer is first wrong on a case where no other gives its answer
        refs = [_beam_reference(*c.args.values()) for c in cases]
        outs = {k: [fn(*c.args.values()) for c in cases] for k, fn in wrong.items()}
        for k, out in outs.items():
            first = next((i for i, (o, r) in enumerate(zip(out, refs)) if o != r), None)
            if first is None or any(outs[j][first] == out[first] for j in outs if j != k):
                return False
        return True

    for _ in range(100):
        cases = draw()
        if telling(cases):
            return cases
    return cases


def _show_beam(result, expected, case):
    return (f"for {case.describe()}, your beam search chose {result}; the best hypothesis is {expected} "
            f"(token ids after <bos>, ending with <eos> = {case.args['eos_id']}).")


def _eos_inside(result, expected, case):
    eos = case.args["eos_id"]
    return eos in result[:-1]


BEAM = ExactExercise(
    id="ex-07-3",
    title="Beam search with length normalisation",
    chapter=7,
    points=4,
    function="beam_search",
    reference=_beam_reference,
    cases=_beam_cases,
    mistakes=[
        Mistake("finished-grow",
                "a hypothesis that has written <eos> went on growing: your answer has tokens after <eos>. "
                "When an extension ends with <eos>, move it to a list of finished hypotheses; only the "
                "others stay in the beam.",
                detect=_eos_inside),
        Mistake("not-normalised",
                "you chose the final hypothesis by its total log-probability. Every extra token adds a "
                "negative number, so that favours short translations: divide each finished hypothesis's "
                "log-probability by (its number of tokens, <eos> included) ** alpha before choosing.",
                model=lambda *a: _beam_variant(*a, mode="not-normalised")),
        Mistake("eos-not-counted",
                "your length does not count <eos>. Divide by (number of tokens after <bos>, <eos> "
                "included) ** alpha: for [5, 7, <eos>] that is 3 ** alpha.",
                model=lambda *a: _beam_variant(*a, mode="eos-not-counted")),
        Mistake("probabilities",
                "you added probabilities. A hypothesis's score is the sum of the log-probabilities of its "
                "tokens (the log of their product): use torch.log_softmax, not torch.softmax.",
                model=lambda *a: _beam_variant(*a, mode="probabilities")),
        Mistake("greedy",
                "your answer is the greedy translation: the beam never kept a second hypothesis. At every "
                "step extend every hypothesis in the beam by every token and keep the beam_size best "
                "extensions overall, not just the best one.",
                model=lambda *a: greedy_decode(*a[:5])[0].tolist()),
    ],
    hints=[
        "Keep a list of (tokens, log-probability) hypotheses, starting with ([bos_id], 0.0), and a list of "
        "finished ones. At each step decode every alive hypothesis (as a batch, with memory and src_mask "
        "expanded to the number of hypotheses) and take torch.log_softmax of the last position.",
        "The candidates are every hypothesis extended by every token, scored by old score + log p(token). "
        "Keep the beam_size best (scores.flatten().topk); those ending with eos_id are finished, the "
        "others stay alive. Stop when beam_size hypotheses have finished, none is alive, or after max_len steps.",
        "At the end, among the finished hypotheses (the alive ones only if none finished), return the tokens "
        "(without <bos>) of the one with the largest score / (len(tokens) - 1) ** alpha, where "
        "len(tokens) - 1 counts <eos> but not <bos>.",
    ],
    canonical=_int_list,
    show=_show_beam,
)


# --------------------------------------------------------------------------- ex-07-4


def _smoothing_variants(logits, target, smoothing, pad_id, *, share=None, zero_pad=True, over="real",
                        kl=False):
    vocab = logits.size(-1)
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    q = torch.full_like(log_probs, smoothing / (vocab - 2 if share is None else share))
    if zero_pad:
        q[..., pad_id] = 0.0
    q.scatter_(-1, target.unsqueeze(-1), 1.0 - smoothing)
    per_token = -(q * log_probs).sum(-1)
    if kl:
        per_token = per_token + (q * torch.log(q.clamp_min(1e-300))).sum(-1)
    real = target != pad_id
    if over == "all":
        return per_token.mean()
    if over == "zeroed":
        return (per_token * real).sum() / per_token.numel()
    if over == "sum":
        return per_token[real].sum()
    return per_token[real].mean()


def _pytorch_smoothing(logits, target, smoothing, pad_id):
    return torch.nn.functional.cross_entropy(logits.double().flatten(0, 1), target.flatten(),
                                             ignore_index=pad_id, label_smoothing=smoothing)


def _any_close(result, candidates, tol=Tolerance(1e-6, 1e-8)):
    return any(matches(result, c, tol) for c in candidates)


def _smoothing_cases(rng):
    def case(batch, length, vocab, smoothing, pad_id=0, dtype=np.float64, note=""):
        logits = torch.from_numpy((rng.normal(size=(batch, length, vocab)) * 2).astype(dtype))
        words = [i for i in range(vocab) if i != pad_id]
        target = torch.from_numpy(rng.choice(words, size=(batch, length)))
        lengths = rng.integers(1, length, size=batch)
        lengths[0] = length                                          # one sentence without padding
        target[torch.arange(length)[None, :] >= torch.from_numpy(lengths)[:, None]] = pad_id
        return Case({"logits": logits, "target": target, "smoothing": smoothing, "pad_id": pad_id}, note)

    return [
        case(3, 6, 7, 0.1),
        case(4, 5, 10, 0.2, note="smoothing 0.2"),
        case(2, 7, 6, 0.3, dtype=np.float32, note="float32 logits"),
        case(3, 4, 9, 0.1, pad_id=4, note="pad_id = 4"),
        case(2, 6, 12, 0.0, note="no smoothing: plain cross-entropy"),
    ]


SMOOTHING = Exercise(
    id="ex-07-4",
    title="Label smoothing that ignores padding",
    chapter=7,
    points=3,
    function="label_smoothing_loss",
    reference=lambda lg, t, s, p: label_smoothing_loss(lg.double(), t, s, p),
    cases=_smoothing_cases,
    mistakes=[
        Mistake("padding-counted",
                "your average includes the padded positions. Padding is not part of any sentence: compute "
                "the loss of every position, keep those where target != pad_id, and average over them only.",
                detect=lambda r, c: _any_close(r, [_smoothing_variants(*c.args.values(), over="all"),
                                                   _smoothing_variants(*c.args.values(), over="zeroed")])),
        Mistake("smoothing-on-pad",
                "your smoothed targets give some probability to <pad>. The model should never write "
                "padding: the pad column gets 0, the right word 1 - smoothing, and the V - 2 other words "
                "smoothing / (V - 2) each. (PyTorch's label_smoothing option spreads smoothing / V over every "
                "token, <pad> included.)",
                detect=lambda r, c: _any_close(r, [
                    _smoothing_variants(*c.args.values(), share=c.args["logits"].size(-1) - 1, zero_pad=False),
                    _smoothing_variants(*c.args.values(), zero_pad=False),
                    _pytorch_smoothing(*c.args.values())])),
        Mistake("no-smoothing",
                "your loss is the plain cross-entropy: the smoothing was not used. The target distribution "
                "gives 1 - smoothing to the right word and shares smoothing among the other words (not <pad>).",
                detect=lambda r, c: c.args["smoothing"] > 0 and _any_close(
                    r, [_smoothing_variants(c.args["logits"], c.args["target"], 0.0, c.args["pad_id"])])),
        Mistake("sum-not-mean",
                "you added the losses of the real tokens; average them (divide by the number of real tokens), "
                "so that the loss does not grow with the batch.",
                detect=lambda r, c: _any_close(r, [_smoothing_variants(*c.args.values(), over="sum")])),
        Mistake("kl-divergence",
                "you returned the KL divergence between the smoothed targets and the model. It differs from "
                "the cross-entropy -sum q log p only by the entropy of q, a constant (so it trains the same), "
                "but this exercise asks for the cross-entropy.",
                detect=lambda r, c: c.args["smoothing"] > 0 and _any_close(
                    r, [_smoothing_variants(*c.args.values(), kl=True)])),
    ],
    hints=[
        "Work with log_probs = torch.log_softmax(logits, dim=-1), shape (batch, L, V). The loss of one "
        "position is -sum_v q_v log_probs_v, where q is the smoothed target distribution.",
        "Build q with torch.full_like(log_probs, smoothing / (V - 2)), set q[..., pad_id] = 0, then put "
        "1 - smoothing at the target: q.scatter_(-1, target.unsqueeze(-1), 1 - smoothing).",
        "per_token = -(q * log_probs).sum(-1)  # (batch, L); real = target != pad_id; "
        "return per_token[real].mean()",
    ],
    tolerance=Tolerance(rtol=1e-5, atol=1e-6),
)


# --------------------------------------------------------------------------- ex-07-5


def _ngram_variant(hyp, ref, n, *, mode):
    if mode == "n-ignored":
        n = 1
    stop = len(hyp) - n if mode == "missing-last" else len(hyp) - n + 1
    hyp_grams = [tuple(hyp[i: i + n]) for i in range(stop)]
    ref_grams = [tuple(ref[i: i + n]) for i in range(len(ref) - n + 1)]
    if mode == "not-clipped":
        return sum(g in ref_grams for g in hyp_grams), len(hyp_grams)
    if mode == "sets":
        return len(set(hyp_grams) & set(ref_grams)), len(set(hyp_grams))
    matches = sum(min(hyp_grams.count(g), ref_grams.count(g)) for g in set(hyp_grams))
    if mode == "total-from-reference":
        return matches, len(ref_grams)
    return matches, len(hyp_grams)


WORDS = ["le", "la", "chat", "chien", "noir", "petit", "mange", "voit", "pomme", "."]


def _ngram_cases(rng):
    def words(k):
        return [str(w) for w in rng.choice(WORDS, size=k)]

    w = words(4)
    repeated = [w[0]] * 4 + [w[1], w[0]] + [w[0], w[1]] * 2      # many repeats: clipping matters
    reference = [w[0], w[1], w[2], w[0], w[1], w[3]]
    return [
        Case({"hypothesis": repeated, "reference": reference, "n": 1}, "a hypothesis that repeats a word"),
        Case({"hypothesis": repeated, "reference": reference + reference, "n": 2},
             "repeated bigrams, n = 2"),
        Case({"hypothesis": words(9), "reference": words(7), "n": 2}, "random words, n = 2"),
        Case({"hypothesis": words(8) * 2, "reference": words(6), "n": 3}, "n = 3"),
        Case({"hypothesis": reference[:5] + ["."], "reference": reference + ["."], "n": 4},
             "a close translation, n = 4"),
        Case({"hypothesis": words(2), "reference": words(5), "n": 3}, "a hypothesis shorter than n"),
    ]


NGRAM = Exercise(
    id="ex-07-5",
    title="BLEU's clipped n-gram precision",
    chapter=7,
    points=2,
    function="clipped_precision",
    reference=clipped_precision,
    cases=_ngram_cases,
    mistakes=[
        Mistake("not-clipped",
                "your n-gram matches are not clipped: a hypothesis that repeats 'le le le le' gets credit "
                "for every 'le' as soon as the reference has one. Count each n-gram at most as often as it "
                "occurs in the reference: min(hypothesis count, reference count).",
                model=lambda h, r, n: _ngram_variant(h, r, n, mode="not-clipped")),
        Mistake("sets",
                "you counted distinct n-grams (sets), so repeated n-grams count once. Use counts "
                "(collections.Counter): the total is the number of n-grams in the hypothesis, repeats "
                "included, and each one matches up to its count in the reference.",
                model=lambda h, r, n: _ngram_variant(h, r, n, mode="sets")),
        Mistake("total-from-reference",
                "your total counts the reference's n-grams. Precision asks how much of the hypothesis is "
                "right: the total is the number of n-grams in the hypothesis.",
                model=lambda h, r, n: _ngram_variant(h, r, n, mode="total-from-reference")),
        Mistake("missing-last",
                "you missed the last n-gram: a list of k tokens has k - n + 1 n-grams, so the loop is "
                "range(len(tokens) - n + 1).",
                model=lambda h, r, n: _ngram_variant(h, r, n, mode="missing-last")),
        Mistake("n-ignored",
                "you always counted single words: use n-grams of n consecutive tokens, "
                "tuple(tokens[i:i + n]).",
                model=lambda h, r, n: _ngram_variant(h, r, n, mode="n-ignored")),
    ],
    hints=[
        "The n-grams of a token list are tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1). "
        "Count them in the hypothesis and in the reference with collections.Counter.",
        "matches = the sum over the hypothesis's n-grams of min(count in hypothesis, count in reference); "
        "total = the number of n-grams in the hypothesis (0 if it is shorter than n).",
        "hyp = Counter(ngrams(hypothesis)); ref = Counter(ngrams(reference)); "
        "return sum(min(c, ref[g]) for g, c in hyp.items()), sum(hyp.values())",
    ],
    tolerance=Tolerance(rtol=0, atol=0),
)


EXERCISES = [SHIFT, GREEDY, BEAM, SMOOTHING, NGRAM]
