"""Top-k + top-p on CPU without sorting the whole vocabulary (a vLLM general plugin).

vLLM's CPU sampler applies top-p by sorting every row's full vocabulary (49k logits for SmolLM2,
248k for Qwen3.5) at every decode step. When a row also has a top-k, only its k largest logits can
survive, so sorting those k gives the same mask: vLLM's own steps (keep logits >= the k-th largest,
then drop the smallest tokens whose cumulative probability is <= 1 - p, always keeping the largest)
run here on a ``topk(max k + 32)`` slice instead of a full sort. Rows without a top-k, and rows where a
tie at the k-th value reaches past the slice, go through vLLM's own function unchanged.

Measured on the smoke model, 2 cores (bench/cpu_sampler.py): top_k=20 + top_p=0.95 decoding ran at
half the tokens/s of top_k=20 alone with vLLM's function.

Installed through vLLM's ``vllm.general_plugins`` entry point (pyproject.toml), which vLLM calls in
every process it starts, so the engine's worker uses it too. CPU only: on GPUs vLLM has its own
kernels. ``SSD_FAST_CPU_SAMPLER=0`` switches it off.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

Fn = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor | None], torch.Tensor]


# Extra slice width beyond the widest top-k: bf16 logits tie often, and vLLM's top-k keeps every
# logit equal to the k-th largest, so the slice must hold that whole tie group. Measured on the
# smoke model (03's general decode, 3,840 rows): the group reached past a 1-wide margin in 40% of
# rows, past an 8-wide margin in 0.2%, past 32 in none.
TIE_MARGIN = 32


def top_k_top_p_sliced(
    logits: torch.Tensor, k: torch.Tensor | None, p: torch.Tensor | None, reference: Fn
) -> torch.Tensor:
    """``reference(logits, k, p)`` (vLLM's ``apply_top_k_top_p``), computed on the top-k slice of
    each row that has a top-k. ``logits``: [rows, vocab]; ``k``: [rows] (vocab = no top-k);
    ``p``: [rows] (1.0 = no top-p). Masked logits become -inf; updates ``logits`` in place.

    vLLM's steps run on each row's ``topk(max k + TIE_MARGIN)`` slice, in ascending order: top-k
    keeps every logit >= the k-th largest (ties included), then top-p drops the smallest tokens
    whose cumulative probability is <= 1 - p, always keeping the largest. The kept slice positions
    are scattered back to the vocabulary. The mask equals vLLM's except which of several tokens
    tied exactly at the top-p cut survive: the number kept there is the same (it depends only on
    the cumulative sums, which equal values leave order-free), but which ones depends on the order
    of a sort in vLLM too (its sort is not stable). Rows whose k-th value's tie group reaches past
    the slice, and rows with a top-p but no top-k, are left to ``reference``.
    """
    if k is None or p is None or logits.shape[0] == 0:
        return reference(logits, k, p)
    vocab = logits.shape[1]
    k = k.to(torch.long)
    has_k = k < vocab
    if not bool(has_k.any()):
        return reference(logits, k, p)
    ks = torch.where(has_k, k, 1)
    width = min(int(ks[has_k].max()) + TIE_MARGIN, vocab)
    ext, idx = logits.topk(width, dim=1)  # descending
    kth = ext.gather(1, (ks - 1).unsqueeze(1))
    asc, asc_idx = ext.flip(1), idx.flip(1)
    asc = asc.masked_fill(asc < kth, -float("inf"))
    cum = torch.cumsum(asc.softmax(dim=-1), dim=-1)
    drop = cum <= 1 - p.unsqueeze(1)
    drop[:, -1] = False  # at least one token
    kept = ~drop & ~torch.isinf(asc)
    # The slice holds every logit >= the k-th value unless its smallest entry still equals it.
    whole_group = (ext[:, -1] < kth.squeeze(1)) | (width == vocab)
    exact = has_k & whole_group
    # Rows with neither (k = vocab, p = 1) keep every token: vLLM's function would sort them to mask
    # only tokens whose float32 probability is exactly 0, which no sampler can draw anyway.
    untouched = ~has_k & (p >= 1)
    slow = (~exact & ~untouched).nonzero().squeeze(1)
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, asc_idx, kept)
    keep |= ~exact.unsqueeze(1)  # rows not decided here are left as they are (or to reference)
    logits.masked_fill_(~keep, -float("inf"))
    if slow.numel():
        logits[slow] = reference(logits[slow], k[slow], p[slow])
    return logits


def register() -> None:
    """vLLM general plugin: route the CPU sampler's top-k/top-p through :func:`top_k_top_p_sliced`."""
    if os.environ.get("SSD_FAST_CPU_SAMPLER", "1") == "0":
        return
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return
    from vllm.v1.sample.ops import topk_topp_sampler as ops

    if getattr(ops.apply_top_k_top_p, "_ssd_sliced", False):
        return  # vLLM may load plugins more than once per process
    reference = ops.apply_top_k_top_p

    def apply_top_k_top_p(logits, k, p):
        return top_k_top_p_sliced(logits, k, p, reference)

    apply_top_k_top_p._ssd_sliced = True
    ops.apply_top_k_top_p = apply_top_k_top_p
