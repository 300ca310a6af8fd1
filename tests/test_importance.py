"""attnbook.importance and attnbook.qa: occlusion, swaps, rank correlation, answers."""

import random

import pytest
import torch

from attnbook import facts
from attnbook.importance import answer_probability, occlusion, ranks, spearman, swap
from attnbook.qa import accuracy, answer_logits, encode, facts_vocab, qa_model


def test_ranks_and_spearman():
    assert ranks([10, 30, 20]).tolist() == [0, 2, 1]
    assert ranks([1, 2, 2, 5]).tolist() == [0, 1.5, 1.5, 3]
    assert spearman([1, 2, 3, 4], [10, 20, 35, 90]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)


@pytest.fixture(scope="module")
def setup():
    vocab = facts_vocab()
    examples = [facts.make_example(random.Random(i), ("president", "the united states")) for i in range(6)]
    return vocab, qa_model(len(vocab), seed=0).eval(), examples, *encode(examples, vocab)


def test_encoding_and_answer_position(setup):
    vocab, model, examples, tokens, lengths, answers = setup
    for row, ex in enumerate(examples):
        assert vocab.decode(tokens[row]) == ex.text and lengths[row] == len(ex.tokens)
        assert vocab.itos[answers[row]] == ex.answer
    logits = answer_logits(model, tokens, lengths)
    full = model(tokens)
    assert torch.allclose(logits, full[torch.arange(6), lengths - 1])
    assert 0 <= accuracy(model, tokens, lengths, answers) <= 1


def test_occlusion_and_swap_equal_doing_it_by_hand(setup):
    vocab, model, examples, tokens, lengths, answers = setup
    start = torch.tensor([ex.question_start for ex in examples])
    positions = start[:, None] + torch.tensor([3, 6])          # president, united
    drops = occlusion(model, tokens, lengths, answers, positions, vocab.unk_id)
    base = answer_probability(model, tokens, lengths, answers)
    by_hand = tokens.clone()
    by_hand[torch.arange(6), positions[:, 1]] = vocab.unk_id
    assert torch.allclose(drops[:, 1], base - answer_probability(model, by_hand, lengths, answers))
    new = swap(model, tokens, lengths, positions[:, 0], vocab.stoi["minister"])
    swapped = tokens.clone()
    swapped[torch.arange(6), positions[:, 0]] = vocab.stoi["minister"]
    assert torch.equal(new, answer_logits(model, swapped, lengths).argmax(-1))
    assert torch.equal(tokens, setup[3])                       # inputs untouched
