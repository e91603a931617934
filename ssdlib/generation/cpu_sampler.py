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
    ``p``: [rows] (1.0 = no top-p). Masked logits become -inf; updates ``logits`` in place."""
    if k is None or p is None or logits.shape[0] == 0:
        return reference(logits, k, p)
    vocab = logits.shape[1]
    k = k.to(torch.long)
    rows = (k < vocab).nonzero().squeeze(1)
    if rows.numel() == 0:
        return reference(logits, k, p)
    sub, ks, ps = logits[rows], k[rows], p[rows]
    kmax = int(ks.max())
    vals, idx = sub.topk(kmax, dim=1)  # descending
    kth = vals.gather(1, (ks - 1).unsqueeze(1))
    # vLLM keeps every logit >= the k-th largest, ties included: a row whose ties reach past the
    # slice is left to vLLM's function.
    exact = (sub >= kth).sum(1) <= kmax
    slow = torch.cat([(k >= vocab).nonzero().squeeze(1), rows[~exact]])

    asc = vals[exact].flip(1)  # vLLM works on the ascending order
    asc_idx = idx[exact].flip(1)
    asc.masked_fill_(asc < kth[exact], -float("inf"))
    cum = torch.cumsum(asc.softmax(dim=-1), dim=-1)
    drop = cum <= 1 - ps[exact].unsqueeze(1)
    drop[:, -1] = False  # at least one token
    asc.masked_fill_(drop, -float("inf"))
    out = torch.full_like(sub[exact], -float("inf")).scatter_(1, asc_idx, asc)
    logits[rows[exact]] = out
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
