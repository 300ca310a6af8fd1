"""Self-grading checks for the book's exercises.

In an exercise notebook::

    from attnbook.checks import check, hint
    # a tick, or a message naming the mistake
    check("ex-01-1", softmax_with_temperature)
    # the next hint, one more each call
    hint("ex-01-1")

``EXERCISES`` maps each exercise id to its :class:`Exercise` (``title``,
``chapter``, ``points``, ``hints``, ``mistakes``). Chapter modules
(``chNN``) are imported when first needed, so a chapter-1 notebook never
pays for importing PyTorch.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from .core import (CheckFailure, Code, Exercise, Mistake, NotAttempted,
                   install_stub_message, wrap)

#: The names of the chapter modules, in book order; each defines a list
#: ``EXERCISES``.
CHAPTER_MODULES = sorted(m.name for m in pkgutil.iter_modules(__path__)
                         if re.fullmatch(r"ch\d\d", m.name))
_ID = re.compile(r"ex-(\d\d)-\d+")
_hints_shown: dict[str, int] = {}

# In a notebook, running a cell that uses a function still holding its stub
# shows one line ("not attempted yet"), not a traceback.
install_stub_message()


def chapter_exercises(chapter: int) -> dict[str, Exercise]:
    """The exercises of one chapter, by id (imports only that chapter's
    module)."""
    name = f"ch{chapter:02d}"
    if name not in CHAPTER_MODULES:
        return {}
    module = importlib.import_module(f"{__name__}.{name}")
    return {ex.id: ex for ex in module.EXERCISES}


def __getattr__(name):
    if name == "EXERCISES":  # every exercise of the book, by id, in order
        return {ex_id: ex for m in CHAPTER_MODULES
                for ex_id, ex in chapter_exercises(int(m[2:])).items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_exercise(exercise_id) -> Exercise:
    match = (_ID.fullmatch(exercise_id) if isinstance(exercise_id, str)
             else None)
    exercise = (chapter_exercises(int(match.group(1))).get(exercise_id)
                if match else None)
    if exercise is None:
        known = ", ".join(__getattr__("EXERCISES"))
        raise CheckFailure(str(exercise_id),
                           f"there is no exercise called {exercise_id!r}; "
                           f"the exercises are: {known}.")
    return exercise


def check(exercise_id: str, answer) -> None:
    """Check ``answer`` (usually your function) for ``exercise_id``.

    Prints one line with a tick when it passes; raises :class:`CheckFailure`
    with a short explanation when it does not.
    """
    get_exercise(exercise_id).run(answer)


def hint(exercise_id: str, level: int | None = None) -> None:
    """Print the next hint for ``exercise_id`` (or hint number ``level``).

    Prints only (it returns nothing), so that the hint shows once as the
    last line of a cell. ``hint_text`` gives the same text as a string.
    """
    print(hint_text(exercise_id, level))


def hint_text(exercise_id: str, level: int | None = None) -> str:
    """The text ``hint`` prints, and counts it as shown."""
    exercise = get_exercise(exercise_id)
    hints = exercise.hints
    if level is None:
        level = min(_hints_shown.get(exercise_id, 0) + 1, len(hints))
    level = max(1, min(int(level), len(hints)))
    shown = max(level, _hints_shown.get(exercise_id, 0))
    _hints_shown[exercise_id] = shown
    text = (f"Hint {level} of {len(hints)} for {exercise_id} "
            f"({exercise.title}): {hints[level - 1]}")
    if level == len(hints):
        text += "\n(That was the last hint.)"
    return "\n".join(wrap(text))


__all__ = ["EXERCISES", "CheckFailure", "Code", "Exercise", "Mistake",
           "NotAttempted", "check", "get_exercise", "hint", "hint_text"]
