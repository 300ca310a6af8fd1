"""attnbook.language_model: the decoder-only GPT, its loss, its sampling filters."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnbook.language_model import (GPT, count_parameters, distinct_n, encode_sentences, generate,
                                     next_token_loss, sample_next, sample_sentences, top_k_filter,
                                     top_p_filter, train_language_model)
from attnbook.translate import Vocab


def model(**kw):
    torch.manual_seed(0)
    return GPT(20, d_model=16, n_heads=2, n_layers=2, **kw).eval()


def test_shapes_and_tied_output():
    m = model(d_ff=32)
    x = torch.randint(0, 20, (3, 7))
    assert m(x).shape == (3, 7, 20)
    untied = model(d_ff=32, tied=False)
    assert count_parameters(untied) - count_parameters(m) == 20 * 16 + 20
    h = m.norm(m.blocks[1](m.blocks[0](m.embed(x))))
    assert torch.allclose(m(x), h @ m.embed.weight.T, atol=1e-6)


def test_the_future_is_invisible():
    m = model(d_ff=32)
    x = torch.randint(0, 20, (2, 9))
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 20
    assert torch.allclose(m(x)[:, :6], m(y)[:, :6], atol=1e-6)
    assert not torch.allclose(m(x)[:, 6:], m(y)[:, 6:])


def test_a_window_limits_how_far_back_a_layer_looks():
    torch.manual_seed(0)
    m = GPT(20, d_model=16, n_heads=2, n_layers=1, windows=[3]).eval()
    x = torch.randint(0, 20, (2, 10))
    y = x.clone()
    y[:, 2] = (y[:, 2] + 1) % 20          # 3 or more back from position 5..9
    assert torch.allclose(m(x)[:, 5:], m(y)[:, 5:], atol=1e-6)
    [w] = m.attention_weights()
    assert w.shape == (2, 2, 10, 10)
    assert torch.allclose(w.sum(-1), torch.ones(2, 2, 10), atol=1e-6)
    i, j = torch.arange(10)[:, None], torch.arange(10)[None, :]
    assert (w[..., (j > i) | (i - j >= 3)] == 0).all()
    with pytest.raises(NotImplementedError):
        m(x[:, :1], m.new_caches())


def test_training_mode_gives_the_same_outputs():
    m = model(d_ff=32, windows=[4, None])
    x = torch.randint(0, 20, (2, 8))
    m.train()
    fused = m(x)
    m.eval()
    assert torch.allclose(fused, m(x), atol=1e-5)


def test_generation_with_and_without_the_cache_agree():
    m = model(d_ff=32)
    prompt = torch.randint(3, 20, (4, 3))
    greedy = generate(m, prompt, 12, eos_id=2, temperature=0)
    assert torch.equal(greedy, generate(m, prompt, 12, eos_id=2, temperature=0, use_cache=False))
    a = generate(m, prompt, 12, eos_id=2, generator=torch.Generator().manual_seed(1))
    b = generate(m, prompt, 12, eos_id=2, generator=torch.Generator().manual_seed(1), use_cache=False)
    assert torch.equal(a, b) and torch.equal(a[:, :3], prompt)
    for row in a.tolist():                 # after <eos>, only <eos>
        if 2 in row[3:]:
            first = row.index(2, 3)
            assert set(row[first:]) == {2}


def test_next_token_loss_ignores_padding_targets():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    tokens = torch.tensor([[1, 4, 5, 2, 0], [1, 3, 2, 0, 0]])
    manual = torch.stack([F.cross_entropy(logits[b, t], tokens[b, t + 1])
                          for b in range(2) for t in range(4) if tokens[b, t + 1] != 0]).mean()
    assert torch.allclose(next_token_loss(logits, tokens, 0), manual)
    changed = logits.clone()
    changed[1, 3:] = 100.0                  # positions whose target is padding
    assert torch.allclose(next_token_loss(changed, tokens, 0), manual)


def test_top_k_keeps_ties_and_large_k():
    x = torch.tensor([[3.0, 1.0, 2.0, 2.0, 0.0]])
    assert torch.isfinite(top_k_filter(x, 2)).tolist() == [[True, False, True, True, False]]
    assert torch.equal(top_k_filter(x, 9), x)
    y = torch.randn(2, 3, 6)
    out = top_k_filter(y, 2)
    assert out.shape == y.shape and (torch.isfinite(out).sum(-1) == 2).all()
    assert torch.equal(out[torch.isfinite(out)], y[torch.isfinite(out)])


def test_top_p_keeps_the_crossing_token_and_the_top_one():
    probs = torch.tensor([[0.1, 0.5, 0.15, 0.25]])
    assert torch.isfinite(top_p_filter(probs.log(), 0.6)).tolist() == [[False, True, False, True]]
    assert torch.isfinite(top_p_filter(probs.log(), 0.01)).sum() == 1
    assert torch.isfinite(top_p_filter(probs.log(), 0.99)).all()
    torch.manual_seed(0)
    x = torch.randn(50, 9)
    for p in (0.3, 0.7, 0.9):
        kept = torch.isfinite(top_p_filter(x, p))
        mass = (x.softmax(-1) * kept).sum(-1)
        assert (mass >= p - 1e-6).all()
        # the smallest such set: without its least probable token it holds less than p
        least = torch.where(kept, x.softmax(-1), torch.ones(())).min(-1).values
        assert (mass - least < p).all()


def test_sampling_follows_the_tempered_softmax():
    x = torch.tensor([[1.0, 0.0, 2.0, -1.0]])
    assert sample_next(x, 0).tolist() == [2]
    for t in (0.5, 1.0, 2.0):
        g = torch.Generator().manual_seed(0)
        draws = sample_next(x.expand(40000, 4), t, generator=g)
        freq = torch.bincount(draws, minlength=4) / 40000
        assert torch.allclose(freq, (x / t).softmax(-1)[0], atol=0.01)
    g = torch.Generator().manual_seed(0)
    assert set(sample_next(x.expand(2000, 4), 1.0, top_k=2, generator=g).tolist()) == {0, 2}


def test_distinct_n():
    assert distinct_n([["a", "b", "c"], ["a", "b", "d"]], 2) == 3 / 4
    assert distinct_n([["a"] * 5], 1) == 1 / 5
    assert distinct_n([], 3) == 0


def test_training_lowers_the_loss_and_samples_decode():
    sentences = [["the", "cat", "runs", "."], ["the", "dog", "runs", "."]] * 50
    vocab = Vocab([" ".join(s) for s in sentences])
    tokens = encode_sentences(sentences, vocab)
    assert tokens[0].tolist()[:1] == [vocab.bos_id] and tokens[0, 5] == vocab.eos_id
    torch.manual_seed(0)
    m = GPT(len(vocab), d_model=16, n_heads=2, n_layers=1, d_ff=32)
    losses, _ = train_language_model(m, tokens, vocab.pad_id, steps=150, batch_size=16)
    assert losses[-1] < losses[0] / 3
    out = sample_sentences(m, vocab, 20, seed=0, temperature=0.5)
    assert sum(s in sentences for s in out) >= 18
    assert math.isfinite(losses[-1])
