"""Checks for chapter 7, a small translation model (PyTorch).

The decoding exercises run on a :class:`ScriptedTranslator`: a stand-in for
a trained model whose next-token scores are a fixed pseudo-random function
of the source sentence and of the prefix written so far. It has the real
model's ``encode``/``decode`` interface, needs no training, and answers in
microseconds, so a whole check takes well under a second.

The decoding cases are fixed (a scripted model's seed and settings, written
out below): they were chosen so that every rule the exercise text states,
and every catalogued mistake, changes the answer on at least two of them,
and so that no two mistakes give the same answers on all of them.

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch07.py`` holds a learner-style wrong answer for every
mistake and proves it is named, and look-alikes that must not be.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..decoding import greedy_decode
from ..translate import (beam_search, clipped_precision, label_smoothing_loss,
                         pad_sequences)
from .core import (Case, Code, ExactExercise, Exercise, Mistake, Tolerance,
                   describe, is_tensor, matches, tensor_of)

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


# ------------------------------------------------------------ a scripted model


class ScriptedTranslator(nn.Module):
    """A fake translator for the decoding exercises, with the interface of
    ``Seq2SeqTransformer``.

    ``encode(src)`` returns (memory (batch, L_s, 1) holding the source ids,
    src_mask (batch, 1, 1, L_s)); ``decode(tgt_in, memory, src_mask)``
    returns float64 logits (batch, L_t, vocab_size) where the logits at
    position t are a fixed pseudo-random function of (source,
    tgt_in[:, :t+1]). <eos> grows likelier with every token written, and
    is never written twice; <pad> and <bos> are never likely. ``script``
    overrides the logits of chosen (source, prefix) pairs.
    """

    def __init__(self, vocab_size, seed, pad_id=PAD_ID, bos_id=BOS_ID,
                 eos_id=EOS_ID, spread=1.5, eos_start=3.0, eos_slope=0.8,
                 script=None):
        super().__init__()
        self.vocab_size, self.seed, self.spread = vocab_size, int(seed), spread
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.eos_start, self.eos_slope = eos_start, eos_slope
        self.script = dict(script or {})
        self._cache = {}

    def __deepcopy__(self, memo):  # a fixed function: checks may "copy" it
        return self

    def __repr__(self):
        return (f"ScriptedTranslator(vocab_size={self.vocab_size}, "
                f"seed={self.seed})")

    def next_logits(self, source, prefix):
        """The logits (vocab_size,) after ``prefix`` (a tuple of ids that
        starts with <bos>)."""
        key = (tuple(source), tuple(prefix))
        if key in self.script:
            return np.asarray(self.script[key], dtype=np.float64)
        if key not in self._cache:
            rng = np.random.default_rng(
                [self.seed, len(source), *source, len(prefix), *prefix])
            logits = rng.normal(size=self.vocab_size) * self.spread
            if self.eos_id in prefix[1:]:  # after <eos>: never <eos> again
                logits[self.eos_id] = -20.0
            else:
                logits[self.eos_id] += self.eos_slope * (
                    len(prefix) - 1 - self.eos_start)
            logits[self.pad_id] = logits[self.bos_id] = -20.0
            self._cache[key] = logits
        return self._cache[key]

    def encode(self, src):
        # (batch, 1, 1, L_s)
        src_mask = (src != self.pad_id)[:, None, None, :]
        memory = src.to(torch.float64)[..., None]     # (batch, L_s, 1): ids
        return memory, src_mask

    def decode(self, tgt_in, memory, src_mask):
        batch, length = tgt_in.shape
        mask = src_mask.reshape(src_mask.size(0), -1)  # (batch or 1, L_s)
        rows = tgt_in.tolist()
        out = np.empty((batch, length, self.vocab_size))
        for b, row in enumerate(rows):
            ids = memory[min(b, memory.size(0) - 1), :, 0].tolist()
            keep = mask[min(b, mask.size(0) - 1)].tolist()
            source = [int(x) for x, k in zip(ids, keep) if k]
            for t in range(length):
                out[b, t] = self.next_logits(source, row[: t + 1])
        return torch.from_numpy(out)                  # (batch, L_t, vocab)

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, *self.encode(src))


def _sources(rng, batch, vocab_size, specials=(PAD_ID, BOS_ID, EOS_ID),
             lengths=(3, 7)):
    """A (batch, L_s) batch of random source sentences (ids other than the
    special ones), padded at the end with ``specials[0]``."""
    words = [i for i in range(vocab_size) if i not in specials]
    seqs = []
    for _ in range(batch):
        size = int(rng.integers(*lengths))
        seqs.append([int(w) for w in rng.choice(words, size=size)])
    return pad_sequences(seqs, specials[0])


# --------------------------------------------------------------- exact answers


def _id_rows(value):
    """A LongTensor (batch, n) -> a list of lists of ints."""
    if value.dim() != 2:
        raise ValueError(f"expected token ids of shape (batch, n), got "
                         f"{describe(value)}.")
    return value.tolist()


def _id_list(value):
    """A list of ints -> the same list (the text asks for a list)."""
    if is_tensor(value):
        raise ValueError(f"the exercise asks for a list of ints, got "
                         f"{describe(value)}; turn it into one with "
                         f".tolist().")
    if not isinstance(value, list):
        raise ValueError(f"the exercise asks for a list of ints, got "
                         f"{describe(value)}.")
    for token in value:
        if is_tensor(token):
            raise ValueError("your list holds torch tensors; make them ints "
                             "with int(...), or build the list with "
                             ".tolist().")
        if isinstance(token, bool) or not isinstance(token,
                                                     (int, np.integer)):
            raise ValueError(f"your list should hold ints (token ids), got "
                             f"{describe(token)} in it.")
    return [int(t) for t in value]


@torch.no_grad()
def _log_prob(model, src, bos_id, tokens):
    """The log-probability of ``tokens`` (after <bos>) for ``src`` under a
    scripted model."""
    memory, src_mask = model.encode(src)
    tgt_in = torch.tensor([[bos_id] + tokens[:-1]])             # (1, n)
    logits = model.decode(tgt_in, memory, src_mask)[0]          # (n, V)
    log_p = torch.log_softmax(logits, dim=-1)                   # (n, V)
    return float(log_p[torch.arange(len(tokens)), tokens].sum())


# --------------------------------------------------------------------- ex-07-1


def _shift(french, bos_id, eos_id, pad_id, *, mode="right"):
    """The reference when mode == "right"; one switch per catalogued
    mistake otherwise."""
    tgt_in = [[bos_id] + s for s in french]
    tgt_out = [s + [eos_id] for s in french]
    out_pad = eos_id if mode == "eos-padding" else pad_id
    if mode == "not-shifted":
        tgt_in = [[bos_id] + s + [eos_id] for s in french]
        tgt_out = tgt_in
    if mode == "swapped":
        tgt_in, tgt_out = tgt_out, tgt_in
    if mode == "eos-in-input":
        tgt_in = [[bos_id] + s + [eos_id] for s in french]
        tgt_out = [s + [eos_id, pad_id] for s in french]
    if mode == "pad-zero":
        pad_id = out_pad = 0
    if mode == "left-padded":
        width = max(len(s) for s in tgt_in)

        def pad(s):
            return [pad_id] * (width - len(s)) + s

        return (torch.tensor([pad(s) for s in tgt_in]),
                torch.tensor([pad(s) for s in tgt_out]))
    tgt_in, tgt_out = pad_sequences(tgt_in, pad_id), pad_sequences(tgt_out,
                                                                   out_pad)
    if mode == "time-major":
        return tgt_in.T.contiguous(), tgt_out.T.contiguous()
    return tgt_in, tgt_out


def _shift_reference(french, bos_id, eos_id, pad_id):
    return _shift(french, bos_id, eos_id, pad_id)


def _shift_model(mode):
    def model(french, bos_id, eos_id, pad_id):
        return _shift(french, bos_id, eos_id, pad_id, mode=mode)
    return model


def _shift_cases(rng):
    def case(batch, vocab, bos, eos, pad, note="", lengths=(1, 8)):
        words = [i for i in range(vocab) if i not in (bos, eos, pad)]

        def sentence(n):
            return [int(w) for w in rng.choice(words, size=n)]

        french = [sentence(int(rng.integers(*lengths)))
                  for _ in range(batch)]
        french[int(rng.integers(batch))] = sentence(lengths[1])  # longest
        french[int(rng.integers(batch))] = sentence(lengths[0])  # shortest
        return Case({"french": french, "bos_id": bos, "eos_id": eos,
                     "pad_id": pad}, note)

    return [
        case(3, 12, 1, 2, 0, "the book's ids: <pad> 0, <bos> 1, <eos> 2"),
        case(5, 20, 1, 2, 0, "five sentences of different lengths"),
        case(4, 15, 2, 1, 3, "other ids: <pad> 3, <bos> 2, <eos> 1"),
        case(3, 11, 5, 6, 4, "other ids: <pad> 4, <bos> 5, <eos> 6"),
        case(2, 9, 1, 2, 0, "two sentences", lengths=(3, 6)),
    ]


SHIFT = Exercise(
    id="ex-07-1",
    title="Decoder input and output (teacher forcing)",
    chapter=7,
    points=2,
    function="shift_targets",
    reference=_shift_reference,
    cases=_shift_cases,
    outputs=("tgt_in", "tgt_out"),
    contract=tensor_of("int64", "tgt_in and tgt_out (LongTensors)"),
    mistakes=[
        Mistake("not-shifted",
                "your decoder input and output are the same sequence. The "
                "output must be the input moved one step to the left: "
                "tgt_in = <bos> + words, tgt_out = words + <eos>, so that "
                "at every position the model predicts the next word.",
                model=_shift_model("not-shifted")),
        Mistake("swapped",
                "you returned (tgt_out, tgt_in): the input, which starts "
                "with <bos>, comes first.",
                model=_shift_model("swapped")),
        Mistake("eos-in-input",
                "your decoder input ends with <eos>. The decoder never "
                "reads <eos>: it only has to write it. tgt_in = <bos> + "
                "words, tgt_out = words + <eos>, both of the same length.",
                model=_shift_model("eos-in-input")),
        Mistake("pad-zero",
                "you padded with 0 instead of pad_id: use the pad_id you "
                "are given (here it is not always 0).",
                model=_shift_model("pad-zero")),
        Mistake("eos-padding",
                "you padded tgt_out with eos_id. A sentence writes <eos> "
                "once, at its end; the positions after it are padding "
                "(pad_id), which the loss skips.",
                model=_shift_model("eos-padding")),
        Mistake("left-padded",
                "you put the padding in front of the sentences. Pad at the "
                "end, so that every sentence starts at position 0 (with "
                "<bos> in the decoder input).",
                model=_shift_model("left-padded")),
        Mistake("time-major",
                "your tensors have shape (L + 1, batch): one sentence per "
                "column. The exercise asks for one sentence per row, "
                "(batch, L + 1). (torch.nn.utils.rnn.pad_sequence puts the "
                "time axis first unless you pass batch_first=True.)",
                model=_shift_model("time-major")),
    ],
    hints=[
        "For one sentence of ids w: tgt_in = [bos_id] + w and tgt_out = w "
        "+ [eos_id]. Both have len(w) + 1 tokens, and tgt_out[t] is the "
        "word that follows tgt_in[: t + 1].",
        "Make both lists for every sentence, then pad each group to the "
        "longest with pad_id: torch.full((batch, width), pad_id, "
        "dtype=torch.long), and copy each sentence into the start of its "
        "row.",
        Code("""
            width = max(len(w) for w in french) + 1
            tgt_in = torch.full((len(french), width), pad_id,
                                dtype=torch.long)
            tgt_out = torch.full((len(french), width), pad_id,
                                 dtype=torch.long)
            for i, w in enumerate(french):
                tgt_in[i, :len(w) + 1] = torch.tensor([bos_id] + w)
                tgt_out[i, :len(w) + 1] = torch.tensor(w + [eos_id])
            return tgt_in, tgt_out
        """, text="One way to write it:"),
    ],
    tolerance=Tolerance(rtol=0, atol=0),
)


# --------------------------------------------------------------------- ex-07-2


@torch.no_grad()
def _greedy_variant(model, src, bos_id, eos_id, max_len, *, mode):
    """Greedy decoding with one catalogued mistake."""
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
    finished = torch.zeros(src.size(0), dtype=torch.bool)
    fill = {"pad-zero": 0, "pad-eos": eos_id}.get(mode, model.pad_id)
    for _ in range(max_len):
        read = tokens[:, -1:] if mode == "last-token" else tokens
        logits = model.decode(read, memory, src_mask)       # (batch, L, V)
        position = 0 if mode == "first-position" else -1
        next_token = logits[:, position].argmax(dim=-1)     # (batch,)
        if mode == "eos-overwritten":  # finished too early: <eos> -> <pad>
            finished |= next_token == eos_id
        if mode not in ("keeps-appending", "runs-on"):
            next_token = next_token.masked_fill(finished, fill)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        if mode != "eos-overwritten":
            finished |= next_token == eos_id
        if mode == "stops-at-first" and finished.any():
            break
        if finished.all() and mode not in ("never-stops", "runs-on"):
            break
    return tokens if mode == "includes-bos" else tokens[:, 1:]


def _greedy_model(mode):
    def model(model, src, bos_id, eos_id, max_len):
        return _greedy_variant(model, src, bos_id, eos_id, max_len,
                               mode=mode)
    return model


#: (batch, vocab, max_len, pad, bos, eos, seed, eos_start, eos_slope, note)
_GREEDY_CASES = [
    (4, 9, 12, 0, 1, 2, 11, 3.0, 0.8,
     "four sentences that end at different steps"),
    (3, 12, 10, 3, 1, 2, 12, 3.0, 0.8, "<pad> is 3"),
    (1, 7, 8, 0, 1, 2, 13, 3.0, 0.8, "a single sentence"),
    (3, 8, 4, 0, 1, 2, 14, 6.0, 0.8,
     "max_len too short for some sentences to finish"),
    (5, 10, 12, 4, 2, 3, 15, 3.0, 1.2,
     "five sentences; <pad> 4, <bos> 2, <eos> 3"),
    (3, 9, 10, 1, 0, 5, 17, 3.0, 0.8,
     "three sentences; <pad> 1, <bos> 0, <eos> 5"),
]


def _greedy_cases(rng):
    def case(batch, vocab, max_len, pad, bos, eos, seed, start, slope,
             note):
        local = np.random.default_rng(seed)
        model = ScriptedTranslator(vocab, int(local.integers(2**31)),
                                   pad_id=pad, bos_id=bos, eos_id=eos,
                                   eos_start=start, eos_slope=slope)
        src = _sources(local, batch, vocab, (pad, bos, eos))
        return Case({"model": model, "src": src, "bos_id": bos,
                     "eos_id": eos, "max_len": max_len}, note)

    cases = [case(*c) for c in _GREEDY_CASES]
    # and one drawn from the exercise's own generator
    cases.append(case(4, 11, 12, 0, 1, 2, int(rng.integers(2**31)), 3.0,
                      0.8, "four more sentences"))
    return cases


def _show_rows(result, expected, case):
    model = case.args["model"]
    return (f"for {case.describe()}, your tokens were {result}, expected "
            f"{expected} (each row: the greedy tokens after <bos>, ending "
            f"with <eos> = {case.args['eos_id']}, then <pad> = "
            f"{model.pad_id}).")


def _keeps_appending(result, expected, case):
    """The rows go on after <eos> as if they had not finished."""
    return any(result == _id_rows(_greedy_variant(*case.args.values(),
                                                  mode=mode))
               for mode in ("keeps-appending", "runs-on"))


GREEDY = ExactExercise(
    id="ex-07-2",
    title="Greedy decoding",
    chapter=7,
    points=3,
    function="greedy_decode",
    reference=greedy_decode,
    cases=_greedy_cases,
    contract=tensor_of("int64", "your tokens (a LongTensor)"),
    mistakes=[
        Mistake("keeps-appending",
                "a sentence that has written <eos> keeps getting new words "
                "after it. Once a row has finished, every later token of "
                "that row must be padding (model.pad_id): keep a boolean "
                "`finished` per row and use next_token.masked_fill("
                "finished, model.pad_id).",
                detect=_keeps_appending),
        Mistake("pad-zero",
                "the rows that have finished get 0, not model.pad_id. Use "
                "the model's own padding id: here it is not always 0.",
                model=_greedy_model("pad-zero")),
        Mistake("pad-eos",
                "the rows that have finished get eos_id again and again. "
                "After its <eos> a row gets padding, model.pad_id.",
                model=_greedy_model("pad-eos")),
        Mistake("eos-overwritten",
                "your rows never show <eos>: each row was marked finished "
                "before its token was written, so its <eos> itself became "
                "padding. Fill the rows that had finished before this step, "
                "append the new tokens, then update finished.",
                model=_greedy_model("eos-overwritten")),
        Mistake("never-stops",
                "your loop always runs max_len steps, so the result has "
                "extra columns of padding. Stop as soon as every sentence "
                "has written <eos> (if finished.all(): break).",
                model=_greedy_model("never-stops")),
        Mistake("stops-at-first",
                "you stopped as soon as one sentence had written <eos>. The "
                "others are not done yet: stop when every sentence has "
                "finished (finished.all(), not finished.any()).",
                model=_greedy_model("stops-at-first")),
        Mistake("includes-bos",
                "your result starts with the <bos> column. Return only the "
                "new tokens: tokens[:, 1:].",
                model=_greedy_model("includes-bos")),
        Mistake("first-position",
                "you took the next token from the logits at position 0. "
                "logits[:, t] scores the token after tgt_in[:, : t + 1], so "
                "the next token comes from the last position: "
                "logits[:, -1].",
                model=_greedy_model("first-position")),
        Mistake("last-token",
                "you gave the decoder only the last token written. It must "
                "read the whole prefix, <bos> and every token so far, at "
                "every step: decode(tokens, memory, src_mask).",
                model=_greedy_model("last-token")),
    ],
    hints=[
        "Start with tokens = torch.full((batch, 1), bos_id, "
        "dtype=torch.long) and finished = torch.zeros(batch, "
        "dtype=torch.bool). Encode the source once: memory, src_mask = "
        "model.encode(src).",
        "At every step decode all the tokens so far, take the argmax of "
        "the last position's logits, put model.pad_id in the rows that "
        "have finished, append the new column, then update finished and "
        "stop when finished.all().",
        Code("""
            memory, src_mask = model.encode(src)
            tokens = torch.full((src.size(0), 1), bos_id, dtype=torch.long)
            finished = torch.zeros(src.size(0), dtype=torch.bool)
            for _ in range(max_len):
                logits = model.decode(tokens, memory, src_mask)
                next_token = logits[:, -1].argmax(dim=-1)
                next_token = next_token.masked_fill(finished, model.pad_id)
                tokens = torch.cat([tokens, next_token[:, None]], dim=1)
                finished |= next_token == eos_id
                if finished.all():
                    break
            return tokens[:, 1:]
        """, text="One way to write it:"),
    ],
    canonical=_id_rows,
    show=_show_rows,
)


# ------------------------------------------------------- beam search variants


@torch.no_grad()
def _beam_variant(model, src, bos_id, eos_id, max_len, beam_size, alpha, *,
                  penalty="power", stop="count", mode=None, steps=False):
    """Beam search by the rules of ex-07-3 (``penalty="power"``,
    ``stop="count"``) or of ex-07-6 (``penalty="wu"``, ``stop="bound"``),
    with one catalogued mistake ``mode``.

    A hypothesis is (tokens, score, finished). ``stop="count"`` stops when
    beam_size hypotheses have finished; ``"bound"`` when the best finished
    one scores at least the best that a hypothesis in the beam could still
    reach (its score over the penalty at max_len tokens); ``"never"``
    searches all max_len steps. With ``steps``, returns (tokens, the number
    of steps searched).
    """
    if penalty == "wu":
        def lp(n):
            return ((5 + n) / 6) ** alpha
    else:
        def lp(n):
            return n ** alpha

    def normalised(score, length):
        if mode == "not-normalised":
            return score
        if mode == "multiplied":
            return score * lp(length)
        return score / lp(length)

    def length(tokens):
        if mode == "eos-not-counted":
            return max(1, sum(t != eos_id for t in tokens[1:]))
        if mode == "bos-counted":
            return len(tokens)
        return len(tokens) - 1

    memory, src_mask = model.encode(src)
    width = 1 if mode == "greedy" else beam_size
    beam, finished = [([bos_id], 0.0, False)], []
    searched = 0
    for _ in range(max_len):
        searched += 1
        candidates = []
        for tokens, score, done in beam:
            if done:                  # finished-stay: kept, not extended
                candidates.append((tokens, score, True))
                continue
            logits = model.decode(torch.tensor([tokens]), memory, src_mask)
            values = torch.log_softmax(logits[0, -1].double(), dim=-1)
            if mode == "probabilities":
                values = values.exp()
            for token, value in enumerate(values.tolist()):
                ends = token == eos_id and mode != "finished-grow"
                candidates.append((tokens + [token], score + value, ends))
        candidates.sort(key=lambda c: -c[1])
        if mode == "finished-stay":
            beam = candidates[:width]
            if all(done for *_, done in beam):
                break
            continue
        if mode == "late-eos":  # every <eos> met before the beam is full
            beam = []
            for c in candidates:
                if len(beam) == width:
                    break
                (finished if c[2] else beam).append(c)
        elif mode == "beam-shrinks":
            finished += [c for c in candidates[:width] if c[2]]
            beam = [c for c in candidates[:width] if not c[2]]
        else:
            finished += [c for c in candidates[:width] if c[2]]
            beam = [c for c in candidates if not c[2]][:width]
        if not beam or (mode == "first-finished" and finished):
            break
        if stop == "count" and len(finished) >= width:
            break
        if stop not in ("count", "never") and finished:
            best = max(normalised(s, length(t)) for t, s, _ in finished)
            if stop == "bound":
                hope = max(normalised(s, max_len) for _, s, _ in beam)
            elif stop == "bound-now":
                hope = max(normalised(s, length(t)) for t, s, _ in beam)
            else:  # "bound-raw"
                hope = max(s for _, s, _ in beam)
            if best >= hope:
                break
    if mode == "finished-stay":
        pool = [c for c in beam if c[2]] or beam
    elif mode == "unfinished-compete":
        pool = finished + beam
    else:
        pool = finished or beam
    best = max(pool, key=lambda c: normalised(c[1], length(c[0])))
    return (best[0][1:], searched) if steps else best[0][1:]


def _beam_model(**options):
    def model(model, src, bos_id, eos_id, max_len, beam_size, alpha):
        return _beam_variant(model, src, bos_id, eos_id, max_len, beam_size,
                             alpha, **options)
    return model


def _greedy_answer(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return greedy_decode(model, src, bos_id, eos_id, max_len)[0].tolist()


def _beam_case(vocab, beam_size, alpha, max_len, start, slope, spread,
               seed, src, bos=BOS_ID, eos=EOS_ID, note=""):
    model = ScriptedTranslator(vocab, seed, bos_id=bos, eos_id=eos,
                               eos_start=start, eos_slope=slope,
                               spread=spread)
    return Case({"model": model, "src": torch.tensor([src]), "bos_id": bos,
                 "eos_id": eos, "max_len": max_len, "beam_size": beam_size,
                 "alpha": alpha}, note)


def _show_beam(result, expected, case):
    args = case.args
    alpha, eos = args["alpha"], args["eos_id"]
    text = (f"for {case.describe()}, your beam search chose {result}; the "
            f"best hypothesis by the exercise's rules is {expected} (token "
            f"ids after <bos>, ending with <eos> = {eos})")
    valid = (result and all(isinstance(t, int) for t in result)
             and all(0 <= t < args["model"].vocab_size for t in result))
    if not valid:
        return text + "."
    mine = _log_prob(args["model"], args["src"], args["bos_id"], result)
    best = _log_prob(args["model"], args["src"], args["bos_id"], expected)
    return (text + f". Their log-probabilities: yours {mine:.3f} over "
            f"{len(result)} tokens, {mine / len(result) ** alpha:.3f} "
            f"divided by {len(result)} ** {alpha:g}; the best {best:.3f} "
            f"over {len(expected)} tokens, "
            f"{best / len(expected) ** alpha:.3f}.")


# --------------------------------------------------------------------- ex-07-3

#: (vocab, beam_size, alpha, max_len, eos_start, eos_slope, spread, seed,
#: source, bos, eos): scripted sentences on which the rules of the
#: exercise, and the catalogued mistakes, tell answers apart.
_BEAM_CASES = [
    (10, 4, 1.3, 10, 3.9, 0.39, 1.3, 714101688, [8, 5, 6, 6], 2, 3, ""),
    (10, 4, 1.3, 10, 1.7, 0.66, 1.3, 272224286, [5, 5, 5], 1, 2, ""),
    (7, 2, 1.3, 6, 1.2, 0.31, 1.3, 654233310, [4, 6, 4, 4], 1, 2, ""),
    (6, 2, 0.7, 8, 1.6, 0.79, 1.9, 2015519619, [5, 4, 5, 4], 1, 2, ""),
    (6, 2, 1.0, 5, 2.4, 0.6, 0.9, 245552884, [5, 5, 5, 4, 4], 2, 3,
     "no hypothesis finishes within max_len"),
    (9, 4, 1.0, 9, 1.7, 0.43, 1.9, 1853996285, [4, 4, 7, 4], 1, 2, ""),
    (7, 2, 0.5, 7, 2.8, 0.82, 1.4, 1704034198, [4, 5, 6], 1, 2, ""),
]


def _beam_reference(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return beam_search(model, src, bos_id, eos_id, max_len, beam_size, alpha)


def _beam_cases(rng):
    return [_beam_case(*c[:-1], note=c[-1]) for c in _BEAM_CASES]


def _eos_inside(result, expected, case):
    """The answer goes on after <eos>, or is the beam search in which
    <eos> ends nothing."""
    model = _beam_model(mode="finished-grow")
    return (case.args["eos_id"] in result[:-1]
            or result == model(*case.args.values()))


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
                "a hypothesis that has written <eos> went on growing. When "
                "an extension among the beam_size best ends with <eos>, "
                "move it to a list of finished hypotheses: it is never "
                "extended again.",
                detect=_eos_inside),
        Mistake("not-normalised",
                "you chose the final hypothesis by its total "
                "log-probability. Every token adds a negative number, so "
                "that favours short translations: divide each finished "
                "hypothesis's score by its length ** alpha (tokens after "
                "<bos>, <eos> included) before choosing.",
                model=_beam_model(mode="not-normalised")),
        Mistake("eos-not-counted",
                "your length does not count <eos>. The length is the "
                "number of tokens after <bos>, <eos> included: for "
                "[5, 7, <eos>] it is 3.",
                model=_beam_model(mode="eos-not-counted")),
        Mistake("bos-counted",
                "your length counts <bos>. The length is the number of "
                "tokens after <bos>, <eos> included: for [<bos>, 5, 7, "
                "<eos>] it is 3, not 4.",
                model=_beam_model(mode="bos-counted")),
        Mistake("probabilities",
                "you added probabilities. A hypothesis's score is the sum "
                "of the log-probabilities of its tokens (the log of their "
                "product): use torch.log_softmax, not torch.softmax.",
                model=_beam_model(mode="probabilities")),
        Mistake("greedy",
                "your answer is the greedy translation: the beam never kept "
                "a second hypothesis. At every step extend every hypothesis "
                "in the beam by every token, and keep the beam_size best "
                "extensions overall, not just the best one.",
                model=_greedy_answer),
        Mistake("finished-stay",
                "your finished hypotheses stayed in the beam, taking places "
                "that unfinished ones should have. A hypothesis that ends "
                "with <eos> leaves the beam for the list of finished ones; "
                "the new beam is the beam_size best extensions that do not "
                "end with <eos>.",
                model=_beam_model(mode="finished-stay")),
        Mistake("late-eos",
                "an extension that ends with <eos> finished although it "
                "was not among the beam_size best. Only the <eos> "
                "extensions among the beam_size best finish; those further "
                "down are dropped, while the beam fills up with the best "
                "extensions that do not end with <eos>.",
                model=_beam_model(mode="late-eos")),
        Mistake("beam-shrinks",
                "your beam shrank when a hypothesis finished. Rule 3 keeps "
                "it full: the new beam is the beam_size best extensions "
                "that do not end with <eos>, even when some of the best "
                "ones finished.",
                model=_beam_model(mode="beam-shrinks")),
        Mistake("never-stops",
                "your search always ran max_len steps. Stop when beam_size "
                "hypotheses have finished: rule 4 chooses among those "
                "(searching on adds other, later finished ones).",
                model=_beam_model(stop="never")),
        Mistake("first-finished",
                "you stopped as soon as one hypothesis had finished. Search "
                "on until beam_size hypotheses have finished (or max_len "
                "steps): a longer hypothesis may still win once the scores "
                "are divided by the lengths.",
                model=_beam_model(mode="first-finished")),
        Mistake("unfinished-compete",
                "hypotheses that never wrote <eos> competed with the "
                "finished ones at the end. They are candidates only when "
                "no hypothesis finished within max_len steps.",
                model=_beam_model(mode="unfinished-compete")),
    ],
    hints=[
        "Keep a list `beam` of (tokens, score) pairs, starting with "
        "[([bos_id], 0.0)], and a list `finished`. Encode once; at each "
        "step decode every hypothesis of the beam (one at a time is "
        "fine) and take torch.log_softmax of its last position.",
        "Make every extension (tokens + [token], score + log p), sort "
        "them all by score, best first. Those among the first beam_size "
        "that end with eos_id go to `finished`; the new beam is the first "
        "beam_size that do not. Stop when len(finished) >= beam_size.",
        Code("""
            memory, src_mask = model.encode(src)
            beam, finished = [([bos_id], 0.0)], []
            for _ in range(max_len):
                candidates = []
                for tokens, score in beam:
                    logits = model.decode(torch.tensor([tokens]), memory,
                                          src_mask)
                    log_p = torch.log_softmax(logits[0, -1], dim=-1)
                    for token, lp in enumerate(log_p.tolist()):
                        candidates.append((tokens + [token], score + lp))
                candidates.sort(key=lambda c: c[1], reverse=True)
                finished += [c for c in candidates[:beam_size]
                             if c[0][-1] == eos_id]
                beam = [c for c in candidates
                        if c[0][-1] != eos_id][:beam_size]
                if len(finished) >= beam_size:
                    break
            pool = finished or beam
            best = max(pool, key=lambda c: c[1] / (len(c[0]) - 1) ** alpha)
            return best[0][1:]
        """, text="One way to write it:"),
    ],
    canonical=_id_list,
    show=_show_beam,
)


# --------------------------------------------------------------------- ex-07-4


def _smoothing_variants(logits, target, smoothing, pad_id, *, share=None,
                        zero_pad=True, over="real", kl=False):
    vocab = logits.size(-1)
    log_probs = torch.log_softmax(logits.double(), dim=-1)    # (b, L, V)
    q = torch.full_like(log_probs,
                        smoothing / (vocab - 2 if share is None else share))
    if zero_pad:
        q[..., pad_id] = 0.0
    q.scatter_(-1, target.unsqueeze(-1), 1.0 - smoothing)
    per_token = -(q * log_probs).sum(-1)                       # (b, L)
    if kl:
        per_token = per_token + (q * torch.log(q.clamp_min(1e-300))).sum(-1)
    real = target != pad_id
    if over == "all":
        return per_token.mean()
    if over == "zeroed":
        return (per_token * real).sum() / per_token.numel()
    if over == "sum":
        return per_token[real].sum()
    if over == "sentences":   # the mean of each sentence's mean
        lengths = real.sum(-1).double()
        return ((per_token * real).sum(-1) / lengths).mean()
    return per_token[real].mean()


def _pytorch_smoothing(logits, target, smoothing, pad_id):
    return torch.nn.functional.cross_entropy(
        logits.double().flatten(0, 1), target.flatten(),
        ignore_index=pad_id, label_smoothing=smoothing)


def _any_close(result, candidates, tol=Tolerance(1e-6, 1e-8)):
    return any(matches(result, c, tol) for c in candidates)


def _smoothing_cases(rng):
    def case(batch, length, vocab, smoothing, pad_id=0, dtype=np.float64,
             note=""):
        logits = torch.from_numpy(
            (rng.normal(size=(batch, length, vocab)) * 2).astype(dtype))
        words = [i for i in range(vocab) if i != pad_id]
        target = torch.from_numpy(rng.choice(words, size=(batch, length)))
        lengths = rng.integers(1, length, size=batch)
        lengths[0] = length                  # one sentence without padding
        padded = (torch.arange(length)[None, :]
                  >= torch.from_numpy(lengths)[:, None])   # (batch, L)
        target[padded] = pad_id
        return Case({"logits": logits, "target": target,
                     "smoothing": smoothing, "pad_id": pad_id}, note)

    return [
        case(3, 6, 7, 0.1),
        case(4, 5, 10, 0.2, note="smoothing 0.2"),
        case(2, 7, 6, 0.3, dtype=np.float32, note="float32 logits"),
        case(3, 4, 9, 0.1, pad_id=4, note="pad_id = 4"),
        case(2, 6, 12, 0.0, note="no smoothing: plain cross-entropy"),
        case(3, 5, 8, 0.1, pad_id=7, note="pad_id = 7, the last token"),
    ]


def _scalar_tensor(result, case=None):
    if not is_tensor(result) or result.dim() != 0:
        return (f"the exercise asks for a scalar tensor (0-d, like "
                f"loss.mean()), got {describe(result)}")
    if not result.dtype.is_floating_point:
        return f"your loss should be a float tensor, got {describe(result)}"
    return None


def _smoothing_detect(**options):
    def detect(result, case):
        return _any_close(result, [_smoothing_variants(*case.args.values(),
                                                       **options)])
    return detect


SMOOTHING = Exercise(
    id="ex-07-4",
    title="Label smoothing that ignores padding",
    chapter=7,
    points=3,
    function="label_smoothing_loss",
    reference=lambda lg, t, s, p: label_smoothing_loss(lg.double(), t, s, p),
    cases=_smoothing_cases,
    contract=_scalar_tensor,
    mistakes=[
        Mistake("padding-counted",
                "your average includes the padded positions. Padding is "
                "not part of any sentence: compute the loss of every "
                "position, keep those where target != pad_id, and average "
                "over them only.",
                detect=lambda r, c: _any_close(r, [
                    _smoothing_variants(*c.args.values(), over="all"),
                    _smoothing_variants(*c.args.values(), over="zeroed")])),
        Mistake("smoothing-on-pad",
                "your smoothed targets give some probability to <pad>. The "
                "model should never write padding: the pad column gets 0, "
                "the right word 1 - smoothing, and the V - 2 other words "
                "smoothing / (V - 2) each. (PyTorch's label_smoothing "
                "option spreads smoothing / V over every token, <pad> "
                "included.)",
                detect=lambda r, c: _any_close(r, [
                    _smoothing_variants(*c.args.values(),
                                        share=c.args["logits"].size(-1) - 1,
                                        zero_pad=False),
                    _smoothing_variants(*c.args.values(), zero_pad=False),
                    _pytorch_smoothing(*c.args.values())])),
        Mistake("share-v-minus-1",
                "you gave each of the other words smoothing / (V - 1). With "
                "<pad> left out there are V - 2 of them, so the shares add "
                "up to less than smoothing: give each smoothing / (V - 2).",
                detect=lambda r, c: c.args["smoothing"] > 0 and _any_close(
                    r, [_smoothing_variants(
                        *c.args.values(),
                        share=c.args["logits"].size(-1) - 1)])),
        Mistake("no-smoothing",
                "your loss is the plain cross-entropy: the smoothing was "
                "not used. The target distribution gives 1 - smoothing to "
                "the right word and shares smoothing among the other words "
                "(not <pad>).",
                detect=lambda r, c: c.args["smoothing"] > 0 and _any_close(
                    r, [_smoothing_variants(c.args["logits"],
                                            c.args["target"], 0.0,
                                            c.args["pad_id"])])),
        Mistake("sum-not-mean",
                "you added the losses of the real tokens; average them "
                "(divide by the number of real tokens), so that the loss "
                "does not grow with the batch.",
                detect=_smoothing_detect(over="sum")),
        Mistake("mean-of-sentences",
                "you averaged each sentence's loss, then averaged the "
                "sentences: a short sentence then weighs as much as a long "
                "one. Average over all the real tokens of the batch at "
                "once.",
                detect=_smoothing_detect(over="sentences")),
        Mistake("kl-divergence",
                "you returned the KL divergence between the smoothed "
                "targets and the model. It differs from the cross-entropy "
                "-sum q log p only by the entropy of q, a constant (so it "
                "trains the same), but this exercise asks for the "
                "cross-entropy.",
                detect=lambda r, c: c.args["smoothing"] > 0 and _any_close(
                    r, [_smoothing_variants(*c.args.values(), kl=True)])),
    ],
    hints=[
        "Work with log_probs = torch.log_softmax(logits, dim=-1), shape "
        "(batch, L, V). The loss of one position is -sum_v q_v "
        "log_probs_v, where q is the smoothed target distribution.",
        "Build q with torch.full_like(log_probs, smoothing / (V - 2)), set "
        "q[..., pad_id] = 0, then put 1 - smoothing at the target: "
        "q.scatter_(-1, target.unsqueeze(-1), 1 - smoothing).",
        Code("""
            log_probs = torch.log_softmax(logits, dim=-1)
            q = torch.full_like(log_probs, smoothing / (logits.size(-1) - 2))
            q[..., pad_id] = 0.0
            q.scatter_(-1, target.unsqueeze(-1), 1.0 - smoothing)
            per_token = -(q * log_probs).sum(dim=-1)
            return per_token[target != pad_id].mean()
        """, text="One way to write it:"),
    ],
    tolerance=Tolerance(rtol=1e-5, atol=1e-6),
)


# --------------------------------------------------------------------- ex-07-5


def _ngram_variant(hyp, ref, n, *, mode):
    if mode == "n-ignored":
        n = 1
    short = 1 if mode == "missing-last" else 0   # range(len - n): one short

    def grams(tokens):
        return [tuple(tokens[i: i + n])
                for i in range(len(tokens) - n + 1 - short)]

    hyp_grams, ref_grams = grams(hyp), grams(ref)
    if mode == "not-clipped":
        return sum(g in ref_grams for g in hyp_grams), len(hyp_grams)
    if mode == "sets":
        return len(set(hyp_grams) & set(ref_grams)), len(set(hyp_grams))
    if mode == "max-not-min":
        found = sum(max(hyp_grams.count(g), ref_grams.count(g))
                    for g in set(hyp_grams) if g in ref_grams)
        return found, len(hyp_grams)
    found = sum(min(hyp_grams.count(g), ref_grams.count(g))
                for g in set(hyp_grams))
    if mode == "total-from-reference":
        return found, len(ref_grams)
    return found, len(hyp_grams)


def _ngram_model(mode):
    def model(hypothesis, reference, n):
        return _ngram_variant(hypothesis, reference, n, mode=mode)
    return model


WORDS = ["le", "la", "chat", "chien", "noir", "petit", "mange", "voit",
         "pomme", "."]


def _ngram_cases(rng):
    def words(k):
        return [str(w) for w in rng.choice(WORDS, size=k)]

    w = [str(x) for x in rng.choice(WORDS, size=4, replace=False)]
    # many repeats: clipping matters
    repeated = [w[0]] * 4 + [w[1], w[0]] + [w[0], w[1]] * 2
    reference = [w[0], w[1], w[2], w[0], w[1], w[3]]
    return [
        Case({"hypothesis": repeated, "reference": reference, "n": 1},
             "a hypothesis that repeats a word"),
        Case({"hypothesis": repeated, "reference": reference + reference,
              "n": 2}, "repeated bigrams, n = 2"),
        Case({"hypothesis": words(9), "reference": words(7), "n": 2},
             "random words, n = 2"),
        Case({"hypothesis": words(8) * 2, "reference": words(6), "n": 3},
             "n = 3"),
        Case({"hypothesis": reference[:5] + ["."],
              "reference": reference + ["."], "n": 4},
             "a close translation, n = 4"),
        Case({"hypothesis": words(2), "reference": words(5), "n": 3},
             "a hypothesis shorter than n"),
        Case({"hypothesis": [w[0], w[1]] * 3,
              "reference": [w[0], w[1], w[2], w[3]], "n": 2},
             "a bigram repeated three times"),
        Case({"hypothesis": [w[2], w[3], w[0], w[1]],
              "reference": [w[0], w[1], w[2], w[3]], "n": 2},
             "the reference's last bigram matches"),
        Case({"hypothesis": [w[2], w[2], w[3]],
              "reference": [w[2], w[2], w[2], w[3]], "n": 1},
             "the reference repeats a word more often"),
    ]


def _pair_of_ints(result, case=None):
    if not isinstance(result, tuple) or len(result) != 2:
        return (f"the exercise asks for a pair (matches, total), got "
                f"{describe(result)}")
    for name, value in zip(("matches", "total"), result):
        if isinstance(value, bool) or not isinstance(value,
                                                     (int, np.integer)):
            return (f"{name} should be an int, got {describe(value)}; "
                    f"count with ints (sum(...) of ints, len(...)), or "
                    f"use int(...)")
    return None


NGRAM = Exercise(
    id="ex-07-5",
    title="BLEU's clipped n-gram precision",
    chapter=7,
    points=2,
    function="clipped_precision",
    reference=clipped_precision,
    cases=_ngram_cases,
    outputs=("matches", "total"),
    contract=_pair_of_ints,
    mistakes=[
        Mistake("not-clipped",
                "your n-gram matches are not clipped: a hypothesis that "
                "repeats 'le le le le' gets credit for every 'le' as soon "
                "as the reference has one. Count each n-gram at most as "
                "often as it occurs in the reference: min(hypothesis "
                "count, reference count).",
                model=_ngram_model("not-clipped")),
        Mistake("sets",
                "you counted distinct n-grams (sets), so repeated n-grams "
                "count once. Use counts (collections.Counter): the total is "
                "the number of n-grams in the hypothesis, repeats "
                "included, and each one matches up to its count in the "
                "reference.",
                model=_ngram_model("sets")),
        Mistake("max-not-min",
                "you clipped with max(hypothesis count, reference count). "
                "Clipping keeps the smaller of the two: an n-gram can "
                "match at most as often as it occurs in the reference, and "
                "at most as often as it occurs in the hypothesis.",
                model=_ngram_model("max-not-min")),
        Mistake("total-from-reference",
                "your total counts the reference's n-grams. Precision asks "
                "how much of the hypothesis is right: the total is the "
                "number of n-grams in the hypothesis.",
                model=_ngram_model("total-from-reference")),
        Mistake("missing-last",
                "you missed the last n-gram: a list of k tokens has "
                "k - n + 1 n-grams, so the loop is range(len(tokens) - n "
                "+ 1).",
                model=_ngram_model("missing-last")),
        Mistake("n-ignored",
                "you always counted single words: use n-grams of n "
                "consecutive tokens, tuple(tokens[i:i + n]).",
                model=_ngram_model("n-ignored")),
    ],
    hints=[
        "The n-grams of a token list are tuple(tokens[i:i + n]) for i in "
        "range(len(tokens) - n + 1). Count them in the hypothesis and in "
        "the reference with collections.Counter.",
        "matches = the sum over the hypothesis's n-grams of min(count in "
        "hypothesis, count in reference); total = the number of n-grams "
        "in the hypothesis (0 if it is shorter than n).",
        Code("""
            hyp = Counter(tuple(hypothesis[i:i + n])
                          for i in range(len(hypothesis) - n + 1))
            ref = Counter(tuple(reference[i:i + n])
                          for i in range(len(reference) - n + 1))
            matches = sum(min(c, ref[g]) for g, c in hyp.items())
            return matches, sum(hyp.values())
        """, text="One way to write it:"),
    ],
    tolerance=Tolerance(rtol=0, atol=0),
)


# ------------------------------------------------------ ex-07-6 (a challenge)

#: Cases for the challenge, in the same form as ``_BEAM_CASES``.
_WU_CASES = [
    (8, 4, 2.0, 8, 3.5, 0.77, 0.8, 1562370376, [7, 5, 7, 6, 4], 2, 3, ""),
    (9, 4, 1.0, 10, 2.5, 0.37, 1.2, 1153784440, [5, 8, 4, 8, 5], 1, 2, ""),
    (8, 3, 0.6, 5, 1.8, 0.47, 1.3, 1902895963, [4, 4, 6, 7, 6, 7], 2, 3, ""),
    (6, 2, 1.5, 5, 2.4, 0.6, 0.9, 245552884, [5, 5, 5, 4, 4], 2, 3,
     "no hypothesis finishes within max_len"),
    (6, 2, 1.0, 5, 1.3, 0.39, 1.1, 1954766249, [4, 5, 4, 5, 4, 5], 1, 2, ""),
    (6, 2, 0.6, 5, 3.6, 0.69, 1.9, 103865439, [5, 4, 5, 4], 1, 2, ""),
    (6, 2, 1.0, 5, 2.3, 0.32, 1.9, 1893494911, [5, 4, 5, 4, 4], 2, 3, ""),
    (6, 2, 1.0, 5, 2.2, 0.74, 1.2, 537545828, [4, 5, 4, 5, 5, 5], 1, 2, ""),
]


def _wu_reference(model, src, bos_id, eos_id, max_len, beam_size, alpha):
    return _beam_variant(model, src, bos_id, eos_id, max_len, beam_size,
                         alpha, penalty="wu", stop="bound", steps=True)


def _wu_cases(rng):
    return [_beam_case(*c[:-1], note=c[-1]) for c in _WU_CASES]


def _wu_model(**options):
    return _beam_model(**{"penalty": "wu", "stop": "bound", "steps": True,
                          **options})


def _tokens_and_steps(value):
    """(a list of ints, an int) -> the same pair."""
    if not isinstance(value, tuple) or len(value) != 2:
        raise ValueError(f"the exercise asks for a pair (tokens, steps), got "
                         f"{describe(value)}.")
    tokens, steps = value
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise ValueError(f"steps should be an int (the number of steps "
                         f"searched), got {describe(steps)}.")
    return _id_list(tokens), int(steps)


def _show_wu(result, expected, case):
    args = case.args
    alpha = args["alpha"]
    (tokens, steps), (best_tokens, best_steps) = result, expected
    if tokens == best_tokens:
        return (f"for {case.describe()}, your search chose the right "
                f"hypothesis, {tokens}, but searched {steps} steps; by the "
                f"exercise's stopping rule it stops after {best_steps}.")
    text = (f"for {case.describe()}, your beam search chose {tokens}; the "
            f"best hypothesis by the exercise's rules is {best_tokens}")
    valid = all(0 <= t < args["model"].vocab_size for t in tokens)
    if not tokens or not valid:
        return text + "."

    def lp(n):
        return ((5 + n) / 6) ** alpha

    mine = _log_prob(args["model"], args["src"], args["bos_id"], tokens)
    best = _log_prob(args["model"], args["src"], args["bos_id"], best_tokens)
    return (text + f". Log-probability / lp(length): yours {mine:.3f} / "
            f"{lp(len(tokens)):.3f} = {mine / lp(len(tokens)):.3f}, the "
            f"best {best:.3f} / {lp(len(best_tokens)):.3f} = "
            f"{best / lp(len(best_tokens)):.3f}.")


WU = ExactExercise(
    id="ex-07-6",
    title="Challenge: Wu et al.'s length penalty",
    chapter=7,
    points=4,
    function="beam_search_wu",
    reference=_wu_reference,
    cases=_wu_cases,
    mistakes=[
        Mistake("exercise-3",
                "this is exercise 3's beam search: it divides by length ** "
                "alpha and stops when beam_size hypotheses have finished. "
                "Here the penalty is lp = ((5 + length) / 6) ** alpha, and "
                "the search stops only when no hypothesis in the beam can "
                "still beat the best finished one.",
                model=_beam_model(steps=True)),
        Mistake("power-penalty",
                "you divided by length ** alpha, the penalty of exercise "
                "3. Wu et al.'s is lp = ((5 + length) / 6) ** alpha: it is "
                "1 for one token and grows more slowly.",
                model=_wu_model(penalty="power")),
        Mistake("count-stop",
                "you stopped when beam_size hypotheses had finished. With "
                "this penalty a hypothesis still in the beam may overtake "
                "them later. Stop only when the best finished score is at "
                "least the best that any hypothesis in the beam could "
                "still reach, its score / lp(max_len).",
                model=_wu_model(stop="count")),
        Mistake("never-stops",
                "your search always ran max_len steps. It finds the right "
                "hypothesis, but does work that cannot change it: stop as "
                "soon as the best finished score is at least score / "
                "lp(max_len) for every hypothesis in the beam.",
                model=_wu_model(stop="never")),
        Mistake("bound-now",
                "your stopping test divides the beam's scores by the "
                "penalty at their current length. A hypothesis can still "
                "grow to max_len tokens, and a longer one is divided by a "
                "larger penalty: the best it can still reach is score / "
                "lp(max_len).",
                model=_wu_model(stop="bound-now")),
        Mistake("bound-raw",
                "your stopping test compares the best finished score with "
                "the beam's raw scores. Compare like with like: the best a "
                "hypothesis in the beam can still reach is its score / "
                "lp(max_len).",
                model=_wu_model(stop="bound-raw")),
        Mistake("eos-not-counted",
                "your length does not count <eos>. |y| is the number of "
                "tokens after <bos>, <eos> included: for [5, 7, <eos>] it "
                "is 3.",
                model=_wu_model(mode="eos-not-counted")),
        Mistake("bos-counted",
                "your length counts <bos>. |y| is the number of tokens "
                "after <bos>, <eos> included: for [<bos>, 5, 7, <eos>] it "
                "is 3, not 4.",
                model=_wu_model(mode="bos-counted")),
        Mistake("multiplied",
                "you multiplied the score by the penalty. Divide by it: "
                "the scores are negative, and dividing a longer "
                "hypothesis's score by its larger penalty is what makes up "
                "for its extra tokens.",
                model=_wu_model(mode="multiplied")),
        Mistake("not-normalised",
                "you chose by the total log-probability: the penalty was "
                "not used. Divide each score by lp = ((5 + length) / 6) ** "
                "alpha, when choosing and in the stopping test.",
                model=_wu_model(mode="not-normalised")),
        Mistake("greedy",
                "your answer is the greedy translation: the beam never kept "
                "a second hypothesis. Keep the beam_size best extensions "
                "that do not end with <eos> at every step.",
                model=_wu_model(mode="greedy")),
    ],
    hints=[
        "Start from your beam search of exercise 3: a step is the same "
        "(the extensions among the beam_size best that end with eos_id "
        "finish, the beam_size best that do not form the new beam). Two "
        "things change: the penalty, and when to stop. Count the steps as "
        "you go.",
        "Write lp(n) = ((5 + n) / 6) ** alpha. A hypothesis in the beam "
        "with score s (negative) can only lose log-probability as it "
        "grows, and it can grow to max_len tokens, so the best it can "
        "still reach is s / lp(max_len). After each step, stop if some "
        "hypothesis has finished and the best finished s / lp(length) is "
        "at least that bound for every hypothesis in the beam.",
        Code("""
            def lp(n):
                return ((5 + n) / 6) ** alpha

            memory, src_mask = model.encode(src)
            beam, finished, steps = [([bos_id], 0.0)], [], 0
            for _ in range(max_len):
                steps += 1
                candidates = []
                for tokens, score in beam:
                    logits = model.decode(torch.tensor([tokens]), memory,
                                          src_mask)
                    log_p = torch.log_softmax(logits[0, -1], dim=-1)
                    for token, value in enumerate(log_p.tolist()):
                        candidates.append((tokens + [token], score + value))
                candidates.sort(key=lambda c: c[1], reverse=True)
                finished += [c for c in candidates[:beam_size]
                             if c[0][-1] == eos_id]
                beam = [c for c in candidates
                        if c[0][-1] != eos_id][:beam_size]
                if finished:
                    best = max(s / lp(len(t) - 1) for t, s in finished)
                    if all(best >= s / lp(max_len) for _, s in beam):
                        break
            pool = finished or beam
            winner = max(pool, key=lambda c: c[1] / lp(len(c[0]) - 1))
            return winner[0][1:], steps
        """, text="One way to write it:"),
    ],
    outputs=("tokens", "steps"),
    canonical=_tokens_and_steps,
    show=_show_wu,
)


EXERCISES = [SHIFT, GREEDY, BEAM, SMOOTHING, NGRAM, WU]
