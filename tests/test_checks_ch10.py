"""Chapter 10 checks: correct answers pass, every catalogued mistake is
named, look-alikes and other wrong answers get the plain message."""

import numpy as np
import pytest
import torch

from attnbook.checks import EXERCISES
from attnbook.importance import ranks
from checkkit import failure, make_tests, run_check

IGNORE = -100


# ---------------------------------------------------------------- masking


def mask_where(tokens, mask_id, first_word, vocab_size, generator):
    words = tokens >= first_word
    chosen = words & (torch.rand(tokens.shape, generator=generator) < 0.15)
    how = torch.rand(tokens.shape, generator=generator)
    random_ids = torch.randint(first_word, vocab_size, tokens.shape,
                               generator=generator)
    inputs = torch.where(chosen & (how < 0.8), mask_id, tokens)
    inputs = torch.where(chosen & (how >= 0.8) & (how < 0.9), random_ids,
                         inputs)
    return inputs, tokens.masked_fill(~chosen, IGNORE)


def mask_bernoulli(tokens, mask_id, first_word, vocab_size, generator):
    # BERT's own style: nested Bernoulli draws, in place on a clone
    inputs = tokens.clone()
    labels = tokens.clone()
    p = torch.full(tokens.shape, 0.15)
    chosen = torch.bernoulli(p, generator=generator).bool()
    chosen &= tokens >= first_word
    labels[~chosen] = IGNORE
    masked = torch.bernoulli(torch.full(tokens.shape, 0.8),
                             generator=generator).bool() & chosen
    inputs[masked] = mask_id
    rand = torch.bernoulli(torch.full(tokens.shape, 0.5),
                           generator=generator).bool() & chosen & ~masked
    words = torch.randint(first_word, vocab_size, tokens.shape,
                          generator=generator)
    inputs[rand] = words[rand]
    return inputs, labels


def mask_other_word(tokens, mask_id, first_word, vocab_size, generator):
    # a random word that is never the word itself: also fine
    n_words = vocab_size - first_word
    u = torch.rand(tokens.shape, generator=generator)
    chosen = (tokens >= first_word) & (u < 0.15)
    how = u / 0.15                       # uniform again among the chosen
    step = torch.randint(1, n_words, tokens.shape, generator=generator)
    other = first_word + (tokens - first_word + step) % n_words
    inputs = torch.where(chosen & (how < 0.8), mask_id, tokens)
    inputs = torch.where(chosen & (how >= 0.8) & (how < 0.9), other, inputs)
    return inputs, torch.where(chosen, tokens, IGNORE)


def _masker(p=0.15, to_mask=0.8, to_random=0.1, specials=False,
            everywhere=False, labels_everywhere=False, labels_after=False,
            low=None, global_rng=False):
    def answer(tokens, mask_id, first_word, vocab_size, generator):
        g = None if global_rng else generator
        words = (torch.ones_like(tokens, dtype=torch.bool) if specials
                 else tokens >= first_word)
        chosen = words & (torch.rand(tokens.shape, generator=g) < p)
        how = torch.rand(tokens.shape, generator=g)
        ids = torch.randint(first_word if low is None else low, vocab_size,
                            tokens.shape, generator=g)
        inputs = torch.where(chosen & (how < to_mask), mask_id, tokens)
        swap = (how >= to_mask) & (how < to_mask + to_random)
        swap &= words if everywhere else chosen
        inputs = torch.where(swap, ids, inputs)
        if labels_everywhere:
            return inputs, tokens.clone()
        if labels_after:
            return inputs, inputs.masked_fill(~chosen, IGNORE)
        return inputs, tokens.masked_fill(~chosen, IGNORE)
    return answer


# ---------------------------------------------------------------- rollout


def rollout_loop(weights):
    rolled = None
    for w in weights:
        a = w.mean(1)
        a = 0.5 * a + 0.5 * torch.eye(a.size(-1), dtype=a.dtype)
        rolled = a if rolled is None else a @ rolled
    return rolled


def rollout_reduce(weights):
    length = weights[0].size(-1)
    eye = torch.eye(length, dtype=weights[0].dtype)
    mats = [(w.sum(1) / w.size(1) + eye) / 2 for w in weights]
    out = mats[0]
    for m in mats[1:]:
        out = torch.einsum("bij,bjk->bik", m, out)
    return out


def _roller(residual=True, halve=True, order="right", combine="product",
            heads_after=False):
    def answer(weights):
        mats = []
        for w in weights:
            a = w if heads_after else w.mean(1)
            if residual:
                eye = torch.eye(a.size(-1), dtype=a.dtype)
                a = (a + eye) / 2 if halve else a + eye
            mats.append(a)
        if combine == "last":
            out = mats[-1]
        elif combine == "mean":
            out = torch.stack(mats).mean(0)
        else:
            out = mats[0]
            for a in mats[1:]:
                out = a @ out if order == "right" else out @ a
        return out.mean(1) if heads_after else out
    return answer


# --------------------------------------------------------------- spearman


def spearman_ranks(x, y):
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float((rx * ry).sum() / (rx.norm() * ry.norm()))


def _average_ranks(v):
    # by counting: rank = (number below) + (number equal - 1) / 2
    v = np.asarray(v, dtype=float)
    below = (v[None, :] < v[:, None]).sum(1)
    equal = (v[None, :] == v[:, None]).sum(1)
    return below + (equal - 1) / 2


def spearman_numpy(x, y):
    return float(np.corrcoef(_average_ranks(x), _average_ranks(y))[0, 1])


def spearman_ordinal(x, y):
    def ordinal(v):
        r = torch.empty(len(v), dtype=torch.float64)
        r[torch.as_tensor(v).argsort(stable=True)] = torch.arange(
            len(v), dtype=torch.float64)
        return r
    return float(np.corrcoef(ordinal(x), ordinal(y))[0, 1])


def spearman_pearson(x, y):
    return float(np.corrcoef(np.asarray(x), np.asarray(y))[0, 1])


def spearman_formula(x, y):
    d = ranks(x) - ranks(y)
    n = len(d)
    return float(1 - 6 * (d ** 2).sum() / (n * (n * n - 1)))


def spearman_argsort(x, y):
    a = torch.as_tensor(x).argsort(stable=True).double()
    b = torch.as_tensor(y).argsort(stable=True).double()
    return float(np.corrcoef(a, b)[0, 1])


def spearman_tensor(x, y):               # not a Python number
    return torch.tensor(spearman_ranks(x, y))


def spearman_dense(x, y):                # dense ranks: 0, 1, 1, 2
    def dense(v):
        return torch.unique(torch.as_tensor(v), return_inverse=True)[1]
    return float(np.corrcoef(dense(x).double(), dense(y).double())[0, 1])


# ------------------------------------------------- pseudo-log-likelihood


def pll_loop(model, tokens, mask_id, first_word):
    total = 0.0
    for t in range(len(tokens)):
        if tokens[t] < first_word:
            continue
        masked = tokens.clone()
        masked[t] = mask_id
        logits = model(masked[None])[0, t]
        total += logits.log_softmax(-1)[tokens[t]].item()
    return total


def pll_batched(model, tokens, mask_id, first_word):
    at = (tokens >= first_word).nonzero()[:, 0]
    rows = tokens.repeat(len(at), 1)
    rows[torch.arange(len(at)), at] = mask_id
    logp = model(rows).log_softmax(-1)[torch.arange(len(at)), at]
    return logp.gather(1, tokens[at][:, None]).sum().item()


def _pll(mask=True, together=False, score="log", specials=False,
         mean=False):
    def answer(model, tokens, mask_id, first_word):
        at = [t for t in range(len(tokens))
              if specials or tokens[t] >= first_word]
        values = []
        shared = tokens.clone()
        shared[at] = mask_id
        for t in at:
            if together:
                masked = shared
            else:
                masked = tokens.clone()
                if mask:
                    masked[t] = mask_id
            logits = model(masked[None])[0, t]
            if score == "log":
                logits = logits.log_softmax(-1)
            elif score == "prob":
                logits = logits.softmax(-1)
            values.append(logits[tokens[t]].item())
        return float(np.mean(values) if mean else np.sum(values))
    return answer


CORRECT = {
    "ex-10-1": [mask_where, mask_bernoulli, mask_other_word],
    "ex-10-2": [rollout_loop, rollout_reduce],
    "ex-10-3": [spearman_ranks, spearman_numpy],
    "ex-10-4": [pll_loop, pll_batched],
}

WRONG = {
    "ex-10-1": {
        "ignores-generator": _masker(global_rng=True),
        "all-mask": _masker(to_mask=1.0),
        "no-kept-words": _masker(to_random=0.2),
        "masks-padding": _masker(specials=True),
        "changes-unchosen": _masker(everywhere=True),
        "labels-everywhere": _masker(labels_everywhere=True),
        "labels-after-masking": _masker(labels_after=True),
        "random-specials": _masker(low=0),
    },
    "ex-10-2": {
        "no-residual": _roller(residual=False),
        "identity-not-halved": _roller(halve=False),
        "wrong-order": _roller(order="left"),
        "mean-of-layers": _roller(combine="mean"),
        "last-layer-only": _roller(combine="last"),
        "heads-after": _roller(heads_after=True),
    },
    "ex-10-3": {
        "ordinal-ranks": spearman_ordinal,
        "pearson-of-values": spearman_pearson,
        "rank-difference-formula": spearman_formula,
        "argsort-is-not-rank": spearman_argsort,
    },
    "ex-10-4": {
        "no-masking": _pll(mask=False),
        "all-masked-at-once": _pll(together=True),
        "probabilities": _pll(score="prob"),
        "raw-logits": _pll(score="logit"),
        "scores-specials": _pll(specials=True),
        "mean-not-sum": _pll(mean=True),
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(
    10, CORRECT, WRONG)


# Wrong answers that no mistake of the catalogue describes: the plain
# message, which says what differs.
PLAIN = [
    ("ex-10-1", _masker(p=0.2), "share of words chosen"),
    ("ex-10-1", _masker(to_mask=0.7, to_random=0.15), "became mask_id"),
    ("ex-10-1", _masker(p=0.15 / 0.8), "share of words chosen"),
    ("ex-10-2", lambda w: rollout_loop(w).transpose(1, 2), "differs"),
    ("ex-10-2", lambda w: rollout_loop([x.amax(1, keepdim=True)
                                        for x in w]), "differs"),
    ("ex-10-3", spearman_dense, "differs"),
    ("ex-10-3", spearman_tensor, "Python number"),
    ("ex-10-4", lambda m, t, k, f: -pll_loop(m, t, k, f), "differs"),
]


@pytest.mark.parametrize("ex_id,answer,words", PLAIN)
def test_other_wrong_answers_get_the_plain_message(ex_id, answer, words):
    exc = failure(ex_id, answer)
    assert exc.mistake is None, exc.message
    assert words in exc.message


def test_spearman_reference_matches_scipy_or_hand_values():
    """Equal to scipy's spearmanr when scipy is installed; always equal to
    an independent count-based version and to values worked by hand."""
    x = [1.0, 2.0, 2.0, 3.0, 5.0]
    y = [2.0, 1.0, 4.0, 4.0, 3.0]
    # ranks 0, 1.5, 1.5, 3, 4 and 1, 0, 3.5, 3.5, 2; centred, their
    # products add to 3.75 and each has squares adding to 9.5
    assert spearman_ranks(x, y) == pytest.approx(3.75 / 9.5)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.integers(0, 4, 15).astype(float)
        b = np.round(a + rng.normal(0, 1, 15))
        assert spearman_ranks(a, b) == pytest.approx(spearman_numpy(a, b))
    stats = pytest.importorskip("scipy.stats")
    for _ in range(20):
        a = rng.integers(0, 4, 15).astype(float)
        b = np.round(a + rng.normal(0, 1, 15))
        assert spearman_ranks(a, b) == pytest.approx(
            stats.spearmanr(a, b).statistic)


def test_masking_verdict_does_not_depend_on_the_global_seed():
    for seed in (0, 123):
        torch.manual_seed(seed)
        assert run_check("ex-10-1", mask_where, seed=0)


def test_a_wrong_share_is_far_outside_the_tolerance():
    """Every modelled masking mistake is off, on some case, by three times
    the tolerance of a share the draw makes uncertain, or at all on a share
    the rule makes exact, so no luck of the draw can pass it."""
    from attnbook.checks.ch10 import EXACT
    exercise = EXERCISES["ex-10-1"]
    cases = exercise.cases(np.random.default_rng(0))
    exact = torch.tensor([v is not None for v in EXACT])
    for mistake in exercise.mistakes:
        if mistake.model is None:
            continue
        gaps = torch.stack([(mistake.model(*c.args.values())
                             - exercise.reference(*c.args.values())).abs()
                            for c in cases]).amax(0)
        assert (gaps[~exact] > 3 * exercise.tolerance.atol).any() or (
            gaps[exact] > 0.002).any(), mistake.key
