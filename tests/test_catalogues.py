"""Every catalogue names a mistake only when the answer is that mistake.

For every exercise's own cases (the ones a learner and the grader see):

- every mistake with a model changes the result on at least one case, so it can be caught;
- a look-alike (the mistake's result on one case, the right result on the others where the mistake
  differs) is not given that mistake's name, but the plain message;
- a mistake recognised by a predicate does not fire on the right answer on some case.
"""

import dataclasses
import warnings

import numpy as np
import pytest

from attnbook.checks import EXERCISES, CheckFailure
from attnbook.checks.core import _takes_keywords, seeded

MODEL_MISTAKES = [(ex_id, m.key) for ex_id, ex in EXERCISES.items() for m in ex.mistakes if m.model]
DETECT_MISTAKES = [(ex_id, m.key) for ex_id, ex in EXERCISES.items() for m in ex.mistakes if m.detect]


def mistake(ex_id, key):
    return next(m for m in EXERCISES[ex_id].mistakes if m.key == key)


def outcomes(ex, fn):
    """``fn``'s prepared result on each of the exercise's own cases (or the error it raised)."""
    results = []
    with warnings.catch_warnings(), np.errstate(all="ignore"), seeded(ex.seed):
        warnings.simplefilter("ignore")
        for case in ex.make_cases():
            try:
                results.append(("value", ex._prepare_expected(ex._apply(fn, case), case)))
            except Exception as exc:  # noqa: BLE001
                results.append(("error", type(exc).__name__))
    return results


def differing_cases(ex, key):
    """Indices of the cases on which the mistake's model differs from the reference."""
    m = mistake(ex.id, key)
    cases = ex.make_cases()
    ref, bad = outcomes(ex, ex.reference), outcomes(ex, m.model)
    return [i for i, (r, b) in enumerate(zip(ref, bad))
            if b[0] == "error" or not ex._same(b[1], r[1], cases[i], m.tolerance)]


@pytest.mark.parametrize("ex_id,key", MODEL_MISTAKES)
def test_every_mistake_changes_the_result_on_some_case(ex_id, key):
    assert differing_cases(EXERCISES[ex_id], key), (
        f"{ex_id}: the mistake {key!r} gives the right result on every case, so no case can catch it")


@pytest.mark.parametrize("ex_id,key", MODEL_MISTAKES)
def test_a_look_alike_is_not_named(ex_id, key):
    ex = EXERCISES[ex_id]
    differ = differing_cases(ex, key)
    if len(differ) < 2:
        pytest.skip("the mistake differs on one case only: no look-alike is possible")
    model = mistake(ex_id, key).model
    calls = iter(range(10**6))

    def look_alike(*args, **kwargs):  # the mistake on its first differing case, right elsewhere
        fn = model if next(calls) == differ[0] else ex.reference
        if _takes_keywords(fn, kwargs):
            return fn(*args, **kwargs)
        return fn(*args, *kwargs.values())  # a model's own name for them (t)

    plain = dataclasses.replace(ex, call=None, forbidden=[])
    with pytest.raises(CheckFailure) as info:
        plain.run(look_alike, quiet=True)
    assert info.value.mistake != key, f"{ex_id}: a look-alike was told {info.value.message!r}"
    assert "unexpected keyword" not in info.value.message, info.value.message


@pytest.mark.parametrize("ex_id,key", DETECT_MISTAKES)
def test_a_predicate_tells_the_mistake_from_the_right_answer(ex_id, key):
    """A predicate fires on the right answer only where the mistake gives the right result too;
    on some case it must not fire, or it could never tell them apart."""
    ex = EXERCISES[ex_id]
    m = mistake(ex_id, key)
    cases = ex.make_cases()
    fired = []
    for case, (kind, expected) in zip(cases, outcomes(ex, ex.reference)):
        assert kind == "value"
        try:
            fired.append(ex._detects(m, case, expected, expected))
        except Exception:  # noqa: BLE001  a predicate that cannot judge this result does not fire
            fired.append(False)
    assert not all(fired), f"{ex_id}: {key!r} fires on the right answer on every case"
