# Two commands: `make demo` runs the pipeline on the embedded smoke profile, `make test` runs the
# tests. Both create or update .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= smoke
export PYTHONUNBUFFERED := 1
# Keep HF libraries offline: the smoke profile never needs the network, and a real-profile run
# should fail loudly here rather than hang on a download.
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv demo report lint format test test-fast fetch-model lab plan bench clean-outputs

venv:
	@bash scripts/setup_venv.sh

fetch-model: venv
	@echo "[setup] embedded model: $$(TQDM_DISABLE=1 $(VENV)/bin/ssd fetch-model)"

# Quiet: one progress line per notebook; engine/kernel output goes to outputs/<profile>/logs/.
# `make demo V=1` streams everything. A rerun only regenerates what is missing from the stores.
demo: venv fetch-model
	@$(VENV)/bin/ssd pipeline --profile $(PROFILE) $(if $(V),-v,)
	@$(VENV)/bin/ssd report --profile $(PROFILE)

report: venv
	@$(VENV)/bin/ssd report --profile $(PROFILE)

# Lint and format check (ruff, configured in pyproject.toml); `make format` applies the fixes.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: venv fetch-model lint
	$(PY) -m pytest -q tests

test-fast: venv
	$(PY) -m pytest -q -m "not slow" tests

plan: venv
	$(VENV)/bin/ssd plan --profile qwen3.5-4b

lab: venv
	$(VENV)/bin/jupyter lab notebooks/

bench: venv fetch-model
	$(PY) bench/contamination.py --sizes 10000 100000
	$(PY) bench/grading.py
	$(PY) bench/generation.py
	$(PY) bench/demo_engines.py

clean-outputs:
	rm -rf outputs/$(PROFILE)
