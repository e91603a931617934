"""Answer-region and last-box extraction (pure string logic, no workers)."""

from __future__ import annotations

import pytest

from ssdlib.grading import answer_region, extract, last_boxed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\boxed{7}", "7"),
        (r"a \boxed{1} b \boxed{2} c", "2"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (
            r"\boxed{\left(\frac{a}{b}, \sqrt{c^{2}}\right)}",
            r"\left(\frac{a}{b}, \sqrt{c^{2}}\right)",
        ),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),  # escaped braces do not close the box
        (r"\boxed{\}}", r"\}"),
        (r"\boxed {5}", "5"),
        (r"\fbox{5}", "5"),
        (r"\boxed{5} then \fbox{6}", "6"),
        (r"\boxed{a \boxed{b}} and more", r"a \boxed{b}"),  # nested box belongs to the outer one
        (r"\boxed{  x = 3 }", "x = 3"),
        (r"no box here", None),
        (r"\boxed{}", None),
        (r"\boxed{5} and then \boxed{", None),  # last box unterminated: no answer
        (r"\boxed{\frac{1}{2} truncated", None),
        (r"\boxed{5} trailing }}} braces", "5"),
        (r"so \boxed 5.", "5"),  # bare form (MATH solutions), trailing period dropped
        (r"\fboxsep=3pt \boxed{2}", "2"),  # \fboxsep is not a box
        ("\\boxed{" + "{" * 500 + "1" + "}" * 500 + "}", "{" * 500 + "1" + "}" * 500),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_answer_region_thinking_modes():
    closed = "<think>x \\boxed{1}</think> y \\boxed{2}"
    assert answer_region(closed) == " y \\boxed{2}"
    assert answer_region("<think>never closed \\boxed{1}") is None
    # Template pre-filled "<think>": only the closing tag is in the response.
    assert answer_region("thoughts</think>answer") == "answer"
    # The LAST </think> starts the answer region.
    assert answer_region("a</think>b<think>c</think>d") == "d"
    # No tags: auto mode treats the response as non-thinking, explicit True does not.
    assert answer_region("plain \\boxed{3}") == "plain \\boxed{3}"
    assert answer_region("plain \\boxed{3}", thinking=True) is None
    # Explicit False: tags are ordinary text, the whole response is the region.
    assert answer_region("a</think>b", thinking=False) == "a</think>b"


def test_extract_flags():
    ex = extract("<think>\\boxed{1}")
    assert (ex.think_closed, ex.boxed, ex.extracted) == (False, False, None)
    ex = extract("t</think>\\boxed{4}")
    assert (ex.think_closed, ex.boxed, ex.extracted) == (True, True, "4")
    ex = extract("t</think>no box")
    assert (ex.think_closed, ex.boxed, ex.extracted) == (True, False, None)
    # think_closed is literally '"</think>" in response', whatever the thinking switch says.
    assert extract("a</think>\\boxed{1}", thinking=False).think_closed is True


def test_extract_is_linear_on_long_responses():
    import time

    # ~1.5 MB of reasoning with many braces and boxes: must stay well under a second.
    body = "We have \\frac{a}{b} = {c} and \\boxed{3}. " * 40000
    t0 = time.perf_counter()
    ex = extract(body + "</think>\\boxed{42}")
    assert ex.extracted == "42"
    assert last_boxed(body) == "3"
    assert time.perf_counter() - t0 < 2.0
