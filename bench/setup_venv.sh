#!/usr/bin/env bash
# Side-by-side timing of scripts/setup_venv.sh's two install paths (uv, the default, and pip with
# SSD_SETUP_PIP=1) on this machine, alternating the arms per round so drift hits both. Each arm
# builds a fresh venv in a scratch folder (no wheel cache: a newcomer's first `make demo`), then
# the two package sets are compared (same names and versions, uv itself aside), and the folders
# are removed. Prints seconds per arm and round and the uv/pip ratio of the medians.
#
#     bash bench/setup_venv.sh [rounds]      # default 1 round (~4-6 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-1}"
scratch="$(mktemp -d /tmp/ssd-setup-bench.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
declare -A times
freeze() { "$1/bin/python" -m pip freeze --exclude-editable 2>/dev/null | grep -v -E '^(uv|pip|setuptools)==' |
  tr 'A-Z_' 'a-z-' | sort; }
for r in $(seq 1 "$rounds"); do
  arms=(uv pip); [ $((r % 2)) = 0 ] && arms=(pip uv)
  for arm in "${arms[@]}"; do
    venv="$scratch/$arm"
    rm -rf "$venv"
    start=$(date +%s.%N)
    if [ "$arm" = pip ]; then SSD_SETUP_PIP=1 VENV="$venv" bash scripts/setup_venv.sh >/dev/null
    else VENV="$venv" bash scripts/setup_venv.sh >/dev/null; fi
    t=$(echo "$(date +%s.%N) - $start" | bc)
    times[$arm]="${times[$arm]:-} $t"
    printf 'round %d %-3s %7.1f s\n' "$r" "$arm" "$t"
    freeze "$venv" > "$scratch/$arm.txt"
  done
  if ! diff -q "$scratch/uv.txt" "$scratch/pip.txt" >/dev/null; then
    echo "package sets differ:"; diff "$scratch/pip.txt" "$scratch/uv.txt" || true; exit 1
  fi
  echo "round $r: same $(wc -l < "$scratch/uv.txt") packages in both venvs"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mu=$(echo "${times[uv]}" | median); mp=$(echo "${times[pip]}" | median)
printf 'median: uv %.1f s, pip %.1f s, uv/pip %.2fx\n' "$mu" "$mp" "$(echo "$mu / $mp" | bc -l)"
