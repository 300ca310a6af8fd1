"""attnbook.wer: the word error rate equals jiwer's."""

import jiwer
import numpy as np
import pytest

from attnbook.speech import WORDS
from attnbook.wer import edit_distance, word_error_rate


def test_edit_distance_by_hand():
    assert edit_distance([], []) == 0
    assert edit_distance("a b c".split(), []) == 3
    assert edit_distance([], "a b".split()) == 2
    assert edit_distance("one two three".split(), "one too three".split()) == 1
    assert edit_distance("one two".split(), "two one".split()) == 2
    assert edit_distance("a b c d".split(), "b c d e".split()) == 2     # one deletion, one insertion


def test_word_error_rate_by_hand():
    assert word_error_rate("seven two oh", "seven two oh") == 0.0
    assert word_error_rate("seven two oh", "seven oh") == pytest.approx(1 / 3)
    assert word_error_rate(["a b", "c d e f"], ["a b", "c"]) == pytest.approx(3 / 6)   # totals, not a mean
    assert isinstance(word_error_rate("a", "b"), float)
    assert word_error_rate("a b", "x y z w") == 2.0                       # can exceed 1
    with pytest.raises(ValueError):
        word_error_rate(["a"], ["a", "b"])


def test_equals_jiwer_on_random_transcripts():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 6))
        refs = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 8)))) for _ in range(n)]
        hyps = []
        for ref in refs:
            words = ref.split()
            for _ in range(int(rng.integers(0, 4))):                  # random edits
                kind, at = rng.integers(3), int(rng.integers(len(words) + 1))
                if kind == 0 and at < len(words):
                    words[at] = str(rng.choice(WORDS))
                elif kind == 1:
                    words.insert(at, str(rng.choice(WORDS)))
                elif words:
                    words.pop(min(at, len(words) - 1))
            hyps.append(("  " if rng.random() < 0.2 else "") + " ".join(words))
        assert word_error_rate(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12)
        assert word_error_rate(refs[0], hyps[0]) == pytest.approx(jiwer.wer(refs[0], hyps[0]), abs=1e-12)


def test_empty_references_as_jiwer():
    assert word_error_rate("", "") == jiwer.wer("", "") == 0
    assert word_error_rate("", "a b") == jiwer.wer("", "a b") == 2
