"""The sliced top-k + top-p (``ssdlib.generation.cpu_sampler``) masks exactly what vLLM's own
function masks, and the plugin is installed in vLLM's sampler on CPU."""

from __future__ import annotations

import importlib.metadata

import pytest
import torch
from vllm.v1.sample.ops.topk_topp_sampler import apply_top_k_top_p_pytorch

from ssdlib.generation.cpu_sampler import top_k_top_p_sliced

VOCAB = 5000


def reference(logits, k, p):
    return apply_top_k_top_p_pytorch(logits, k, p, allow_cpu_sync=True)


def both(logits, k, p):
    want = reference(logits.clone(), k, p)
    got = top_k_top_p_sliced(logits.clone(), k, p, reference)
    kept = ~torch.isinf(got)
    assert torch.equal(got[kept], logits[kept])  # kept logits are unchanged
    return want, got


def assert_same(want, got):
    """Same kept logits per row. Among logits tied exactly at the top-p cut, which ones survive
    depends on the sort's order in vLLM too (its sort is not stable): there only the number kept
    and their values must agree; every token above the cut must be the same token."""
    for w, g in zip(want, got, strict=True):
        kw, kg = ~torch.isinf(w), ~torch.isinf(g)
        assert torch.equal(w[kw].sort().values, g[kg].sort().values)
        cut = w[kw].min()
        assert torch.equal(kw & (w > cut), kg & (g > cut))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_sliced_mask_equals_vllms_for_mixed_rows(dtype):
    g = torch.Generator().manual_seed(0)
    rows = 64
    # bf16-rounded logits have many exact ties, as real bf16 lm-head outputs do.
    logits = (torch.randn(rows, VOCAB, generator=g) * 3).to(dtype).float()
    k = torch.randint(1, 60, (rows,), generator=g)
    k[::5] = VOCAB  # rows without top-k (vLLM's encoding)
    p = torch.rand(rows, generator=g) * 0.9 + 0.1
    p[::3] = 1.0  # rows without top-p
    p[1] = 1e-8  # keeps only the largest (vLLM always keeps one)
    want, got = both(logits, k, p)
    assert_same(want, got)
    neither = (k == VOCAB) & (p == 1.0)
    assert neither.any() and not torch.isinf(got[neither]).any()
    kept = (~torch.isinf(got)).sum(1)
    assert (kept[k < VOCAB] <= k[k < VOCAB] + 8).all() and (kept >= 1).all()


def test_tie_reaching_past_the_slice_is_left_to_vllm():
    logits = torch.zeros(3, VOCAB)
    logits[0, :3] = 5.0
    logits[0, 3:40] = 1.0  # the 4th..40th largest tie: top_k=5 keeps all 37 of them
    logits[1] = torch.linspace(0, 1, VOCAB)
    # Same ties; on the 5-wide slice top-p would drop both 1.0s (1% of the slice's mass), while
    # over all 37 ties (18% of the mass) vLLM keeps about 17 of them.
    logits[2] = logits[0]
    k = torch.tensor([5, 5, 5])
    p = torch.tensor([0.999, 0.9, 0.9])
    want, got = both(logits, k, p)
    assert_same(want, got)
    assert (~torch.isinf(got[0])).sum() > 5  # the ties were kept, as vLLM keeps them
    assert (~torch.isinf(got[2])).sum() > 5


def test_ties_in_the_margin_and_at_the_cut_are_decided_on_the_slice():
    """bf16 logits tie often (in 03's decode ~40% of rows had a tie at the k-th value reaching past
    a 1-wide slice, and ~14% a tie at the top-p cut): both must be decided on the slice, with the
    mask vLLM's function gives, not by falling back to its full sort."""
    g = torch.Generator().manual_seed(1)
    low = torch.linspace(-10, -5, VOCAB)[torch.randperm(VOCAB, generator=g)]
    logits = torch.stack([low, low])
    logits[0, :3] = 5.0
    logits[0, 3:13] = 2.0  # top_k=5: the 4th..13th largest tie, all kept by vLLM's top-k
    logits[1, 0] = 4.0
    logits[1, 1:7] = 3.0  # top_p=0.5 cuts inside these six ties: vLLM keeps 2 of them
    k, p = torch.tensor([5, 20]), torch.tensor([0.999, 0.5])
    fallback_rows = []

    def counted(lg, kk, pp):
        fallback_rows.append(lg.shape[0])
        return reference(lg, kk, pp)

    want = reference(logits.clone(), k, p)
    got = top_k_top_p_sliced(logits.clone(), k, p, counted)
    assert fallback_rows == []
    assert_same(want, got)
    kept = (~torch.isinf(got)).sum(1)
    assert kept.tolist() == [13, 3]


def test_no_top_p_or_no_top_k_is_vllms_path():
    logits = torch.randn(4, VOCAB)
    for k, p in ((torch.full((4,), 7), None), (None, torch.full((4,), 0.5)), (None, None)):
        want = reference(logits.clone(), k, p)
        got = top_k_top_p_sliced(logits.clone(), k, p, reference)
        assert_same(want, got)


def test_plugin_is_registered_and_patches_the_cpu_sampler(monkeypatch):
    eps = importlib.metadata.entry_points(group="vllm.general_plugins")
    assert "ssdlib.generation.cpu_sampler:register" in {e.value for e in eps}
    from vllm.v1.sample.ops import topk_topp_sampler as ops

    from ssdlib.generation import cpu_sampler

    monkeypatch.setattr(ops, "apply_top_k_top_p", ops.apply_top_k_top_p)
    before = ops.apply_top_k_top_p
    cpu_sampler.register()
    assert getattr(ops.apply_top_k_top_p, "_ssd_sliced", False)
    cpu_sampler.register()  # loaded twice: wraps once
    logits = torch.randn(3, VOCAB)
    k, p = torch.tensor([3, 10, VOCAB]), torch.tensor([0.5, 0.9, 0.7])
    assert_same(before(logits.clone(), k, p), ops.apply_top_k_top_p(logits.clone(), k, p))
