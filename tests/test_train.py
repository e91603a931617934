"""SFT with TRL on CPU: completion-only labels, no truncation, checkpoints, resume, loss goes down.

Uses a tiny random Llama (~1.6M parameters) with the tokenizer of the folder in $SSD_TEST_MODEL
(default: the embedded SmolLM2-135M-Instruct, converted on first use), so a few optimizer steps take seconds.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch
import transformers

from ssdlib.models import embedded_model_path

__import__("trl")

from ssdlib.train import (  # noqa: E402
    SFTSettings,
    list_checkpoints,
    load_training_set,
    make_trainer,
    read_log,
    train_sft,
)
from ssdlib.train.figures import length_distribution_figure, training_curve_figure  # noqa: E402
from ssdlib.train.ssd_set import build_ssd_dataset  # noqa: E402

MODEL_DIR = os.environ.get("SSD_TEST_MODEL") or str(embedded_model_path())
LR, MIN_LR, MAX_STEPS = 1e-2, 1e-3, 6


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A random 2-layer Llama saved with the test tokenizer (and its chat template)."""
    tok = transformers.AutoTokenizer.from_pretrained(MODEL_DIR)
    cfg = transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny")
    transformers.LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path, tok


@pytest.fixture(scope="module")
def ssd_set(tiny_model):
    _, tok = tiny_model
    n = 8
    samples = pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(n)],
            "sample_idx": 0,
            "config_id": "t1.1",
            "model_id": "tiny",
            "prompt_hash": "h",
            "response": [f"<think>{i} plus {i}</think> so \\boxed{{{2 * i}}}" for i in range(n)],
            "n_tokens": 0,
            "finish_reason": "stop",
        }
    )
    problems = pd.DataFrame(
        {"id": samples["prompt_id"], "problem": [f"{i}+{i}?" for i in range(n)], "answer": ""}
    )
    ds, _ = build_ssd_dataset(samples, problems, tokenizer=tok, render_prompt=str, max_length=256)
    return ds


def completion_nll(model, ds) -> float:
    """Mean NLL per completion token (nats) of ``model`` on the SSD rows."""
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for row in ds:
            ids = torch.tensor([row["input_ids"]])
            labels = ids.clone()
            labels[0, torch.tensor(row["completion_mask"]) == 0] = -100
            n = int((labels[0, 1:] != -100).sum())
            total += float(model(input_ids=ids, labels=labels).loss) * n
            count += n
    return total / count


def test_prompt_tokens_masked_in_labels(tiny_model, ssd_set, tmp_path):
    path, _ = tiny_model
    trainer, resumed = make_trainer(
        path, ssd_set, tmp_path / "run", SFTSettings(max_length=256, max_steps=1)
    )
    assert resumed is None
    for row, src in zip(trainer.train_dataset, ssd_set):
        labels, mask = np.asarray(row["labels"]), np.asarray(src["completion_mask"])
        assert row["input_ids"] == src["input_ids"]  # TRL kept our tokens as they are
        assert (labels[mask == 0] == -100).all()
        assert (labels[mask == 1] == np.asarray(src["input_ids"])[mask == 1]).all()
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    n_prompt = ssd_set[0]["n_prompt_tokens"]
    assert (batch["labels"][0, :n_prompt] == -100).all() and (
        batch["labels"][0, n_prompt:] != -100
    ).any()


def test_over_long_rows_are_refused_not_truncated(ssd_set):
    longest = max(ssd_set["n_tokens_total"])
    assert len(load_training_set(ssd_set, longest)) == len(ssd_set)
    with pytest.raises(ValueError, match="exceed max_length"):
        load_training_set(ssd_set, longest - 1)


class StopAt(transformers.TrainerCallback):
    """Stop training after ``step`` optimizer steps, as a crash after a checkpoint would."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


def expected_lr(step: int) -> float:
    """LR used at optimizer step ``step`` (1-based) by cosine_with_min_lr without warm-up."""
    progress = (step - 1) / MAX_STEPS
    return MIN_LR + (LR - MIN_LR) * 0.5 * (1 + math.cos(math.pi * progress))


def test_training_lowers_loss_checkpoints_load_and_resume_continues(tiny_model, ssd_set, tmp_path):
    path, _ = tiny_model
    out = tmp_path / "run"
    kw = dict(max_length=256, max_steps=MAX_STEPS, learning_rate=LR, min_lr=MIN_LR,
              per_device_batch_size=4, save_steps=2, weight_decay=0.0)  # fmt: skip
    first = train_sft(path, ssd_set, out, callbacks=[StopAt(4)], **kw)
    assert first.global_step == 4 and [s for s, _ in first.checkpoints] == [2, 4]
    ckpt2, ckpt4 = out / "checkpoint-2", out / "checkpoint-4"
    assert not list(ckpt2.glob("optimizer*")) and list(
        ckpt4.glob("optimizer*")
    )  # pruned vs resumable

    # Each checkpoint is a standalone model folder: weights, config, tokenizer, chat template.
    model4 = transformers.AutoModelForCausalLM.from_pretrained(ckpt4)
    tok4 = transformers.AutoTokenizer.from_pretrained(ckpt4)
    assert tok4.chat_template and tok4.apply_chat_template(
        [{"role": "user", "content": "x"}], tokenize=False
    )

    with pytest.raises(FileExistsError):
        train_sft(path, ssd_set, out, **kw)  # a second fresh start into the same folder is refused

    second = train_sft(path, ssd_set, out, resume=True, **kw)
    assert second.resumed_from == ckpt4 and second.global_step == MAX_STEPS
    assert [s for s, _ in list_checkpoints(out)] == [2, 4, 6]

    log = read_log(out)
    steps = log[log["loss"].notna()]
    assert steps.groupby("session")["step"].apply(list).to_dict() == {0: [1, 2, 3, 4], 1: [5, 6]}
    # The scheduler state came back with the checkpoint: step 5 uses the schedule's LR, not the peak.
    for step, lr in zip(steps["step"], steps["learning_rate"]):
        assert lr == pytest.approx(expected_lr(step), rel=1e-4)
    assert {"grad_norm", "tokens_per_s", "epoch", "time_s"} <= set(log.columns)
    assert (steps["tokens_per_s"].dropna() > 0).all()

    before = completion_nll(transformers.AutoModelForCausalLM.from_pretrained(path), ssd_set)
    after = completion_nll(
        transformers.AutoModelForCausalLM.from_pretrained(out / "checkpoint-6"), ssd_set
    )
    assert after < before - 0.3, (before, after)
    assert completion_nll(model4, ssd_set) < before

    fig = training_curve_figure(out)
    assert fig.axes[0].get_title().startswith("Loss fell from")
    args = json.loads((out / "train_args.json").read_text())
    assert (
        args["lr_scheduler_type"] == "cosine_with_min_lr" and args["completion_only_loss"] is True
    )


def test_length_figure_marks_the_limit():
    fig = length_distribution_figure([100, 200, 300, 5000, 0], max_length=1000)
    assert fig.axes[0].get_title().startswith("25.0% of 4 samples exceed 1,000 tokens")


def test_fsdp_wrap_list_names_only_present_layers():
    # Qwen3_5ForCausalLM inherits "Qwen3_5VisionBlock" in _no_split_modules; FSDP auto-wrap
    # (configs/accelerate/fsdp.yaml) raises on a class the model lacks, as seen on 2 H200s.
    from ssdlib.train.sft import keep_present_no_split_modules

    cfg = transformers.Qwen3_5TextConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, linear_num_key_heads=2, linear_num_value_heads=2,
        linear_key_head_dim=8, linear_value_head_dim=8, layer_types=["linear_attention", "full_attention"],
    )  # fmt: skip
    model = transformers.Qwen3_5ForCausalLM(cfg)
    assert "Qwen3_5VisionBlock" in set(model._no_split_modules)
    keep_present_no_split_modules(model)
    assert set(model._no_split_modules) == {"Qwen3_5DecoderLayer"}


def test_token_weighted_length_figure_states_the_length_stopped_share():
    from ssdlib.train.figures import token_weighted_length_figure

    # 3 finished samples of 10 tokens, 1 length-stopped of 70, 1 dropped (empty).
    report = {
        "all_completion_tokens": [10, 10, 10, 70, 0],
        "all_category": ["finished", "finished", "finished", "length-stopped", "dropped"],
    }
    fig = token_weighted_length_figure(report, bins=5, max_tokens=70)
    assert (
        fig.axes[0].get_title()
        == "Length-stopped traces are 20% of samples but 70% of trained tokens"
    )
    heights = sum(p.get_height() for p in fig.axes[0].patches)
    assert heights == pytest.approx(100.0)  # bars are shares of all drawn tokens, in %
