"""Shared fixtures: the embedded model and one smoke-profile pipeline run per test session."""

from __future__ import annotations

import os

import pytest

from ssdlib.models import embedded_model_path


@pytest.fixture(autouse=True)
def no_warm_engine_between_tests():
    """A vLLM engine kept warm by ssdlib.generation.engine_pool (its KV cache is ~25% of RAM on
    the smoke profile) must not outlive the test that started it: the next test may start its
    own engine or a notebook kernel."""
    yield
    from ssdlib.generation import engine_pool

    engine_pool.release()


@pytest.fixture(scope="session")
def embedded_model() -> str:
    """The converted SmolLM2-135M-Instruct folder (converted from the shipped GGUF on first use)."""
    return str(embedded_model_path())


def assert_figure(out, name: str, *, contains: str = "") -> str:
    """A figure of a pipeline run: PNG and SVG both written, a real image (>= 300 px wide), with the
    same non-empty title in both files (the finding), containing ``contains``. Returns the title."""
    from PIL import Image

    from ssdlib.plots import figure_title

    png, svg = (out / "figures" / f"{name}.{ext}" for ext in ("png", "svg"))
    assert png.exists() and svg.exists(), (
        f"{name}: missing {[str(p) for p in (png, svg) if not p.exists()]}"
    )
    with Image.open(png) as im:
        assert im.width >= 300 and im.height >= 150, f"{name}: {im.size}"
    title = figure_title(png)
    assert title.strip() and title == figure_title(svg), (
        f"{name}: titles {title!r} / {figure_title(svg)!r}"
    )
    assert contains in title, f"{name}: {contains!r} not in {title!r}"
    return title


@pytest.fixture(scope="session")
def figure():
    """:func:`assert_figure`, as a fixture (test modules do not import conftest)."""
    return assert_figure


def save_tiny_llama(folder, *, seed: int = 0, hidden_size: int = 32, num_hidden_layers: int = 2):
    """A random Llama over the embedded model's tokenizer, saved to ``folder`` (returned). A large
    init (0.3) so next-token distributions are far from uniform (entropies spread out, tails vary)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(embedded_model_path())
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=hidden_size // 8,
        num_key_value_heads=max(1, hidden_size // 16),
        max_position_embeddings=256,
        initializer_range=0.3,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(cfg).eval().save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama():
    """:func:`save_tiny_llama`, as a fixture (test modules do not import conftest)."""
    return save_tiny_llama


@pytest.fixture(scope="session")
def smoke_pipeline(tmp_path_factory):
    """Run every existing notebook, in order, on the smoke profile into a fresh outputs folder.

    Runs once per session (minutes on CPU: it generates, grades and trains for real); every
    notebook test reads what it left. Returns the profile's Paths. A failing notebook fails the
    tests that use this fixture with the failing cell's error. Yields ``outputs/smoke`` (a Path)
    inside the temporary outputs root.
    """
    from ssdlib import runs

    root = tmp_path_factory.mktemp("outputs")
    old = os.environ.get(runs.OUTPUTS_ENV)
    os.environ[runs.OUTPUTS_ENV] = str(root)
    try:
        for nb in runs.available_notebooks():
            res = runs.run_notebook(nb, "smoke")
            if res.status != "ok":
                pytest.fail(f"{nb} failed on smoke: {res.error} (executed copy: {res.output})")
        yield runs.profile_paths("smoke").root
    finally:
        if old is None:
            os.environ.pop(runs.OUTPUTS_ENV, None)
        else:
            os.environ[runs.OUTPUTS_ENV] = old
