"""Chapter 6, a toy task for a tiny transformer: write any date as
YYYY-MM-DD.

"the 3rd of may 2021", "monday, may 3, 2021", "03.05.2021" ... ->
"2021-05-03", character by character. The task is small enough to learn in
about 20 seconds on one CPU thread, and its cross-attention is easy to read:
to write the year the decoder must look at the year, wherever the format
put it, and skip the weekday.

- :func:`format_date` writes a date in one of the :data:`FORMATS`;
- :func:`date_pairs` makes (source, target) pairs; held-out dates never
  appear in training;
- :class:`CharVocab` maps characters to ids (``<pad>`` = 0, ``<bos>``,
  ``<eos>``);
- :func:`make_batches`, :func:`date_loss`, :func:`train_date_model`,
  :func:`exact_match` train and score a
  :class:`attnbook.transformer.Seq2SeqTransformer` on it.

Run ``python -m attnbook.dates [--threads 1]`` for a benchmark: training
time and exact-match accuracy (``main()`` also returns them, for
``tools/benchmark.py``).
"""

import datetime
import random
import time

import torch
import torch.nn.functional as F

from .decoding import greedy_decode
from .training import fit, seed_everything, warmup_cosine
from .transformer import Seq2SeqTransformer

MONTHS = ["january", "february", "march", "april", "may", "june", "july",
          "august", "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday",
            "saturday", "sunday"]
FIRST, LAST = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)


def ordinal(day):
    """1 -> '1st', 2 -> '2nd', 3 -> '3rd', 11 -> '11th', 22 -> '22nd' ..."""
    if 10 <= day % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


#: Every way the task writes a date, with an example for 3 May 2021.
def _month(d):
    return MONTHS[d.month - 1]


FORMATS = {
    "the 3rd of may 2021":
        lambda d: f"the {ordinal(d.day)} of {_month(d)} {d.year}",
    "may 3, 2021": lambda d: f"{_month(d)} {d.day}, {d.year}",
    "3 may 2021": lambda d: f"{d.day} {_month(d)} {d.year}",
    "may 3rd 2021": lambda d: f"{_month(d)} {ordinal(d.day)} {d.year}",
    "monday, may 3, 2021":
        lambda d: (f"{WEEKDAYS[d.weekday()]}, {_month(d)} {d.day}, "
                   f"{d.year}"),
    "3-may-2021": lambda d: f"{d.day}-{_month(d)[:3]}-{d.year}",
    "03.05.2021": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
}


def format_date(date, style):
    """``date`` (a datetime.date) written in ``style``, one of the keys of
    :data:`FORMATS`."""
    return FORMATS[style](date)


def is_held_out(date):
    """One date in thirteen is kept for testing: it never appears in
    training, in any format. (Thirteen, not seven: a rule on the day count
    modulo 7 would hold out a single weekday.)"""
    return date.toordinal() % 13 == 5


def date_pairs(n, seed=0, held_out=False):
    """``n`` pairs (source text, 'YYYY-MM-DD'), random dates in 1950-2049
    and random formats, from the held-out dates or from the training
    dates."""
    rng = random.Random(seed)
    styles = list(FORMATS)
    span = LAST.toordinal() - FIRST.toordinal()
    pairs = []
    while len(pairs) < n:
        day = FIRST.toordinal() + rng.randint(0, span)
        date = datetime.date.fromordinal(day)
        if is_held_out(date) == held_out:
            text = format_date(date, rng.choice(styles))
            pairs.append((text, date.isoformat()))
    return pairs


class CharVocab:
    """Characters <-> ids; id 0 is ``<pad>``, then ``<bos>``, ``<eos>``,
    then the characters."""

    PAD, BOS, EOS = 0, 1, 2

    def __init__(self, characters):
        self.itos = ["<pad>", "<bos>", "<eos>"] + sorted(set(characters))
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, text):
        return [self.stoi[ch] for ch in text]

    def decode(self, ids):
        """Ids -> text, stopping at the first ``<eos>`` and skipping
        ``<pad>`` and ``<bos>``."""
        out = []
        for i in (int(i) for i in ids):
            if i == self.EOS:
                break
            if i not in (self.PAD, self.BOS):
                out.append(self.itos[i])
        return "".join(out)


SRC_VOCAB = CharVocab("abcdefghijklmnopqrstuvwxyz0123456789 ,.-")
TGT_VOCAB = CharVocab("0123456789-")


def encode_batch(pairs):
    """A list of pairs -> src (batch, L_s) padded with 0, tgt_in (batch, 11)
    = BOS + date, tgt_out (batch, 11) = date + EOS."""
    width = max(len(s) for s, _ in pairs)
    # (batch, L_s), 0 = <pad>
    src = torch.zeros(len(pairs), width, dtype=torch.long)
    for row, (s, _) in enumerate(pairs):
        src[row, : len(s)] = torch.tensor(SRC_VOCAB.encode(s))
    tgt = torch.tensor([TGT_VOCAB.encode(t) for _, t in pairs])  # (b, 10)
    bos = torch.full((len(pairs), 1), CharVocab.BOS)            # (batch, 1)
    eos = torch.full((len(pairs), 1), CharVocab.EOS)            # (batch, 1)
    return src, torch.cat([bos, tgt], dim=1), torch.cat([tgt, eos], dim=1)


def make_batches(pairs, batch_size, seed=0):
    """A function epoch -> list of batches (src, tgt_in, tgt_out),
    reshuffled every epoch."""

    def batches(epoch):
        order = list(range(len(pairs)))
        random.Random(seed * 1000 + epoch).shuffle(order)
        starts = range(0, len(order), batch_size)
        return [encode_batch([pairs[i] for i in order[s:s + batch_size]])
                for s in starts]

    return batches


def date_loss(model, batch):
    """Cross-entropy of the next character, averaged over every target
    position."""
    src, tgt_in, tgt_out = batch
    logits = model(src, tgt_in)                 # (batch, 11, tgt_vocab)
    # (batch * 11, tgt_vocab) against (batch * 11,)
    return F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten())


def train_date_model(n_train=8000, epochs=4, batch_size=64, lr=3e-3,
                     warmup=100, seed=0, progress=True, **model_args):
    """Train a Seq2SeqTransformer on ``n_train`` date pairs; return
    (model, per-step losses, seconds). ``model_args`` go to
    Seq2SeqTransformer (d_model=64, n_heads=4, d_ff=128, n_layers=2,
    norm_first ...)."""
    seed_everything(seed)
    model = Seq2SeqTransformer(len(SRC_VOCAB), len(TGT_VOCAB), **model_args)
    pairs = date_pairs(n_train, seed=seed)
    batches = make_batches(pairs, batch_size, seed=seed)
    total_steps = epochs * -(-n_train // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = warmup_cosine(optimizer, warmup, total_steps)
    start = time.perf_counter()
    losses = fit(model, batches, date_loss, optimizer, scheduler,
                 epochs=epochs, progress=progress)
    return model, losses, time.perf_counter() - start


def translate_dates(model, texts):
    """Normalise a list of date texts with greedy decoding; returns a list
    of strings."""
    src, _, _ = encode_batch([(t, "0000-00-00") for t in texts])
    out = greedy_decode(model, src, CharVocab.BOS, CharVocab.EOS,
                        max_len=11)             # (batch, <= 11)
    return [TGT_VOCAB.decode(row) for row in out]


def exact_match(model, pairs, batch_size=500):
    """The fraction of ``pairs`` whose whole date the model writes exactly
    right."""
    right = 0
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        guesses = translate_dates(model, [s for s, _ in chunk])
        right += sum(g == t for g, (_, t) in zip(guesses, chunk))
    return right / len(pairs)


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(
        description="Train the chapter-6 date model; print time and "
                    "accuracy.")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--post-ln", action="store_true",
                        help="post-LN blocks instead of pre-LN")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice); "
                             "1 is best on a busy machine")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, losses, seconds = train_date_model(
        n_train=args.n_train, epochs=args.epochs, seed=args.seed,
        norm_first=not args.post_ln)
    test = date_pairs(2000, seed=args.seed + 1, held_out=True)
    accuracy = exact_match(model, test)
    print(f"threads={torch.get_num_threads()}  steps={len(losses)}  "
          f"training {seconds:.1f} s  final loss "
          f"{sum(losses[-20:]) / 20:.4f}  exact match on {len(test)} "
          f"held-out dates: {accuracy:.1%}")
    return seconds, accuracy


if __name__ == "__main__":
    main()
