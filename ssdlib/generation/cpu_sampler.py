"""Top-k + top-p on CPU without sorting the whole vocabulary (a vLLM general plugin).

vLLM's CPU sampler applies top-p by sorting every row's full vocabulary (49k logits for SmolLM2,
248k for Qwen3.5) at every decode step. When a row also has a top-k, only its k largest logits can
survive, so sorting those k gives the same mask: vLLM's own steps (keep logits >= the k-th largest,
then drop the smallest tokens whose cumulative probability is <= 1 - p, always keeping the largest)
run here on a ``topk(max k)`` slice instead of a full sort. Rows without a top-k, and rows where a
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


def top_k_top_p_sliced(
    logits: torch.Tensor, k: torch.Tensor | None, p: torch.Tensor | None, reference: Fn
) -> torch.Tensor:
    """``reference(logits, k, p)`` (vLLM's ``apply_top_k_top_p``), computed on the top-k slice of
    each row that has a top-k. ``logits``: [rows, vocab]; ``k``: [rows] (vocab = no top-k);
    ``p``: [rows] (1.0 = no top-p). Masked logits become -inf; updates ``logits`` in place.

    The mask is found on the slice, then applied to the full rows as one threshold (keep logits
    >= the smallest kept value), which is exact unless a tie sits at that value or at the k-th
    value outside the slice: such rows are left to ``reference``.
    """
    if k is None or p is None or logits.shape[0] == 0:
        return reference(logits, k, p)
    vocab = logits.shape[1]
    k = k.to(torch.long)
    has_k = k < vocab
    if not bool(has_k.any()):
        return reference(logits, k, p)
    ks = torch.where(has_k, k, 1)
    kmax = int(ks[has_k].max())
    # One more than the widest top-k: its last value tells whether a tie at the k-th value
    # reaches past the slice (a full-row count would cost more than the whole sort saves).
    ext, _ = logits.topk(kmax + 1, dim=1)  # descending
    vals = ext[:, :kmax]
    kth = vals.gather(1, (ks - 1).unsqueeze(1))
    # vLLM's steps, on the ascending slice: top-k (ties at the k-th value kept), then top-p.
    asc = vals.flip(1)
    asc = asc.masked_fill(asc < kth, -float("inf"))
    cum = torch.cumsum(asc.softmax(dim=-1), dim=-1)
    drop = cum <= 1 - p.unsqueeze(1)
    drop[:, -1] = False  # at least one token
    kept = ~drop & ~torch.isinf(asc)
    cut = torch.where(kept, asc, float("inf")).min(dim=1, keepdim=True).values
    # cut >= kth > every value outside the slice, so ties at the cut all lie in the slice.
    exact = (
        has_k
        & (ext[:, kmax : kmax + 1] < kth).squeeze(1)  # no tie at the k-th value past the slice
        & ((vals >= cut).sum(1) == kept.sum(1))  # no dropped tie at the cut
    )
    # Rows with neither (k = vocab, p = 1) keep every token: vLLM's function would sort them to mask
    # only tokens whose float32 probability is exactly 0, which no sampler can draw anyway.
    untouched = ~has_k & (p >= 1)
    slow = (~exact & ~untouched).nonzero().squeeze(1)
    keep_all = torch.full_like(cut, -float("inf"))
    logits.masked_fill_(logits < torch.where(exact.unsqueeze(1), cut, keep_all), -float("inf"))
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
