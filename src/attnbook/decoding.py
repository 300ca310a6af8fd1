"""Chapter 6, decoding: write the output one token at a time, always
taking the likeliest.

:func:`greedy_decode` works with any model that has
``encode(src) -> (memory, src_mask)`` and
``decode(tgt_in, memory, src_mask) -> logits (batch, L_t, vocab)``, such
as :class:`attnbook.transformer.Seq2SeqTransformer`. Shown in
``chapters/06_transformer_block.ipynb``.
"""

import torch


@torch.no_grad()
def greedy_decode(model, src, bos_id, eos_id, max_len, pad_id=None):
    """Greedy decoding of a batch of sources ``src`` (batch, L_s).

    Returns the generated token ids (batch, n) with n <= max_len, without
    the leading BOS: each row ends with ``eos_id`` (unless it ran out of
    room) and is filled with ``pad_id`` after it (``pad_id`` defaults to
    ``model.pad_id``, else ``eos_id``). Stops as soon as every row has
    produced EOS. The model is run in eval mode and given back in the mode
    it was in.
    """
    was_training = model.training
    model.eval()
    if pad_id is None:
        pad_id = getattr(model, "pad_id", eos_id)
    memory, src_mask = model.encode(src)        # (batch, L_s, d_model)
    batch, device = src.size(0), src.device
    tokens = torch.full((batch, 1), bos_id, dtype=torch.long,
                        device=device)          # (batch, 1): BOS
    # (batch,): True once a row has written EOS
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    for _ in range(max_len):
        logits = model.decode(tokens, memory, src_mask)  # (b, L_t, vocab)
        next_token = logits[:, -1].argmax(dim=-1)        # (b,): likeliest
        # rows that have finished get padding
        next_token = next_token.masked_fill(finished, pad_id)
        # (batch, L_t + 1)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        finished |= next_token == eos_id
        if finished.all():
            break
    model.train(was_training)
    return tokens[:, 1:]                        # (batch, <= max_len)
