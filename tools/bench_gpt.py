"""Benchmark of chapter 9: the question answerer and the writer, over seeds.

    python tools/bench_gpt.py                 # both, 3 seeds, 2 threads
    python tools/bench_gpt.py --only qa --seeds 0 1 2 --threads 1

Prints, for every seed, the training time and the accuracies of the
question answerer (iid contexts, held-out role/country pairs, 2000 each),
and its attention figures (layer 1's share on the question's content words,
layer 2's weight on the answer); then the writer's training time and the
sampling table (grammatical share, distinct-3, share not in the training
set; 500 samples per setting and seed). The chapter's targets: training at
most 60 s, iid at least 99%, held-out at least 90% on the worst seed.
Run one benchmark at a time (`flock /work/heavy.lock ...` on a shared
machine): two trainings side by side slow each other down.
"""

import argparse
import random
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from attnbook import facts, sentences  # noqa: E402
from attnbook.language_model import (GPT, distinct_n,  # noqa: E402
                                     encode_sentences, sample_sentences,
                                     train_language_model)
from attnbook.qa import (accuracy, encode, facts_vocab,  # noqa: E402
                         qa_model, train_qa)
from attnbook.training import seed_everything  # noqa: E402
from attnbook.translate import Vocab  # noqa: E402

SETTINGS = {"grammar itself": None, "greedy": dict(temperature=0),
            "T = 0.5": dict(temperature=0.5), "T = 1": dict(temperature=1.0),
            "T = 1.5": dict(temperature=1.5), "T = 2": dict(temperature=2.0),
            "top-k 3": dict(temperature=1.0, top_k=3),
            "top-p 0.9": dict(temperature=1.0, top_p=0.9),
            "T = 1.5, top-p 0.9": dict(temperature=1.5, top_p=0.9),
            "T = 2, top-p 0.9": dict(temperature=2.0, top_p=0.9)}


def question_attention(model, vocab, n=1000, seed=11):
    """Layer 1's share of its question attention on president, united,
    states, and layer 2's weight on the answer, from '?' (heads averaged)."""
    rng = random.Random(seed)
    examples = [facts.make_example(rng, ("president", "the united states"),
                                   pairs=facts.training_pairs())
                for _ in range(n)]
    tokens, lengths, _ = encode(examples, vocab)
    with torch.no_grad():
        model(tokens)
    rows = torch.arange(n)
    w1, w2 = [w[rows, :, lengths - 1].mean(1)
              for w in model.attention_weights()]            # (n, L) each
    start = torch.tensor([ex.question_start for ex in examples])
    cols = start[:, None] + torch.arange(9)                  # the question
    on_q = w1[rows[:, None], cols].mean(0)                   # (9,)
    content = (on_q[[3, 6, 7]].sum() / on_q.sum()).item()
    answer = torch.tensor([ex.answer_position for ex in examples])
    return content, w2[rows, answer].mean().item()


def bench_qa(seeds):
    vocab = facts_vocab()
    rows = []
    for seed in seeds:
        train = encode(facts.make_examples(50000, seed=seed, min_facts=1),
                       vocab)
        iid = encode(facts.make_examples(2000, seed=seed, split="iid"), vocab)
        held = encode(facts.make_examples(2000, seed=seed, split="held_out"),
                      vocab)
        model = qa_model(len(vocab), seed=seed)
        _, seconds = train_qa(model, *train, seed=seed)
        content, on_answer = question_attention(model, vocab)
        rows.append((seed, seconds, accuracy(model, *iid),
                     accuracy(model, *held), content, on_answer))
        print(f"qa seed {seed}: {seconds:5.1f} s, iid {rows[-1][2]:.1%}, "
              f"held-out {rows[-1][3]:.1%}, layer 1 on president/united/"
              f"states {content:.2f} (uniform 0.33), layer 2 on the answer "
              f"{on_answer:.2f}", flush=True)
    times = [r[1] for r in rows]
    print(f"qa: training {statistics.mean(times):.1f} s on average "
          f"(max {max(times):.1f}); iid worst {min(r[2] for r in rows):.1%}; "
          f"held-out worst {min(r[3] for r in rows):.1%}")
    return rows


def bench_writer(seeds):
    train = sentences.generate(20000, seed=0)
    seen = {s.text for s in train}
    vocab = Vocab([" ".join(sentences.vocabulary())])
    tokens = encode_sentences([s.tokens for s in train], vocab)
    table = {name: [] for name in SETTINGS}
    for seed in seeds:
        seed_everything(seed)
        model = GPT(len(vocab), d_model=64, n_heads=2, n_layers=2, d_ff=128)
        _, seconds = train_language_model(model, tokens, vocab.pad_id,
                                          steps=3000, seed=seed)
        print(f"writer seed {seed}: trained in {seconds:.1f} s", flush=True)
        for name, kw in SETTINGS.items():
            out = ([s.tokens for s in sentences.generate(500, seed=100 + seed)]
                   if kw is None else
                   sample_sentences(model, vocab, 500, seed=seed, **kw))
            table[name].append((
                np.mean([sentences.is_grammatical(s) for s in out]),
                distinct_n(out, 3),
                np.mean([" ".join(s) not in seen for s in out])))
    print(f"\n{'500 samples x ' + str(len(seeds)) + ' seeds':>22} "
          f"{'grammatical':>16} {'distinct-3':>12} {'new':>10}")
    for name, values in table.items():
        g, d, n = (np.array(v) for v in zip(*values))
        print(f"{name:>22} {g.mean():>8.1%} +- {g.std():.1%} "
              f"{d.mean():>8.3f} +- {d.std():.3f} {n.mean():>6.0%}")
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["qa", "writer"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), "
          f"seeds {args.seeds}")
    if args.only != "writer":
        bench_qa(args.seeds)
    if args.only != "qa":
        bench_writer(args.seeds)


if __name__ == "__main__":
    main()
