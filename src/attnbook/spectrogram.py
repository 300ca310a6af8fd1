"""Chapter 11, from samples to a picture of sound: the log-mel spectrogram.

- :func:`frame_signal` cuts a signal into overlapping frames (25 ms every
  10 ms is the usual choice for speech);
- :func:`power_spectrum` windows each frame and measures how much energy
  it has at every frequency;
- :func:`hz_to_mel` and :func:`mel_to_hz` convert between hertz and the
  mel scale, on which equal steps sound like equal steps in pitch;
- :func:`mel_filterbank` makes triangular filters spaced evenly in mels,
  so that low frequencies get narrow filters and high ones wide filters;
- :func:`log_mel_spectrogram` puts it all together and takes the log;
  :func:`normalise` gives every mel band zero mean and unit variance over
  the utterance, so that loud and quiet recordings look alike.

Shown in ``chapters/11_listening.ipynb``.
"""

import numpy as np


def frame_signal(signal, frame_length, hop_length):
    """Cut ``signal`` (n,) into frames (n_frames, frame_length), one every
    ``hop_length`` samples, with n_frames = 1 + (n - frame_length) //
    hop_length (the last incomplete frame is dropped; a signal shorter than
    one frame is padded with zeros to one frame)."""
    signal = np.asarray(signal)
    if len(signal) < frame_length:
        signal = np.pad(signal, (0, frame_length - len(signal)))
    n_frames = 1 + (len(signal) - frame_length) // hop_length
    starts = np.arange(n_frames)[:, None] * hop_length      # (n_frames, 1)
    index = starts + np.arange(frame_length)[None, :]       # (n_frames, len)
    return signal[index]                                    # (n_frames, len)


def power_spectrum(frames, n_fft):
    """|FFT|^2 of every frame after a Hann window: (n_frames, length) ->
    (n_frames, n_fft // 2 + 1). Frames shorter than n_fft are zero-padded."""
    window = np.hanning(frames.shape[1] + 1)[:-1]           # (length,)
    spectrum = np.fft.rfft(frames * window, n=n_fft, axis=1)  # (n, bins)
    return np.abs(spectrum) ** 2                            # (n, bins)


def hz_to_mel(f):
    """The mel scale of O'Shaughnessy (1987), as in HTK:
    2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=float) / 700.0)


def mel_to_hz(m):
    """The inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=float) / 2595.0) - 1.0)


def mel_filterbank(n_mels, n_fft, sample_rate, f_min=0.0, f_max=None):
    """Triangular filters (n_mels, n_fft // 2 + 1), float64.

    n_mels + 2 edges are spaced evenly on the mel scale from f_min to f_max
    (default sample_rate / 2). Filter m rises from 0 at edge m to 1 at edge
    m + 1 and falls back to 0 at edge m + 2; FFT bin k sits at
    k * sample_rate / n_fft Hz."""
    if f_max is None:
        f_max = sample_rate / 2
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max),
                                  n_mels + 2))              # (n_mels + 2,)
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft  # (n_bins,) Hz
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]  # (n_mels,)
    rising = (bins - left[:, None]) / (centre - left)[:, None]
    falling = (right[:, None] - bins) / (right - centre)[:, None]
    return np.maximum(0.0, np.minimum(rising, falling))     # (n_mels, bins)


def log_mel_spectrogram(signal, sample_rate=8000, n_mels=32,
                        frame_ms=25.0, hop_ms=10.0, n_fft=256):
    """log(mel energies + 1e-6): (n_samples,) -> (n_frames, n_mels),
    float32, one frame every ``hop_ms`` ms of ``frame_ms`` ms each."""
    frame_length = int(round(sample_rate * frame_ms / 1000))
    hop_length = int(round(sample_rate * hop_ms / 1000))
    frames = frame_signal(signal, frame_length, hop_length)  # (n, length)
    power = power_spectrum(frames, n_fft)                   # (n, bins)
    filters = mel_filterbank(n_mels, n_fft, sample_rate)    # (n_mels, bins)
    mel = power @ filters.T                                 # (n, n_mels)
    return np.log(mel + 1e-6).astype(np.float32)            # (n, n_mels)


def normalise(features):
    """Every band to zero mean and unit variance over time:
    (n_frames, n_mels) -> (n_frames, n_mels)."""
    mean = features.mean(axis=0, keepdims=True)             # (1, n_mels)
    std = features.std(axis=0, keepdims=True)               # (1, n_mels)
    return (features - mean) / (std + 1e-5)                 # (n, n_mels)
