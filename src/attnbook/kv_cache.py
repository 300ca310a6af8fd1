"""Chapter 8, decoding with a KV cache: remember the labels you already
wrote.

When a decoder writes token t, the keys and values of tokens 0..t-1 are the
same as at the previous step. :class:`KVCache` keeps them; each step
computes the query, key and value of the new token only, appends the key
and value along the sequence axis and attends over all of them.
:class:`TinyGPT` is a small decoder-only model built from the package's
``MultiHeadAttention``; :func:`generate` decodes greedily with or without
the cache, and the two give the same tokens. Shown in
``chapters/08_attention_at_scale.ipynb``.
"""

import torch
from torch import nn

from .attention import scaled_dot_product_attention
from .multihead import MultiHeadAttention, merge_heads, split_heads


def kv_cache_step(q, k, v, cache_k, cache_v):
    """One decoding step: append the new keys k and values v
    (batch, heads, t, d) to the caches (batch, heads, P, d) along the
    sequence axis, and attend the new queries q over all P + t keys.

    Returns (output (batch, heads, t, d_v), cache_k, cache_v), the caches
    now P + t long. New query i sits at position P + i: it sees the cache,
    itself and the new tokens before it.
    """
    past, new = cache_k.size(-2), q.size(-2)
    cache_k = torch.cat([cache_k, k], dim=-2)   # (batch, heads, P + t, d_k)
    cache_v = torch.cat([cache_v, v], dim=-2)   # (batch, heads, P + t, d_v)
    mask = torch.ones(new, past + new, dtype=torch.bool,
                      device=q.device).tril(diagonal=past)  # (t, P + t)
    # (batch, heads, t, d_v)
    output, _ = scaled_dot_product_attention(q, cache_k, cache_v, mask)
    return output, cache_k, cache_v


class KVCache:
    """The keys and values one attention layer has seen so far, each
    (batch, heads, P, d_head)."""

    def __init__(self):
        self.k = None
        self.v = None

    def __len__(self):
        # P: how many tokens are remembered
        return 0 if self.k is None else self.k.size(-2)

    def attend(self, q, k, v):
        """Attention of the new q over everything seen so far; remembers
        the new k and v."""
        if self.k is None:                # the first call: an empty cache
            # (batch, heads, 0, d_head)
            self.k, self.v = k[..., :0, :], v[..., :0, :]
        output, self.k, self.v = kv_cache_step(q, k, v, self.k, self.v)
        return output                         # (batch, heads, t, d_head)


def causal_self_attention(mha, x, cache=None):
    """Causal self-attention of ``x`` (batch, t, d_model) with the weights
    of ``mha``, a MultiHeadAttention. Without a cache x is the whole
    sequence. With a cache x holds only the new tokens, and the cache
    supplies the keys and values of the earlier ones."""
    q = split_heads(mha.w_q(x), mha.n_heads)    # (batch, heads, t, d_head)
    k = split_heads(mha.w_k(x), mha.n_heads)    # (batch, heads, t, d_head)
    v = split_heads(mha.w_v(x), mha.n_heads)    # (batch, heads, t, d_head)
    if cache is None:
        t = x.size(1)
        mask = torch.ones(t, t, dtype=torch.bool,
                          device=x.device).tril()            # (t, t)
        # (batch, heads, t, d_head)
        heads, _ = scaled_dot_product_attention(q, k, v, mask)
    else:
        heads = cache.attend(q, k, v)           # (batch, heads, t, d_head)
    return mha.w_o(merge_heads(heads))          # (batch, t, d_model)


class Block(nn.Module):
    """A pre-LN decoder block: causal self-attention and a feed-forward
    layer, each with a residual."""

    def __init__(self, d_model, n_heads, d_ff):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(),
                                nn.Linear(d_ff, d_model))

    def forward(self, x, cache=None):
        # (batch, t, d_model)
        x = x + causal_self_attention(self.attn, self.ln1(x), cache)
        return x + self.ff(self.ln2(x))         # (batch, t, d_model)


class TinyGPT(nn.Module):
    """A small decoder-only transformer: token and learned position
    embeddings, ``n_layers`` blocks, a final layer norm and a linear head
    over the vocabulary."""

    def __init__(self, vocab_size, d_model=64, n_heads=4, n_layers=2,
                 d_ff=128, max_len=1024):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff)
                                    for _ in range(n_layers))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def new_caches(self):
        return [KVCache() for _ in self.blocks]   # one cache per layer

    def forward(self, tokens, caches=None):
        """tokens (batch, t) -> logits (batch, t, vocab). With caches,
        tokens are the new ones only."""
        # the position of the first new token
        start = 0 if caches is None else len(caches[0])
        positions = torch.arange(start, start + tokens.size(1),
                                 device=tokens.device)        # (t,)
        # (batch, t, d_model)
        x = self.tokens(tokens) + self.positions(positions)
        for i, block in enumerate(self.blocks):
            # (batch, t, d_model)
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln(x))              # (batch, t, vocab)


@torch.no_grad()
def generate(model, prompt, n_new, use_cache=True):
    """Greedy decoding of ``n_new`` tokens after ``prompt`` (batch, P).

    Returns (tokens (batch, P + n_new), logits (batch, n_new, vocab) of
    every new token). Without the cache every step runs the model on the
    whole sequence so far; with it, every step after the prompt runs the
    model on one token.
    """
    caches = model.new_caches() if use_cache else None
    tokens = prompt                                       # (batch, P)
    # (batch, vocab): the prompt, once
    logits = model(prompt, caches)[:, -1]
    steps = []
    for step in range(n_new):
        steps.append(logits)
        next_token = logits.argmax(dim=-1, keepdim=True)  # (batch, 1)
        # (batch, P + step + 1)
        tokens = torch.cat([tokens, next_token], dim=1)
        if step + 1 < n_new:
            if use_cache:
                # only the new token goes in
                logits = model(next_token, caches)[:, -1]
            else:
                logits = model(tokens)[:, -1]             # everything, again
    # (batch, P + n_new), (batch, n_new, vocab)
    return tokens, torch.stack(steps, dim=1)
