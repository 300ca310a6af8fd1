"""Checks for chapter 9, a tiny GPT and a chatbot (PyTorch).

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch09.py`` holds one learner-style wrong answer per
mistake and proves it is named.

The cases are fixed or drawn from the generator the check is given; every
catalogued mistake and every rule the exercise states changes the result on
at least one case. Sampling is checked statistically: the learner's sampler
runs on many copies of each row with a ``torch.Generator`` of a fixed seed,
and the frequencies of its tokens are compared with the exact
probabilities (so one answer always gets one verdict). A wrong distribution
differs from the right one by far more than the tolerance.
"""

import re

import numpy as np
import torch
import torch.nn.functional as F

from ..language_model import next_token_loss, top_k_filter, top_p_filter
from .core import Case, CheckFailure, Exercise, Mistake, Tolerance, is_tensor

INF = float("-inf")


def _logits(rng, *shape, dtype=torch.float64, scale=1.5):
    return torch.from_numpy(rng.normal(size=shape) * scale).to(dtype)


def _call_filter(exercise_id):
    """Calls a filter answer; names what a wrong result type or dtype is."""

    def call(answer, logits, param):
        try:
            result = answer(logits, param)
        except (RuntimeError, IndexError) as exc:
            text = str(exc)
            if "out of range" in text and param > logits.size(-1):
                raise CheckFailure(exercise_id, K_TOO_LARGE,
                                   "k-exceeds-vocab") from None
            if logits.dim() != 2:
                raise CheckFailure(exercise_id, ASSUMES_2D,
                                   "assumes-2d") from None
            raise
        if is_tensor(result) and result.shape == logits.shape \
                and result.dtype != logits.dtype:
            raise CheckFailure(exercise_id, DTYPE_CHANGED, "changes-dtype")
        if exercise_id == "ex-09-1" and is_tensor(result) \
                and _exactly_k(result, logits, param):
            raise CheckFailure(exercise_id, DROPS_TIES, "drops-ties")
        return result

    return call


K_TOO_LARGE = ("your function fails when k is larger than the vocabulary. "
               "Then every token stays: use k = min(k, logits.size(-1)) "
               "before torch.topk.")
ASSUMES_2D = ("your function works on (batch, V) logits only, but the logits "
              "may have any number of leading axes, (V,) or (..., V). Work "
              "on the last axis: dim=-1, and index with [..., -1:] rather "
              "than [:, [-1]].")
DTYPE_CHANGED = ("your result has another dtype than the logits. Return "
                 "logits of the same dtype: masked_fill keeps it.")
DROPS_TIES = ("you keep exactly k tokens, but when other logits tie with "
              "the k-th largest they must stay too. Compare with the k-th "
              "largest value (logits < kth) instead of keeping the k "
              "indices torch.topk returns.")
FILLS_ZERO = ("you set the filtered logits to 0, but a logit of 0 is a "
              "perfectly likely token after the softmax. Set them to "
              "float('-inf'), which the softmax turns into a probability "
              "of exactly 0.")
FINITE_FILL = ("you set the filtered logits to a large negative number. The "
               "exercise asks for float('-inf'), so that no temperature can "
               "ever bring them back, and so that you can test for them "
               "with torch.isinf.")
PROBABILITIES = ("you returned probabilities. The filter returns logits: the "
                 "kept ones unchanged, the others -inf; the softmax comes "
                 "later, when you sample.")


def _fill_detector(reference):
    """True when the result keeps the reference's finite logits and puts a
    finite, very negative number where the reference has -inf."""

    def detect(result, case):
        expected = reference(*case.args.values())
        got = result.detach().double()
        out = torch.isinf(expected)
        if not out.any() or got.shape != expected.shape:
            return False
        kept = torch.allclose(got[~out], expected[~out].double())
        return bool(kept and torch.isfinite(got[out]).all()
                    and (got[out] <= -1e3).all())

    return detect


# --------------------------------------------------------------- ex-09-1


def _top_k(logits, k, *, strict=False, smallest=False, axis=-1, fill=INF):
    """top_k_filter with one switch per catalogued mistake."""
    x = logits.transpose(axis, -1) if axis != -1 else logits
    k = min(k, x.size(-1))
    if smallest:
        kth = torch.topk(x, k, dim=-1, largest=False).values[..., -1:]
        out = x.masked_fill(x > kth, fill)
    else:
        kth = torch.topk(x, k, dim=-1).values[..., -1:]
        out = x.masked_fill(x <= kth if strict else x < kth, fill)
    return out.transpose(axis, -1) if axis != -1 else out


def _exactly_k(result, logits, k):
    """Keeps exactly min(k, V) tokens per row, all among the reference's,
    where the reference keeps more (ties with the k-th)."""
    expected = top_k_filter(logits, k)
    got = result.detach()
    kept = torch.isfinite(got)
    n = min(k, logits.size(-1))
    if got.shape != logits.shape or torch.equal(kept, torch.isfinite(
            expected)):
        return False
    return bool((kept.sum(-1) == n).all()
                and (torch.isfinite(expected) | ~kept).all()
                and torch.equal(got[kept], logits[kept]))


def _top_k_cases(rng):
    ties = torch.tensor([[3.0, 1.0, 2.0, 2.0, 0.0, 2.0, -1.0],
                         [0.5, 0.5, 0.5, 2.0, 1.0, -2.0, 0.5]],
                        dtype=torch.float64)
    filtered = torch.tensor([[1.0, INF, 0.3, INF, -0.2, 2.0]])
    return [
        Case({"logits": _logits(rng, 3, 10), "k": 3}, "(batch, V) logits"),
        Case({"logits": _logits(rng, 4, 6, dtype=torch.float32), "k": 2},
             "float32"),
        Case({"logits": ties, "k": 2},
             "ties with the k-th largest logit: all of them stay"),
        Case({"logits": _logits(rng, 2, 5), "k": 1}, "k = 1: greedy"),
        Case({"logits": _logits(rng, 2, 5), "k": 5}, "k = V"),
        Case({"logits": _logits(rng, 2, 4), "k": 7},
             "k larger than the vocabulary"),
        Case({"logits": filtered, "k": 5},
             "a row that holds -inf already"),
        Case({"logits": _logits(rng, 8), "k": 3}, "one row (V,)"),
        Case({"logits": _logits(rng, 2, 3, 9), "k": 4},
             "(batch, length, V) logits"),
    ]


TOP_K = Exercise(
    id="ex-09-1",
    title="The top-k filter",
    chapter=9,
    points=2,
    function="top_k_filter",
    reference=top_k_filter,
    call=_call_filter("ex-09-1"),
    cases=_top_k_cases,
    mistakes=[
        Mistake("k-exceeds-vocab", K_TOO_LARGE),
        Mistake("assumes-2d", ASSUMES_2D),
        Mistake("changes-dtype", DTYPE_CHANGED),
        Mistake("drops-kth",
                "you dropped the k-th largest logit too (and everything tied "
                "with it): you keep only k - 1 tokens. Remove the logits "
                "strictly below the k-th largest: logits < kth, not <=.",
                model=lambda x, k: _top_k(x, k, strict=True)),
        Mistake("drops-ties", DROPS_TIES),
        Mistake("smallest-k",
                "you kept the k smallest logits. torch.topk returns the "
                "largest by default (largest=True), and a sort must be "
                "descending.",
                model=lambda x, k: _top_k(x, k, smallest=True)),
        Mistake("wrong-axis",
                "you filtered along the first axis (over the batch). The "
                "tokens are along the last axis: dim=-1.",
                model=lambda x, k: _top_k(x, k, axis=0)),
        Mistake("fills-zero", FILLS_ZERO,
                model=lambda x, k: _top_k(x, k, fill=0.0)),
        Mistake("finite-fill", FINITE_FILL,
                detect=_fill_detector(top_k_filter)),
        Mistake("returns-probabilities", PROBABILITIES,
                model=lambda x, k: torch.softmax(top_k_filter(x, k), -1)),
    ],
    hints=[
        "torch.topk(logits, k, dim=-1).values holds the k largest logits of "
        "every row, largest first; its last column is the k-th largest.",
        "Keep the logits that are at least the k-th largest: "
        "kth = torch.topk(logits, k, dim=-1).values[..., -1:] has shape "
        "(..., 1) and broadcasts against the logits. Remember k may be "
        "larger than the vocabulary.",
        "k = min(k, logits.size(-1)); kth = torch.topk(logits, k, "
        "dim=-1).values[..., -1:]; return logits.masked_fill(logits < kth, "
        "float('-inf'))",
    ],
    tolerance=Tolerance(rtol=1e-5, atol=1e-6),
)


# --------------------------------------------------------------- ex-09-2


def _nucleus(logits, p, *, shift=True, keep_top=False, descending=True,
             cumsum_logits=False, unsort=True, fill=INF):
    """top_p_filter written the way many do (sort, cumsum, shift), with one
    switch per catalogued mistake; the reference when all are off."""
    sorted_logits, order = logits.sort(dim=-1, descending=descending)
    mass = sorted_logits if cumsum_logits else sorted_logits.softmax(-1)
    cum = mass.cumsum(-1)
    remove = cum > p
    if shift:
        remove = torch.cat([torch.zeros_like(remove[..., :1]),
                            remove[..., :-1]], dim=-1)
    if keep_top:
        remove[..., 0] = False
    if unsort:
        remove = remove.scatter(-1, order, remove)
    return logits.masked_fill(remove, fill)


def _nucleus_logits(rng, rows, v, ps, dtype=torch.float64):
    """Random logits whose cumulative probabilities stay clear of every p
    (rounding must not decide which side of p a sum falls)."""
    while True:
        x = _logits(rng, rows, v, dtype=dtype, scale=1.3)
        cum = x.double().softmax(-1).sort(-1, descending=True).values
        cum = cum.cumsum(-1)
        if all((cum - p).abs().min() > 0.02 for p in ps):
            return x


def _top_p_cases(rng):
    skewed = torch.tensor([[4.0, 1.0, 0.5, 0.0, -1.0],
                           [0.0, 0.2, 3.5, -0.5, 0.1]], dtype=torch.float64)
    return [
        Case({"logits": skewed, "p": 0.6},
             "the top token alone is more probable than p"),
        Case({"logits": _nucleus_logits(rng, 3, 8, [0.7]), "p": 0.7},
             "(batch, V) logits"),
        Case({"logits": _nucleus_logits(rng, 4, 6, [0.5], torch.float32),
              "p": 0.5}, "float32"),
        Case({"logits": _nucleus_logits(rng, 2, 7, [0.9]), "p": 0.9}),
        Case({"logits": _nucleus_logits(rng, 1, 9, [0.35]).squeeze(0),
              "p": 0.35}, "one row (V,)"),
        Case({"logits": _nucleus_logits(rng, 6, 7, [0.8]).view(2, 3, 7),
              "p": 0.8}, "(batch, length, V) logits"),
    ]


TOP_P = Exercise(
    id="ex-09-2",
    title="The top-p (nucleus) filter",
    chapter=9,
    points=3,
    function="top_p_filter",
    reference=top_p_filter,
    call=_call_filter("ex-09-2"),
    cases=_top_p_cases,
    mistakes=[
        Mistake("assumes-2d", ASSUMES_2D),
        Mistake("changes-dtype", DTYPE_CHANGED),
        Mistake("crossing-token-kept-only-at-top",
                "you always keep the top token, but elsewhere you still drop "
                "the token that crosses p: your nucleus holds less than p. "
                "Shift the 'remove' mask one place to the right (the token "
                "that crosses p is in the nucleus).",
                model=lambda x, p: _nucleus(x, p, shift=False,
                                            keep_top=True)),
        Mistake("drops-crossing-token",
                "you stop before the token that crosses p, so your nucleus "
                "holds less than p (and when the top token alone is more "
                "probable than p, nothing is left). Keep every token whose "
                "more probable neighbours have not yet reached p: shift the "
                "'remove' mask one place to the right, or compare the "
                "cumulative sum minus the token's own probability with p.",
                model=lambda x, p: _nucleus(x, p, shift=False)),
        Mistake("ascending-sort",
                "you summed the probabilities from the least probable token "
                "up: torch.sort is ascending by default. Sort with "
                "descending=True, so the nucleus is made of the most "
                "probable tokens.",
                model=lambda x, p: _nucleus(x, p, descending=False)),
        Mistake("cumsum-of-logits",
                "you added up logits, not probabilities. Take the softmax "
                "first: the nucleus is about probability mass, which sums "
                "to 1.",
                model=lambda x, p: _nucleus(x, p, cumsum_logits=True)),
        Mistake("not-unsorted",
                "you applied the mask computed in sorted order to the "
                "logits in their original order. Put it back where each "
                "token lives: mask.scatter(-1, order, mask) (or index the "
                "sorted indices).",
                model=lambda x, p: _nucleus(x, p, unsort=False)),
        Mistake("fills-zero", FILLS_ZERO,
                model=lambda x, p: _nucleus(x, p, fill=0.0)),
        Mistake("finite-fill", FINITE_FILL,
                detect=_fill_detector(top_p_filter)),
        Mistake("returns-probabilities", PROBABILITIES,
                model=lambda x, p: torch.softmax(top_p_filter(x, p), -1)),
    ],
    hints=[
        "Sort the probabilities (torch.softmax(logits, -1)) in descending "
        "order, keeping the order: probs.sort(dim=-1, descending=True) "
        "returns (sorted_probs, order). Their cumulative sum (cumsum) says "
        "how much mass the top tokens hold.",
        "A token is in the nucleus when the tokens more probable than it "
        "hold less than p: before = cumsum - sorted_probs; remove where "
        "before >= p. The top token (before = 0) always stays, and so does "
        "the token that crosses p.",
        "outside = before >= p; outside = outside.scatter(-1, order, "
        "outside) puts the mask back in vocabulary order; return "
        "logits.masked_fill(outside, float('-inf')).",
    ],
    tolerance=Tolerance(rtol=1e-5, atol=1e-6),
)


# --------------------------------------------------------------- ex-09-3


def _loss(logits, tokens, pad_id, *, shift=1, mask="targets", mean="tokens",
          pad=None, probs=False):
    """The next-token loss with one switch per catalogued mistake."""
    pad = pad_id if pad is None else pad
    if shift == 1:
        pred, target, inputs = logits[:, :-1], tokens[:, 1:], tokens[:, :-1]
    elif shift == 0:
        pred, target, inputs = logits, tokens, tokens
    else:                                               # backwards
        pred, target, inputs = logits[:, 1:], tokens[:, :-1], tokens[:, 1:]
    if probs:
        pred = pred.softmax(-1)
    nll = F.cross_entropy(pred.transpose(1, 2), target, reduction="none")
    if mask == "targets":
        real = target != pad
    elif mask == "inputs":
        real = inputs != pad
    else:
        real = torch.ones_like(target, dtype=torch.bool)
    nll, real = nll * real, real.to(nll.dtype)
    if mean == "tokens":
        return nll.sum() / real.sum()
    if mean == "sum":
        return nll.sum()
    return (nll.sum(1) / real.sum(1)).mean()           # mean of sentences


def _loss_cases(rng):
    def case(batch, length, vocab, lengths, pad_id, dtype=torch.float64,
             note=""):
        tokens = torch.from_numpy(rng.integers(0, vocab, (batch, length)))
        tokens[tokens == pad_id] = (pad_id + 1) % vocab   # pads only as pads
        if pad_id != 0:
            tokens[0, 1] = 0                      # token 0 is a real word
        for row, n in enumerate(lengths):
            tokens[row, n:] = pad_id
        logits = _logits(rng, batch, length, vocab, dtype=dtype)
        return Case({"logits": logits.requires_grad_(), "tokens": tokens,
                     "pad_id": pad_id}, note)

    return [
        case(3, 7, 11, [7, 4, 6], pad_id=0, note="padded rows, pad_id 0"),
        case(2, 6, 9, [6, 3], pad_id=4, note="pad_id 4, and token 0 is real"),
        case(4, 5, 8, [5, 5, 2, 4], pad_id=7, dtype=torch.float32,
             note="float32"),
        case(2, 8, 6, [8, 8], pad_id=5, note="no padding at all"),
    ]


def _call_loss(answer, logits, tokens, pad_id):
    result = answer(logits, tokens, pad_id)
    if isinstance(result, (float, int)):
        raise CheckFailure("ex-09-3", RETURNS_NUMBER, "returns-number")
    if is_tensor(result) and result.dim() == 0 and not result.requires_grad:
        raise CheckFailure("ex-09-3", DETACHED, "detached")
    return result


RETURNS_NUMBER = ("you returned a Python number (.item()?). Return the loss "
                  "as a 0-dimensional tensor: training calls .backward() "
                  "on it.")
DETACHED = ("your loss is cut off from the logits (detached, or rebuilt "
            "with torch.tensor): training could not call .backward() on it. "
            "Compute it from the logits with torch operations.")

NEXT_TOKEN = Exercise(
    id="ex-09-3",
    title="The next-token loss, padding ignored",
    chapter=9,
    points=3,
    function="next_token_loss",
    reference=next_token_loss,
    call=_call_loss,
    cases=_loss_cases,
    mistakes=[
        Mistake("returns-number", RETURNS_NUMBER),
        Mistake("detached", DETACHED),
        Mistake("no-shift",
                "each position predicts its own token: the loss compares "
                "logits[:, t] with tokens[:, t]. Position t predicts the "
                "next token: compare logits[:, :-1] with tokens[:, 1:].",
                model=lambda x, t, pad: _loss(x, t, pad, shift=0)),
        Mistake("shifted-backwards",
                "you shifted the wrong way: logits[:, 1:] against "
                "tokens[:, :-1] asks each position for the token before it. "
                "Use logits[:, :-1] against tokens[:, 1:].",
                model=lambda x, t, pad: _loss(x, t, pad, shift=-1)),
        Mistake("padding-counted",
                "your loss counts the padding: the model is trained to "
                "predict pad after pad. Leave out the targets equal to "
                "pad_id (F.cross_entropy's ignore_index=pad_id does it).",
                model=lambda x, t, pad: _loss(x, t, pad, mask="none")),
        Mistake("mask-on-inputs",
                "you masked by the input token, not by the target: the last "
                "real token of each row, whose target is pad, still counts. "
                "Mask where the target (tokens[:, 1:]) is pad_id.",
                model=lambda x, t, pad: _loss(x, t, pad, mask="inputs")),
        Mistake("pad-is-zero",
                "you treated token 0 as the padding. The padding token is "
                "pad_id, whatever its number: ignore_index=pad_id.",
                model=lambda x, t, pad: _loss(x, t, pad, pad=0)),
        Mistake("mean-of-sentence-means",
                "you averaged each sentence first, then the sentences: a "
                "short sentence then weighs as much as a long one. Average "
                "over all the real target tokens of the batch at once.",
                model=lambda x, t, pad: _loss(x, t, pad, mean="sentences")),
        Mistake("sum-not-mean",
                "your loss is a sum over the tokens. Divide by the number of "
                "real target tokens: the mean does not grow with the batch.",
                model=lambda x, t, pad: _loss(x, t, pad, mean="sum")),
        Mistake("softmax-twice",
                "you gave F.cross_entropy probabilities. It takes logits and "
                "applies log_softmax itself; a softmax first flattens every "
                "prediction.",
                model=lambda x, t, pad: _loss(x, t, pad, probs=True)),
    ],
    hints=[
        "logits[:, :-1] (every position but the last) predicts "
        "tokens[:, 1:] (every token but the first).",
        "F.cross_entropy wants (N, V) predictions and (N,) targets: "
        "reshape(-1, V) and reshape(-1) (reshape, not view: a slice is not "
        "contiguous). ignore_index=pad_id leaves out the padding, and the "
        "mean is then over the real targets.",
        "return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), "
        "tokens[:, 1:].reshape(-1), ignore_index=pad_id)",
    ],
    tolerance=Tolerance(rtol=1e-5, atol=1e-6),
)


# --------------------------------------------------------------- ex-09-4

DRAWS = 6000            # copies of every row: a frequency is within 0.03 of
TOLERANCE = 0.03        # its probability by about 5 standard errors


def _distribution(probs_fn):
    """A model of a sampler: the exact probabilities it draws from, for
    the rows of the case, computed on the same copied rows the check uses."""

    def model(logits, temperature, generator):
        copies = logits.repeat_interleave(DRAWS, dim=0)   # (rows * DRAWS, V)
        probs = probs_fn(copies, temperature).double()
        probs = probs / probs.sum(-1, keepdim=True)
        return probs.view(len(logits), DRAWS, -1).mean(1)  # (rows, V)

    return model


def _softmax_t(x, t):
    if t == 0:
        return F.one_hot(x.argmax(-1), x.size(-1)).double()
    return torch.softmax(x / t, dim=-1)


def _frequencies(exercise_id, answer, logits, temperature, seed,
                 global_seed):
    copies = logits.repeat_interleave(DRAWS, dim=0)       # (rows * DRAWS, V)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():                # the global state: restored
        torch.manual_seed(global_seed)
        tokens = answer(copies, temperature, generator)
    if not is_tensor(tokens):
        raise CheckFailure(exercise_id, f"return a torch tensor of token ids, "
                           f"not {type(tokens).__name__}.", None)
    if tokens.shape == (len(copies), 1):
        raise CheckFailure(exercise_id, KEEPDIM, "keepdim-shape")
    if tokens.shape != (len(copies),):
        raise CheckFailure(exercise_id, f"for logits of shape "
                           f"{tuple(copies.shape)} return {len(copies)} token "
                           f"ids, shape ({len(copies)},); got shape "
                           f"{tuple(tokens.shape)}.", None)
    if tokens.dtype != torch.int64:
        raise CheckFailure(exercise_id, f"return token ids as int64 (torch."
                           f"long), not {tokens.dtype}.", None)
    counts = F.one_hot(tokens.clamp(0, logits.size(-1) - 1),
                       logits.size(-1)).double()
    return tokens, counts.view(len(logits), DRAWS, -1).mean(1)


KEEPDIM = ("you returned shape (batch, 1), as torch.multinomial(probs, 1) "
           "gives: return one id per row, shape (batch,) (.squeeze(-1)).")
IGNORES_GENERATOR = ("your samples do not follow the generator you were "
                     "given: the same seed gave different tokens. Draw with "
                     "it: torch.multinomial(probs, 1, generator=generator). "
                     "(torch.distributions.Categorical(...).sample() uses the "
                     "global random state instead.)")
FIXED_SEED = ("your function gives the same tokens whatever generator it "
              "gets (did you make your own torch.Generator with a fixed "
              "seed?). Use the generator passed in.")


def _call_sampler(answer, logits, temperature, generator):
    tokens, freq = _frequencies("ex-09-4", answer, logits, temperature, 9, 1)
    again, _ = _frequencies("ex-09-4", answer, logits, temperature, 9, 2)
    if not torch.equal(tokens, again):
        raise CheckFailure("ex-09-4", IGNORES_GENERATOR, "ignores-generator")
    other, _ = _frequencies("ex-09-4", answer, logits, temperature, 10, 1)
    varied = bool((freq.max(-1).values < 1).any())   # not one token per row
    if varied and torch.equal(tokens, other):
        raise CheckFailure("ex-09-4", FIXED_SEED, "fixed-seed")
    return freq


def _call_sampler_safely(answer, logits, temperature, generator):
    try:
        return _call_sampler(answer, logits, temperature, generator)
    except RuntimeError as exc:
        if "probability tensor contains" in str(exc):
            key, message = (("temperature-zero", TEMPERATURE_ZERO)
                            if temperature == 0 else
                            ("samples-logits", SAMPLES_LOGITS))
            raise CheckFailure("ex-09-4", message, key) from None
        raise


TEMPERATURE_ZERO = ("temperature 0 broke your sampler (dividing by 0 gives "
                    "inf and nan). Temperature 0 means greedy: return "
                    "logits.argmax(dim=-1).")
SAMPLES_LOGITS = ("torch.multinomial got negative numbers: it needs "
                  "probabilities (or at least non-negative weights). Take "
                  "torch.softmax(logits / temperature, dim=-1) first.")


def _sampler_cases(rng):
    return [
        Case({"logits": torch.tensor([[2.0, 1.0, 0.0, -1.0],
                                      [0.0, 0.5, 1.5, 0.2]]),
              "temperature": 2.0, "generator": None}, "temperature 2"),
        Case({"logits": torch.tensor([[1.0, 0.0, 0.5, -0.5, 0.2]],
                                     dtype=torch.float64),
              "temperature": 0.5, "generator": None}, "temperature 0.5"),
        Case({"logits": torch.tensor([[0.3, -0.2, 0.8], [1.0, 1.2, -1.0]]),
              "temperature": 1.0, "generator": None}, "temperature 1"),
        Case({"logits": torch.tensor([[0.1, 2.0, -0.3, 0.4]]),
              "temperature": 0, "generator": None}, "temperature 0: greedy"),
    ]


def _dim0(x, t):
    # the softmax over the batch axis of the copied rows
    return torch.softmax(x / t, dim=0) if t else _softmax_t(x, t)


SAMPLER = Exercise(
    id="ex-09-4",
    title="Sampling with a temperature and a seeded generator",
    chapter=9,
    points=3,
    function="sample_next_token",
    reference=_distribution(_softmax_t),
    call=_call_sampler_safely,
    cases=_sampler_cases,
    mistakes=[
        Mistake("keepdim-shape", KEEPDIM),
        Mistake("ignores-generator", IGNORES_GENERATOR),
        Mistake("fixed-seed", FIXED_SEED),
        Mistake("temperature-zero", TEMPERATURE_ZERO),
        Mistake("samples-logits", SAMPLES_LOGITS),
        Mistake("always-greedy",
                "you always take the most likely token: that is greedy "
                "decoding, temperature 0. For a temperature above 0, draw a "
                "token at random from softmax(logits / temperature).",
                model=_distribution(lambda x, t: _softmax_t(x, 0))),
        Mistake("ignores-temperature",
                "your tokens follow softmax(logits), whatever the "
                "temperature. Divide the logits by the temperature before "
                "the softmax (dividing the probabilities does nothing: "
                "multinomial normalises them again).",
                model=_distribution(
                    lambda x, t: _softmax_t(x, 1 if t else 0))),
        Mistake("multiplies-temperature",
                "you multiplied the logits by the temperature. Divide: a "
                "high temperature flattens the distribution, a low one "
                "sharpens it.",
                model=_distribution(lambda x, t: _softmax_t(x * t, 1)
                                    if t else _softmax_t(x, 0))),
        Mistake("softmax-over-batch",
                "your softmax runs over the batch axis (dim=0). Each row is "
                "one distribution over the vocabulary: dim=-1.",
                model=_distribution(_dim0)),
    ],
    hints=[
        "Temperature 0 is greedy: logits.argmax(dim=-1). Otherwise the "
        "probabilities are torch.softmax(logits / temperature, dim=-1).",
        "torch.multinomial(probs, 1, generator=generator) draws one token "
        "per row with the generator you were given; it returns shape "
        "(batch, 1).",
        "return torch.multinomial(torch.softmax(logits / temperature, "
        "dim=-1), 1, generator=generator).squeeze(-1)",
    ],
    tolerance=Tolerance(rtol=0, atol=TOLERANCE),
    time_limit=10.0,
)


# --------------------------------------------------------------- ex-09-5


def _penalty(logits, previous, penalty, *, rule="ctrl", per_occurrence=False,
             whole_batch=False, invert=False):
    """The repetition penalty with one switch per catalogued mistake."""
    out = logits.clone()
    for row in range(len(logits)):
        ids = previous.flatten() if whole_batch else previous[row]
        seen = ids.tolist() if per_occurrence else sorted(set(ids.tolist()))
        if invert:
            seen = [i for i in range(logits.size(-1)) if i not in seen]
        for i in seen:
            x = out[row, i]
            if rule == "ctrl":
                out[row, i] = x / penalty if x > 0 else x * penalty
            elif rule == "divide":
                out[row, i] = x / penalty
            elif rule == "multiply":
                out[row, i] = x * penalty
            elif rule == "swapped":
                out[row, i] = x * penalty if x > 0 else x / penalty
            else:
                out[row, i] = x - penalty
    return out


def _same_dtype(exercise_id, logits, result):
    if is_tensor(result) and result.shape == logits.shape \
            and result.dtype != logits.dtype:
        raise CheckFailure(exercise_id, DTYPE_CHANGED, "changes-dtype")
    return result


def repetition_penalty_reference(logits, previous, penalty):
    return _penalty(logits, previous, penalty)


def _penalty_cases(rng):
    def case(batch, vocab, steps, penalty, dtype=torch.float64, note=""):
        logits = _logits(rng, batch, vocab, dtype=dtype)
        previous = torch.from_numpy(rng.integers(0, vocab, (batch, steps)))
        return Case({"logits": logits, "previous": previous,
                     "penalty": penalty}, note)

    fixed = torch.tensor([[2.0, -1.0, 0.5, -0.3, 1.2, 0.0],
                          [-2.0, 1.5, 0.3, 0.8, -0.6, 1.0]],
                         dtype=torch.float64)
    repeated = torch.tensor([[1, 1, 3, 1, 0], [4, 2, 4, 4, 4]])
    return [
        Case({"logits": fixed, "previous": repeated, "penalty": 1.5},
             "tokens that repeat, positive and negative logits"),
        case(3, 10, 4, 1.3),
        case(2, 7, 6, 2.0, dtype=torch.float32, note="float32"),
        case(2, 5, 0, 1.2, note="nothing generated yet"),
    ]


REPETITION = Exercise(
    id="ex-09-5",
    title="Challenge: a repetition penalty",
    chapter=9,
    points=3,
    function="repetition_penalty",
    reference=repetition_penalty_reference,
    call=lambda answer, logits, previous, penalty: _same_dtype(
        "ex-09-5", logits, answer(logits, previous, penalty)),
    cases=_penalty_cases,
    mistakes=[
        Mistake("changes-dtype", DTYPE_CHANGED),
        Mistake("divides-negatives",
                "you divided every seen logit by the penalty. For a negative "
                "logit that makes it larger, so the token becomes more "
                "likely. Divide positive logits, multiply negative ones.",
                model=lambda x, ids, r: _penalty(x, ids, r, rule="divide")),
        Mistake("multiplies-all",
                "you multiplied every seen logit by the penalty: a positive "
                "logit grows, and the repeated token becomes more likely. "
                "Divide positive logits, multiply negative ones.",
                model=lambda x, ids, r: _penalty(x, ids, r, rule="multiply")),
        Mistake("signs-swapped",
                "your rule is the wrong way round: divide the positive logits "
                "by the penalty and multiply the negative ones, so that both "
                "move down.",
                model=lambda x, ids, r: _penalty(x, ids, r, rule="swapped")),
        Mistake("subtracts",
                "you subtracted the penalty. That is another rule (a presence "
                "penalty); this exercise asks for the CTRL rule: divide "
                "positive logits by the penalty, multiply negative ones.",
                model=lambda x, ids, r: _penalty(x, ids, r, rule="subtract")),
        Mistake("per-occurrence",
                "a token that appeared three times was penalised three "
                "times. Penalise each seen token once, however often it "
                "appeared (torch.gather / scatter on the ids does that, a "
                "loop over the ids does not).",
                model=lambda x, ids, r: _penalty(x, ids, r,
                                                 per_occurrence=True)),
        Mistake("whole-batch-history",
                "you penalised, in every row, the tokens of every row. Each "
                "row has its own history: previous[b] for logits[b].",
                model=lambda x, ids, r: _penalty(x, ids, r, whole_batch=True)),
        Mistake("penalises-unseen",
                "you penalised the tokens that were not generated and left "
                "the seen ones alone: the mask is the wrong way round.",
                model=lambda x, ids, r: _penalty(x, ids, r, invert=True)),
    ],
    hints=[
        "For row b, the tokens to penalise are the distinct ids in "
        "previous[b]. torch.gather(logits, -1, previous) reads their logits, "
        "one column per generated token.",
        "Penalise with torch.where(seen > 0, seen / penalty, seen * penalty), "
        "then write back with a copy of the logits and scatter(-1, previous, "
        "...): a token that repeats is written several times with the same "
        "value, so it is penalised once.",
        "seen = torch.gather(logits, -1, previous); seen = torch.where(seen > "
        "0, seen / penalty, seen * penalty); return logits.scatter(-1, "
        "previous, seen)",
    ],
    tolerance=Tolerance(rtol=1e-6, atol=1e-7),
)


EXERCISES = [TOP_K, TOP_P, NEXT_TOKEN, SAMPLER, REPETITION]
