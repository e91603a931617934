"""Noise-only lock/fork check on a real model: BEFORE (classes by the base model's entropy) vs
AFTER (classes by the mean entropy of both models), printed side by side in one run.

Two pairs, nothing trained in either:

* ``base vs perturbed``: the base model against a copy with a tiny weight perturbation
  (``--rel-std`` of each tensor's std), the issue's noise-only check. The copy is a (slightly)
  different model -- random weight noise flattens confident positions a little -- so a small,
  real lock flattening can remain under the unbiased classes as the perturbation grows.
* ``perturbed A vs B``: two independent perturbations of the same size (``--rel-std-pair``): the
  two models are exchangeable, so the true change at every class is exactly zero and any
  reading is the analysis's own bias -- over perturbation draws. One drawn pair is two fixed
  models, and at a larger ``--rel-std-pair`` one can be sharper than the other everywhere (the
  ``all`` row shows such an overall offset, which no choice of classes can or should remove).
Responses are the base model's own samples (T=1, transformers ``generate``) to
hand-written arithmetic prompts; prompts are rendered with the chat template.

    OMP_NUM_THREADS=1 .venv/bin/python bench/lockfork_noise.py [--model PATH] [--rel-std 0.02] [--rel-std-pair 0.05]
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ssdlib import lockfork as lf
from ssdlib.models import embedded_model_path

PROMPTS = [
    f"Compute {a} * {b} + {c}. Reason step by step and put the answer in \\boxed{{}}."
    for a, b, c in [
        (12, 7, 5),
        (23, 4, 19),
        (9, 9, 9),
        (31, 3, 2),
        (15, 6, 11),
        (8, 27, 4),
        (44, 2, 13),
        (17, 5, 30),
        (6, 38, 7),
        (25, 25, 1),
        (13, 13, 13),
        (52, 3, 8),
    ]
]


def sample_responses(
    model_path: str, prompts: list[str], max_new_tokens: int, seed: int
) -> list[str]:
    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    torch.manual_seed(seed)
    out = []
    for p in prompts:
        text = tok.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        ids = tok(text, return_tensors="pt", add_special_tokens=False)
        g = model.generate(
            **ids,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            pad_token_id=tok.eos_token_id,
        )
        out.append(tok.decode(g[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(embedded_model_path()))
    ap.add_argument("--rel-std", type=float, default=0.02)
    ap.add_argument("--rel-std-pair", type=float, default=0.05)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--n-boot", type=int, default=2000)
    args = ap.parse_args()
    responses = sample_responses(args.model, PROMPTS, args.max_new_tokens, seed=0)
    kw = dict(top_k=20, device="cpu", batch_size=4)
    with tempfile.TemporaryDirectory() as tmp:
        lf.perturbed_copy(args.model, f"{tmp}/p", rel_std=args.rel_std, seed=1)
        lf.perturbed_copy(args.model, f"{tmp}/a", rel_std=args.rel_std_pair, seed=2)
        lf.perturbed_copy(args.model, f"{tmp}/b", rel_std=args.rel_std_pair, seed=3)
        base = lf.score_positions(args.model, PROMPTS, responses, **kw)
        pairs = {
            f"base vs perturbed ({args.rel_std})": (
                base,
                lf.score_positions(f"{tmp}/p", PROMPTS, responses, **kw),
            ),
            f"perturbed A vs B ({args.rel_std_pair})": (
                lf.score_positions(f"{tmp}/a", PROMPTS, responses, **kw),
                lf.score_positions(f"{tmp}/b", PROMPTS, responses, **kw),
            ),
        }
    print(f"{len(responses)} responses, {len(base)} positions; perturbation x std per tensor")
    print(f"{'pair':<28} {'classes by':<11} {'class':<6} {'delta (nats)':>13} {'95% CI':>20}")
    for name, (a, b) in pairs.items():
        for on in ("base", "mean"):
            s = lf.lock_fork_summary(a, b, {"n_boot": args.n_boot, "classify_on": on})
            c = s.comparison.set_index("class")
            for cls in ("lock", "fork", "all"):
                r = c.loc[cls]
                print(
                    f"{name:<28} {on:<11} {cls:<6} {r['delta_entropy']:>+13.4f} "
                    f"[{r['delta_entropy_lo']:+.4f}, {r['delta_entropy_hi']:+.4f}]"
                )
            print(f"{name:<28} {on:<11} verdict: {s.verdict.split('; tail')[0]}")


if __name__ == "__main__":
    main()
