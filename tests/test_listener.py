"""attnbook.listener: the models' shapes and masks, batching, decoding, alignment, and a short run that learns."""

import numpy as np
import pytest
import torch

from attnbook.listener import (BOS_ID, CTC_LABELS, EOS_ID, PAD_ID, TOKENS, ConvSubsampler, CTCListener, Listener,
                               alignment_score, ctc_greedy_decode, cross_attention, features, frame_times,
                               make_batch, train_ctc, train_listener, transcribe, transcribe_ctc)
from attnbook.speech import WORDS, make_corpus, synthesize


def test_vocabularies():
    assert TOKENS[:3] == ("<pad>", "<bos>", "<eos>") and (PAD_ID, BOS_ID, EOS_ID) == (0, 1, 2)
    assert TOKENS[3:] == WORDS and CTC_LABELS == ("<blank>",) + WORDS


def test_subsampling_lengths_match_the_convolutions():
    sub = ConvSubsampler(32, 16)
    for t in [1, 7, 8, 9, 63, 64, 65, 150]:
        out = sub(torch.zeros(1, t, 32))
        assert out.shape == (1, int(sub.output_lengths(torch.tensor(t))), 16)
    assert frame_times(3).tolist() == pytest.approx([0.0125, 0.0925, 0.1725])


def test_features_and_batches():
    utts = [synthesize(["one", "two"], seed=1), synthesize(["nine"] * 4, seed=2)]
    feats = [features(u) for u in utts]
    assert feats[0].shape[1] == 32 and abs(len(feats[0]) - (u := utts[0]).duration * 100) < 3
    x, lengths, tgt_in, tgt_out, labels = make_batch(feats, [u.words for u in utts])
    assert x.shape == (2, max(len(f) for f in feats), 32) and lengths.tolist() == [len(f) for f in feats]
    assert torch.all(x[0, len(feats[0]):] == 0)
    assert tgt_in[0].tolist() == [BOS_ID, TOKENS.index("one"), TOKENS.index("two"), PAD_ID, PAD_ID]
    assert tgt_out[0].tolist() == [TOKENS.index("one"), TOKENS.index("two"), EOS_ID, PAD_ID, PAD_ID]
    assert labels[0].tolist() == [CTC_LABELS.index("one"), CTC_LABELS.index("two"), -1, -1]


def test_padding_does_not_change_an_utterance():
    """The masks hide padded frames: an utterance decodes the same alone and in a padded batch."""
    torch.manual_seed(0)
    model, ctc = Listener().eval(), CTCListener().eval()
    utts = [synthesize(["six"], seed=3), synthesize(["one", "two", "three", "four"], seed=4)]
    feats = [features(u) for u in utts]
    words = [u.words for u in utts]
    x, lengths, tgt_in, _, _ = make_batch(feats, words)
    with torch.no_grad():
        batch_logits = model(x, lengths, tgt_in)                           # (2, L, V)
        alone = model(*make_batch(feats[:1], words[:1])[:2], tgt_in[:1, :2])
        assert torch.allclose(batch_logits[0, :2], alone[0], atol=1e-5)
        lp, n = ctc(x, lengths)
        lp_alone, n_alone = ctc(*make_batch(feats[:1]))
        assert n[0] == n_alone[0] and torch.allclose(lp[0, : n[0]], lp_alone[0], atol=1e-5)
        assert torch.allclose(lp.exp().sum(-1), torch.ones(lp.shape[:2]), atol=1e-5)
    weights = cross_attention(model, feats, words)
    assert [w.shape for w in weights] == [(4, 2, int(n[0])), (4, 5, int(n[1]))]
    assert all(np.allclose(w.sum(-1), 1, atol=1e-5) for w in weights)


def test_ctc_greedy_decode_contract():
    path = [1, 1, 0, 1, 2, 2, 0, 0, 3]
    lp = torch.log_softmax(torch.nn.functional.one_hot(torch.tensor(path), 4).float() * 5, -1)   # (T, C)
    assert ctc_greedy_decode(lp) == [1, 1, 2, 3]
    assert ctc_greedy_decode(lp.numpy()) == [1, 1, 2, 3]                   # NumPy too
    assert ctc_greedy_decode(torch.stack([lp, lp.flip(0)])) == [[1, 1, 2, 3], [3, 2, 1, 1]]
    assert ctc_greedy_decode(lp, blank=3) == [1, 0, 1, 2, 0]
    assert all(type(i) is int for i in ctc_greedy_decode(lp))


def test_alignment_score_by_hand():
    w = np.array([[0.1, 0.8, 0.1, 0.0], [0.0, 0.1, 0.2, 0.7], [0.0, 0.0, 0.1, 0.9]])   # two words + <eos>
    t = frame_times(4)                                                     # 0.0125, 0.0925, 0.1725, 0.2525
    assert alignment_score([w], [[(0.0, 0.1), (0.1, 0.3)]], [t]) == 1.0
    assert alignment_score([w], [[(0.0, 0.09), (0.1, 0.3)]], [t]) == 0.5
    assert alignment_score([w, w], [[(0.0, 0.1), (0.1, 0.3)], [(0.2, 0.3), (0.1, 0.2)]], [t, t]) == 0.5
    assert isinstance(alignment_score([w], [[(0.0, 0.1), (0.1, 0.3)]], [t]), float)


def test_short_training_learns_and_transcribes():
    train = make_corpus(300, seed=10, n_speakers=30, n_words=(1, 3))
    feats, words = [features(u) for u in train], [u.words for u in train]
    snapshots = []
    model, losses = train_listener(feats, words, steps=150, seed=0, progress=False,
                                   on_step=lambda step, m: step % 50 == 0 and snapshots.append((step, m.training)))
    assert len(losses) == 150 and np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])
    assert [s for s, _ in snapshots] == [50, 100, 150] and snapshots[0][1]        # snapshots while training
    out = transcribe(model, feats[:5])
    assert len(out) == 5 and all(isinstance(w, list) and set(w) <= set(WORDS) for w in out)
    ctc, ctc_losses = train_ctc(feats, words, steps=60, seed=0, progress=False)
    assert np.mean(ctc_losses[-10:]) < np.mean(ctc_losses[:10])
    assert all(set(w) <= set(WORDS) for w in transcribe_ctc(ctc, feats[:5]))
    assert not model.training and not ctc.training
