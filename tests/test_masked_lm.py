"""The tiny BERT: BERT's masking rule, the causal switch, the read-outs."""

import torch

from attnbook import sentences
from attnbook.masked_lm import (IGNORE, MaskedVocab, MeanPooled, TinyBERT,
                                fill_in, mask_tokens, masked_lm_loss,
                                mean_pool, predict)


def vocab():
    return MaskedVocab(sentences.vocabulary())


def test_vocabulary_puts_mask_and_cls_before_the_words():
    v = vocab()
    assert v.itos[v.mask_id] == "<mask>" and v.itos[v.cls_id] == "<cls>"
    assert v.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    ids = v.encode_all([["the", "cat", "."], ["the", "cats", "jump", "."]])
    assert ids.shape == (2, 5) and (ids[:, 0] == v.cls_id).all()
    assert ids[0, -1] == v.pad_id and (ids[ids != 0][1:] >= 4).all()


def test_masking_keeps_the_rule():
    v = vocab()
    found = sentences.generate(3000, seed=1)
    tokens = v.encode_all([s.tokens for s in found])
    g = torch.Generator().manual_seed(0)
    inputs, labels = mask_tokens(tokens, v.mask_id, v.first_word, len(v), g)
    words, chosen = tokens >= v.first_word, labels != IGNORE
    assert not (chosen & ~words).any()
    assert torch.equal(inputs[~chosen], tokens[~chosen])
    assert torch.equal(labels[chosen], tokens[chosen])
    assert abs(chosen.sum() / words.sum() - 0.15) < 0.01
    became = inputs[chosen]
    assert abs((became == v.mask_id).float().mean() - 0.8) < 0.02
    assert abs((became == tokens[chosen]).float().mean() - 0.1) < 0.02
    assert (became >= v.first_word).logical_or(became == v.mask_id).all()
    again = mask_tokens(tokens, v.mask_id, v.first_word, len(v),
                        torch.Generator().manual_seed(0))
    assert torch.equal(again[0], inputs)           # the generator decides


def test_causal_model_ignores_the_right_and_the_other_does_not():
    v = vocab()
    ids = v.encode_all([["the", "cat", "jumped", "."],
                        ["the", "cat", "jumps", "."]])
    for causal in (True, False):
        torch.manual_seed(0)
        model = TinyBERT(len(v), d_model=16, n_heads=2, n_layers=2,
                         d_ff=32, causal=causal).eval()
        with torch.no_grad():
            out = model(ids)                       # (2, 5, V)
        same_left = torch.allclose(out[0, :3], out[1, :3], atol=1e-6)
        assert same_left == causal
        assert out.shape == (2, 5, len(v))


def test_padding_does_not_change_the_real_positions():
    v = vocab()
    torch.manual_seed(0)
    model = TinyBERT(len(v), d_model=16, n_heads=2, n_layers=1,
                     d_ff=32).eval()
    short = v.encode_all([["the", "cat", "."]])
    padded = torch.cat([short, torch.zeros(1, 3, dtype=torch.long)], 1)
    with torch.no_grad():
        assert torch.allclose(model(short)[0], model(padded)[0, :4],
                              atol=1e-5)


def test_read_outs_and_loss():
    v = vocab()
    torch.manual_seed(0)
    model = TinyBERT(len(v), d_model=16, n_heads=2, n_layers=1, d_ff=32,
                     n_classes=3).eval()
    ids = v.encode_all([["the", "cat", "."], ["the", "dogs", "ran", "."]])
    at = torch.tensor([0, 2])
    assert model.classify(ids, at).shape == (2, 3)
    assert predict(model, ids, at).shape == (2,)
    best = fill_in(model, ids, torch.tensor([2, 3]), v.mask_id, v.first_word)
    assert (best >= v.first_word).all()
    labels = torch.full(ids.shape, IGNORE)
    labels[0, 2] = ids[0, 2]
    logits = model(ids)
    expected = -logits[0, 2].log_softmax(-1)[ids[0, 2]]
    assert torch.allclose(masked_lm_loss(logits, labels), expected)


def test_mean_pool_averages_the_real_tokens_only():
    h = torch.arange(24, dtype=torch.float).reshape(2, 3, 4)   # (2, 3, 4)
    tokens = torch.tensor([[5, 7, 0], [5, 7, 8]])              # one pad
    pooled = mean_pool(h, tokens)
    assert pooled.shape == (2, 4)
    assert torch.equal(pooled[0], h[0, :2].mean(0))
    assert torch.equal(pooled[1], h[1].mean(0))
    assert not torch.equal(pooled[0], h[0].mean(0))   # padding counted: wrong


def test_mean_pooled_read_out_ignores_padding_and_at():
    v = vocab()
    torch.manual_seed(0)
    bert = TinyBERT(len(v), d_model=16, n_heads=2, n_layers=1, d_ff=32,
                    n_classes=3)
    pooled = MeanPooled(bert).eval()
    short = v.encode_all([["the", "cat", "."]])
    padded = torch.cat([short, torch.zeros(1, 2, dtype=torch.long)], 1)
    with torch.no_grad():
        a = pooled.classify(short, torch.tensor([0]))
        b = pooled.classify(padded, torch.tensor([3]))
        at_cls = bert.classify(short, torch.tensor([0]))
    assert a.shape == (1, 3) and torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, at_cls)          # not the <cls> read-out
    assert set(dict(pooled.named_parameters())) == {
        "bert." + k for k, _ in bert.named_parameters()}
    assert len(pooled.attention_weights()) == 1
