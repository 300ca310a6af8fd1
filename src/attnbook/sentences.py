"""Part II data: the opening's sentence, "the cat that was sitting on the mat
jumped when it saw a dog .", as a family of generated sentences.

Every sentence has the same skeleton::

    [opener] the SUBJECT [modifier] VERB CONNECTOR PRONOUN SAW-VERB OBJECT .

- an optional opener ("yesterday", "every morning", ...) that fits the
  tense, so that the subject has no fixed position;
- a subject animal, singular or plural ("the cat", "the mice");
- a modifier in one of :data:`SHAPES` with one or two distractor nouns
  between the subject and its verb ("that was sitting on the mat",
  "near the door", "that the dog was chasing", ...);
- the main verb, in the past or the present tense; in the present it
  agrees with the subject ("the cat ... jumps", "the cats ... jump");
- "when it saw a dog": the pronoun agrees with the subject ("it" or
  "they"), the second verb with the pronoun.

The generator knows every noun's French gender and number (chat is
masculine, souris feminine), reports where the subject, the distractors,
the verb and the pronoun are (:class:`Sentence`), and :func:`parse` accepts
exactly the sentences it can generate: it returns their analysis, or None.
A language model's samples are scored by the share that :func:`parse`
accepts (:func:`is_grammatical`).

Sentences are tokenised like the rest of the book: lower case, one space
between tokens, the full stop a token of its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "Noun", "Sentence", "ANIMALS", "PLACES", "SHAPES", "TENSES", "OPENERS",
    "make_sentence", "generate", "parse", "is_grammatical", "vocabulary",
    "noun",
]


@dataclass(frozen=True)
class Noun:
    """A noun of the lexicon, with its French translation and gender."""

    en: str        # singular: "mouse"
    en_pl: str     # plural: "mice"
    fr: str        # "souris"
    gender: str    # French gender: "m" or "f"
    kind: str      # "animal" or "place"

    def form(self, number):
        """The English form for number "sg" or "pl"."""
        return self.en if number == "sg" else self.en_pl


def _nouns(kind, rows):
    return tuple(Noun(en, pl, fr, g, kind) for en, pl, fr, g in rows)


#: Animals: subjects, the animal in "that the dog was chasing", objects.
ANIMALS = _nouns("animal", [
    ("cat", "cats", "chat", "m"), ("dog", "dogs", "chien", "m"),
    ("horse", "horses", "cheval", "m"), ("fox", "foxes", "renard", "m"),
    ("rabbit", "rabbits", "lapin", "m"), ("duck", "ducks", "canard", "m"),
    ("cow", "cows", "vache", "f"), ("mouse", "mice", "souris", "f"),
    ("goat", "goats", "chèvre", "f"), ("hen", "hens", "poule", "f"),
    ("owl", "owls", "chouette", "f"), ("frog", "frogs", "grenouille", "f"),
])
#: Places: the distractors in "sitting on the mat", "near the door".
PLACES = _nouns("place", [
    ("mat", "mats", "tapis", "m"), ("sofa", "sofas", "canapé", "m"),
    ("bed", "beds", "lit", "m"), ("wall", "walls", "mur", "m"),
    ("roof", "roofs", "toit", "m"), ("bench", "benches", "banc", "m"),
    ("basket", "baskets", "panier", "m"), ("stool", "stools", "tabouret", "m"),
    ("chair", "chairs", "chaise", "f"), ("table", "tables", "table", "f"),
    ("box", "boxes", "boîte", "f"), ("fence", "fences", "barrière", "f"),
    ("car", "cars", "voiture", "f"), ("door", "doors", "porte", "f"),
    ("ladder", "ladders", "échelle", "f"),
    ("blanket", "blankets", "couverture", "f"),
])
_FORMS = {}
for _noun in ANIMALS + PLACES:
    _FORMS[_noun.en] = (_noun, "sg")
    _FORMS[_noun.en_pl] = (_noun, "pl")

TENSES = ("past", "present")
#: Openers that fit each tense ("" for none).
OPENERS = {
    "past": ("", "yesterday", "last night", "this morning", "on sunday",
             "suddenly"),
    "present": ("", "every morning", "every night", "on sundays",
                "sometimes", "often"),
}
PREPOSITIONS = ("on", "under", "near", "behind", "beside")
# the progressive verbs of "that was sitting on the mat"
POSTURES = ("sitting", "sleeping", "lying", "standing", "hiding",
            "waiting", "resting", "playing")
# the verbs of "that the dog was chasing"
CHASES = ("chasing", "watching", "following")
# main verbs: past, present singular, present plural
VERBS = (("jumped", "jumps", "jump"), ("stopped", "stops", "stop"),
         ("froze", "freezes", "freeze"), ("turned", "turns", "turn"),
         ("ran", "runs", "run"), ("hid", "hides", "hide"))
# the verbs of "when it saw a dog"
SEEING = (("saw", "sees", "see"), ("heard", "hears", "hear"),
          ("smelled", "smells", "smell"), ("noticed", "notices", "notice"))
CONNECTORS = ("when", "because", "as soon as", "after")
# "was" / "were" / "is" / "are"
AUXILIARY = {("past", "sg"): "was", ("past", "pl"): "were",
             ("present", "sg"): "is", ("present", "pl"): "are"}
PRONOUNS = {"sg": "it", "pl": "they"}
#: The French subject pronoun for (gender, number): what "it" becomes.
FRENCH_PRONOUNS = {("m", "sg"): "il", ("f", "sg"): "elle",
                   ("m", "pl"): "ils", ("f", "pl"): "elles"}
#: The modifier between the subject and its verb, and how many distractor
#: nouns it holds.
SHAPES = {
    "bare": 0,      # the cat jumped when it saw a dog .
    "rel": 1,       # the cat that was sitting on the mat jumped ...
    "pp": 1,        # the cat on the mat jumped ...
    "rel2": 2,      # the cat that was sitting on the mat near the door ...
    "pp2": 2,       # the cat on the mat near the door jumped ...
    "obj_rel": 1,   # the cat that the dog was chasing jumped ...
}
# "a" takes a singular object, "two" a plural one, "the" either
OBJECT_DETERMINERS = {"a": ("sg",), "the": ("sg", "pl"), "two": ("pl",)}


@dataclass(frozen=True)
class Sentence:
    """One sentence and its analysis; positions are indices into ``tokens``.

    ``subject``, ``distractors``, ``verb``, ``pronoun`` and ``object`` are
    token positions. ``numbers`` gives the number ("sg" or "pl") of the
    subject, of each distractor and of the object, in that order.
    """

    tokens: tuple
    shape: str
    tense: str
    opener: str
    subject: int
    distractors: tuple
    verb: int
    pronoun: int
    object: int

    @property
    def text(self):
        return " ".join(self.tokens)

    def noun(self, position):
        """The :class:`Noun` at a token position."""
        return _FORMS[self.tokens[position]][0]

    def number(self, position):
        """"sg" or "pl" for the noun at a token position."""
        return _FORMS[self.tokens[position]][1]

    @property
    def subject_noun(self):
        return self.noun(self.subject)

    @property
    def french_pronoun(self):
        """What "it" / "they" becomes in French: il, elle, ils or elles."""
        key = (self.subject_noun.gender, self.number(self.subject))
        return FRENCH_PRONOUNS[key]


def noun(word):
    """(Noun, number) for an English noun form, or None."""
    return _FORMS.get(word)


def _verb_form(forms, tense, number):
    past, singular, plural = forms
    if tense == "past":
        return past
    return singular if number == "sg" else plural


def make_sentence(rng, *, shape=None, tense=None, number=None,
                  opener=None, subject=None, distractors=None,
                  distractor_numbers=None, shapes=tuple(SHAPES)):
    """One random :class:`Sentence`; any keyword fixes that choice.

    ``rng`` is a ``random.Random``. ``subject`` is a :class:`Noun` (an
    animal), ``distractors`` a tuple of nouns (places, or one animal for
    "obj_rel"), ``distractor_numbers`` their numbers.
    """
    shape = shape or rng.choice(shapes)
    tense = tense or rng.choice(TENSES)
    number = number or rng.choice(("sg", "pl"))
    opener = rng.choice(OPENERS[tense]) if opener is None else opener
    subject = subject or rng.choice(ANIMALS)
    n = SHAPES[shape]
    if distractors is None:
        pool = ANIMALS if shape == "obj_rel" else PLACES
        distractors = tuple(rng.sample(
            [x for x in pool if x != subject], n))
    if distractor_numbers is None:
        distractor_numbers = tuple(rng.choice(("sg", "pl")) for _ in range(n))
    tokens = opener.split() + ["the", subject.form(number)]
    subject_at = len(tokens) - 1
    at = []
    if shape in ("rel", "rel2"):
        tokens += ["that", AUXILIARY[tense, number], rng.choice(POSTURES)]
    if shape == "obj_rel":
        other, other_number = distractors[0], distractor_numbers[0]
        tokens += ["that", "the", other.form(other_number)]
        at.append(len(tokens) - 1)
        tokens += [AUXILIARY[tense, other_number], rng.choice(CHASES)]
    else:
        for place, place_number in zip(distractors, distractor_numbers):
            tokens += [rng.choice(PREPOSITIONS), "the",
                       place.form(place_number)]
            at.append(len(tokens) - 1)
    tokens.append(_verb_form(rng.choice(VERBS), tense, number))
    verb_at = len(tokens) - 1
    tokens += rng.choice(CONNECTORS).split() + [PRONOUNS[number]]
    pronoun_at = len(tokens) - 1
    tokens.append(_verb_form(rng.choice(SEEING), tense, number))
    determiner = rng.choice(tuple(OBJECT_DETERMINERS))
    seen = rng.choice(ANIMALS)
    tokens += [determiner,
               seen.form(rng.choice(OBJECT_DETERMINERS[determiner])), "."]
    return Sentence(tuple(tokens), shape, tense, opener, subject_at,
                    tuple(at), verb_at, pronoun_at, len(tokens) - 2)


def generate(n, seed=0, **choices):
    """``n`` random sentences (a list of :class:`Sentence`), the same for
    the same seed; keywords are passed on to :func:`make_sentence`."""
    rng = random.Random(seed)
    return [make_sentence(rng, **choices) for _ in range(n)]


# ------------------------------------------------------------------ parsing


class _Reader:
    """Reads tokens left to right; every ``take_*`` returns None on a
    mismatch, so a parse is a chain of ``and``s."""

    def __init__(self, tokens):
        self.tokens, self.at = list(tokens), 0

    def peek(self, n=1):
        return self.tokens[self.at:self.at + n]

    def take(self, *options):
        """The first option (a string of one or more words) that comes
        next, consumed; or None."""
        for option in sorted(options, key=lambda o: -len(o.split())):
            words = option.split()
            if words and self.peek(len(words)) == words:
                self.at += len(words)
                return option
        return None

    def take_noun(self, kind):
        """(Noun, number, position) of a noun of ``kind`` that comes next."""
        found = noun(self.tokens[self.at]) if self.at < len(self.tokens) \
            else None
        if found is None or found[0].kind != kind:
            return None
        self.at += 1
        return found + (self.at - 1,)


def _verb_tense_number(word, table):
    """The (tense, number or None) pairs a verb form can have."""
    found = []
    for past, singular, plural in table:
        if word == past:
            found.append(("past", None))
        if word == singular:
            found.append(("present", "sg"))
        if word == plural:
            found.append(("present", "pl"))
    return found


def _agrees(word, table, tense, number):
    return any(t == tense and n in (None, number)
               for t, n in _verb_tense_number(word, table))


def parse(tokens):
    """The :class:`Sentence` that ``tokens`` (a string or a list) is, if
    the grammar accepts it; otherwise None."""
    if isinstance(tokens, str):
        tokens = tokens.split()
    r = _Reader(tokens)
    opener = ""
    for tense_openers in OPENERS.values():
        found = r.take(*[o for o in tense_openers if o])
        if found:
            opener = found
            break
    if r.take("the") is None:
        return None
    subject = r.take_noun("animal")
    if subject is None:
        return None
    _, number, subject_at = subject
    tense = None
    distractors, shape = [], None
    if r.take("that"):
        if r.take("the"):                                # obj_rel
            other = r.take_noun("animal")
            if other is None:
                return None
            aux = r.take(*AUXILIARY.values())
            tense = next((t for (t, n), a in AUXILIARY.items()
                          if a == aux and n == other[1]), None)
            if tense is None or r.take(*CHASES) is None:
                return None
            distractors, shape = [other[2]], "obj_rel"
        else:                                            # rel, rel2
            aux = r.take(*AUXILIARY.values())
            tense = next((t for (t, n), a in AUXILIARY.items()
                          if a == aux and n == number), None)
            if tense is None or r.take(*POSTURES) is None:
                return None
            shape = "rel"
    elif r.peek() and r.peek()[0] in PREPOSITIONS:
        shape = "pp"
    else:
        shape = "bare"
    if shape in ("rel", "pp"):
        while len(distractors) < 2 and r.take(*PREPOSITIONS):
            place = r.take("the") and r.take_noun("place")
            if not place:
                return None
            distractors.append(place[2])
        if not distractors:
            return None
        shape += "2" if len(distractors) == 2 else ""
    if r.at >= len(r.tokens):
        return None
    verb_at = r.at
    options = _verb_tense_number(r.tokens[r.at], VERBS)
    tense = tense or (options[0][0] if options else None)
    if tense is None or not _agrees(r.tokens[r.at], VERBS, tense, number):
        return None
    r.at += 1
    if opener and opener not in OPENERS[tense]:
        return None
    if r.take(*CONNECTORS) is None or r.take(PRONOUNS[number]) is None:
        return None
    pronoun_at = r.at - 1
    if r.at >= len(r.tokens) or not _agrees(r.tokens[r.at], SEEING,
                                            tense, number):
        return None
    r.at += 1
    determiner = r.take(*OBJECT_DETERMINERS)
    seen = determiner and r.take_noun("animal")
    if not seen or seen[1] not in OBJECT_DETERMINERS[determiner]:
        return None
    if r.take(".") is None or r.at != len(r.tokens):
        return None
    return Sentence(tuple(tokens), shape, tense, opener, subject_at,
                    tuple(distractors), verb_at, pronoun_at, seen[2])


def is_grammatical(tokens):
    """True if the grammar accepts the sentence (a string or a list)."""
    return parse(tokens) is not None


def vocabulary():
    """Every word the grammar can write, sorted."""
    words = {"the", "that", ".", *PREPOSITIONS, *POSTURES, *CHASES,
             *AUXILIARY.values(), *PRONOUNS.values(), *OBJECT_DETERMINERS}
    for table in (VERBS, SEEING):
        words.update(w for forms in table for w in forms)
    for phrase in CONNECTORS + OPENERS["past"] + OPENERS["present"]:
        words.update(phrase.split())
    words.update(_FORMS)
    return sorted(words)
