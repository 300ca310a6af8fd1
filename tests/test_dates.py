"""attnbook.dates: the toy task's data, and a short training run that learns something."""

import datetime

import torch

from attnbook.dates import (FORMATS, SRC_VOCAB, TGT_VOCAB, CharVocab, date_pairs, encode_batch,
                            exact_match, format_date, is_held_out, ordinal, train_date_model)


def test_formats():
    d = datetime.date(2021, 5, 3)
    for example in FORMATS:
        assert format_date(d, example) == example                       # each key is its own example
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]


def test_pairs_are_right_and_held_out_dates_are_apart():
    train, test = date_pairs(2000, seed=0), date_pairs(300, seed=1, held_out=True)
    assert len(train) == 2000 and len(test) == 300
    train_dates = {t for _, t in train}
    assert not train_dates & {t for _, t in test}
    for _, t in train[:50] + test[:50]:
        assert datetime.date.fromisoformat(t).year in range(1950, 2050)
    assert all(is_held_out(datetime.date.fromisoformat(t)) for _, t in test)
    weekdays = {datetime.date.fromisoformat(t).weekday() for _, t in test}
    assert len(weekdays) == 7                                          # held-out dates fall on every weekday
    assert date_pairs(10, seed=3) == date_pairs(10, seed=3)


def test_vocab_and_batches():
    assert SRC_VOCAB.itos[:3] == ["<pad>", "<bos>", "<eos>"]
    assert SRC_VOCAB.decode(SRC_VOCAB.encode("may 3, 2021")) == "may 3, 2021"
    assert TGT_VOCAB.decode([5, 6, CharVocab.EOS, 7]) == TGT_VOCAB.itos[5] + TGT_VOCAB.itos[6]
    src, tgt_in, tgt_out = encode_batch([("3 may 2021", "2021-05-03"), ("03.05.2021", "2021-05-03")])
    assert src.shape == (2, 10) and tgt_in.shape == tgt_out.shape == (2, 11)
    assert (tgt_in[:, 0] == CharVocab.BOS).all() and (tgt_out[:, -1] == CharVocab.EOS).all()
    assert torch.equal(tgt_in[:, 1:], tgt_out[:, :-1])


def test_short_training_is_deterministic_and_learns():
    args = dict(n_train=640, epochs=1, batch_size=64, lr=3e-3, warmup=2, progress=False,
                d_model=16, n_heads=2, d_ff=32, n_layers=1)
    model, losses, seconds = train_date_model(**args)
    _, again, _ = train_date_model(**args)
    assert losses == again and len(losses) == 10
    assert losses[-1] < losses[0]
    assert 0.0 <= exact_match(model, date_pairs(20, seed=5, held_out=True)) <= 1.0
