"""Generation engine: decode configs, backends (vLLM, transformers) and the crash-safe store."""

from ssdlib.generation.backends import Output, Request
from ssdlib.generation.decode import baseline_decodes, distinct, min_p_sweep, temperature_sweep
from ssdlib.generation.engine_pool import make_backend
from ssdlib.generation.run import (
    ContextOverflow,
    collect_samples,
    generate_samples,
    plan_generation,
    render_prompts,
)
from ssdlib.generation.store import GenerationStore, read_all

__all__ = [
    "ContextOverflow",
    "GenerationStore",
    "Output",
    "Request",
    "baseline_decodes",
    "collect_samples",
    "distinct",
    "generate_samples",
    "make_backend",
    "min_p_sweep",
    "plan_generation",
    "read_all",
    "render_prompts",
    "temperature_sweep",
]
