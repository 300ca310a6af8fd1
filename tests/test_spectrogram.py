"""attnbook.spectrogram: frames, the mel scale, the filterbank, log-mel features."""

import numpy as np
import pytest

from attnbook.spectrogram import (frame_signal, hz_to_mel, log_mel_spectrogram, mel_filterbank, mel_to_hz,
                                  normalise, power_spectrum)


def test_frames():
    x = np.arange(10)
    frames = frame_signal(x, 4, 3)
    assert frames.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert frame_signal(np.arange(9), 4, 3).shape == (2, 4)          # the incomplete frame is dropped
    assert frame_signal(np.arange(3), 4, 3).tolist() == [[0, 1, 2, 0]]  # shorter than a frame: padded
    assert frame_signal(np.zeros(8000), 200, 80).shape == (98, 200)   # 1 s, 25 ms every 10 ms


def test_mel_scale():
    assert hz_to_mel(0.0) == 0.0
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)        # the scale's anchor
    f = np.array([0.0, 100.0, 1234.5, 4000.0])
    assert np.allclose(mel_to_hz(hz_to_mel(f)), f)
    steps = np.diff(hz_to_mel([0, 500, 1000, 1500, 2000, 2500]))
    assert np.all(np.diff(steps) < 0)                                  # equal Hz steps shrink in mels


def test_filterbank_shape_peaks_and_spacing():
    fb = mel_filterbank(32, 256, 8000)
    assert fb.shape == (32, 129) and fb.dtype == np.float64
    assert fb.min() == 0.0 and fb.max() <= 1.0
    bins = np.arange(129) * 8000 / 256
    centres = bins[fb.argmax(axis=1)]
    assert np.all(np.diff(centres) > 0)                                # filters climb the spectrum
    widths = (fb > 0).sum(axis=1)
    assert widths[-1] > 3 * widths[5]                                  # high filters are wider
    first, last = fb[0].argmax(), fb[-1].argmax()
    assert np.allclose(fb[:, first + 1:last].sum(axis=0), 1.0)        # between the peaks they add up to 1
    # a filter's triangle has peak 1 at its centre frequency when that falls on a bin
    fb = mel_filterbank(3, 16, 16, f_min=0.0, f_max=8.0)
    edges = mel_to_hz(np.linspace(0, hz_to_mel(8.0), 5))
    assert fb.shape == (3, 9)
    assert np.allclose(fb[0, 1], (1 - edges[0]) / (edges[1] - edges[0]))


def test_filterbank_limits():
    fb = mel_filterbank(10, 512, 16000, f_min=300.0, f_max=3400.0)
    bins = np.arange(257) * 16000 / 512
    used = fb.sum(axis=0) > 0
    assert bins[used].min() > 300 and bins[used].max() < 3400


def test_log_mel_of_a_tone_lights_its_band():
    t = np.arange(8000) / 8000
    tone = np.sin(2 * np.pi * 1000 * t)
    feats = log_mel_spectrogram(tone)
    assert feats.shape == (98, 32) and feats.dtype == np.float32
    centres = mel_to_hz(np.linspace(0, hz_to_mel(4000), 34))[1:-1]
    assert abs(centres[int(feats.mean(0).argmax())] - 1000) < 120
    power = power_spectrum(frame_signal(tone, 200, 80), 256)
    assert power.shape == (98, 129) and abs(power.mean(0).argmax() * 8000 / 256 - 1000) < 32


def test_normalise():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 4))
    z = normalise(x)
    assert np.allclose(z.mean(0), 0, atol=1e-9) and np.allclose(z.std(0), 1, atol=1e-3)
