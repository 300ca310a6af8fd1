"""The checker survives bad answers: every one ends in a clear CheckFailure, never a crash."""

import time

import numpy as np
import pytest

from attnbook.checks import EXERCISES, CheckFailure, NotAttempted, check, hint, hint_text
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
    assert lines[0].startswith("\u2718 ex-01-2:")
    assert all(len(line) <= 79 for line in lines), "the message wraps to the page"
    assert " ".join(line.strip() for line in lines) == " ".join(f"\u2718 ex-01-2: {exc.message}".split())


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
    (lambda s, temperature=1.0: 1 / 0, r"raised ZeroDivisionError: division by zero for scores of shape"),
    (lambda s, temperature=1.0: None, r"got None \(did you forget to return\?\)"),
    (lambda s, temperature=1.0: "weights", r"should be numbers, got a str"),
    (lambda s, temperature=1.0: np.zeros(3), r"has shape \(3,\), expected \(4,\)"),
    (lambda s, temperature=1.0: np.full(np.shape(s), np.nan), r"contains NaN"),
    (lambda s, temperature=1.0: np.full(np.shape(s), np.inf), r"contains infinity"),
    (lambda s, temperature=1.0: np.full(np.shape(s), 1.0 / np.shape(s)[-1]), r"differs from the expected values"),
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


def test_inputs_are_the_same_on_every_run():
    """One answer, one verdict: the cases come from the exercise id."""
    seen = []

    def spy(scores, temperature=1.0):
        seen.append(np.array(scores, copy=True))
        x = np.asarray(scores, float) / temperature
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    np.random.seed(123)
    run_check("ex-01-1", spy)
    first = list(seen)
    seen.clear()
    np.random.seed(456)                      # the notebook's own generators do not matter
    run_check("ex-01-1", spy)
    assert len(first) == len(seen) and all(np.array_equal(a, b) for a, b in zip(first, seen))
    assert len({a.shape for a in first}) >= 3, "several shapes"
    seen.clear()
    run_check("ex-01-1", spy, seed=7)        # tests can draw other cases
    assert not np.array_equal(first[0], seen[0])


def test_a_check_seeds_the_global_generators_and_restores_them():
    import random

    import torch

    draws = []

    def noisy(scores, temperature=1.0):      # uses every global generator, as dropout would
        draws.append((random.random(), np.random.rand(), float(torch.rand(1))))
        raise ValueError("no")

    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    before = (random.random(), np.random.rand(), float(torch.rand(1)))
    for seed in (1, 2):
        random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
        with pytest.raises(CheckFailure):
            check("ex-01-1", noisy)
    assert len({d for d in draws}) == len(draws) // 2, "the same draws on both runs"
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with pytest.raises(CheckFailure):
        check("ex-01-1", noisy)
    assert (random.random(), np.random.rand(), float(torch.rand(1))) == before, "states restored"


def test_no_warnings_escape_from_wrong_answers(recwarn):
    with pytest.raises(CheckFailure):
        check("ex-01-1", lambda s, temperature=1.0: np.exp(np.asarray(s)) / np.exp(np.asarray(s)).sum(-1, keepdims=True))
    assert len(recwarn) == 0


def test_hints_are_graded(capsys):
    ex = EXERCISES["ex-01-3"]
    texts = []
    for _ in range(len(ex.hints) + 1):
        assert hint("ex-01-3") is None, "hint() prints; it returns nothing, so it shows once"
        texts.append(capsys.readouterr().out.rstrip("\n"))
    assert texts[0].startswith(f"Hint 1 of {len(ex.hints)} for ex-01-3")
    assert texts[1].startswith(f"Hint 2 of {len(ex.hints)}")
    assert texts[-1] == texts[-2] and "last hint" in texts[-1]
    assert all(len(line) <= 79 for text in texts for line in text.splitlines())
    assert hint_text("ex-01-3", level=1) == texts[0]


def test_code_hints_show_as_code():
    from attnbook.checks import Code

    text = str(Code("x = 1\nreturn x"))
    assert text.splitlines()[1:] == ["    x = 1", "    return x"]


@pytest.mark.parametrize("chapter", sorted({ex.chapter for ex in EXERCISES.values()}))
def test_every_check_is_fast_on_a_correct_answer(chapter):
    """Each check runs in under a second on a correct answer (one thread): a learner
    waits that long, and nbgrader as long again for the hidden test."""
    import importlib

    correct = importlib.import_module(f"test_checks_ch{chapter:02d}").CORRECT
    for ex_id, answers in correct.items():
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


# --------------------------------------------------------------------------- one verdict, the right name


def _toy(mistakes, cases=None, **options):
    """An exercise on three fixed cases: the answer should double its input."""
    from attnbook.checks.core import Case, Exercise

    sizes = cases or [3, 1, 5]
    return Exercise(id="ex-00-3", title="doubling", chapter=0, points=1, function="double",
                    reference=lambda x: 2 * x, mistakes=mistakes,
                    cases=lambda rng: [Case({"x": rng.normal(size=n)}, f"{n} numbers") for n in sizes],
                    **options)


def test_a_mistake_is_named_when_the_answer_behaves_like_it_on_every_case():
    from attnbook.checks.core import Mistake

    ex = _toy([Mistake("tripled", "you tripled", model=lambda x: 3 * x)])
    with pytest.raises(CheckFailure) as info:
        ex.run(lambda x: 3 * x, quiet=True)
    assert info.value.mistake == "tripled" and info.value.message == "you tripled"


def test_a_look_alike_gets_the_smallest_failing_case_not_the_name():
    """Like the mistake on one case, unlike it on another: say what differs, plainly."""
    from attnbook.checks.core import Mistake

    ex = _toy([Mistake("tripled", "you tripled", model=lambda x: 3 * x)])
    calls = iter(range(100))

    def look_alike(x):                       # triples the first case, squares the others
        return 3 * x if next(calls) == 0 else x * x

    with pytest.raises(CheckFailure) as info:
        ex.run(look_alike, quiet=True)
    exc = info.value
    assert exc.mistake is None
    # the smallest failing case is the one with a single number: expected against got
    assert exc.message.startswith("for x of shape (1,) (1 numbers): your result (shape (1,)) differs")
    assert "expected [" in exc.message and "got [" in exc.message


def test_a_mistake_that_raises_where_the_answer_raises_is_still_named():
    """A mistake can break on some inputs (a broadcasting error): so does the answer."""
    from attnbook.checks.core import Mistake

    def model(x):
        if x.size == 5:
            raise ValueError("operands could not be broadcast together")
        return 3 * x

    ex = _toy([Mistake("tripled", "you tripled", model=model)])
    with pytest.raises(CheckFailure) as info:
        ex.run(lambda x: model(x), quiet=True)
    assert info.value.mistake == "tripled"
    with pytest.raises(CheckFailure) as info:        # raises where the mistake does not
        ex.run(lambda x: 3 * x if x.size == 5 else (_ for _ in ()).throw(ValueError("x")), quiet=True)
    assert info.value.mistake is None and "raised ValueError" in info.value.message


def test_a_detected_mistake_must_hold_on_every_failing_case():
    from attnbook.checks.core import Mistake

    ex = _toy([Mistake("negative", "your numbers are negative",
                       detect=lambda r, c: bool(np.all(np.asarray(r) == -2 * c.args["x"])))])
    with pytest.raises(CheckFailure) as info:
        ex.run(lambda x: -2 * x, quiet=True)
    assert info.value.mistake == "negative"
    calls = iter(range(100))
    with pytest.raises(CheckFailure) as info:
        ex.run(lambda x: -2 * x if next(calls) == 0 else 2 * x + 1, quiet=True)
    assert info.value.mistake is None


def test_the_first_failing_case_is_not_what_decides():
    """An answer right on the first case and wrong later is still judged on all cases."""
    from attnbook.checks.core import Mistake

    ex = _toy([Mistake("tripled", "you tripled", model=lambda x: 3 * x)], cases=[1, 3, 5])
    calls = iter(range(100))
    with pytest.raises(CheckFailure) as info:        # right on the first case, tripled on the others
        ex.run(lambda x: 2 * x if next(calls) == 0 else 3 * x, quiet=True)
    assert info.value.mistake is None, "right on one case where the mistake differs: not that mistake"


def test_messages_read_as_a_person_writes_them():
    from attnbook.checks.core import Case, describe

    case = Case({"n": 3, "bias": True, "norm_first": False, "t": 0.5, "ids": [1, 2]})
    assert case.describe() == "n=3, bias=True, norm_first=False, t=0.5, ids=[1, 2]"
    assert describe(3) == "an int (3)" and describe(2.5) == "a float (2.5)"
    assert describe((1, 2)) == "a pair" and describe((1, 2, 3)) == "a tuple of 3 items"
    assert describe(True) == "the bool True"


def test_a_pair_is_asked_for_by_its_names():
    ex = EXERCISES["ex-01-4"]
    exc = failure("ex-01-4", lambda q, k, v, temperature=1.0: np.zeros(3))
    assert "expected a pair" in exc.message and "of 2 values" not in exc.message
    assert ex.outputs is None or "(output, weights)" in exc.message


def test_arguments_the_text_names_are_passed_by_keyword():
    from attnbook.checks.core import Case, Exercise

    ex = Exercise(id="ex-00-4", title="keywords", chapter=0, points=1, function="scale",
                  reference=lambda x, factor: factor * x,
                  cases=lambda rng: [Case({"x": rng.normal(size=3), "factor": 2.0})],
                  keywords=("factor",))
    assert ex.run(lambda x, *, factor: factor * x, quiet=True) == 1
    with pytest.raises(CheckFailure, match="raised TypeError"):
        ex.run(lambda x, scale: scale * x, quiet=True)


def test_a_model_is_called_by_its_own_argument_names():
    """A mistake's model may call the temperature t: it still names the mistake, and an
    answer that cannot take the text's keyword is told so, not given that name."""
    from attnbook.checks.core import Case, Exercise, Mistake

    ex = Exercise(id="ex-00-5", title="keywords", chapter=0, points=1, function="scale",
                  reference=lambda x, factor=1.0: x / factor,
                  mistakes=[Mistake("multiplied", "you multiplied", model=lambda x, f=1.0: x * f)],
                  cases=lambda rng: [Case({"x": rng.normal(size=3), "factor": 2.0}),
                                     Case({"x": rng.normal(size=2), "factor": 4.0})],
                  keywords=("factor",))
    with pytest.raises(CheckFailure) as info:
        ex.run(lambda x, factor=1.0: x * factor, quiet=True)
    assert info.value.mistake == "multiplied"
    with pytest.raises(CheckFailure) as info:
        ex.run(lambda x, f=1.0: x * f, quiet=True)
    assert info.value.mistake is None and "factor" in info.value.message


def test_an_answer_that_raises_otherwise_than_the_model_is_not_named():
    from attnbook.checks.core import Mistake

    def model(x):
        if x.size == 5:
            raise ValueError("operands could not be broadcast together")
        return 3 * x

    def answer(x):
        if x.size == 5:
            raise KeyError("x")
        return 3 * x

    ex = _toy([Mistake("tripled", "you tripled", model=model)])
    with pytest.raises(CheckFailure) as info:
        ex.run(answer, quiet=True)
    assert info.value.mistake is None and "raised KeyError" in info.value.message


def test_contracts_hold_the_exercise_to_its_words():
    import torch

    from attnbook.checks.core import Case, Exercise, python_int, python_number, tensor_of

    def toy(contract, reference):
        return Exercise(id="ex-00-5", title="kinds", chapter=0, points=1, function="f",
                        reference=reference, cases=lambda rng: [Case({"n": 4})], contract=contract)

    assert toy(python_number, lambda n: n / 2).run(lambda n: n / 2, quiet=True) == 1
    with pytest.raises(CheckFailure, match="asks for a Python number.*torch tensor"):
        toy(python_number, lambda n: n / 2).run(lambda n: torch.tensor(n / 2), quiet=True)
    with pytest.raises(CheckFailure, match="asks for an int, got a float"):
        toy(python_int, lambda n: n // 2).run(lambda n: n / 2, quiet=True)
    ex = toy(tensor_of("int64"), lambda n: torch.arange(n))
    assert ex.run(lambda n: torch.arange(n), quiet=True) == 1
    with pytest.raises(CheckFailure, match="should have dtype int64, got float32"):
        ex.run(lambda n: torch.arange(n).float(), quiet=True)


@pytest.mark.parametrize("error,advice", [
    ("view size is not compatible with input tensor's size and stride", "contiguous"),
    ("mat1 and mat2 shapes cannot be multiplied (4x3 and 4x3)", "transpose(-2, -1)"),
    ("The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 1",
     "print their shapes"),
    ("operands could not be broadcast together with shapes (4,3) (4,)", "keepdims=True"),
])
def test_raw_errors_become_advice(error, advice):
    def answer(scores, temperature=1.0):
        raise RuntimeError(error)

    exc = failure("ex-01-1", answer)
    assert advice in exc.message
    if "broadcast" not in error:
        assert "keepdims" not in exc.message, "no NumPy advice for a torch error"


def test_fresh_copy_copies_like_deepcopy():
    import torch

    from attnbook.checks.core import fresh_copy

    t = torch.randn(3, 4, requires_grad=True)
    a = np.arange(6.0)
    p = torch.nn.Parameter(torch.ones(2))
    args = [t, (a, a), {"k": [t]}, p, 3, "x", None]
    out = fresh_copy(args)
    assert torch.equal(out[0], t) and out[0] is not t and out[0].requires_grad
    assert out[1][0] is out[1][1] and out[1][0] is not a, "an object met twice is copied once"
    assert out[2]["k"][0] is out[0]
    assert isinstance(out[3], torch.nn.Parameter) and out[3] is not p
    out[0].data.add_(1)
    out[1][0][0] = 99
    assert not torch.equal(out[0], t) and a[0] == 0, "the copies are independent"
    assert out[4:] == [3, "x", None]
