"""Gradient check (``ssdlib.train.gradcheck``) and the opt-in speed settings (``ssdlib.train.speed``), on CPU.

The check must pass for the path this machine trains with (transformers' torch Gated DeltaNet code
in float32) and must fail when one kernel term is wrong: the gate gradient scaled by 0.9, the
size of error a miscompiled backward kernel makes. The GPU version (fla kernels, bf16 autocast,
compiled layers) is ``bench/gradcheck_gpu.py``.
"""

from __future__ import annotations

import pytest
import torch

from ssdlib.train import gradcheck as gc
from ssdlib.train.sft import SFTSettings
from ssdlib.train.speed import (
    compile_decoder_layers,
    compile_targets,
    decoder_layers,
    keep_activations,
)

GATE_GROUPS = {"linear_attn.A_log", "linear_attn.dt_bias", "linear_attn.in_proj_a.weight"}


@pytest.fixture(scope="module")
def passing():
    return gc.run_gradcheck(device="cpu")


def test_float32_torch_path_matches_float64_reference(passing):
    assert passing.passed and passing.tolerance == gc.TOL_FLOAT32
    assert passing.path["kernels"] == "torch" and passing.path["device"] == "cpu"
    # Every parameter group of a Qwen3.5 stack is compared: GDN, gated attention, MLP, norms, embedding.
    assert GATE_GROUPS | {"linear_attn.conv1d.weight", "self_attn.q_proj.weight", "mlp.down_proj.weight",
                          "embed_tokens.weight", "norm.weight"} <= set(passing.errors)  # fmt: skip
    assert max(passing.errors.values()) < 1e-4  # float32 rounding only
    assert passing.loss[0] == pytest.approx(passing.loss[1], rel=1e-5)


def test_wrong_gate_gradient_fails_on_the_gate_groups(passing):
    rep = gc.run_gradcheck(device="cpu", inject="scale_dg")
    assert not rep.passed
    assert GATE_GROUPS <= set(rep.failed_groups)
    assert rep.errors["linear_attn.A_log"] > 0.05
    # The forward is untouched, and groups the gate does not feed (the MLP of the attention layer,
    # the final norm) keep their small error: the check localises the wrong term.
    assert rep.loss == pytest.approx(passing.loss)
    assert rep.errors["norm.weight"] < gc.TOL_FLOAT32


def test_compare_flags_missing_and_nonfinite_gradients():
    ref = {"model.layers.0.mlp.up_proj.weight": torch.ones(3), "model.norm.weight": torch.ones(2)}
    errs = gc.compare(
        {"model.layers.0.mlp.up_proj.weight": torch.tensor([1.0, float("nan"), 1.0])}, ref
    )
    assert errs == {"mlp.up_proj.weight": float("inf"), "norm.weight": float("inf")}


def test_group_of_drops_layer_index():
    assert gc.group_of("model.layers.17.linear_attn.A_log") == "linear_attn.A_log"
    assert gc.group_of("lm_head.weight") == "lm_head.weight"


def test_unknown_injection_is_refused():
    model = gc.build_tiny_model()
    ids, labels = gc.make_batch(16, model.config.vocab_size)
    with pytest.raises(ValueError, match="unknown inject"):
        gc.compute_gradients(model, ids, labels, inject="typo")


def test_keep_activations_unchecks_the_last_layers():
    model = gc.build_tiny_model()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    assert keep_activations(model, 1) == 3
    flags = [layer.gradient_checkpointing for layer in decoder_layers(model)]
    assert flags == [True, True, True, False]
    with pytest.raises(ValueError, match="outside 0..4"):
        keep_activations(model, 5)


def test_speed_settings_default_to_todays_path():
    s = SFTSettings(max_length=128, max_steps=1)
    assert (s.compile_layers, s.keep_activation_layers, s.fla_hopper_fix) == (False, 0, False)


def test_fla_fix_without_fla_is_a_clear_error(tmp_path):
    from ssdlib.train.sft import _apply_speed_settings

    if (
        gc.fla_importable()
    ):  # the CPU test environment has no fla; on a GPU box this test has nothing to show
        pytest.fail("fla is importable here: this test expects the CPU environment")
    with pytest.raises(ValueError, match="flash-linear-attention is not importable"):
        _apply_speed_settings(
            gc.build_tiny_model(), SFTSettings(max_length=8, max_steps=1, fla_hopper_fix=True)
        )


def test_block_scope_compiles_only_graph_break_free_blocks():
    model = gc.build_tiny_model()  # 3 Gated DeltaNet + 1 attention layer
    names = sorted(type(m).__name__ for m in compile_targets(model, "blocks"))
    # per layer: MLP + 2 RMSNorms; GDN layers: gated RMSNorm; attention layer: Attention + q/k norms
    assert names.count("Qwen3_5MLP") == 4 and names.count("Qwen3_5RMSNormGated") == 3
    assert names.count("Qwen3_5Attention") == 1 and names.count("Qwen3_5RMSNorm") == 4 * 2 + 2
    assert not any(n.endswith(("GatedDeltaNet", "DecoderLayer")) for n in names)  # fla breaks those
    assert compile_targets(model, "layer") == decoder_layers(model)
    with pytest.raises(ValueError, match="scope"):
        compile_targets(model, "everything")


@pytest.mark.slow
def test_compiled_blocks_do_not_recompile_when_the_row_length_changes(monkeypatch):
    """SSD rows vary in length; a recompile per new length would cost minutes per step at 4B.

    fla's kernel is a graph break (``torch.compiler.disable``); mimicked here with transformers'
    torch rule, disabled the same way. Whole-layer compilation (scope="layer") recompiles the GDN
    mixer for every new length (seen on torch 2.11 and 2.13), so this test fails with it.
    """
    import transformers.models.qwen3_5.modeling_qwen3_5 as qwen

    rule = torch.compiler.disable(qwen.torch_chunk_gated_delta_rule)
    monkeypatch.setattr(qwen, "torch_chunk_gated_delta_rule", rule)
    torch._dynamo.reset()
    model = gc.build_tiny_model()
    model.train()
    model.config.use_cache = False
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    compile_decoder_layers(model, scope="blocks")

    def step(n):
        ids, labels = gc.make_batch(n, model.config.vocab_size)
        model(input_ids=ids, labels=labels).loss.backward()

    step(64)
    step(80)  # dynamic shapes settle after at most one recompile
    with torch._dynamo.config.patch(error_on_recompile=True):
        step(100)
        step(136)
    torch._dynamo.reset()


@pytest.mark.slow
def test_compiled_layers_pass_the_gradient_check():
    rep = gc.run_gradcheck(device="cpu", compile_layers=True)
    assert rep.passed and rep.path["compile_layers"]


def test_doctor_reports_the_gradient_check(monkeypatch):
    from ssdlib import doctor

    ctx = doctor.Context("smoke")
    (ok,) = doctor.check_gradients(ctx)
    assert ok.status == doctor.OK and "linear_attn" in ok.detail and "tol 1e-03" in ok.detail
    assert ("gradients", doctor.check_gradients) in doctor.CHECKS
    real = gc.run_gradcheck
    monkeypatch.setattr(gc, "run_gradcheck", lambda **kw: real(inject="scale_dg", **kw))
    (bad,) = doctor.check_gradients(ctx)
    assert bad.status == doctor.FAIL and "linear_attn.A_log" in bad.detail and bad.fix

    def no_floor(**kw):
        gc.floor_tolerances({"linear_attn.A_log": 0.1}, {})

    monkeypatch.setattr(gc, "run_gradcheck", no_floor)
    (undecided,) = doctor.check_gradients(ctx)
    assert undecided.status == doctor.FAIL and "linear_attn.A_log" in undecided.detail
    assert "check itself" in undecided.fix and "Triton" not in undecided.fix


def test_packing_leaks_across_traces_in_gated_deltanet_so_padding_free_is_refused(tmp_path):
    """Two traces packed into one row (position ids reset, cu_seq_lens given) do not reproduce the
    second trace's logits on transformers' torch GDN path: its state leaks. ``make_trainer`` refuses."""
    import datasets

    from ssdlib.train.sft import make_trainer

    model = gc.build_tiny_model().eval()
    g = torch.Generator().manual_seed(0)
    a, b = torch.randint(1, 512, (1, 40), generator=g), torch.randint(1, 512, (1, 56), generator=g)
    cu = torch.tensor([0, 40, 96], dtype=torch.int32)
    with torch.no_grad():
        alone = model(input_ids=b).logits[0]
        pos = torch.cat([torch.arange(40), torch.arange(56)])[None]
        packed = model(input_ids=torch.cat([a, b], 1), position_ids=pos, cu_seq_lens_q=cu,
                       cu_seq_lens_k=cu, max_length_q=56, max_length_k=56).logits[0, 40:]  # fmt: skip
    assert ((packed - alone).norm() / alone.norm()).item() > 0.1

    data = datasets.Dataset.from_dict(
        {"input_ids": [[5] * 16], "completion_mask": [[0] * 4 + [1] * 12]}
    )
    s = SFTSettings(
        max_length=16, max_steps=1, padding_free=True, attn_implementation="flash_attention_3"
    )
    with pytest.raises(ValueError, match="Gated DeltaNet"):
        make_trainer(model, data, tmp_path / "run", s, tokenizer=object())


def _bench_gradcheck_gpu():
    """``bench/gradcheck_gpu.py`` as a module (its rule and audit code needs no GPU)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "gradcheck_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gradcheck_gpu", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_rule_v3_judges_tf32x3_rows_against_the_float32_floor():
    g = _bench_gradcheck_gpu()
    groups = ["linear_attn.A_log", "linear_attn.dt_bias", "mlp.up_proj.weight"]
    outs = ["o", "da", "dA_log", "ddt_bias"]
    model, op = [], []
    for s in (0, 1, 2):
        model += [
            {"backend": "torch", "seed": s, "f32": True, "errors": dict.fromkeys(groups, 1e-5)},
            {"backend": "torch", "seed": s, "errors": dict.fromkeys(groups, 0.04)},
        ]
        for fused in (False, True):
            model += [
                {"backend": "fixed", "fused": fused, "f32": True, "seed": s, "f32_dots": "tf32x3",
                 "errors": dict.fromkeys(groups, 2e-5)},
                {"backend": "wrong-dg", "fused": fused, "f32": True, "seed": s, "f32_dots": "tf32x3",
                 "errors": dict.fromkeys(groups, 0.1)},
                {"backend": "fixed", "fused": fused, "compile": True, "seed": s,
                 "errors": dict.fromkeys(groups, 0.05)},
                # default TF32 dots: reported, never judged by v3
                {"backend": "fixed", "fused": fused, "f32": True, "seed": s, "errors": dict.fromkeys(groups, 0.03)},
            ]  # fmt: skip
        op.append(
            {"level": "op32", "path": "torch+f32", "seed": s, "errors": dict.fromkeys(outs, 1e-6)}
        )
        for p in ("fixed", "fixed+fused"):
            x3 = {"level": "op32", "seed": s, "f32_dots": "tf32x3"}
            op.append({**x3, "path": p, "errors": dict.fromkeys(outs, 1e-6)})
            op.append({**x3, "path": "wrong-dg" + p[5:], "errors": dict.fromkeys(outs, 0.1)})
    res = g.rule_v3(model, op, [0, 1, 2], audit=True)
    assert res["verdicts"]["fused path correct"] is True
    assert res["verdicts"]["shipped path correct"] is True
    assert res["verdicts"]["float32 check can vouch for A_log/dt_bias"] is True
    assert g.rule_v3(model, op, [0, 1, 2], audit=None)["verdicts"]["fused path correct"] is None
    assert (
        g.rule_v3(model, op[:-1], [0, 1, 2], audit=True)["verdicts"]["fused path correct"] is None
    )
    # seed 2's compiled fused row over 1.5x the bf16 floor
    model[-2]["errors"] = dict.fromkeys(groups, 0.07)
    assert g.rule_v3(model, op, [0, 1, 2], audit=True)["verdicts"]["fused path correct"] is False


def test_dot_audit_reads_input_precisions_from_ttir(tmp_path):
    g = _bench_gradcheck_gpu()
    (tmp_path / "h").mkdir()
    f32 = "tensor<64x64xf32> * tensor<64x64xf32> -> tensor<64x64xf32>"
    (tmp_path / "h" / "kern.ttir").write_text(
        f"%1 = tt.dot %a, %b, %c, inputPrecision = tf32x3 : {f32}\n"
        f"%2 = tt.dot %a, %b, %c, inputPrecision = ieee : {f32}\n"
        "%3 = tt.dot %a, %b, %c : tensor<64x64xbf16> * tensor<64x64xbf16> -> tensor<64x64xf32>\n"
    )
    res = g.dot_audit([str(tmp_path)])
    assert res["kernels"]["kern"] == {"f32:tf32x3": 1, "f32:ieee": 1, "bf16:tf32": 1}
    assert res["ok"] is True
    with open(tmp_path / "h" / "kern.ttir", "a") as fh:
        fh.write(f"%4 = tt.dot %a, %b, %c : {f32}\n")  # printed without a precision
    assert g.dot_audit([str(tmp_path)])["ok"] is False


# ------------------------------------------------------------------ rule v3's tolerance (floor=True)


def test_floor_tolerance_has_rule_v3s_form():
    rep = gc.run_gradcheck(device="cpu", floor=True)
    # on this CPU the path is transformers' torch code: it is its own floor
    assert rep.passed and rep.path["floor"] and set(rep.floor) == set(rep.errors)
    for g, e in rep.errors.items():
        assert rep.tol(g) == gc.FLOOR_FACTOR * max(rep.floor[g], gc.FLOOR_MIN)
        assert e == pytest.approx(rep.floor[g], rel=1e-6, abs=1e-12)
    assert "floor" in rep.table()
    # the floor is computed without the injection: a 10% gate error fails it
    bad = gc.run_gradcheck(device="cpu", floor=True, inject="scale_dg")
    assert not bad.passed and "linear_attn.A_log" in bad.failed_groups
    assert bad.worst()[0] in bad.failed_groups and bad.worst()[1] > bad.worst()[2]


def test_a_group_without_a_finite_floor_fails_loudly(monkeypatch):
    """A group the torch floor lacks (or whose floor error is not finite) has no tolerance: it must not
    pass. The old code gave it ``floor_errors.get(g, inf)``, an infinite tolerance: any error passed."""
    with pytest.raises(ValueError, match="linear_attn.A_log: missing from the torch floor"):
        gc.floor_tolerances({"linear_attn.A_log": 0.5, "embed_tokens.weight": 1e-6},
                            {"embed_tokens.weight": 1e-6})  # fmt: skip
    with pytest.raises(ValueError, match="linear_attn.dt_bias: torch floor error inf"):
        gc.floor_tolerances({"linear_attn.dt_bias": 1e-6}, {"linear_attn.dt_bias": float("inf")})
    assert gc.floor_tolerances({"a": 1.0}, {"a": 1e-2}) == {"a": gc.FLOOR_FACTOR * 1e-2}

    # end to end: the floor's A_log gradients go missing; the path itself is 10% off on the gate
    floor_grads = gc._torch_gradients

    def without_a_log(*a, **kw):
        return {n: g for n, g in floor_grads(*a, **kw).items() if not n.endswith("A_log")}

    monkeypatch.setattr(gc, "_torch_gradients", without_a_log)
    with pytest.raises(ValueError, match=r"no finite torch floor.*linear_attn\.A_log"):
        gc.run_gradcheck(device="cpu", floor=True, inject="scale_dg")


def test_floor_follows_the_paths_autocast():
    rep = gc.run_gradcheck(device="cpu", autocast_bf16=True, floor=True)
    assert rep.passed and rep.floor["linear_attn.A_log"] > 1e-3  # bf16's floor, not float32's
    assert rep.tol("linear_attn.A_log") == 1.5 * rep.floor["linear_attn.A_log"]


def test_the_reference_child_computes_the_floor_too():
    """With fla the floor runs in the reference's child (no fla there); same numbers as in process."""
    model = gc.build_tiny_model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ids, labels = gc.make_batch(32, model.config.vocab_size)
    kw = {"autocast_bf16": False, "checkpointing": True}
    loss, ref, floor = gc._reference_in_child(state, None, ids, labels, "cpu", kw)
    here = gc._torch_gradients(state, None, ids, labels, device="cpu", **kw)
    assert set(floor) == set(here) and all(torch.equal(floor[n], here[n]) for n in here)
    assert len(gc._reference_in_child(state, None, ids, labels, "cpu")) == 2


def test_doctor_refuses_the_profiles_fla_route_without_fla():
    from ssdlib import doctor

    ctx = doctor.Context("qwen3.5-4b", offline=True)
    assert ctx.params("05_train").train.fused_gdn and not gc.fla_importable()
    (res,) = doctor.check_gradients(ctx)
    assert res.status == doctor.FAIL and "train.fused_gdn" in res.detail
    assert "train.fla_hopper_fix" in res.detail and "flash-linear-attention" in res.fix


@pytest.mark.parametrize("inject", [None, "scale_dg"])
def test_doctor_checks_the_profiles_route_against_the_floor(monkeypatch, inject):
    """qwen3.5-4b's route (fla_hopper_fix + fused_gdn) as the doctor selects it where fla imports;
    the fused mixer runs here on fla's torch stand-ins, the check itself on this CPU."""
    import ssdlib.train.fla_hopper_fix as fix
    from ssdlib import doctor
    from ssdlib.train import fused_gdn

    real_run, real_importable = gc.run_gradcheck, gc.fla_importable
    calls, installed = [], []

    def run_here(**kw):
        calls.append(kw)
        with monkeypatch.context() as m:  # kernels: this CPU's torch code, floor in process
            m.setattr(gc, "fla_importable", real_importable)
            with fused_gdn.use_kernels(**fused_gdn.torch_stand_ins()):
                return real_run(device="cpu", inject=inject, **kw)

    monkeypatch.setattr(gc, "fla_importable", lambda: True)
    monkeypatch.setattr(gc, "run_gradcheck", run_here)
    monkeypatch.setattr(fix, "install", lambda: installed.append(True))
    (res,) = doctor.check_gradients(doctor.Context("qwen3.5-4b", offline=True))
    assert calls == [{"fused_gdn": True, "floor": True}] and installed == [True]
    assert "+ fla_hopper_fix + fused_gdn" in res.detail and "= 1.5 x max(torch floor" in res.detail
    if inject is None:
        assert res.status == doctor.OK, res.detail
    else:
        assert res.status == doctor.FAIL and "linear_attn.in_proj_a.weight" in res.detail
