"""The contrast sets of chapter 10 and the tasks built on them."""

import random

import pytest
import torch

from attnbook import sentences
from attnbook.masked_lm import MaskedVocab
from attnbook.resolution import (agreement_task, grammaticality_task,
                                 mean_rank_correlation, pronoun_task,
                                 shares_from)

SPLITS = ["train", "iid", "held_out_pairs", "unseen_shape"]


@pytest.mark.parametrize("feature", ["gender", "number"])
def test_contrast_sets_keep_their_promises(feature):
    held = sentences.held_out_pairs()
    for split in SPLITS:
        found = sentences.contrast_sentences(400, feature, split, seed=3)
        assert all(sentences.is_grammatical(s.tokens) for s in found)
        pairs = {(s.subject_noun.en, s.noun(d).en) for s in found
                 for d in s.distractors}
        if split == "held_out_pairs":
            assert pairs <= held
        else:
            assert not pairs & held
        shapes = {s.shape for s in found}
        assert (shapes == {sentences.HELD_OUT_SHAPE}) == (
            split == "unseen_shape")
        if feature == "gender":
            same = [s.subject_noun.gender == s.noun(d).gender
                    for s in found for d in s.distractors]
        else:
            same = [s.number(s.subject) == s.number(d)
                    for s in found for d in s.distractors]
            assert {s.tense for s in found} == {"present"}
        if split == "train":
            assert 0.4 < sum(same) / len(same) < 0.6
        else:
            assert not any(same)


def test_contrast_sets_are_the_same_for_the_same_seed():
    a = sentences.contrast_sentences(50, "gender", "iid", seed=5)
    b = sentences.contrast_sentences(50, "gender", "iid", seed=5)
    assert a == b
    with pytest.raises(ValueError):
        sentences.contrast_sentence(random.Random(0), "tense", "iid")


def test_fillers_and_next_words():
    words = "the cat that was sitting on the mat jumped when it saw a dog ."
    tokens = words.split()
    animals = {n.en for n in sentences.ANIMALS}
    assert set(sentences.fillers(tokens, 1)) == animals   # singular only
    assert "cats" in sentences.next_words(tokens[:1])
    assert "on" in sentences.next_words(tokens[:8])
    assert "on" not in sentences.fillers(tokens, 8)
    assert sentences.viable(tokens[:5]) and sentences.viable(tokens)
    assert not sentences.viable("the cat the".split())
    for t in range(len(tokens)):
        fill = sentences.fillers(tokens, t)
        assert tokens[t] in fill
        assert set(fill) <= set(sentences.next_words(tokens[:t]))


def test_one_word_changes_use_other_forms():
    rng = random.Random(0)
    s = sentences.generate(1, seed=2)[0]
    for _ in range(20):
        changed, at = sentences.change_one_word(s, rng)
        assert changed[at] in sentences.forms(s.tokens[at])
        assert changed[:at] == list(s.tokens[:at])
    assert sentences.forms("cat") == ["cats"]
    assert sentences.forms("was") == sorted({"were", "is", "are"})


def test_tasks_label_the_subject():
    v = MaskedVocab(sentences.vocabulary())
    found, ids, at, y = pronoun_task(v, 30, "iid", seed=0)
    for s, i, a, label in zip(found, ids, at, y):
        assert v.itos[i[a]] in ("it", "they")
        assert label == (s.subject_noun.gender == "f")
    found, ids, at, y = agreement_task(v, 30, "iid", seed=0)
    for s, i, a, label in zip(found, ids, at, y):
        assert i[a] == v.mask_id and (i[a + 1:] == v.pad_id).all()
        assert label == (s.number(s.subject) == "pl")


def test_shares_and_rank_correlation():
    v = MaskedVocab(sentences.vocabulary())
    found, ids, at, y = pronoun_task(v, 4, "iid", seed=0)
    weights = torch.zeros(4, 1, 1, ids.shape[1])
    for i, s in enumerate(found):
        weights[i, 0, 0, s.subject + 1] = 0.75
        weights[i, 0, 0, 0] = 0.25
    table = shares_from(weights, found, ["subject", "distractors"])
    assert table["subject"].item() == pytest.approx(0.75)
    assert table["distractors"].item() == 0
    assert table["the rest"].item() == pytest.approx(0.25)
    a = torch.tensor([[1.0, 2.0, 3.0, 9.0], [3.0, 2.0, 1.0, 0.0]])
    valid = torch.tensor([[True, True, True, False]] * 2)
    b = a ** 3                        # the same order, another scale
    b[:, 3] = torch.tensor([-5.0, 7.0])   # out of order, but not compared
    assert mean_rank_correlation(a, b, valid) == pytest.approx(1.0)
    assert mean_rank_correlation(a, -a, valid) == pytest.approx(-1.0)
    assert mean_rank_correlation(a, b, torch.ones(2, 4).bool()) < 0.9


def test_grammaticality_task_breaks_the_verb_of_half_the_sentences():
    v = MaskedVocab(sentences.vocabulary())
    found, ids, at, y = grammaticality_task(v, 200, seed=0)
    assert ids.shape[0] == 200 and at.shape == (200,) and (at == 0).all()
    assert (ids[:, 0] == v.cls_id).all()
    assert 0.4 < y.float().mean() < 0.6
    for s, row, label in zip(found, ids, y):
        words = [v.itos[i] for i in row[1:] if i != v.pad_id]
        assert s.tense == "present"
        assert sentences.is_grammatical(words) == bool(label)
        changed = [t for t, (a, b) in enumerate(zip(words, s.tokens))
                   if a != b]
        if label:
            assert changed == []
        else:                             # the main verb, nothing else
            assert changed == [s.verb]
            assert words[s.verb] in sentences.forms(s.tokens[s.verb])
    again = grammaticality_task(v, 200, seed=0)
    assert torch.equal(again[1], ids) and torch.equal(again[3], y)
    assert not torch.equal(grammaticality_task(v, 200, seed=1)[3], y)
