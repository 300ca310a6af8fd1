"""Chapter 9 checks: correct answers pass, every catalogued mistake is named.

Besides the shared tests of :mod:`checkkit`, every wrong answer here behaves
like its mistake's model on *every* case where that model differs from the
reference (not only on the first failing one), so a mistake is named for
what the answer does everywhere.
"""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook.checks import EXERCISES
from attnbook.checks.core import matches
from checkkit import failure, make_tests, run_check

INF = float("-inf")


# ------------------------------------------------------------------ top-k


def top_k_topk(logits, k):
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, INF)


def top_k_sort(logits, k):
    ordered = logits.sort(dim=-1, descending=True).values
    kth = ordered[..., min(k, logits.size(-1)) - 1].unsqueeze(-1)
    return torch.where(logits >= kth, logits, torch.full_like(logits, INF))


def top_k_k_too_large(logits, k):                 # no min(k, V)
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, INF)


def top_k_nanogpt(logits, k):                     # nanoGPT's v[:, [-1]], copied
    v, _ = torch.topk(logits, min(k, logits.size(-1)))
    out = logits.clone()
    out[out < v[:, [-1]]] = INF
    return out


def top_k_float(logits, k):
    return top_k_topk(logits, k).float()


def top_k_strict(logits, k):
    kth = torch.topk(logits, min(k, logits.size(-1)), dim=-1).values[..., -1:]
    return logits.masked_fill(logits <= kth, INF)


def top_k_scatter(logits, k):                     # exactly k indices
    idx = torch.topk(logits, min(k, logits.size(-1)), dim=-1).indices
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, idx, True)
    return logits.masked_fill(~keep, INF)


def top_k_smallest(logits, k):
    ordered = logits.sort(dim=-1).values          # ascending: the smallest
    kth = ordered[..., min(k, logits.size(-1)) - 1].unsqueeze(-1)
    return logits.masked_fill(logits > kth, INF)


def top_k_dim0(logits, k):
    k = min(k, logits.size(0))
    kth = torch.topk(logits, k, dim=0).values[-1:]
    return logits.masked_fill(logits < kth, INF)


def top_k_zero(logits, k):
    kth = torch.topk(logits, min(k, logits.size(-1)), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, 0.0)


def top_k_finite(logits, k):
    kth = torch.topk(logits, min(k, logits.size(-1)), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, -1e9)


def top_k_finfo(logits, k):
    kth = torch.topk(logits, min(k, logits.size(-1)), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, torch.finfo(logits.dtype).min)


def top_k_probs(logits, k):
    return torch.softmax(top_k_topk(logits, k), dim=-1)


def top_k_inplace(logits, k):                     # nanoGPT's in-place fill
    kth = torch.topk(logits, min(k, logits.size(-1)), dim=-1).values[..., -1:]
    logits[logits < kth] = INF
    return logits


# ------------------------------------------------------------------ top-p


def top_p_before(logits, p):
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    outside = sorted_probs.cumsum(-1) - sorted_probs >= p
    return logits.masked_fill(outside.scatter(-1, order, outside), INF)


def top_p_hf(logits, p):                          # shift right, keep the top
    sorted_logits, order = torch.sort(logits, descending=True)
    cum = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    remove = cum > p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), INF)


def top_p_float(logits, p):
    return top_p_before(logits, p).float()


def top_p_nanogpt_style(logits, p):               # (batch, V) indexing only
    sorted_logits, order = torch.sort(logits, descending=True)
    cum = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    remove = torch.zeros_like(cum, dtype=torch.bool)
    remove[:, 1:] = cum[:, :-1] >= p
    out = logits.clone()
    for row in range(out.size(0)):
        out[row, order[row][remove[row]]] = INF
    return out


def top_p_no_shift(logits, p):
    sorted_logits, order = torch.sort(logits, descending=True)
    remove = torch.cumsum(F.softmax(sorted_logits, -1), -1) > p
    return logits.masked_fill(remove.scatter(-1, order, remove), INF)


def top_p_no_shift_top_kept(logits, p):
    sorted_logits, order = torch.sort(logits, descending=True)
    remove = torch.cumsum(F.softmax(sorted_logits, -1), -1) > p
    remove[..., 0] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), INF)


def top_p_ascending(logits, p):
    sorted_logits, order = torch.sort(logits)     # ascending by default
    remove = torch.cumsum(F.softmax(sorted_logits, -1), -1) > p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), INF)


def top_p_logit_sum(logits, p):
    sorted_logits, order = torch.sort(logits, descending=True)
    remove = torch.cumsum(sorted_logits, -1) > p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    return logits.masked_fill(remove.scatter(-1, order, remove), INF)


def top_p_sorted_mask(logits, p):
    sorted_logits, _ = torch.sort(logits, descending=True)
    remove = torch.cumsum(F.softmax(sorted_logits, -1), -1) > p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    return logits.masked_fill(remove, INF)        # still in sorted order


def top_p_zero(logits, p):
    out = top_p_before(logits, p)
    return torch.where(torch.isinf(out), torch.zeros_like(out), out)


def top_p_finite(logits, p):
    out = top_p_before(logits, p)
    return torch.where(torch.isinf(out), torch.full_like(out, -1e4), out)


def top_p_probs(logits, p):
    return top_p_before(logits, p).softmax(-1)


# ------------------------------------------------------------------ loss


def loss_ignore_index(logits, tokens, pad_id):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)),
                           tokens[:, 1:].reshape(-1), ignore_index=pad_id)


def loss_masked(logits, tokens, pad_id):
    logp = logits[:, :-1].log_softmax(-1)
    target = tokens[:, 1:]
    nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    real = (target != pad_id).to(nll.dtype)
    return (nll * real).sum() / real.sum()


def loss_item(logits, tokens, pad_id):
    return loss_ignore_index(logits, tokens, pad_id).item()


def loss_rebuilt(logits, tokens, pad_id):
    return torch.tensor(loss_ignore_index(logits, tokens, pad_id).item())


def loss_no_shift(logits, tokens, pad_id):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)),
                           tokens.reshape(-1), ignore_index=pad_id)


def loss_backwards(logits, tokens, pad_id):
    return F.cross_entropy(logits[:, 1:].reshape(-1, logits.size(-1)),
                           tokens[:, :-1].reshape(-1), ignore_index=pad_id)


def loss_with_pad(logits, tokens, pad_id):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)),
                           tokens[:, 1:].reshape(-1))


def loss_input_mask(logits, tokens, pad_id):
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:],
                          reduction="none")
    real = (tokens[:, :-1] != pad_id).to(nll.dtype)
    return (nll * real).sum() / real.sum()


def loss_pad_zero(logits, tokens, pad_id):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)),
                           tokens[:, 1:].reshape(-1), ignore_index=0)


def loss_sentence_means(logits, tokens, pad_id):
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:],
                          reduction="none")
    real = (tokens[:, 1:] != pad_id).to(nll.dtype)
    return ((nll * real).sum(1) / real.sum(1)).mean()


def loss_sum(logits, tokens, pad_id):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)),
                           tokens[:, 1:].reshape(-1), ignore_index=pad_id,
                           reduction="sum")


def loss_softmax_first(logits, tokens, pad_id):
    probs = logits[:, :-1].softmax(-1)
    return F.cross_entropy(probs.reshape(-1, logits.size(-1)),
                           tokens[:, 1:].reshape(-1), ignore_index=pad_id)


# ------------------------------------------------------------------ sampling


def sample_multinomial(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def sample_inverse_cdf(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.double() / temperature, -1)
    u = torch.rand(len(logits), 1, generator=generator, dtype=torch.float64)
    index = (probs.cumsum(-1) < u).sum(-1)
    return index.clamp(max=logits.size(-1) - 1)


def sample_gumbel(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(-1)
    u = torch.rand(logits.shape, generator=generator).clamp_min(1e-12)
    return (logits / temperature - torch.log(-torch.log(u))).argmax(-1)


def sample_keepdim(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    return torch.multinomial(torch.softmax(logits / temperature, -1), 1,
                             generator=generator)


def sample_categorical(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(-1)
    return torch.distributions.Categorical(logits=logits / temperature).sample()


def sample_own_generator(logits, temperature, generator):
    mine = torch.Generator().manual_seed(0)
    return sample_multinomial(logits, temperature, mine)


def sample_divides_by_zero(logits, temperature, generator):
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def sample_raw_logits(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(-1)
    return torch.multinomial(logits / temperature, 1,
                             generator=generator).squeeze(-1)


def sample_greedy(logits, temperature, generator):
    return logits.argmax(dim=-1)


def sample_no_temperature(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits, -1) / temperature   # renormalised away
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def sample_times_temperature(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits * temperature, -1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def sample_dim0(logits, temperature, generator):
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, dim=0)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


# ------------------------------------------------------------------ penalty


def penalty_gather(logits, previous, penalty):
    seen = torch.gather(logits, -1, previous)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(-1, previous, seen)


def penalty_mask(logits, previous, penalty):
    mask = torch.zeros_like(logits, dtype=torch.bool)
    mask = mask.scatter(-1, previous, True)
    changed = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(mask, changed, logits)


def penalty_loop(logits, previous, penalty):
    out = logits.clone()
    for row in range(len(logits)):
        for token in set(previous[row].tolist()):
            x = out[row, token]
            out[row, token] = x / penalty if x > 0 else x * penalty
    return out


def penalty_divide(logits, previous, penalty):
    seen = torch.gather(logits, -1, previous)
    return logits.scatter(-1, previous, seen / penalty)


def penalty_multiply(logits, previous, penalty):
    seen = torch.gather(logits, -1, previous)
    return logits.scatter(-1, previous, seen * penalty)


def penalty_swapped(logits, previous, penalty):
    seen = torch.gather(logits, -1, previous)
    seen = torch.where(seen > 0, seen * penalty, seen / penalty)
    return logits.scatter(-1, previous, seen)


def penalty_subtract(logits, previous, penalty):
    seen = torch.gather(logits, -1, previous)
    return logits.scatter(-1, previous, seen - penalty)


def penalty_per_occurrence(logits, previous, penalty):
    out = logits.clone()
    for row in range(len(logits)):
        for token in previous[row].tolist():          # every occurrence
            x = out[row, token]
            out[row, token] = x / penalty if x > 0 else x * penalty
    return out


def penalty_whole_batch(logits, previous, penalty):
    out = logits.clone()
    for token in set(previous.flatten().tolist()):
        col = out[:, token]
        out[:, token] = torch.where(col > 0, col / penalty, col * penalty)
    return out


def penalty_unseen(logits, previous, penalty):
    mask = torch.zeros_like(logits, dtype=torch.bool)
    mask = mask.scatter(-1, previous, True)
    changed = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(mask, logits, changed)


def penalty_float32(logits, previous, penalty):
    return penalty_gather(logits, previous, penalty).float()


def penalty_in_place(logits, previous, penalty):   # as HF's processor does
    seen = torch.gather(logits, -1, previous)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter_(-1, previous, seen)


CORRECT = {
    "ex-09-1": [top_k_topk, top_k_sort],
    "ex-09-2": [top_p_before, top_p_hf],
    "ex-09-3": [loss_ignore_index, loss_masked],
    "ex-09-4": [sample_multinomial, sample_inverse_cdf, sample_gumbel],
    "ex-09-5": [penalty_gather, penalty_mask, penalty_loop],
}

WRONG = {
    "ex-09-1": {
        "k-exceeds-vocab": top_k_k_too_large,
        "assumes-2d": top_k_nanogpt,
        "changes-dtype": top_k_float,
        "drops-kth": top_k_strict,
        "drops-ties": top_k_scatter,
        "smallest-k": top_k_smallest,
        "wrong-axis": top_k_dim0,
        "fills-zero": top_k_zero,
        "finite-fill": [top_k_finite, top_k_finfo],
        "returns-probabilities": top_k_probs,
    },
    "ex-09-2": {
        "assumes-2d": top_p_nanogpt_style,
        "changes-dtype": top_p_float,
        "drops-crossing-token": top_p_no_shift,
        "crossing-token-kept-only-at-top": top_p_no_shift_top_kept,
        "ascending-sort": top_p_ascending,
        "cumsum-of-logits": top_p_logit_sum,
        "not-unsorted": top_p_sorted_mask,
        "fills-zero": top_p_zero,
        "finite-fill": top_p_finite,
        "returns-probabilities": top_p_probs,
    },
    "ex-09-3": {
        "returns-number": loss_item,
        "detached": loss_rebuilt,
        "no-shift": loss_no_shift,
        "shifted-backwards": loss_backwards,
        "padding-counted": loss_with_pad,
        "mask-on-inputs": loss_input_mask,
        "pad-is-zero": loss_pad_zero,
        "mean-of-sentence-means": loss_sentence_means,
        "sum-not-mean": loss_sum,
        "softmax-twice": loss_softmax_first,
    },
    "ex-09-4": {
        "keepdim-shape": sample_keepdim,
        "ignores-generator": sample_categorical,
        "fixed-seed": sample_own_generator,
        "temperature-zero": sample_divides_by_zero,
        "samples-logits": sample_raw_logits,
        "always-greedy": sample_greedy,
        "ignores-temperature": sample_no_temperature,
        "multiplies-temperature": sample_times_temperature,
        "softmax-over-batch": sample_dim0,
    },
    "ex-09-5": {
        "changes-dtype": penalty_float32,
        "divides-negatives": penalty_divide,
        "multiplies-all": penalty_multiply,
        "signs-swapped": penalty_swapped,
        "subtracts": penalty_subtract,
        "per-occurrence": penalty_per_occurrence,
        "whole-batch-history": penalty_whole_batch,
        "penalises-unseen": penalty_unseen,
    },
}

(test_every_exercise_has_tests, test_correct_answer_passes,
 test_wrong_answer_is_named, test_stub_is_not_attempted) = make_tests(
    9, CORRECT, WRONG)


def _answers(entry):
    return entry if isinstance(entry, (list, tuple)) else [entry]


def _model_cases():
    """(exercise id, mistake key, wrong answer) for every mistake that has a
    model, over the fixed cases of seed 0."""
    for ex_id, mistakes in WRONG.items():
        exercise = EXERCISES[ex_id]
        for mistake in exercise.mistakes:
            if mistake.model is None:
                continue
            for answer in _answers(mistakes[mistake.key]):
                yield ex_id, mistake.key, answer


@pytest.mark.parametrize("ex_id,key,answer", list(_model_cases()),
                         ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("seed", [0, 1])
def test_wrong_answer_behaves_like_its_model_on_every_case(ex_id, key,
                                                           answer, seed):
    exercise = EXERCISES[ex_id]
    mistake = next(m for m in exercise.mistakes if m.key == key)
    cases = exercise.cases(np.random.default_rng(seed))
    differing = 0
    for case in cases:
        args = list(copy.deepcopy(case.args).values())
        expected = exercise.reference(*copy.deepcopy(args))
        model = mistake.model(*copy.deepcopy(args))
        if matches(model, expected, exercise.tolerance):
            continue
        differing += 1
        call = exercise.call or (lambda f, *a: f(*a))
        got = call(answer, *copy.deepcopy(args))
        assert matches(got, model, exercise.tolerance), (
            f"{ex_id} {key}: the wrong answer differs from its model for "
            f"{case.describe()}")
    assert differing, f"{ex_id} {key}: no case shows this mistake"


@pytest.mark.parametrize("answer", [top_k_inplace, penalty_in_place])
def test_changing_the_logits_in_place_is_named(answer):
    ex_id = "ex-09-1" if answer is top_k_inplace else "ex-09-5"
    assert failure(ex_id, answer, seed=0).mistake == "mutates-input"


def test_sampling_verdict_does_not_depend_on_the_global_seed():
    for seed in (0, 123):
        torch.manual_seed(seed)
        assert run_check("ex-09-4", sample_multinomial, seed=0)
        torch.manual_seed(seed)
        assert failure("ex-09-4", sample_no_temperature,
                       seed=0).mistake == "ignores-temperature"


def test_a_wrong_distribution_is_far_outside_the_tolerance():
    """Every modelled sampling mistake differs from the right probabilities
    by at least twice the tolerance somewhere, so no luck can pass it."""
    exercise = EXERCISES["ex-09-4"]
    worst = []
    for mistake in exercise.mistakes:
        if mistake.model is None:
            continue
        gaps = [(mistake.model(*c.args.values())
                 - exercise.reference(*c.args.values())).abs().max().item()
                for c in exercise.cases(np.random.default_rng(0))]
        worst.append(max(gaps))
    assert min(worst) > 2 * exercise.tolerance.atol, worst
