"""last_boxed / count_boxed / all_boxed on the shapes real solutions and responses take."""

import sys

import pytest

from ssdlib.boxed import all_boxed, count_boxed, last_boxed


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"so $\boxed{42}$.", "42"),
        (r"$\boxed{\frac{1}{2}}$", r"\frac{1}{2}"),
        (r"$\boxed{\frac{\sqrt{3}}{2^{10}}}$ done", r"\frac{\sqrt{3}}{2^{10}}"),
        (r"first \boxed{1} then \boxed{2}", "2"),
        (r"\fbox{81}", "81"),
        (r"\boxed {1025}", "1025"),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),  # escaped braces do not close the box
        (r"\boxed{\}}", r"\}"),
        (r"$\boxed 5$.", "5"),
        (r"answer: \boxed 10.", "10"),
        (r"\boxed{\boxed{7}}", r"\boxed{7}"),  # the outer box is the top-level one
        (r"\boxed{}", ""),
        (r"\boxed{a}\fbox{b}", "b"),
    ],
)
def test_last_boxed_extracts(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "no box here",
        r"\boxed{12",  # unterminated
        r"\boxed{1} and then \boxed{\frac{2}{3}",  # last one unterminated: no fallback to the first
        r"\fboxsep=2pt \boxedtext{3}",  # longer command names are not boxes
    ],
)
def test_last_boxed_none(text):
    assert last_boxed(text) is None


def test_count_and_all_boxed():
    text = r"\boxed{1}, \fbox{ 2 }, \boxed{\boxed{3}}, \boxed 4 and \boxed{5"
    assert all_boxed(text) == ["1", " 2 ", r"\boxed{3}", "4"]
    assert count_boxed(text) == 4
    assert count_boxed("nothing") == 0
    assert count_boxed(None) == 0


def test_long_text_is_fast():
    import time

    text = ("word " * 200_000) + r"\boxed{9}"
    t = time.perf_counter()
    assert last_boxed(text) == "9"
    assert time.perf_counter() - t < 0.5  # seconds; a grader calls this on 48k-token responses


def test_answers_module_has_no_heavy_imports():
    # grading workers import this module; it must not drag pandas/pyarrow in with it
    import subprocess

    code = "import sys; import ssdlib.boxed; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
