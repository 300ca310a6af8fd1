"""attnbook.transformer: the blocks equal PyTorch's layers; the model's masks do their job."""

import pytest
import torch
from torch import nn

from attnbook.attention import causal_mask, padding_mask
from attnbook.decoding import greedy_decode
from attnbook.transformer import (Decoder, DecoderBlock, Encoder, EncoderBlock, FeedForward,
                                  Seq2SeqTransformer, copy_from_torch)


def torch_encoder_layer(d_model, n_heads, d_ff, norm_first):
    return nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True,
                                      norm_first=norm_first).eval()


def torch_decoder_layer(d_model, n_heads, d_ff, norm_first):
    return nn.TransformerDecoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True,
                                      norm_first=norm_first).eval()


def randomise_norms(layer):
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith("norm"):
                p.add_(0.3 * torch.randn_like(p))
    return layer


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_encoder_block_equals_pytorch(norm_first, dtype):
    torch.manual_seed(0)
    theirs = randomise_norms(torch_encoder_layer(16, 4, 40, norm_first)).to(dtype)
    ours = copy_from_torch(EncoderBlock(16, 4, 40, norm_first=norm_first), theirs).to(dtype).eval()
    x = torch.randn(3, 7, 16, dtype=dtype)
    keep = padding_mask(torch.tensor([7, 5, 2]), 7)                       # (3, 7) True at real tokens
    with torch.no_grad():
        expected = theirs(x, src_key_padding_mask=~keep)                  # PyTorch: True = ignore
        got = ours(x, keep[:, None, None, :])                            # ours: True = may attend
    atol = 1e-5 if dtype == torch.float32 else 1e-10
    real = keep[..., None].expand_as(got)
    assert torch.allclose(got[real], expected[real], atol=atol)
    assert ours.attn_weights.shape == (3, 4, 7, 7)
    assert torch.all(ours.attn_weights[2, :, :, 2:] == 0)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_block_equals_pytorch(norm_first):
    torch.manual_seed(1)
    theirs = randomise_norms(torch_decoder_layer(12, 3, 20, norm_first)).double()
    ours = copy_from_torch(DecoderBlock(12, 3, 20, norm_first=norm_first), theirs).double().eval()
    y, memory = torch.randn(2, 5, 12).double(), torch.randn(2, 6, 12).double()
    src_keep = padding_mask(torch.tensor([6, 3]), 6)                        # (2, 6)
    tgt_keep = padding_mask(torch.tensor([5, 4]), 5)                        # (2, 5)
    causal = causal_mask(5)
    with torch.no_grad():
        expected = theirs(y, memory, tgt_mask=~causal, tgt_key_padding_mask=~tgt_keep,
                          memory_key_padding_mask=~src_keep)
        got = ours(y, memory, causal & tgt_keep[:, None, None, :], src_keep[:, None, None, :])
    assert torch.allclose(got, expected, atol=1e-10)
    assert ours.self_weights.shape == (2, 3, 5, 5) and ours.cross_weights.shape == (2, 3, 5, 6)
    assert torch.all(ours.self_weights.triu(1) == 0) and torch.all(ours.cross_weights[1, :, :, 3:] == 0)
    assert torch.allclose(ours.cross_weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))


@pytest.mark.parametrize("norm_first", [True, False])
def test_stacks_equal_pytorch(norm_first):
    torch.manual_seed(2)
    layer = torch_encoder_layer(8, 2, 16, norm_first)
    norm = nn.LayerNorm(8) if norm_first else None
    theirs = nn.TransformerEncoder(layer, 3, norm=norm, enable_nested_tensor=False).eval()
    ours = Encoder(3, 8, 2, 16, norm_first=norm_first).eval()
    for block, their_layer in zip(ours.layers, theirs.layers):
        copy_from_torch(block, their_layer)
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    assert isinstance(Decoder(2, 8, 2, 16, norm_first=False).norm, nn.Identity)


def test_feed_forward_works_position_by_position():
    torch.manual_seed(3)
    ff = FeedForward(6, 10)
    x = torch.randn(2, 4, 6)
    out = ff(x)
    assert out.shape == (2, 4, 6)
    assert torch.allclose(out[:, 2], ff(x[:, 2:3])[:, 0], atol=1e-6)
    assert ff.linear1.weight.shape == (10, 6) and ff.linear2.weight.shape == (6, 10)


def test_dropout_is_used_in_training_only():
    torch.manual_seed(4)
    block = EncoderBlock(8, 2, 16, dropout=0.5)
    x = torch.randn(2, 5, 8)
    assert not torch.allclose(block(x), block(x))
    block.eval()
    assert torch.equal(block(x), block(x))


def test_seq2seq_masks():
    torch.manual_seed(5)
    model = Seq2SeqTransformer(11, 13, d_model=16, n_heads=2, d_ff=24, n_layers=2).eval()
    src = torch.randint(3, 11, (2, 6))
    tgt = torch.randint(3, 13, (2, 5))
    with torch.no_grad():
        logits = model(src, tgt)
        assert logits.shape == (2, 5, 13)
        changed = tgt.clone()
        changed[:, 3:] = 4                                  # change the future: the past is unchanged
        assert torch.allclose(model(src, changed)[:, :3], logits[:, :3], atol=1e-6)
        padded = torch.cat([src, torch.zeros(2, 3, dtype=torch.long)], dim=1)  # extra padding is ignored
        assert torch.allclose(model(padded, tgt), logits, atol=1e-5)
    memory, src_mask = model.encode(padded)
    assert memory.shape == (2, 9, 16) and src_mask.shape == (2, 1, 1, 9)
    assert src_mask[:, 0, 0, 6:].eq(False).all()
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, 200, dtype=torch.long), tgt)


def test_greedy_decode_stops_at_eos():
    class Counter(nn.Module):
        """Writes 3, 4, 5, ... and EOS (2) after as many tokens as the source's first id."""

        pad_id = 0

        def encode(self, src):
            return src, None

        def decode(self, tgt_in, memory, src_mask):
            steps = tgt_in.size(1)                           # tokens written so far + 1
            nxt = torch.where(steps > memory[:, 0], torch.tensor(2), steps + 2)  # (batch,)
            return nn.functional.one_hot(nxt, 20).float()[:, None].expand(-1, steps, -1)

    out = greedy_decode(Counter(), torch.tensor([[2], [4]]), bos_id=1, eos_id=2, max_len=10)
    assert out.tolist() == [[3, 4, 2, 0, 0], [3, 4, 5, 6, 2]]
    out = greedy_decode(Counter(), torch.tensor([[9]]), bos_id=1, eos_id=2, max_len=4)
    assert out.tolist() == [[3, 4, 5, 6]]                     # ran out of room


def test_greedy_decode_restores_the_mode():
    model = Seq2SeqTransformer(7, 7, d_model=8, n_heads=2, d_ff=8, n_layers=1).train()
    out = greedy_decode(model, torch.randint(3, 7, (3, 4)), 1, 2, max_len=6)
    assert model.training and out.shape[0] == 3 and out.shape[1] <= 6
