"""The machinery behind ``check()``: run a learner's function safely and say what went wrong.

An :class:`Exercise` knows how to make random inputs (its ``cases``), the right
answer (its ``reference``) and a catalogue of known :class:`Mistake` s. A check
calls the learner's function on every case, under a time limit, and compares:

1. the function raised ``NotImplementedError``: "not attempted yet";
2. it raised something else, took too long, or changed its inputs in place: say so;
3. its result matches the reference: next case;
4. its result matches a catalogued mistake: name that mistake;
5. otherwise: describe the difference (type, shape, NaN, the largest error).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

PASS_MARK = "\u2714"  # heavy check mark
FAIL_MARK = "\u2718"  # heavy ballot x


class CheckFailure(AssertionError):
    """A check did not pass.

    It is an ``AssertionError``, so a failing check cell scores zero under
    nbgrader; ``_render_traceback_`` makes Jupyter (and nbgrader's feedback)
    show the short message instead of a long traceback.
    """

    def __init__(self, exercise_id: str, message: str, mistake: str | None = None):
        self.exercise_id = exercise_id
        self.message = message
        self.mistake = mistake  # the key of the catalogued mistake, if one was recognised
        super().__init__(f"{exercise_id}: {message}")

    def _render_traceback_(self):
        return [f"{FAIL_MARK} {self.exercise_id}: {self.message}"]


class NotAttempted(CheckFailure):
    """The exercise still holds its stub (it raises ``NotImplementedError``)."""


class _Forbidden(BaseException):
    """Raised when the learner's code calls a function the exercise forbids."""


@contextlib.contextmanager
def forbid(names):
    """Within the block, calling any of the dotted ``names`` raises :class:`_Forbidden`."""
    patched = []
    try:
        for name in names:
            module_name, attr = name.rsplit(".", 1)
            module = importlib.import_module(module_name)

            def refuse(*args, _name=name, **kwargs):
                raise _Forbidden(_name)

            patched.append((module, attr, getattr(module, attr)))
            setattr(module, attr, refuse)
        yield
    finally:
        for module, attr, original in reversed(patched):
            setattr(module, attr, original)


class _OutOfTime(BaseException):
    """Raised inside the learner's code when the time limit is reached.

    A ``BaseException``, so that ``except Exception`` in the learner's code does
    not swallow it.
    """


def call_with_time_limit(func: Callable, args: tuple, seconds: float):
    """Call ``func(*args)``; raise :class:`_OutOfTime` if it runs longer than ``seconds``.

    Uses a SIGALRM timer, which interrupts pure-Python loops. Off the main
    thread (where signals cannot be used) the call runs without a limit.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return func(*args)

    def on_alarm(signum, frame):
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return func(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- values


def is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def as_array(x) -> np.ndarray:
    """NumPy view of an answer (NumPy array, torch tensor, list or number), as float64 when numeric."""
    if is_tensor(x):
        x = x.detach().cpu()
        if x.dtype.is_floating_point:
            x = x.double()
        x = x.numpy()
    arr = np.asarray(x)
    if arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64)
    return arr


def describe(value) -> str:
    """A short description of a value for messages: its type and shape."""
    if is_tensor(value):
        return f"a torch tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None:
        return "None (did you forget to return?)"
    return f"a {type(value).__name__}"


def same_value(a, b) -> bool:
    """True when two values are equal: arrays to their exact bits, other objects by ``==``."""
    if is_tensor(a) or is_tensor(b):
        if not (is_tensor(a) and is_tensor(b)):
            return False
        import torch

        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b) or (
            a.dtype.is_floating_point and bool(torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)))
        ))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return a is b


@dataclass
class Tolerance:
    rtol: float = 1e-4
    atol: float = 1e-5


def difference(answer, expected, tol: Tolerance, name: str = "result") -> str | None:
    """None when ``answer`` matches ``expected``; otherwise a sentence saying how it differs."""
    if isinstance(expected, tuple):
        if not isinstance(answer, (tuple, list)) or len(answer) != len(expected):
            return f"expected a pair of {len(expected)} values, got {describe(answer)}"
        for i, (a, e) in enumerate(zip(answer, expected)):
            why = difference(a, e, tol, name=f"item {i} of your result")
            if why:
                return why
        return None
    if is_tensor(expected) and not is_tensor(answer):
        return f"expected a torch tensor, got {describe(answer)}"
    try:
        a = as_array(answer)
    except Exception:
        return f"expected numbers, got {describe(answer)}"
    e = as_array(expected)
    if a.dtype.kind not in "fc" or a.dtype == object:
        return f"expected numbers, got {describe(answer)}"
    if a.shape != e.shape:
        return f"{name} has shape {a.shape}, expected {e.shape}"
    bad = np.isnan(a) & ~np.isnan(e)
    if bad.any():
        return f"{name} contains NaN (at index {tuple(int(i) for i in np.argwhere(bad)[0])})"
    bad = np.isinf(a) & ~np.isinf(e)
    if bad.any():
        return f"{name} contains infinity (at index {tuple(int(i) for i in np.argwhere(bad)[0])})"
    if np.allclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True):
        return None
    err = np.abs(np.nan_to_num(a - e))
    where = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape)) if err.ndim else ()
    return (f"{name} differs from the expected values: the largest difference is "
            f"{err.max():.3g}" + (f" (at index {where})" if where else ""))


def matches(answer, expected, tol: Tolerance) -> bool:
    return difference(answer, expected, tol) is None


# --------------------------------------------------------------------------- exercises


@dataclass
class Case:
    """One set of inputs; ``args`` are passed positionally, in order. ``note`` says what is special."""

    args: dict[str, Any]
    note: str = ""

    def describe(self) -> str:
        parts = []
        for name, value in self.args.items():
            if isinstance(value, np.ndarray) or is_tensor(value):
                parts.append(f"{name} of shape {tuple(value.shape)}")
            elif isinstance(value, (int, float)):
                parts.append(f"{name}={value:g}")
        text = ", ".join(parts)
        return f"{text} ({self.note})" if self.note else text


@dataclass
class Mistake:
    """A known wrong answer, recognised by a ``model`` (a wrong implementation whose
    result the learner's matches) or by a ``detect(result, case)`` predicate."""

    key: str
    message: str
    model: Callable | None = None
    detect: Callable | None = None

    def recognises(self, result, case: Case, tol: Tolerance) -> bool:
        try:
            if self.model is not None:
                return matches(result, self.model(*copy.deepcopy(list(case.args.values()))), tol)
            if self.detect is not None:
                # predicates judge well-formed results only: NaN or infinity has its own message
                values = as_array(result)
                return bool(np.all(np.isfinite(values)) and self.detect(result, case))
        except Exception:
            return False
        return False


@dataclass
class Exercise:
    """One graded exercise: what it asks, how to test it, and how to help."""

    id: str
    title: str
    chapter: int
    points: int
    function: str                      # the name of the function the learner writes
    reference: Callable
    cases: Callable[[np.random.Generator], list[Case]]
    mistakes: list[Mistake] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    tolerance: Tolerance = field(default_factory=Tolerance)
    time_limit: float = 5.0            # seconds for the whole check
    forbidden: list[str] = field(default_factory=list)  # e.g. "torch.nn.functional.scaled_dot_product_attention"
    # How to use the answer on a case: ``call(answer, *args)``. The default calls ``answer(*args)``;
    # an exercise whose answer is a class (an nn.Module) builds it here, copies weights, runs forward.
    call: Callable | None = None

    def fail(self, message: str, mistake: str | None = None):
        raise CheckFailure(self.id, message, mistake)

    def run(self, answer, seed: int | None = None, quiet: bool = False) -> int:
        """Check ``answer``; print a tick and return the number of cases, or raise CheckFailure."""
        if not callable(answer):
            self.fail(f"pass your function itself, e.g. check({self.id!r}, {self.function}); "
                      f"got {describe(answer)}")
        rng = np.random.default_rng(seed)
        cases = self.cases(rng)
        deadline = time.perf_counter() + self.time_limit
        # Wrong answers overflow and divide by zero; the message says so, warnings would only add noise
        # (and any output on stderr costs the cell its points under nbgrader).
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            self._run_cases(answer, cases, deadline)
        if not quiet:
            print(f"{PASS_MARK} {self.id} {self.title}: passed on {len(cases)} random cases.")
        return len(cases)

    def _run_cases(self, answer, cases: list[Case], deadline: float) -> None:
        for case in cases:
            result = self._call(answer, case, deadline)
            expected = self.reference(*copy.deepcopy(list(case.args.values())))
            why = difference(result, expected, self.tolerance)
            if why is None:
                continue
            for mistake in self.mistakes:
                if mistake.recognises(result, case, self.tolerance):
                    self.fail(mistake.message, mistake.key)
            self.fail(f"for {case.describe()}, {why}.")

    def _call(self, answer, case: Case, deadline: float):
        args = copy.deepcopy(list(case.args.values()))
        before = copy.deepcopy(args)
        remaining = max(0.05, deadline - time.perf_counter())
        try:
            invoke = answer if self.call is None else (lambda *a: self.call(answer, *a))
            with forbid(self.forbidden):
                result = call_with_time_limit(invoke, tuple(args), remaining)
        except _Forbidden as exc:
            self.fail(f"this exercise asks you to build it yourself: your function called {exc.args[0]}. "
                      f"Use it afterwards to test your own version.", "forbidden-builtin")
        except NotImplementedError:
            raise NotAttempted(
                self.id, f"not attempted yet: replace `raise NotImplementedError()` in "
                         f"`{self.function}` with your code, then run this cell again.") from None
        except _OutOfTime:
            self.fail(f"your function did not finish within {self.time_limit:g} s "
                      f"(for {case.describe()}). Is there a loop that never ends?")
        except CheckFailure:
            raise
        except RecursionError:
            self.fail(f"your function called itself without end (RecursionError) for {case.describe()}.")
        except Exception as exc:  # any error in the learner's code becomes a message, not a crash
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            advice = ""
            if "broadcast" in text or "must match the size" in text:
                advice = " Check which axis each operation runs over (keepdims=True keeps shapes aligned)."
            self.fail(f"your function raised {type(exc).__name__}"
                      f"{': ' + text[:300] if text else ''} for {case.describe()}.{advice}")
        for name, old, new in zip(case.args, before, args):
            if not same_value(old, new):
                self.fail(f"your function changed its input `{name}` in place; "
                          f"work on a copy (or use operations that return new arrays).",
                          "mutates-input")
        return result
