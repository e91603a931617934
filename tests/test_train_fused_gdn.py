"""The fused Gated DeltaNet mixer (``ssdlib.train.fused_gdn``) and length-aware checkpointing
(``ssdlib.train.speed.keep_activations_by_length``), on CPU.

fla's kernels need a GPU, so the fused mixer runs here on torch stand-ins that follow fla's
documented API (``fused_gdn.torch_stand_ins``): these tests check this repo's wiring (layouts,
q/k/v split, grouped heads, gate and beta inputs, fallbacks) against transformers' own mixer; fla's
kernels themselves are checked by ``bench/gradcheck_gpu.py`` on the GPU.
"""

from __future__ import annotations

import pytest
import torch

from ssdlib.train import fused_gdn
from ssdlib.train import gradcheck as gc
from ssdlib.train.speed import decoder_layers, keep_activations_by_length, n_kept_layers


@pytest.fixture()
def stand_ins():
    """fla's two calls replaced by torch stand-ins; yields ``{"conv": n, "rule": n}`` call counts."""
    calls = {"conv": 0, "rule": 0}

    def counted(name, fn):
        def call(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return call

    with fused_gdn.use_kernels(
        **{k: counted(k, f) for k, f in fused_gdn.torch_stand_ins().items()}
    ):
        yield calls


def _loss_and_grads(model, ids, labels):
    model.config.use_cache = False  # as TRL trains (with a cache the mixer runs transformers' code)
    model.zero_grad(set_to_none=True)
    loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    return loss.item(), {
        n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None
    }


def _max_rel(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(((a[n] - b[n]).norm() / b[n].norm()).item() for n in b if b[n].norm() > 0)


def test_fused_mixer_matches_transformers_mixer(stand_ins):
    ids, labels = gc.make_batch(80, gc.TINY_QWEN35["vocab_size"])  # 80: not a multiple of the chunk
    ref_model, model = gc.build_tiny_model(), gc.build_tiny_model()
    ref_loss, ref = _loss_and_grads(ref_model, ids, labels)
    assert fused_gdn.fuse_gdn_mixers(model) == 3
    loss, got = _loss_and_grads(model, ids, labels)
    assert stand_ins == {"conv": 3, "rule": 3}  # one call each per GDN layer
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    assert _max_rel(got, ref) < 1e-5  # float32 rounding: different op order only
    # The gate parameters get their gradients through the rule's in-kernel gate (A_log, dt_bias).
    assert got["model.layers.0.linear_attn.A_log"].abs().sum() > 0


def test_fused_mixer_wiring_errors_are_caught(stand_ins):
    """The same comparison fails when the grouped heads are mapped the other way round (tile instead
    of repeat_interleave), i.e. when the fused path and transformers' disagree on head order."""
    ids, labels = gc.make_batch(48, gc.TINY_QWEN35["vocab_size"])
    ref_model, model = gc.build_tiny_model(), gc.build_tiny_model()
    _, ref = _loss_and_grads(ref_model, ids, labels)
    fused_gdn.fuse_gdn_mixers(model)
    rule = fused_gdn.kernel("rule")

    def tiled(q, k, v, g, beta, **kw):  # value head h reads q/k head h % H instead of h // r
        r = v.shape[2] // q.shape[2]
        return rule(q.repeat(1, 1, r, 1), k.repeat(1, 1, r, 1), v, g, beta, **kw)

    with fused_gdn.use_kernels(rule=tiled):
        _, got = _loss_and_grads(model, ids, labels)
    assert _max_rel(got, ref) > 1e-2


def test_routed_conv1d_matches_transformers_conv(stand_ins):
    ids, labels = gc.make_batch(40, gc.TINY_QWEN35["vocab_size"])
    ref_model, model = gc.build_tiny_model(), gc.build_tiny_model()
    _, ref = _loss_and_grads(ref_model, ids, labels)
    fused_gdn.route_conv1d_to_fla(model)
    try:
        mod = fused_gdn._modeling_module(model)
        assert mod.causal_conv1d_fn is fused_gdn.fla_causal_conv1d_fn
        _, got = _loss_and_grads(model, ids, labels)
        assert stand_ins == {"conv": 3, "rule": 0}  # transformers' rule, the routed conv
    finally:
        fused_gdn.restore_conv1d(model)
    assert mod.causal_conv1d_fn is not fused_gdn.fla_causal_conv1d_fn
    assert _max_rel(got, ref) < 1e-5


def test_fused_mixer_keeps_transformers_code_for_cached_generation(stand_ins):
    ids, _ = gc.make_batch(12, gc.TINY_QWEN35["vocab_size"])
    ref_model, model = gc.build_tiny_model().eval(), gc.build_tiny_model().eval()
    fused_gdn.fuse_gdn_mixers(model)
    kw = dict(max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert torch.equal(model.generate(ids, **kw), ref_model.generate(ids, **kw))
    assert stand_ins == {"conv": 0, "rule": 0}
    fused_gdn.unfuse_gdn_mixers(model)
    assert all(not m._ssd_fused_gdn for m in fused_gdn.gdn_mixers(model))


def test_gradcheck_covers_the_fused_path_and_catches_a_wrong_gate(stand_ins):
    ok = gc.run_gradcheck(device="cpu", fused_gdn=True)
    assert ok.passed and ok.path["fused_gdn"]
    bad = gc.run_gradcheck(device="cpu", fused_gdn=True, inject="scale_dg")
    # The wrong kernel scales the gradient of the raw gate input a: in_proj_a, and what flows back
    # from it into the shared input; A_log / dt_bias come from the (stand-in) kernel's own gate.
    assert not bad.passed and "linear_attn.in_proj_a.weight" in bad.failed_groups


def test_fuse_refuses_models_without_gated_deltanet():
    with pytest.raises(ValueError, match="no Gated DeltaNet"):
        fused_gdn.fuse_gdn_mixers(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="unknown kernels"):
        with fused_gdn.use_kernels(scan=None):
            pass


def test_n_kept_layers():
    assert n_kept_layers(32_768, 14 * 32_768, 32) == 14
    assert n_kept_layers(49_152, 14 * 32_768, 32) == 9
    assert n_kept_layers(1_000, 14 * 32_768, 32) == 32
    assert n_kept_layers(1_000, 0, 32) == 0
    with pytest.raises(ValueError):
        n_kept_layers(0, 10, 32)


def test_keep_activations_by_length_follows_each_row_and_keeps_gradients():
    ids, labels = gc.make_batch(64, gc.TINY_QWEN35["vocab_size"])
    ref_model, model = gc.build_tiny_model(), gc.build_tiny_model()
    _, ref = _loss_and_grads(ref_model, ids, labels)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    handle = keep_activations_by_length(model, budget_token_layers=128)
    layers = decoder_layers(model)
    _, got = _loss_and_grads(model, ids, labels)  # 64 tokens: 2 of 4 layers kept
    assert [lay.gradient_checkpointing for lay in layers] == [True, True, False, False]
    assert _max_rel(got, ref) < 1e-5
    _loss_and_grads(model, ids[:, :40], labels[:, :40])  # 40 tokens: 3 kept
    assert [lay.gradient_checkpointing for lay in layers] == [True, False, False, False]
    _loss_and_grads(model, ids[:, :16], labels[:, :16])  # 16 tokens: all 4 kept
    assert not any(lay.gradient_checkpointing for lay in layers)
    _loss_and_grads(model, ids, labels)  # back to 64: checkpointing comes back on
    assert [lay.gradient_checkpointing for lay in layers] == [True, True, False, False]
    handle.remove()


def test_speed_settings_plumbing_and_clear_errors():
    from ssdlib.train.sft import SFTSettings, _apply_speed_settings

    s = SFTSettings(max_length=8, max_steps=1)
    assert (s.fla_conv1d, s.fused_gdn, s.keep_activation_tokens) == (
        False,
        False,
        0,
    )  # today's path
    assert not gc.fla_importable()  # the CPU environment: fla's kernels need a GPU
    for flag in ("fla_conv1d", "fused_gdn"):
        with pytest.raises(ValueError, match="need flash-linear-attention"):
            _apply_speed_settings(
                gc.build_tiny_model(), SFTSettings(max_length=8, max_steps=1, **{flag: True})
            )
    with pytest.raises(ValueError, match="not both"):
        _apply_speed_settings(
            gc.build_tiny_model(),
            SFTSettings(
                max_length=8, max_steps=1, keep_activation_layers=2, keep_activation_tokens=64
            ),
        )
    by_length = SFTSettings(max_length=8, max_steps=1, keep_activation_tokens=64)
    cbs = _apply_speed_settings(gc.build_tiny_model(), by_length)
    assert [type(c).__name__ for c in cbs] == ["KeepActivationsByLength"]


@pytest.mark.parametrize("launcher", ["accelerate", "inprocess"])
def test_profile_keep_activation_tokens_reaches_train_sft(tmp_path, monkeypatch, launcher):
    """qwen3.5-4b's ``train.keep_activation_tokens`` goes, through ``train_run`` (accelerate's
    ``train_config.json`` + ``train_from_config``, or in process), into ``train_sft``'s settings and
    from there to the by-length callback."""
    import dataclasses
    import json

    import ssdlib.train as train_pkg
    from ssdlib import config as cfg
    from ssdlib.train import run as tr
    from ssdlib.train import sft

    p = cfg.load_params("05_train", "qwen3.5-4b", [f"train.launcher={launcher}"])
    assert (p.train.keep_activation_tokens, p.train.keep_activation_layers) == (327_680, 0)
    run = tmp_path / "ssd"
    run.mkdir()
    seen = []

    class Stop(Exception):
        pass

    def fake_make_trainer(model_path, dataset, output_dir, settings, **kw):
        seen.append(settings)
        raise Stop

    monkeypatch.setattr(sft, "make_trainer", fake_make_trainer)

    def train_sft_then_checkpoint(*args, **kwargs):
        with pytest.raises(Stop):
            sft.train_sft(*args, **kwargs)
        (run / f"checkpoint-{p.train.max_steps}").mkdir()

    if launcher == "accelerate":
        from ssdlib.train.__main__ import main as training_cli

        def fake_run(
            cmd, **kw
        ):  # `accelerate launch ... -m ssdlib.train --config <json>`, one process
            assert cmd[-4:-1] == ["-m", "ssdlib.train", "--config"]
            with pytest.raises(Stop):
                training_cli(cmd[-2:])
            (run / f"checkpoint-{p.train.max_steps}").mkdir()
            return type("Done", (), {"returncode": 0})()

        monkeypatch.setattr(tr.subprocess, "run", fake_run)
    else:
        monkeypatch.setattr(train_pkg, "train_sft", train_sft_then_checkpoint, raising=False)
    out = tr.train_run(p, "/models/base", None, tmp_path / "ds.parquet", run)
    assert out["action"] == "trained"
    (s,) = seen
    assert (s.keep_activation_tokens, s.keep_activation_layers) == (327_680, 0)
    if launcher == "accelerate":
        assert (
            json.loads((run / "train_config.json").read_text())["keep_activation_tokens"] == 327_680
        )
    # the settings' fla routes need a GPU; the checkpointing setting alone gives the callback
    cpu = dataclasses.replace(s, fla_hopper_fix=False, fused_gdn=False, compile_layers=False)
    cbs = sft._apply_speed_settings(gc.build_tiny_model(), cpu)
    assert [type(c).__name__ for c in cbs] == ["KeepActivationsByLength"]
