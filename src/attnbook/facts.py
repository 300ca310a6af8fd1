"""Part II data: a small world of facts, and questions about it.

A context is a few facts, then a question::

    the minister of the united states is kofi . the president of the
    united kingdom is ana . the president of the united states is umar .
    who is the president of the united states ?

and the answer is one name: ``umar``. Names are drawn at random for every
context, so the answer cannot be learned by heart: it must be looked up.
Every context holds a fact with the same role and another country, and a
fact with the same country and another role (look-alike countries such as
the united states and the united kingdom share words), so that neither
word of the question alone finds the answer.

Eight role/country pairs (:data:`HELD_OUT`) never appear in the training
contexts, neither asked nor as a distractor: a model answers questions
about them only if it has learned to look up role and country separately.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["ROLES", "COUNTRIES", "NAMES", "HELD_OUT", "Example", "fact",
           "question", "make_example", "make_examples", "words",
           "training_pairs"]

ROLES = ("president", "minister", "king", "queen", "general", "judge")
COUNTRIES = ("the united states", "the united kingdom", "south korea",
             "south africa", "north korea", "france", "japan", "brazil")
NAMES = ("umar", "ana", "kofi", "mei", "ivan", "sofia", "raj", "zoe",
         "omar", "lena", "ali", "nina", "tom", "yuki", "ines", "paul",
         "sara", "dan", "amir", "eva", "leo", "mia", "noah", "ravi", "aiko",
         "jon", "kim", "lara", "max", "nora", "olga", "pia", "rosa", "sam",
         "tara", "uma", "vera", "will", "yara", "hugo")
#: Role/country pairs that no training context contains.
HELD_OUT = frozenset({
    ("king", "the united states"), ("judge", "the united kingdom"),
    ("queen", "south korea"), ("president", "south africa"),
    ("general", "north korea"), ("queen", "france"),
    ("minister", "japan"), ("king", "brazil"),
})


def training_pairs():
    """The role/country pairs that training contexts may contain."""
    return [(r, c) for r in ROLES for c in COUNTRIES
            if (r, c) not in HELD_OUT]


def fact(role, country, name):
    """'the president of the united states is umar .'"""
    return f"the {role} of {country} is {name} ."


def question(role, country):
    """'who is the president of the united states ?'"""
    return f"who is the {role} of {country} ?"


@dataclass(frozen=True)
class Example:
    """A context of facts and a question, with what a test needs to know.

    ``facts`` are (role, country, name) triples in the order they appear;
    ``asked`` is the (role, country) of the question, ``answer`` its name.
    """

    facts: tuple
    asked: tuple
    answer: str

    @property
    def text(self):
        context = " ".join(fact(*f) for f in self.facts)
        return f"{context} {question(*self.asked)}"

    @property
    def tokens(self):
        return self.text.split()

    @property
    def question_start(self):
        """Position of "who" in :attr:`tokens`."""
        return len(self.tokens) - len(question(*self.asked).split())

    @property
    def answer_position(self):
        """Position of the answer's name in the context."""
        at, tokens = 0, self.tokens
        for role, country, name in self.facts:
            at += len(fact(role, country, name).split())
            if (role, country) == tuple(self.asked):
                return at - 2                  # the name, before the "."
        raise ValueError("the asked fact is not in the context")


def make_example(rng, asked=None, others=None, n_facts=None, pairs=None):
    """One :class:`Example`. ``rng`` is a ``random.Random``.

    ``asked`` (role, country) defaults to a random pair of ``pairs``
    (default: every pair). ``others`` are the distractor pairs; by default
    one with the same role, one with the same country, and random pairs up
    to ``n_facts`` facts in all (3 to 6; 1 or 2 keep one fact, or one
    distractor), all from ``pairs``. The facts are shuffled and every name
    is different.
    """
    pairs = [(r, c) for r in ROLES for c in COUNTRIES] if pairs is None \
        else list(pairs)
    asked = tuple(asked) if asked else rng.choice(pairs)
    role, country = asked
    if others is None:
        n_facts = n_facts or rng.randint(3, 6)
        same_role = [p for p in pairs if p[0] == role and p != asked]
        same_country = [p for p in pairs if p[1] == country and p != asked]
        others = [rng.choice(same_role), rng.choice(same_country)]
        if n_facts < 3:                        # an easier context
            others = rng.sample(others, n_facts - 1)
        rest = [p for p in pairs if p != asked and p not in others]
        others += rng.sample(rest, max(0, n_facts - 3))
    chosen = [asked] + list(others)
    names = rng.sample(NAMES, len(chosen))
    facts = [(r, c, name) for (r, c), name in zip(chosen, names)]
    rng.shuffle(facts)
    return Example(tuple(facts), asked, names[0])


def make_examples(n, seed=0, split="train", min_facts=3):
    """``n`` examples, the same for the same seed and split.

    ``split`` is "train" (no held-out pair anywhere), "iid" (the same kind
    of contexts as training, new draws) or "held_out" (the question asks
    about a held-out pair; the other facts are training pairs). Contexts
    hold ``min_facts`` to 6 facts; below 3 they are easier: one fact, or
    one distractor.
    """
    rng = random.Random(f"{split}-{seed}")
    allowed = training_pairs()
    examples = []
    for _ in range(n):
        n_facts = rng.randint(min_facts, 6)
        if split == "held_out":
            asked = rng.choice(sorted(HELD_OUT))
            examples.append(make_example(rng, asked, n_facts=n_facts,
                                         pairs=allowed + [asked]))
        else:
            examples.append(make_example(rng, n_facts=n_facts, pairs=allowed))
    return examples


def words():
    """Every word a context or a question can hold, sorted."""
    vocab = {"the", "of", "is", ".", "who", "?", *ROLES, *NAMES}
    for country in COUNTRIES:
        vocab.update(country.split())
    return sorted(vocab)
