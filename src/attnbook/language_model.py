"""Chapter 9, a tiny GPT: a decoder-only language model and how to sample
from it.

- :class:`CausalSelfAttention` is chapter 5's multi-head attention with a
  causal mask (chapter 3), rotary positions (chapter 4) and, if asked, a
  short look-back window (chapter 8); it keeps its last weights to look at;
- :class:`GPTBlock` and :class:`GPT` stack it (pre-LN, with or without a
  feed-forward layer); the output layer is **tied** to the token
  embedding: the logits are the scores of the final vector against every
  token's embedding;
- :func:`next_token_loss` is the training loss: each position predicts the
  next token, padding ignored;
- :func:`top_k_filter`, :func:`top_p_filter` and :func:`sample_next` turn
  logits into a sampled token (temperature, top-k, nucleus);
  :func:`generate` samples whole sequences with chapter 8's KV cache;
- :func:`distinct_n` measures how varied a set of samples is.

Shown in ``chapters/09_tiny_gpt.ipynb``.
"""

import time

import torch
import torch.nn.functional as F
from torch import nn

from .attention import causal_mask, scaled_dot_product_attention
from .kv_cache import KVCache
from .long_context import sliding_window_mask
from .multihead import MultiHeadAttention, merge_heads, split_heads
from .positions import apply_rope
from .training import warmup_cosine
from .transformer import FeedForward


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with rotary positions.

    ``window`` (None: no limit) lets each token see only itself and the
    ``window - 1`` tokens before it. In training it runs PyTorch's fused
    attention; in eval mode without a cache, the book's own, and keeps its
    weights in ``weights`` (batch, heads, L, L).
    """

    def __init__(self, d_model, n_heads, window=None, rope=True):
        super().__init__()
        self.mha = MultiHeadAttention(d_model, n_heads)   # w_q, w_k, w_v, w_o
        self.n_heads, self.window, self.rope = n_heads, window, rope
        self.weights = None

    def forward(self, x, cache=None):
        """x (batch, t, d_model); with a cache, x holds the new tokens."""
        start = 0 if cache is None else len(cache)
        positions = torch.arange(start, start + x.size(1), device=x.device)
        q = split_heads(self.mha.w_q(x), self.n_heads)  # (batch, heads, t, d)
        k = split_heads(self.mha.w_k(x), self.n_heads)  # (batch, heads, t, d)
        v = split_heads(self.mha.w_v(x), self.n_heads)  # (batch, heads, t, d)
        if self.rope:
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        if cache is None:
            n = x.size(1)
            mask = (causal_mask(n, x.device) if self.window is None
                    else sliding_window_mask(n, self.window, x.device))
            if self.training:                  # chapter 8's fused kernel
                heads = F.scaled_dot_product_attention(q, k, v, mask)
            else:                              # ours: it returns the weights
                # (batch, heads, t, d), (batch, heads, t, t)
                heads, weights = scaled_dot_product_attention(q, k, v, mask)
                self.weights = weights.detach()
        elif self.window is None:
            heads = cache.attend(q, k, v)              # chapter 8's KV cache
        else:
            raise NotImplementedError("a windowed layer runs without a cache")
        return self.mha.w_o(merge_heads(heads))         # (batch, t, d_model)


class GPTBlock(nn.Module):
    """Pre-LN decoder block: x + attention(norm(x)), then, if ``d_ff``,
    x + feed_forward(norm(x)). ``d_ff=None`` makes it attention only."""

    def __init__(self, d_model, n_heads, d_ff=None, window=None, rope=True):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, window, rope)
        self.norm2 = nn.LayerNorm(d_model) if d_ff else None
        self.ff = FeedForward(d_model, d_ff) if d_ff else None

    def forward(self, x, cache=None):
        x = x + self.attn(self.norm1(x), cache)         # (batch, t, d_model)
        if self.ff is not None:
            x = x + self.ff(self.norm2(x))              # (batch, t, d_model)
        return x


class GPT(nn.Module):
    """A decoder-only transformer over token ids.

    Token embedding, ``n_layers`` blocks (``windows`` gives each layer's
    look-back window, None for none; ``ropes`` whether it rotates by
    position), a final layer norm and an output layer tied to the
    embedding (``tied=False``: a separate one). No position table: rotary
    positions live inside attention.
    """

    def __init__(self, vocab_size, d_model=64, n_heads=2, n_layers=2,
                 d_ff=None, windows=None, ropes=None, tied=True):
        super().__init__()
        windows = windows or [None] * n_layers
        ropes = ropes or [True] * n_layers
        self.embed = nn.Embedding(vocab_size, d_model)
        self.blocks = nn.ModuleList(GPTBlock(d_model, n_heads, d_ff, w, r)
                                    for w, r in zip(windows, ropes))
        self.norm = nn.LayerNorm(d_model)
        self.head = None if tied else nn.Linear(d_model, vocab_size)

    def new_caches(self):
        return [KVCache() for _ in self.blocks]          # one per layer

    def forward(self, tokens, caches=None):
        """tokens (batch, t) -> logits (batch, t, vocab)."""
        x = self.embed(tokens)                           # (batch, t, d_model)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        x = self.norm(x)                                 # (batch, t, d_model)
        if self.head is None:                            # tied: score against
            return x @ self.embed.weight.T               # every embedding
        return self.head(x)                              # (batch, t, vocab)

    def attention_weights(self):
        """The last weights of every layer: a list of (batch, heads, L, L)."""
        return [block.attn.weights for block in self.blocks]


def count_parameters(model):
    """The number of trained numbers in ``model``."""
    return sum(p.numel() for p in model.parameters())


def next_token_loss(logits, tokens, pad_id):
    """Mean cross-entropy of predicting every next token, padding ignored.

    logits (batch, L, V) are the model's outputs for tokens (batch, L):
    position t predicts token t + 1. Targets equal to ``pad_id`` do not
    count; the mean is over the real target tokens of the whole batch.
    """
    predictions = logits[:, :-1]                  # (batch, L - 1, V)
    targets = tokens[:, 1:]                       # (batch, L - 1)
    return F.cross_entropy(predictions.reshape(-1, logits.size(-1)),
                           targets.reshape(-1), ignore_index=pad_id)


def top_k_filter(logits, k):
    """Keep the k largest logits of the last axis (and any tied with the
    k-th); set the others to -inf. logits (..., V) -> (..., V)."""
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]   # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits, p):
    """Keep the nucleus: the fewest most probable tokens whose probability
    reaches p (the token that crosses p included); the others -> -inf."""
    probs = torch.softmax(logits, dim=-1)                  # (..., V)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    # (..., V): the probability of the tokens more probable than each one
    before = sorted_probs.cumsum(dim=-1) - sorted_probs
    outside = before >= p                          # p was reached before it
    outside = outside.scatter(-1, order, outside)  # back to the vocab order
    return logits.masked_fill(outside, float("-inf"))


def sample_next(logits, temperature=1.0, top_k=None, top_p=None,
                generator=None):
    """One token id per row of logits (batch, V) -> (batch,).

    Temperature 0 is greedy (argmax). Otherwise the logits are divided by
    the temperature, filtered by top-k and top-p if given, and a token is
    drawn from their softmax with ``generator`` (a ``torch.Generator``).
    """
    if temperature == 0:
        return logits.argmax(dim=-1)                       # (batch,)
    logits = logits / temperature                          # (batch, V)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits, dim=-1)                  # (batch, V)
    # (batch, 1) -> (batch,)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(model, prompt, max_new, eos_id, use_cache=True, **sampling):
    """Sample up to ``max_new`` tokens after ``prompt`` (batch, P).

    ``sampling`` goes to :func:`sample_next` (temperature, top_k, top_p,
    generator). A row that wrote ``eos_id`` keeps writing ``eos_id``; the
    loop stops when every row has. Returns (batch, P + n) token ids.
    """
    caches = model.new_caches() if use_cache else None
    tokens = prompt                                        # (batch, P)
    logits = model(prompt, caches)[:, -1]                  # (batch, V)
    done = torch.zeros(len(prompt), dtype=torch.bool, device=prompt.device)
    for _ in range(max_new):
        new = sample_next(logits, **sampling)              # (batch,)
        new = new.masked_fill(done, eos_id)
        tokens = torch.cat([tokens, new[:, None]], dim=1)  # (batch, P + n)
        done = done | (new == eos_id)
        if done.all():
            break
        if use_cache:
            logits = model(new[:, None], caches)[:, -1]    # the new token only
        else:
            logits = model(tokens)[:, -1]                  # everything again
    return tokens


def distinct_n(sentences, n):
    """Distinct n-grams over all n-grams in ``sentences`` (token lists):
    1.0 when no n-gram repeats, small when the samples repeat themselves."""
    grams = [tuple(s[i:i + n]) for s in sentences
             for i in range(len(s) - n + 1)]
    return len(set(grams)) / max(1, len(grams))


def encode_sentences(sentences, vocab):
    """Token lists -> (n, L) ids: <bos>, the tokens, <eos>, then padding."""
    ids = [[vocab.bos_id] + [vocab.stoi.get(w, vocab.unk_id) for w in s]
           + [vocab.eos_id] for s in sentences]
    length = max(len(i) for i in ids)
    out = torch.full((len(ids), length), vocab.pad_id)   # (n, L)
    for row, i in enumerate(ids):
        out[row, :len(i)] = torch.tensor(i)
    return out


def train_language_model(model, tokens, pad_id, steps=2000, batch_size=64,
                         lr=3e-3, seed=0):
    """Next-token training on rows of ``tokens`` (n, L) drawn at random:
    AdamW, 100 warm-up steps then a cosine decay, gradients clipped at 1.
    Returns (per-step losses, seconds)."""
    generator = torch.Generator().manual_seed(seed)
    # fused: one pass updates every parameter, not one tensor at a time
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  betas=(0.9, 0.98), fused=True)
    schedule = warmup_cosine(optimizer, 100, steps)
    real = (tokens != pad_id).sum(1)                     # (n,) lengths
    losses, start = [], time.perf_counter()
    model.train()
    for _ in range(steps):
        rows = torch.randint(len(tokens), (batch_size,), generator=generator)
        batch = tokens[rows, :int(real[rows].max())]     # trim the padding
        loss = next_token_loss(model(batch), batch, pad_id)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses, time.perf_counter() - start


def sample_sentences(model, vocab, n, max_len=30, seed=0, **sampling):
    """``n`` sentences sampled after <bos>, as token lists (up to <eos>).
    ``sampling``: temperature, top_k, top_p (see :func:`sample_next`)."""
    generator = torch.Generator().manual_seed(seed)
    prompt = torch.full((n, 1), vocab.bos_id)            # (n, 1)
    tokens = generate(model, prompt, max_len, vocab.eos_id,
                      generator=generator, **sampling)
    sentences = []
    for row in tokens[:, 1:].tolist():
        words = []
        for i in row:
            if i == vocab.eos_id:
                break
            words.append(vocab.itos[i])
        sentences.append(words)
    return sentences
