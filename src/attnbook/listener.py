"""Chapter 11, a tiny speech recogniser: attention that listens.

- :class:`ConvSubsampler` turns 10-ms log-mel frames into 80-ms encoder
  frames with three strided convolutions;
- :class:`Listener` is an encoder-decoder in the spirit of Listen, Attend
  and Spell (Chan et al. 2016), built from chapter 6's blocks: the encoder
  reads the frames, the decoder writes one word at a time while its
  cross-attention walks along the audio;
- :class:`CTCListener` is the same encoder with a CTC head (Graves et al.
  2006): a word or a blank for every encoder frame, no decoder;
- :func:`make_batch` pads utterances into tensors, :func:`train_listener`
  and :func:`train_ctc` train the two models;
- :func:`transcribe` and :func:`transcribe_ctc` turn audio features into
  words (greedy decoding and :func:`ctc_greedy_decode`);
- :func:`cross_attention`, :func:`frame_times` and :func:`alignment_score`
  measure where the decoder looks while it writes each word.

Shown in ``chapters/11_listening.ipynb``.
"""

import math
import random

import numpy as np
import torch
from torch import nn

from .decoding import greedy_decode
from .positions import sinusoidal_positional_encoding
from .spectrogram import log_mel_spectrogram, normalise
from .speech import SAMPLE_RATE, WORDS
from .training import fit, seed_everything, warmup_cosine
from .transformer import Decoder, Encoder

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
#: Decoder tokens: <pad> 0, <bos> 1, <eos> 2, then the words.
TOKENS = ("<pad>", "<bos>", "<eos>") + WORDS
#: CTC labels: the blank 0, then the words.
CTC_LABELS = ("<blank>",) + WORDS
HOP_SECONDS = 0.010     # one log-mel frame every 10 ms
WINDOW_SECONDS = 0.025  # each 25 ms long


def features(utterance):
    """Normalised log-mel features (n_frames, 32) of an utterance."""
    return normalise(log_mel_spectrogram(utterance.audio,
                                         utterance.sample_rate))


class ConvSubsampler(nn.Module):
    """Three 1-D convolutions over time, each with stride 2 and a ReLU:
    (batch, T, n_mels) -> (batch, T', d_model) with T' about T / 8."""

    def __init__(self, n_mels, d_model, n_layers=3):
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv1d(n_mels if i == 0 else d_model, d_model, kernel_size=3,
                      stride=2, padding=1) for i in range(n_layers)])

    def forward(self, x):
        x = x.transpose(1, 2)                   # (batch, n_mels, T)
        for conv in self.convs:
            x = torch.relu(conv(x))             # (batch, d_model, T / 2^i)
        return x.transpose(1, 2)                # (batch, T', d_model)

    def output_lengths(self, lengths):
        """Encoder frames for inputs of ``lengths`` frames (a tensor)."""
        for _ in self.convs:
            lengths = (lengths - 1) // 2 + 1    # kernel 3, stride 2, pad 1
        return lengths


def frame_times(n_frames, n_layers=3):
    """The time (seconds) at the centre of each encoder frame. Encoder
    frame j is centred on log-mel frame 8j, itself centred 12.5 ms after
    its start, 10 ms apart."""
    j = np.arange(n_frames)                                 # (n_frames,)
    return j * 2 ** n_layers * HOP_SECONDS + WINDOW_SECONDS / 2


class _AudioEncoder(nn.Module):
    """Subsampling convolutions, sinusoidal positions, encoder blocks."""

    def __init__(self, n_mels, d_model, n_heads, d_ff, n_layers, max_frames):
        super().__init__()
        self.subsample = ConvSubsampler(n_mels, d_model)
        self.register_buffer("positions", sinusoidal_positional_encoding(
            max_frames, d_model), persistent=False)        # (max, d_model)
        self.encoder = Encoder(n_layers, d_model, n_heads, d_ff)

    def forward(self, x, lengths=None):
        """x (batch, T, n_mels), lengths (batch,) -> memory
        (batch, S, d_model) and its mask (batch, 1, 1, S), True = real."""
        h = self.subsample(x)                               # (batch, S, d)
        h = h + self.positions[: h.size(1)]                 # (batch, S, d)
        if lengths is None:
            lengths = torch.full((x.size(0),), x.size(1))
        s_len = self.subsample.output_lengths(lengths)      # (batch,)
        real = torch.arange(h.size(1))[None, :] < s_len[:, None]  # (b, S)
        mask = real[:, None, None, :]                       # (b, 1, 1, S)
        return self.encoder(h, mask), mask


class Listener(nn.Module):
    """An encoder-decoder that listens: log-mel frames in, words out.

    ``encode(x, lengths)`` and ``decode(tgt_in, memory, mask)`` have the
    interface of chapter 6's model, so chapter 6's :func:`greedy_decode`
    writes its transcripts."""

    def __init__(self, n_mels=32, d_model=64, n_heads=4, d_ff=128,
                 n_layers=2, max_frames=512, max_words=32):
        super().__init__()
        self.d_model, self.pad_id = d_model, PAD_ID
        self.audio = _AudioEncoder(n_mels, d_model, n_heads, d_ff,
                                   n_layers, max_frames)
        self.embed = nn.Embedding(len(TOKENS), d_model)
        nn.init.normal_(self.embed.weight, std=d_model ** -0.5)
        self.register_buffer("positions", sinusoidal_positional_encoding(
            max_words, d_model), persistent=False)         # (max, d_model)
        self.decoder = Decoder(n_layers, d_model, n_heads, d_ff)
        self.out = nn.Linear(d_model, len(TOKENS))

    def encode(self, x, lengths=None):
        """x (batch, T, n_mels) -> memory (batch, S, d_model), mask."""
        return self.audio(x, lengths)

    def decode(self, tgt_in, memory, mask):
        """tgt_in (batch, L) -> logits (batch, L, n_tokens)."""
        length = tgt_in.size(1)
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        y = self.embed(tgt_in) * math.sqrt(self.d_model)    # (batch, L, d)
        y = y + self.positions[:length]                     # (batch, L, d)
        y = self.decoder(y, memory, causal, mask)           # (batch, L, d)
        return self.out(y)                                  # (batch, L, V)

    def forward(self, x, lengths, tgt_in):
        return self.decode(tgt_in, *self.encode(x, lengths))


class CTCListener(nn.Module):
    """The same audio encoder with a CTC head: for every encoder frame,
    log-probabilities over the blank and the words."""

    def __init__(self, n_mels=32, d_model=64, n_heads=4, d_ff=128,
                 n_layers=2, max_frames=512):
        super().__init__()
        self.audio = _AudioEncoder(n_mels, d_model, n_heads, d_ff,
                                   n_layers, max_frames)
        self.head = nn.Linear(d_model, len(CTC_LABELS))

    def forward(self, x, lengths=None):
        """x (batch, T, n_mels) -> log_probs (batch, S, n_labels) and the
        number of real encoder frames of each utterance (batch,)."""
        memory, mask = self.audio(x, lengths)               # (batch, S, d)
        log_probs = torch.log_softmax(self.head(memory), dim=-1)
        return log_probs, mask[:, 0, 0].sum(-1)             # (b, S, C), (b,)


# --------------------------------------------------------------------- data


def make_batch(feats, transcripts=None):
    """Pad a list of (T_i, n_mels) feature arrays (and their word lists)
    into x (batch, T_max, n_mels), lengths (batch,) and, with transcripts,
    tgt_in (batch, L) starting with <bos>, tgt_out (batch, L) ending with
    <eos>, and the CTC labels (batch, L - 1) padded with -1."""
    lengths = torch.tensor([len(f) for f in feats])
    x = torch.zeros(len(feats), int(lengths.max()), feats[0].shape[1])
    for i, f in enumerate(feats):
        x[i, : len(f)] = torch.from_numpy(np.asarray(f))    # (T_i, n_mels)
    if transcripts is None:
        return x, lengths
    ids = [[TOKENS.index(w) for w in words] for words in transcripts]
    width = max(len(i) for i in ids) + 1
    tgt_in = torch.full((len(ids), width), PAD_ID)          # (batch, L)
    tgt_out = torch.full((len(ids), width), PAD_ID)         # (batch, L)
    labels = torch.full((len(ids), width - 1), -1)          # (batch, L - 1)
    for row, seq in enumerate(ids):
        tgt_in[row, : len(seq) + 1] = torch.tensor([BOS_ID] + seq)
        tgt_out[row, : len(seq) + 1] = torch.tensor(seq + [EOS_ID])
        labels[row, : len(seq)] = torch.tensor(seq) - 2     # words from 1
    return x, lengths, tgt_in, tgt_out, labels


def batches(feats, transcripts, batch_size, seed):
    """Shuffled batches (see :func:`make_batch`), a new order every call."""
    order = list(range(len(feats)))
    random.Random(seed).shuffle(order)
    return [make_batch([feats[i] for i in order[k:k + batch_size]],
                       [transcripts[i] for i in order[k:k + batch_size]])
            for k in range(0, len(order) - batch_size + 1, batch_size)]


def _steps(feats, transcripts, batch_size, steps, seed):
    """Exactly ``steps`` batches: as many shuffled epochs as needed."""
    out, epoch = [], 0
    while len(out) < steps:
        out += batches(feats, transcripts, batch_size, seed * 1000 + epoch)
        epoch += 1
    return out[:steps]


def listener_loss(model, batch):
    """Cross-entropy of the next word, padding ignored."""
    x, lengths, tgt_in, tgt_out, _ = batch
    logits = model(x, lengths, tgt_in)                      # (batch, L, V)
    return nn.functional.cross_entropy(
        logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID)


def ctc_batch_loss(model, batch):
    """CTC loss per utterance, averaged over the batch."""
    x, lengths, _, _, labels = batch
    log_probs, out_lengths = model(x, lengths)              # (batch, S, C)
    label_lengths = (labels >= 0).sum(-1)                   # (batch,)
    return nn.functional.ctc_loss(
        log_probs.transpose(0, 1), labels.clamp_min(0), out_lengths,
        label_lengths, blank=0, reduction="mean", zero_infinity=True)


def train_listener(feats, transcripts, steps=1500, batch_size=16, lr=2e-3,
                   seed=0, progress=True, on_step=None, model=None):
    """Train a :class:`Listener` (AdamW, 100 warm-up steps, cosine decay to
    5%, gradients clipped to norm 1). ``on_step(step, model)``, if given,
    runs after every step (for snapshots). Returns (model, losses)."""
    seed_everything(seed)
    model = Listener() if model is None else model
    return model, _train(model, listener_loss, feats, transcripts, steps,
                         batch_size, lr, seed, progress, on_step)


def train_ctc(feats, transcripts, steps=800, batch_size=32, lr=3e-3, seed=0,
              progress=True, on_step=None):
    """Train a :class:`CTCListener` like :func:`train_listener`."""
    seed_everything(seed)
    model = CTCListener()
    return model, _train(model, ctc_batch_loss, feats, transcripts, steps,
                         batch_size, lr, seed, progress, on_step)


def _train(model, loss_fn, feats, transcripts, steps, batch_size, lr, seed,
           progress, on_step):
    # fused: one pass updates every parameter, not one tensor at a time
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=0.01, fused=True)
    scheduler = warmup_cosine(optimizer, 100, steps, min_factor=0.05)
    data = _steps(feats, transcripts, batch_size, steps, seed)
    count = [0]

    def step_loss(model, batch):
        if on_step is not None and count[0]:
            on_step(count[0], model)
        count[0] += 1
        return loss_fn(model, batch)

    losses = fit(model, data, step_loss, optimizer, scheduler,
                 progress=progress, max_grad_norm=1.0)
    if on_step is not None:
        on_step(count[0], model)
    model.eval()
    return losses


# --------------------------------------------------------------------- words


class _Bound(nn.Module):
    """A :class:`Listener` with the lengths of one batch bound to it, so
    that ``greedy_decode(model, x, ...)`` can call ``encode(x)``."""

    def __init__(self, model, lengths):
        super().__init__()
        self.model, self.lengths = model, lengths
        self.pad_id = model.pad_id
        self.train(model.training)          # and leaves it in its mode

    def encode(self, x):
        return self.model.encode(x, self.lengths)

    def decode(self, tgt_in, memory, mask):
        return self.model.decode(tgt_in, memory, mask)


def _words(ids, labels):
    return [labels[i] for i in ids]


@torch.no_grad()
def transcribe(model, feats, max_words=12, batch_size=100):
    """Greedy transcripts (lists of words) of a list of feature arrays."""
    out = []
    for k in range(0, len(feats), batch_size):
        x, lengths = make_batch(feats[k:k + batch_size])
        tokens = greedy_decode(_Bound(model, lengths), x, BOS_ID, EOS_ID,
                               max_words + 1)               # (batch, n)
        for row in tokens.tolist():
            row = row[: row.index(EOS_ID)] if EOS_ID in row else row
            out.append(_words(row, TOKENS))
    return out


def ctc_greedy_decode(log_probs, blank=0):
    """Best label per frame, repeats merged, then blanks removed.

    log_probs (T, C) -> a list of label ids; (batch, T, C) -> a list of
    lists. A torch tensor or a NumPy array."""
    best = torch.as_tensor(log_probs).argmax(dim=-1)        # (..., T)
    if best.dim() == 2:
        return [_collapse(row.tolist(), blank) for row in best]
    return _collapse(best.tolist(), blank)


def _collapse(path, blank):
    """A CTC path (one label per frame) -> its labels: merge every run of
    equal labels into one, then drop the blanks."""
    merged = [p for t, p in enumerate(path) if t == 0 or p != path[t - 1]]
    return [p for p in merged if p != blank]


@torch.no_grad()
def transcribe_ctc(model, feats, batch_size=100):
    """CTC transcripts (lists of words) of a list of feature arrays."""
    out = []
    for k in range(0, len(feats), batch_size):
        x, lengths = make_batch(feats[k:k + batch_size])
        log_probs, n = model(x, lengths)                    # (batch, S, C)
        for row, length in zip(log_probs, n.tolist()):
            out.append(_words(ctc_greedy_decode(row[:length]), CTC_LABELS))
    return out


# --------------------------------------------------------------------- where


@torch.no_grad()
def cross_attention(model, feats, transcripts, layer=-1):
    """Teacher-forced cross-attention of one decoder layer for each
    utterance: a list of (n_heads, n_words + 1, S_i) arrays, one row per
    token written (the words, then <eos>), one column per encoder frame."""
    model.eval()
    x, lengths, tgt_in, _, _ = make_batch(feats, transcripts)
    model(x, lengths, tgt_in)
    weights = model.decoder.layers[layer].cross_weights     # (b, h, L, S)
    s_len = model.audio.subsample.output_lengths(lengths)
    return [weights[i, :, : len(t) + 1, : s_len[i]].numpy()
            for i, t in enumerate(transcripts)]


def alignment_score(weights, spans, times):
    """The share of words whose attention peak lies inside their own span.

    ``weights``: one (n_words + 1, n_frames) array per utterance (the last
    row is <eos>, which has no span); ``spans``: per utterance, one
    (start, end) per word in seconds; ``times``: per utterance, the time
    of each encoder frame (see :func:`frame_times`). A peak at time t is
    inside when start <= t < end. Counted over all words of all
    utterances; returns a float."""
    inside = total = 0
    for w, word_spans, t in zip(weights, spans, times):
        rows = np.asarray(w)[: len(word_spans)]             # (n_words, S)
        peaks = rows.argmax(axis=-1)                        # (n_words,)
        for (start, end), peak in zip(word_spans, peaks):
            inside += bool(start <= t[peak] < end)
            total += 1
    return inside / total
