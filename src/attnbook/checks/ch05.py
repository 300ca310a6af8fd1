"""Checks for chapter 5, multi-head attention (PyTorch).

Each exercise lists its known mistakes beside its hints; ``tests/test_checks_ch05.py``
holds one learner-style wrong answer per mistake and proves it is named.
"""

import math

import numpy as np
import torch
from torch import nn

from ..multihead import MultiHeadAttention, merge_heads, multihead_cost, split_heads
from .core import Case, CheckFailure, Exercise, Mistake


def _tensor(rng, *shape, dtype=np.float64, scale=1.0):
    return torch.from_numpy((rng.normal(size=shape) * scale).astype(dtype))


# --------------------------------------------------------------------------- ex-05-1


def _split_cases(rng):
    def case(batch, length, d_model, n_heads, dtype=np.float64, note=""):
        return Case({"x": _tensor(rng, batch, length, d_model, dtype=dtype), "n_heads": n_heads}, note)

    return [
        case(2, 5, 12, 3, note="d_head = 4"),
        case(3, 4, 8, 4, dtype=np.float32, note="float32 inputs, d_head = 2"),
        case(1, 7, 15, 5, note="an odd d_head = 3"),
        case(2, 3, 16, 2, note="fewer words than features per head"),
        case(2, 6, 6, 1, note="a single head"),
    ]


def _split_variant(x, n_heads, kind):
    batch, length, d_model = x.shape
    d_head = d_model // n_heads
    if kind == "view-without-transpose":
        return x.reshape(batch, n_heads, length, d_head)
    if kind == "no-transpose":
        return x.reshape(batch, length, n_heads, d_head)
    return x.reshape(batch, length, d_head, n_heads).permute(0, 3, 1, 2)   # "heads-interleaved"


SPLIT_HEADS = Exercise(
    id="ex-05-1",
    title="Splitting the heads",
    chapter=5,
    points=2,
    function="split_heads",
    reference=split_heads,
    cases=_split_cases,
    mistakes=[
        Mistake("view-without-transpose",
                "you reshaped straight to (batch, n_heads, L, d_head). The numbers are laid out word after "
                "word, so that mixes the words of different heads: first view as (batch, L, n_heads, d_head), "
                "then swap axes 1 and 2 with .transpose(1, 2).",
                model=lambda x, h: _split_variant(x, h, "view-without-transpose")),
        Mistake("no-transpose",
                "your result has shape (batch, L, n_heads, d_head): the split is right, but the heads axis "
                "must come before the words. Add .transpose(1, 2).",
                model=lambda x, h: _split_variant(x, h, "no-transpose")),
        Mistake("heads-interleaved",
                "your heads take every n_heads-th feature (head 0 gets features 0, n_heads, 2 n_heads, ...). "
                "Each head owns a block of d_head consecutive features: head 0 is x[..., :d_head], so view "
                "as (batch, L, n_heads, d_head), not (batch, L, d_head, n_heads).",
                model=lambda x, h: _split_variant(x, h, "heads-interleaved")),
    ],
    hints=[
        "The last axis of x holds n_heads blocks of d_head = d_model // n_heads features side by side. "
        "Cut it into those blocks first, then move the heads axis forward.",
        "x.view(batch, L, n_heads, d_head) gives (batch, L, heads, d_head); .transpose(1, 2) gives "
        "(batch, heads, L, d_head).",
        "batch, L, d_model = x.shape; return x.view(batch, L, n_heads, d_model // n_heads).transpose(1, 2)",
    ],
)


# --------------------------------------------------------------------------- ex-05-2


def _merge_cases(rng):
    def case(batch, n_heads, length, d_head, dtype=np.float64, note=""):
        return Case({"x": _tensor(rng, batch, n_heads, length, d_head, dtype=dtype)}, note)

    return [
        case(2, 3, 5, 4, note="3 heads of 4 features"),
        case(3, 4, 6, 2, dtype=np.float32, note="float32 inputs"),
        case(1, 5, 7, 3, note="an odd d_head"),
        case(2, 2, 3, 8, note="fewer words than features per head"),
        case(2, 1, 4, 6, note="a single head"),
    ]


def _merge_variant(x, kind):
    batch, n_heads, length, d_head = x.shape
    if kind == "reshape-without-transpose":
        return x.reshape(batch, length, n_heads * d_head)
    if kind == "heads-interleaved":
        return x.permute(0, 2, 3, 1).reshape(batch, length, d_head * n_heads)
    if kind == "last-axes-transposed":
        return x.transpose(2, 3).reshape(batch, length, n_heads * d_head)
    return x.transpose(1, 2)                                              # "not-merged"


MERGE_HEADS = Exercise(
    id="ex-05-2",
    title="Merging the heads",
    chapter=5,
    points=2,
    function="merge_heads",
    reference=merge_heads,
    cases=_merge_cases,
    mistakes=[
        Mistake("reshape-without-transpose",
                "you reshaped (batch, n_heads, L, d_head) straight to (batch, L, d_model), which mixes the "
                "words of different heads. Swap the heads and the words first, .transpose(1, 2), then "
                "reshape (or .contiguous().view(...)).",
                model=lambda x: _merge_variant(x, "reshape-without-transpose")),
        Mistake("heads-interleaved",
                "your merged features alternate between heads (head 0's first feature, head 1's first "
                "feature, ...). Put each head's d_head features together, head after head: the order "
                "before the final reshape must be (batch, L, n_heads, d_head).",
                model=lambda x: _merge_variant(x, "heads-interleaved")),
        Mistake("last-axes-transposed",
                "you swapped the wrong axes: transpose(2, 3) exchanges L and d_head. The heads (axis 1) and "
                "the words (axis 2) trade places: .transpose(1, 2).",
                model=lambda x: _merge_variant(x, "last-axes-transposed")),
        Mistake("not-merged",
                "your result has shape (batch, L, n_heads, d_head): the heads are in the right place but not "
                "yet glued together. Reshape to (batch, L, n_heads * d_head).",
                model=lambda x: _merge_variant(x, "not-merged")),
    ],
    hints=[
        "This undoes split_heads, step by step in reverse: first bring the words before the heads, then "
        "glue the heads' features together.",
        "x.transpose(1, 2) is (batch, L, heads, d_head) but not contiguous in memory, so .view() refuses "
        "it: call .contiguous() first, or use .reshape().",
        "batch, n_heads, L, d_head = x.shape; return x.transpose(1, 2).reshape(batch, L, n_heads * d_head)",
    ],
)


# --------------------------------------------------------------------------- ex-05-3

_LAYERS = ("w_q", "w_k", "w_v", "w_o")


def _params(rng, d_model, dtype):
    """(W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o) as nn.Linear stores them: weight (out, in), bias (out,)."""
    out = []
    for _ in _LAYERS:
        out += [_tensor(rng, d_model, d_model, dtype=dtype, scale=1.5 / math.sqrt(d_model)),
                _tensor(rng, d_model, dtype=dtype, scale=0.1)]
    return tuple(out)


def _load(module, params):
    with torch.no_grad():
        for i, name in enumerate(_LAYERS):
            layer = getattr(module, name)
            layer.weight.copy_(params[2 * i])
            layer.bias.copy_(params[2 * i + 1])
    return module


def _use_class(cls, d_model, n_heads, params, query, key, value, mask):
    """Build the learner's class, give it the case's weights, run forward."""
    module = cls(d_model, n_heads)
    for name in _LAYERS:
        layer = getattr(module, name, None)
        if not isinstance(layer, nn.Linear) or layer.bias is None or layer.weight.shape != (d_model, d_model):
            raise CheckFailure("ex-05-3", f"your module needs four nn.Linear(d_model, d_model) layers with "
                                          f"biases, named w_q, w_k, w_v and w_o; `{name}` is "
                                          f"{type(layer).__name__ if layer is not None else 'missing'}.")
    _load(module.to(query.dtype), params)
    with torch.no_grad():
        return module(query, key, value, mask)


def _mha_reference(d_model, n_heads, params, query, key, value, mask):
    return _use_class(MultiHeadAttention, d_model, n_heads, params, query, key, value, mask)


def _linear(x, params, i):
    return x @ params[2 * i].T + params[2 * i + 1]


def _mha(d_model, n_heads, params, query, key, value, mask, *, scale=None, dim=-1, split="ok", merge="ok",
         out_proj=True, mask_mode="fill", average=False, self_only=False):
    """Multi-head attention with one switch per catalogued mistake; the reference when all are off."""
    if self_only:
        key = value = query
    q, k, v = (_linear(t, params, i) for i, t in enumerate((query, key, value)))  # (batch, L, d_model)
    if split == "no-transpose":
        q, k, v = (_split_variant(t, n_heads, "view-without-transpose") for t in (q, k, v))
    else:
        q, k, v = (split_heads(t, n_heads) for t in (q, k, v))             # (batch, heads, L, d_head)
    d_head = d_model // n_heads
    scores = q @ k.transpose(-2, -1) / (math.sqrt(d_head) if scale is None else scale)
    if mask is not None and mask_mode != "ignored":
        scores = scores.masked_fill(~mask if mask_mode == "fill" else mask, float("-inf"))
    weights = torch.softmax(scores, dim=dim)                                # (batch, heads, L_q, L_k)
    heads = weights @ v                                                     # (batch, heads, L_q, d_head)
    merged = (_merge_variant(heads, "reshape-without-transpose") if merge == "no-transpose"
              else merge_heads(heads))                                      # (batch, L_q, d_model)
    out = _linear(merged, params, 3) if out_proj else merged
    return out, (weights.mean(dim=1) if average else weights)


def _mistake_model(**switches):
    return lambda d, h, p, q, k, v, m: _mha(d, h, p, q, k, v, m, **switches)


def _mha_cases(rng):
    def case(batch, l_q, l_k, d_model, n_heads, dtype=np.float64, self_attention=False, mask=None, note=""):
        query = _tensor(rng, batch, l_q, d_model, dtype=dtype)
        if self_attention:
            key = value = query
        else:
            key, value = _tensor(rng, batch, l_k, d_model, dtype=dtype), _tensor(rng, batch, l_k, d_model, dtype=dtype)
        return Case({"d_model": d_model, "n_heads": n_heads, "params": _params(rng, d_model, dtype),
                     "query": query, "key": key, "value": value, "mask": mask}, note)

    batch, l_k = 3, 6
    lengths = torch.from_numpy(rng.integers(2, l_k, size=batch))        # every row keeps a padded key
    padding = (torch.arange(l_k)[None, :] < lengths[:, None])[:, None, None, :]  # (batch, 1, 1, L_k)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()                   # (L, L)
    return [
        case(2, 5, 5, 8, 2, self_attention=True, note="self-attention, 2 heads"),
        case(2, 4, 6, 12, 3, dtype=np.float32, note="cross-attention with L_q != L_k, float32"),
        case(batch, 3, l_k, 8, 4, mask=padding, note="a padding mask (batch, 1, 1, L_k), True at real words"),
        case(2, 5, 5, 12, 2, self_attention=True, mask=causal, note="a causal mask (L, L)"),
        case(1, 7, 3, 10, 5, note="5 heads of 2 features"),
    ]


MULTI_HEAD = Exercise(
    id="ex-05-3",
    title="The multi-head attention module",
    chapter=5,
    points=4,
    function="MultiHeadAttention",
    reference=_mha_reference,
    cases=_mha_cases,
    call=_use_class,
    mistakes=[
        Mistake("split-without-transpose",
                "your heads are mixed up: you reshaped the projections straight to (batch, n_heads, L, d_head). "
                "View as (batch, L, n_heads, d_head) first, then .transpose(1, 2) (that is split_heads).",
                model=_mistake_model(split="no-transpose")),
        Mistake("merge-without-transpose",
                "your merge mixes the heads: you reshaped (batch, n_heads, L_q, d_head) straight to "
                "(batch, L_q, d_model). Transpose(1, 2) first, then reshape (that is merge_heads).",
                model=_mistake_model(merge="no-transpose")),
        Mistake("scaled-by-d_model",
                "you scaled the scores by sqrt(d_model); each head compares vectors of d_head = d_model // "
                "n_heads features, so divide by sqrt(d_head).",
                model=lambda d, h, p, q, k, v, m: _mha(d, h, p, q, k, v, m, scale=math.sqrt(d))),
        Mistake("no-scale",
                "your scores are not scaled: divide q @ k.transpose(-2, -1) by sqrt(d_head) before the softmax.",
                model=_mistake_model(scale=1.0)),
        Mistake("no-output-projection",
                "you returned the merged heads as they are: the last step mixes them with the output "
                "projection, self.w_o(merged).",
                model=_mistake_model(out_proj=False)),
        Mistake("softmax-wrong-axis",
                "your weights sum to 1 over the queries. Each query's row must sum to 1 over the keys: "
                "softmax over the last axis (dim=-1).",
                model=_mistake_model(dim=-2)),
        Mistake("weights-averaged",
                "you returned the weights averaged over the heads, as torch.nn.MultiheadAttention does by "
                "default. Return every head's weights, shape (batch, n_heads, L_q, L_k).",
                model=_mistake_model(average=True)),
        Mistake("self-attention-only",
                "your keys and values come from the query. They come from the `key` and `value` arguments: "
                "self.w_k(key), self.w_v(value). (In self-attention the three are the same tensor, in "
                "cross-attention they are not.)",
                model=_mistake_model(self_only=True)),
        Mistake("mask-inverted",
                "you blocked the keys where the mask is True: that is torch.nn.MultiheadAttention's "
                "convention. In this book True means 'may attend': fill the scores where the mask is False, "
                "scores.masked_fill(~mask, float('-inf')).",
                model=_mistake_model(mask_mode="inverted")),
        Mistake("mask-ignored",
                "the mask has no effect: padded words still get weight. Set the scores where mask is False "
                "to -inf before the softmax; the mask broadcasts over the heads.",
                model=_mistake_model(mask_mode="ignored")),
    ],
    hints=[
        "Four steps: project (self.w_q(query), self.w_k(key), self.w_v(value)); split each into heads; "
        "attend in every head at once; merge the heads and apply self.w_o.",
        "After split_heads the tensors are (batch, heads, L, d_head), so chapter 3's attention works on "
        "them unchanged: scores = q @ k.transpose(-2, -1) / math.sqrt(d_head), masked with "
        "masked_fill(~mask, float('-inf')), softmax over dim=-1.",
        "q = split_heads(self.w_q(query), self.n_heads) (same for k, v); scores as above; "
        "weights = torch.softmax(scores, dim=-1); heads = weights @ v; "
        "return self.w_o(merge_heads(heads)), weights",
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention",
               "torch.nn.functional.multi_head_attention_forward"],
)


# --------------------------------------------------------------------------- ex-05-4


def _cost_cases(rng):
    return [
        Case({"L_q": 5, "L_k": 7, "d_model": 16, "n_heads": 4, "bias": True}),
        Case({"L_q": 9, "L_k": 3, "d_model": 12, "n_heads": 3, "bias": False}, "no biases"),
        Case({"L_q": int(rng.integers(10, 50)), "L_k": int(rng.integers(50, 90)), "d_model": 64, "n_heads": 8,
              "bias": True}),
        Case({"L_q": 6, "L_k": 6, "d_model": 6, "n_heads": 1, "bias": True}, "a single head"),
    ]


def _cost_variant(L_q, L_k, d_model, n_heads, bias, kind):
    params, flops = multihead_cost(L_q, L_k, d_model, n_heads, bias)
    d = d_model
    attention = 4 * L_q * L_k * d
    if kind == "params-no-bias":
        params = 4 * d * d
    elif kind == "params-per-head":
        params *= n_heads
    elif kind == "params-no-output":
        params = params * 3 // 4
    elif kind == "flops-multiply-adds":
        flops //= 2
    elif kind == "flops-no-output-projection":
        flops -= 2 * L_q * d * d
    elif kind == "flops-keys-as-queries":
        flops = multihead_cost(L_q, L_q, d_model, n_heads, bias)[1]
    elif kind == "flops-d_model-per-head":
        flops += (n_heads - 1) * attention
    elif kind == "flops-no-attention":
        flops -= attention
    return params, flops


def _cost_model(kind):
    return lambda L_q, L_k, d, h, bias: _cost_variant(L_q, L_k, d, h, bias, kind)


COST = Exercise(
    id="ex-05-4",
    title="Counting parameters and FLOPs",
    chapter=5,
    points=2,
    function="multihead_cost",
    reference=multihead_cost,
    cases=_cost_cases,
    mistakes=[
        Mistake("params-no-bias",
                "your parameter count leaves out the biases: with bias=True each of the four nn.Linear "
                "layers also has d_model biases, 4 d_model^2 + 4 d_model in all.",
                model=_cost_model("params-no-bias")),
        Mistake("params-per-head",
                "your parameter count grows with the number of heads. The heads share the four "
                "(d_model, d_model) matrices: each head owns a slice of d_head columns, so n_heads does not "
                "change the count.",
                model=_cost_model("params-per-head")),
        Mistake("params-no-output",
                "your parameter count has three layers; there are four: w_q, w_k, w_v and the output "
                "projection w_o.",
                model=_cost_model("params-no-output")),
        Mistake("flops-multiply-adds",
                "your FLOPs are half the expected number: you counted multiply-adds. A product (m, n) @ (n, p) "
                "costs 2 m n p FLOPs, one multiplication and one addition per term.",
                model=_cost_model("flops-multiply-adds")),
        Mistake("flops-no-output-projection",
                "your FLOPs leave out the output projection: w_o maps L_q vectors of d_model features, "
                "2 L_q d_model^2 more.",
                model=_cost_model("flops-no-output-projection")),
        Mistake("flops-keys-as-queries",
                "your FLOPs use L_q where L_k belongs: the keys and values are projected from L_k words, and "
                "each of the L_q queries meets L_k keys.",
                model=_cost_model("flops-keys-as-queries")),
        Mistake("flops-d_model-per-head",
                "your attention FLOPs are n_heads times too large: each head works with d_head = d_model // "
                "n_heads features, so all heads together cost as much as one head of d_model features.",
                model=_cost_model("flops-d_model-per-head")),
        Mistake("flops-no-attention",
                "your FLOPs count the four projections only: add the scores Q K^T and the weighted sum of the "
                "values, 2 L_q L_k d_head each in every head.",
                model=_cost_model("flops-no-attention")),
    ],
    hints=[
        "Parameters: four nn.Linear(d_model, d_model) layers, each with a (d_model, d_model) weight and, "
        "when bias is True, d_model biases. FLOPs: a product (m, n) @ (n, p) costs 2 m n p.",
        "Projections: queries and output from L_q words, keys and values from L_k words, each "
        "2 L d_model^2. Attention: in each head, Q K^T is (L_q, d_head) @ (d_head, L_k), and the weights "
        "(L_q, L_k) @ V (L_k, d_head).",
        "parameters = 4 * d_model**2 + (4 * d_model if bias else 0); flops = 4 * (L_q + L_k) * d_model**2 "
        "+ 4 * L_q * L_k * d_model",
    ],
)


EXERCISES = [SPLIT_HEADS, MERGE_HEADS, MULTI_HEAD, COST]
