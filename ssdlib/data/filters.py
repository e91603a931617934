"""Heuristics that decide whether a scraped problem has one checkable final answer.

Used on NuminaMath-CoT (auto-scraped: many proofs, multiple-choice letters, several answers).
Each function is a documented rule, not a classifier: false positives cost a few training
prompts, false negatives put an ungradable prompt into the study, so the rules lean to dropping.
"""

from __future__ import annotations

import re

from ssdlib.data.answers import all_boxed

# "Prove that", "show that", "demonstrate that", "prove:" ... anywhere in the statement.
_PROOF_PROBLEM = re.compile(r"\b(prove|proof|show that|demonstrate)\b", re.IGNORECASE)
# Answers that only say "done": what Numina's proof solutions box.
_PROOF_ANSWER = re.compile(
    r"^(proof|proved|proven|q\.?e\.?d\.?|shown|true|false|yes|no|"
    r"\\blacksquare|\\square|\\blacktriangle|\\boxtimes|)$",
    re.IGNORECASE,
)
# Formatting wrappers peeled off before comparing an answer with a rule.
_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit|operatorname)\s*\{([^{}]*)\}")
# An answer that is an option letter: "C", "(C)", "C)", "C.", "C: 12", "(C) 12", "\textbf{(B)}\ 4"
# (but not "A = 5", which names a quantity).
_LETTER_ANSWER = re.compile(r"^(?:\(\s*[A-E]\s*\)|[A-E]\s*[).:]|[A-E]$)")
# Options listed in the statement: "(A) ... (B) ..." or "A: .. B: .. C: .." / "A. .. B. .. C. ..".
# The unbracketed form needs three letters because "at A. Then B: ..." can occur in prose.
_PAREN_OPTION = {k: re.compile(rf"\(\s*{k}\s*\)") for k in "AB"}
_LINE_OPTION = {k: re.compile(rf"(?:^|\s)\$?{k}\s*[.:：．、]\s*\S") for k in "ABC"}
# Separators that make an answer a list of answers when they occur outside any bracket.
_WORD_SEPARATORS = re.compile(r"\\text\s*\{\s*(?:and|or)\s*\}|\\q?quad|\bor\b|\band\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def strip_wrappers(answer: str) -> str:
    """Peel ``\\text{..}``-style wrappers and ``$``; collapse whitespace (rules compare this form)."""
    prev = None
    s = answer
    while prev != s:  # wrappers can nest: \textbf{\text{(A)}}
        prev = s
        s = _WRAPPERS.sub(r"\1", s)
    s = s.replace("$", "")
    return " ".join(s.split())


def is_proof(problem: str, answer: str | None = None) -> bool:
    """True if the statement asks for a proof, or the (boxed) answer is a proof marker.

    Proof markers: proof/proved/QED/shown, \\blacksquare/\\square, and bare yes/no/true/false
    (an "is it possible?" problem is a proof in disguise: the verdict alone is a coin flip).
    ``answer=None`` checks the statement only; ``answer=""`` counts as a proof marker because
    a solution boxing nothing has no final answer to check.
    """
    if _PROOF_PROBLEM.search(problem or ""):
        return True
    if answer is None:
        return False
    return bool(_PROOF_ANSWER.match(strip_wrappers(answer).strip(" .")))


def is_multiple_choice(problem: str, answer: str) -> bool:
    """True if the answer is an option letter A-E, or the statement lists lettered options.

    Numina's amc_aime / cn_k12 rows often box a letter; the letter is meaningless without the
    option list and grading it would reward guessing.
    """
    if _LETTER_ANSWER.match(strip_wrappers(answer)):
        return True
    text = problem or ""
    if all(p.search(text) for p in _PAREN_OPTION.values()):
        return True
    return all(p.search(text) for p in _LINE_OPTION.values())


def _has_top_level_separator(answer: str) -> bool:
    """True if ``answer`` has a ``,`` or ``;`` outside (), [], {}, \\{ \\} (thousands commas excepted)."""
    s = _THOUSANDS.sub("", answer)
    depth = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            if s[i + 1 : i + 2] in ("{", "}"):
                depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in ",;" and depth <= 0:
            return True
        i += 1
    return False


def is_multiple_answers(solution: str, answer: str) -> bool:
    """True if a solution boxes several distinct answers, or its answer lists several values.

    Rule (documented because it decides what is gradable):
    1. distinct boxed contents, compared with all whitespace removed, number more than one
       (boxing the same value twice is fine; boxing intermediate results is not);
    2. the final answer contains a top-level ``,`` or ``;`` (``2, 3``, ``x=1; y=2``), or a top-level
       ``and``/``or``/``\\quad`` separator. Commas inside brackets (``(1, 2)``, ``\\{1,2\\}``,
       ``[0, 1)``) make one tuple/set/interval answer and are kept, as are ``10,000``-style numbers.
    """
    distinct = {"".join(b.split()) for b in all_boxed(solution)}
    if len(distinct) > 1:
        return True
    if _has_top_level_separator(answer):
        return True
    return bool(_WORD_SEPARATORS.search(_strip_bracketed(answer)))


def _strip_bracketed(s: str) -> str:
    """``s`` with every bracketed group removed (so separators inside a tuple are ignored)."""
    prev = None
    while prev != s:
        prev = s
        s = re.sub(r"\([^()]*\)|\[[^\[\]]*\]|\\\{.*?\\\}", " ", s)
    return s
