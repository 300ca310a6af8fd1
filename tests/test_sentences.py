"""attnbook.sentences: the generator, its analysis, and the grammar that judges samples."""

import random

import pytest

from attnbook import sentences as S


@pytest.fixture(scope="module")
def many():
    return S.generate(3000, seed=4)


def test_the_opening_sentence_is_in_the_family():
    s = S.parse("the cat that was sitting on the mat jumped when it saw a dog .")
    assert s is not None and s.shape == "rel" and s.tense == "past"
    assert (s.subject, s.distractors, s.verb, s.pronoun, s.object) == (1, (7,), 8, 10, 13)
    assert s.subject_noun.fr == "chat" and s.french_pronoun == "il"
    assert s.noun(7).fr == "tapis" and s.number(7) == "sg"


def test_every_generated_sentence_parses_to_itself(many):
    for s in many:
        assert S.parse(s.tokens) == s
        assert S.parse(s.text) == s


def test_positions_point_at_the_right_words(many):
    for s in many:
        assert s.noun(s.subject).kind == "animal"
        assert s.tokens[s.pronoun] == ("it" if s.number(s.subject) == "sg" else "they")
        assert s.subject < min(s.distractors, default=s.verb) and max(s.distractors, default=0) < s.verb
        assert len(s.distractors) == S.SHAPES[s.shape]
        kind = "animal" if s.shape == "obj_rel" else "place"
        assert all(s.noun(d).kind == kind for d in s.distractors)
        assert s.noun(s.object).kind == "animal" and s.tokens[-1] == "."


def test_the_generator_covers_its_choices(many):
    assert {s.shape for s in many} == set(S.SHAPES)
    assert {s.tense for s in many} == set(S.TENSES)
    assert {s.number(s.subject) for s in many} == {"sg", "pl"}
    assert {s.subject_noun.gender for s in many} == {"m", "f"}
    assert {s.opener for s in many} == set(S.OPENERS["past"]) | set(S.OPENERS["present"])


def test_choices_can_be_fixed():
    rng = random.Random(0)
    cat, mats = S.noun("cat")[0], S.noun("mats")[0]
    s = S.make_sentence(rng, shape="rel", tense="present", number="sg", opener="",
                        subject=cat, distractors=(mats,), distractor_numbers=("pl",))
    assert s.tokens[:8] == ("the", "cat", "that", "is", s.tokens[4], s.tokens[5], "the", "mats")
    assert s.tokens[s.verb].endswith("s") and S.parse(s.tokens) == s
    assert all(s.shape != "pp2" for s in S.generate(200, seed=1, shapes=("rel", "pp")))


@pytest.mark.parametrize("text", [
    "the cats that was sitting on the mat jumped when they saw a dog .",     # was / cats
    "the cat that was sitting on the mat jumped when they saw a dog .",      # they / cat
    "the cat that is sitting on the mat jumped when it saw a dog .",         # tense
    "the cat on the mat jump when it sees a dog .",                          # jump / cat
    "the cats on the mat jump when they sees a dog .",                       # sees / they
    "yesterday the cat jumps when it sees a dog .",                          # opener / tense
    "every morning the cat jumped when it saw a dog .",
    "the cat that the dogs was chasing jumped when it saw a dog .",          # was / dogs
    "the mat that was sitting on the cat jumped when it saw a dog .",        # a mat is no animal
    "the cat jumped when it saw a dogs .",                                   # a / dogs
    "the cat jumped when it saw two dog .",
    "the cat jumped when it saw a dog",                                      # no full stop
    "the cat jumped when it saw a dog . .",
    "the cat on the mat near the box under the bed jumped when it saw a dog .",  # 3 places
    "the cat that was sitting jumped when it saw a dog .",                   # no place
    "",
])
def test_the_grammar_rejects_broken_sentences(text):
    assert not S.is_grammatical(text)


def test_most_random_swaps_are_rejected(many):
    rng = random.Random(0)
    accepted = changed = 0
    for s in many[:1000]:
        t = list(s.tokens)
        i, j = rng.sample(range(len(t) - 1), 2)
        t[i], t[j] = t[j], t[i]
        if t != list(s.tokens):
            changed += 1
            accepted += S.is_grammatical(t)
    assert accepted / changed < 0.05


def test_vocabulary_holds_every_generated_word(many):
    vocab = set(S.vocabulary())
    assert all(set(s.tokens) <= vocab for s in many)
    assert {"il", "elle"} == {S.FRENCH_PRONOUNS[g, "sg"] for g in "mf"}
