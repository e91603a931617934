"""A labelled set of problem pairs, and precision / recall of the contamination rules on it.

Built from the 41 parametrised base problems in base_problems.py; per base, eleven pairs:

    category              label  what side b is
    light_edit            pos    the same text with 2 scraper-style edits (a "Problem 3." header,
                                 "Find" -> "Compute", an instruction sentence added or dropped)
    light_edit_no_answer  pos    light_edit, but the train side's gold answer is missing ("": the
                                 scraped solution had no \\boxed{}), so only threshold_diff_answer applies
    reworded              pos    a hand-written paraphrase, same answer (answer written differently)
    latex_format          pos    the same text with 2-3 LaTeX formatting changes (\\dfrac, \\(..\\), \\left(, ...)
    answer_changed        pos    the same text with a different gold answer (copied problem, noisy answer)
    renumbered            neg    one number changed, answer recomputed and different
    same_template         neg    same setup / template, different question and answer
    unrelated             neg    another base problem
    unrelated_same_answer neg    another base problem carrying the SAME answer (small-integer
                                 answers coincide all the time: agreeing answers alone prove nothing)
    same_template_same_answer neg  same_template, but the answers coincide
    boilerplate_same_answer neg  two different problems that end in the same instruction sentence
                                 ("Express your answer as a common fraction.") with the same answer

The last three are what a low threshold_same_answer risks at corpus scale: among ~860k train
rows, many share boilerplate with a val row AND happen to have the same small answer.

Decision on "renumbered": NOT contamination. The numbers are part of the problem: a model that
memorised the train version gets the val version wrong. The answer-aware rule still flags a
renumbered pair whose texts are nearly identical (J >= threshold_diff_answer), which is the price
of also catching copied problems with noisy gold answers ("answer_changed"); the measured flag
rate per category shows that trade-off.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import sympy as sp

from . import answers as _answers
from .base_problems import BASES, Base, fill
from .labelled_families import CATEGORIES_13, family_pairs
from .ngrams import jaccard_exact
from .normalize import normalize_text
from .search import NGRAM, THRESHOLD_DIFF_ANSWER, THRESHOLD_SAME_ANSWER

CATEGORIES: dict[str, bool] = {
    "light_edit": True,
    "light_edit_no_answer": True,
    "reworded": True,
    "latex_format": True,
    "answer_changed": True,
    "renumbered": False,
    "same_template": False,
    "unrelated": False,
    "unrelated_same_answer": False,
    "same_template_same_answer": False,
    "boilerplate_same_answer": False,
    **CATEGORIES_13,
}

_MATH = re.compile(r"\$([^$]*)\$")


def fmt_answer(x, rng: np.random.Generator | None = None) -> str:
    """LaTeX string of an answer; with ``rng``, an equivalent but differently written form."""
    if isinstance(x, str):
        return x
    x = sp.nsimplify(x) if isinstance(x, float) else sp.sympify(x)
    if rng is None:
        return sp.latex(x)
    choice = int(rng.integers(0, 3))
    if x.is_Integer:
        return [f"\\boxed{{{x}}}", f"${x}$", f"{x}.0"][choice]
    if x.is_Rational:
        return [f"{x.p}/{x.q}", f"\\dfrac{{{x.p}}}{{{x.q}}}", f"${sp.latex(x)}$"][choice]
    return [f"${sp.latex(x)}$", f"\\boxed{{{sp.latex(x)}}}", sp.latex(x)][choice]


# --- LaTeX formatting variants: each returns the changed text (or the same text if n/a) ---


def _math_sub(text, fn):
    return _MATH.sub(lambda m: "$" + fn(m.group(1)) + "$", text)


_LATEX_TRANSFORMS = {
    "dfrac": lambda t: t.replace("\\frac", "\\dfrac"),
    "paren_delims": lambda t: _MATH.sub(lambda m: "\\(" + m.group(1) + "\\)", t),
    "left_right": lambda t: _math_sub(
        t, lambda s: s.replace("(", "\\left(").replace(")", "\\right)")
    ),
    "displaystyle": lambda t: _math_sub(t, lambda s: "\\displaystyle " + s),
    "brace_space": lambda t: re.sub(r"\{([^{}]*)\}", r"{ \1 }", t),
    "thin_space": lambda t: _math_sub(
        t, lambda s: s.replace(" = ", "\\,=\\,").replace(" + ", "\\,+\\,")
    ),
    "leq": lambda t: t.replace("\\le ", "\\leq ").replace("\\geq ", "\\ge "),
    "text_unit": lambda t: re.sub(
        r"\$([^$]*)\$ (hours|miles|members|people|sides|red|times)\b",
        r"$\1\\text{ \2}$",
        t,
        count=1,
    ),
    "mathrm_number": lambda t: re.sub(r"\$(\d+)\$", r"$\\mathrm{\1}$", t, count=1),
}


def latex_variant(text: str, rng: np.random.Generator) -> str:
    """``text`` with 2-3 randomly chosen LaTeX formatting changes that apply to it."""
    names = [n for n, f in _LATEX_TRANSFORMS.items() if f(text) != text]
    k = min(len(names), int(rng.integers(2, 4)))
    for n in rng.choice(names, size=k, replace=False):
        text = _LATEX_TRANSFORMS[str(n)](text)
    return text


# --- light, scraper-style edits of the wording (each returns the text unchanged if n/a) ---

_VERBS = [
    ("Find ", "Compute "),
    ("Compute ", "Determine "),
    ("What is ", "Find "),
    ("How many ", "Determine how many "),
    ("Determine ", "Find "),
]
_INSTRUCTIONS = re.compile(r"\s*(Express your answer[^.]*\.)")
_SUFFIXES = [
    " Give your answer in simplest form.",
    " Justify your answer.",
    " Enter your answer as a number.",
]


def _swap_verb(t, rng):
    for a, b in rng.permutation(_VERBS).tolist():
        if a in t:
            return t.replace(a, b, 1)
    return t


_LIGHT_EDITS = {
    "header": lambda t, rng: f"Problem {int(rng.integers(1, 30))}. {t}",
    "numbered": lambda t, rng: f"{int(rng.integers(1, 30))}. {t}",
    "verb": _swap_verb,
    "instruction": lambda t, rng: (
        _INSTRUCTIONS.sub("", t)
        if _INSTRUCTIONS.search(t)
        else t + _SUFFIXES[int(rng.integers(0, len(_SUFFIXES)))]
    ),
    "such_that": lambda t, rng: t.replace("such that", "so that").replace("exactly", "precisely"),
}


_BOILERPLATE = [
    "Express your answer as a common fraction in lowest terms.",
    "Express your answer in simplest radical form.",
    "Give your answer as an integer, and show all of your work.",
    "Round your answer to the nearest whole number if necessary.",
]


def light_edit(text: str, rng: np.random.Generator) -> str:
    """``text`` with 2 light edits (one header at most) of the kind scraped copies carry."""
    names = [n for n in _LIGHT_EDITS if n not in ("header", "numbered")]
    names = [n for n in names if _LIGHT_EDITS[n](text, np.random.default_rng(0)) != text]
    header = ["header", "numbered"][int(rng.integers(0, 2))]
    chosen = [header] + list(rng.choice(names, size=min(1, len(names)), replace=False))
    for n in rng.permutation(chosen):
        text = _LIGHT_EDITS[str(n)](text, rng)
    return text


def _differs(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) != str(b)
    return sp.simplify(sp.sympify(a) - sp.sympify(b)) != 0


def renumber(base: Base, rng: np.random.Generator) -> tuple[str, object, str]:
    """The base problem with one number changed so that the answer changes: (text, answer, param)."""
    slots = [k for k in base.params if f"<{k}>" in base.text]
    a0 = base.answer(base.params)
    for k in rng.permutation(slots):
        for delta in (1, 2, -1, 3, 5, 10):
            p = {**base.params, str(k): base.params[str(k)] + delta}
            if p[str(k)] < 2:
                continue
            try:
                a1 = base.answer(p)
                if _differs(a0, a1):
                    return fill(base.text, p), a1, str(k)
            except (ValueError, ZeroDivisionError, TypeError):
                continue
    raise ValueError(f"cannot renumber {base.key}")


def labelled_pairs(seed: int = 0) -> pd.DataFrame:
    """Eleven labelled pairs per base problem (451 rows) plus five per #13 family (205 rows,
    ``labelled_families.py``); side a plays train, side b val.

    Columns: pair_id, base, category, label (True = contamination), problem_a, problem_b,
    answer_a, answer_b. Deterministic for a given ``seed`` (LaTeX transforms, answer formats,
    which number is changed, which base is the unrelated partner).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i, b in enumerate(BASES):
        text, ans = fill(b.text, b.params), b.answer(b.params)
        a_str = fmt_answer(ans)
        other = (i + 1 + int(rng.integers(0, len(BASES) - 1))) % len(BASES)
        ob = BASES[other]
        ob3 = BASES[
            (other + 3) % len(BASES) if (other + 3) % len(BASES) != i else (other + 4) % len(BASES)
        ]
        boiler = _BOILERPLATE[int(rng.integers(0, len(_BOILERPLATE)))]
        ob2 = BASES[
            (other + 1) % len(BASES) if (other + 1) % len(BASES) != i else (other + 2) % len(BASES)
        ]
        r_text, r_ans, _ = renumber(b, rng)
        changed = (ans + "1") if isinstance(ans, str) else sp.sympify(ans) + 1
        variants = {
            "light_edit": (light_edit(text, rng), fmt_answer(ans, rng)),
            "light_edit_no_answer": (light_edit(text, rng), fmt_answer(ans, rng)),
            "reworded": (fill(b.reworded, b.params), fmt_answer(ans, rng)),
            "latex_format": (latex_variant(text, rng), fmt_answer(ans, rng)),
            "answer_changed": (text, fmt_answer(changed)),
            "renumbered": (r_text, fmt_answer(r_ans)),
            "same_template": (fill(b.other, b.params), fmt_answer(b.other_answer(b.params))),
            "unrelated": (fill(ob.text, ob.params), fmt_answer(ob.answer(ob.params))),
            "unrelated_same_answer": (fill(ob2.text, ob2.params), fmt_answer(ans, rng)),
            "same_template_same_answer": (fill(b.other, b.params), fmt_answer(ans, rng)),
            "boilerplate_same_answer": (
                f"{fill(ob3.text, ob3.params)} {boiler}",
                fmt_answer(ans, rng),
            ),
        }
        for cat, (tb, ab) in variants.items():
            ta = f"{text} {boiler}" if cat == "boilerplate_same_answer" else text
            rows.append(
                {
                    "pair_id": f"{b.key}/{cat}",
                    "base": b.key,
                    "category": cat,
                    "label": CATEGORIES[cat],
                    "problem_a": ta,
                    "problem_b": tb,
                    "answer_a": "" if cat == "light_edit_no_answer" else a_str,
                    "answer_b": ab,
                }
            )
    return pd.concat(
        [pd.DataFrame(rows), family_pairs(seed, renumber, fmt_answer)], ignore_index=True
    )


def add_answer_agreement(pairs: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``pairs`` with an ``answers_agree`` column (True/False/None), computed once."""
    out = pairs.copy()
    out["answers_agree"] = _answers._answers_agree(list(zip(out["answer_a"], out["answer_b"])))
    return out


def flags(
    pairs: pd.DataFrame, *, ngram: int, threshold_same_answer: float, threshold_diff_answer: float
) -> pd.DataFrame:
    """Per pair: exact, jaccard, and whether each rule flags it (bool columns named by rule)."""
    if "answers_agree" not in pairs:
        pairs = add_answer_agreement(pairs)
    exact = np.array(
        [
            normalize_text(a) == normalize_text(b)
            for a, b in zip(pairs["problem_a"], pairs["problem_b"])
        ]
    )
    jac = np.array(
        [jaccard_exact(a, b, ngram) for a, b in zip(pairs["problem_a"], pairs["problem_b"])]
    )
    agree = np.array([x is True for x in pairs["answers_agree"]])
    return pd.DataFrame(
        {
            "category": pairs["category"].to_numpy(),
            "label": pairs["label"].to_numpy(bool),
            "jaccard": jac,
            "answers_agree": pairs["answers_agree"].to_numpy(),
            "exact": exact,
            "fuzzy_low_only": exact | (jac >= threshold_same_answer),
            "fuzzy_diff_answer": exact | (jac >= threshold_diff_answer),
            "answer_aware": exact
            | (agree & (jac >= threshold_same_answer))
            | (jac >= threshold_diff_answer),
        },
        index=pairs.index,
    )


RULES = ("exact", "fuzzy_diff_answer", "fuzzy_low_only", "answer_aware")


def evaluate_rules(
    pairs: pd.DataFrame,
    *,
    ngram: int = NGRAM,
    threshold_same_answer: float = THRESHOLD_SAME_ANSWER,
    threshold_diff_answer: float = THRESHOLD_DIFF_ANSWER,
) -> pd.DataFrame:
    """Precision / recall / F1 of each rule on labelled ``pairs``, plus its flag rate per category.

    Rules: exact (normalised text equal); fuzzy_diff_answer (exact or J >= the high threshold,
    answers ignored: the usual single-threshold dedup); fuzzy_low_only (exact or J >= the low
    threshold, answers ignored); answer_aware (the rule of search.py). One row per rule.
    """
    f = flags(
        pairs,
        ngram=ngram,
        threshold_same_answer=threshold_same_answer,
        threshold_diff_answer=threshold_diff_answer,
    )
    rows = []
    for rule in RULES:
        pred, y = f[rule].to_numpy(bool), f["label"].to_numpy(bool)
        tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
        fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
        row = {
            "rule": rule,
            "precision": prec,
            "recall": rec,
            "f1": f1,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
        }
        for cat in CATEGORIES:
            row[f"flag_rate_{cat}"] = float(f.loc[f["category"] == cat, rule].mean())
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["params"] = {
        "ngram": ngram,
        "threshold_same_answer": threshold_same_answer,
        "threshold_diff_answer": threshold_diff_answer,
    }
    return out


def sweep(
    pairs: pd.DataFrame,
    ngrams=(3, 5, 8, 13),
    same_grid=tuple(np.round(np.arange(0.1, 0.75, 0.05), 2)),
    diff_grid=tuple(np.round(np.arange(0.5, 1.0, 0.05), 2)),
) -> pd.DataFrame:
    """Precision / recall / F1 of the answer-aware and single-threshold rules over a grid.

    One row per (ngram, threshold_same_answer, threshold_diff_answer) with same <= diff.
    """
    pairs = pairs if "answers_agree" in pairs else add_answer_agreement(pairs)
    y = pairs["label"].to_numpy(bool)
    agree = np.array([x is True for x in pairs["answers_agree"]])
    exact = np.array(
        [
            normalize_text(a) == normalize_text(b)
            for a, b in zip(pairs["problem_a"], pairs["problem_b"])
        ]
    )
    rows = []

    def prf(pred):
        tp = (pred & y).sum()
        p = tp / pred.sum() if pred.sum() else np.nan
        r = tp / y.sum()
        return p, r, (2 * p * r / (p + r) if tp else 0.0)

    for n in ngrams:
        jac = np.array(
            [jaccard_exact(a, b, n) for a, b in zip(pairs["problem_a"], pairs["problem_b"])]
        )
        for s in same_grid:
            for d in diff_grid:
                if s > d:
                    continue
                aw = exact | (agree & (jac >= s)) | (jac >= d)
                single = exact | (jac >= d)
                p, r, f1 = prf(aw)
                sp_, sr, sf = prf(single)
                rows.append(
                    {
                        "ngram": n,
                        "threshold_same_answer": s,
                        "threshold_diff_answer": d,
                        "precision": p,
                        "recall": r,
                        "f1": f1,
                        "single_precision": sp_,
                        "single_recall": sr,
                        "single_f1": sf,
                    }
                )
    return pd.DataFrame(rows)
