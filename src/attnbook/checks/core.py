"""The machinery behind ``check()``: run a learner's answer, give one verdict.

An :class:`Exercise` knows its cases (inputs drawn from a generator seeded
by the exercise id, so the same on every run), the right answer (its
``reference``) and a catalogue of known :class:`Mistake` s. A check calls
the learner's function on every case, under a time limit, then decides:

1. the function raised ``NotImplementedError``: "not attempted yet";
2. it took too long, called a function the exercise forbids, changed its
   inputs in place, or returned the wrong kind of thing: say so at once;
3. it matches the reference on every case: a tick;
4. it behaves like one catalogued mistake on *every* case (equal to that
   mistake's model on every case, or showing the property a mistake's
   predicate describes on every case it fails): name that mistake;
5. otherwise: the smallest failing case, expected against got, and which
   part of the result differs (or the error it raised there).

The verdict depends on the answer alone: the cases are fixed, the random
number generators of Python, NumPy and PyTorch are seeded for the duration
of the check (and restored afterwards), and every case is always run.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import inspect
import random
import signal
import sys
import textwrap
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

PASS_MARK = "\u2714"  # heavy check mark
FAIL_MARK = "\u2718"  # heavy ballot x
#: Messages are wrapped to this width (a code cell of the book shows 79).
WIDTH = 79


class CheckFailure(AssertionError):
    """A check did not pass.

    It is an ``AssertionError``, so a failing check cell scores zero under
    nbgrader; ``_render_traceback_`` makes Jupyter (and nbgrader's
    feedback) show the short message, wrapped to the page, instead of a
    long traceback.
    """

    def __init__(self, exercise_id: str, message: str,
                 mistake: str | None = None):
        self.exercise_id = exercise_id
        self.message = message
        # the key of the catalogued mistake, if one was recognised
        self.mistake = mistake
        super().__init__(f"{exercise_id}: {message}")

    def _render_traceback_(self):
        return wrap(f"{FAIL_MARK} {self.exercise_id}: {self.message}")


class NotAttempted(CheckFailure):
    """The exercise still holds its stub (it raises NotImplementedError)."""


def wrap(text: str, width: int = WIDTH) -> list[str]:
    """``text`` as lines of at most ``width`` characters (continuations
    indented by two spaces); line breaks already in it are kept."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        if paragraph.startswith("    "):  # code in a hint: keep as it is
            lines.append(paragraph)
            continue
        lines += textwrap.wrap(paragraph, width, subsequent_indent="  ",
                               break_on_hyphens=False,
                               break_long_words=False) or [""]
    return lines


def stub_message(tb) -> str | None:
    """The one line shown when a cell runs a learner's function that is
    still a stub (``raise NotImplementedError()`` in code the notebook
    defines), or None for any other NotImplementedError."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    if not frames:
        return None
    code = frames[-1].f_code
    if not _in_notebook(code.co_filename):
        return None
    return (f"{FAIL_MARK} not attempted yet: `{code.co_name}` still raises "
            f"NotImplementedError(). Write it above, then run this cell "
            f"again.")


def _in_notebook(filename: str) -> bool:
    """True for the code of a notebook cell (IPython's names for it)."""
    return filename.startswith(("<ipython-input", "/tmp/ipykernel_")) or (
        "ipykernel_" in filename and filename.endswith(".py"))


def install_stub_message() -> None:
    """In IPython, show a stub's NotImplementedError as one short line
    instead of a traceback (any other error is shown as usual)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "_attnbook_stubs", False):
        return

    def handler(shell, etype, value, tb, tb_offset=None):
        line = stub_message(tb) if not value.args else None
        if line is None:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        else:
            shell._showtraceback(etype, value, wrap(line))
        return None

    shell.set_custom_exc((NotImplementedError,), handler)
    shell._attnbook_stubs = True


class _Forbidden(BaseException):
    """Raised when the learner's code calls a function the exercise
    forbids."""


@contextlib.contextmanager
def forbid(names):
    """Within the block, calling any of the dotted ``names`` raises
    :class:`_Forbidden`."""
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

    A ``BaseException``, so that ``except Exception`` in the learner's code
    does not swallow it.
    """


def call_with_time_limit(func: Callable, args: tuple, seconds: float,
                         kwargs: dict | None = None):
    """Call ``func(*args, **kwargs)``; raise :class:`_OutOfTime` if it runs
    longer than ``seconds``.

    Uses a SIGALRM timer, which interrupts pure-Python loops. Off the main
    thread (where signals cannot be used) the call runs without a limit.
    """
    kwargs = kwargs or {}
    if (threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "setitimer")):
        return func(*args, **kwargs)

    def on_alarm(signum, frame):
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return func(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fresh_copy(value, memo: dict | None = None):
    """A deep copy, made fast for what the cases hold: plain tensors and
    arrays are cloned, lists, tuples and dicts of them rebuilt; anything
    else goes to ``copy.deepcopy``. An object met twice is copied once, as
    ``deepcopy`` does."""
    memo = {} if memo is None else memo
    key = id(value)
    if key in memo:
        return memo[key]
    torch = sys.modules.get("torch")
    kind = type(value)
    if torch is not None and kind is torch.Tensor and value.is_leaf:
        out = value.detach().clone()
        out.requires_grad_(value.requires_grad)
    elif kind is np.ndarray and value.dtype != object:
        out = value.copy()
    elif kind in (list, tuple):
        out = kind(fresh_copy(v, memo) for v in value)
    elif kind is dict:
        out = {k: fresh_copy(v, memo) for k, v in value.items()}
    elif kind in (int, float, bool, str, type(None)):
        return value
    else:
        return copy.deepcopy(value, memo)
    memo[key] = out
    return out


def seed_of(exercise_id: str) -> int:
    """The seed of an exercise's cases: a fixed number made from its id."""
    digest = hashlib.sha256(exercise_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big")


@contextlib.contextmanager
def seeded(seed: int):
    """Seed Python's, NumPy's and (if loaded) PyTorch's global generators;
    put their states back afterwards, so a check never disturbs the
    notebook and a learner's use of them (dropout, np.random) is the same
    on every run."""
    torch = sys.modules.get("torch")
    saved_py, saved_np = random.getstate(), np.random.get_state()
    saved_torch = torch.random.get_rng_state() if torch else None
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if torch:
        torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(saved_py)
        np.random.set_state(saved_np)
        if torch is not None:
            torch.random.set_rng_state(saved_torch)


# ------------------------------------------------------------------ values


def is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def as_array(x) -> np.ndarray:
    """NumPy view of an answer (NumPy array, torch tensor, list or
    number), as float64 when numeric."""
    if is_tensor(x):
        x = x.detach().cpu()
        if x.dtype.is_floating_point:
            x = x.double()
        x = x.numpy()
    arr = np.asarray(x)
    if arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64)
    return arr


def article(word: str) -> str:
    """``word`` with "a" or "an" before it."""
    return f"an {word}" if word[:1].lower() in "aeio" else f"a {word}"


def describe(value) -> str:
    """A short description of a value for messages: its type and shape."""
    if is_tensor(value):
        dtype = str(value.dtype).replace("torch.", "")
        return (f"a torch tensor of shape {tuple(value.shape)} "
                f"(dtype {dtype})")
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape} (dtype {value.dtype})"
    if isinstance(value, tuple):
        return ("a pair" if len(value) == 2
                else f"a tuple of {len(value)} items")
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if value is None:
        return "None (did you forget to return?)"
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return f"{article(type(value).__name__)} ({format_number(value)})"
    return article(type(value).__name__)


def format_number(x) -> str:
    """A number as a person writes it: True/False, ints as ints, floats to
    four significant digits."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e6:
        return f"{int(x)}.0" if abs(x) < 1e4 else f"{x:g}"
    return f"{x:.4g}"


def preview(arr: np.ndarray, where: tuple = (), most: int = 6) -> str:
    """A few numbers of ``arr``: all of it when small, else the row (along
    the last axis) through index ``where``."""
    arr = np.asarray(arr)
    if arr.ndim == 0:
        return format_number(arr.item())
    if arr.size <= most:
        if arr.ndim == 1:
            return "[" + ", ".join(format_number(v) for v in arr) + "]"
        return "[" + ", ".join(preview(row) for row in arr) + "]"
    where = tuple(where) if where else (0,) * arr.ndim
    row = arr[where[:-1]] if arr.ndim > 1 else arr
    values = [format_number(v) for v in row]
    start = max(0, min(int(where[-1]) - most // 2, len(values) - most))
    text = ", ".join(values[start:start + most])
    text = ("..., " if start else "") + text
    text += ", ..." if start + most < len(values) else ""
    if arr.ndim == 1:
        return f"[{text}]"
    index = ", ".join(str(i) for i in where[:-1])
    return f"[{text}] (row [{index}, :])"


def same_value(a, b) -> bool:
    """True when two values are equal: arrays to their exact bits, other
    objects by ``==``."""
    if is_tensor(a) or is_tensor(b):
        if not (is_tensor(a) and is_tensor(b)):
            return False
        import torch

        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if torch.equal(a, b):
            return True
        return bool(a.dtype.is_floating_point and torch.equal(
            torch.nan_to_num(a), torch.nan_to_num(b)))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.shape == b.shape and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(
            same_value(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return a is b


@dataclass
class Tolerance:
    rtol: float = 1e-4
    atol: float = 1e-5


def _part_name(index: int, names) -> str:
    if names and index < len(names):
        return f"item {index} of your result ({names[index]})"
    return f"item {index} of your result"


def difference(answer, expected, tol: Tolerance, name: str = "your result",
               names: tuple | None = None) -> str | None:
    """None when ``answer`` matches ``expected``; otherwise a sentence
    saying how it differs (for tuples: which item, by ``names``)."""
    if isinstance(expected, tuple):
        kind = ("a pair" if len(expected) == 2
                else f"a tuple of {len(expected)} values")
        if names and len(names) == len(expected):
            kind += " (" + ", ".join(names) + ")"
        if (not isinstance(answer, (tuple, list))
                or len(answer) != len(expected)):
            return f"expected {kind}, got {describe(answer)}"
        for i, (a, e) in enumerate(zip(answer, expected)):
            why = difference(a, e, tol, name=_part_name(i, names))
            if why:
                return why
        return None
    if is_tensor(expected) and not is_tensor(answer):
        return f"{name} should be a torch tensor, got {describe(answer)}"
    try:
        a = as_array(answer)
    except Exception:
        return f"{name} should be numbers, got {describe(answer)}"
    e = as_array(expected)
    if a.dtype.kind not in "fc" or a.dtype == object:
        return f"{name} should be numbers, got {describe(answer)}"
    if a.shape != e.shape:
        return f"{name} has shape {a.shape}, expected {e.shape}"
    bad = np.isnan(a) & ~np.isnan(e)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        return (f"{name} contains NaN (at index {where}): got "
                f"{preview(a, where)}, expected {preview(e, where)}")
    bad = np.isinf(a) & ~np.isinf(e)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        return (f"{name} contains infinity (at index {where}): got "
                f"{preview(a, where)}, expected {preview(e, where)}")
    if np.allclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True):
        return None
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf
        err = np.abs(np.nan_to_num(a - e))
    where = (tuple(int(i) for i in np.unravel_index(int(np.argmax(err)),
                                                    err.shape))
             if err.ndim else ())
    at = f" at index {where}" if where else ""
    shape = f" (shape {e.shape})" if e.ndim else ""
    return (f"{name}{shape} differs from the expected values: expected "
            f"{preview(e, where)}, got {preview(a, where)}; the largest "
            f"difference is {err.max():.3g}{at}")


def matches(answer, expected, tol: Tolerance) -> bool:
    return difference(answer, expected, tol) is None


# --------------------------------------------------------------- contracts
# Small predicates an exercise can use as its ``contract``: each returns a
# message when the result breaks what the exercise text asks for.


def python_number(result, case=None) -> str | None:
    """The text asks for a Python number (not an array or a tensor)."""
    if isinstance(result, bool) or not isinstance(result, (int, float)):
        return (f"the exercise asks for a Python number (a float), got "
                f"{describe(result)}; turn a tensor into one with "
                f".item(), an array with float(...)")
    return None


def python_int(result, case=None) -> str | None:
    """The text asks for a Python int."""
    if isinstance(result, bool) or not isinstance(result, (int, np.integer)):
        return (f"the exercise asks for an int, got {describe(result)}; "
                f"count with integers (// for division), or int(...)")
    return None


def tensor_of(dtype_name: str, what: str = "your result"):
    """A contract: the result is a torch tensor of dtype ``dtype_name``
    ("float32", "int64", "bool", ...)."""
    def contract(result, case=None):
        values = result if isinstance(result, (tuple, list)) else [result]
        for value in values:
            if not is_tensor(value):
                return (f"{what} should be a torch tensor of dtype "
                        f"{dtype_name}, got {describe(value)}")
            if str(value.dtype).replace("torch.", "") != dtype_name:
                return (f"{what} should have dtype {dtype_name}, got "
                        f"{str(value.dtype).replace('torch.', '')}")
        return None
    return contract


# --------------------------------------------------------------- exercises


@dataclass
class Case:
    """One set of inputs, passed in order (by keyword for the names in the
    exercise's ``keywords``). ``note`` says what is special about it."""

    args: dict[str, Any]
    note: str = ""

    def describe(self) -> str:
        parts = []
        for name, value in self.args.items():
            if isinstance(value, np.ndarray) or is_tensor(value):
                parts.append(f"{name} of shape {tuple(value.shape)}")
            elif isinstance(value, (bool, int, float, np.number)):
                parts.append(f"{name}={format_number(value)}")
            elif (isinstance(value, (list, tuple))
                  and len(repr(value)) <= 40):
                parts.append(f"{name}={value!r}")
            elif value is None:
                parts.append(f"{name}=None")
        text = ", ".join(parts)
        return f"{text} ({self.note})" if self.note else text

    def size(self) -> int:
        """How big the case is (for showing the smallest failing one)."""
        total = 0
        for value in self.args.values():
            if isinstance(value, np.ndarray) or is_tensor(value):
                total += int(np.prod(tuple(value.shape)))
            elif isinstance(value, (list, tuple)):
                total += len(repr(value))
            else:
                total += 1
        return total


@dataclass
class Mistake:
    """A known wrong answer, recognised by a ``model`` (a wrong
    implementation that the learner's answer must match on every case) or
    by a ``detect(result, case)`` predicate (true on every failing case)."""

    key: str
    message: str
    model: Callable | None = None
    detect: Callable | None = None
    # how close to the model counts as behaving like it (default: the
    # exercise's tolerance); looser for a model that float32 cannot follow
    tolerance: Tolerance | None = None


@dataclass
class Code:
    """A hint that is code: the body of the exercise's function (or of the
    method ``method`` of its class). It is shown as code, and a test runs
    it in a copy of the exercise notebook."""

    body: str
    text: str = "For example:"
    method: str | None = None

    def __str__(self):
        code = textwrap.indent(textwrap.dedent(self.body).strip(), "    ")
        return f"{self.text}\n{code}"


@dataclass
class _Outcome:
    case: Case
    result: Any = None
    error: BaseException | None = None
    expected: Any = None
    why: str | None = None       # None: matches the reference


_ADVICE = [
    # (words in the error, advice): torch's and NumPy's raw errors, turned
    # into what to do
    ("view size is not compatible",
     "view() needs a contiguous tensor: after a transpose, call "
     ".contiguous() first, or use .reshape()."),
    ("cannot be multiplied",
     "The shapes of a matrix product do not line up: print the shapes of "
     "both sides; a transpose(-2, -1) may be missing."),
    ("must match the size of tensor",
     "Two tensors' shapes do not line up here: print their shapes; an "
     "axis may be missing (x[..., None] or keepdim=True) or swapped."),
    ("could not be broadcast",
     "Two arrays' shapes do not line up here: check which axis each "
     "operation runs over (keepdims=True keeps shapes aligned)."),
    ("expected scalar type", "Float32 and float64 are mixed: make new "
     "tensors with the input's dtype (dtype=x.dtype)."),
    ("same dtype", "Float32 and float64 are mixed: make new tensors with "
     "the input's dtype (dtype=x.dtype)."),
    ("only supports boolean masks", "The mask must be a bool tensor: "
     "compare (==, <) to make one, or .bool()."),
    ("same device", "The tensors are on different devices: make new ones "
     "with device=x.device."),
    ("positional argument", "Keep the arguments the exercise gives, with "
     "their names and in their order."),
    ("unexpected keyword argument", "Keep the arguments the exercise "
     "gives, with their names and in their order."),
]


def advice_for(error: BaseException) -> str:
    text = str(error)
    for words, advice in _ADVICE:
        if words in text:
            return " " + advice
    return ""


@dataclass
class Exercise:
    """One graded exercise: what it asks, how to test it, and how to help."""

    id: str
    title: str
    chapter: int
    points: int
    function: str                      # the name the learner writes
    reference: Callable
    cases: Callable[[np.random.Generator], list[Case]]
    mistakes: list[Mistake] = field(default_factory=list)
    hints: list = field(default_factory=list)   # str or Code
    tolerance: Tolerance = field(default_factory=Tolerance)
    time_limit: float = 5.0            # seconds for the whole check
    # e.g. "torch.nn.functional.scaled_dot_product_attention"
    forbidden: list[str] = field(default_factory=list)
    # How to use the answer on a case: ``call(answer, *args)``. The
    # default calls ``answer(*args)``; an exercise whose answer is a class
    # (an nn.Module) builds it here, copies weights, runs forward.
    call: Callable | None = None
    # Argument names the exercise text names, passed by keyword.
    keywords: tuple[str, ...] = ()
    # Names of the items of a tuple result, for messages.
    outputs: tuple[str, ...] | None = None
    # ``contract(result, case) -> message or None``: what the text asks
    # of the result's kind (dtype, a Python number, ...).
    contract: Callable | None = None

    @property
    def seed(self) -> int:
        return seed_of(self.id)

    def fail(self, message: str, mistake: str | None = None):
        raise CheckFailure(self.id, message, mistake)

    def make_cases(self, seed: int | None = None) -> list[Case]:
        """The check's cases: the same for the same seed (default: the
        exercise's own)."""
        seed = self.seed if seed is None else seed
        with seeded(seed):
            return self.cases(np.random.default_rng(seed))

    def run(self, answer, seed: int | None = None,
            quiet: bool = False) -> int:
        """Check ``answer``; print a tick and return the number of cases,
        or raise CheckFailure. ``seed`` (tests only) draws other cases."""
        if not callable(answer):
            self.fail(f"pass your function itself, e.g. "
                      f"check({self.id!r}, {self.function}); got "
                      f"{describe(answer)}")
        seed = self.seed if seed is None else seed
        deadline = time.perf_counter() + self.time_limit
        # Wrong answers overflow and divide by zero; the message says so,
        # warnings would only add noise (and any output on stderr costs
        # the cell its points under nbgrader).
        with warnings.catch_warnings(), np.errstate(all="ignore"), \
                seeded(seed):
            warnings.simplefilter("ignore")
            cases = self.cases(np.random.default_rng(seed))
            self._judge(answer, cases, deadline)
        if not quiet:
            print(f"{PASS_MARK} {self.id} {self.title}: passed all "
                  f"{len(cases)} cases.")
        return len(cases)

    # The steps of a verdict; subclasses change how results compare.

    def _judge(self, answer, cases: list[Case], deadline: float) -> None:
        outcomes = [self._outcome(answer, case, deadline) for case in cases]
        failing = [o for o in outcomes if o.error or o.why]
        if not failing:
            return
        mistake = self._diagnose(outcomes)
        if mistake is not None:
            self.fail(mistake.message, mistake.key)
        self.fail(self._explain(failing))

    def _outcome(self, answer, case: Case, deadline: float) -> _Outcome:
        outcome = _Outcome(case)
        try:
            raw = self._call(answer, case, deadline)
        except _AnswerError as exc:
            outcome.error = exc.error
            return outcome
        outcome.result = self._prepare(raw, case)
        outcome.expected = self._prepare_expected(
            self._apply(self.reference, case), case)
        outcome.why = self._differs(outcome.result, outcome.expected, case)
        return outcome

    def _copy_args(self, case: Case) -> list:
        return fresh_copy(list(case.args.values()))

    def _split(self, case: Case, args: list) -> tuple[list, dict]:
        """The arguments as passed: in order, but those named in
        ``keywords`` by keyword."""
        names = list(case.args)
        positional = [a for n, a in zip(names, args)
                      if n not in self.keywords]
        keyword = {n: a for n, a in zip(names, args) if n in self.keywords}
        return positional, keyword

    def _apply(self, function, case: Case):
        """``function`` (the reference or a mistake's model) on a copy of
        the case, called as the learner's answer is; a keyword that a
        model does not name (a lambda's ``t``) goes in its place."""
        args = self._copy_args(case)
        if _takes_keywords(function, self.keywords):
            positional, keyword = self._split(case, args)
            return function(*positional, **keyword)
        return function(*args)

    def _prepare(self, raw, case: Case):
        """The answer's result as compared; fails at once when its kind
        breaks the exercise's contract."""
        if self.contract is not None:
            why = self.contract(raw, case)
            if why:
                self.fail(f"for {case.describe()}, {why}.")
        return raw

    def _prepare_expected(self, expected, case: Case):
        return expected

    def _differs(self, result, expected, case: Case) -> str | None:
        return difference(result, expected, self.tolerance,
                          names=self.outputs)

    def _same(self, result, model_result, case: Case,
              tolerance: Tolerance | None = None) -> bool:
        return matches(result, model_result, tolerance or self.tolerance)

    def _detects(self, mistake: Mistake, case: Case, result,
                 expected) -> bool:
        values = as_array(result)
        # predicates judge well-formed results only: NaN or infinity has
        # its own message
        return bool(np.all(np.isfinite(values))
                    and mistake.detect(result, case))

    def _diagnose(self, outcomes: list[_Outcome]) -> Mistake | None:
        """The first catalogued mistake that the answer behaves like on
        every case, or None."""
        for mistake in self.mistakes:
            try:
                if self._consistent(mistake, outcomes):
                    return mistake
            except Exception:  # a model that cannot run here: not it
                continue
        return None

    def _consistent(self, mistake: Mistake, outcomes) -> bool:
        if mistake.model is not None:
            for o in outcomes:
                try:
                    model_result = self._prepare_expected(
                        self._apply(mistake.model, o.case), o.case)
                except Exception as exc:
                    # the model raises where the answer raises the same
                    if (o.error is None
                            or type(o.error) is not type(exc)):
                        return False
                    continue
                if o.error is not None or not self._same(
                        o.result, model_result, o.case, mistake.tolerance):
                    return False
            return True
        if mistake.detect is not None:
            if any(o.error is not None for o in outcomes):
                return False
            # a predicate states a property of the answer (its rows do not
            # sum to 1, a token follows <eos>): it must hold on every case
            # the answer fails
            return all(self._detects(mistake, o.case, o.result, o.expected)
                       for o in outcomes if o.why)
        return False

    def _explain(self, failing: list[_Outcome]) -> str:
        raised = [o for o in failing if o.error is not None]
        if raised:
            o = min(raised, key=lambda o: o.case.size())
            exc = o.error
            text = str(exc).strip().splitlines()
            text = text[0][:300] if text else ""
            return (f"your function raised {type(exc).__name__}"
                    f"{': ' + text if text else ''} for "
                    f"{o.case.describe()}.{advice_for(exc)}")
        o = min(failing, key=lambda o: o.case.size())
        return f"for {o.case.describe()}: {o.why}."

    def _call(self, answer, case: Case, deadline: float):
        args = self._copy_args(case)
        before = fresh_copy(args)
        remaining = max(0.05, deadline - time.perf_counter())
        positional, keyword = self._split(case, args)
        if self.call is None:
            invoke = answer
        else:
            def invoke(*a, **k):
                return self.call(answer, *a, **k)
        try:
            with forbid(self.forbidden):
                result = call_with_time_limit(invoke, tuple(positional),
                                              remaining, keyword)
        except _Forbidden as exc:
            self.fail(f"this exercise asks you to build it yourself: your "
                      f"function called {exc.args[0]}. Use it afterwards "
                      f"to test your own version.", "forbidden-builtin")
        except NotImplementedError:
            raise NotAttempted(
                self.id, f"not attempted yet: replace `raise "
                         f"NotImplementedError()` in `{self.function}` "
                         f"with your code, then run this cell "
                         f"again.") from None
        except _OutOfTime:
            self.fail(f"your function did not finish within "
                      f"{self.time_limit:g} s (for {case.describe()}). Is "
                      f"there a loop that never ends?")
        except CheckFailure:
            raise
        except RecursionError:
            self.fail(f"your function called itself without end "
                      f"(RecursionError) for {case.describe()}.")
        except Exception as exc:  # the learner's error: a message, later
            raise _AnswerError(exc) from None
        for name, old, new in zip(case.args, before, args):
            if not same_value(old, new):
                self.fail(f"your function changed its input `{name}` in "
                          f"place; work on a copy (or use operations that "
                          f"return new arrays).", "mutates-input")
        return result


def _takes_keywords(function, names) -> bool:
    """True when ``function`` can be called with each of ``names`` by
    keyword."""
    if not names:
        return True
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return True
    named = {p.name for p in params
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return set(names) <= named


class _AnswerError(Exception):
    """The learner's function raised ``error`` on a case."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


@dataclass
class ExactExercise(Exercise):
    """An exercise whose answer is compared exactly, after ``canonical``
    turns it into plain Python values (lists of ints). ``canonical``
    raises ValueError with a message for a result of the wrong kind.
    Mistakes are recognised by the canonical result of their ``model``
    or by ``detect(result, expected, case)``; ``show(result, expected,
    case)`` writes the plain message."""

    canonical: Callable | None = None
    show: Callable | None = None

    def _prepare(self, raw, case):
        raw = super()._prepare(raw, case)
        try:
            return self.canonical(raw)
        except (ValueError, TypeError) as exc:
            self.fail(f"for {case.describe()}, {exc}")

    def _prepare_expected(self, expected, case):
        return self.canonical(expected)

    def _differs(self, result, expected, case):
        return None if result == expected else "differs"

    def _same(self, result, model_result, case, tolerance=None):
        return result == model_result

    def _detects(self, mistake, case, result, expected):
        return bool(mistake.detect(result, expected, case))

    def _explain(self, failing):
        values = [o for o in failing if o.error is None]
        if len(values) < len(failing):
            return super()._explain(failing)
        o = min(values, key=lambda o: o.case.size())
        return self.show(o.result, o.expected, o.case)
