"""attnbook.training: seeding, the warm-up/cosine schedule and the loop."""

import math
import random

import numpy as np
import pytest
import torch

from attnbook.training import fit, seed_everything, warmup_cosine


def test_seed_everything_repeats_all_three():
    seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_warmup_cosine_shape():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.5)
    sched = warmup_cosine(opt, warmup_steps=4, total_steps=14)
    rates = []
    for _ in range(20):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert rates[:4] == pytest.approx([0.125, 0.25, 0.375, 0.5])       # linear warm-up to the peak
    assert rates[4] == pytest.approx(0.5)
    assert rates[9] == pytest.approx(0.25)                             # half-way down the cosine
    assert all(a >= b for a, b in zip(rates[4:], rates[5:]))           # then only down
    assert rates[14:] == pytest.approx([0.0] * 6)


def test_fit_learns_and_is_deterministic(capsys):
    def run():
        seed_everything(0)
        model = torch.nn.Linear(3, 1)
        x = torch.randn(64, 3)
        y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
        batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
        opt = torch.optim.SGD(model.parameters(), lr=0.1)

        def loss_fn(m, batch):
            return torch.nn.functional.mse_loss(m(batch[0]), batch[1])

        return fit(model, lambda epoch: batches, loss_fn, opt, epochs=30, progress=True)

    losses = run()
    assert len(losses) == 120 and all(isinstance(v, float) for v in losses)
    assert losses[-1] < 0.01 * losses[0]
    assert run() == losses
    printed = capsys.readouterr().out
    assert printed.count("\n") == 2 and "120 steps" in printed      # one final line per run
    assert math.isfinite(losses[-1])
