"""Chapter 10, a tiny BERT: an encoder-only model trained by filling in
masked words, which reads every sentence both ways.

- :class:`MaskedVocab` is chapter 7's :class:`~attnbook.translate.Vocab`
  with two more special tokens, ``<mask>`` and ``<cls>``;
- :func:`mask_tokens` is BERT's masking rule: 15% of the words are chosen;
  of those, 80% become ``<mask>``, 10% a random word, 10% stay as they
  are; only the chosen ones are predicted;
- :class:`TinyBERT` is token embeddings, learned positions (chapter 4) and
  chapter 6's pre-LN :class:`~attnbook.transformer.Encoder`, with an
  output layer tied to the embedding (chapter 9) and a classification
  read-out; ``causal=True`` makes the very same model read left to right;
- :func:`mean_pool` and :class:`MeanPooled` read a sentence's class from
  the mean of its final vectors instead of ``<cls>``'s;
- :func:`train_masked_lm` and :func:`train_classifier` train it;
  :func:`fill_in` asks it for one masked word at a time.

Shown in ``chapters/10_tiny_bert.ipynb``.
"""

import time

import torch
import torch.nn.functional as F
from torch import nn

from .attention import causal_mask
from .positions import LearnedPositionalEmbedding
from .training import warmup_cosine
from .transformer import Encoder
from .translate import Vocab, pad_sequences

#: The label of a position that is not predicted (F.cross_entropy's
#: default ``ignore_index``).
IGNORE = -100
MASK, CLS = "<mask>", "<cls>"


class MaskedVocab(Vocab):
    """Chapter 7's vocabulary plus ``<mask>`` (4) and ``<cls>`` (5): the
    special tokens are the ids below ``first_word``, the words the ids
    from ``first_word`` on."""

    mask_id, cls_id, first_word = 4, 5, 6

    def __init__(self, words):
        super().__init__([" ".join(words)])
        self.itos = self.itos[:4] + [MASK, CLS] + self.itos[4:]
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    def encode_all(self, sentences):
        """Token lists -> (n, L) ids: ``<cls>`` then the words, padded at
        the end with ``<pad>`` (0)."""
        ids = [[self.cls_id] + [self.stoi.get(w, self.unk_id) for w in s]
               for s in sentences]
        return pad_sequences(ids, self.pad_id)               # (n, L)


def mask_tokens(tokens, mask_id, first_word, vocab_size, generator,
                p=0.15):
    """BERT's masking of a batch of token ids (batch, L).

    Every word (an id of at least ``first_word``; padding and the other
    special tokens never) is chosen with probability ``p``. A chosen word
    becomes ``mask_id`` with probability 0.8, a random word (uniform over
    ``first_word .. vocab_size - 1``) with probability 0.1, and stays as
    it is otherwise. Returns (inputs, labels), both (batch, L): the
    labels hold the original id at the chosen positions and ``IGNORE``
    everywhere else. Random numbers come from ``generator``.
    """
    words = tokens >= first_word                        # (batch, L)
    draw = torch.rand(tokens.shape, generator=generator)
    chosen = words & (draw < p)                         # (batch, L)
    labels = tokens.masked_fill(~chosen, IGNORE)        # (batch, L)
    how = torch.rand(tokens.shape, generator=generator)
    random_ids = torch.randint(first_word, vocab_size, tokens.shape,
                               generator=generator)     # (batch, L)
    inputs = torch.where(chosen & (how < 0.8), mask_id, tokens)
    swap = chosen & (how >= 0.8) & (how < 0.9)
    inputs = torch.where(swap, random_ids, inputs)      # (batch, L)
    return inputs, labels


class TinyBERT(nn.Module):
    """An encoder-only transformer over token ids (batch, L).

    Token embedding plus learned positions, ``n_layers`` of chapter 6's
    pre-LN encoder blocks, which keep their attention weights. Padding
    keys are hidden; ``causal=True`` also hides every key to the right of
    the query, the only difference from a decoder-only reader.
    ``forward`` gives the masked-word logits, scored against every
    token's embedding (a tied output layer); ``classify`` reads one
    position's final vector through ``head``, a linear layer with
    ``n_classes`` outputs.
    """

    def __init__(self, vocab_size, d_model=64, n_heads=2, n_layers=2,
                 d_ff=128, max_len=32, n_classes=2, causal=False,
                 pad_id=0):
        super().__init__()
        self.causal, self.pad_id = causal, pad_id
        self.embed = nn.Embedding(vocab_size, d_model)
        self.positions = LearnedPositionalEmbedding(max_len, d_model)
        self.encoder = Encoder(n_layers, d_model, n_heads, d_ff)
        self.head = nn.Linear(d_model, n_classes)

    def attention_mask(self, tokens):
        """(batch, 1, 1 or L, L) bool, True where a query may look."""
        mask = (tokens != self.pad_id)[:, None, None, :]  # real keys
        if self.causal:                                   # and none ahead
            mask = mask & causal_mask(tokens.size(1), tokens.device)
        return mask

    def encode(self, tokens, embeddings=None):
        """Final vectors (batch, L, d_model). ``embeddings`` (batch, L,
        d_model) replaces the token embeddings (for gradients)."""
        x = self.embed(tokens) if embeddings is None else embeddings
        x = self.positions(x)                          # (batch, L, d_model)
        return self.encoder(x, self.attention_mask(tokens))

    def forward(self, tokens):
        """Masked-word logits (batch, L, vocab): tied to the embedding."""
        return self.encode(tokens) @ self.embed.weight.T

    def classify(self, tokens, at, embeddings=None):
        """Class logits (batch, n_classes) read at position ``at``
        (batch,) of every row: 0 for ``<cls>``, or any word."""
        h = self.encode(tokens, embeddings)            # (batch, L, d_model)
        return self.head(h[torch.arange(len(tokens)), at])

    def attention_weights(self):
        """The last weights of every layer: a list of (batch, heads, L, L)."""
        return [block.attn_weights for block in self.encoder.layers]


def mean_pool(h, tokens, pad_id=0):
    """The mean of the final vectors h (batch, L, d_model) over the real
    tokens of ``tokens`` (batch, L), ``<cls>`` included: (batch, d_model)."""
    real = (tokens != pad_id).unsqueeze(-1).to(h.dtype)  # (batch, L, 1)
    return (h * real).sum(1) / real.sum(1)               # (batch, d_model)


class MeanPooled(nn.Module):
    """A :class:`TinyBERT` whose ``classify`` reads the mean of the final
    vectors (:func:`mean_pool`) through the same ``head``; ``at`` is
    ignored, so :func:`train_classifier` and :func:`predict` take it."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def classify(self, tokens, at=None, embeddings=None):
        """Class logits (batch, n_classes) from every real token."""
        h = self.bert.encode(tokens, embeddings)       # (batch, L, d_model)
        return self.bert.head(mean_pool(h, tokens, self.bert.pad_id))

    def attention_weights(self):
        return self.bert.attention_weights()


def masked_lm_loss(logits, labels):
    """Mean cross-entropy over the predicted positions (labels not
    ``IGNORE``). logits (batch, L, V), labels (batch, L)."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)),
                           labels.reshape(-1), ignore_index=IGNORE)


def _optimiser(model, lr, steps):
    # fused: one pass updates every parameter, not one tensor at a time
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  betas=(0.9, 0.98), fused=True)
    return optimizer, warmup_cosine(optimizer, 100, steps)


def _step(model, optimizer, schedule, loss):
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    return loss.item()


def train_masked_lm(model, tokens, vocab, steps=2000, batch_size=64,
                    lr=3e-3, seed=0):
    """Masked-word training on rows of ``tokens`` (n, L) drawn at random,
    masked anew at every step (:func:`mask_tokens`): AdamW, 100 warm-up
    steps then a cosine decay, gradients clipped at 1. Returns (per-step
    losses, seconds)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer, schedule = _optimiser(model, lr, steps)
    real = (tokens != vocab.pad_id).sum(1)               # (n,) lengths
    losses, start = [], time.perf_counter()
    model.train()
    for _ in range(steps):
        rows = torch.randint(len(tokens), (batch_size,), generator=generator)
        batch = tokens[rows, :int(real[rows].max())]     # trim the padding
        inputs, labels = mask_tokens(batch, vocab.mask_id, vocab.first_word,
                                     len(vocab), generator)
        loss = masked_lm_loss(model(inputs), labels)
        losses.append(_step(model, optimizer, schedule, loss))
    model.eval()
    return losses, time.perf_counter() - start


def train_classifier(model, tokens, at, labels, steps=600, batch_size=64,
                     lr=3e-3, seed=0, pad_id=0):
    """Train ``model.classify`` to give ``labels`` (n,) read at positions
    ``at`` (n,) of ``tokens`` (n, L): AdamW, warm-up then cosine, clipped
    gradients. Returns (per-step losses, seconds)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer, schedule = _optimiser(model, lr, steps)
    real = (tokens != pad_id).sum(1)                     # (n,) lengths
    losses, start = [], time.perf_counter()
    model.train()
    for _ in range(steps):
        rows = torch.randint(len(tokens), (batch_size,), generator=generator)
        batch = tokens[rows, :int(real[rows].max())]     # trim the padding
        logits = model.classify(batch, at[rows])         # (batch, classes)
        loss = F.cross_entropy(logits, labels[rows])
        losses.append(_step(model, optimizer, schedule, loss))
    model.eval()
    return losses, time.perf_counter() - start


@torch.no_grad()
def predict(model, tokens, at, batch_size=1000):
    """The most likely class (n,) read at positions ``at`` (n,)."""
    out = [model.classify(tokens[i:i + batch_size],
                          at[i:i + batch_size]).argmax(-1)
           for i in range(0, len(tokens), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def fill_in(model, tokens, at, mask_id, first_word):
    """For every row of ``tokens`` (n, L), the model's best word (n,) for
    position ``at`` (n,) once that position is replaced by ``mask_id``;
    only words (ids from ``first_word``) are candidates."""
    rows = torch.arange(len(tokens))
    masked = tokens.clone()
    masked[rows, at] = mask_id
    logits = model(masked)[rows, at]                     # (n, V)
    return logits[:, first_word:].argmax(-1) + first_word
