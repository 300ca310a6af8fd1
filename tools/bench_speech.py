"""Benchmark chapter 11's speech recognisers: training time, word error rate, where attention looks.

    python tools/bench_speech.py                  # 3 seeds, the chapter's settings, 2 threads
    python tools/bench_speech.py --seeds 0 --staircase
    OMP_NUM_THREADS=1 python tools/bench_speech.py --threads 1 --steps 2000

For every seed (new speakers, new utterances, a new initialisation) it generates 4000 training utterances
by 200 speakers and 500 test utterances by 50 other speakers, all in word sequences held out of training;
trains the encoder-decoder (Listener) and the CTC model; prints training wall and CPU seconds, word error
rate (the book's and jiwer's), exact match, the share of output words whose cross-attention peak lies in
their own time span (last and first decoder layer, mean of heads), and what happens on 7 to 10 words
(trained on 2 to 6). Then each figure against the targets of chapter 11 (training at most 60 s on 2 cores,
WER at most 2%, alignment at least 95%), judged on the worst seed. ``--staircase`` also prints the
alignment and WER every 100 steps of the first seed's training. Nothing is asserted: the script reports.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numpy as np
import torch

TARGETS = {"train_s": ("encoder-decoder training seconds", 60.0, "<="),
           "wer": ("encoder-decoder WER %", 2.0, "<="),
           "align": ("words with their peak inside %", 95.0, ">=")}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(seed: int, args) -> dict:
    import jiwer

    from attnbook.listener import (alignment_score, cross_attention, features, frame_times, train_ctc,
                                   train_listener, transcribe, transcribe_ctc)
    from attnbook.speech import make_corpus
    from attnbook.wer import word_error_rate

    start = time.perf_counter()
    train = make_corpus(args.train, seed=1000 + seed, n_speakers=200)
    test = make_corpus(args.test, seed=2000 + seed, n_speakers=50, held_out=True)
    long = make_corpus(200, seed=3000 + seed, n_speakers=20, held_out=True, n_words=(7, 10))
    f_train, f_test, f_long = ([features(u) for u in c] for c in (train, test, long))
    words = [u.words for u in train]
    refs = [u.text for u in test]
    print(f"\nseed {seed}: {len(train)} training / {len(test)} test utterances "
          f"({sum(u.duration for u in train) / 60:.1f} / {sum(u.duration for u in test) / 60:.1f} minutes), "
          f"generated with features in {time.perf_counter() - start:.1f} s")

    staircase = []

    def snapshot(step, model):
        if not (args.staircase and step % 100 == 0):
            return
        was = model.training
        model.eval()
        w = cross_attention(model, f_test[:100], [u.words for u in test[:100]])
        share = alignment_score([a.mean(0) for a in w], [u.spans for u in test[:100]],
                                [frame_times(a.shape[-1]) for a in w])
        hyps = [" ".join(h) for h in transcribe(model, f_test[:100])]
        staircase.append((step, 100 * share, 100 * word_error_rate(refs[:100], hyps)))
        model.train(was)

    wall, cpu = time.perf_counter(), cpu_seconds()
    model, losses = train_listener(f_train, words, steps=args.steps, seed=seed, progress=False,
                                   on_step=snapshot if args.staircase else None)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    if args.staircase:
        print("staircase (step: words inside %, WER % on 100 test utterances): "
              + ", ".join(f"{s}: {a:.0f}, {e:.0f}" for s, a, e in staircase))
        print("  (the training time below includes these snapshots)")
    hyps = transcribe(model, f_test)
    text = [" ".join(h) for h in hyps]
    wer = 100 * word_error_rate(refs, text)
    exact = 100 * np.mean([h == u.words for h, u in zip(hyps, test)])
    w = cross_attention(model, f_test, [u.words for u in test])
    times = [frame_times(a.shape[-1]) for a in w]
    spans = [u.spans for u in test]
    align = 100 * alignment_score([a.mean(0) for a in w], spans, times)
    first = 100 * alignment_score([a.mean(0) for a in cross_attention(model, f_test, [u.words for u in test], 0)],
                                  spans, times)
    forward = 100 * np.mean([np.all(np.diff(a.mean(0)[:-1].argmax(-1)) >= 0) for a in w])
    print(f"encoder-decoder: {args.steps} steps in {wall:.1f} s wall, {cpu:.1f} s CPU, final loss "
          f"{np.mean(losses[-20:]):.4f}; WER {wer:.2f}% (jiwer {100 * jiwer.wer(refs, text):.2f}%), "
          f"exact {exact:.1f}%; peaks inside their word {align:.1f}% (first layer {first:.1f}%), "
          f"forward-moving peaks in {forward:.1f}% of utterances")

    long_hyps = transcribe(model, f_long)
    long_refs = [u.text for u in long]
    long_wer = 100 * word_error_rate(long_refs, [" ".join(h) for h in long_hyps])

    wall_ctc, cpu_ctc = time.perf_counter(), cpu_seconds()
    ctc, _ = train_ctc(f_train, words, seed=seed, progress=False)
    wall_ctc, cpu_ctc = time.perf_counter() - wall_ctc, cpu_seconds() - cpu_ctc
    ctc_wer = 100 * word_error_rate(refs, [" ".join(h) for h in transcribe_ctc(ctc, f_test)])
    ctc_long = 100 * word_error_rate(long_refs, [" ".join(h) for h in transcribe_ctc(ctc, f_long)])
    print(f"CTC: trained in {wall_ctc:.1f} s wall, {cpu_ctc:.1f} s CPU; WER {ctc_wer:.2f}%")
    print(f"7 to 10 words (trained on 2 to 6): encoder-decoder WER {long_wer:.1f}%, at most "
          f"{max(len(h) for h in long_hyps)} words written; CTC WER {ctc_long:.1f}%")
    return {"train_s": wall, "wer": wer, "align": align, "ctc_wer": ctc_wer, "ctc_s": wall_ctc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--staircase", action="store_true", help="snapshots every 100 steps (first seed)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
          f"load average before {os.getloadavg()}")
    runs = []
    for seed in args.seeds:
        runs.append(run(seed, args))
        args.staircase = False                      # snapshots for the first seed only
    print(f"\nagainst the targets (worst of {len(runs)} seed{'s' * (len(runs) > 1)}):")
    for key, (label, target, sense) in TARGETS.items():
        values = [r[key] for r in runs]
        worst = max(values) if sense == "<=" else min(values)
        met = worst <= target if sense == "<=" else worst >= target
        print(f"  {label:<36} {worst:7.2f}  target {sense} {target:g}: {'met' if met else 'MISSED'}  "
              f"(median {statistics.median(values):.2f}; all: {', '.join(f'{v:.2f}' for v in values)})")
    ctc_wer = ", ".join(f"{r['ctc_wer']:.2f}" for r in runs)
    ctc_s = ", ".join(f"{r['ctc_s']:.1f}" for r in runs)
    print(f"  CTC WER %: {ctc_wer}; CTC training s: {ctc_s}")


if __name__ == "__main__":
    main()
