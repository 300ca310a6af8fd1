"""Chapter 10, who is "it"? The two tasks that need the subject found past
a distractor, as tensors for :class:`~attnbook.masked_lm.TinyBERT`, and
the measures that ask the trained model what it uses.

- :func:`pronoun_task`: at "it", masculine (il, ils) or feminine (elle,
  elles), from the subject's French gender;
- :func:`agreement_task`: the sentence up to its main verb, the verb
  replaced by ``<mask>``: singular or plural, from the subject's number;
- :func:`grammaticality_task`: is the sentence grammatical? Half of the
  sentences have their main verb in the number its subject does not
  have; read at ``<cls>``;
- :func:`shares_from`: the attention from the read-out position to each
  role of the sentence (subject, distractors, ...), per layer and head;
- :func:`swap_flips`: how often the answer changes when one word is
  replaced by another (a counterfactual test);
- :func:`mean_rank_correlation`: Spearman's correlation of two importance
  measures, sentence by sentence, averaged.

Shown in ``chapters/10_tiny_bert.ipynb``; ``tools/bench_bert.py`` runs
them over three seeds.
"""

import random

import numpy as np
import torch

from . import sentences
from .importance import spearman


def pronoun_task(vocab, n, split, seed):
    """(sentences, ids (n, L), positions of "it" (n,), labels (n,)) of
    one split of the pronoun task: label 1 for a feminine subject."""
    found = sentences.contrast_sentences(n, "gender", split, seed=seed)
    ids = vocab.encode_all([s.tokens for s in found])     # (n, L)
    at = torch.tensor([s.pronoun + 1 for s in found])     # +1: <cls>
    labels = torch.tensor([int(s.subject_noun.gender == "f")
                           for s in found])               # (n,)
    return found, ids, at, labels


def agreement_task(vocab, n, split, seed):
    """(sentences, ids (n, L), positions of the verb (n,), labels (n,)) of
    one split of the agreement task: each sentence cut after its main
    verb, the verb replaced by ``<mask>``; label 1 for a plural subject
    (so the verb must be plural)."""
    found = sentences.contrast_sentences(n, "number", split, seed=seed)
    cut = [list(s.tokens[:s.verb]) + ["<mask>"] for s in found]
    ids = vocab.encode_all(cut)                           # (n, L)
    at = torch.tensor([s.verb + 1 for s in found])        # +1: <cls>
    labels = torch.tensor([int(s.number(s.subject) == "pl")
                           for s in found])               # (n,)
    return found, ids, at, labels


def _other_number(word, table):
    """The present-tense form of ``word`` in the other number."""
    for _, singular, plural in table:
        if word in (singular, plural):
            return plural if word == singular else singular
    raise ValueError(f"{word!r} is not a present-tense verb")


def grammaticality_task(vocab, n, seed):
    """(sentences, ids (n, L), positions of ``<cls>`` (n,), labels (n,)):
    present-tense sentences, label 1 when grammatical. In the other half
    the main verb takes the number its subject does not have ("the cat
    ... jump when it sees ..."); the rest is left as it is."""
    rng = random.Random(seed)
    found = sentences.generate(n, seed=seed, tense="present")
    rows, labels = [], []
    for s in found:
        tokens = list(s.tokens)
        broken = rng.random() < 0.5
        if broken:
            tokens[s.verb] = _other_number(tokens[s.verb], sentences.VERBS)
        rows.append(tokens)
        labels.append(int(not broken))
    ids = vocab.encode_all(rows)                          # (n, L)
    at = torch.zeros(n, dtype=torch.long)                 # <cls>
    return found, ids, at, torch.tensor(labels)           # labels (n,)


def roles(s):
    """The input positions (after ``<cls>``) of each role of sentence s."""
    return {"subject": [s.subject + 1], "after subject": [s.subject + 2],
            "distractors": [d + 1 for d in s.distractors],
            "verb": [s.verb + 1], "it": [s.pronoun + 1]}


def read_attention(model, ids, at):
    """Run ``model.classify`` and return its weights from the read-out
    positions: (n, layers, heads, L)."""
    with torch.no_grad():
        model.classify(ids, at)
    rows = torch.arange(len(ids))
    return torch.stack([w[rows, :, at] for w in model.attention_weights()],
                       1)


def shares_from(weights, found, names):
    """{role: (layers, heads)}: the mean over sentences of the weight, from
    the read-out position, on each role in ``names`` (weights from
    :func:`read_attention`, (n, layers, heads, L)); "the rest" is what
    the roles leave."""
    table = {}
    for name in names:
        mask = torch.zeros(weights.shape[0], weights.shape[-1])
        for i, s in enumerate(found):
            mask[i, [p for p in roles(s)[name] if p < mask.shape[1]]] = 1
        table[name] = (weights * mask[:, None, None]).sum(-1).mean(0)
    table["the rest"] = 1 - sum(table.values())
    return table


@torch.no_grad()
def swap_flips(model, ids, at, positions, new_ids):
    """The share of answers that change when the token at ``positions``
    (n,) of every row becomes ``new_ids`` (n,)."""
    from .masked_lm import predict

    before = predict(model, ids, at)
    swapped = ids.clone()
    swapped[torch.arange(len(ids)), positions] = new_ids
    return (predict(model, swapped, at) != before).float().mean().item()


def mean_rank_correlation(a, b, valid):
    """Spearman's correlation of rows of ``a`` and ``b`` (n, L) over the
    positions where ``valid`` (n, L) is True, averaged over the rows
    (rows where either is constant are left out)."""
    rhos = [spearman(x[v], y[v]) for x, y, v in zip(a, b, valid)]
    return float(np.nanmean(rhos))
