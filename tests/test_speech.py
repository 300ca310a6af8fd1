"""attnbook.speech: the synthesiser says what it reports, when it reports it, the same way every time."""

import time

import numpy as np
import pytest

from attnbook.speech import (PHONES, PRONUNCIATIONS, SAMPLE_RATE, VOWELS, WORDS, Speaker, is_held_out,
                             make_corpus, random_utterance, synthesize)


def test_every_word_has_a_pronunciation_of_known_phones():
    assert set(PRONUNCIATIONS) == set(WORDS) and len(WORDS) == 13
    assert {p for phones in PRONUNCIATIONS.values() for p in phones} <= set(PHONES)
    for name in VOWELS:
        f1, f2, f3 = PHONES[name].formants
        assert 200 < f1 < f2 < f3 < 3100


def test_samples_rate_and_duration():
    u = synthesize(["seven", "two", "oh"], seed=3)
    assert u.sample_rate == SAMPLE_RATE == 8000
    assert u.audio.dtype == np.float32 and u.audio.ndim == 1
    assert np.all(np.isfinite(u.audio)) and 0.85 < np.abs(u.audio).max() <= 0.9 + 1e-6
    assert u.duration == len(u.audio) / 8000
    assert 0.8 < u.duration < 2.5                    # three words at a typical rate
    assert u.text == "seven two oh" and u.words == ["seven", "two", "oh"]


def test_spans_are_ordered_inside_the_audio_and_as_long_as_the_phones():
    u = synthesize(["one", "six", "eight", "no"], seed=1, rate=1.0)
    assert len(u.spans) == 4
    ends = [0.0] + [e for _, e in u.spans]
    for (start, end), previous_end in zip(u.spans, ends):
        assert previous_end <= start < end <= u.duration
    for word, (start, end) in zip(u.words, u.spans):
        typical = sum(PHONES[p].ms for p in PRONUNCIATIONS[word]) / 1000
        assert 0.6 * typical < end - start < 1.5 * typical, word
    assert u.spans[0][0] >= 0.09 and u.duration - u.spans[-1][1] >= 0.09   # silence around the words


def test_the_sound_is_inside_the_spans():
    """Speech energy is in the reported spans; the pauses between words hold only background."""
    u = synthesize(["oh", "eight", "oh", "eight"], seed=5, snr_db=60.0)
    power = u.audio.astype(np.float64) ** 2
    t = np.arange(len(power)) / u.sample_rate
    inside = np.zeros(len(power), dtype=bool)
    for start, end in u.spans:
        inside |= (t >= start) & (t < end)
    # 20 ms before each span's start (vowel onsets) and the gaps are far quieter than the words
    before = np.zeros_like(inside)
    for start, _ in u.spans:
        before |= (t >= start - 0.02) & (t < start - 0.005)
    before &= ~inside                                # words may follow each other without a pause
    assert before.sum() > 0.02 * u.sample_rate
    assert power[before].mean() < 0.05 * power[inside].mean()
    assert power[~inside].mean() < 0.05 * power[inside].mean()


def test_rate_changes_duration():
    slow = synthesize(["three", "four", "five"], seed=2, rate=0.7)
    fast = synthesize(["three", "four", "five"], seed=2, rate=1.4)
    speech = lambda u: u.spans[-1][1] - u.spans[0][0]   # noqa: E731
    assert 1.6 < speech(slow) / speech(fast) < 2.4


def test_noise_level_follows_snr():
    def gap_to_word_power(snr):
        u = synthesize(["nine", "nine"], seed=4, snr_db=snr)
        t = np.arange(len(u.audio)) / u.sample_rate
        (s0, e0), (s1, e1) = u.spans
        word = u.audio[(t >= s0) & (t < e0)].astype(np.float64)
        silence = u.audio[t < s0 - 0.02].astype(np.float64)
        return np.mean(silence ** 2) / np.mean(word ** 2)
    quiet, noisy = gap_to_word_power(30.0), gap_to_word_power(0.0)
    assert 10 * np.log10(noisy / quiet) == pytest.approx(30, abs=3)


def test_deterministic_with_a_seed():
    a, b = synthesize(["yes", "no"], seed=7), synthesize(["yes", "no"], seed=7)
    assert np.array_equal(a.audio, b.audio) and a.spans == b.spans and a.speaker == b.speaker
    c = synthesize(["yes", "no"], seed=8)
    assert not np.array_equal(a.audio[: len(c.audio)], c.audio[: len(a.audio)])
    first, second = make_corpus(20, seed=1, n_speakers=4), make_corpus(20, seed=1, n_speakers=4)
    assert all(np.array_equal(x.audio, y.audio) and x.words == y.words for x, y in zip(first, second))


def test_speakers_differ_and_corpora_keep_them_apart():
    train = make_corpus(40, seed=1, n_speakers=8)
    test = make_corpus(40, seed=2, n_speakers=8, held_out=True)
    assert len({u.speaker for u in train}) == 8
    assert not {u.speaker for u in train} & {u.speaker for u in test}
    pitches = [s.pitch for s in {u.speaker for u in train}]
    assert 90 <= min(pitches) and max(pitches) <= 250 and max(pitches) - min(pitches) > 40


def test_held_out_sequences_never_in_training():
    train = make_corpus(300, seed=1, n_speakers=10)
    test = make_corpus(100, seed=2, n_speakers=5, held_out=True)
    assert all(is_held_out(u.words) for u in test) and not any(is_held_out(u.words) for u in train)
    assert not {u.text for u in train} & {u.text for u in test}
    assert 0.15 < np.mean([is_held_out([a, b]) for a in WORDS for b in WORDS]) < 0.25
    lengths = {len(u.words) for u in train}
    assert lengths == {2, 3, 4, 5, 6}


def test_options_reach_the_utterances():
    rng = np.random.default_rng(0)
    u = random_utterance(rng, Speaker.random(rng), n_words=(8, 8), rate=(1.5, 1.5), snr_db=(5.0, 5.0))
    assert len(u.words) == 8 and u.rate == 1.5 and u.snr_db == 5.0


def test_unknown_word_is_refused():
    with pytest.raises(ValueError, match="no pronunciation"):
        synthesize(["seventeen"])


def test_fast_enough():
    start = time.process_time()
    make_corpus(200, seed=0, n_speakers=20)
    assert time.process_time() - start < 2.0        # about 3 ms an utterance
