"""Chapter 9, a chatbot that looks things up: open-book question answering.

The model reads a context of facts and a question (:mod:`attnbook.facts`)
and writes the answer as its next token, from the position of the "?".

- :func:`facts_vocab` is the vocabulary (chapter 7's :class:`Vocab`);
- :func:`encode` turns examples into padded token ids, their lengths and
  the answers' ids;
- :func:`answer_logits` reads the model's logits at the "?" of every row;
- :func:`train_qa` trains a :class:`~attnbook.language_model.GPT` on
  answers only; :func:`accuracy` scores it.

Shown in ``chapters/09_tiny_gpt.ipynb``.
"""

import time

import torch
import torch.nn.functional as F
from torch import nn

from .facts import words
from .language_model import GPT
from .training import seed_everything, warmup_cosine
from .translate import Vocab, pad_sequences


def facts_vocab():
    """<pad>, <bos>, <eos>, <unk>, then every word of the world."""
    return Vocab([" ".join(words())])


def encode(examples, vocab):
    """(tokens (n, L) padded at the end, lengths (n,), answers (n,))."""
    ids = [vocab.encode(ex.text, eos=False) for ex in examples]
    tokens = pad_sequences(ids, vocab.pad_id)                 # (n, L)
    lengths = torch.tensor([len(i) for i in ids])             # (n,)
    answers = torch.tensor([vocab.stoi[ex.answer] for ex in examples])
    return tokens, lengths, answers


def answer_logits(model, tokens, lengths):
    """The logits (n, V) at the last real token (the "?") of every row."""
    logits = model(tokens)                                    # (n, L, V)
    rows = torch.arange(len(tokens))
    return logits[rows, lengths - 1]                          # (n, V)


def qa_model(vocab_size, seed=0):
    """The chapter's question answerer: 2 attention-only layers, 2 heads,
    d_model 32. Layer 1 sees only the 9 tokens up to itself, with rotary
    positions; layer 2 sees everything, without positions (it looks up by
    content). The embedding starts with a standard deviation of 0.3."""
    seed_everything(seed)
    model = GPT(vocab_size, d_model=32, n_heads=2, n_layers=2, d_ff=None,
                windows=[9, None], ropes=[True, False])
    nn.init.normal_(model.embed.weight, std=0.3)
    return model


def train_qa(model, tokens, lengths, answers, steps=3000, batch_size=64,
             lr=5e-3, seed=0, log_every=0):
    """Train on the answers only (one target per context) with AdamW,
    100 warm-up steps, then a cosine decay, gradients clipped at 1.

    Returns (per-step losses, seconds). ``log_every`` > 0 prints progress.
    """
    generator = torch.Generator().manual_seed(seed)
    # fused: one pass updates every parameter, not one tensor at a time
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  betas=(0.9, 0.98), fused=True)
    schedule = warmup_cosine(optimizer, 100, steps)
    losses, start = [], time.perf_counter()
    model.train()
    for step in range(steps):
        rows = torch.randint(len(tokens), (batch_size,), generator=generator)
        width = int(lengths[rows].max())                  # trim the padding
        logits = answer_logits(model, tokens[rows, :width], lengths[rows])
        loss = F.cross_entropy(logits, answers[rows])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}: loss {sum(losses[-50:]) / 50:.3f}")
    model.eval()
    return losses, time.perf_counter() - start


@torch.no_grad()
def accuracy(model, tokens, lengths, answers, batch_size=1000):
    """The share of contexts whose most likely next token is the answer."""
    right = 0
    for i in range(0, len(tokens), batch_size):
        rows = slice(i, i + batch_size)
        logits = answer_logits(model, tokens[rows], lengths[rows])
        right += (logits.argmax(-1) == answers[rows]).sum().item()
    return right / len(tokens)
