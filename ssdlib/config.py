"""Typed profile loading: ``params/<profile>/common.yaml`` + ``params/<profile>/<notebook>.yaml``.

Every notebook's parameters are one flat namespace of top-level keys (``model``, ``backend``,
``presets`` ...): the common file supplies the shared keys, the notebook file its own keys (and
may override a shared one), command-line ``-p key.sub=value`` overrides go on top. The merged
dict is validated by the notebook's pydantic model. Any problem -- unknown key, wrong type,
impossible combination -- raises :class:`ConfigError` with one line naming the file and the key,
before any model is loaded.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ssdlib import yamlsafe

NOTEBOOKS: tuple[str, ...] = (
    "01_data",
    "02_contamination",
    "03_baselines",
    "04_variance",
    "05_train",
    "06_eval",
)

# Upper bounds that catch typos (1e15 for 16) before a plan is materialised; far above any real run.
MAX_CONTEXT = 1_048_576  # tokens: context windows and generation caps (Qwen3.5 native: 262,144)
MAX_SAMPLES_PER_PROMPT = 1024  # n of one decode (the paper: 10; pass@k curves: tens)
MAX_TEMPERATURE = 10.0  # sampling at T > 10 is uniform noise for any real vocabulary
MAX_TIMEOUT_S = 600.0  # grading one answer; math-verify needs ~0.1 s, the default budget is 5 s
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(ValueError):
    """A profile or override that cannot run; the message is one line: 'file: key: problem'."""


def _admits_bool(tp: Any) -> bool:
    """Whether a field of type ``tp`` may hold a bool somewhere (nested models check their own)."""
    if tp is bool or tp is Any:
        return True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return True
    if get_origin(tp) is Literal:
        return any(isinstance(a, bool) for a in get_args(tp))
    if get_origin(tp) is Annotated:
        return _admits_bool(get_args(tp)[0])
    return any(_admits_bool(a) for a in get_args(tp))


def _holds_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_bool(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_bool(v) for v in value.values())
    return False


class Strict(BaseModel):
    """Base of every parameter block: unknown keys fail, values are frozen, numbers are finite
    (no .inf / .nan) and booleans are not numbers (YAML ``n: true`` is not ``n: 1``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name)
        if field is None:
            return value
        if not _admits_bool(field.annotation) and _holds_bool(value):
            raise ValueError("booleans are not numbers here: write the value itself")
        if field.annotation is bool and not isinstance(value, bool):  # 1, "yes" are not switches
            raise ValueError("must be true or false")
        return value


# ---------------------------------------------------------------- shared blocks


class ModelCfg(Strict):
    id: str = Field(description="hub id, local folder, or embedded:smollm2-135m")
    max_model_len: int = Field(
        gt=0, le=MAX_CONTEXT, description="context window the engine allocates (tokens)"
    )
    max_prompt_tokens: int = Field(
        gt=0, le=MAX_CONTEXT, description="longest rendered prompt allowed (tokens)"
    )
    thinking: bool = Field(description="render the chat template with thinking on")
    dtype: str = "auto"


class RayCfg(Strict):
    """Where and how many engines ``backend.launcher: ray`` starts (one Ray actor per engine)."""

    address: str | None = Field(
        None,
        description="null: a private Ray instance on this machine, bound to 127.0.0.1; "
        "'auto' or host:port: join a running cluster (`ray start --head` on the head node)",
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="engines (actors); null = the cluster's GPUs // tensor_parallel_size",
    )
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs Ray reserves for each engine")


class BackendCfg(Strict):
    name: Literal["vllm", "transformers"] = "vllm"
    launcher: Literal["local", "ray"] = Field(
        "local",
        description="local: data_parallel_size engines on this machine; ray: one engine "
        "per Ray actor across a Ray cluster (see backend.ray)",
    )
    ray: RayCfg = Field(default_factory=RayCfg)
    tensor_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    enforce_eager: bool = False
    enable_prefix_caching: bool = True
    max_num_seqs: int | None = Field(None, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cpu_threads: Literal["all", "vllm"] = Field(
        "all",
        description="vllm on CPU, one engine: 'all' computes on every core this process may use; "
        "'vllm' keeps vLLM's own binding, which reserves one core for its scheduler (on 2 cores "
        "the model then runs on one; bench/cpu_threads.py). $VLLM_CPU_OMP_THREADS_BIND wins",
    )
    cpu_engine: Literal["in_process", "processes"] = Field(
        "in_process",
        description="vllm on CPU, one local engine (tensor/data parallel 1): 'in_process' runs "
        "its scheduler and model in the calling process (an engine starts in ~7 s instead of "
        "~38 s on 2 cores, same tokens/s; bench/cpu_engine_procs.py); 'processes' is vLLM's "
        "default (EngineCore + worker processes). $VLLM_ENABLE_V1_MULTIPROCESSING wins",
    )
    batch_size: int = Field(8, ge=1, description="transformers backend: sequences per forward")


class PromptCfg(Strict):
    template: str

    def render(self, problem: str) -> str:
        """The user turn for ``problem`` (:func:`ssdlib.prompts.user_message`)."""
        from ssdlib.prompts import user_message

        return user_message(problem, self.template)


class GradingCfg(Strict):
    timeout_s: float = Field(5.0, gt=0, le=MAX_TIMEOUT_S, description="seconds per answer, finite")
    max_candidate_chars: int = Field(1000, gt=0, le=1_000_000)
    workers: int | None = Field(None, ge=1, le=1024)


class DecodeCfg(Strict):
    """One decoding setting. ``top_k = 0`` and ``min_p = 0`` mean "off"."""

    temperature: float = Field(ge=0, le=MAX_TEMPERATURE)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0, le=MAX_CONTEXT)
    min_p: float = Field(0.0, ge=0, le=1)
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    max_tokens: int = Field(gt=0, le=MAX_CONTEXT)
    n: int = Field(1, ge=1, le=MAX_SAMPLES_PER_PROMPT, description="samples per prompt")
    seed: int = 0

    @property
    def config_id(self) -> str:
        """Stable, readable id of the sampling distribution (n and seed excluded: they change
        how many samples are drawn, not which distribution they come from)."""
        return (
            f"t{self.temperature:g}-p{self.top_p:g}-k{self.top_k}-mp{self.min_p:g}"
            f"-pp{self.presence_penalty:g}-mt{self.max_tokens}"
        )


class Common(Strict):
    profile: str
    seed: int = 0
    model: ModelCfg
    backend: BackendCfg
    prompt: PromptCfg
    grading: GradingCfg


# ---------------------------------------------------------------- per notebook


class SplitBudget(Strict):
    budgets: dict[str, int] = Field(
        description="UP TO this many rows per source (a shortfall warns)"
    )
    min_rows: dict[str, int] = Field(
        default_factory=dict, description="floor per source: fewer rows available stops the build"
    )


class TrainMix(Strict):
    size: int = Field(gt=0, description="rows wanted; each source gives up to its share of the mix")
    mix: dict[str, float]
    min_rows: dict[str, int] = Field(
        default_factory=dict, description="floor per source: fewer rows available stops the build"
    )


class TrainDedup(Strict):
    """Exact + near-duplicate removal inside the train pools, before sampling (contamination engine)."""

    enabled: bool = True
    ngram: int = Field(5, ge=1)
    threshold_same_answer: float = Field(0.4, gt=0, le=1)
    threshold_diff_answer: float = Field(0.7, gt=0, le=1)


class DataParams(Common):
    sources: dict[str, dict[str, Any]]
    train: TrainMix
    val: SplitBudget
    val300: SplitBudget
    train_dedup: TrainDedup = Field(default_factory=TrainDedup)


class ContaminationRuleCfg(Strict):
    """Thresholds of the #13 rule (ssdlib.contamination.rule.RuleParams); similarities in [0, 1]."""

    same_answer: float = Field(gt=0, le=1, description="word-5-gram Jaccard when answers agree")
    signature_char: float = Field(
        gt=0, le=1, description="char-n-gram cosine when answers agree and numbers match"
    )
    short_same_answer: float = Field(
        gt=0, le=1, description="word-3-gram Jaccard, answers agree, short statement"
    )
    unknown_answer: float = Field(
        gt=0, le=1, description="word-5-gram Jaccard when an answer is unknown"
    )
    diff_answer: float = Field(
        gt=0, le=1, description="word-5-gram Jaccard when answers differ, numbers equal"
    )
    short_max_tokens: int = Field(
        ge=1, description="statements up to this many tokens take the short path"
    )
    signature_min_digits: int = Field(
        3, ge=1, description="digits the shared numbers must carry (signature path)"
    )
    content_edit: float = Field(
        gt=0,
        le=1,
        description="veto of non-exact paths: token match share of a near copy "
        "whose edit changes content (another question); 1 = no veto",
    )
    content_edit_span: int = Field(
        10, ge=0, description="the veto needs the content edits within this many tokens"
    )


class ContaminationParams(Common):
    rule: Literal["v1", "v2"] = Field(
        "v2", description="v2: issue #13 rule; v1: word n-grams only (before #13)"
    )
    rule_v2: ContaminationRuleCfg
    ngram: int = Field(5, ge=1)
    threshold_same_answer: float = Field(gt=0, le=1)
    threshold_diff_answer: float = Field(gt=0, le=1)
    num_perm: int = Field(128, ge=16)
    method: str = "auto"
    n_show: int = Field(3, ge=1, description="pairs rendered side by side")


class SweepCfg(Strict):
    base: str = Field(description="preset whose other settings the sweep keeps")
    values: list[float]


class BaselinesParams(Common):
    presets: dict[str, DecodeCfg]
    temperature_sweep: SweepCfg
    min_p_sweep: SweepCfg
    budgets: list[Literal["val300", "val"]]
    limit_prompts: int | None = Field(None, ge=1, description="debug: first N prompts per budget")
    findings: list[tuple[str, str]] = Field(
        default_factory=lambda: [("general", "precise"), ("general", "general_no_pp")],
        description="the seeds' claims, declared before the data: (challenger, reference) decode names, "
        "each a paired test per budget, Holm within the budget",
    )
    alpha: float = Field(0.05, gt=0, lt=1)


class VarianceParams(Common):
    budget: Literal["val300", "val"]
    preset: str = Field(description="which 03 preset's samples (needs n > 1)")
    k_grid: list[int]
    n_grid: list[int]
    deltas: list[float]
    target_delta: float = Field(gt=0, lt=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)
    correlation_pair: tuple[str, str] = Field(
        ("general_no_pp", "general"),
        description="two 03 decodes whose between-prompt correlation is measured",
    )
    assumed_correlations: list[float] = Field(default_factory=lambda: [0.5, 0.8, 0.9])
    seeds_between_share: float = Field(
        0.85, gt=0, le=1, description="seeds: share of variance between prompts"
    )


class TrainCfg(Strict):
    max_length: int = Field(gt=0, description="tokens, prompt + response; longer rows are dropped")
    learning_rate: float = Field(gt=0)
    min_lr: float = Field(ge=0)
    warmup_steps: int = Field(ge=0)
    max_steps: int = Field(gt=0)
    per_device_batch_size: int = Field(ge=1)
    gradient_accumulation_steps: int = Field(ge=1)
    weight_decay: float = Field(0.1, ge=0)
    adam_beta1: float = Field(0.9, gt=0, lt=1)
    adam_beta2: float = Field(0.95, gt=0, lt=1)
    save_steps: int = Field(gt=0)
    logging_steps: int = Field(1, gt=0)
    bf16: bool | Literal["auto"] = Field(
        False,
        description="bf16 autocast over the master weights; auto: on GPU, and on a CPU with a bf16 "
        "dot product (AVX512-BF16/AMX; float32 elsewhere, see ssdlib.hardware)",
    )
    gradient_checkpointing: bool = False
    attn_implementation: str = "sdpa"
    model_dtype: Literal["float32", "bfloat16"] = Field(
        "float32", description="master weights; bfloat16 drops small updates (see ssdlib.train.sft)"
    )
    launcher: Literal["inprocess", "accelerate"] = Field(
        "inprocess",
        description="inprocess: train_sft in the notebook kernel; accelerate: `accelerate launch -m "
        "ssdlib.train` in a subprocess (FSDP over several GPUs, GPU memory freed after)",
    )
    num_processes: int = Field(1, ge=1, description="accelerate: processes (one per GPU)")
    accelerate_config: str | None = Field(
        None, description="accelerate: config file, relative to the repo"
    )
    compile_layers: bool = Field(
        False, description="torch.compile the MLP/norm/attention blocks (ssdlib.train.speed)"
    )
    keep_activation_layers: int = Field(
        0, ge=0, description="last N decoder layers not checkpointed (~0.25 MB/token each)"
    )
    keep_activation_tokens: int = Field(
        0,
        ge=0,
        description="instead of keep_activation_layers: a budget in token-layers, each row leaves "
        "min(layers, budget // its tokens) last layers un-checkpointed (ssdlib.train.speed); 0: off",
    )
    fla_hopper_fix: bool = Field(
        False,
        description="fla's gated backward through ssdlib.train.fla_hopper_fix "
        "(correct on Hopper with Triton 3.4-3.7.0; gradient-checked)",
    )
    fused_gdn: bool = Field(
        False,
        description="Gated DeltaNet mixers on fla's fused kernels: conv, grouped q/k heads, gate and "
        "beta sigmoid in kernel (ssdlib.train.fused_gdn; needs fla; gradient-checked, rule v3)",
    )

    @property
    def global_batch_size(self) -> int:
        """Sequences per optimizer step: per device x accumulation x processes."""
        return self.per_device_batch_size * self.gradient_accumulation_steps * self.num_processes

    def sft_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``ssdlib.train.train_sft`` (its names: ``gradient_accumulation``)."""
        out = self.model_dump(
            exclude={
                "gradient_accumulation_steps",
                "launcher",
                "num_processes",
                "accelerate_config",
            }
        )
        out["gradient_accumulation"] = self.gradient_accumulation_steps
        return out


class ControlCfg(Strict):
    """The control fine-tune: the same recipe on samples drawn at T = 1 with no truncation.

    Its decode is ``ssd_decode`` with temperature 1, top-p 1, top-k off, min-p 0 and no presence
    penalty (cap, n and seed kept): plain self-training at T = 1 is the SSD objective's fixed
    point, so whatever the control changes is noise or optimisation drift, not SSD.
    """

    enabled: bool = Field(True, description="train the control run in 05 (and evaluate it in 06)")
    run_name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="checkpoints/<run_name>/; default <run_name>-control",
    )


class TrainParams(Common):
    ssd_decode: DecodeCfg
    n_prompts: int | None = Field(None, ge=1, description="use the first N clean train prompts")
    min_response_tokens: int = Field(1, ge=0)
    drop_shortest_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="drop this fraction of the shortest responses by characters (ml-ssd: 0.1)",
    )
    drop_length_stopped: bool = Field(
        False, description="drop responses that hit max_tokens (the paper keeps them)"
    )
    run_name: str = Field(
        "ssd", pattern=r"^[A-Za-z0-9._-]+$", description="checkpoints/<run_name>/"
    )
    train: TrainCfg
    control: ControlCfg = ControlCfg(enabled=False)

    @property
    def control_decode(self) -> DecodeCfg:
        """``ssd_decode`` at T = 1 with truncation off (top-k 0 = off, top-p 1, min-p 0, no penalty)."""
        return self.ssd_decode.model_copy(
            update={
                "temperature": 1.0,
                "top_p": 1.0,
                "top_k": 0,
                "min_p": 0.0,
                "presence_penalty": 0.0,
            }
        )

    @property
    def control_run_name(self) -> str:
        return self.control.run_name or f"{self.run_name}-control"


class LockForkCfg(Strict):
    n_responses: int = Field(ge=1)
    top_k: int = Field(20, ge=1)
    fork_quantile: float = Field(0.9, gt=0, lt=1)
    lock_quantile: float = Field(0.5, gt=0, lt=1)
    max_positions: int | None = Field(None, ge=1)
    backend: Literal["transformers", "vllm"] = Field(
        "transformers", description="scoring engine; base and SSD always use the same one"
    )
    dtype: str = Field(
        "float32", description="scoring dtype (float32 | bfloat16 | auto), same for both models"
    )
    batch_size: int = Field(4, ge=1, description="transformers backend: sequences per forward")
    entropy_col: Literal["entropy_topk", "entropy_tail_lb", "entropy_full"] = "entropy_topk"
    n_boot: int = Field(2000, ge=100, description="cluster-bootstrap resamples (responses)")
    equivalence_margin: float = Field(
        0.05, gt=0, description="nats: CI inside +-margin = unchanged"
    )
    classify_on: Literal["mean", "base"] = Field(
        "mean",
        description="class positions by the mean entropy of all compared models (base: biased, "
        "regresses to the mean; kept for comparison)",
    )
    chunk_tokens: int | None = Field(
        None,
        ge=1,
        description="score sequences longer than this in chunks (memory-safe whole responses)",
    )


class PassAtKCfg(Strict):
    """Extra samples for pass@k: ``n`` per prompt at eval_decode on val300 (screening prompts)
    for the base model, the candidates and the control; pass@1..pass@n overall and on the
    hardest prompts by base pass rate. The figure needs n >= 2."""

    n: int = Field(
        8,
        ge=1,
        le=MAX_SAMPLES_PER_PROMPT,
        description="samples per prompt (the first eval_decode.n are reused)",
    )


class EvalControlCfg(Strict):
    """Evaluate the 05 control run (the folder whose run.json says control_of: <run_name>)."""

    enabled: bool = Field(True, description="06 fails if 05 trained no control run")


class CandidateCfg(Strict):
    """Which screened checkpoints go on to confirmation; read from screening (val300) rows only."""

    rule: Literal["best_screening", "last", "steps"] = "best_screening"
    count: int = Field(
        1, ge=1, description="checkpoints carried to confirmation (best_screening / last)"
    )
    steps: list[int] = Field(
        default_factory=list, description="rule steps: the steps, fixed before the data"
    )


CONTRAST_NAMES = Literal["ssd_vs_baseline", "ssd_vs_base", "base_vs_baseline", "ssd_vs_control"]


class EvalParams(Common):
    eval_decode: DecodeCfg
    t_eval_sweep: list[float] = Field(
        description="screening only: T_eval values tried on val300 (exploratory)"
    )
    baseline: str = Field(
        description="03 decode name (preset or sweep point, e.g. 'T=0.6') fixed before the data, "
        "or 'best_screening' (03's best decode on val300, confirmed on val - val300)"
    )
    contrasts: list[CONTRAST_NAMES] = Field(
        default_factory=lambda: ["ssd_vs_baseline", "ssd_vs_base", "base_vs_baseline"],
        description="the pre-registered family; Holm runs over it within each tier",
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="family-wise error rate of each tier's verdicts"
    )
    candidates: CandidateCfg = Field(default_factory=CandidateCfg)
    run_name: str = Field(
        "ssd", pattern=r"^[A-Za-z0-9._-]+$", description="which 05 run's checkpoints"
    )
    checkpoints: Literal["all", "last"] | list[int] = "all"
    limit_prompts: int | None = Field(None, ge=1)
    lockfork: LockForkCfg
    pass_at_k: PassAtKCfg = Field(default_factory=PassAtKCfg)
    control: EvalControlCfg = Field(default_factory=lambda: EvalControlCfg(enabled=False))


PARAM_MODELS: dict[str, type[Common]] = {
    "01_data": DataParams,
    "02_contamination": ContaminationParams,
    "03_baselines": BaselinesParams,
    "04_variance": VarianceParams,
    "05_train": TrainParams,
    "06_eval": EvalParams,
}


# ---------------------------------------------------------------- decode names


def sweep(base: DecodeCfg, field: str, values, prefix: str) -> dict[str, DecodeCfg]:
    """``{f"{prefix}={v:g}": base with field=v}`` for each value (order kept)."""
    return {f"{prefix}={v:g}": base.model_copy(update={field: v}) for v in values}


def temperature_sweep(base: DecodeCfg, values) -> dict[str, DecodeCfg]:
    return sweep(base, "temperature", values, "T")


def min_p_sweep(base: DecodeCfg, values) -> dict[str, DecodeCfg]:
    return sweep(base, "min_p", values, "min_p")


def baseline_decodes(params) -> dict[str, DecodeCfg]:
    """All decode settings of 03_baselines by name: the presets, then the two sweeps.

    Names are a property of the parameters (06 checks its baseline name against them before
    anything runs), so they are built here, beside the types. Sweep points that coincide with a
    preset (same config id) are still listed under their own name; generation draws each
    distinct config id once and tables show every name for it.
    """
    out: dict[str, DecodeCfg] = dict(params.presets)
    out.update(
        temperature_sweep(
            params.presets[params.temperature_sweep.base], params.temperature_sweep.values
        )
    )
    out.update(min_p_sweep(params.presets[params.min_p_sweep.base], params.min_p_sweep.values))
    return out


# ---------------------------------------------------------------- loading


def repo_root() -> Path:
    """The checkout root (folder holding pyproject.toml and params/), found from this file."""
    return Path(__file__).resolve().parents[1]


def params_dir() -> Path:
    return repo_root() / "params"


def profiles() -> list[str]:
    """Profiles are the folders of params/ that hold a common.yaml."""
    return sorted(p.name for p in params_dir().iterdir() if (p / "common.yaml").exists())


def check_profile(profile: str) -> str:
    """A profile is a plain folder name under params/ (no ``/``, no ``..``): its outputs go to
    ``outputs/<profile>/`` and nowhere else."""
    if not isinstance(profile, str) or not PROFILE_NAME.match(profile) or profile in (".", ".."):
        raise ConfigError(
            f"command line: profile {profile!r} must be a plain folder name under params/ "
            f"(letters, digits, . _ -; known: {', '.join(profiles())})"
        )
    return profile


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:  # a directory, a dangling link, no permission
        raise ConfigError(
            f"{_rel(path)}: is not a readable YAML file ({exc.strerror or exc})"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{_rel(path)}: line {line} is not UTF-8 (byte {raw[exc.start]:#04x}); "
            "save the file as UTF-8"
        ) from None
    try:
        data = yamlsafe.load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{_rel(path)}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{_rel(path)}: top level must be a mapping of keys")
    return data


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo_root()))
    except ValueError:
        return str(path)


def _merge(base: dict, top: dict, origin: dict[tuple, str], label: str, prefix: tuple = ()) -> dict:
    """Deep-merge ``top`` into ``base`` recording, for every key path, which file set it."""
    out = dict(base)
    for key, value in top.items():
        path = prefix + (key,)
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, origin, label, path)
        else:
            out[key] = value
            _mark(value, origin, label, path)
    return out


def _mark(value: Any, origin: dict[tuple, str], label: str, path: tuple) -> None:
    origin[path] = label
    if isinstance(value, dict):
        for k, v in value.items():
            _mark(v, origin, label, path + (k,))


def _origin_of(loc: tuple, origin: dict[tuple, str], default: str) -> str:
    for cut in range(len(loc), 0, -1):
        if loc[:cut] in origin:
            return origin[loc[:cut]]
    return default


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """``"presets.general.temperature=0.7"`` -> (("presets","general","temperature"), 0.7).

    Values are parsed as YAML, so numbers, booleans, lists (``[0.6,1.0]``) and null work.
    """
    if "=" not in text:
        raise ConfigError(f"command line: override {text!r} must look like key=value")
    key, raw = text.split("=", 1)
    parts = tuple(p for p in key.strip().split(".") if p)
    if not parts:
        raise ConfigError(f"command line: override {text!r} has an empty key")
    try:
        value = yamlsafe.load(raw)
    except yaml.YAMLError:
        value = raw  # not YAML: the string itself (type checks then name the command line)
    return parts, value


def overrides_for(notebook: str, overrides: list[str] | None, notebooks=NOTEBOOKS) -> list[str]:
    """The overrides that concern one notebook: those whose top-level key it has.

    Used when one set of overrides is given for several notebooks (pipeline, plan); a key that no
    notebook in ``notebooks`` knows is an error rather than silently ignored.
    """
    overrides = list(overrides or [])
    for o in overrides:
        key = parse_override(o)[0]
        if not any(key[0] in PARAM_MODELS[nb].model_fields for nb in notebooks):
            raise ConfigError(
                f"command line -p: {'.'.join(key)}: unknown key in notebooks {', '.join(notebooks)}"
            )
    fields = PARAM_MODELS[notebook].model_fields
    return [o for o in overrides if parse_override(o)[0][0] in fields]


def _nest(path: tuple[str, ...], value: Any) -> dict:
    out: Any = value
    for part in reversed(path):
        out = {part: out}
    return out


def resolve_notebook(tag: str) -> str:
    """``"03"``, ``"3"`` or ``"03_baselines"`` -> ``"03_baselines"``."""
    for nb in NOTEBOOKS:
        if tag == nb or tag.zfill(2) == nb.split("_")[0]:
            return nb
    raise ConfigError(f"command line: unknown notebook {tag!r} (known: {', '.join(NOTEBOOKS)})")


def raw_params(notebook: str, profile: str, overrides: list[str] | dict | None = None):
    """Merge common + notebook YAML + overrides; return (dict, origin map, notebook file label)."""
    if notebook not in PARAM_MODELS:
        raise ConfigError(
            f"command line: unknown notebook {notebook!r} (known: {', '.join(NOTEBOOKS)})"
        )
    check_profile(profile)
    pdir = params_dir() / profile
    common_path = pdir / "common.yaml"
    if not common_path.exists():
        raise ConfigError(
            f"command line: unknown profile {profile!r} (known: {', '.join(profiles())})"
        )
    nb_path = pdir / f"{notebook}.yaml"
    origin: dict[tuple, str] = {}
    merged = _merge({}, _read_yaml(common_path), origin, _rel(common_path))
    if nb_path.exists() or nb_path.is_symlink():
        merged = _merge(merged, _read_yaml(nb_path), origin, _rel(nb_path))
    items = (
        overrides.items()
        if isinstance(overrides, dict)
        else [parse_override(o) for o in overrides or []]
    )
    for path, value in items:
        path = tuple(path.split(".")) if isinstance(path, str) else path
        if path[:1] == ("profile",):
            raise ConfigError(
                f"command line -p: profile: cannot be overridden (it is the params/ folder); "
                f"use --profile {value}"
            )
        merged = _merge(merged, _nest(path, value), origin, "command line -p")
    if merged.get("profile") != profile:
        where = origin.get(("profile",), _rel(common_path))
        raise ConfigError(
            f"{where}: profile: says {merged.get('profile')!r} but lives in params/{profile}/"
        )
    return merged, origin, _rel(nb_path)


def _format_error(err: dict, origin: dict, default: str, model: type[BaseModel]) -> str:
    loc = tuple(str(p) for p in err["loc"])
    where = _origin_of(loc, origin, default)
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        hint = _suggest(loc, model)
        return f"{where}: {key}: unknown key{hint}"
    if err["type"] == "missing":
        return f"{where}: {key}: required key is missing"
    return f"{where}: {key}: {err['msg']} (got {err.get('input')!r})"


def _suggest(loc: tuple, model: type[BaseModel]) -> str:
    """'did you mean' from the field names of the model at that depth."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            # dict-valued fields (presets.<name>.x): step into the value type
            current = _value_model(current)
            if current is None:
                return ""
            continue
        current = fields[part].annotation
        current = _value_model(current) or current
    names = list(getattr(current, "model_fields", {}) or {})
    close = difflib.get_close_matches(loc[-1], names, n=1)
    return (
        f" (did you mean {close[0]!r}?)"
        if close
        else f" (allowed: {', '.join(names)})"
        if names
        else ""
    )


def _value_model(tp: Any):
    args = getattr(tp, "__args__", None) or ()
    for a in args:
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def load_params(notebook: str, profile: str, overrides: list[str] | dict | None = None) -> Common:
    """Load, merge and validate one notebook's parameters for a profile (no model is touched)."""
    merged, origin, nb_label = raw_params(notebook, profile, overrides)
    return validate(notebook, merged, origin, nb_label)


def validate(
    notebook: str, values: dict, origin: dict | None = None, label: str = "parameters"
) -> Common:
    model = PARAM_MODELS[notebook]
    origin = origin or {}
    try:
        params = model.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key shows up twice: the misspelling (extra) and the real key (missing).
        # Report the misspelling: its message carries the "did you mean".
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise ConfigError(_format_error(first, origin, label, model)) from None
    check_combinations(notebook, params, origin, label)
    return params


def check_combinations(notebook: str, p: Common, origin: dict, label: str) -> None:
    """Cross-key rules no single field can express; each failure names the key that breaks it."""

    def fail(loc: tuple, msg: str) -> None:
        raise ConfigError(f"{_origin_of(loc, origin, label)}: {'.'.join(loc)}: {msg}")

    b = p.backend
    if b.launcher == "ray" and b.data_parallel_size > 1:
        fail(
            ("backend", "data_parallel_size"),
            "launcher ray sets the number of engines with "
            "backend.ray.workers; keep data_parallel_size 1",
        )
    if b.launcher == "ray" and b.device == "cpu" and b.ray.workers is None:
        fail(
            ("backend", "ray", "workers"),
            "on device cpu there are no GPUs to count: set the number of engines",
        )
    m = p.model
    if m.max_prompt_tokens >= m.max_model_len:
        fail(
            ("model", "max_prompt_tokens"),
            f"{m.max_prompt_tokens} leaves no room in max_model_len {m.max_model_len}",
        )

    def check_decode(loc: tuple, d: DecodeCfg) -> None:
        if m.max_prompt_tokens + d.max_tokens > m.max_model_len:
            fail(
                loc + ("max_tokens",),
                f"prompt ({m.max_prompt_tokens}) + max_tokens ({d.max_tokens}) = "
                f"{m.max_prompt_tokens + d.max_tokens} exceeds model.max_model_len ({m.max_model_len})",
            )

    if isinstance(p, DataParams):
        from ssdlib.data.splits import val300_subset_problems

        for name, why in val300_subset_problems(p.val.budgets, p.val300.budgets):
            fail(("val300", "budgets", name), why)
        for name in list(p.train.mix) + list(p.val.budgets):
            if name not in p.sources:
                fail(("sources",), f"{name!r} is used by a split but not defined under sources")
        from ssdlib.data.prepare import check_sources

        for name, spec in p.sources.items():
            try:
                check_sources({name: spec}, set(p.train.mix), set(p.val.budgets))
            except ValueError as exc:
                fail(("sources", name), str(exc))
        if abs(sum(p.train.mix.values()) - 1.0) > 1e-6:
            fail(("train", "mix"), f"fractions sum to {sum(p.train.mix.values()):g}, not 1")
        for sec, wanted in (("val", p.val.budgets), ("val300", p.val300.budgets)):
            for name, floor in getattr(p, sec).min_rows.items():
                if name not in wanted or not 0 <= floor <= wanted[name]:
                    fail(
                        (sec, "min_rows", name),
                        f"floor {floor} must be between 0 and the budget "
                        f"({wanted.get(name, 'none')})",
                    )
        for name, floor in p.train.min_rows.items():
            if name not in p.train.mix or floor < 0:
                fail(
                    ("train", "min_rows", name),
                    "must name a source of train.mix, with a floor >= 0",
                )
        if p.train_dedup.threshold_same_answer > p.train_dedup.threshold_diff_answer:
            fail(("train_dedup", "threshold_same_answer"), "must not exceed threshold_diff_answer")
    if isinstance(p, ContaminationParams) and p.threshold_same_answer > p.threshold_diff_answer:
        fail(
            ("threshold_same_answer",),
            "must not exceed threshold_diff_answer (agreeing answers lower the bar)",
        )
    if isinstance(p, BaselinesParams):
        for name, d in p.presets.items():
            check_decode(("presets", name), d)
        for sweep_name in ("temperature_sweep", "min_p_sweep"):
            sweep = getattr(p, sweep_name)
            if sweep.base not in p.presets:
                fail(
                    (sweep_name, "base"),
                    f"{sweep.base!r} is not one of presets ({', '.join(p.presets)})",
                )
            field = "temperature" if sweep_name == "temperature_sweep" else "min_p"
            _check_sweep((sweep_name, "values"), p.presets[sweep.base], field, sweep.values, fail)
        known = list(baseline_decodes(p))
        for i, pair in enumerate(p.findings):
            for name in pair:
                if name not in known:
                    fail(
                        ("findings", str(i)),
                        f"{name!r} is not a decode of this notebook ({', '.join(known)})",
                    )
            if pair[0] == pair[1]:
                fail(("findings", str(i)), "compares a decode with itself")
    if isinstance(p, VarianceParams):
        if any(k < 1 for k in p.k_grid):
            fail(("k_grid",), "every K must be >= 1")
        for i, r in enumerate(p.assumed_correlations):
            if not -1 < r < 1:
                fail(("assumed_correlations", str(i)), f"{r} is not a correlation in (-1, 1)")
        if p.correlation_pair[0] == p.correlation_pair[1]:
            fail(("correlation_pair",), "needs two different 03 decodes")
    if isinstance(p, TrainParams):
        check_decode(("ssd_decode",), p.ssd_decode)
        t = p.train
        if t.min_lr > t.learning_rate:
            fail(("train", "min_lr"), "exceeds learning_rate")
        if t.warmup_steps >= t.max_steps:
            fail(("train", "warmup_steps"), f"{t.warmup_steps} >= max_steps {t.max_steps}")
        if t.max_length > m.max_model_len:
            fail(
                ("train", "max_length"),
                f"{t.max_length} exceeds model.max_model_len {m.max_model_len}",
            )
        if p.control.enabled and p.control_run_name == p.run_name:
            fail(("control", "run_name"), f"{p.control_run_name!r} is the SSD run's own folder")
        if p.control.enabled and p.control_decode.config_id == p.ssd_decode.config_id:
            fail(
                ("control",),
                "ssd_decode is already T=1 untruncated: the control would train on the SSD samples",
            )
        if t.num_processes > 1 and t.launcher != "accelerate":
            fail(
                ("train", "num_processes"), f"{t.num_processes} processes need launcher: accelerate"
            )
        for key in ("keep_activation_layers", "keep_activation_tokens"):
            if getattr(t, key) and not t.gradient_checkpointing:
                fail(
                    ("train", key),
                    "un-checkpoints layers, so it needs train.gradient_checkpointing: true",
                )
        if t.keep_activation_layers and t.keep_activation_tokens:
            fail(
                ("train", "keep_activation_tokens"),
                "set keep_activation_layers or keep_activation_tokens, not both "
                "(train_sft refuses both)",
            )
        if t.launcher == "accelerate":
            if not t.accelerate_config:
                fail(
                    ("train", "accelerate_config"),
                    "launcher accelerate needs a config file (configs/accelerate/*.yaml)",
                )
            elif not (repo_root() / t.accelerate_config).exists():
                fail(("train", "accelerate_config"), f"{t.accelerate_config} does not exist")
    if isinstance(p, EvalParams):
        check_decode(("eval_decode",), p.eval_decode)
        _check_sweep(("t_eval_sweep",), p.eval_decode, "temperature", p.t_eval_sweep, fail)
        if isinstance(p.checkpoints, list) and (not p.checkpoints or min(p.checkpoints) < 1):
            fail(
                ("checkpoints",),
                "a list of checkpoint steps must be non-empty and >= 1 (or all / last)",
            )
        c = p.candidates
        if c.rule == "steps":
            if not c.steps:
                fail(("candidates", "steps"), "rule 'steps' needs the steps, fixed before the data")
            elif isinstance(p.checkpoints, list) and set(c.steps) - set(p.checkpoints):
                fail(
                    ("candidates", "steps"),
                    f"{sorted(set(c.steps) - set(p.checkpoints))} are not screened "
                    f"(checkpoints: {p.checkpoints})",
                )
        elif c.steps:
            fail(("candidates", "steps"), f"only used with rule 'steps' (rule is {c.rule!r})")
        if len(set(p.contrasts)) != len(p.contrasts) or not p.contrasts:
            fail(("contrasts",), "must list each declared contrast once, at least one")
        if "ssd_vs_control" in p.contrasts and not p.control.enabled:
            fail(
                ("contrasts",),
                "ssd_vs_control needs control.enabled (a 05 control run to compare with)",
            )
        lf = p.lockfork
        if lf.lock_quantile >= lf.fork_quantile:
            fail(("lockfork", "lock_quantile"), "must be below fork_quantile")
        if lf.backend == "vllm" and lf.entropy_col == "entropy_full":
            fail(
                ("lockfork", "entropy_col"),
                "entropy_full needs backend transformers (vLLM returns top-k only)",
            )
        _check_baseline_name(p, fail)


def _check_sweep(loc: tuple, base: DecodeCfg, field: str, values: list[float], fail) -> None:
    """Each sweep point must be a valid decode: the base preset with ``field`` set to the value,
    checked by the same rules as a preset (a sweep is a list of presets written short)."""
    for i, v in enumerate(values):
        try:
            DecodeCfg.model_validate({**base.model_dump(), field: v})
        except ValidationError as exc:
            fail(loc + (str(i),), f"{field} {v!r}: {exc.errors()[0]['msg']}")


def _check_baseline_name(p: EvalParams, fail) -> None:
    """``baseline`` must name a decode of this profile's 03_baselines (a preset or a sweep point)."""
    if p.baseline == "best_screening":
        return
    try:
        base = load_params("03_baselines", p.profile)
    except ConfigError:
        return  # 03's own file is broken: 03 reports that itself
    names = list(baseline_decodes(base))
    if p.baseline not in names:
        fail(
            ("baseline",),
            f"{p.baseline!r} is not a 03_baselines decode of profile {p.profile} ({', '.join(names)})",
        )


# ---------------------------------------------------------------- notebook side


def notebook_params(notebook: str, namespace: dict) -> Common:
    """Validate the parameters a notebook holds in its globals (after papermill injection or
    an interactive edit) with the same model and cross-key rules as the command line."""
    fields = PARAM_MODELS[notebook].model_fields
    values = {k: namespace[k] for k in fields if k in namespace}
    return validate(notebook, values, {}, f"notebooks/{notebook}.ipynb parameters")


def injectable(params: Common) -> dict[str, Any]:
    """Top-level keys as plain JSON-able literals for papermill injection."""
    return params.model_dump(mode="json")


def params_hash(params: Common) -> str:
    blob = json.dumps(injectable(params), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
