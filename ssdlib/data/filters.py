"""Heuristics that decide whether a scraped problem has one checkable final answer.

Used on NuminaMath-CoT (auto-scraped: many proofs, multiple-choice letters, several answers),
on MATH (letter answers such as ``\\text{(C)}``), and on the answer columns of Omni-MATH and
OlympiadBench (restated claims, two-part and prose answers). Each function is a documented rule,
not a classifier: false negatives put an ungradable prompt into the study, so the rules lean to
dropping, but each was checked against the shapes real rows take (research-notes §5) so that
good rows survive: MATH's ``10,\\!080`` thousands, Asymptote code in ``[asy]..[/asy]``, one value
boxed twice in two forms (``15\\frac{39}{40}`` and ``\\frac{639}{40}``).
"""

from __future__ import annotations

import re

from ssdlib.boxed import all_boxed, unwrap_boxes

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
# ``dot(A)`` in code is not an option: the bracket must not follow a letter/digit.
_PAREN_OPTION = {k: re.compile(rf"(?<![A-Za-z0-9_])\(\s*{k}\s*\)") for k in "AB"}
_LINE_OPTION = {k: re.compile(rf"(?:^|\s)\$?{k}\s*[.:：．、]\s*\S") for k in "ABC"}
# Separators that make an answer a list of answers when they occur outside any bracket.
_WORD_SEPARATORS = re.compile(r"\\text\s*\{\s*(?:and|or)\s*\}|\\q?quad|\bor\b|\band\b")
# "10,000", and MATH's "10,\\!080" / "11,\\! 111,\\! 100" (a negative thin space after the comma).
# A bare space after the comma is NOT a thousands separator: "2, 345" lists two answers.
_THOUSANDS = re.compile(r"(?<=\d),(?:\\[!,;:]\s*)?(?=\d{3}(?!\d))")
# Diagram code (MATH, AoPS): "dot(A); dot(B);" must not read as options or separators.
_ASY = re.compile(r"\[asy\].*?(?:\[/asy\]|$)", re.DOTALL | re.IGNORECASE)
# A gold answer that states a relation: what a proof's claim looks like when put in an answer column.
_RELATION = re.compile(
    r"(?<![<>!=\\])(?:=|<|>)"
    r"|\\(?:le|ge|leq|geq|neq|ne|lt|gt|parallel|perp|equiv|cong|sim)(?![A-Za-z])"
)
# LaTeX spacing and sizing that never changes a value.
_NOISE = re.compile(r"\\[!,;: ]|\\(?:left|right|displaystyle)(?![A-Za-z])|\s+|\$")


def strip_wrappers(answer: str) -> str:
    """Peel ``\\text{..}``-style wrappers and ``$``; collapse whitespace (rules compare this form)."""
    prev = None
    s = answer
    while prev != s:  # wrappers can nest: \textbf{\text{(A)}}
        prev = s
        s = _WRAPPERS.sub(r"\1", s)
    s = s.replace("$", "")
    return " ".join(s.split())


def strip_asy(text: str) -> str:
    """``text`` with every ``[asy]...[/asy]`` block (Asymptote diagram code) removed."""
    return _ASY.sub(" ", text or "")


def canonical(answer: str) -> str:
    """Answer text with formatting that never changes a value removed, for string comparison.

    Peels ``\\text{..}``-style wrappers, drops ``$``, spacing (``\\!``, ``\\,``, whitespace),
    ``\\left``/``\\right``, thousands commas and a trailing period; ``\\dfrac``/``\\tfrac`` ->
    ``\\frac``. ``10,\\!080`` and ``10080`` compare equal; ``15\\frac{39}{40}`` and
    ``\\frac{639}{40}`` do not (that needs math-verify, see :func:`box_variants`).
    """
    s = strip_wrappers(answer)
    s = _THOUSANDS.sub("", s)
    s = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", s)
    return _NOISE.sub("", s).rstrip(".")


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
    text = strip_asy(problem)
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


def lists_several_answers(answer: str) -> bool:
    """True if the answer itself lists several values.

    A top-level ``,`` or ``;`` (``2, 3``, ``x=1; y=2``, ``4122 \\text{ (minimum)}, 6049 \\text{
    (maximum)}``, OlympiadBench's joined ``$69$,$84$``), or a top-level ``and``/``or``/``\\quad``
    separator. Commas inside brackets (``(1, 2)``, ``\\{1,2\\}``, ``[0, 1)``) make one
    tuple/set/interval answer and are kept, as are ``10,000`` / ``10,\\!080``-style numbers.
    """
    s = answer.replace("$", " ")
    if _has_top_level_separator(s):
        return True
    return bool(_WORD_SEPARATORS.search(_strip_bracketed(s)))


def box_variants(solution: str, answer: str) -> list[str]:
    """Boxed contents of ``solution`` that differ from ``answer`` in :func:`canonical` form.

    Non-empty means the solution boxes something else too: either the same value in another
    form (keep the row) or an intermediate / second result (drop it). Telling these apart takes
    math-verify (``is_multiple_answers`` does it; loaders batch it over killable workers).
    """
    final = canonical(answer)
    seen: dict[str, str] = {}
    for b in strip_asy_boxes(solution):
        c = canonical(unwrap_boxes(b))
        if c != final and c not in seen:
            seen[c] = b.strip()
    return list(seen.values())


def strip_asy_boxes(solution: str) -> list[str]:
    """All boxed contents of ``solution`` outside ``[asy]`` blocks."""
    return all_boxed(strip_asy(solution))


def is_multiple_answers(solution: str, answer: str, *, timeout_s: float = 5.0) -> bool:
    """True if a solution boxes several different answers, or its answer lists several values.

    Rule (documented because it decides what is gradable):
    1. the answer lists several values (:func:`lists_several_answers`);
    2. some other boxed content is not the same value as the final answer: first compared in
       :func:`canonical` form, then by math-verify (``ssdlib.grading.answers_equivalent_batch``,
       killable workers), so ``15\\frac{39}{40}`` boxed next to ``\\frac{639}{40}`` is one answer
       while boxing an intermediate result is not. An undecidable comparison counts as different.
    """
    if lists_several_answers(answer):
        return True
    variants = box_variants(solution, answer)
    if not variants:
        return False
    return not all(variants_equivalent([(answer, variants)], timeout_s=timeout_s))


def variants_equivalent(rows: list[tuple[str, list[str]]], *, timeout_s: float = 5.0) -> list[bool]:
    """For each (answer, variants): True iff every variant is the same value as the answer.

    One batch over math-verify in killable worker processes (``None`` = unknown counts as False).
    """
    pairs = [(a, v) for a, vs in rows for v in vs]
    if not pairs:
        return [True] * len(rows)
    from ssdlib.grading import answers_equivalent_batch

    verdicts = iter(answers_equivalent_batch(pairs, timeout_s=timeout_s))
    return [all([next(verdicts) is True for _ in vs]) for _, vs in rows]


def is_proof_answer(answer: str) -> bool:
    """True if the gold answer is only a proof marker (``Proof``, ``QED``, ``\\blacksquare``, yes/no)."""
    return bool(_PROOF_ANSWER.match(strip_wrappers(answer).strip(" .")))


def is_restated_claim(problem: str, answer: str) -> bool:
    """True if the gold is a relation that the statement asks to prove, or copies.

    Omni-MATH stores some proofs with the claim as gold (``AE + AP = PD`` for "prove that
    AE + AP = PD"): a model that restates the claim would be graded correct. Rule: the answer
    contains a relation (``=``, ``<``, ``\\le``, ``\\parallel``...) and either the statement asks
    for a proof or the answer (canonical form) occurs in the statement. ``k=1`` for "find k"
    is kept.
    """
    if not _RELATION.search(strip_wrappers(answer)):
        return False
    if _PROOF_PROBLEM.search(problem or ""):
        return True
    c = canonical(answer)
    return len(c) >= 3 and c in canonical(problem or "")


_WORDS = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")


def is_prose_answer(answer: str, max_words: int = 2) -> bool:
    """True if the answer is a sentence rather than a value: more than ``max_words`` words.

    Words are runs of >= 2 letters that are not LaTeX commands (``\\sqrt``, ``\\text``), so
    ``n \\text{ works if and only if } n \\text{ is odd}`` (6 words) is prose while
    ``12 \\text{ cm}`` or ``\\text{(minimum)}`` are not.
    """
    return len(_WORDS.findall(answer or "")) > max_words


def _strip_bracketed(s: str) -> str:
    """``s`` with every bracketed group removed (so separators inside a tuple are ignored)."""
    prev = None
    while prev != s:
        prev = s
        s = re.sub(r"\([^()]*\)|\[[^\[\]]*\]|\\\{.*?\\\}", " ", s)
    return s
