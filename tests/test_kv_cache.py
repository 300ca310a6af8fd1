"""attnbook.kv_cache: a cache step, the KVCache, and decoding with and
without it giving the same output."""

import math

import pytest
import torch

from attnbook.attention import causal_mask, scaled_dot_product_attention
from attnbook.kv_cache import (KVCache, TinyGPT, causal_self_attention,
                               generate, kv_cache_step)
from attnbook.multihead import MultiHeadAttention


def test_step_appends_along_the_sequence_axis():
    torch.manual_seed(0)
    q, k = torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4)
    v = torch.randn(2, 3, 1, 5)
    cache_k, cache_v = torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 5)
    out, new_k, new_v = kv_cache_step(q, k, v, cache_k, cache_v)
    assert out.shape == (2, 3, 1, 5)
    assert new_k.shape == (2, 3, 7, 4) and new_v.shape == (2, 3, 7, 5)
    assert torch.equal(new_k[..., :6, :], cache_k)
    assert torch.equal(new_k[..., 6:, :], k)
    ref, _ = scaled_dot_product_attention(q, new_k, new_v)
    assert torch.allclose(out, ref)


def test_step_with_several_new_tokens_is_causal():
    torch.manual_seed(1)
    # a whole sequence of 9 tokens
    x_q, x_k, x_v = (torch.randn(2, 2, 9, 4) for _ in range(3))
    full, _ = scaled_dot_product_attention(x_q, x_k, x_v, causal_mask(9))
    out, ck, cv = kv_cache_step(x_q[..., 6:, :], x_k[..., 6:, :],
                                x_v[..., 6:, :], x_k[..., :6, :],
                                x_v[..., :6, :])
    assert torch.allclose(out, full[..., 6:, :], atol=1e-6)
    assert torch.equal(ck, x_k) and torch.equal(cv, x_v)


def test_kv_cache_object_grows_token_by_token():
    torch.manual_seed(2)
    cache = KVCache()
    assert len(cache) == 0
    x_q, x_k, x_v = (torch.randn(1, 2, 5, 3) for _ in range(3))
    outs = [cache.attend(x_q[..., t:t + 1, :], x_k[..., t:t + 1, :],
                         x_v[..., t:t + 1, :]) for t in range(5)]
    assert len(cache) == 5
    full, _ = scaled_dot_product_attention(x_q, x_k, x_v, causal_mask(5))
    assert torch.allclose(torch.cat(outs, dim=-2), full, atol=1e-6)


def test_causal_self_attention_without_cache_is_masked_multihead_attention():
    torch.manual_seed(3)
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(3, 7, 16)
    expected, _ = mha(x, x, x, causal_mask(7))
    assert torch.allclose(causal_self_attention(mha, x), expected, atol=1e-6)
    cache = KVCache()             # a prompt of 4, then one token at a time
    pieces = [causal_self_attention(mha, x[:, :4], cache)]
    pieces += [causal_self_attention(mha, x[:, t:t + 1], cache)
               for t in range(4, 7)]
    assert torch.allclose(torch.cat(pieces, dim=1), expected, atol=1e-6)


@pytest.mark.parametrize("batch,prompt_len,n_new", [
    (1, 1, 1), (1, 3, 20), (2, 5, 33), (4, 2, 64), (3, 8, 7)])
def test_generate_with_and_without_cache_agree(batch, prompt_len, n_new):
    torch.manual_seed(batch * 100 + n_new)
    model = TinyGPT(vocab_size=23, d_model=32, n_heads=4, n_layers=2,
                    d_ff=64, max_len=128).double().eval()
    prompt = torch.randint(0, 23, (batch, prompt_len))
    tokens_c, logits_c = generate(model, prompt, n_new, use_cache=True)
    tokens_n, logits_n = generate(model, prompt, n_new, use_cache=False)
    assert tokens_c.shape == (batch, prompt_len + n_new)
    assert logits_c.shape == (batch, n_new, 23)
    assert torch.equal(tokens_c[:, :prompt_len], prompt)
    assert torch.equal(tokens_c, tokens_n)
    assert torch.allclose(logits_c, logits_n, atol=1e-10)


def test_generate_in_float32_gives_the_same_tokens():
    torch.manual_seed(7)
    model = TinyGPT(vocab_size=50).eval()
    prompt = torch.randint(0, 50, (2, 4))
    tokens_c, logits_c = generate(model, prompt, 40)
    tokens_n, logits_n = generate(model, prompt, 40, use_cache=False)
    assert torch.equal(tokens_c, tokens_n)
    assert torch.allclose(logits_c, logits_n, atol=1e-4)


def test_model_forward_with_caches_matches_whole_sequence():
    torch.manual_seed(8)
    model = TinyGPT(vocab_size=11, d_model=16, n_heads=2, n_layers=3,
                    d_ff=32, max_len=64).eval()
    tokens = torch.randint(0, 11, (2, 12))
    with torch.no_grad():
        whole = model(tokens)                                # (2, 12, 11)
        caches = model.new_caches()
        parts = [model(tokens[:, :5], caches)]
        parts += [model(tokens[:, t:t + 1], caches) for t in range(5, 12)]
    assert all(len(c) == 12 for c in caches)
    assert torch.allclose(torch.cat(parts, dim=1), whole, atol=1e-5)
    assert not math.isnan(whole.sum().item())
