"""attnbook.facts: contexts with distractors, questions, held-out pairs."""

import random

from attnbook import facts


def test_a_context_reads_like_the_opening_question():
    rng = random.Random(0)
    ex = facts.make_example(rng, ("president", "the united states"))
    assert ex.text.endswith("who is the president of the united states ?")
    assert f"the president of the united states is {ex.answer} ." in ex.text
    assert ex.tokens[ex.answer_position] == ex.answer
    assert ex.tokens[ex.question_start] == "who"


def test_every_context_has_both_distractors_and_distinct_names():
    for ex in facts.make_examples(500, seed=1, split="iid") + facts.make_examples(500, seed=1, split="held_out"):
        role, country = ex.asked
        pairs = [(r, c) for r, c, _ in ex.facts]
        assert pairs.count(ex.asked) == 1 and 3 <= len(pairs) <= 6
        assert any(r == role and c != country for r, c in pairs)
        assert any(c == country and r != role for r, c in pairs)
        names = [n for _, _, n in ex.facts]
        assert len(set(names)) == len(names) and ex.answer in names


def test_held_out_pairs_never_appear_in_training():
    train = facts.make_examples(3000, seed=0, min_facts=1)
    seen = {(r, c) for ex in train for r, c, _ in ex.facts}
    assert not seen & facts.HELD_OUT
    assert seen == set(facts.training_pairs())
    held = facts.make_examples(200, seed=0, split="held_out")
    assert {tuple(ex.asked) for ex in held} <= facts.HELD_OUT
    assert all(sum((r, c) in facts.HELD_OUT for r, c, _ in ex.facts) == 1 for ex in held)


def test_every_role_and_country_is_trained_with_other_partners():
    pairs = facts.training_pairs()
    for role, country in facts.HELD_OUT:
        assert sum(r == role for r, _ in pairs) >= 5
        assert sum(c == country for _, c in pairs) >= 5


def test_easier_contexts_and_answers_are_random():
    easy = facts.make_examples(300, seed=2, min_facts=1)
    assert {len(ex.facts) for ex in easy} == {1, 2, 3, 4, 5, 6}
    answers = {ex.answer for ex in facts.make_examples(400, seed=3)}
    assert len(answers) > 30
    assert facts.make_examples(5, seed=3) == facts.make_examples(5, seed=3)
    vocab = set(facts.words())
    assert all(set(ex.tokens) <= vocab for ex in easy)
