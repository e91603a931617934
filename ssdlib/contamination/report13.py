"""The #13 rule over whole corpora: scan, cheap answer pre-check, features, math-verify, rule.

Order of work (each step only on what survives the previous one):
    scan13.scan_candidates   one pass over train: text candidates + signature-only candidates
    answers.quick_agree      string / exact-numeric answer verdicts; signature-only candidates
                             whose answers are plainly different numbers are dropped here
    features.pair_features   exact recomputation of j5, j3, char cosine, signatures
    answers._answers_agree   math-verify (killable workers) for the verdicts still unknown
    rule.apply_rule          the flag and the path that fired
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import answers as _answers
from .features import pair_features
from .rule import RuleParams, apply_rule
from .scan13 import scan_candidates

PAIR_COLUMNS_V2 = [
    "train_id",
    "val_id",
    "jaccard",
    "j3",
    "char",
    "sig_eq",
    "sig_sub",
    "answers_agree",
    "rule",
    "train_problem",
    "val_problem",
    "train_source",
    "val_source",
    "train_answer",
    "val_answer",
]


def _agree(tans, vans, timeout_s: float) -> list:
    pairs = list(zip(tans, vans))
    out = _answers.quick_agree(pairs)
    todo = [
        k
        for k, x in enumerate(out)
        if x is None
        and isinstance(pairs[k][0], str)
        and isinstance(pairs[k][1], str)
        and pairs[k][0].strip()
        and pairs[k][1].strip()
    ]
    if todo:
        res = _answers._answers_agree([pairs[k] for k in todo], timeout_s=timeout_s)
        for k, r in zip(todo, res):
            out[k] = r
    return out


def report_v2(
    train: pd.DataFrame,
    val: pd.DataFrame,
    rp: RuleParams,
    *,
    chunk_rows=None,
    answer_timeout_s: float = 5.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(flagged pairs, best match per val row) under the #13 rule; see module doc.

    Best match: the flagged pair with the highest j5 for a flagged val row, else the train row
    with the highest word-5-gram Jaccard (train_id None and jaccard 0.0 when none shares a 5-gram).
    """
    tprob, vprob = train["problem"].to_numpy(), val["problem"].to_numpy()
    tans, vans = train["answer"].to_numpy(), val["answer"].to_numpy()
    res = scan_candidates(
        list(tprob),
        list(vprob),
        min_j5=min(rp.same_answer, rp.unknown_answer),
        min_j3=rp.short_same_answer,
        short_max_tokens=rp.short_max_tokens,
        chunk_rows=chunk_rows,
    )
    st, sv = res["sig_t"], res["sig_v"]
    quick = _answers.quick_agree(list(zip(tans[st], vans[sv])))
    keep_sig = np.array([q is not False for q in quick], dtype=bool)
    tpos = np.concatenate([res["t"], st[keep_sig]]).astype(np.int64)
    vpos = np.concatenate([res["v"], sv[keep_sig]]).astype(np.int64)
    f = pair_features(tprob[tpos], vprob[vpos], short_max_tokens=rp.short_max_tokens)
    agree = _agree(tans[tpos], vans[vpos], answer_timeout_s)
    rule = apply_rule(f, agree, rp)
    k = rule != ""
    ids_t, ids_v = train["id"].to_numpy(), val["id"].to_numpy()
    flagged = (
        pd.DataFrame(
            {
                "train_id": ids_t[tpos[k]],
                "val_id": ids_v[vpos[k]],
                "jaccard": f["j5"].to_numpy()[k],
                "j3": f["j3"].to_numpy()[k],
                "char": f["char"].to_numpy()[k],
                "sig_eq": f["sig_eq"].to_numpy()[k],
                "sig_sub": f["sig_sub"].to_numpy()[k],
                "answers_agree": pd.array(
                    list(np.asarray(agree, dtype=object)[k]), dtype="boolean"
                ),
                "rule": rule[k],
                "train_problem": tprob[tpos[k]],
                "val_problem": vprob[vpos[k]],
                "train_source": train["source"].to_numpy()[tpos[k]],
                "val_source": val["source"].to_numpy()[vpos[k]],
                "train_answer": tans[tpos[k]],
                "val_answer": vans[vpos[k]],
            },
            columns=PAIR_COLUMNS_V2,
        )
        .sort_values(["jaccard", "char", "val_id"], ascending=[False, False, True], kind="stable")
        .reset_index(drop=True)
    )

    bt, vk = res["best_train"], res["val_keep"]
    has = bt >= 0
    bagree = np.full(len(bt), None, dtype=object)
    bagree[has] = _agree(tans[bt[has]], vans[vk[has]], answer_timeout_s)

    def take(col):
        out = np.full(len(bt), None, dtype=object)
        out[has] = col[bt[has]]
        return out

    best = pd.DataFrame(
        {
            "val_id": ids_v[vk],
            "train_id": take(ids_t),
            "jaccard": res["best_j5"],
            "answers_agree": pd.array(list(bagree), dtype="boolean"),
            "val_problem": vprob[vk],
            "train_problem": take(tprob),
            "val_answer": vans[vk],
            "train_answer": take(tans),
        }
    )
    best["flagged"] = best["val_id"].isin(set(flagged["val_id"]))
    # A val row flagged through the signature path can have J = 0 with its duplicate while its
    # best 5-gram match is another (unflagged) train row: show the flagged pair for flagged rows,
    # so "best match" and "flagged" describe the same pair.
    top = flagged.drop_duplicates("val_id").set_index("val_id")
    rows = best["flagged"].to_numpy()
    if rows.any():
        vids = best.loc[rows, "val_id"]
        for col, src in (
            ("train_id", "train_id"),
            ("jaccard", "jaccard"),
            ("answers_agree", "answers_agree"),
            ("train_problem", "train_problem"),
            ("train_answer", "train_answer"),
        ):
            best.loc[rows, col] = top.loc[vids, src].to_numpy()
    meta = {
        "skipped": {"train": len(res["train_skipped"]), "val": len(res["val_skipped"])},
        "skipped_ids": {
            "train": ids_t[res["train_skipped"]].tolist(),
            "val": ids_v[res["val_skipped"]].tolist(),
        },
        "method": "v2",
        "params": rp.as_dict(),
        "answer_checker": _answers.LAST_PATH,
        "n_candidates": int(len(tpos)),
        "signature_dropped_by_answers": int((~keep_sig).sum()),
        **res["stats"],
    }
    flagged.attrs.update(meta)
    best.attrs.update(meta)
    return flagged, best
