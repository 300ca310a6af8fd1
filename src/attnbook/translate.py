"""Chapter 7, a small translation model: from sentence pairs to a trained
translator and its scores.

- :class:`Vocab` maps tokens to ids, with four special tokens first:
  ``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2, ``<unk>`` 3;
- :func:`make_batch` pads a list of sentence pairs into tensors ``src``,
  ``tgt_in`` (starting with ``<bos>``) and ``tgt_out`` (ending with
  ``<eos>``); :func:`source_mask` and :func:`target_mask` are the masks the
  model builds from them (True where attention is allowed);
- :func:`label_smoothing_loss` is the training loss, averaged over the real
  target tokens;
- :func:`beam_search` keeps several hypotheses and ranks them by
  length-normalised log-probability;
- :func:`clipped_precision` and :func:`corpus_bleu` compute BLEU from
  scratch, equal to ``sacrebleu.corpus_bleu(hypotheses, [references],
  tokenize="none")`` on tokenised text;
- :func:`translate`, :func:`evaluate` run a model over many sentences;
  :func:`cross_attention` and :func:`plot_alignment` draw where the
  decoder's cross-attention looks.

Every definition is shown, line for line, in
``chapters/07_translation.ipynb``.
"""

import math
import random
from collections import Counter

import torch
from torch import nn

from .decoding import greedy_decode
from .training import fit, seed_everything, warmup_cosine
from .transformer import Seq2SeqTransformer

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"


class Vocab:
    """Tokens <-> ids. The special tokens come first: <pad> 0, <bos> 1,
    <eos> 2, <unk> 3; then the words, sorted. A word that was not seen when
    the vocabulary was built becomes <unk>."""

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, sentences):
        words = sorted({word for sentence in sentences
                        for word in sentence.split()})
        specials = [PAD, BOS, EOS, UNK]
        self.itos = specials + [w for w in words if w not in specials]
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, sentence, bos=False, eos=True):
        """'le chat noir .' -> [ids], with <bos> in front and <eos> at the
        end if asked."""
        ids = [self.stoi.get(word, self.unk_id) for word in sentence.split()]
        return [self.bos_id] * bos + ids + [self.eos_id] * eos

    def decode(self, ids):
        """[ids] -> 'le chat noir .': stops at the first <eos>, skips <pad>
        and <bos>."""
        words = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                words.append(self.itos[i])
        return " ".join(words)


def pad_sequences(sequences, pad_id=0):
    """A list of id lists of different lengths -> a (batch, L_max)
    LongTensor, padded at the end."""
    length = max(len(s) for s in sequences)
    # (batch, L_max)
    out = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    for row, s in enumerate(sequences):
        out[row, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def make_batch(pairs, src_vocab, tgt_vocab):
    """(English, French) pairs -> (src, tgt_in, tgt_out), three padded
    (batch, L) LongTensors.

    src is the English ids followed by <eos>; tgt_in is <bos> + French ids
    (what the decoder reads); tgt_out is French ids + <eos> (what it must
    predict, one step ahead of tgt_in)."""
    english = [src_vocab.encode(en) for en, _ in pairs]
    french = [tgt_vocab.encode(fr, eos=False) for _, fr in pairs]
    bos, eos, pad = tgt_vocab.bos_id, tgt_vocab.eos_id, tgt_vocab.pad_id
    src = pad_sequences(english, src_vocab.pad_id)             # (batch, L_s)
    tgt_in = pad_sequences([[bos] + ids for ids in french], pad)  # (b, L_t)
    tgt_out = pad_sequences([ids + [eos] for ids in french], pad)  # (b, L_t)
    return src, tgt_in, tgt_out


def batches(pairs, src_vocab, tgt_vocab, batch_size, seed=None):
    """The pairs cut into batches of ``batch_size`` (see
    :func:`make_batch`), shuffled when ``seed`` is given (a different order
    for every seed)."""
    order = list(range(len(pairs)))
    if seed is not None:
        random.Random(seed).shuffle(order)
    return [make_batch([pairs[i] for i in order[start: start + batch_size]],
                       src_vocab, tgt_vocab)
            for start in range(0, len(pairs), batch_size)]


def source_mask(src, pad_id=0):
    """(batch, 1, L_s) bool: True at real source tokens; every target query
    may look at them."""
    return (src != pad_id)[:, None, :]                      # (batch, 1, L_s)


def target_mask(tgt_in, pad_id=0):
    """(batch, L_t, L_t) bool: query i may look at key j if j <= i (causal)
    and j is not padding."""
    length = tgt_in.size(1)
    causal = torch.ones(length, length, dtype=torch.bool,
                        device=tgt_in.device).tril()      # (L_t, L_t)
    real_keys = (tgt_in != pad_id)[:, None, :]            # (batch, 1, L_t)
    return causal & real_keys                             # (batch, L_t, L_t)


def label_smoothing_loss(logits, target, smoothing=0.1, pad_id=0):
    """Cross-entropy against smoothed targets, averaged over the real
    (non-pad) target tokens.

    logits (batch, L, V), target (batch, L). The smoothed target gives
    1 - smoothing to the right token, 0 to <pad>, and shares ``smoothing``
    equally among the V - 2 other tokens."""
    vocab_size = logits.size(-1)
    log_probs = torch.log_softmax(logits, dim=-1)           # (batch, L, V)
    share = smoothing / (vocab_size - 2)
    smoothed = torch.full_like(log_probs, share)            # (batch, L, V)
    smoothed[..., pad_id] = 0.0                # padding is never a target
    smoothed.scatter_(-1, target.unsqueeze(-1), 1.0 - smoothing)  # right one
    per_token = -(smoothed * log_probs).sum(dim=-1)         # (batch, L)
    real = target != pad_id                                 # (batch, L)
    return per_token[real].mean()                 # mean over real tokens


def train_translator(pairs, src_vocab, tgt_vocab, epochs=6, batch_size=64,
                     lr=5e-3, warmup_steps=200, smoothing=0.1, seed=0,
                     progress=True, **model_options):
    """Build a :class:`Seq2SeqTransformer` and train it on ``pairs`` with
    AdamW, a warm-up then cosine learning-rate schedule and the
    label-smoothing loss. Returns (model, the loss of every step).

    The token embeddings start small (standard deviation 1 / sqrt(d_model)):
    once the model scales them by sqrt(d_model) they are about as large as
    the positional encodings they are added to."""
    seed_everything(seed)
    model = Seq2SeqTransformer(len(src_vocab), len(tgt_vocab),
                               pad_id=tgt_vocab.pad_id, **model_options)
    for embedding in (model.src_embed, model.tgt_embed):
        # (vocab, d_model)
        nn.init.normal_(embedding.weight, std=model.d_model ** -0.5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    total_steps = epochs * math.ceil(len(pairs) / batch_size)
    scheduler = warmup_cosine(optimizer, warmup_steps, total_steps)

    def loss_fn(model, batch):
        src, tgt_in, tgt_out = batch           # (batch, L_s), (batch, L_t)
        logits = model(src, tgt_in)            # (batch, L_t, V)
        return label_smoothing_loss(logits, tgt_out, smoothing,
                                    tgt_vocab.pad_id)

    def epoch_batches(epoch):                  # a new order every epoch
        return batches(pairs, src_vocab, tgt_vocab, batch_size,
                       seed=1000 * seed + epoch)

    losses = fit(model, epoch_batches, loss_fn, optimizer, scheduler,
                 epochs=epochs, progress=progress)
    model.eval()
    return model, losses


@torch.no_grad()
def beam_search(model, src, bos_id, eos_id, max_len, beam_size=4, alpha=1.0):
    """The best translation of one sentence ``src`` (1, L_s), by beam search.

    Returns a list of token ids without <bos>, ending with <eos> unless
    max_len ran out. At every step the extensions among the beam_size best
    that end with <eos> are finished; the beam_size best that do not form
    the new beam, which so stays full. The search stops when beam_size
    hypotheses have finished, or after max_len steps. The final choice
    divides each finished hypothesis's log-probability by its length
    (tokens after <bos>, <eos> included) ** alpha; the unfinished ones are
    candidates only if none finished.
    """
    was_training = model.training
    model.eval()
    memory, src_mask = model.encode(src)     # (1, L_s, d_model), its mask
    beam = [([bos_id], 0.0)]                 # (tokens, log-probability)
    finished = []
    for _ in range(max_len):
        n = len(beam)
        tokens = torch.tensor([t for t, _ in beam])          # (n, L_t)
        logits = model.decode(tokens.to(src.device),
                              memory.expand(n, *memory.shape[1:]),
                              src_mask.expand(n, *src_mask.shape[1:]))
        # (n, V): log p of every next token, for every hypothesis
        log_probs = torch.log_softmax(logits[:, -1].double(), dim=-1).cpu()
        old = torch.tensor([s for _, s in beam], dtype=torch.float64)
        scores = old[:, None] + log_probs                    # (n, V)
        # the 2 * beam_size best extensions, best first: at most n of them
        # end with <eos>, so at least beam_size do not
        top = scores.flatten().topk(min(2 * beam_size, scores.numel()))
        beam = []
        ranked = zip(top.values.tolist(), top.indices.tolist())
        for rank, (score, index) in enumerate(ranked):
            parent, token = divmod(index, scores.size(1))
            hypothesis = (tokens[parent].tolist() + [token], score)
            if token == eos_id:
                if rank < beam_size:         # among the beam_size best
                    finished.append(hypothesis)
            elif len(beam) < beam_size:
                beam.append(hypothesis)
        if len(finished) >= beam_size:
            break
    model.train(was_training)
    candidates = finished or beam        # unfinished only if none finished
    best, _ = max(candidates, key=lambda h: h[1] / (len(h[0]) - 1) ** alpha)
    return best[1:]                                          # without <bos>


def clipped_precision(hypothesis, reference, n):
    """(matches, total) for the n-grams of one hypothesis (a list of
    tokens) against its reference: each hypothesis n-gram counts at most as
    often as it occurs in the reference."""
    hyp = Counter(tuple(hypothesis[i: i + n])
                  for i in range(len(hypothesis) - n + 1))
    ref = Counter(tuple(reference[i: i + n])
                  for i in range(len(reference) - n + 1))
    # clipped counts
    matches = sum(min(count, ref[gram]) for gram, count in hyp.items())
    return matches, sum(hyp.values())


def corpus_bleu(hypotheses, references, max_n=4):
    """Corpus BLEU (0 to 100) of tokenised hypotheses against one reference
    each (strings or token lists): the geometric mean of the clipped
    1..max_n-gram precisions, summed over the corpus, times the brevity
    penalty exp(1 - r / c) when the hypotheses are shorter (c < r)."""
    hypotheses = [h.split() if isinstance(h, str) else list(h)
                  for h in hypotheses]
    references = [r.split() if isinstance(r, str) else list(r)
                  for r in references]
    matches, totals = [0] * max_n, [0] * max_n
    for hyp, ref in zip(hypotheses, references):
        for n in range(1, max_n + 1):
            m, t = clipped_precision(hyp, ref, n)
            matches[n - 1] += m
            totals[n - 1] += t
    if min(matches) == 0:            # some order never matches: BLEU is 0
        return 0.0
    log_precision = sum(math.log(m / t)
                        for m, t in zip(matches, totals)) / max_n
    c = sum(len(h) for h in hypotheses)              # hypothesis length
    r = sum(len(r) for r in references)              # reference length
    brevity = 1.0 if c >= r else math.exp(1 - r / c)
    return 100 * brevity * math.exp(log_precision)


def translate(model, sentences, src_vocab, tgt_vocab, method="greedy",
              beam_size=4, alpha=1.0, batch_size=250, max_extra=10):
    """Translate tokenised English sentences; returns tokenised French
    strings.

    ``method`` is "greedy" (batched) or "beam" (one sentence at a time);
    the output may be at most ``max_extra`` tokens longer than the
    source."""
    if method not in ("greedy", "beam"):
        raise ValueError(f"method must be 'greedy' or 'beam', got "
                         f"{method!r}")
    bos, eos, pad = tgt_vocab.bos_id, tgt_vocab.eos_id, src_vocab.pad_id
    out = []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start: start + batch_size]
        ids = [src_vocab.encode(s) for s in chunk]
        src = pad_sequences(ids, pad)                        # (batch, L_s)
        max_len = src.size(1) + max_extra
        if method == "greedy":
            # (batch, n <= max_len)
            written = greedy_decode(model, src, bos, eos, max_len)
            out.extend(tgt_vocab.decode(row) for row in written.tolist())
            continue
        for row in ids:
            one = torch.tensor([row])                        # (1, L_s)
            written = beam_search(model, one, bos, eos, max_len, beam_size,
                                  alpha)
            out.append(tgt_vocab.decode(written))
    return out


def evaluate(model, pairs, src_vocab, tgt_vocab, method="greedy",
             **options):
    """Translate the English of ``pairs`` and score it against the French:
    a dict with the ``exact`` match rate (0 to 1), ``bleu`` (0 to 100), the
    ``outputs`` and the ``errors`` as (en, reference, output)."""
    outputs = translate(model, [en for en, _ in pairs], src_vocab,
                        tgt_vocab, method, **options)
    references = [fr for _, fr in pairs]
    errors = [(en, fr, out)
              for (en, fr), out in zip(pairs, outputs) if out != fr]
    return {"exact": 1 - len(errors) / len(pairs),
            "bleu": corpus_bleu(outputs, references),
            "outputs": outputs, "errors": errors}


@torch.no_grad()
def cross_attention(model, src, tgt_in, layer=-1):
    """The cross-attention weights (n_heads, L_t, L_s) of one decoder layer
    (the last by default) while the model reads ``tgt_in`` (1, L_t) for the
    source ``src`` (1, L_s)."""
    was_training = model.training
    model.eval()
    memory, src_mask = model.encode(src)
    model.decode(tgt_in, memory, src_mask)    # fills every cross_weights
    model.train(was_training)
    # (n_heads, L_t, L_s)
    return model.decoder.layers[layer].cross_weights[0]


def alignment(model, english, src_vocab, tgt_vocab, layer=-1):
    """Translate one tokenised English sentence greedily and return
    (cross-attention weights (n_heads, L_t, L_s), English tokens, French
    tokens). Row t is the step that wrote French token t; the last row
    writes <eos>. Unknown English words show as <unk>."""
    src_ids = src_vocab.encode(english)
    french = translate(model, [english], src_vocab, tgt_vocab)[0]
    src = torch.tensor([src_ids])                            # (1, L_s)
    # (1, L_t): <bos> + French
    tgt_in = torch.tensor([tgt_vocab.encode(french, bos=True, eos=False)])
    weights = cross_attention(model, src, tgt_in, layer)  # (heads, L_t, L_s)
    return (weights, [src_vocab.itos[i] for i in src_ids],
            french.split() + [EOS])


def plot_alignment(weights, src_tokens, tgt_tokens, ax=None, title=None):
    """A heatmap of cross-attention weights (L_t, L_s): one row per French
    token written, one column per English token read. Returns the axes."""
    from attnbook.viz import plot_heatmap

    return plot_heatmap(weights, src_tokens, tgt_tokens, ax=ax, title=title,
                        annotate=False, cmap="Blues",
                        xlabel="English (source, read by cross-attention)",
                        ylabel="French (target, being written)")
