"""Chapter 7 data: English -> French sentence pairs from a small grammar with
real French.

No parallel corpus can be downloaded, so the translation chapter makes its own.
The grammar is small (163 English and 263 French word types, sentences of 7 to
8 tokens on average) but the French is real French, and real French does not
follow the English word for word:

- nouns have a gender that the article, the adjectives and the possessive agree
  with (*the black cat* -> *le chat noir*, *the white door* -> *la porte
  blanche*, *my school* -> *mon école*, *this tree* -> *cet arbre*);
- most adjectives come after the noun, a few before it (*the old man* -> *le
  vieil homme*);
- pronoun objects come before the verb (*she sees him* -> *elle le voit*);
- *the girl's dog* becomes *le chien de la fille*, with *du*, *des*, *de la*,
  *de l'*;
- *not* wraps the verb (*ne ... pas*) and turns *un/une/des* into *de*;
- questions start with *est-ce que*; vowels elide (*l'*, *j'*, *n'*, *d'*,
  *qu'*, *m'*, *t'*, *c'*).

Every sentence is **tokenised**: lower case, tokens separated by single spaces,
punctuation and elided words as tokens of their own (``"l' homme"``, ``"the
girl 's dog"``), so that a model's vocabulary is ``text.split()`` and
:func:`detokenize` turns a sentence back into print.

The English decides the French completely (translation is a function, so a
model can be exact): *you* is always *tu* and *you all* is *vous*; *they* is
*ils*; *friend* and *child* are the masculine *ami* and *enfant*; *his* and
*her* are both *son/sa/ses*.

Three ways in:

- :func:`sentence` builds one pair from its parts, e.g.
  ``sentence("she", "see", "him", negated=True)`` -> *she does not see him .* /
  *elle ne le voit pas .*;
- :func:`generate_pairs` and :func:`generate_examples` sample many,
  deterministically from a seed, optionally avoiding or requiring some
  adjective-noun combinations;
- :func:`make_splits` returns a training set, an "iid" test set of unseen
  sentences and a "novel" test set in which every sentence has an
  adjective-noun combination never seen in training.

Each :class:`Example` says which phenomena it shows (see :data:`PHENOMENA`), so
a chapter can pick sentences where the word order changes: :func:`example`,
:func:`find_examples`, :func:`showcase`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "NP", "Example", "Splits", "NOUNS", "ADJECTIVES", "VERBS", "PHENOMENA",
    "SUBJECT_PRONOUNS", "OBJECT_PRONOUNS", "sentence", "generate_examples",
    "generate_pairs", "make_splits", "all_combos", "example", "find_examples",
    "showcase", "detokenize", "vocabulary", "mean_length",
]

# -----------------------------------------------------------------------------
# The lexicon
# -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    en: str              # singular, e.g. "mouse"
    en_pl: str | None    # plural ("mice"), None: used in the singular only
    fr: str              # "souris"
    fr_pl: str | None    # "souris"
    gender: str          # "m" or "f"
    tags: frozenset      # what it is: person, animal, food, portable, ...

    @property
    def countable(self):
        return self.en_pl is not None


@dataclass(frozen=True)
class Adjective:
    en: str
    forms: tuple         # French (masc. sg., fem. sg., masc. pl., fem. pl.)
    before: bool         # True for the few that go before the noun (petit)
    vowel_form: str | None  # bel, vieil, nouvel: masc. sg. before a vowel
    tags: frozenset      # the nouns it can describe (any of these noun tags)

    @property
    def agrees(self):
        """True if its feminine differs from its masculine (noir/noire), False
        for triste/jeune."""
        return self.forms[0] != self.forms[1]


@dataclass(frozen=True)
class Verb:
    # (base, third person singular, particle or ""): ("look", "looks", "for")
    en: tuple
    fr: tuple            # present tense for je, tu, il/elle, nous, vous, ils
    subject: frozenset   # noun tags of a sensible subject
    object: frozenset    # noun tags of a sensible object (empty: none)
    pronoun: bool        # takes an object pronoun (me, you, him, her, ...)
    irregular: bool


# english  plural  french  plural  gender  tags   ("-": singular only)
# The tags little/looks/aged/pal say which people take small/beautiful/old/
# good, to stay clear of idioms: un petit ami (a boyfriend), un vieux garçon
# (a bachelor), une vieille fille, une bonne sœur (a nun), un beau-frère (a
# brother-in-law). Nobody owns a "public" noun: no *my man*, *his station*.
_NOUNS = """
man men homme hommes m person,looks,aged,public
woman women femme femmes f person,looks,aged,public
boy boys garçon garçons m person,looks,little,public
girl girls fille filles f person,looks,little,public
child children enfant enfants m person,kin,looks,little
friend friends ami amis m person,kin,aged,pal
brother brothers frère frères m person,kin,little
sister sisters sœur sœurs f person,kin,little
cat cats chat chats m animal,fur
dog dogs chien chiens m animal,fur,pal
bird birds oiseau oiseaux m animal,fur
horse horses cheval chevaux m animal,fur
mouse mice souris souris f animal,fur
cow cows vache vaches f animal,fur
bear bears ours ours m animal,fur
elephant elephants éléphant éléphants m animal
rabbit rabbits lapin lapins m animal,fur
animal animals animal animaux m animal
apple apples pomme pommes f food,portable
cake cakes gâteau gâteaux m food,portable,made
orange oranges orange oranges f food,portable
egg eggs œuf œufs m food,portable
fish - poisson - m food,portable
cookie cookies biscuit biscuits m food,portable,made
water - eau - f drink
milk - lait - m drink
juice - jus - m drink
door doors porte portes f thing,colour,openable
window windows fenêtre fenêtres f thing,openable
box boxes boîte boîtes f thing,colour,openable,portable,container
book books livre livres m thing,colour,openable,readable,portable
letter letters lettre lettres f thing,openable,readable,portable
newspaper newspapers journal journaux m thing,readable,portable
key keys clé clés f thing,portable
ball balls ballon ballons m thing,colour,portable
bag bags sac sacs m thing,colour,openable,portable,container
car cars voiture voitures f thing,colour,vehicle,room,container
wardrobe wardrobes armoire armoires f thing,colour,openable,container
tree trees arbre arbres m plant
flower flowers fleur fleurs f plant,colour,portable
house houses maison maisons f place,building,goal,room,home
park parks parc parcs m place,goal,room,public
school schools école écoles f place,building,goal,room
garden gardens jardin jardins m place,goal,room
station stations gare gares f place,building,goal,public
hospital hospitals hôpital hôpitaux m place,building,goal,room,public
"""

# english  before?  ms fs mp fp  vowel-form  noun tags it describes
_ADJECTIVES = """
small before petit petite petits petites - little,animal,food,thing,plant,place
big before grand grande grands grandes - animal,thing,plant,place
beautiful before beau belle beaux belles bel looks,animal,thing,plant,place
old before vieux vieille vieux vieilles vieil aged,animal,thing,plant,place
new before nouveau nouvelle nouveaux nouvelles nouvel thing,building
good before bon bonne bons bonnes - pal,food,readable
young before jeune jeune jeunes jeunes - person,animal
black after noir noire noirs noires - fur,colour
white after blanc blanche blancs blanches - fur,colour
red after rouge rouge rouges rouges - colour
blue after bleu bleue bleus bleues - colour
happy after heureux heureuse heureux heureuses - person,animal
sad after triste triste tristes tristes - person,animal
tired after fatigué fatiguée fatigués fatiguées - person,animal
curious after curieux curieuse curieux curieuses - person,animal
delicious after délicieux délicieuse délicieux délicieuses - food,drink
fresh after frais fraîche frais fraîches - food,drink
"""

# key | english base third particle | french je tu il nous vous ils
#     | subject tags | object tags | pronoun objects? | irregular?
# (a line that ends with a backslash goes on on the next one)
_VERBS = """
be | be is - | suis es est sommes êtes sont | - | - | no | yes
be in | be is in | suis es est sommes êtes sont \
    | person,animal,portable | - | no | yes
go to | go goes to | vais vas va allons allez vont \
    | person,animal | - | no | yes
have | have has - | ai as a avons avez ont \
    | person | kin,animal,portable,vehicle,home | no | yes
make | make makes - | fais fais fait faisons faites font \
    | person | made | no | yes
see | see sees - | vois vois voit voyons voyez voient \
    | person,animal | person,animal,food,thing,plant,place | yes | yes
take | take takes - | prends prends prend prenons prenez prennent \
    | person | portable,vehicle | no | yes
eat | eat eats - | mange manges mange mangeons mangez mangent \
    | person,animal | food | no | yes
drink | drink drinks - | bois bois boit buvons buvez boivent \
    | person,animal | drink | no | yes
read | read reads - | lis lis lit lisons lisez lisent \
    | person | readable | no | yes
open | open opens - | ouvre ouvres ouvre ouvrons ouvrez ouvrent \
    | person | openable | no | yes
love | love loves - | aime aimes aime aimons aimez aiment \
    | person | person,animal,food,drink,place | yes | no
look for | look looks for \
    | cherche cherches cherche cherchons cherchez cherchent \
    | person,animal | person,animal,portable | yes | no
wait for | wait waits for \
    | attends attends attend attendons attendez attendent \
    | person,animal | person,animal | yes | no
know | know knows - \
    | connais connais connaît connaissons connaissez connaissent \
    | person,animal | person,animal,place | yes | yes
"""


def _tags(text):
    return frozenset() if text == "-" else frozenset(text.split(","))


def _dash(text):
    return None if text == "-" else text


def _parse_nouns(text):
    nouns = {}
    for line in text.strip().splitlines():
        en, en_pl, fr, fr_pl, gender, tags = line.split()
        nouns[en] = Noun(en, _dash(en_pl), fr, _dash(fr_pl), gender,
                         _tags(tags))
    return nouns


def _parse_adjectives(text):
    adjectives = {}
    for line in text.strip().splitlines():
        en, place, ms, fs, mp, fp, vowel_form, tags = line.split()
        adjectives[en] = Adjective(en, (ms, fs, mp, fp), place == "before",
                                   _dash(vowel_form), _tags(tags))
    return adjectives


def _parse_verbs(text):
    verbs = {}
    for line in text.strip().splitlines():
        parts = (part.strip() for part in line.split("|"))
        key, en, fr, subject, obj, pronoun, irregular = parts
        base, third, particle = en.split()
        verbs[key] = Verb((base, third, "" if particle == "-" else particle),
                          tuple(fr.split()), _tags(subject), _tags(obj),
                          pronoun == "yes", irregular == "yes")
    return verbs


NOUNS: dict[str, Noun] = _parse_nouns(_NOUNS)
"""English lemma -> :class:`Noun` (French forms, gender, tags that keep
sentences sensible)."""
ADJECTIVES: dict[str, Adjective] = _parse_adjectives(_ADJECTIVES)
"""English adjective -> :class:`Adjective` (four French forms, placement, what
it describes)."""
VERBS: dict[str, Verb] = _parse_verbs(_VERBS)
"""Verb key (``"eat"``, ``"look for"``, ``"be in"``, ...) -> :class:`Verb`."""

# English subject pronoun -> (French, person index 0..5 for je..ils, gender,
# plural)
SUBJECT_PRONOUNS = {
    "i": ("je", 0, None, False), "you": ("tu", 1, None, False),
    "he": ("il", 2, "m", False), "she": ("elle", 2, "f", False),
    "we": ("nous", 3, None, True),
    "you all": ("vous", 4, None, True), "they": ("ils", 5, "m", True),
    "this": ("ce", 2, None, False), "these": ("ce", 5, None, True),
}
# English object pronoun -> (French clitic, person index)
OBJECT_PRONOUNS = {
    "me": ("me", 0), "you": ("te", 1), "him": ("le", 2), "her": ("la", 2),
    "us": ("nous", 3), "you all": ("vous", 4), "them": ("les", 5),
}

PHENOMENA = {
    "elision": "le/la/je/ne/de/que/me/te/ce lose their vowel before a vowel: "
               "l' j' n' d' qu' m' t' c'",
    "gender": "a feminine noun makes the article, the possessive and the "
              "adjectives feminine",
    "plural": "plural nouns, adjectives and verbs agree",
    "irregular_plural": "a plural not made by adding -s (animaux, chevaux, "
                        "oiseaux, souris, ...)",
    "adj_after": "most adjectives follow the noun: the black cat -> le chat "
                 "noir",
    "adj_before": "petit, grand, beau, vieux, nouveau, bon, jeune come before "
                  "the noun",
    "bel_vieil_nouvel": "beau/vieux/nouveau become bel/vieil/nouvel before a "
                        "masculine vowel",
    "des_to_de": "des becomes de before a plural adjective: de petits chats",
    "cet": "ce becomes cet before a masculine vowel: cet arbre",
    "mon_vowel": "mon/son before a feminine vowel: mon école",
    "his_her": "his and her both become son/sa/ses, agreeing with the thing "
               "owned",
    "irregular_verb": "an irregular present tense (être, avoir, aller, faire, "
                      "voir, prendre, ...)",
    "negation": "ne ... pas around the verb",
    "negative_de": "un/une/des become de (d') after a negated verb other than "
                   "être",
    "object_pronoun": "an object pronoun moves before the verb: she sees him "
                      "-> elle le voit",
    "possessive": "the girl's dog -> le chien de la fille",
    "contraction": "de/à + le/les become du/des/au/aux",
    "question": "est-ce que questions",
    "phrasal_verb": "two English words, one French verb: look for -> "
                    "chercher, wait for -> attendre",
    "presentative": "this is / these are -> c'est / ce sont (no de after a "
                    "negated être)",
    "predicative": "être + adjective, agreeing with the subject",
    "reorder": "the French word order differs from the English (adjective "
               "after, pronoun before the verb, or possessive)",
}
_REORDER = frozenset({"adj_after", "object_pronoun", "possessive"})

# adjectives for he, she, they
_HUMAN = frozenset({"person", "looks", "aged", "little"})
# every h in this lexicon is mute (homme, hôpital)
_VOWELS = frozenset("aeiouyàâäéèêëîïôöûùüœh")
_ELIDE = {"le": "l'", "la": "l'", "je": "j'", "ne": "n'", "de": "d'",
          "que": "qu'", "me": "m'", "te": "t'", "ce": "c'"}
_CONTRACT = {("de", "le"): "du", ("de", "les"): "des", ("à", "le"): "au",
             ("à", "les"): "aux"}


def _vowel(word):
    return word[0] in _VOWELS


def _same_people(person, obj_person):
    """True when an object pronoun would refer to the subject (or include it):
    I see me."""
    if person == obj_person:
        return person not in (2, 5)
    return {person, obj_person} in ({0, 3}, {1, 4})


# -----------------------------------------------------------------------------
# Building one sentence
# -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NP:
    """A noun phrase, named by its English words.

    ``det`` is ``"the"``, ``"a"`` (in the plural: a bare plural, *cats* -> *des
    chats*), ``"my"``, ``"his"``, ``"her"`` or ``"this"`` (*these* in the
    plural). ``owner`` makes a possessive: ``NP("dog", adj="white",
    owner=NP("girl"))`` is *the girl 's white dog* -> *le chien blanc de la
    fille* (``det`` is then ignored: the owned thing is definite).
    """
    noun: str
    det: str = "the"
    plural: bool = False
    adj: str | None = None
    owner: NP | None = None


class Example(NamedTuple):
    """One sentence pair: tokenised English and French, the phenomena it shows,
    and its adjective-noun combinations as (English adjective, English noun).
    """
    en: str
    fr: str
    phenomena: frozenset
    combos: frozenset


_DETS = ("the", "a", "my", "his", "her", "this")


def _check_np(np_, role=""):
    if np_.noun not in NOUNS:
        raise ValueError(f"unknown noun {np_.noun!r}")
    noun = NOUNS[np_.noun]
    if np_.det not in _DETS:
        raise ValueError(f"unknown determiner {np_.det!r}; use one of {_DETS}")
    if np_.plural and not noun.countable:
        raise ValueError(f"{np_.noun!r} is used in the singular only")
    if np_.det == "a" and not noun.countable and np_.owner is None:
        raise ValueError(f"{np_.noun!r} takes no 'a'")
    if np_.adj is not None:
        if np_.adj not in ADJECTIVES:
            raise ValueError(f"unknown adjective {np_.adj!r}")
        if not ADJECTIVES[np_.adj].tags & noun.tags:
            raise ValueError(f"{np_.adj!r} does not describe {np_.noun!r}")
    if np_.owner is not None:
        if np_.owner.owner is not None or np_.owner.det in ("a", "this"):
            raise ValueError("an owner is one noun phrase with the, my, his "
                             "or her")
        if not {"person", "animal"} & NOUNS[np_.owner.noun].tags:
            raise ValueError(f"only people and animals own things, not "
                             f"{np_.owner.noun!r}")
        _check_np(np_.owner)


def _en_np(np_):
    """English tokens of a noun phrase."""
    noun = NOUNS[np_.noun]
    words = [noun.en_pl if np_.plural else noun.en]
    if np_.adj:
        words.insert(0, np_.adj)
    if np_.owner is not None:
        owner = np_.owner
        plural_s = owner.plural and NOUNS[owner.noun].en_pl.endswith("s")
        return _en_np(owner) + ["'" if plural_s else "'s"] + words
    det = np_.det
    if det == "a":
        if np_.plural:
            return words
        return ["an" if words[0][0] in "aeiou" else "a"] + words
    if det == "this" and np_.plural:
        det = "these"
    return [det] + words


def _fr_np(np_, tags, combos, negated=False, prep=None):
    """French tokens of a noun phrase (before elision); ``negated``: direct
    object of a negated verb; ``prep``: "de" or "à", contracted with le/les."""
    noun = NOUNS[np_.noun]
    plural, fem = np_.plural, noun.gender == "f"
    words = [noun.fr_pl if plural else noun.fr]
    if plural:
        tags.add("plural")
        if noun.fr_pl != noun.fr + "s":
            tags.add("irregular_plural")
    adj = ADJECTIVES[np_.adj] if np_.adj else None
    if adj is not None:
        combos.add((adj.en, noun.en))
        form = adj.forms[2 * plural + fem]
        if adj.before:
            tags.add("adj_before")
            if not plural and not fem and adj.vowel_form and _vowel(words[0]):
                form = adj.vowel_form
                tags.add("bel_vieil_nouvel")
            words.insert(0, form)
        else:
            tags.add("adj_after")
            words.append(form)
    if fem and (not plural or adj is not None):
        tags.add("gender")
    first = words[0]
    det = "the" if np_.owner is not None else np_.det
    if det == "the":
        art = "les" if plural else ("la" if fem else "le")
    elif det == "a":
        if negated:
            art = "de"
            tags.add("negative_de")
        elif plural:
            art = "des"
            if adj is not None and adj.before:
                art = "de"
                tags.add("des_to_de")
        else:
            art = "une" if fem else "un"
    elif det == "this":
        if plural:
            art = "ces"
        else:
            art = "cette" if fem else ("cet" if _vowel(first) else "ce")
        if art == "cet":
            tags.add("cet")
    else:
        stem = "m" if det == "my" else "s"
        if det != "my":
            tags.add("his_her")
        if plural:
            art = stem + "es"
        elif fem and not _vowel(first):
            art = stem + "a"
        else:
            art = stem + "on"
            if fem:
                tags.add("mon_vowel")
    out = [art]
    if prep is not None:
        if art in ("le", "les") and not (art == "le" and _vowel(first)):
            out = [_CONTRACT[prep, art]]
            tags.add("contraction")
        else:
            out = [prep, art]
    out += words
    if np_.owner is not None:
        tags.add("possessive")
        out += _fr_np(np_.owner, tags, combos, prep="de")
    return out


def _elide(tokens):
    """le/la/je/ne/de/que/me/te/ce + vowel -> l' la j' n' d' qu' m' t' c' (in
    place)."""
    for i in range(len(tokens) - 1):
        if tokens[i] in _ELIDE and _vowel(tokens[i + 1]):
            tokens[i] = _ELIDE[tokens[i]]
    return tokens


def _subject(subject, tags, combos):
    """-> (English tokens, French tokens, person 0..5, gender, plural)."""
    if isinstance(subject, str):
        if subject not in SUBJECT_PRONOUNS:
            raise ValueError(f"unknown subject pronoun {subject!r}")
        fr, person, gender, plural = SUBJECT_PRONOUNS[subject]
        if plural:
            tags.add("plural")
        return subject.split(), [fr], person, gender, plural
    _check_np(subject)
    fr = _fr_np(subject, tags, combos)
    return (_en_np(subject), fr, 5 if subject.plural else 2,
            NOUNS[subject.noun].gender, subject.plural)


def sentence(subject, verb, complement=None, *, negated=False,
             question=False) -> Example:
    """Build one sentence pair from its English parts.

    ``subject``: an :class:`NP` or a pronoun (``"i"``, ``"you"``, ``"he"``,
    ``"she"``, ``"we"``, ``"you all"``, ``"they"``; ``"this"``/``"these"`` with
    ``"be"`` and a noun phrase). ``verb``: a key of :data:`VERBS`.
    ``complement``: the object (an :class:`NP` or an object pronoun such as
    ``"him"``), the place of ``"be in"``/``"go to"``, and for ``"be"`` an
    adjective (*the cat is black*) or, after ``"this"``/``"these"``, a noun
    phrase. ``negated`` and ``question`` (an *est-ce que* question) exclude
    each other.

    >>> sentence(NP("cat"), "eat", NP("fish"), question=True).fr
    'est-ce que le chat mange le poisson ?'
    >>> sentence("she", "love", "him", negated=True).fr
    "elle ne l' aime pas ."
    """
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb!r}")
    if negated and question:
        raise ValueError("a sentence is negated or a question, not both")
    _check_sense(subject, verb, complement)
    return _render(subject, verb, complement, negated, question)


def _check_sense(subject, verb, complement):
    """Raise ValueError for a subject or a complement that does not fit the
    verb's tags."""
    v = VERBS[verb]
    known = isinstance(subject, NP) and subject.noun in NOUNS
    tags = NOUNS[subject.noun].tags if known else None
    if tags is not None and v.subject and not tags & v.subject:
        raise ValueError(f"a {subject.noun} cannot {verb}")
    if (not isinstance(complement, NP) or complement.noun not in NOUNS
            or verb == "be"):
        return
    wanted = v.object
    if verb == "be in":
        animate = tags is None or tags & _OWNERS
        wanted = _ANIMATE_PLACES if animate else _THING_PLACES
    elif verb == "go to":
        wanted = _GOALS
    if not NOUNS[complement.noun].tags & wanted:
        raise ValueError(f"cannot {verb} a {complement.noun}")


def _render(subject, verb, complement, negated, question):
    tags, combos = set(), set()
    v = VERBS[verb]
    en_subj, fr_subj, person, gender, plural = _subject(subject, tags, combos)
    presentative = subject in ("this", "these")
    if presentative != (verb == "be" and isinstance(complement, NP)):
        raise ValueError("'this'/'these' go with 'be' and a noun phrase, and "
                         "only they do")
    clitic = []
    if verb == "be" and not presentative:          # the cat is black
        adj = ADJECTIVES.get(complement)
        if adj is None:
            raise ValueError(f"'be' needs an adjective, got {complement!r}")
        if gender is None:
            raise ValueError(f"the gender of {subject!r} is unknown: use he, "
                             f"she, they or a noun")
        if isinstance(subject, NP):
            if not adj.tags & NOUNS[subject.noun].tags:
                raise ValueError(f"{complement!r} does not describe "
                                 f"{subject.noun!r}")
            combos.add((adj.en, subject.noun))
        elif not adj.tags & _HUMAN:
            raise ValueError(f"{complement!r} does not describe a person")
        en_comp = [complement]
        fr_comp = [adj.forms[2 * plural + (gender == "f")]]
        tags.add("predicative")
    elif isinstance(complement, str):    # she sees him -> elle le voit
        if not v.pronoun or complement not in OBJECT_PRONOUNS:
            raise ValueError(f"{verb!r} takes no object pronoun "
                             f"{complement!r}")
        fr_pron, obj_person = OBJECT_PRONOUNS[complement]
        if _same_people(person, obj_person):
            raise ValueError("subject and object pronoun are the same people")
        en_comp, clitic, fr_comp = complement.split(), [fr_pron], []
        tags.add("object_pronoun")
    elif isinstance(complement, NP):
        _check_np(complement)
        en_comp = _en_np(complement)
        if presentative:
            if complement.plural != (subject == "these"):
                raise ValueError("'this is' takes a singular noun phrase, "
                                 "'these are' a plural one")
            tags.add("presentative")
            fr_comp = _fr_np(complement, tags, combos)
        elif verb == "be in":
            if complement.plural:
                raise ValueError("'be in' takes one place")
            fr_comp = ["dans"] + _fr_np(complement, tags, combos)
        elif verb == "go to":
            if complement.plural or complement.det == "a":
                raise ValueError("'go to' takes one definite place")
            fr_comp = _fr_np(complement, tags, combos, prep="à")
        elif v.object:
            fr_comp = _fr_np(complement, tags, combos, negated=negated)
        else:
            raise ValueError(f"{verb!r} takes no object")
    else:
        raise ValueError(f"{verb!r} needs a complement")
    if v.irregular:
        tags.add("irregular_verb")
    if v.en[2] and v.object:
        tags.add("phrasal_verb")

    # French: [est-ce que] subject [ne] [pronoun] verb [pas] complement
    fr = list(fr_subj)
    if negated:
        fr.append("ne")
        tags.add("negation")
    fr += clitic
    fr.append(v.fr[person])
    if negated:
        fr.append("pas")
    fr += fr_comp
    if question:
        fr = ["est-ce", "que"] + fr
        tags.add("question")
    _elide(fr)
    fr.append("?" if question else ".")

    # English: do-support for negation and questions, except with "be"
    base, third, particle = v.en
    after = ([particle] if particle else []) + en_comp
    if base == "be":
        form = ("am", "are", "is", "are", "are", "are")[person]
        if question:
            en = [form] + en_subj + after
        else:
            en = en_subj + [form] + (["not"] if negated else []) + after
    else:
        do = "does" if person == 2 else "do"
        if question:
            en = [do] + en_subj + [base] + after
        elif negated:
            en = en_subj + [do, "not", base] + after
        else:
            en = en_subj + [third if person == 2 else base] + after
    en.append("?" if question else ".")

    if any(t.endswith("'") for t in fr):
        tags.add("elision")
    if tags & _REORDER:
        tags.add("reorder")
    return Example(" ".join(en), " ".join(fr), frozenset(tags),
                   frozenset(combos))


# -----------------------------------------------------------------------------
# Sampling many sentences
# -----------------------------------------------------------------------------

# Frames and their weights; verbs with an object are drawn uniformly within
# "object".
_FRAMES = (("object",) * 11 + ("be",) * 3 + ("be in",) * 2 + ("go to",) * 2
           + ("this",) * 2)
_OBJECT_VERBS = tuple(k for k, v in VERBS.items() if v.object)
_PRONOUN_SUBJECTS = ("i", "you", "he", "she", "we", "you all", "they")
_DET_WEIGHTS = (("the",) * 9 + ("a",) * 4 + ("my",) * 2 + ("his", "her")
                + ("this",) * 2)
_OWNER_DETS = ("the",) * 4 + ("my", "his", "her")
_ALL = frozenset(t for n in NOUNS.values() for t in n.tags)
_OWNERS = frozenset({"person", "animal"})
_PEOPLE = frozenset({"person"})
_PRESENT_DETS = ("the",) * 3 + ("a",) * 6 + ("my",) * 2 + ("his", "her")
_BE_DETS = ("the",) * 9 + ("my",) * 2 + ("his", "her") + ("this",) * 2
# A subject's adjective and its predicate come from different groups: no *the
# black cat is white*.
_GROUP = {"small": 0, "big": 0, "old": 1, "new": 1, "young": 1, "black": 2,
          "white": 2, "red": 2, "blue": 2, "happy": 3, "sad": 3,
          "beautiful": 4, "good": 4, "delicious": 4, "tired": 5,
          "curious": 6, "fresh": 7}
_ANIMATE_PLACES = frozenset({"room"})
_THING_PLACES = frozenset({"container", "home"})
_GOALS = frozenset({"goal"})
_GOAL_DETS = ("the",) * 6 + ("my", "his", "her", "this")
_PERSON_ADJS = tuple(a for a, adj in ADJECTIVES.items() if adj.tags & _HUMAN)


def all_combos():
    """Every sensible (English adjective, English noun) combination of the
    grammar, sorted."""
    return sorted((a, n) for n, noun in NOUNS.items()
                  for a, adj in ADJECTIVES.items() if adj.tags & noun.tags)


class _Sampler:
    """Draws random sentence structures; knows which combinations to avoid or
    to favour."""

    def __init__(self, exclude=None, require=None):
        self.exclude = frozenset(exclude or ())
        self.require = frozenset(require or ())
        unknown = (self.exclude | self.require) - set(all_combos())
        if unknown:
            raise ValueError(f"not combinations of this grammar: "
                             f"{sorted(unknown)}")
        self.adjs = {n: tuple(a for a, adj in ADJECTIVES.items()
                              if adj.tags & noun.tags
                              and (a, n) not in self.exclude)
                     for n, noun in NOUNS.items()}
        self.slots = {}

    def slot(self, tags):
        """(nouns with any of these tags, required combinations whose noun has
        one)."""
        if tags not in self.slots:
            nouns = tuple(n for n, noun in NOUNS.items() if noun.tags & tags)
            forced = tuple(sorted(c for c in self.require
                                  if NOUNS[c[1]].tags & tags))
            self.slots[tags] = (nouns, forced)
        return self.slots[tags]

    def noun_adj(self, rng, tags, adj_p):
        nouns, forced = self.slot(tags)
        if forced and rng.random() < 0.5:
            adj, noun = rng.choice(forced)
            return noun, adj
        noun = rng.choice(nouns)
        adjs = self.adjs[noun]
        use = adjs and rng.random() < adj_p
        return noun, (rng.choice(adjs) if use else None)

    def np(self, rng, tags, *, plural=True, bare=True, owner=True, adj_p=0.5,
           dets=_DET_WEIGHTS, noun=None, adj=None):
        """A random noun phrase whose noun has one of ``tags`` (or is ``noun``,
        with ``adj``). ``bare``: a plural "a" may stay (a bare plural: cats ->
        des chats)."""
        if noun is None:
            noun, adj = self.noun_adj(rng, tags, adj_p)
        tags = NOUNS[noun].tags
        countable = NOUNS[noun].countable
        pl = plural and countable and rng.random() < 0.3
        det = rng.choice(dets)
        if det == "a" and (not countable or (pl and not bare)):
            det = "the"
        public = "public" in tags
        if public and det in ("my", "his", "her"):
            det = "the"
        own = None
        if owner and not public and rng.random() < 0.18:
            owners = _PEOPLE if tags & {"person", "place"} else _OWNERS
            own = self.np(rng, owners, owner=False, adj_p=0.2,
                          dets=_OWNER_DETS)
            while own.noun == noun:                  # no *the dog's dog*
                own = self.np(rng, owners, owner=False, adj_p=0.2,
                              dets=_OWNER_DETS)
            det = "the"
        return NP(noun, det, pl, adj, own)

    def subject(self, rng, tags):
        if "person" in tags and rng.random() < 0.2:
            return rng.choice(_PRONOUN_SUBJECTS)
        return self.np(rng, tags, bare=False)

    def structure(self, rng):
        """-> (subject, verb, complement, negated, question), always sensible.
        """
        r = rng.random()
        negated, question = r < 0.22, 0.22 <= r < 0.4
        frame = rng.choice(_FRAMES)
        if frame == "object":
            verb = rng.choice(_OBJECT_VERBS)
            v = VERBS[verb]
            subject = self.subject(rng, v.subject)
            if v.pronoun and rng.random() < 0.25:
                obj = rng.choice(tuple(OBJECT_PRONOUNS))
                person = (SUBJECT_PRONOUNS[subject][1]
                          if isinstance(subject, str) else 2)
                if _same_people(person, OBJECT_PRONOUNS[obj][1]):
                    obj = "them"
                return subject, verb, obj, negated, question
            obj = self.np(rng, v.object)
            if isinstance(subject, NP) and obj.noun == subject.noun:
                obj = self.np(rng, v.object)
            return subject, verb, obj, negated, question
        if frame == "be":                  # the cat is black / she is happy
            if rng.random() < 0.2 and not self.require:
                return (rng.choice(("he", "she", "they")), "be",
                        rng.choice(_PERSON_ADJS), negated, question)
            noun, adj = self.noun_adj(rng, _ALL, 1.0)
            others = [a for a in self.adjs[noun] if _GROUP[a] != _GROUP[adj]]
            use = others and rng.random() < 0.25
            extra = rng.choice(others) if use else None
            subject = self.np(rng, _ALL, noun=noun, adj=extra, dets=_BE_DETS)
            return subject, "be", adj, negated, question
        if frame == "this":                # this is a cat / these are my cats
            np_ = self.np(rng, _ALL, dets=_PRESENT_DETS)
            subject = "these" if np_.plural else "this"
            return subject, "be", np_, negated, question
        if frame == "be in":               # the cat is in the garden
            subject = self.subject(rng, VERBS["be in"].subject)
            animate = (isinstance(subject, str)
                       or NOUNS[subject.noun].tags & _OWNERS)
            places = _ANIMATE_PLACES if animate else _THING_PLACES
            place = self.np(rng, places, plural=False, owner=False, adj_p=0.25)
            return subject, "be in", place, negated, question
        # the boy goes to the park
        subject = self.subject(rng, VERBS["go to"].subject)
        place = self.np(rng, _GOALS, plural=False, adj_p=0.25, dets=_GOAL_DETS)
        return subject, "go to", place, negated, question

    def examples(self, rng, n, *, unique=False, skip=()):
        """``n`` examples; ``unique``: no English sentence twice; none from
        ``skip``."""
        out, seen = [], set(skip)
        exclude, require = self.exclude, self.require
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > 200 * n + 10000:
                raise RuntimeError(f"found only {len(out)} of {n} sentences: "
                                   f"too much excluded?")
            ex = _render(*self.structure(rng))
            if exclude and not exclude.isdisjoint(ex.combos):
                continue
            if require and require.isdisjoint(ex.combos):
                continue
            if ex.en in seen:
                continue
            if unique:
                seen.add(ex.en)
            out.append(ex)
        return out


def generate_examples(n, seed=0, exclude_combos=None, require_combos=None, *,
                      unique=False):
    """``n`` random :class:`Example` s, the same for the same arguments.

    ``exclude_combos``: (adjective, noun) pairs such as ``("black", "cat")``
    that no sentence may contain, attributively (*the black cat*) or
    predicatively (*the cat is black*). ``require_combos``: every sentence
    contains at least one of these. ``unique``: no English sentence twice.
    """
    rng = random.Random(f"en_fr:{seed}")
    sampler = _Sampler(exclude_combos, require_combos)
    return sampler.examples(rng, n, unique=unique)


def generate_pairs(n, seed=0, exclude_combos=None, require_combos=None, *,
                   unique=False):
    """``n`` random (English, French) pairs of tokenised, lower-case text; see
    :func:`generate_examples` for the arguments."""
    examples = generate_examples(n, seed, exclude_combos, require_combos,
                                 unique=unique)
    return [(ex.en, ex.fr) for ex in examples]


@dataclass(frozen=True)
class Splits:
    """Train and test sets for the translation chapter.

    ``train``, ``iid`` and ``novel`` are lists of (English, French) pairs, no
    English sentence twice in all three together. ``iid`` has unseen sentences
    built only from combinations seen in training; every ``novel`` sentence
    contains at least one ``held_out`` (adjective, noun) combination, which no
    training sentence contains. ``examples`` has the same three lists as
    :class:`Example` s, with their phenomena.
    """
    train: list
    iid: list
    novel: list
    held_out: frozenset
    examples: dict = field(repr=False)


def _choose_held_out(rng, n_held_out):
    """Up to ``n_held_out`` combinations to hold out, chosen so that training
    still shows every part of each one: at most one per noun and two per
    adjective; the adjective keeps at least four partners and the noun at least
    two; and where the adjective agrees in gender, the noun keeps another
    adjective on the same side of it that agrees too (so that *la femme ...*
    has been seen with some feminine adjective after it)."""
    combos = all_combos()
    rng.shuffle(combos)
    partners = {}
    for adj, noun in combos:
        partners[adj] = partners.get(adj, 0) + 1
    held, per_noun, per_adj = set(), set(), {}

    def fair(adj, noun):
        a = ADJECTIVES[adj]
        others = [ADJECTIVES[o] for o, n in combos if n == noun and o != adj]
        if len(others) < 2 or partners[adj] - per_adj.get(adj, 0) < 4:
            return False
        return not a.agrees or any(o.before == a.before and o.agrees
                                   for o in others)

    for adj, noun in combos:
        if len(held) == n_held_out:
            break
        if noun in per_noun or per_adj.get(adj, 0) >= 2 or not fair(adj, noun):
            continue
        held.add((adj, noun))
        per_noun.add(noun)
        per_adj[adj] = per_adj.get(adj, 0) + 1
    return frozenset(held)


def make_splits(seed=0, n_train=20000, n_iid=1000, n_novel=1000,
                n_held_out=16) -> Splits:
    """Training sentences, an "iid" test set and a "novel" (compositional) test
    set.

    ``n_held_out`` adjective-noun combinations, drawn with ``seed``, never
    appear in ``train`` or ``iid`` (neither in English nor in French);
    ``novel`` sentences each contain at least one. Training still shows every
    part of each held-out combination (see :func:`_choose_held_out`), so the
    novel set asks the model to combine what it has seen, not to guess what it
    has not.
    """
    rng = random.Random(f"en_fr-splits:{seed}")
    held_out = _choose_held_out(rng, n_held_out)
    seen = _Sampler(exclude=held_out)
    train = seen.examples(rng, n_train, unique=True)
    train_en = {ex.en for ex in train}
    iid = seen.examples(rng, n_iid, unique=True, skip=train_en)
    novel = _Sampler(require=held_out).examples(rng, n_novel, unique=True)
    examples = {"train": train, "iid": iid, "novel": novel}
    pairs = {k: [(ex.en, ex.fr) for ex in v] for k, v in examples.items()}
    return Splits(pairs["train"], pairs["iid"], pairs["novel"], held_out,
                  examples)


# -----------------------------------------------------------------------------
# Showing the data
# -----------------------------------------------------------------------------


def find_examples(phenomenon, n=3, seed=0, *, max_tries=200000):
    """``n`` random examples that show ``phenomenon`` (a key of
    :data:`PHENOMENA`)."""
    if phenomenon not in PHENOMENA:
        raise ValueError(f"unknown phenomenon {phenomenon!r}; see PHENOMENA")
    rng = random.Random(f"en_fr-find:{phenomenon}:{seed}")
    sampler, found = _Sampler(), []
    for _ in range(max_tries):
        ex = _render(*sampler.structure(rng))
        if phenomenon in ex.phenomena:
            found.append(ex)
            if len(found) == n:
                break
    return found


def example(phenomenon, seed=0) -> Example:
    """One random example that shows ``phenomenon``."""
    return find_examples(phenomenon, 1, seed)[0]


def showcase() -> dict:
    """A hand-picked example for every phenomenon of :data:`PHENOMENA`, in that
    order."""
    cases = {
        "elision": sentence("i", "love", NP("school")),
        "gender": sentence(NP("door", "my", adj="old"), "be", "white"),
        "plural": sentence(NP("horse", plural=True), "eat",
                           NP("apple", "a", plural=True)),
        "irregular_plural": sentence(NP("animal", plural=True), "see",
                                     NP("bird", "my", True)),
        "adj_after": sentence(NP("cat", adj="black"), "eat", NP("fish")),
        "adj_before": sentence(NP("girl", adj="young"), "read",
                               NP("book", "a", adj="good")),
        "bel_vieil_nouvel": sentence(NP("man", adj="old"), "see",
                                     NP("tree", "a", adj="beautiful")),
        "des_to_de": sentence("we", "have", NP("cat", "a", True, "small")),
        "cet": sentence(NP("child", "this"), "eat", NP("egg")),
        "mon_vowel": sentence("he", "go to", NP("school", "my")),
        "his_her": sentence("she", "look for", NP("bag", "her")),
        "irregular_verb": sentence("we", "drink", NP("water")),
        "negation": sentence(NP("boy"), "love", NP("cake"), negated=True),
        "negative_de": sentence("i", "have", NP("orange", "a"), negated=True),
        "object_pronoun": sentence("she", "see", "him", negated=True),
        "possessive": sentence(NP("dog", adj="white", owner=NP("girl")),
                               "drink", NP("milk")),
        "contraction": sentence(NP("cat", owner=NP("boy")), "go to",
                                NP("garden")),
        "question": sentence("he", "know", NP("woman"), question=True),
        "phrasal_verb": sentence(NP("dog"), "wait for", "us"),
        "presentative": sentence("this", "be", NP("cat", "a"), negated=True),
        "predicative": sentence(NP("girl", plural=True), "be", "happy"),
        "reorder": sentence("they", "know", "her"),
    }
    return {name: cases[name] for name in PHENOMENA}


def detokenize(text, lang="en"):
    """Tokenised text -> printed text: *l' homme* -> *l'homme*, *girl 's* ->
    *girl's*, no space before "." (nor before "?" in English; French keeps it).
    """
    out = ""
    for tok in text.split():
        if not out or out.endswith("'") and lang == "fr":
            out += tok
        elif (tok in ("'s", "'") and lang == "en" or tok == "."
              or tok == "?" and lang == "en"):
            out += tok
        else:
            out += " " + tok
    return out


def vocabulary(pairs):
    """(English word types, French word types) of a list of pairs, as sets."""
    en, fr = set(), set()
    for e, f in pairs:
        en.update(e.split())
        fr.update(f.split())
    return en, fr


def mean_length(pairs):
    """(mean English length, mean French length) in tokens, punctuation
    included."""
    n = max(len(pairs), 1)
    return (sum(len(e.split()) for e, _ in pairs) / n,
            sum(len(f.split()) for _, f in pairs) / n)
