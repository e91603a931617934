"""Generation progress counts token budget (n x max_tokens per request), so the bar moves while
samples are still running and ends at exactly 100%; the vLLM token counter counts each step's
new tokens and leaves the engine as it found it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ssdlib import progress
from ssdlib.config import DecodeCfg, load_params
from ssdlib.generation import run as gen_run
from ssdlib.generation.backends import Output, Request, _TokenCounter

SMOKE = load_params("03_baselines", "smoke")


class FakeBackend:
    """Two requests (n = 2 and n = 1, max_tokens 10), in vLLM's order within a step: finished
    requests first, then the step's token count. The n = 1 request stops after 4 tokens in
    step 2, the other's two samples run to their cap in step 3."""

    def __init__(self, counts_tokens: bool):
        self.counts_tokens = counts_tokens

    def run(self, requests, on_finished, on_tokens=None):
        a, b = requests
        tick = on_tokens if self.counts_tokens else (lambda n: None)
        tick(3 * 3)  # step 1: three samples x 3 tokens
        on_finished(b, [Output("x", 4, "stop")])  # step 2: b's sample stops at its 4th token
        tick(3 * 3 + 1)
        on_finished(a, [Output("y", 10, "length"), Output("z", 10, "length")])  # step 3
        tick(10 + 2 * 10)  # the last step's count arrives after everything finished

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.mark.parametrize("counts_tokens", [True, False])
def test_progress_is_token_budget_and_ends_at_full(tmp_path, monkeypatch, counts_tokens):
    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(events))
    monkeypatch.setattr(progress, "MIN_INTERVAL_S", 0.0)  # keep every event
    monkeypatch.setattr(gen_run, "make_backend", lambda *a, **k: FakeBackend(counts_tokens))
    decode = DecodeCfg(temperature=1.0, max_tokens=10, n=2)
    reqs = [
        Request("p/a", [1, 2], decode, [0, 1], "a"),
        Request("p/b", [1, 3], decode.model_copy(update={"n": 1}), [0], "b"),
    ]
    written = gen_run.execute(
        reqs,
        model_path="unused",
        model_id="fake",
        model=SMOKE.model,
        backend=SMOKE.backend,
        store_root=tmp_path / "gen",
        seed=0,
    )
    assert written == 3
    evs = [json.loads(x) for x in events.read_text().splitlines()]
    assert {e["unit"] for e in evs} == {"tok"} and {e["total"] for e in evs} == {30}
    done = [e["done"] for e in evs]
    assert done == sorted(done) and done[0] == 0 and done[-1] == 30  # monotone, ends full
    assert done.count(30) == 1  # one final line: nothing reported after the end
    assert evs[-1]["postfix"] == "3/3 samples"
    if counts_tokens:
        # Moving before any sample finished; b's stop frees its 6 unused tokens at once.
        assert done == [0, 9, 15, 16, 30]
    else:
        # Only finished samples count: b's whole budget (10), then everything.
        assert done == [0, 10, 30]


def test_token_counter_counts_each_steps_new_tokens_and_detaches():
    class Core:
        def __init__(self):
            self.steps = iter(
                [
                    [SimpleNamespace(new_token_ids=[5]), SimpleNamespace(new_token_ids=[6])],
                    [SimpleNamespace(new_token_ids=[7, 8]), SimpleNamespace(new_token_ids=[])],
                ]
            )

        def get_output(self):
            return SimpleNamespace(outputs=next(self.steps))

    engine = SimpleNamespace(engine_core=Core())
    counter = _TokenCounter(engine)
    engine.engine_core.get_output()
    assert counter.tokens == 2
    engine.engine_core.get_output()
    assert counter.tokens == 4
    counter.detach()
    assert "get_output" not in vars(engine.engine_core)  # the class's method again
    assert _TokenCounter(SimpleNamespace()).tokens == 0  # no engine core: counts nothing
