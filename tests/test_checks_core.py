"""The checker survives bad answers: every one ends in a clear CheckFailure, never a crash."""

import time

import numpy as np
import pytest

from attnbook.checks import EXERCISES, CheckFailure, NotAttempted, check, hint
from attnbook.checks.core import call_with_time_limit, _OutOfTime
from checkkit import failure, run_check


def test_registry_contract():
    assert list(EXERCISES) == sorted(EXERCISES, key=lambda i: (int(i.split("-")[1]), int(i.split("-")[2])))
    for ex_id, ex in EXERCISES.items():
        assert ex.id == ex_id
        assert isinstance(ex.title, str) and ex.title
        assert isinstance(ex.chapter, int) and ex_id.startswith(f"ex-{ex.chapter:02d}-")
        assert isinstance(ex.points, int) and ex.points > 0
        assert len(ex.hints) >= 2, f"{ex_id}: graded hints, at least two"
        assert len({m.key for m in ex.mistakes}) == len(ex.mistakes), f"{ex_id}: duplicate mistake keys"


def test_pass_prints_one_line_with_a_tick(capsys):
    check("ex-01-2", lambda w, v: np.asarray(w) @ np.asarray(v))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("\u2714 ex-01-2")


def test_failure_is_an_assertion_error_with_a_short_traceback():
    exc = failure("ex-01-2", lambda w, v: np.asarray(v).mean(0))
    assert isinstance(exc, AssertionError)
    lines = exc._render_traceback_()
    assert len(lines) == 1 and lines[0].startswith("\u2718 ex-01-2:")


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(CheckFailure, match="no exercise called 'ex-99-9'.*ex-01-1"):
        check("ex-99-9", print)


def test_not_a_function():
    with pytest.raises(CheckFailure, match="pass your function itself"):
        check("ex-01-1", 42)


def test_not_attempted():
    def softmax_with_temperature(scores, temperature=1.0):
        # YOUR CODE HERE
        raise NotImplementedError()

    with pytest.raises(NotAttempted, match="not attempted yet.*softmax_with_temperature"):
        check("ex-01-1", softmax_with_temperature)


@pytest.mark.parametrize("answer,pattern", [
    (lambda s, t=1.0: 1 / 0, r"raised ZeroDivisionError: division by zero for scores of shape"),
    (lambda s, t=1.0: None, r"got None \(did you forget to return\?\)"),
    (lambda s, t=1.0: "weights", r"expected numbers, got a str"),
    (lambda s, t=1.0: np.zeros(3), r"has shape \(3,\), expected \(6,\)"),
    (lambda s, t=1.0: np.full(np.shape(s), np.nan), r"contains NaN"),
    (lambda s, t=1.0: np.full(np.shape(s), np.inf), r"contains infinity"),
    (lambda s, t=1.0: np.full(np.shape(s), 1.0 / np.shape(s)[-1]), r"differs from the expected values"),
])
def test_bad_answers_get_clear_messages(answer, pattern):
    with pytest.raises(CheckFailure, match=pattern) as info:
        check("ex-01-1", answer)
    assert not isinstance(info.value, NotAttempted)


def test_endless_loop_is_stopped():
    def forever(scores, temperature=1.0):
        while True:
            pass

    started = time.perf_counter()
    with pytest.raises(CheckFailure, match="did not finish within"):
        check("ex-01-1", forever)
    assert time.perf_counter() - started < EXERCISES["ex-01-1"].time_limit + 2


def test_endless_loop_that_catches_exceptions_is_stopped():
    def stubborn(scores, temperature=1.0):
        while True:
            try:
                time.sleep(0.01)
            except Exception:
                pass

    with pytest.raises(CheckFailure, match="did not finish within"):
        check("ex-01-1", stubborn)


def test_time_limit_restores_the_previous_alarm_handler():
    import signal

    before = signal.getsignal(signal.SIGALRM)
    assert call_with_time_limit(lambda: 7, (), 1.0) == 7
    with pytest.raises(_OutOfTime):
        call_with_time_limit(time.sleep, (2,), 0.1)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_endless_recursion():
    def recurse(scores, temperature=1.0):
        return recurse(scores, temperature)

    with pytest.raises(CheckFailure, match="RecursionError"):
        check("ex-01-1", recurse)


def test_answer_that_changes_its_input_in_place():
    def in_place(scores, temperature=1.0):
        scores -= np.max(scores, axis=-1, keepdims=True)
        scores /= temperature
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        return scores

    exc = failure("ex-01-1", in_place)
    assert exc.mistake == "mutates-input" and "`scores` in place" in exc.message


def test_answer_that_raises_checkfailure_itself_is_reported_not_crashed():
    def sneaky(scores, temperature=1.0):
        check("ex-99-9", None)

    with pytest.raises(CheckFailure):
        check("ex-01-1", sneaky)


def test_inputs_are_fresh_random_each_run():
    seen = []

    def spy(scores, temperature=1.0):
        seen.append(np.array(scores, copy=True))
        x = np.asarray(scores, float) / temperature
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    run_check("ex-01-1", spy)
    first = list(seen)
    seen.clear()
    run_check("ex-01-1", spy)
    assert not np.array_equal(first[0], seen[0])
    assert len({a.shape for a in first}) >= 3, "several shapes"


def test_no_warnings_escape_from_wrong_answers(recwarn):
    with pytest.raises(CheckFailure):
        check("ex-01-1", lambda s, t=1.0: np.exp(np.asarray(s)) / np.exp(np.asarray(s)).sum(-1, keepdims=True))
    assert len(recwarn) == 0


def test_hints_are_graded(capsys):
    ex = EXERCISES["ex-01-3"]
    texts = [hint("ex-01-3") for _ in range(len(ex.hints) + 1)]
    assert texts[0].startswith(f"Hint 1 of {len(ex.hints)} for ex-01-3")
    assert texts[1].startswith(f"Hint 2 of {len(ex.hints)}")
    assert texts[-1] == texts[-2] and "last hint" in texts[-1]
    assert hint("ex-01-3", level=1) == texts[0]


def test_every_check_is_fast_on_a_correct_answer():
    """Each check runs in well under a second on a correct answer."""
    from test_checks_ch01 import CORRECT

    for ex_id, answers in CORRECT.items():
        started = time.perf_counter()
        run_check(ex_id, answers[0])
        assert time.perf_counter() - started < 1.0, ex_id


def test_forbidden_builtin_is_refused_and_restored():
    from attnbook.checks.core import Case, Exercise

    ex = Exercise(id="ex-00-1", title="norm by hand", chapter=0, points=1, function="norm",
                  reference=lambda x: np.sqrt((x * x).sum()),
                  cases=lambda rng: [Case({"x": rng.normal(size=4)})],
                  forbidden=["numpy.linalg.norm"])
    original = np.linalg.norm
    with pytest.raises(CheckFailure, match="build it yourself: your function called numpy.linalg.norm") as info:
        ex.run(lambda x: np.linalg.norm(x))
    assert info.value.mistake == "forbidden-builtin"
    assert np.linalg.norm is original
    assert ex.run(lambda x: np.sqrt(np.dot(x, x)), quiet=True) == 1


def test_an_exercise_can_say_how_to_use_a_class_answer():
    from attnbook.checks.core import Case, Exercise

    class Doubler:
        def __init__(self, factor):
            self.factor = factor

        def __call__(self, x):
            return self.factor * x

    ex = Exercise(id="ex-00-2", title="a class", chapter=0, points=1, function="Scaler",
                  reference=lambda x: 2 * x, cases=lambda rng: [Case({"x": rng.normal(size=3)})],
                  call=lambda cls, x: cls(2.0)(x))
    assert ex.run(Doubler, quiet=True) == 1
    with pytest.raises(CheckFailure, match="differs"):
        ex.run(lambda factor: (lambda x: x), quiet=True)

    def stub(factor):
        raise NotImplementedError()

    with pytest.raises(NotAttempted):
        ex.run(stub, quiet=True)
