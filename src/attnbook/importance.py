"""Chapter 9, is the highlighter telling the truth? Importance measures that
do not read the attention weights.

- :func:`occlusion` replaces one word at a time by ``<unk>`` and measures
  how much the probability of the answer drops;
- :func:`swap` replaces words by other words and reports what the model
  answers now (a counterfactual test);
- :func:`spearman` is the rank correlation used to compare an importance
  measure with the attention weights.

Shown in ``chapters/09_tiny_gpt.ipynb``.
"""

import torch

from .qa import answer_logits


@torch.no_grad()
def answer_probability(model, tokens, lengths, answers):
    """p(answer) at the "?" of every row: (n,)."""
    probs = answer_logits(model, tokens, lengths).softmax(-1)  # (n, V)
    return probs[torch.arange(len(tokens)), answers]           # (n,)


@torch.no_grad()
def occlusion(model, tokens, lengths, answers, positions, unk_id):
    """The drop in p(answer) when the token at each position is replaced by
    ``unk_id``: (n, len(positions)). ``positions`` (n, k) holds, for every
    row, the k positions to occlude one at a time."""
    base = answer_probability(model, tokens, lengths, answers)  # (n,)
    rows = torch.arange(len(tokens))
    drops = []
    for j in range(positions.size(1)):
        occluded = tokens.clone()
        occluded[rows, positions[:, j]] = unk_id                # one word gone
        p = answer_probability(model, occluded, lengths, answers)
        drops.append(base - p)                                  # (n,)
    return torch.stack(drops, dim=1)                            # (n, k)


@torch.no_grad()
def swap(model, tokens, lengths, position, new_id):
    """What the model answers when the token at ``position`` (n,) of every
    row becomes ``new_id``: the ids of its answers (n,)."""
    swapped = tokens.clone()
    swapped[torch.arange(len(tokens)), position] = new_id
    return answer_logits(model, swapped, lengths).argmax(-1)     # (n,)


def ranks(x):
    """Ranks 0, 1, ... of the values of x (1-D), ties sharing their mean."""
    x = torch.as_tensor(x, dtype=torch.float64)
    order = x.argsort()
    r = torch.empty_like(x)
    r[order] = torch.arange(len(x), dtype=torch.float64)
    for value in x.unique():                                    # ties
        tied = x == value
        r[tied] = r[tied].mean()
    return r


def spearman(x, y):
    """Spearman's rank correlation of two 1-D sequences: the Pearson
    correlation of their ranks, from -1 to 1."""
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float((rx * ry).sum() / (rx.norm() * ry.norm()))
