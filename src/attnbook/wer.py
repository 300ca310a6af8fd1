"""Chapter 11, scoring a transcript: the word error rate.

:func:`edit_distance` counts the fewest substitutions, insertions and
deletions that turn one word list into another (Levenshtein 1966), by
dynamic programming; :func:`word_error_rate` adds them up over a test set
and divides by the number of reference words. It equals ``jiwer.wer``.

Shown in ``chapters/11_listening.ipynb``.
"""


def edit_distance(reference, hypothesis):
    """The fewest word substitutions, insertions and deletions that turn
    the list ``reference`` into the list ``hypothesis``."""
    # previous[j]: distance between the reference so far and hypothesis[:j]
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]                       # i deletions reach an empty hyp
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(
                previous[j] + 1,                             # deletion
                current[j - 1] + 1,                          # insertion
                previous[j - 1] + (ref_word != hyp_word)))   # (mis)match
        previous = current
    return previous[-1]


def word_error_rate(references, hypotheses):
    """Total word edit distance / total reference words, as a float.

    ``references`` and ``hypotheses`` are two strings or two lists of
    strings (one per utterance); words are separated by spaces. With no
    reference words at all, the number of inserted words (as jiwer)."""
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but "
                         f"{len(hypotheses)} hypotheses")
    errors = words = 0
    for ref, hyp in zip(references, hypotheses):
        errors += edit_distance(ref.split(), hyp.split())
        words += len(ref.split())
    return errors / words if words else float(errors)
