"""Model output is untrusted: grading must never execute it (see grading/equivalence.py)."""

from __future__ import annotations

import math_verify.parser as mv_parser
from math_verify import ExprExtractionConfig

from ssdlib.grading import answers_equivalent, grade_one
from ssdlib.grading import equivalence as eq


def _payloads(marker) -> list[str]:
    cmd = f"touch {marker}"
    return [
        f"__import__('os').system('{cmd}')",
        f'__import__("os").system("{cmd}")',
        f"eval(\"__import__('os').system('{cmd}')\")",
        f"(lambda: __import__('os').system('{cmd}'))()",
        f"1+__import__('os').system('{cmd}')",
    ]


def test_no_python_eval_config():
    assert not any(isinstance(c, ExprExtractionConfig) for c in eq.EXTRACTION_CONFIG)


def test_malicious_answers_are_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    for payload in _payloads(marker):
        out = grade_one(f"</think>The answer is \\boxed{{{payload}}}", "0", timeout_s=5)
        assert out["correct"] is False
        assert answers_equivalent(payload, "0") in (False, None)
    assert not marker.exists()


def test_sympy_parse_expr_is_never_reached(tmp_path, monkeypatch):
    # In-process: if any path handed text to sympy's eval-based parser, this would raise.
    def forbidden(*args, **kwargs):
        raise AssertionError("sympy parse_expr (eval) was called on model output")

    monkeypatch.setattr(mv_parser, "parse_expr_cached", forbidden)
    monkeypatch.setattr(mv_parser, "parse_expr", forbidden)
    eq._parse_cached.cache_clear()
    marker = tmp_path / "pwned"
    for payload in [*_payloads(marker), "1/2 + 3*4", "2^10", "0.75", r"\frac{3}{4}"]:
        eq.check_answer("0", payload, timeout_s=5)
    assert eq.check_answer("1024", "2^10", timeout_s=5) == (True, None)
    assert not marker.exists()
