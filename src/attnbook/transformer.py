"""Chapter 6, the transformer block: attention plus the plumbing that lets
it be stacked.

- :class:`FeedForward` is the position-wise network applied to every word
  on its own;
- :class:`EncoderBlock` is self-attention then feed-forward, each wrapped in
  a residual connection and a layer norm, placed before the sub-layer
  (pre-LN, ``norm_first=True``) or after the residual sum (post-LN, the
  original arrangement of Vaswani et al. 2017);
- :class:`DecoderBlock` adds cross-attention: queries from the target being
  written, keys and values from the encoder's output (the highlighter pen
  that looks at the source sentence);
- :class:`Encoder`, :class:`Decoder` stack blocks; :class:`Seq2SeqTransformer`
  adds token embeddings, sinusoidal positions, the masks and the output
  layer.

Inputs are batch-first; masks are boolean, True where attention is allowed.
With dropout 0 and copied weights the blocks equal
``torch.nn.TransformerEncoderLayer`` / ``TransformerDecoderLayer``
(``batch_first=True``). Every definition is shown, line for line, in
``chapters/06_transformer_block.ipynb``.
"""

import math

import torch
from torch import nn

from .attention import causal_mask
from .multihead import MultiHeadAttention
from .positions import sinusoidal_positional_encoding


class FeedForward(nn.Module):
    """Position-wise feed-forward network,
    linear2(dropout(relu(linear1(x)))), word by word."""

    def __init__(self, d_model, d_ff, dropout=0.0):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        """x (..., L, d_model) -> (..., L, d_model)."""
        # widen, then keep the positive part: (..., L, d_ff)
        h = torch.relu(self.linear1(x))
        # back to the model's width: (..., L, d_model)
        return self.linear2(self.dropout(h))


class EncoderBlock(nn.Module):
    """Self-attention and feed-forward, each with a residual connection and
    a layer norm.

    ``norm_first=True`` (pre-LN): x + sublayer(norm(x)).
    ``norm_first=False`` (post-LN): norm(x + sublayer(x)). The attention
    weights of the last call are kept in ``attn_weights``.
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=True):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.attn_weights = None

    def _self_attention(self, x, mask):
        # (batch, L, d_model), (batch, heads, L, L)
        out, weights = self.self_attn(x, x, x, mask)
        self.attn_weights = weights.detach()
        return self.dropout1(out)               # (batch, L, d_model)

    def forward(self, x, mask=None):
        """x (batch, L, d_model); mask bool, broadcastable to
        (batch, n_heads, L, L), True = may attend."""
        if self.norm_first:             # pre-LN: normalise, transform, add
            x = x + self._self_attention(self.norm1(x), mask)
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:                           # post-LN: transform, add, normalise
            x = self.norm1(x + self._self_attention(x, mask))
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return x                        # (batch, L, d_model)


class DecoderBlock(nn.Module):
    """Masked self-attention, cross-attention to the encoder's output,
    feed-forward.

    Each sub-layer has its residual connection and layer norm (pre-LN or
    post-LN as in :class:`EncoderBlock`). The weights of the last call are
    kept in ``self_weights`` (batch, n_heads, L_t, L_t) and
    ``cross_weights`` (batch, n_heads, L_t, L_s).
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=True):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.self_weights = None
        self.cross_weights = None

    def _self_attention(self, y, mask):
        out, weights = self.self_attn(y, y, y, mask)  # (batch, L_t, d_model)
        self.self_weights = weights.detach()  # (batch, heads, L_t, L_t)
        return self.dropout1(out)

    def _cross_attention(self, y, memory, mask):
        # queries from the target; keys and values from the source
        out, weights = self.cross_attn(y, memory, memory, mask)
        self.cross_weights = weights.detach()  # (batch, heads, L_t, L_s)
        return self.dropout2(out)              # (batch, L_t, d_model)

    def forward(self, y, memory, self_mask=None, memory_mask=None):
        """y (batch, L_t, d_model), memory (batch, L_s, d_model) from the
        encoder; self_mask bool, broadcastable to (batch, n_heads, L_t, L_t)
        (causal); memory_mask broadcastable to (batch, n_heads, L_t, L_s)
        (source padding). True = may attend."""
        if self.norm_first:                                     # pre-LN
            y = y + self._self_attention(self.norm1(y), self_mask)
            y = y + self._cross_attention(self.norm2(y), memory,
                                          memory_mask)
            y = y + self.dropout3(self.ff(self.norm3(y)))
        else:                                                   # post-LN
            y = self.norm1(y + self._self_attention(y, self_mask))
            y = self.norm2(y + self._cross_attention(y, memory,
                                                     memory_mask))
            y = self.norm3(y + self.dropout3(self.ff(y)))
        return y                                # (batch, L_t, d_model)


class Encoder(nn.Module):
    """``n_layers`` encoder blocks; a final layer norm when ``norm_first``
    (pre-LN)."""

    def __init__(self, n_layers, d_model, n_heads, d_ff, dropout=0.0,
                 norm_first=True):
        super().__init__()
        self.layers = nn.ModuleList(
            [EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first)
             for _ in range(n_layers)])
        self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(self, x, mask=None):
        """x (batch, L_s, d_model) -> (batch, L_s, d_model)."""
        for layer in self.layers:
            x = layer(x, mask)          # (batch, L_s, d_model)
        return self.norm(x)


class Decoder(nn.Module):
    """``n_layers`` decoder blocks; a final layer norm when ``norm_first``
    (pre-LN)."""

    def __init__(self, n_layers, d_model, n_heads, d_ff, dropout=0.0,
                 norm_first=True):
        super().__init__()
        self.layers = nn.ModuleList(
            [DecoderBlock(d_model, n_heads, d_ff, dropout, norm_first)
             for _ in range(n_layers)])
        self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(self, y, memory, self_mask=None, memory_mask=None):
        """y (batch, L_t, d_model), memory (batch, L_s, d_model)
        -> (batch, L_t, d_model)."""
        for layer in self.layers:
            y = layer(y, memory, self_mask, memory_mask)  # (b, L_t, d_model)
        return self.norm(y)


class Seq2SeqTransformer(nn.Module):
    """An encoder-decoder transformer over token ids, batch-first.

    Token embeddings (initialised with standard deviation 1/sqrt(d_model))
    are scaled by sqrt(d_model) and added to sinusoidal positions, so that
    words and positions start at the same size. The model builds its own
    masks from ``pad_id``: source keys that are padding are hidden from the
    encoder's self-attention and from cross-attention; the target gets a
    causal mask (and its padding hidden).
    """

    def __init__(self, src_vocab, tgt_vocab, d_model=64, n_heads=4,
                 d_ff=128, n_layers=2, dropout=0.0, norm_first=True,
                 max_len=128, pad_id=0):
        super().__init__()
        self.d_model, self.pad_id, self.max_len = d_model, pad_id, max_len
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        # times sqrt(d_model), entries are about N(0, 1): as large as the
        # positions, not sqrt(d_model) times larger
        for embedding in (self.src_embed, self.tgt_embed):
            nn.init.normal_(embedding.weight, std=d_model ** -0.5)
        positions = sinusoidal_positional_encoding(max_len, d_model)
        self.register_buffer("positions", positions,     # (max_len, d_model)
                             persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.encoder = Encoder(n_layers, d_model, n_heads, d_ff, dropout,
                               norm_first)
        self.decoder = Decoder(n_layers, d_model, n_heads, d_ff, dropout,
                               norm_first)
        self.out = nn.Linear(d_model, tgt_vocab)

    def embed(self, embedding, tokens):
        """tokens (batch, L) -> (batch, L, d_model): scaled embeddings plus
        positions."""
        if tokens.size(1) > self.max_len:
            raise ValueError(f"a sequence of {tokens.size(1)} tokens is "
                             f"longer than max_len={self.max_len}")
        x = embedding(tokens) * math.sqrt(self.d_model)  # (b, L, d_model)
        x = x + self.positions[: tokens.size(1)]         # (b, L, d_model)
        return self.dropout(x)

    def encode(self, src):
        """src (batch, L_s) token ids -> memory (batch, L_s, d_model),
        src_mask (batch, 1, 1, L_s)."""
        # (batch, 1, 1, L_s): True at the real keys
        src_mask = (src != self.pad_id)[:, None, None, :]
        x = self.embed(self.src_embed, src)          # (batch, L_s, d_model)
        memory = self.encoder(x, src_mask)           # (batch, L_s, d_model)
        return memory, src_mask

    def decode(self, tgt_in, memory, src_mask):
        """tgt_in (batch, L_t) token ids (starting with BOS) -> logits
        (batch, L_t, tgt_vocab)."""
        length = tgt_in.size(1)
        # (batch, 1, L_t, L_t): no peeking ahead, no padded keys
        tgt_mask = (causal_mask(length, device=tgt_in.device)
                    & (tgt_in != self.pad_id)[:, None, None, :])
        y = self.embed(self.tgt_embed, tgt_in)       # (batch, L_t, d_model)
        y = self.decoder(y, memory, tgt_mask, src_mask)  # (b, L_t, d_model)
        return self.out(y)                           # (batch, L_t, vocab)

    def forward(self, src, tgt_in):
        """src (batch, L_s), tgt_in (batch, L_t) -> logits
        (batch, L_t, tgt_vocab)."""
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)


@torch.no_grad()
def copy_from_torch(block, layer):
    """Copy the weights of ``torch.nn.TransformerEncoderLayer`` /
    ``TransformerDecoderLayer`` ``layer`` into our ``EncoderBlock`` /
    ``DecoderBlock`` ``block``; returns ``block``."""
    is_decoder = hasattr(block, "cross_attn")
    pairs = [(block.self_attn, layer.self_attn)]
    if is_decoder:  # PyTorch's name for cross-attention: multihead_attn
        pairs.append((block.cross_attn, layer.multihead_attn))
    for ours, theirs in pairs:
        # (d_model, d_model) each, stacked q, k, v; then (d_model,) each
        w_q, w_k, w_v = theirs.in_proj_weight.chunk(3)
        b_q, b_k, b_v = theirs.in_proj_bias.chunk(3)
        out = theirs.out_proj
        for linear, weight, bias in [(ours.w_q, w_q, b_q),
                                     (ours.w_k, w_k, b_k),
                                     (ours.w_v, w_v, b_v),
                                     (ours.w_o, out.weight, out.bias)]:
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
    modules = [(block.ff.linear1, layer.linear1),
               (block.ff.linear2, layer.linear2),
               (block.norm1, layer.norm1), (block.norm2, layer.norm2)]
    if is_decoder:
        modules.append((block.norm3, layer.norm3))
    for ours, theirs in modules:
        ours.weight.copy_(theirs.weight)
        ours.bias.copy_(theirs.bias)
    return block
