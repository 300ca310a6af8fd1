"""Chapter 6, training helpers: seeding, a warm-up then cosine
learning-rate schedule, a small loop.

- :func:`seed_everything` seeds Python, NumPy and PyTorch, so that a run
  can be repeated exactly;
- :func:`warmup_cosine` raises the learning rate linearly for
  ``warmup_steps`` steps, then lowers it along half a cosine to
  ``min_factor`` times its peak at ``total_steps``;
- :func:`fit` runs the optimisation loop and returns the loss of every
  step. It reports progress on one line that keeps updating (in Jupyter,
  and in the built book, only the last state stays).

Shown in ``chapters/06_transformer_block.ipynb``; chapter 7 uses them to
train the translator.
"""

import math
import random
import sys
import time

import numpy as np
import torch


def seed_everything(seed):
    """Seed Python's ``random``, NumPy and PyTorch with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def warmup_cosine(optimizer, warmup_steps, total_steps, min_factor=0.0):
    """A ``LambdaLR``: the learning rate grows linearly to its peak over
    ``warmup_steps`` steps, then follows half a cosine down to
    ``min_factor`` * peak at ``total_steps`` (and stays there)."""

    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        decay_steps = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return min_factor + (1.0 - min_factor) * cosine

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class ProgressLine:
    """One line of progress that updates in place: a Jupyter display (only
    its last state is kept in the saved notebook) or, elsewhere, a terminal
    line rewritten with a carriage return."""

    def __init__(self, enabled):
        self.enabled, self.handle = enabled, None
        if enabled and _in_jupyter():
            from IPython.display import Pretty, display

            self.handle = display(Pretty(""), display_id=True)

    def update(self, text, final=False):
        if not self.enabled:
            return
        if self.handle is not None:
            from IPython.display import Pretty

            self.handle.update(Pretty(text))
        elif final or sys.stdout.isatty():
            end = "\n" if final else ""
            print("\r" + text, end=end, flush=True)


def _in_jupyter():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def fit(model, batches, loss_fn, optimizer, scheduler=None, epochs=1,
        progress=True, max_grad_norm=None):
    """Train ``model`` and return the list of per-step losses (floats).

    ``batches`` is an iterable of batches, iterated once per epoch, or a
    function ``epoch -> iterable`` (to reshuffle every epoch).
    ``loss_fn(model, batch)`` returns the scalar loss of one batch. After
    each optimiser step the ``scheduler`` (if any) steps too.
    ``max_grad_norm`` clips the gradients.
    """
    model.train()
    losses, start = [], time.perf_counter()
    line = ProgressLine(progress)
    n_steps = None
    for epoch in range(epochs):
        epoch_batches = batches(epoch) if callable(batches) else batches
        if n_steps is None and hasattr(epoch_batches, "__len__"):
            n_steps = len(epoch_batches) * epochs
        for batch in epoch_batches:
            loss = loss_fn(model, batch)
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(),
                                               max_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
            if len(losses) % 20 == 0:
                total = f"/{n_steps}" if n_steps else ""
                seconds = time.perf_counter() - start
                line.update(f"epoch {epoch + 1}/{epochs}  step "
                            f"{len(losses)}{total}  loss {losses[-1]:.4f}  "
                            f"{seconds:.0f} s")
    seconds = time.perf_counter() - start
    final = np.mean(losses[-20:]) if losses else float("nan")
    line.update(f"{len(losses)} steps in {epochs} epoch(s), {seconds:.1f} s, "
                f"final loss {final:.4f}", final=True)
    return losses
