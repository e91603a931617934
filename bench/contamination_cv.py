"""Threshold search of the #13 contamination rule (02's labelled-set CV), side by side.

``labelled_eval.select`` scores every grid point of ``labelled_eval.GRID`` (10,368 points) on
the training folds, 5 folds per 02 run. Two ways, same grid, same pairs, one process:

    dataframe   ``apply_rule(frame, agree, params) != ""`` per grid point (before: every call
                looks up 13 DataFrame columns and names the firing path)
    arrays      ``select`` today: ``rule_inputs`` once per fold, ``rule_fires`` per grid point

Both must choose the same thresholds with the same F1 in every fold (checked; the bench exits
non-zero otherwise). Reported: seconds per arm and the ratio.

    .venv/bin/python bench/contamination_cv.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()

    from ssdlib.contamination.labelled import labelled_pairs
    from ssdlib.contamination.labelled_eval import GRID, _grid_points, _prf, select, with_features
    from ssdlib.contamination.rule import RuleParams, apply_rule

    fp = with_features(labelled_pairs(args.seed))
    bases = np.array(sorted(fp["base"].unique()))
    rng = np.random.default_rng(args.seed)
    fold_of = dict(zip(rng.permutation(bases), np.arange(len(bases)) % args.folds))
    fold = fp["base"].map(fold_of).to_numpy()

    def select_dataframe(train):
        y = train["label"].to_numpy(bool)
        best, best_f1 = RuleParams(), -1.0
        for rp in _grid_points(GRID):
            f1 = _prf(apply_rule(train, train["answers_agree"], rp) != "", y)[2]
            if f1 > best_f1 + 1e-12:
                best, best_f1 = rp, f1
        return best, best_f1

    secs, chosen = {}, {}
    for arm, fn in (("dataframe", select_dataframe), ("arrays", select)):
        t0 = time.perf_counter()
        chosen[arm] = [fn(fp[fold != k]) for k in range(args.folds)]
        secs[arm] = time.perf_counter() - t0
    same = chosen["dataframe"] == chosen["arrays"]
    print(f"{len(fp)} labelled pairs, {args.folds} folds x {len(_grid_points(GRID))} grid points")
    print("| arm | seconds | x dataframe |\n|:--|--:|--:|")
    for arm in secs:
        print(f"| {arm} | {secs[arm]:.2f} | {secs['dataframe'] / secs[arm]:.1f} |")
    print(f"same thresholds and F1 in every fold: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
