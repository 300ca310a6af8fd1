"""Benchmark chapter 7's translator: training time, exact match and BLEU, greedy against beam search.

    OMP_NUM_THREADS=2 python tools/bench_translation.py              # the chapter's settings
    OMP_NUM_THREADS=2 python tools/bench_translation.py --train 4000 --epochs 6 --beam-sentences 300

Prints the figures (nothing is asserted): wall and CPU seconds of training, exact match and BLEU
(ours and sacrebleu's) on the iid and novel test sets, greedy against beam search, and the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20000, help="training pairs")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--beam-sentences", type=int, default=1000, help="novel sentences decoded with beam search")
    args = parser.parse_args()

    import sacrebleu

    from attnbook.en_fr import make_splits
    from attnbook.translate import Vocab, corpus_bleu, evaluate, train_translator

    print(f"torch threads {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
          f"load average before {os.getloadavg()}")
    splits = make_splits(seed=args.seed, n_train=args.train)
    src_vocab = Vocab([en for en, _ in splits.train])
    tgt_vocab = Vocab([fr for _, fr in splits.train])
    print(f"{len(splits.train)} training pairs, vocabularies {len(src_vocab)} English / {len(tgt_vocab)} French")

    wall, cpu = time.perf_counter(), cpu_seconds()
    model, losses = train_translator(splits.train, src_vocab, tgt_vocab, epochs=args.epochs, seed=args.seed,
                                     progress=False)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(f"training: {len(losses)} steps, {wall:.1f} s wall, {cpu:.1f} s CPU (user+sys), "
          f"final loss {sum(losses[-20:]) / 20:.4f}, load average after {os.getloadavg()}")

    for name in ("iid", "novel"):
        pairs = getattr(splits, name)
        start = time.perf_counter()
        result = evaluate(model, pairs, src_vocab, tgt_vocab, method="greedy")
        sacre = sacrebleu.corpus_bleu(result["outputs"], [[fr for _, fr in pairs]], tokenize="none", force=True).score
        print(f"{name:>5} greedy: exact match {100 * result['exact']:.1f}%  BLEU {result['bleu']:.2f} "
              f"(sacrebleu {sacre:.2f})  {len(pairs)} sentences in {time.perf_counter() - start:.1f} s")

    pairs = splits.novel[: args.beam_sentences]
    greedy = evaluate(model, pairs, src_vocab, tgt_vocab, method="greedy")
    start = time.perf_counter()
    beam = evaluate(model, pairs, src_vocab, tgt_vocab, method="beam", beam_size=args.beam_size)
    print(f"novel, first {len(pairs)}: greedy exact {100 * greedy['exact']:.1f}% BLEU {greedy['bleu']:.2f} | "
          f"beam {args.beam_size} exact {100 * beam['exact']:.1f}% BLEU {beam['bleu']:.2f} "
          f"({time.perf_counter() - start:.1f} s)")
    for en, fr, out in greedy["errors"][:8]:
        print(f"  greedy error: {en} | expected: {fr} | got: {out}")
    for en, fr, out in beam["errors"][:8]:
        print(f"  beam error:   {en} | expected: {fr} | got: {out}")
    assert abs(corpus_bleu(greedy["outputs"], [fr for _, fr in pairs])
               - sacrebleu.corpus_bleu(greedy["outputs"], [[fr for _, fr in pairs]], tokenize="none", force=True).score) < 1e-9


if __name__ == "__main__":
    main()
