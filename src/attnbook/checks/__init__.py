"""Self-grading checks for the book's exercises.

In an exercise notebook::

    from attnbook.checks import check, hint
    check("ex-01-1", softmax_with_temperature)   # a tick, or a message naming the mistake
    hint("ex-01-1")                              # the next hint, one more each call

``EXERCISES`` maps each exercise id to its :class:`Exercise` (``title``, ``chapter``,
``points``, ``hints``, ``mistakes``).
"""

from __future__ import annotations

import importlib
import pkgutil

from .core import CheckFailure, Exercise, Mistake, NotAttempted

#: The chapter modules ``chNN``, in book order; each defines a list ``EXERCISES``.
CHAPTERS = [importlib.import_module(f"{__name__}.{m.name}")
            for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
            if m.name.startswith("ch") and m.name[2:].isdigit()]

#: Every exercise of the book, by id, in book order.
EXERCISES: dict[str, Exercise] = {ex.id: ex for module in CHAPTERS for ex in module.EXERCISES}

_hints_shown: dict[str, int] = {}


def _exercise(exercise_id) -> Exercise:
    try:
        return EXERCISES[exercise_id]
    except (KeyError, TypeError):
        known = ", ".join(EXERCISES)
        raise CheckFailure(str(exercise_id), f"there is no exercise called {exercise_id!r}; "
                                             f"the exercises are: {known}.") from None


def check(exercise_id: str, answer) -> None:
    """Check ``answer`` (usually your function) for the exercise ``exercise_id``.

    Prints one line with a tick when it passes; raises :class:`CheckFailure`
    with a short explanation when it does not.
    """
    _exercise(exercise_id).run(answer)


def hint(exercise_id: str, level: int | None = None) -> str:
    """Print the next hint for ``exercise_id`` (or hint number ``level``) and return it."""
    exercise = _exercise(exercise_id)
    hints = exercise.hints
    if level is None:
        level = min(_hints_shown.get(exercise_id, 0) + 1, len(hints))
    level = max(1, min(int(level), len(hints)))
    _hints_shown[exercise_id] = max(level, _hints_shown.get(exercise_id, 0))
    text = f"Hint {level} of {len(hints)} for {exercise_id} ({exercise.title}): {hints[level - 1]}"
    if level == len(hints):
        text += "  (That was the last hint.)"
    print(text)
    return text


__all__ = ["EXERCISES", "CheckFailure", "Exercise", "Mistake", "NotAttempted", "check", "hint"]
