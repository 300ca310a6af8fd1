"""Numbers from the run, into the text of the book.

``glue(name, value)`` hands ``value`` to myst-nb, which puts it wherever a
chapter's text says ``{glue:text}`name```; so every run-dependent number in
the prose is the one the code just computed. NumPy and torch scalars become
plain Python numbers first, so that formats such as ``{glue:text}`name:.2f```
work on them. Where myst-nb is not installed (Binder, Colab, a plain
Jupyter), the value is only shown in the cell's output, or not at all.
"""

from __future__ import annotations


def plain(value):
    """A NumPy or torch scalar (or 0-d array) as a Python number; anything
    else as it is."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return item()
    return value


def glue(name: str, value, display: bool = True):
    """Glue ``value`` under ``name`` for the text; shown in the cell's
    output too when ``display`` is True."""
    value = plain(value)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # outside the book's build: nothing to put it in
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
