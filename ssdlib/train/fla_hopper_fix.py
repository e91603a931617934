"""A Triton-3.4..3.7.0-safe replacement for fla's gated ``chunk_bwd_dqkwg`` kernel (Hopper).

flash-linear-attention 0.6.0 refuses its gated dq/dk/dg backward kernel on Hopper with
Triton >= 3.4 and < 3.7.1 (fla issue #640: wrong dq/dk/dg). The miscompiled line is
``tl.dot(tl.trans(b_ds), b_q)``: ``b_ds`` is a ``tl.dot`` accumulator (wgmma output layout) and
its transpose goes through a layout conversion that those Triton versions emit wrongly on sm_90
(fla PR #826). This kernel is fla's, with one change: the transposed score gradient ``ds^T`` is
accumulated by its own ``tl.dot(v, do^T)`` in the value loop (one extra BT x BT x BV product per
block, a few percent of this kernel) instead of transposing an MMA result, so no such layout
conversion is emitted.

Only the gated-delta-rule case (``g`` given, ``w``/``dv`` given, no ``g_gamma``) is covered; that
is the call ``fla.ops.gated_delta_rule.chunk`` makes. ``install()`` swaps it into that module.
Correctness is not assumed: ``bench/gradcheck_gpu.py`` and ``ssdlib.train.gradcheck`` compare it
with a float64 reference. Kernel code adapted from fla 0.6.0 ``fla/ops/common/chunk_o.py``
(MIT licence, Copyright (c) 2023-2026 Songlin Yang, Yu Zhang, Zhiyuan Li).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _exp2(x):
    return tl.math.exp2(x.to(tl.float32))


@triton.heuristics({"IS_VARLEN": lambda args: args["cu_seqlens"] is not None})
@triton.autotune(
    configs=[triton.Config({}, num_warps=w, num_stages=s) for w in (2, 4) for s in (2, 3, 4)],
    key=["H", "HV", "K", "V", "BT", "BK", "BV", "STATE_V_FIRST"],
)
@triton.jit(do_not_specialize=["T"])
def _chunk_bwd_kernel_dqkwg_gated(
    q, k, v, g, h, do, dh, dq, dk, dw, dv, dg, cu_seqlens, chunk_indices, scale,
    B: tl.constexpr, T, H: tl.constexpr, HV: tl.constexpr, K: tl.constexpr, V: tl.constexpr,
    BT: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr, STATE_V_FIRST: tl.constexpr, IS_VARLEN: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0).to(tl.int64)
    NKB: tl.constexpr = (K + BK - 1) // BK
    i_k, i_t = pid % NKB, pid // NKB
    i_bh = tl.program_id(1).to(tl.int64)
    i_b, i_h = i_bh // HV, i_bh % HV

    all = (B * T).to(tl.int64)
    if IS_VARLEN:
        i_tg = i_t
        i_n, i_t = (
            tl.load(chunk_indices + i_t * 2).to(tl.int32),
            tl.load(chunk_indices + i_t * 2 + 1).to(tl.int64),
        )
        bos, eos = (
            tl.load(cu_seqlens + i_n).to(tl.int64),
            tl.load(cu_seqlens + i_n + 1).to(tl.int64),
        )
        T = eos - bos
        NT = tl.cdiv(T, BT)
    else:
        NT = tl.cdiv(T, BT)
        i_tg = i_b * NT + i_t
        bos, eos = i_b * T, i_b * T + T

    v += (bos * HV + i_h) * V
    do += (bos * HV + i_h) * V
    h += (i_tg * HV + i_h).to(tl.int64) * K * V
    dh += (i_tg * HV + i_h).to(tl.int64) * K * V
    q += (bos * H + i_h // (HV // H)) * K
    k += (bos * H + i_h // (HV // H)) * K
    dq += (bos * HV + i_h) * K
    dk += (bos * HV + i_h) * K
    dw += (bos * HV + i_h) * K
    dv += (bos * HV + i_h) * V
    dg += i_k * all * HV

    b_dg_last = tl.zeros([1], dtype=tl.float32)
    b_dq = tl.zeros([BT, BK], dtype=tl.float32)
    b_dk = tl.zeros([BT, BK], dtype=tl.float32)
    b_ds = tl.zeros([BT, BT], dtype=tl.float32)
    b_dsT = tl.zeros(
        [BT, BT], dtype=tl.float32
    )  # the fix: ds^T by its own product, never tl.trans(b_ds)
    b_dw = tl.zeros([BT, BK], dtype=tl.float32)

    o_t = i_t * BT + tl.arange(0, BT)
    m_t = o_t < T
    o_k = i_k * BK + tl.arange(0, BK)
    m_k = o_k < K
    m_qk = m_t[:, None] & m_k[None, :]
    for i_v in range(tl.cdiv(V, BV)):
        o_v = i_v * BV + tl.arange(0, BV)
        m_v = o_v < V
        m_hv = m_t[:, None] & m_v[None, :]
        p_v = v + o_t[:, None] * (HV * V) + o_v[None, :]
        p_do = do + o_t[:, None] * (HV * V) + o_v[None, :]
        if STATE_V_FIRST:
            p_h = h + o_v[:, None] * K + o_k[None, :]
            p_dh = dh + o_v[:, None] * K + o_k[None, :]
        else:
            p_h = h + o_v[:, None] + o_k[None, :] * V
            p_dh = dh + o_v[:, None] + o_k[None, :] * V
        m_h = m_v[:, None] & m_k[None, :]
        b_v = tl.load(p_v, mask=m_hv, other=0.0)
        b_do = tl.load(p_do, mask=m_hv, other=0.0)
        b_h = tl.load(p_h, mask=m_h, other=0.0)
        b_dh = tl.load(p_dh, mask=m_h, other=0.0)
        b_dg_last += tl.sum(b_h * b_dh)
        b_ds = tl.dot(b_do, tl.trans(b_v), b_ds)
        b_dsT = tl.dot(b_v, tl.trans(b_do), b_dsT)
        b_dq = tl.dot(b_do, b_h.to(b_do.dtype), b_dq)
        b_dk = tl.dot(b_v, b_dh.to(b_v.dtype), b_dk)
        p_dv = dv + o_t[:, None] * (HV * V) + o_v[None, :]
        b_dv = tl.load(p_dv, mask=m_hv, other=0.0)
        b_dw = tl.dot(b_dv.to(b_v.dtype), b_h.to(b_v.dtype), b_dw)

    p_dw = dw + o_t[:, None] * (HV * K) + o_k[None, :]
    tl.store(p_dw, -b_dw.to(p_dw.dtype.element_ty), mask=m_qk)

    tl.debug_barrier()
    p_q = q + o_t[:, None] * (H * K) + o_k[None, :]
    p_k = k + o_t[:, None] * (H * K) + o_k[None, :]
    b_q = tl.load(p_q, mask=m_qk, other=0.0)
    b_k = tl.load(p_k, mask=m_qk, other=0.0)
    p_dq = dq + o_t[:, None] * (HV * K) + o_k[None, :]
    p_dk = dk + o_t[:, None] * (HV * K) + o_k[None, :]

    m_A = (o_t[:, None] >= o_t[None, :]) & (m_t[:, None] & m_t)
    m_AT = (o_t[:, None] <= o_t[None, :]) & (m_t[:, None] & m_t)
    g += bos * HV + i_h
    dg += bos * HV + i_h
    b_g = tl.load(g + o_t * HV, mask=m_t, other=0.0)
    b_g_last = tl.load(g + (min(i_t * BT + BT, T) - 1) * HV)
    b_dg_last *= _exp2(b_g_last)
    b_dq = b_dq * _exp2(b_g)[:, None] * scale
    b_dk = b_dk * tl.where(m_t, _exp2(-b_g + b_g_last), 0)[:, None]
    b_dg_last += tl.sum(b_dk * b_k)

    b_ds = tl.where(m_A, b_ds * _exp2(b_g[:, None] - b_g[None, :]), 0) * scale
    # ds^T[j, i] = ds[i, j]: gate factor exp2(g_i - g_j) with i the column index here.
    b_dsT = tl.where(m_AT, b_dsT * _exp2(b_g[None, :] - b_g[:, None]), 0) * scale
    b_dq = tl.dot(b_ds.to(b_k.dtype), b_k, b_dq)
    b_dk = tl.dot(b_dsT.to(b_q.dtype), b_q, b_dk)

    b_dg = tl.sum(b_dq * b_q, axis=1) - tl.sum(b_dk * b_k, axis=1)
    b_dg = tl.where(o_t < min(i_t * BT + BT, T) - 1, b_dg, b_dg + b_dg_last)
    tl.store(p_dq, b_dq.to(p_dq.dtype.element_ty), mask=m_qk)
    tl.store(p_dk, b_dk.to(p_dk.dtype.element_ty), mask=m_qk)
    tl.store(dg + o_t * HV, b_dg.to(dg.dtype.element_ty), mask=m_t)


def chunk_bwd_dqkwg_gated(
    q, k, v, do, h, dh, w=None, g=None, g_gamma=None, dv=None, scale=None, state_v_first=False,
    cu_seqlens=None, chunk_size=64, chunk_indices=None,
):  # fmt: skip
    """Drop-in for ``fla.ops.common.chunk_o.chunk_bwd_dqkwg`` in the gated delta rule's backward.

    Same arguments and return value ``(dq, dk, dw, dg)``; refuses the cases it does not cover.
    """
    from fla.ops.utils import prepare_chunk_indices
    from fla.utils import check_shared_mem

    if g is None or w is None or dv is None or g_gamma is not None:
        raise NotImplementedError(
            "chunk_bwd_dqkwg_gated covers only the gated delta rule (g, w, dv; no g_gamma)"
        )
    B, T, H, K, V, HV = *k.shape, v.shape[-1], v.shape[2]
    BT = chunk_size
    if chunk_indices is None and cu_seqlens is not None:
        chunk_indices = prepare_chunk_indices(cu_seqlens, BT)
    NT = triton.cdiv(T, BT) if cu_seqlens is None else len(chunk_indices)
    tiling = 128 if check_shared_mem("hopper", k.device.index) else 64
    BK = min(max(triton.next_power_of_2(K), 16), tiling)
    BV = min(max(triton.next_power_of_2(V), 16), tiling)
    NK = triton.cdiv(K, BK)
    dq = q.new_empty(B, T, HV, K)
    dk = k.new_empty(B, T, HV, K)
    dg = torch.empty(NK, *g.shape, dtype=torch.float32, device=g.device)
    dw = torch.empty_like(w)
    _chunk_bwd_kernel_dqkwg_gated[(NK * NT, B * HV)](
        q, k, v, g, h, do, dh, dq, dk, dw, dv, dg, cu_seqlens, chunk_indices, scale,
        B=B, T=T, H=H, HV=HV, K=K, V=V, BT=BT, BK=BK, BV=BV, STATE_V_FIRST=state_v_first,
    )  # fmt: skip
    if H != HV:
        dq = dq.view(B, T, H, HV // H, K).sum(3)
        dk = dk.view(B, T, H, HV // H, K).sum(3)
    return dq, dk, dw, dg.sum(0)


def install() -> bool:
    """Route fla's gated-delta-rule backward through ``chunk_bwd_dqkwg_gated``; True if swapped in.

    Idempotent. Affects every ``chunk_gated_delta_rule`` backward in this process.
    """
    import fla.ops.gated_delta_rule.chunk as gdn_chunk

    if gdn_chunk.chunk_bwd_dqkwg is chunk_bwd_dqkwg_gated:
        return False
    gdn_chunk._stock_chunk_bwd_dqkwg = gdn_chunk.chunk_bwd_dqkwg
    gdn_chunk.chunk_bwd_dqkwg = chunk_bwd_dqkwg_gated
    return True


def uninstall() -> None:
    """Undo ``install()`` (back to fla's own kernel, guard included)."""
    import fla.ops.gated_delta_rule.chunk as gdn_chunk

    if hasattr(gdn_chunk, "_stock_chunk_bwd_dqkwg"):
        gdn_chunk.chunk_bwd_dqkwg = gdn_chunk._stock_chunk_bwd_dqkwg


def bypass_fla_triton_guard(enable: bool = True) -> None:
    """Let fla's own gated kernel run on Triton < 3.7.1 (miscompiled there: for showing the bug / timing only)."""
    import fla.ops.common.chunk_o as chunk_o

    if not hasattr(chunk_o, "_TRITON_ABOVE_3_7_1_REAL"):
        chunk_o._TRITON_ABOVE_3_7_1_REAL = chunk_o.TRITON_ABOVE_3_7_1
    chunk_o.TRITON_ABOVE_3_7_1 = True if enable else chunk_o._TRITON_ABOVE_3_7_1_REAL
