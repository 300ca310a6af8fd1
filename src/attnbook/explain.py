"""Chapter 10, does attention explain? Readings of what a model uses,
next to chapter 9's occlusion and swap tests
(:mod:`attnbook.importance`):

- :func:`attention_rollout` multiplies the layers' attention, each mixed
  with the identity for the residual path (Abnar and Zuidema 2020): how
  much of a position's final vector comes from each input token;
- :func:`occlusion_drops` is chapter 9's occlusion for a classifier: the
  drop in the probability of the answer when one word is replaced;
- :func:`gradient_x_input` is the gradient of the answer's score with
  respect to each token's embedding, times that embedding, summed over
  the embedding's numbers: a first-order estimate of each token's share.

Shown in ``chapters/10_tiny_bert.ipynb``.
"""

import torch


def attention_rollout(weights, residual=True):
    """The rollout of a list of attention weights, layer 1 first, each
    (batch, heads, L, L): heads averaged; with ``residual`` every layer's
    matrix is 0.5 A + 0.5 I (the skip connection carries half); then the
    product A_n ... A_2 A_1. Returns (batch, L, L): row i says how much of
    position i's last vector comes from each input token (rows sum to 1
    where the weights' rows do)."""
    rolled = None
    for w in weights:
        a = w.mean(1)                                   # (batch, L, L)
        if residual:
            eye = torch.eye(a.size(-1), dtype=a.dtype, device=a.device)
            a = 0.5 * a + 0.5 * eye                     # (batch, L, L)
        rolled = a if rolled is None else a @ rolled    # (batch, L, L)
    return rolled


def gradient_x_input(model, tokens, at, labels):
    """Gradient x input of every token for ``model.classify``'s logit of
    ``labels`` (n,) read at positions ``at`` (n,): (n, L). Positive: the
    token's embedding pushes towards the label."""
    embeddings = model.embed(tokens).detach()           # (n, L, d_model)
    embeddings.requires_grad_(True)
    logits = model.classify(tokens, at, embeddings)     # (n, classes)
    score = logits[torch.arange(len(tokens)), labels].sum()
    (grad,) = torch.autograd.grad(score, embeddings)    # (n, L, d_model)
    return (grad * embeddings).sum(-1).detach()         # (n, L)


@torch.no_grad()
def occlusion_drops(model, tokens, at, labels, unk_id, first_word):
    """The drop in p(``labels``) (n,), read by ``model.classify`` at
    ``at`` (n,), when each word of ``tokens`` (n, L) in turn is replaced
    by ``unk_id``: (n, L); 0 at padding and special tokens."""
    rows = torch.arange(len(tokens))

    def p_label(x):
        return model.classify(x, at).softmax(-1)[rows, labels]   # (n,)

    base = p_label(tokens)
    drops = torch.zeros(tokens.shape)                           # (n, L)
    for j in range(tokens.size(1)):
        occluded = tokens.clone()
        occluded[:, j] = unk_id                          # one word gone
        drop = base - p_label(occluded)                  # (n,)
        drops[:, j] = torch.where(tokens[:, j] >= first_word, drop, 0.0)
    return drops
