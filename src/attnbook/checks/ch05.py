"""Checks for chapter 5, multi-head attention (PyTorch).

Each exercise lists its known mistakes beside its hints;
``tests/test_checks_ch05.py`` holds one learner-style wrong answer per
mistake and proves it is named, and look-alikes that must not be.

The module exercises (3 and 5) take a class as the answer: the check builds
it, copies its own weights into ``w_q``, ``w_k``, ``w_v``, ``w_o``, puts it
in eval mode and runs ``forward``. Its reference is the catalogue's model
with no mistake switched on, which equals the book's ``MultiHeadAttention``
(a test proves it).
"""

import math

import numpy as np
import torch
from torch import nn

from ..multihead import merge_heads, multihead_cost, split_heads
from .core import (Case, CheckFailure, Code, ExactExercise, Exercise,
                   Mistake, describe)


def _tensor(rng, *shape, dtype=np.float64, scale=1.0):
    return torch.from_numpy((rng.normal(size=shape) * scale).astype(dtype))


# ------------------------------------------------------------------ ex-05-1


def _split_cases(rng):
    def case(batch, length, d_model, n_heads, dtype=np.float64, note=""):
        x = _tensor(rng, batch, length, d_model, dtype=dtype)
        return Case({"x": x, "n_heads": n_heads}, note)

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
    if kind == "transpose-before-view":
        return x.transpose(1, 2).reshape(batch, n_heads, length, d_head)
    if kind == "heads-in-batch":  # d2l's transpose_qkv
        return split_heads(x, n_heads).reshape(batch * n_heads, length,
                                               d_head)
    # "heads-interleaved"
    return x.reshape(batch, length, d_head, n_heads).permute(0, 3, 1, 2)


def _split_model(kind):
    return lambda x, n_heads: _split_variant(x, n_heads, kind)


SPLIT_HEADS = Exercise(
    id="ex-05-1",
    title="Splitting the heads",
    chapter=5,
    points=2,
    function="split_heads",
    reference=split_heads,
    cases=_split_cases,
    keywords=("n_heads",),
    mistakes=[
        Mistake("view-without-transpose",
                "you reshaped straight to (batch, n_heads, L, d_head). The "
                "numbers are laid out word after word, so that mixes the "
                "words of different heads: first view as (batch, L, "
                "n_heads, d_head), then swap axes 1 and 2 with "
                ".transpose(1, 2).",
                model=_split_model("view-without-transpose")),
        Mistake("no-transpose",
                "your result has shape (batch, L, n_heads, d_head): the "
                "split is right, but the heads axis must come before the "
                "words. Add .transpose(1, 2).",
                model=_split_model("no-transpose")),
        Mistake("heads-interleaved",
                "your heads take every n_heads-th feature (head 0 gets "
                "features 0, n_heads, 2 n_heads, ...). Each head owns a "
                "block of d_head consecutive features: head 0 is "
                "x[..., :d_head], so view as (batch, L, n_heads, d_head), "
                "not (batch, L, d_head, n_heads).",
                model=_split_model("heads-interleaved")),
        Mistake("transpose-before-view",
                "you swapped the axes first and cut afterwards: after "
                "x.transpose(1, 2) the numbers run feature by feature, so "
                "the cut mixes words and features. Cut first, "
                "x.view(batch, L, n_heads, d_head), then .transpose(1, 2).",
                model=_split_model("transpose-before-view")),
        Mistake("heads-in-batch",
                "your result has shape (batch * n_heads, L, d_head): the "
                "heads are folded into the batch axis (as some code does "
                "to reuse a 3-D attention). Keep them on their own axis: "
                "(batch, n_heads, L, d_head).",
                model=_split_model("heads-in-batch")),
    ],
    hints=[
        "The last axis of x holds n_heads blocks of d_head = d_model // "
        "n_heads features side by side. Cut it into those blocks first, "
        "then move the heads axis forward.",
        "x.view(batch, L, n_heads, d_head) gives (batch, L, heads, "
        "d_head); .transpose(1, 2) then gives (batch, heads, L, d_head).",
        Code("""
            batch, length, d_model = x.shape
            x = x.view(batch, length, n_heads, d_model // n_heads)
            return x.transpose(1, 2)
        """),
    ],
)


# ------------------------------------------------------------------ ex-05-2


def _merge_cases(rng):
    def case(batch, n_heads, length, d_head, dtype=np.float64, note=""):
        x = _tensor(rng, batch, n_heads, length, d_head, dtype=dtype)
        return Case({"x": x}, note)

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
    if kind == "glued-along-words":
        return torch.cat(x.unbind(dim=1), dim=1)
    return x.transpose(1, 2)                                  # "not-merged"


def _merge_model(kind):
    return lambda x: _merge_variant(x, kind)


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
                "you reshaped (batch, n_heads, L, d_head) straight to "
                "(batch, L, d_model), which mixes the words of different "
                "heads. Swap the heads and the words first, "
                ".transpose(1, 2), then reshape (or "
                ".contiguous().view(...)).",
                model=_merge_model("reshape-without-transpose")),
        Mistake("heads-interleaved",
                "your merged features alternate between heads (head 0's "
                "first feature, head 1's first feature, ...). Put each "
                "head's d_head features together, head after head: the "
                "order before the final reshape must be (batch, L, "
                "n_heads, d_head).",
                model=_merge_model("heads-interleaved")),
        Mistake("last-axes-transposed",
                "you swapped the wrong axes: transpose(2, 3) exchanges L "
                "and d_head. The heads (axis 1) and the words (axis 2) "
                "trade places: .transpose(1, 2).",
                model=_merge_model("last-axes-transposed")),
        Mistake("not-merged",
                "your result has shape (batch, L, n_heads, d_head): the "
                "heads are in the right place but not yet glued together. "
                "Reshape to (batch, L, n_heads * d_head).",
                model=_merge_model("not-merged")),
        Mistake("glued-along-words",
                "you glued the heads one after another along the words "
                "(torch.cat on dim=1 of the (batch, L, d_head) pieces), so "
                "the result has n_heads * L words. Glue them along the "
                "features: each word gets every head's d_head features, "
                "torch.cat(..., dim=-1).",
                model=_merge_model("glued-along-words")),
    ],
    hints=[
        "This undoes split_heads, step by step in reverse: first bring "
        "the words before the heads, then glue the heads' features "
        "together.",
        "x.transpose(1, 2) is (batch, L, heads, d_head) but not contiguous "
        "in memory, so .view() refuses it: call .contiguous() first, or "
        "use .reshape().",
        Code("""
            batch, n_heads, length, d_head = x.shape
            x = x.transpose(1, 2)
            return x.reshape(batch, length, n_heads * d_head)
        """),
    ],
)


# ---------------------------------------------------- the module exercises

_LAYERS = ("w_q", "w_k", "w_v", "w_o")


def _params(rng, d_model, kv_width, dtype):
    """(W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o) as nn.Linear stores them:
    weight (out, in), bias (out,); keys and values are ``kv_width``
    wide."""
    out = []
    for name in _LAYERS:
        width = kv_width if name in ("w_k", "w_v") else d_model
        out += [_tensor(rng, width, d_model, dtype=dtype,
                        scale=1.5 / math.sqrt(d_model)),
                _tensor(rng, width, dtype=dtype, scale=0.1)]
    return tuple(out)


def _build(exercise_id, cls, args, params, query):
    """The learner's module ``cls(*args)``, with the case's weights, in
    eval mode (dropout off) and the inputs' dtype."""
    module = cls(*args)
    for i, name in enumerate(_LAYERS):
        layer = getattr(module, name, None)
        shape = tuple(params[2 * i].shape)
        if (not isinstance(layer, nn.Linear) or layer.bias is None
                or tuple(layer.weight.shape) != shape):
            got = ("missing" if layer is None else describe(layer)
                   if not isinstance(layer, nn.Linear) else
                   f"nn.Linear({layer.in_features}, {layer.out_features}"
                   f"{', bias=False' if layer.bias is None else ''})")
            raise CheckFailure(
                exercise_id,
                f"your module needs four nn.Linear layers with biases, "
                f"named w_q, w_k, w_v and w_o, as the constructor given "
                f"in the exercise makes them; `{name}` should be "
                f"nn.Linear({shape[1]}, {shape[0]}), it is {got}.")
    module.to(query.dtype)
    with torch.no_grad():
        for i, name in enumerate(_LAYERS):
            layer = getattr(module, name)
            layer.weight.copy_(params[2 * i])
            layer.bias.copy_(params[2 * i + 1])
    return module.eval()


def _linear(x, params, i):
    return x @ params[2 * i].T + params[2 * i + 1]


def _attend(q, k, v, mask, *, scale, dim=-1, mask_mode="fill",
            causal=False):
    """Attention in every head at once, with the catalogue's switches;
    the book's scaled_dot_product_attention when all are off."""
    scores = q @ k.transpose(-2, -1) / scale          # (b, h, L_q, L_k)
    if causal:  # a causal mask of its own, as in GPT code
        allowed = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
        mask = allowed if mask is None else mask & allowed
    if mask is not None and mask_mode in ("fill", "nan", "inverted"):
        blocked = mask if mask_mode == "inverted" else ~mask
        scores = scores.masked_fill(blocked, float("-inf"))
    if mask is not None and mask_mode == "large":
        scores = scores.masked_fill(~mask, -1e9)
    weights = torch.softmax(scores, dim=dim)          # (b, h, L_q, L_k)
    if mask is not None and mask_mode in ("fill", "inverted"):
        weights = weights.nan_to_num(0.0)   # fully masked rows: 0, not NaN
    if mask is not None and mask_mode == "after":
        weights = weights * mask
    return weights @ v, weights


def _mha(d_model, n_heads, params, query, key, value, mask, *, scale=None,
         dim=-1, split="ok", merge="ok", out_proj=True, mask_mode="fill",
         average=False, self_only=False, causal=False):
    """Multi-head attention with one switch per catalogued mistake; the
    book's MultiHeadAttention when all are off."""
    if self_only:
        key = value = query
    q, k, v = (_linear(t, params, i)
               for i, t in enumerate((query, key, value)))  # (b, L, d)
    if split == "no-transpose":
        q, k, v = (_split_variant(t, n_heads, "view-without-transpose")
                   for t in (q, k, v))
    else:
        q, k, v = (split_heads(t, n_heads)
                   for t in (q, k, v))              # (b, h, L, d_head)
    scale = {None: math.sqrt(d_model // n_heads),
             "d_model": math.sqrt(d_model)}.get(scale, scale)
    heads, weights = _attend(q, k, v, mask, scale=scale, dim=dim,
                             mask_mode=mask_mode,
                             causal=causal)         # (b, h, L_q, d_head)
    merged = (_merge_variant(heads, "reshape-without-transpose")
              if merge == "no-transpose"
              else merge_heads(heads))              # (b, L_q, d_model)
    out = _linear(merged, params, 3) if out_proj else merged
    return out, (weights.mean(dim=1) if average else weights)


def _mha_model(**switches):
    def model(d_model, n_heads, params, query, key, value, mask):
        with torch.no_grad():
            return _mha(d_model, n_heads, params, query, key, value, mask,
                        **switches)
    return model


def _use_mha(cls, d_model, n_heads, params, query, key, value, mask):
    """Build the learner's class, give it the case's weights, run
    forward."""
    module = _build("ex-05-3", cls, (d_model, n_heads), params, query)
    with torch.no_grad():
        return module(query, key, value, mask=mask)


def _query_key_padding(rng, batch, length):
    """(batch, 1, L, L) bool: real queries may look at real keys; a padded
    query may look at nothing (its row is fully masked)."""
    lengths = np.concatenate([[length], rng.integers(2, length,
                                                     size=batch - 1)])
    real = torch.arange(length)[None, :] < torch.from_numpy(lengths)[:, None]
    return real[:, None, :, None] & real[:, None, None, :]


def _mha_cases(rng):
    def case(batch, l_q, l_k, d_model, n_heads, dtype=np.float64,
             self_attention=False, mask=None, note=""):
        query = _tensor(rng, batch, l_q, d_model, dtype=dtype)
        if self_attention:
            key = value = query
        else:
            key = _tensor(rng, batch, l_k, d_model, dtype=dtype)
            value = _tensor(rng, batch, l_k, d_model, dtype=dtype)
        return Case({"d_model": d_model, "n_heads": n_heads,
                     "params": _params(rng, d_model, d_model, dtype),
                     "query": query, "key": key, "value": value,
                     "mask": mask}, note)

    batch, l_k = 3, 6
    # every row but the first keeps a padded key: (batch, 1, 1, L_k)
    lengths = torch.from_numpy(rng.integers(2, l_k, size=batch))
    lengths[0] = l_k
    padding = (torch.arange(l_k)[None, :] < lengths[:, None])
    padding = padding[:, None, None, :]
    causal = torch.ones(5, 5, dtype=torch.bool).tril()      # (L, L)
    return [
        case(2, 5, 5, 8, 2, self_attention=True,
             note="self-attention, 2 heads"),
        case(2, 4, 12, 12, 3, dtype=np.float32,
             note="cross-attention with L_q != L_k, float32"),
        case(batch, 3, l_k, 8, 4, mask=padding,
             note="a padding mask (batch, 1, 1, L_k), True at real words"),
        case(2, 5, 5, 12, 2, self_attention=True, mask=causal,
             note="a causal mask (L, L)"),
        case(1, 7, 3, 10, 5, note="5 heads of 2 features"),
        case(2, 4, 4, 6, 1, note="a single head, cross-attention"),
        case(3, 5, 5, 8, 2, self_attention=True,
             mask=_query_key_padding(rng, 3, 5),
             note="padded queries whose keys are all masked"),
    ]


_MASK_RULE = (
    "A query whose keys are all masked gets weights 0 and an output of 0 "
    "(before w_o), as in chapter 3: after the softmax, "
    "weights.nan_to_num(0.0).")

MULTI_HEAD = Exercise(
    id="ex-05-3",
    title="The multi-head attention module",
    chapter=5,
    points=4,
    function="MultiHeadAttention",
    reference=_mha_model(),
    cases=_mha_cases,
    call=_use_mha,
    outputs=("output", "weights"),
    mistakes=[
        Mistake("split-without-transpose",
                "your heads are mixed up: you reshaped the projections "
                "straight to (batch, n_heads, L, d_head). View as (batch, "
                "L, n_heads, d_head) first, then .transpose(1, 2) (that is "
                "split_heads).",
                model=_mha_model(split="no-transpose")),
        Mistake("merge-without-transpose",
                "your merge mixes the heads: you reshaped (batch, n_heads, "
                "L_q, d_head) straight to (batch, L_q, d_model). "
                "Transpose(1, 2) first, then reshape (that is "
                "merge_heads).",
                model=_mha_model(merge="no-transpose")),
        Mistake("scaled-by-d_model",
                "you scaled the scores by sqrt(d_model); each head compares "
                "vectors of d_head = d_model // n_heads features, so divide "
                "by sqrt(d_head).",
                model=_mha_model(scale="d_model")),
        Mistake("no-scale",
                "your scores are not scaled: divide q @ k.transpose(-2, -1) "
                "by sqrt(d_head) before the softmax.",
                model=_mha_model(scale=1.0)),
        Mistake("no-output-projection",
                "you returned the merged heads as they are: the last step "
                "mixes them with the output projection, self.w_o(merged).",
                model=_mha_model(out_proj=False)),
        Mistake("softmax-wrong-axis",
                "your weights sum to 1 over the queries. Each query's row "
                "must sum to 1 over the keys: softmax over the last axis "
                "(dim=-1).",
                model=_mha_model(dim=-2)),
        Mistake("weights-averaged",
                "you returned the weights averaged over the heads, as "
                "torch.nn.MultiheadAttention does by default. Return every "
                "head's weights, shape (batch, n_heads, L_q, L_k).",
                model=_mha_model(average=True)),
        Mistake("self-attention-only",
                "your keys and values come from the query. They come from "
                "the `key` and `value` arguments: self.w_k(key), "
                "self.w_v(value). (In self-attention the three are the "
                "same tensor, in cross-attention they are not.)",
                model=_mha_model(self_only=True)),
        Mistake("mask-inverted",
                "you blocked the keys where the mask is True: that is "
                "torch.nn.MultiheadAttention's convention. In this book "
                "True means 'may attend': fill the scores where the mask "
                "is False, scores.masked_fill(~mask, float('-inf')).",
                model=_mha_model(mask_mode="inverted")),
        Mistake("mask-ignored",
                "the mask has no effect: padded words still get weight. "
                "Set the scores where mask is False to -inf before the "
                "softmax; the mask broadcasts over the heads.",
                model=_mha_model(mask_mode="ignored")),
        Mistake("mask-after-softmax",
                "you zeroed the masked weights after the softmax, so the "
                "rows no longer sum to 1. Mask the scores with -inf "
                "before the softmax.",
                model=_mha_model(mask_mode="after")),
        Mistake("always-causal",
                "your attention always hides the later keys, as if every "
                "call were causal (GPT code builds its own causal mask). "
                "This module hides exactly what `mask` says and nothing "
                "else: with mask=None every query sees every key.",
                model=_mha_model(causal=True)),
        Mistake("fully-masked-nan",
                "a query whose keys are ALL masked gets NaN: its softmax "
                "is 0/0. " + _MASK_RULE,
                model=_mha_model(mask_mode="nan")),
        Mistake("fully-masked-uniform",
                "a query whose keys are ALL masked spreads its weight "
                "evenly over the forbidden keys: you filled with a large "
                "negative number instead of -inf. Fill with "
                "float('-inf'). " + _MASK_RULE,
                model=_mha_model(mask_mode="large")),
    ],
    hints=[
        "Four steps: project (self.w_q(query), self.w_k(key), "
        "self.w_v(value)); split each into heads with your split_heads; "
        "attend in every head at once; merge the heads with your "
        "merge_heads and apply self.w_o.",
        "After split_heads the tensors are (batch, heads, L, d_head), so "
        "chapter 3's attention works on them unchanged: "
        "scaled_dot_product_attention(q, k, v, mask), imported at the top "
        "of this notebook, scales by sqrt(d_head), masks, and gives fully "
        "masked rows weights 0. It returns (heads, weights).",
        Code("""
            q = split_heads(self.w_q(query), self.n_heads)
            k = split_heads(self.w_k(key), self.n_heads)
            v = split_heads(self.w_v(value), self.n_heads)
            heads, weights = scaled_dot_product_attention(q, k, v, mask)
            return self.w_o(merge_heads(heads)), weights
        """, method="forward"),
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention",
               "torch.nn.functional.multi_head_attention_forward"],
)


# ------------------------------------------------------------------ ex-05-4


def _pair_of_ints(result, case=None):
    """The text asks for the pair (parameters, flops), two ints."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return (f"the exercise asks for the pair (parameters, flops), got "
                f"{describe(result)}")
    for name, value in zip(("parameters", "flops"), result):
        if isinstance(value, bool) or not isinstance(value,
                                                     (int, np.integer)):
            return (f"{name} should be an int, got {describe(value)}; "
                    f"count with integers (// for division), or int(...)")
    return None


def _as_ints(result):
    return tuple(int(value) for value in result)


def _show_counts(result, expected, case):
    wrong = [f"{name}: expected {e}, got {r}"
             for name, r, e in zip(("parameters", "flops"), result, expected)
             if r != e]
    return f"for {case.describe()}: " + "; ".join(wrong) + "."


def _cost_cases(rng):
    return [
        Case({"L_q": 5, "L_k": 7, "d_model": 16, "n_heads": 4,
              "bias": True}),
        Case({"L_q": 9, "L_k": 3, "d_model": 12, "n_heads": 3,
              "bias": False}, "no biases"),
        Case({"L_q": int(rng.integers(10, 50)),
              "L_k": int(rng.integers(50, 90)), "d_model": 64,
              "n_heads": 8, "bias": True}),
        Case({"L_q": 6, "L_k": 6, "d_model": 6, "n_heads": 1,
              "bias": True}, "a single head"),
        Case({"L_q": 4, "L_k": 10, "d_model": 20, "n_heads": 5},
             "bias left at its default"),
    ]


def _cost_variant(L_q, L_k, d_model, n_heads, bias, kind):
    params, flops = multihead_cost(L_q, L_k, d_model, n_heads, bias)
    d = d_model
    attention = 4 * L_q * L_k * d
    if kind == "params-no-bias":
        params = 4 * d * d
    elif kind == "params-bias-ignored":
        params = 4 * d * d + 4 * d
    elif kind == "params-per-head":
        params *= n_heads
    elif kind == "params-d_head":
        d_head = d // n_heads
        params = 4 * d * d_head + (4 * d_head if bias else 0)
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
    def model(L_q, L_k, d_model, n_heads, bias=True):
        return _cost_variant(L_q, L_k, d_model, n_heads, bias, kind)
    return model


COST = ExactExercise(
    id="ex-05-4",
    title="Counting parameters and FLOPs",
    chapter=5,
    points=2,
    function="multihead_cost",
    reference=multihead_cost,
    cases=_cost_cases,
    keywords=("bias",),
    outputs=("parameters", "flops"),
    contract=_pair_of_ints,
    canonical=_as_ints,
    show=_show_counts,
    mistakes=[
        Mistake("params-no-bias",
                "your parameter count leaves out the biases: with "
                "bias=True each of the four nn.Linear layers also has "
                "d_model biases, 4 d_model^2 + 4 d_model in all.",
                model=_cost_model("params-no-bias")),
        Mistake("params-bias-ignored",
                "your parameter count has the biases even when "
                "bias=False: then the four layers hold their weights only, "
                "4 d_model^2.",
                model=_cost_model("params-bias-ignored")),
        Mistake("params-per-head",
                "your parameter count grows with the number of heads. The "
                "heads share the four (d_model, d_model) matrices: each "
                "head owns a slice of d_head columns, so n_heads does not "
                "change the count.",
                model=_cost_model("params-per-head")),
        Mistake("params-d_head",
                "your parameter count shrinks with the number of heads: "
                "you counted (d_model, d_head) matrices. Each projection "
                "maps d_model features to d_model features, all the "
                "heads' slices together: four (d_model, d_model) "
                "matrices.",
                model=_cost_model("params-d_head")),
        Mistake("params-no-output",
                "your parameter count has three layers; there are four: "
                "w_q, w_k, w_v and the output projection w_o.",
                model=_cost_model("params-no-output")),
        Mistake("flops-multiply-adds",
                "your FLOPs are half the expected number: you counted "
                "multiply-adds. A product (m, n) @ (n, p) costs 2 m n p "
                "FLOPs, one multiplication and one addition per term.",
                model=_cost_model("flops-multiply-adds")),
        Mistake("flops-no-output-projection",
                "your FLOPs leave out the output projection: w_o maps L_q "
                "vectors of d_model features, 2 L_q d_model^2 more.",
                model=_cost_model("flops-no-output-projection")),
        Mistake("flops-keys-as-queries",
                "your FLOPs use L_q where L_k belongs: the keys and values "
                "are projected from L_k words, and each of the L_q "
                "queries meets L_k keys.",
                model=_cost_model("flops-keys-as-queries")),
        Mistake("flops-d_model-per-head",
                "your attention FLOPs are n_heads times too large: each "
                "head works with d_head = d_model // n_heads features, so "
                "all heads together cost as much as one head of d_model "
                "features.",
                model=_cost_model("flops-d_model-per-head")),
        Mistake("flops-no-attention",
                "your FLOPs count the four projections only: add the "
                "scores Q K^T and the weighted sum of the values, "
                "2 L_q L_k d_head each in every head.",
                model=_cost_model("flops-no-attention")),
    ],
    hints=[
        "Parameters: four nn.Linear(d_model, d_model) layers, each with a "
        "(d_model, d_model) weight and, when bias is True, d_model "
        "biases. FLOPs: a product (m, n) @ (n, p) costs 2 m n p.",
        "Projections: queries and output from L_q words, keys and values "
        "from L_k words, each 2 L d_model^2. Attention: in each head, "
        "Q K^T is (L_q, d_head) @ (d_head, L_k), and the weights "
        "(L_q, L_k) @ V (L_k, d_head).",
        Code("""
            parameters = 4 * d_model**2 + (4 * d_model if bias else 0)
            projections = 4 * (L_q + L_k) * d_model**2
            attention = 4 * L_q * L_k * d_model
            return parameters, projections + attention
        """),
    ],
)


# ------------------------------------------------------------------ ex-05-5
# The challenge: grouped-query attention (Ainslie et al. 2023). The answer
# is not in the chapter, so the reference lives here, as the catalogue's
# model with no mistake switched on.


def _gqa(d_model, n_heads, n_kv_heads, params, query, key, value, mask, *,
         repeat="interleave", split="ok", scale=None, out_proj=True,
         mask_mode="fill"):
    """Grouped-query attention with one switch per catalogued mistake."""
    d_head = d_model // n_heads
    group = n_heads // n_kv_heads
    q = split_heads(_linear(query, params, 0), n_heads)  # (b, h, L_q, d_h)
    k, v = _linear(key, params, 1), _linear(value, params, 2)
    if split == "no-transpose":
        k, v = (_split_variant(t, n_kv_heads, "view-without-transpose")
                for t in (k, v))
    else:
        k, v = (split_heads(t, n_kv_heads)
                for t in (k, v))                    # (b, h_kv, L_k, d_h)
    if repeat == "interleave":   # query head i reads key/value head i // g
        k, v = (t.repeat_interleave(group, dim=1) for t in (k, v))
    else:                        # "tiled": query head i reads head i % h_kv
        k, v = (t.repeat(1, group, 1, 1) for t in (k, v))
    if scale is None:
        scale = math.sqrt(d_head)
    elif scale == "kv-width":
        scale = math.sqrt(n_kv_heads * d_head)
    elif scale == "d_model":
        scale = math.sqrt(d_model)
    heads, weights = _attend(q, k, v, mask, scale=scale,
                             mask_mode=mask_mode)   # (b, h, L_q, d_head)
    merged = merge_heads(heads)                     # (b, L_q, d_model)
    out = _linear(merged, params, 3) if out_proj else merged
    return out, weights


def _gqa_model(**switches):
    def model(d_model, n_heads, n_kv_heads, params, query, key, value, mask):
        with torch.no_grad():
            return _gqa(d_model, n_heads, n_kv_heads, params, query, key,
                        value, mask, **switches)
    return model


def _use_gqa(cls, d_model, n_heads, n_kv_heads, params, query, key, value,
             mask):
    module = _build("ex-05-5", cls, (d_model, n_heads, n_kv_heads), params,
                    query)
    with torch.no_grad():
        return module(query, key, value, mask=mask)


def _gqa_cases(rng):
    def case(batch, l_q, l_k, d_model, n_heads, n_kv_heads,
             dtype=np.float64, self_attention=False, mask=None, note=""):
        query = _tensor(rng, batch, l_q, d_model, dtype=dtype)
        if self_attention:
            key = value = query
        else:
            key = _tensor(rng, batch, l_k, d_model, dtype=dtype)
            value = _tensor(rng, batch, l_k, d_model, dtype=dtype)
        kv_width = n_kv_heads * (d_model // n_heads)
        return Case({"d_model": d_model, "n_heads": n_heads,
                     "n_kv_heads": n_kv_heads,
                     "params": _params(rng, d_model, kv_width, dtype),
                     "query": query, "key": key, "value": value,
                     "mask": mask}, note)

    batch, l_k = 3, 6
    lengths = torch.from_numpy(rng.integers(2, l_k, size=batch))
    lengths[0] = l_k
    padding = (torch.arange(l_k)[None, :] < lengths[:, None])
    padding = padding[:, None, None, :]             # (batch, 1, 1, L_k)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    return [
        case(2, 5, 5, 8, 4, 2, self_attention=True,
             note="self-attention, 4 query heads share 2 key/value heads"),
        case(2, 4, 6, 12, 6, 3, dtype=np.float32,
             note="cross-attention, 6 query heads, 3 key/value heads, "
                  "float32"),
        case(1, 3, 7, 12, 4, 1,
             note="one key/value head for all (multi-query attention)"),
        case(2, 5, 5, 12, 3, 3, self_attention=True, mask=causal,
             note="as many key/value heads as query heads, a causal mask"),
        case(batch, 4, l_k, 16, 8, 2, mask=padding,
             note="8 query heads, 2 key/value heads, a padding mask"),
        case(3, 5, 5, 8, 4, 2, self_attention=True,
             mask=_query_key_padding(rng, 3, 5),
             note="padded queries whose keys are all masked"),
    ]


GROUPED_QUERY = Exercise(
    id="ex-05-5",
    title="Challenge: grouped-query attention",
    chapter=5,
    points=3,
    function="GroupedQueryAttention",
    reference=_gqa_model(),
    cases=_gqa_cases,
    call=_use_gqa,
    outputs=("output", "weights"),
    mistakes=[
        Mistake("kv-tiled",
                "your query heads share the wrong key/value heads: query "
                "head i reads key/value head i % n_kv_heads (that is what "
                ".repeat(1, group, 1, 1) does: it tiles the heads). The "
                "heads of a group sit side by side: query heads 0 to "
                "group - 1 share key/value head 0, the next group shares "
                "head 1, and so on; query head i reads key/value head "
                "i // group. Use .repeat_interleave(group, dim=1).",
                model=_gqa_model(repeat="tiled")),
        Mistake("kv-split-without-transpose",
                "your key/value heads are mixed up: you reshaped the key "
                "and value projections straight to (batch, n_kv_heads, "
                "L_k, d_head). View as (batch, L_k, n_kv_heads, d_head) "
                "first, then .transpose(1, 2): split_heads(k, "
                "self.n_kv_heads).",
                model=_gqa_model(split="no-transpose")),
        Mistake("scaled-by-kv-width",
                "you scaled the scores by the square root of the key "
                "projection's width, n_kv_heads * d_head. Every head "
                "compares vectors of d_head features: divide by "
                "sqrt(d_head), with d_head = d_model // n_heads.",
                model=_gqa_model(scale="kv-width")),
        Mistake("scaled-by-d_model",
                "you scaled the scores by sqrt(d_model); each head "
                "compares vectors of d_head = d_model // n_heads features, "
                "so divide by sqrt(d_head).",
                model=_gqa_model(scale="d_model")),
        Mistake("no-output-projection",
                "you returned the merged heads as they are: the last step "
                "mixes them with the output projection, self.w_o(merged).",
                model=_gqa_model(out_proj=False)),
        Mistake("mask-ignored",
                "the mask has no effect: padded words still get weight. "
                "Pass it on to the attention, as in exercise 3.",
                model=_gqa_model(mask_mode="ignored")),
        Mistake("mask-inverted",
                "you blocked the keys where the mask is True. In this book "
                "True means 'may attend', as in exercise 3.",
                model=_gqa_model(mask_mode="inverted")),
        Mistake("fully-masked-nan",
                "a query whose keys are ALL masked gets NaN: its softmax "
                "is 0/0. " + _MASK_RULE,
                model=_gqa_model(mask_mode="nan")),
    ],
    hints=[
        "The queries split into n_heads heads, the keys and values into "
        "n_kv_heads heads, all of d_head features: split_heads(..., "
        "self.n_heads) and split_heads(..., self.n_kv_heads). Then give "
        "every query head its own copy of the key/value head of its "
        "group, so that all three have n_heads heads.",
        "With group = n_heads // n_kv_heads, query heads 0 .. group - 1 "
        "share key/value head 0: k.repeat_interleave(group, dim=1) makes "
        "(batch, n_heads, L_k, d_head) in that order (k.repeat(1, group, "
        "1, 1) would tile them in the wrong order). From there it is "
        "exercise 3: attend, merge, w_o.",
        Code("""
            group = self.n_heads // self.n_kv_heads
            q = split_heads(self.w_q(query), self.n_heads)
            k = split_heads(self.w_k(key), self.n_kv_heads)
            v = split_heads(self.w_v(value), self.n_kv_heads)
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
            heads, weights = scaled_dot_product_attention(q, k, v, mask)
            return self.w_o(merge_heads(heads)), weights
        """, method="forward"),
    ],
    forbidden=["torch.nn.functional.scaled_dot_product_attention",
               "torch.nn.functional.multi_head_attention_forward"],
)


EXERCISES = [SPLIT_HEADS, MERGE_HEADS, MULTI_HEAD, COST, GROUPED_QUERY]
