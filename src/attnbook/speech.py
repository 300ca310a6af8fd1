"""Chapter 11, speech made by the book's own code: digits and a few words.

No recording can be downloaded, so the chapter makes its own speech, the
way a phonetics lab's synthesiser does (a *source* and a *filter*):

- a **voice** is a train of glottal pulses at the speaker's pitch, with a
  falling contour, jitter (the period wobbles), shimmer (the loudness
  wobbles) and a little breath noise;
- a **vowel** is that buzz shaped by three resonances of the vocal tract,
  the formants F1-F3, at the targets of published vowel tables (Peterson
  and Barney 1952, Hillenbrand et al. 1995); a diphthong glides from one
  target to another;
- **fricatives** (s, z, f, v, th) are noise in a frequency band, voiced or
  not; **plosives** (t, k) are a closure, a short burst and breathy noise;
  **nasals** (n) are a quiet low resonance; **glides** (w, y, r) are short
  vowels with their own formants;
- formant tracks are smoothed over about 48 ms, so neighbouring sounds
  blend (coarticulation); speakers differ in pitch, vocal-tract length
  (formants scaled by 0.85-1.15) and spectral tilt; utterances differ in
  speaking rate, pauses between words and background noise.

The filter is applied in the frequency domain, frame by frame (a short-time
Fourier transform, multiplied by the formant envelope, overlap-added back),
which is fast in NumPy. :func:`synthesize` returns an :class:`Utterance`:
the samples, the words, and the time span of every word, which the chapter
uses to check where attention looks.

Shown in ``chapters/11_listening.ipynb``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 8000  # samples per second: telephone quality, up to 4 kHz

#: The vocabulary: the connected-digit words (with "oh" for zero), yes, no.
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven",
         "eight", "nine", "oh", "yes", "no")

#: How each word is said, as phones (ARPAbet symbols).
PRONUNCIATIONS = {
    "zero": ("Z", "IH", "R", "OW"), "one": ("W", "AH", "N"),
    "two": ("T", "UW"), "three": ("TH", "R", "IY"),
    "four": ("F", "AO", "R"), "five": ("F", "AY", "V"),
    "six": ("S", "IH", "K", "S"), "seven": ("S", "EH", "V", "AH", "N"),
    "eight": ("EY", "T"), "nine": ("N", "AY", "N"), "oh": ("OW",),
    "yes": ("Y", "EH", "S"), "no": ("N", "OW"),
}

#: Formant targets (F1, F2, F3) in Hz of an adult male voice. Monophthongs
#: after Peterson and Barney (1952); EY and OW, which their table lacks,
#: after Hillenbrand et al. (1995). Diphthongs glide to a second target.
VOWELS = {
    "IY": (270, 2290, 3010), "IH": (390, 1990, 2550),
    "EH": (530, 1840, 2480), "AH": (520, 1190, 2390),
    "AO": (570, 840, 2410), "UW": (300, 870, 2240),
    "EY": (476, 2089, 2691), "OW": (497, 910, 2459),
    "AY": (730, 1090, 2440),  # starts as AA, glides towards IH
}
GLIDE_TO = {"EY": (330, 2250, 2900), "OW": (360, 800, 2300),
            "AY": (420, 1900, 2550)}


@dataclass(frozen=True)
class Phone:
    """How one phone is made: its kind, formants, length and sources."""

    kind: str                 # vowel, glide, nasal, fricative, plosive
    formants: tuple           # (F1, F2, F3) in Hz at the start
    ms: float                 # typical duration at speaking rate 1
    voice: float = 1.0        # amplitude of the voiced source
    noise: float = 0.0        # amplitude of the noise source
    band: tuple = (0, 0)      # noise band (low, high) in Hz
    glide_to: tuple | None = None  # formants at the end (diphthongs)


def _phones():
    table = {}
    for name, formants in VOWELS.items():
        table[name] = Phone("vowel", formants, 170 if name in GLIDE_TO
                            else 130, glide_to=GLIDE_TO.get(name))
    table.update({
        "W": Phone("glide", (290, 610, 2150), 60, voice=0.6),
        "Y": Phone("glide", (260, 2070, 3020), 60, voice=0.6),
        "R": Phone("glide", (310, 1060, 1380), 70, voice=0.7),
        "N": Phone("nasal", (250, 1700, 2600), 75, voice=0.5),
        "S": Phone("fricative", (400, 1600, 2500), 110, voice=0.0,
                   noise=0.5, band=(2800, 3950)),
        "Z": Phone("fricative", (400, 1600, 2500), 90, voice=0.25,
                   noise=0.35, band=(2800, 3950)),
        "F": Phone("fricative", (400, 1200, 2400), 100, voice=0.0,
                   noise=0.12, band=(1000, 3950)),
        "TH": Phone("fricative", (400, 1400, 2500), 90, voice=0.0,
                    noise=0.1, band=(1400, 3950)),
        "V": Phone("fricative", (400, 1200, 2400), 70, voice=0.3,
                   noise=0.08, band=(1000, 3950)),
        "T": Phone("plosive", (400, 1800, 2600), 95, voice=0.0,
                   noise=0.6, band=(2500, 3950)),
        "K": Phone("plosive", (400, 1800, 2500), 90, voice=0.0,
                   noise=0.6, band=(1400, 2600)),
    })
    return table


PHONES = _phones()


@dataclass(frozen=True)
class Speaker:
    """A voice: pitch, vocal-tract length, and how it sounds."""

    pitch: float          # Hz, at the start of an utterance
    formant_scale: float  # shorter vocal tract -> higher formants
    tilt: float           # how fast the voice's spectrum falls (1 = -6 dB/oct)
    jitter: float         # relative wobble of each glottal period
    shimmer: float        # relative wobble of each pulse's loudness
    breath: float         # breath noise mixed into the voice

    @classmethod
    def random(cls, rng):
        """A speaker drawn from ``rng``: men, women and everyone between."""
        return cls(pitch=float(rng.uniform(90, 250)),
                   formant_scale=float(rng.uniform(0.85, 1.15)),
                   tilt=float(rng.uniform(0.8, 1.3)),
                   jitter=float(rng.uniform(0.005, 0.02)),
                   shimmer=float(rng.uniform(0.03, 0.1)),
                   breath=float(rng.uniform(0.01, 0.06)))


@dataclass
class Utterance:
    """Samples at ``sample_rate``, the words said and when each was said."""

    audio: np.ndarray     # (n_samples,) float32, peak about 0.9
    words: list           # e.g. ["seven", "two", "oh"]
    spans: list           # [(start, end)] of each word, in seconds
    sample_rate: int
    speaker: Speaker
    rate: float           # speaking rate (1 = typical, 2 = twice as fast)
    snr_db: float         # speech-to-noise ratio of the background noise

    @property
    def duration(self):
        """Length in seconds."""
        return len(self.audio) / self.sample_rate

    @property
    def text(self):
        return " ".join(self.words)


# --------------------------------------------------------------------- timing

FRAME = 128    # samples per synthesis frame (16 ms at 8 kHz)
N_FFT = 256    # synthesis window (32 ms)


def _segments(words, rng, rate):
    """The phones of the utterance with their lengths in frames, silences
    (None) between words, and the (first, last) segment of every word."""
    segments = [(None, int(rng.integers(6, 13)))]         # leading silence
    word_segments = []
    for i, word in enumerate(words):
        if i:
            gap = rng.uniform(0.0, 0.15) / rate            # seconds
            segments.append((None, int(round(gap * SAMPLE_RATE / FRAME))))
        first = len(segments)
        for name in PRONUNCIATIONS[word]:
            ms = PHONES[name].ms * rng.uniform(0.85, 1.15) / rate
            segments.append((name, max(2, int(round(
                ms * SAMPLE_RATE / 1000 / FRAME)))))
        word_segments.append((first, len(segments) - 1))
    segments.append((None, int(rng.integers(6, 13))))      # trailing silence
    return segments, word_segments


def _smooth(track, width):
    """Moving average of a (n_frames, k) track over ``width`` frames."""
    if width <= 1:
        return track
    kernel = np.ones(width) / width                        # (width,)
    padded = np.pad(track, ((width // 2, width - 1 - width // 2), (0, 0)),
                    mode="edge")                           # (n + width-1, k)
    return np.stack([np.convolve(padded[:, j], kernel, mode="valid")
                     for j in range(track.shape[1])], axis=1)  # (n, k)


def _controls(segments, speaker, rng):
    """Frame-by-frame synthesis controls: formants (n, 3) in Hz, voice and
    noise amplitudes (n,), noise band edges (n, 2), aspiration (n,)."""
    n = sum(length for _, length in segments)
    formants = np.zeros((n, 3))                             # (n, 3)
    voice, noise, aspiration = np.zeros(n), np.zeros(n), np.zeros(n)
    band = np.zeros((n, 2))                                 # (n, 2)
    known = np.zeros(n, dtype=bool)                         # formants set?
    start = 0
    for name, length in segments:
        stop = start + length
        if name is not None:
            phone = PHONES[name]
            begin = np.array(phone.formants, dtype=float)   # (3,)
            end = np.array(phone.glide_to or phone.formants, dtype=float)
            if phone.kind == "vowel":                       # a small accent
                begin = begin * rng.uniform(0.95, 1.05, size=3)
                end = end * rng.uniform(0.95, 1.05, size=3)
            t = np.linspace(0.0, 1.0, length)[:, None]      # (length, 1)
            formants[start:stop] = (1 - t) * begin + t * end  # (length, 3)
            known[start:stop] = True
            voice[start:stop] = phone.voice
            band[start:stop] = phone.band
            if phone.kind == "plosive":                     # closure, burst
                closure = int(length * 0.45)
                burst = max(1, int(round(16e-3 * SAMPLE_RATE / FRAME)))
                noise[start + closure:start + closure + burst] = phone.noise
                aspiration[start + closure + burst:stop] = 0.25
            else:
                noise[start:stop] = phone.noise
        start = stop
    # silences and closures take the formants of their neighbours
    idx = np.where(known, np.arange(n), -1)
    idx = np.maximum.accumulate(idx)                        # last known
    first_known = int(np.argmax(known))
    idx[idx < 0] = first_known
    formants = formants[idx] * speaker.formant_scale        # (n, 3)
    formants = _smooth(formants, 3)                         # 48 ms
    voice = _smooth(voice[:, None], 2)[:, 0]                # (n,)
    noise = _smooth(noise[:, None], 2)[:, 0]                # (n,)
    aspiration = _smooth(aspiration[:, None], 2)[:, 0]      # (n,)
    return formants, voice, noise, band, aspiration


# --------------------------------------------------------------------- sources


def _glottal_pulses(n_samples, speaker, rng):
    """A pulse train with a falling pitch contour, jitter and shimmer."""
    t = np.arange(n_samples) / SAMPLE_RATE                  # (n_samples,)
    drop = rng.uniform(0.1, 0.3)                  # the pitch falls 10-30 %
    wobble = rng.uniform(0.0, 0.06)               # and rises and falls
    f0 = speaker.pitch * (1 - drop * t / t[-1] + wobble * np.sin(
        2 * np.pi * 1.5 * t + rng.uniform(0, 2 * np.pi)))  # (n_samples,)
    cycles = np.floor(np.cumsum(f0) / SAMPLE_RATE)          # (n_samples,)
    onsets = np.flatnonzero(np.diff(cycles, prepend=0))     # (n_pulses,)
    period = SAMPLE_RATE / f0[onsets]                       # in samples
    onsets = onsets + np.round(speaker.jitter * period * rng.standard_normal(
        onsets.size)).astype(int)                           # (n_pulses,)
    onsets = np.clip(onsets, 0, n_samples - 1)
    out = np.zeros(n_samples)                               # (n_samples,)
    np.add.at(out, onsets, 1 + speaker.shimmer * rng.standard_normal(
        onsets.size))
    return out


def formant_gain(freqs, formants, bandwidths):
    """|H(f)| of a cascade of two-pole resonators (one per formant),
    each with gain 1 at 0 Hz. freqs (F,), formants and bandwidths (n, k)
    -> (n, F)."""
    omega = 2 * np.pi * freqs / SAMPLE_RATE                 # (F,)
    cos1, sin1 = np.cos(omega), np.sin(omega)               # (F,) each
    cos2, sin2 = np.cos(2 * omega), np.sin(2 * omega)       # (F,) each
    gain = np.ones((formants.shape[0], freqs.size))         # (n, F)
    for j in range(formants.shape[1]):
        r = np.exp(-np.pi * bandwidths[:, j] / SAMPLE_RATE)[:, None]  # (n, 1)
        theta = 2 * np.pi * formants[:, j, None] / SAMPLE_RATE      # (n, 1)
        b, c = 2 * r * np.cos(theta), -r * r                # (n, 1) each
        # |1 - b e^{-iw} - c e^{-2iw}|^2, in real arithmetic: (n, F)
        denominator = (1 - b * cos1 - c * cos2) ** 2 + (b * sin1
                                                        + c * sin2) ** 2
        gain *= (1 - b - c) / np.sqrt(denominator)          # (n, F)
    return gain


WINDOW = np.sqrt(np.hanning(N_FFT + 1)[:N_FFT])  # analysis = synthesis
LEAD = N_FFT // 2 - FRAME // 2  # frame i is centred on samples i*FRAME + 64


def _stft(x):
    """Frames of ``x`` every FRAME samples, windowed, to the frequency
    domain: (n_frames, N_FFT // 2 + 1) complex. Frame i is centred on the
    middle of samples i * FRAME ... (i + 1) * FRAME - 1."""
    n_frames = len(x) // FRAME
    padded = np.pad(x, (LEAD, N_FFT))
    index = (np.arange(n_frames)[:, None] * FRAME
             + np.arange(N_FFT)[None, :])                   # (n_frames, N_FFT)
    return np.fft.rfft(padded[index] * WINDOW, axis=1)      # (n_frames, F)


def _noise_spectrum(rng, n_frames):
    """The short-time spectrum of white noise of unit variance."""
    return _stft(rng.standard_normal(n_frames * FRAME, dtype=np.float32))


def _istft(spectrum, n_samples):
    """Overlap-add frames back into a signal of ``n_samples``."""
    n_frames = spectrum.shape[0]
    hops = N_FFT // FRAME                                   # frames overlap
    frames = np.fft.irfft(spectrum, n=N_FFT, axis=1) * WINDOW  # (n, N_FFT)
    blocks = frames.reshape(n_frames, hops, FRAME)          # (n, hops, FRAME)
    out = np.zeros((n_frames + hops, FRAME))                # (n + hops, FRAME)
    norm = np.zeros((n_frames + hops, FRAME))               # sum of window^2
    for j in range(hops):                        # block j of frame i lands
        out[j:j + n_frames] += blocks[:, j]      # j hops after its start
        norm[j:j + n_frames] += WINDOW[j * FRAME:(j + 1) * FRAME] ** 2
    out = (out / np.maximum(norm, 1e-3)).reshape(-1)        # (samples,)
    return out[LEAD:LEAD + n_samples]                       # (n_samples,)


def _band(freqs, band):
    """Smooth band-pass gains, (n, 2) band edges -> (n, F); 0 where no band."""
    gains = np.zeros((band.shape[0], freqs.size))           # (n, F)
    rows = band[:, 1] > 0                                   # frames with noise
    low, high = band[rows, :1], band[rows, 1:]              # (r, 1) each
    rise = 1 / (1 + np.exp(-(freqs - low) / 150.0))         # (r, F)
    fall = 1 / (1 + np.exp((freqs - high) / 150.0))         # (r, F)
    gains[rows] = rise * fall
    return gains


# --------------------------------------------------------------------- speech


def synthesize(words, speaker=None, seed=0, rate=1.0, snr_db=20.0):
    """Say ``words`` (a list of words from :data:`WORDS`) as an
    :class:`Utterance`. ``speaker`` defaults to one drawn from ``seed``;
    ``rate`` scales the speaking rate (2 = twice as fast); background noise
    is added at ``snr_db`` decibels below the speech. The same arguments
    always give the same samples."""
    unknown = [w for w in words if w not in PRONUNCIATIONS]
    if unknown:
        raise ValueError(f"no pronunciation for {unknown}; known: {WORDS}")
    rng = np.random.default_rng(seed)
    if speaker is None:
        speaker = Speaker.random(rng)
    segments, word_segments = _segments(words, rng, rate)
    formants, voice, noise, band, aspiration = _controls(
        segments, speaker, rng)
    n_frames = formants.shape[0]
    n_samples = n_frames * FRAME
    freqs = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)         # (F,)

    bandwidths = np.stack([60 + 0.06 * formants[:, 0],
                           80 + 0.04 * formants[:, 1],
                           120 + 0.03 * formants[:, 2]], axis=1)  # (n, 3)
    tract = formant_gain(freqs, formants, bandwidths)       # (n, F)
    tilt = (1 + (freqs / 250.0) ** 2) ** (-0.5 * speaker.tilt)  # (F,)
    buzz = _stft(_glottal_pulses(n_samples, speaker, rng))  # (n, F)
    hiss = _noise_spectrum(rng, n_frames)                   # (n, F)
    voiced = voice[:, None] * tract * tilt                  # (n, F)
    breathy = (speaker.breath * voice + aspiration)[:, None] * tract * 0.05
    frication = noise[:, None] * _band(freqs, band) * 0.15  # (n, F)
    spectrum = buzz * voiced + hiss * (breathy + frication)  # (n, F)
    speech = _istft(spectrum, n_samples)                    # (n_samples,)

    # background: coloured noise (white to brown) at snr_db below speech
    colour = rng.uniform(0.0, 1.0)
    shape = np.maximum(freqs, 50.0) ** -colour              # (F,)
    background = _istft(_noise_spectrum(rng, n_frames) * shape,
                        n_samples)                          # (n_samples,)
    starts = np.cumsum([0] + [length for _, length in segments]) * FRAME
    spoken = slice(int(starts[1]), int(starts[-2]))
    power = np.mean(speech[spoken] ** 2)
    background *= np.sqrt(power / np.mean(background ** 2)
                          / 10 ** (snr_db / 10))
    audio = speech + background
    audio = 0.9 * audio / np.max(np.abs(audio))

    spans = [(float(starts[a] / SAMPLE_RATE),
              float(starts[b + 1] / SAMPLE_RATE)) for a, b in word_segments]
    return Utterance(audio.astype(np.float32), list(words), spans,
                     SAMPLE_RATE, speaker, float(rate), float(snr_db))


def is_held_out(words, share=5):
    """True for the word sequences kept out of training (about 1 in
    ``share``), decided by a hash of the sequence, the same on every run."""
    return zlib.crc32(" ".join(words).encode()) % share == 0


def random_utterance(rng, speaker, n_words=(2, 6), rate=(0.7, 1.3),
                     snr_db=(10.0, 30.0), held_out=False):
    """An utterance of a random word sequence (``n_words`` from ... to,
    inclusive), in a training sequence or, with ``held_out``, in one of
    the held-out sequences."""
    while True:
        k = int(rng.integers(n_words[0], n_words[1] + 1))
        words = [WORDS[i] for i in rng.integers(0, len(WORDS), size=k)]
        if is_held_out(words) == held_out:
            break
    return synthesize(words, speaker, seed=int(rng.integers(2**31)),
                      rate=float(rng.uniform(*rate)),
                      snr_db=float(rng.uniform(*snr_db)))


def make_corpus(n, seed, n_speakers, held_out=False, **options):
    """``n`` utterances by ``n_speakers`` speakers, all drawn from ``seed``.
    Different seeds give different speakers. ``options`` go to
    :func:`random_utterance` (``n_words``, ``rate``, ``snr_db``)."""
    rng = np.random.default_rng(seed)
    speakers = [Speaker.random(rng) for _ in range(n_speakers)]
    return [random_utterance(rng, speakers[i % n_speakers],
                             held_out=held_out, **options)
            for i in range(n)]
