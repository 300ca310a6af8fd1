"""Chapter 4, positions: telling self-attention where each word stands.

- :func:`sinusoidal_positional_encoding` is the fixed table of Vaswani et
  al. (2017), added to the word vectors;
- :class:`LearnedPositionalEmbedding` learns one vector per position, up
  to ``max_len``;
- :func:`apply_rope` rotates queries and keys by angles that grow with the
  position (RoFormer, Su et al. 2021), so that attention scores depend
  only on the offset between two words.

Every definition here is shown, line for line, in
``chapters/04_self_attention_positions.ipynb``.
"""

import torch
from torch import nn


def sinusoidal_positional_encoding(seq_len, d_model):
    """The (seq_len, d_model) float32 table
    PE[pos, 2i] = sin(pos / 10000^(2i/d_model)),
    PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model)).
    For an odd d_model the last cosine is dropped."""
    # (seq_len, 1): the positions 0, 1, 2, ...
    positions = torch.arange(seq_len, dtype=torch.float64)[:, None]
    # (ceil(d_model / 2),): the even columns 0, 2, 4, ...
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    # (seq_len, ceil(d_model / 2)): one angle per position and pair
    angles = positions / 10000.0 ** (two_i / d_model)
    pe = torch.zeros(seq_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)                  # even columns: sines
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])  # odd: cosines
    return pe.float()                     # (seq_len, d_model), float32


class LearnedPositionalEmbedding(nn.Module):
    """One learned vector per position 0 .. max_len-1, added to the input
    (batch, L, d_model)."""

    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        # weight (max_len, d_model): one row per position
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        """x (batch, L, d_model) -> x + the vectors of positions
        0 .. L-1, same shape."""
        length = x.size(-2)
        if length > self.max_len:
            raise ValueError(
                f"a sequence of {length} positions is longer than "
                f"max_len={self.max_len}: the learned table has no "
                f"vector for position {self.max_len} or later")
        positions = torch.arange(length, device=x.device)   # (L,)
        # (batch, L, d_model) + (L, d_model)
        return x + self.embedding(positions)


def apply_rope(x, positions=None, base=10000.0):
    """Rotary position embedding: rotate each pair (x[..., 2i],
    x[..., 2i+1]) of ``x`` (..., L, d), d even, by the angle
    pos * base^(-2i/d). ``positions`` (L,) defaults to 0, 1, ..., L-1."""
    length, d = x.shape[-2:]
    if d % 2:
        raise ValueError(f"apply_rope rotates pairs of features: the last "
                         f"dimension must be even, got {d}")
    if positions is None:
        positions = torch.arange(length)           # (L,): 0, 1, ..., L-1
    positions = torch.as_tensor(positions, device=x.device)
    positions = positions.to(torch.float64)                       # (L,)
    two_i = torch.arange(0, d, 2, dtype=torch.float64, device=x.device)
    inv_freq = base ** (-two_i / d)                  # (d/2,): base^(-2i/d)
    angles = positions[..., None] * inv_freq     # (L, d/2): one per pair
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (L, d/2)
    # (..., L, d/2) each: the first and second feature of every pair
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated_even = even * cos - odd * sin                # (..., L, d/2)
    rotated_odd = even * sin + odd * cos                 # (..., L, d/2)
    # (..., L, d/2, 2) -> (..., L, d): the pairs back side by side
    return torch.stack((rotated_even, rotated_odd), dim=-1).flatten(-2)
