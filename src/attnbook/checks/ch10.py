"""Checks for chapter 10's exercises: BERT's 80/10/10 masking, attention
rollout, Spearman's correlation with ties, and the challenge, a masked
model's pseudo-log-likelihood."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..explain import attention_rollout
from ..importance import spearman as spearman_reference
from .core import (Case, CheckFailure, Code, Exercise, Mistake, Tolerance,
                   format_number, is_tensor, python_number)

IGNORE = -100

# --------------------------------------------------------------- ex-10-1
# The answer draws random numbers, so the check compares what it does to a
# large batch (shares of positions) with what the rule promises.

STATS = (
    "the share of words chosen (labels not -100)",
    "the share of padding and special tokens chosen",
    "the share of chosen words that became mask_id",
    "the share of chosen words left as they were",
    "the share of chosen words replaced by another word",
    "the share of chosen words replaced by a special token",
    "the share of words not chosen whose input changed",
    "the share of chosen positions whose label is the original id",
)
#: Shares of tens of thousands of positions: 0.012 is more than four
#: standard errors of the smallest count (the 10% of chosen words). The
#: shares that the rule makes exactly 0 or 1 must be exact.
SHARE_TOLERANCE = 0.012
EXACT = (None, 0, None, None, None, 0, 0, 1)


def _stats(tokens, mask_id, first_word, inputs, labels):
    """The eight shares of :data:`STATS` for one masking of ``tokens``."""
    words = tokens >= first_word
    chosen = labels != IGNORE
    n_chosen = max(int(chosen.sum()), 1)

    def share(flags, among):
        return float((flags & among).sum()) / max(int(among.sum()), 1)

    is_word = (inputs >= first_word) & (inputs < 10**9)
    return torch.tensor([
        share(chosen, words),
        share(chosen, ~words),
        share(inputs == mask_id, chosen),
        share(inputs == tokens, chosen),
        share(is_word & (inputs != tokens), chosen),
        share(~is_word & (inputs != mask_id), chosen),
        share(inputs != tokens, ~chosen),
        float((chosen & (labels == tokens)).sum()) / n_chosen,
    ], dtype=torch.float64)


def _expected(tokens, mask_id, first_word, vocab_size, generator):
    n_words = vocab_size - first_word
    return torch.tensor([0.15, 0, 0.8, 0.1 + 0.1 / n_words,
                         0.1 * (1 - 1 / n_words), 0, 0, 1],
                        dtype=torch.float64)


def _masking(tokens, mask_id, first_word, vocab_size, generator, *,
             p=0.15, to_mask=0.8, to_random=0.1, specials=False,
             everywhere=False, labels_everywhere=False,
             labels_after=False, random_from=None):
    """The 80/10/10 rule with one switch per catalogued mistake."""
    words = torch.ones_like(tokens, dtype=torch.bool) if specials \
        else tokens >= first_word
    chosen = words & (torch.rand(tokens.shape, generator=generator) < p)
    how = torch.rand(tokens.shape, generator=generator)
    low = first_word if random_from is None else random_from
    random_ids = torch.randint(low, vocab_size, tokens.shape,
                               generator=generator)
    inputs = torch.where(chosen & (how < to_mask), mask_id, tokens)
    swap = (how >= to_mask) & (how < to_mask + to_random)
    swap = swap & (words if everywhere else chosen)
    inputs = torch.where(swap, random_ids, inputs)
    if labels_everywhere:
        labels = tokens.clone()
    elif labels_after:
        labels = inputs.masked_fill(~chosen, IGNORE)
    else:
        labels = tokens.masked_fill(~chosen, IGNORE)
    return inputs, labels


def _model(**switches):
    def model(tokens, mask_id, first_word, vocab_size, generator):
        g = torch.Generator().manual_seed(7)
        inputs, labels = _masking(tokens, mask_id, first_word, vocab_size,
                                  g, **switches)
        return _stats(tokens, mask_id, first_word, inputs, labels)
    return model


IGNORES_GENERATOR = ("your masks do not follow the generator you were "
                     "given: the same seed gave different masks. Draw "
                     "every random number with it, e.g. "
                     "torch.rand(tokens.shape, generator=generator).")


def _run_masking(answer, tokens, mask_id, first_word, vocab_size, seed,
                 global_seed):
    with torch.random.fork_rng():            # the global state: restored
        torch.manual_seed(global_seed)
        g = torch.Generator().manual_seed(seed)
        result = answer(tokens.clone(), mask_id, first_word, vocab_size, g)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailure("ex-10-1", "return a pair (inputs, labels) of "
                           "tensors.", None)
    for name, value in zip(("inputs", "labels"), result):
        if not is_tensor(value) or value.shape != tokens.shape:
            raise CheckFailure("ex-10-1", f"{name} should be a tensor of "
                               f"the shape of tokens, "
                               f"{tuple(tokens.shape)}.", None)
        if value.dtype != torch.int64:
            raise CheckFailure("ex-10-1", f"{name} should hold int64 ids, "
                               f"not {value.dtype}.", None)
    return result


def _call_masking(answer, tokens, mask_id, first_word, vocab_size,
                  generator):
    inputs, labels = _run_masking(answer, tokens, mask_id, first_word,
                                  vocab_size, 3, 1)
    again, _ = _run_masking(answer, tokens, mask_id, first_word,
                            vocab_size, 3, 2)
    if not torch.equal(inputs, again):
        raise CheckFailure("ex-10-1", IGNORES_GENERATOR,
                           "ignores-generator")
    return _stats(tokens, mask_id, first_word, inputs, labels)


def _masking_cases(rng):
    def case(n, length, vocab_size, note):
        first_word, mask_id = 6, 4
        ids = rng.integers(first_word, vocab_size, (n, length))
        ids[:, 0] = 5                                   # <cls>
        lengths = rng.integers(length // 2, length + 1, n)
        ids[np.arange(length)[None] >= lengths[:, None]] = 0   # <pad>
        return Case({"tokens": torch.from_numpy(ids), "mask_id": mask_id,
                     "first_word": first_word, "vocab_size": vocab_size,
                     "generator": None}, note)

    return [case(8000, 24, 200, "sentences of 12 to 24 tokens"),
            case(4000, 40, 1000, "longer sentences, a larger vocabulary"),
            case(12000, 12, 40, "short sentences, much padding, 34 words")]


@dataclass
class SharesExercise(Exercise):
    """An exercise whose result is turned into the shares of
    :data:`STATS`; the message names the first share that is off."""

    def _differs(self, result, expected, case):
        tolerance = torch.tensor([self.tolerance.atol if exact is None
                                  else 1e-9 for exact in EXACT],
                                 dtype=torch.float64)
        bad = (result - expected).abs() > tolerance
        if not bad.any():
            return None
        i = int(bad.nonzero()[0, 0])
        return (f"{STATS[i]} is {format_number(result[i].item())}, the "
                f"rule gives {format_number(expected[i].item())}")

    def _same(self, result, model_result, case, tolerance=None):
        # a mistake's model draws other numbers: every share within the
        # tolerance, and a share the rule makes exact off in both or in
        # neither
        if ((result - model_result).abs() > self.tolerance.atol).any():
            return False
        return all((abs(r - v) > 1e-9) == (abs(m - v) > 1e-9)
                   for r, m, v in zip(result.tolist(),
                                      model_result.tolist(), EXACT)
                   if v is not None)


MASKING = SharesExercise(
    id="ex-10-1",
    title="BERT's 80/10/10 masking",
    chapter=10,
    points=4,
    function="mask_tokens",
    reference=_expected,
    call=_call_masking,
    cases=_masking_cases,
    mistakes=[
        Mistake("ignores-generator", IGNORES_GENERATOR),
        Mistake("all-mask",
                "every chosen word became mask_id. BERT replaces only 80% "
                "of them; 10% become a random word and 10% stay as they "
                "are, so that the model also learns from words it can "
                "see.", model=_model(to_mask=1.0)),
        Mistake("no-kept-words",
                "none of your chosen words stays as it was: 80% become "
                "mask_id and 20% a random word. The rule is 80% mask_id, "
                "10% random, 10% unchanged (but still predicted).",
                model=_model(to_random=0.2)),
        Mistake("masks-padding",
                "you chose padding and special tokens too. Choose only "
                "words, the ids from first_word on: tokens >= first_word.",
                model=_model(specials=True)),
        Mistake("changes-unchosen",
                "words that were not chosen were replaced by random words "
                "too. The random replacement is for chosen words only: "
                "combine its condition with the chosen mask.",
                model=_model(everywhere=True)),
        Mistake("labels-everywhere",
                "your labels hold a word at every position. Only the "
                "chosen positions are predicted: the others must be -100, "
                "which the loss skips (tokens.masked_fill(~chosen, -100)).",
                model=_model(labels_everywhere=True)),
        Mistake("labels-after-masking",
                "your labels hold the inputs after masking (mask_id, or "
                "the random word). The label of a chosen position is its "
                "original id: take the labels from tokens.",
                model=_model(labels_after=True)),
        Mistake("random-specials",
                "your random words are drawn from the whole vocabulary, "
                "special tokens included. Draw them from the words only: "
                "torch.randint(first_word, vocab_size, ...).",
                model=_model(random_from=0)),
    ],
    hints=[
        "Three random draws of the shape of tokens, all with the "
        "generator: one to choose (< 0.15, among tokens >= first_word), "
        "one to decide what a chosen word becomes (< 0.8: mask_id; "
        "0.8 to 0.9: a random word; the rest: unchanged), and the random "
        "words themselves.",
        "torch.where(condition, new, old) builds the inputs step by step; "
        "labels = tokens.masked_fill(~chosen, -100).",
        Code("""
            words = tokens >= first_word
            draw = torch.rand(tokens.shape, generator=generator)
            chosen = words & (draw < 0.15)
            how = torch.rand(tokens.shape, generator=generator)
            random_ids = torch.randint(first_word, vocab_size, tokens.shape,
                                       generator=generator)
            inputs = torch.where(chosen & (how < 0.8), mask_id, tokens)
            swap = chosen & (how >= 0.8) & (how < 0.9)
            inputs = torch.where(swap, random_ids, inputs)
            return inputs, tokens.masked_fill(~chosen, -100)
            """),
    ],
    tolerance=Tolerance(rtol=0, atol=SHARE_TOLERANCE),
    time_limit=20.0,
)


# --------------------------------------------------------------- ex-10-2


def _rollout(weights, *, residual=True, order="right", combine="product",
             heads="mean", halve=True):
    """Attention rollout with one switch per catalogued mistake."""
    layers = []
    for w in weights:
        if heads == "none":
            a = w
        else:
            a = w.mean(1)
        if residual:
            eye = torch.eye(a.size(-1), dtype=a.dtype)
            a = 0.5 * a + 0.5 * eye if halve else a + eye
        layers.append(a)
    if combine == "last":
        out = layers[-1]
    elif combine == "mean":
        out = sum(layers) / len(layers)
    else:
        out = layers[0]
        for a in layers[1:]:
            out = a @ out if order == "right" else out @ a
    if heads == "none":
        out = out.mean(1)
    return out


def _weights(rng, batch, heads, length, layers, dtype=torch.float64,
             causal=False):
    out = []
    for _ in range(layers):
        scores = torch.from_numpy(rng.normal(0, 1.5, (batch, heads, length,
                                                      length)))
        if causal:
            hide = torch.ones(length, length).triu(1).bool()
            scores = scores.masked_fill(hide, float("-inf"))
        out.append(scores.softmax(-1).to(dtype))
    return out


def _rollout_cases(rng):
    return [
        Case({"weights": _weights(rng, 1, 2, 4, 2)}, "two layers"),
        Case({"weights": _weights(rng, 2, 3, 5, 3)}, "three layers"),
        Case({"weights": _weights(rng, 2, 2, 6, 2, torch.float32)},
             "float32"),
        Case({"weights": _weights(rng, 1, 2, 5, 3, causal=True)},
             "causal weights: zeros above the diagonal"),
        Case({"weights": _weights(rng, 3, 1, 3, 1)}, "one layer, one head"),
    ]


ROLLOUT = Exercise(
    id="ex-10-2",
    title="Attention rollout",
    chapter=10,
    points=3,
    function="attention_rollout",
    reference=lambda weights: attention_rollout(weights),
    cases=_rollout_cases,
    mistakes=[
        Mistake("no-residual",
                "you multiplied the attention matrices alone. The residual "
                "connection carries every position's own vector past each "
                "layer: use 0.5 * A + 0.5 * I for every layer.",
                model=lambda w: _rollout(w, residual=False)),
        Mistake("identity-not-halved",
                "you added the identity without halving: A + I has rows "
                "that sum to 2, and the product grows with every layer. "
                "Use 0.5 * A + 0.5 * I.",
                model=lambda w: _rollout(w, halve=False)),
        Mistake("wrong-order",
                "you multiplied the layers in the wrong order (A_1 A_2 "
                "... A_n). Each layer mixes the vectors the layer below "
                "made: rolled = A_l @ rolled, layer 1 first.",
                model=lambda w: _rollout(w, order="left")),
        Mistake("mean-of-layers",
                "you averaged the layers. Rollout follows the weights "
                "through the layers: a product of the matrices, not a "
                "mean.", model=lambda w: _rollout(w, combine="mean")),
        Mistake("last-layer-only",
                "you used the last layer only. Rollout multiplies every "
                "layer's matrix, from layer 1 up.",
                model=lambda w: _rollout(w, combine="last")),
        Mistake("heads-after",
                "you rolled out every head on its own and averaged at the "
                "end. Average the heads of each layer first (w.mean(1)), "
                "then multiply the layers.",
                model=lambda w: _rollout(w, heads="none")),
    ],
    hints=[
        "For each layer: a = w.mean(1), the heads averaged, (batch, L, "
        "L); then a = 0.5 * a + 0.5 * torch.eye(L, dtype=a.dtype) for "
        "the residual path.",
        "Start with layer 1's matrix; for every next layer, rolled = a @ "
        "rolled (the later layer on the left).",
        Code("""
            rolled = None
            for w in weights:
                a = w.mean(1)                               # (batch, L, L)
                a = 0.5 * a + 0.5 * torch.eye(a.size(-1), dtype=a.dtype)
                rolled = a if rolled is None else a @ rolled
            return rolled
            """),
    ],
    tolerance=Tolerance(rtol=1e-5, atol=1e-6),
)


# --------------------------------------------------------------- ex-10-3


def _ordinal_ranks(x):
    x = torch.as_tensor(x, dtype=torch.float64)
    r = torch.empty_like(x)
    r[x.argsort(stable=True)] = torch.arange(len(x), dtype=torch.float64)
    return r


def _pearson(a, b):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def _rank_formula(x, y):
    from ..importance import ranks
    d = ranks(x) - ranks(y)
    n = len(d)
    return float(1 - 6 * (d ** 2).sum() / (n * (n ** 2 - 1)))


def _argsort_once(x, y):
    return _pearson(torch.as_tensor(x).argsort(stable=True).double(),
                    torch.as_tensor(y).argsort(stable=True).double())


def _spearman_cases(rng):
    def case(n, ties, note):
        x = rng.integers(0, ties, n) if ties else rng.normal(0, 1, n)
        y = x + rng.normal(0, 1.0, n)
        if ties:
            y = np.round(y)
        return Case({"x": torch.tensor(x, dtype=torch.float64),
                     "y": torch.tensor(y, dtype=torch.float64)}, note)

    return [
        Case({"x": torch.tensor([1.0, 2.0, 2.0, 3.0, 5.0]),
              "y": torch.tensor([2.0, 1.0, 4.0, 4.0, 3.0])},
             "ties in both"),
        case(12, 4, "many ties"),
        case(8, 0, "no ties"),
        Case({"x": torch.tensor([0.1, 0.4, 0.4, 0.4, 0.9, 0.2]),
              "y": torch.tensor([3.0, 1.0, 2.0, 2.0, 0.0, 5.0])},
             "three equal values"),
        case(30, 3, "30 values, three levels"),
    ]


SPEARMAN = Exercise(
    id="ex-10-3",
    title="Spearman's rank correlation, with ties",
    chapter=10,
    points=3,
    function="spearman",
    reference=spearman_reference,
    cases=_spearman_cases,
    contract=python_number,
    mistakes=[
        Mistake("ordinal-ranks",
                "tied values got different ranks (0, 1, 2 in the order "
                "they come). Tied values share the mean of the ranks they "
                "span: 2, 7, 7, 9 have ranks 0, 1.5, 1.5, 3.",
                model=lambda x, y: _pearson(_ordinal_ranks(x),
                                            _ordinal_ranks(y))),
        Mistake("pearson-of-values",
                "you correlated the values themselves (Pearson). Spearman's "
                "correlation is Pearson's correlation of the ranks.",
                model=_pearson),
        Mistake("rank-difference-formula",
                "you used 1 - 6 sum(d^2) / (n (n^2 - 1)). That formula is "
                "exact only without ties; with ties, take Pearson's "
                "correlation of the averaged ranks.",
                model=_rank_formula),
        Mistake("argsort-is-not-rank",
                "you correlated x.argsort() and y.argsort(): the order that "
                "sorts the values, not the rank of each value. The ranks "
                "are the argsort of the argsort (then ties averaged).",
                model=_argsort_once),
    ],
    hints=[
        "First the ranks of x: r[x.argsort()] = torch.arange(n), then, for "
        "every value that occurs more than once, give all its positions "
        "the mean of their ranks; x == value selects them.",
        "Spearman's rho is Pearson's correlation of the two rank vectors: "
        "subtract each one's mean, then sum(a * b) / (|a| |b|).",
        Code("""
            def rank(v):
                v = torch.as_tensor(v, dtype=torch.float64)
                r = torch.empty_like(v)
                r[v.argsort()] = torch.arange(len(v), dtype=torch.float64)
                for value in v.unique():
                    r[v == value] = r[v == value].mean()
                return r
            rx, ry = rank(x), rank(y)
            rx, ry = rx - rx.mean(), ry - ry.mean()
            return float((rx * ry).sum() / (rx.norm() * ry.norm()))
            """),
    ],
    tolerance=Tolerance(rtol=1e-6, atol=1e-9),
)


# --------------------------------------------------------------- ex-10-4


def _pll(model, tokens, mask_id, first_word, *, mask=True, together=False,
         score="log", specials=False, mean=False):
    """The pseudo-log-likelihood with one switch per catalogued mistake."""
    positions = [t for t in range(len(tokens))
                 if specials or tokens[t] >= first_word]
    if together:
        masked = tokens.clone()
        masked[positions] = mask_id
        rows = masked[None].expand(len(positions), -1)
    else:
        rows = tokens[None].repeat(len(positions), 1)       # (k, L)
        if mask:
            rows[torch.arange(len(positions)), positions] = mask_id
    with torch.no_grad():
        logits = model(rows)                                # (k, L, V)
    picked = logits[torch.arange(len(positions)), positions]   # (k, V)
    if score == "log":
        values = picked.log_softmax(-1)
    elif score == "prob":
        values = picked.softmax(-1)
    else:
        values = picked
    total = values[torch.arange(len(positions)), tokens[positions]]
    return float(total.mean() if mean else total.sum())


class _TinyMixer:
    """A fixed, deterministic stand-in for a masked language model: each
    position's vector is its embedding plus a weighted mix of every
    position's (both ways), scored against every embedding."""

    def __init__(self, rng, vocab_size, d, max_len):
        self.embed = torch.from_numpy(rng.normal(0, 1, (vocab_size, d)))
        self.mix = torch.from_numpy(rng.normal(0, 0.5, (max_len, max_len)))

    def __call__(self, ids):
        h = self.embed[ids]                                # (batch, L, d)
        n = ids.size(1)
        h = h + self.mix[:n, :n] @ h                       # (batch, L, d)
        return h @ self.embed.T                            # (batch, L, V)

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return "a masked language model"


def _pll_cases(rng):
    def case(length, vocab, pad, note):
        model = _TinyMixer(rng, vocab, 8, 32)
        ids = rng.integers(6, vocab, length)
        ids[0] = 5
        if pad:
            ids[-pad:] = 0
        return Case({"model": model, "tokens": torch.from_numpy(ids),
                     "mask_id": 4, "first_word": 6}, note)

    return [case(6, 12, 0, "<cls> and five words"),
            case(10, 30, 3, "padding at the end"),
            case(16, 50, 0, "a longer sentence")]


PSEUDO = Exercise(
    id="ex-10-4",
    title="Challenge: a masked model's pseudo-log-likelihood",
    chapter=10,
    points=3,
    function="pseudo_log_likelihood",
    reference=_pll,
    cases=_pll_cases,
    contract=python_number,
    mistakes=[
        Mistake("no-masking",
                "you scored every word with the word itself in the input. "
                "A masked model must not see the word it scores: put "
                "mask_id at that position, one position at a time.",
                model=lambda m, t, k, f: _pll(m, t, k, f, mask=False)),
        Mistake("all-masked-at-once",
                "you masked every word at once and scored them all from "
                "one input. Mask one position at a time: each word is "
                "scored from all the others.",
                model=lambda m, t, k, f: _pll(m, t, k, f, together=True)),
        Mistake("probabilities",
                "you added probabilities. The pseudo-log-likelihood adds "
                "log-probabilities: log_softmax(logits)[word].",
                model=lambda m, t, k, f: _pll(m, t, k, f, score="prob")),
        Mistake("raw-logits",
                "you added the raw logits. Turn each position's logits "
                "into log-probabilities first: logits.log_softmax(-1).",
                model=lambda m, t, k, f: _pll(m, t, k, f, score="logit")),
        Mistake("scores-specials",
                "you scored <cls> and the padding too. Score only the "
                "words, the ids from first_word on.",
                model=lambda m, t, k, f: _pll(m, t, k, f, specials=True)),
        Mistake("mean-not-sum",
                "you returned the mean over the words. The "
                "pseudo-log-likelihood is their sum (a longer sentence "
                "has a lower one).",
                model=lambda m, t, k, f: _pll(m, t, k, f, mean=True)),
    ],
    hints=[
        "For every position t with tokens[t] >= first_word: a copy of "
        "tokens with mask_id at t; model(copy[None]) gives (1, L, V) "
        "logits; keep row t.",
        "log_softmax(-1) of that row, at the original id tokens[t], is "
        "the word's log-probability; add them up and return a float.",
        Code("""
            total = 0.0
            for t in range(len(tokens)):
                if tokens[t] < first_word:
                    continue
                masked = tokens.clone()
                masked[t] = mask_id
                logits = model(masked[None])[0, t]          # (V,)
                total += logits.log_softmax(-1)[tokens[t]].item()
            return total
            """),
    ],
    tolerance=Tolerance(rtol=1e-6, atol=1e-6),
)


EXERCISES = [MASKING, ROLLOUT, SPEARMAN, PSEUDO]
