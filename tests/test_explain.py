"""Rollout, gradient x input and occlusion for a classifier."""

import torch

from attnbook import sentences
from attnbook.explain import (attention_rollout, gradient_x_input,
                              occlusion_drops)
from attnbook.masked_lm import MaskedVocab, TinyBERT


def test_rollout_of_uniform_and_identity_attention():
    eye = torch.eye(4)[None, None].expand(2, 3, 4, 4)
    assert torch.allclose(attention_rollout([eye, eye]), torch.eye(4))
    uniform = torch.full((1, 2, 4, 4), 0.25)
    one = attention_rollout([uniform])[0]
    assert torch.allclose(one, 0.5 * uniform[0, 0] + 0.5 * torch.eye(4))
    two = attention_rollout([uniform, uniform])[0]
    assert torch.allclose(two, one @ one)


def test_rollout_rows_sum_to_one_and_order_matters():
    torch.manual_seed(0)
    w = [torch.randn(2, 2, 5, 5).softmax(-1) for _ in range(3)]
    rolled = attention_rollout(w)
    assert torch.allclose(rolled.sum(-1), torch.ones(2, 5))
    a = [0.5 * x.mean(1) + 0.5 * torch.eye(5) for x in w]
    assert torch.allclose(rolled, a[2] @ a[1] @ a[0])
    assert not torch.allclose(rolled, a[0] @ a[1] @ a[2])
    plain = attention_rollout(w, residual=False)
    assert torch.allclose(plain, w[2].mean(1) @ w[1].mean(1) @ w[0].mean(1))


def _model():
    v = MaskedVocab(sentences.vocabulary())
    torch.manual_seed(0)
    model = TinyBERT(len(v), d_model=16, n_heads=2, n_layers=2,
                     d_ff=32).eval()
    ids = v.encode_all([s.tokens for s in sentences.generate(6, seed=0)])
    at = torch.tensor([3] * 6)
    return v, model, ids, at


def test_gradient_x_input_matches_a_finite_difference():
    v, model, ids, at = _model()
    labels = torch.zeros(6, dtype=torch.long)
    gxi = gradient_x_input(model, ids, at, labels)           # (6, L)
    assert gxi.shape == ids.shape
    # scaling one embedding by (1 + eps) moves the logit by eps * gxi
    eps, row, col = 1e-3, 2, 4
    emb = model.embed(ids).detach()
    scaled = emb.clone()
    scaled[row, col] *= 1 + eps
    with torch.no_grad():
        base = model.classify(ids, at, emb)[row, 0]
        moved = model.classify(ids, at, scaled)[row, 0]
    assert torch.isclose((moved - base) / eps, gxi[row, col], rtol=0.05,
                         atol=1e-4)


def test_occlusion_drops_are_zero_on_special_tokens():
    v, model, ids, at = _model()
    labels = torch.ones(6, dtype=torch.long)
    drops = occlusion_drops(model, ids, at, labels, v.unk_id, v.first_word)
    assert drops.shape == ids.shape
    assert (drops[ids < v.first_word] == 0).all()
    p = model.classify(ids, at).softmax(-1)[:, 1]
    hidden = ids.clone()
    hidden[:, 2] = v.unk_id
    q = model.classify(hidden, at).softmax(-1)[:, 1]
    assert torch.allclose(drops[:, 2], (p - q).detach(), atol=1e-6)
