"""Imported by the grading forkserver only: load and warm math-verify once, so that every
forked worker (and every replacement of a killed one) starts with parsers and sympy's lazy
imports ready instead of paying ~0.1-0.4 s on its first task."""

from ssdlib.grading.equivalence import check_answer

check_answer(r"\frac{1}{2}", "0.5", timeout_s=5.0)
check_answer(r"\{1, 2\}", r"\left[1, 2\right)", timeout_s=5.0)
