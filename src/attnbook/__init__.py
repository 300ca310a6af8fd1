"""Attention, Step by Step: the code the book builds, one module per concept,
in book order.

- ``attnbook.highlighter`` (chapter 1): softmax, weighted averages, the
  highlighter layer.
- ``attnbook.viz``: highlighted sentences and weight plots used throughout
  the book.
- ``attnbook.checks``: the self-grading checks of the exercises.
"""

__version__ = "0.1.0"
