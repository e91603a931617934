#!/usr/bin/env bash
# The #14 GPU measurements, one device call per stage (bench/train_gpu.md, "Third session").
# Run on the device machine from the repo root, carrying .cache/train_wheels, .cache/bench_tok and
# .cache/gpu_cache (Triton + inductor caches of the previous call: a cold first step costs ~150 s).
#   bash bench/train_gpu_h200.sh 32k              # today, after, and the new variants at 32k, side by side
#   bash bench/train_gpu_h200.sh mix "<variant>"  # length mix, 2 passes: today, after, <variant>
#   bash bench/train_gpu_h200.sh sizes "<variant>" # 8k and 48k of <variant>
#   bash bench/train_gpu_h200.sh gradcheck        # model-level gradient check of the new paths
#   bash bench/train_gpu_h200.sh v3               # rule v3's rows, dot audit and verdicts (seventh session)
#   bash bench/train_gpu_h200.sh speed VARIANT    # today and VARIANT side by side at 32k, 8k, 48k (MIX=1: + mix)
#   bash bench/train_gpu_h200.sh accum            # 32k with the study's gradient accumulation: best x accum 1 / K, today
# Everything lands in $OUT; copy $OUT/{tri,ind}.tgz back into .cache/gpu_cache/ for the next call.
set -uo pipefail
stage=${1:?stage: 32k | mix VARIANT | sizes VARIANT | gradcheck | v3 | speed VARIANT | accum}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .cache/train_wheels/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/ind TRITON_CACHE_DIR=/tmp/tri
for f in .cache/gpu_cache/*.tgz; do [ -f "$f" ] && tar xzf "$f" -C /tmp; done
# the bench needs a tokenizer folder only for a pad id and for saving: without .cache/bench_tok, make a
# 3-token one (what the fifth session ran with; the random-weight model's vocabulary is not the tokenizer's)
[ -f .cache/bench_tok/tokenizer.json ] || python3 -c "
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast
t = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({'<pad>': 0, '<eos>': 1, '<unk>': 2}, unk_token='<unk>')),
                            pad_token='<pad>', eos_token='<eos>', unk_token='<unk>')
t.chat_template = \"{% for m in messages %}{{ m['content'] }}{% endfor %}\"
t.save_pretrained('.cache/bench_tok')" || exit 1
TODAY=fla-bypass
AFTER=fla-fix,compile=blocks,keep=4
# STAGE_BUDGET=S bounds the stage's benchmark to S seconds, so the caches are still tarred when a
# slow stage would otherwise run into the device call's limit (several stages can share one call)
TO="timeout -k 10 ${STAGE_BUDGET:-86400}"
B="$TO python3 bench/train_gpu.py --tokenizer .cache/bench_tok"
case $stage in
32k)
  # conv=fla alone is left out: gdn=fused routes the same conv and more
  $B --steps 4 --seq-lens 32768 --child-timeout 230 --out "$OUT/train_gpu_32k.jsonl" --variants $TODAY $AFTER \
    $AFTER,gdn=fused fla-fix,compile=blocks,gdn=fused,keep-tokens=458752 \
    fla-fix,compile=blocks,gdn=fused,keep-tokens=655360
  ;;
mix)
  best=${2:?the best new variant of the 32k stage}
  $B --seq-lens --mix 6 --mix-passes 2 --child-timeout ${CHILD_TIMEOUT:-170} --out "$OUT/train_gpu_mix.jsonl" \
    --variants ${MIX_VARIANTS:-$TODAY $AFTER "$best"}
  ;;
sizes)
  best=${2:?the best new variant of the 32k stage}
  # SIZES / SIZES_TAG: other lengths (e.g. SIZES=32768 SIZES_TAG=32k_more for a 32k variant the 32k stage missed)
  $B --steps ${SIZES_STEPS:-3} --seq-lens ${SIZES:-8192 49152} --child-timeout ${CHILD_TIMEOUT:-150} \
    --out "$OUT/train_gpu_${SIZES_TAG:-8k_48k}.jsonl" --variants "$best"
  ;;
gradcheck)
  # GRADCHECK_ARGS: e.g. "--seeds 0 1 2"; model rows take +f32 (no autocast), e.g. fixed+fused+f32
  # GRADCHECK_TAG: suffix of the json (two gradcheck stages in one call: run the rows that matter first)
  $TO python3 bench/gradcheck_gpu.py --skip-op --out "$OUT/gradcheck${GRADCHECK_TAG:-}.json" ${GRADCHECK_ARGS:-} \
    --models ${GRADCHECK_MODELS:-fixed+compile+fused wrong-dg+fused fixed+compile+conv fixed+compile}
  ;;
speed)
  # today's path and <variant> side by side, one length at a time (SIZES, default 32k 8k 48k), then
  # with MIX=1 the length mix (2 passes); rows append to $OUT/speed.jsonl
  best=${2:?the variant to set beside TODAY}
  for L in ${SIZES:-32768 8192 49152}; do
    $B --steps ${SIZES_STEPS:-4} --seq-lens $L --child-timeout ${CHILD_TIMEOUT:-200} --out "$OUT/speed.jsonl" \
      --variants $TODAY "$best"
  done
  [ -n "${MIX:-}" ] && $B --seq-lens --mix 6 --mix-passes 2 --child-timeout ${CHILD_TIMEOUT:-200} \
    --out "$OUT/speed_mix.jsonl" --variants $TODAY "$best"
  ;;
accum)
  # The study trains batch 1 x 32 accumulated rows per optimizer step (params/qwen3.5-4b/05_train.yaml);
  # bench/train_gpu.py's default is one row per optimizer step, so every row paid a full AdamW step
  # over the float32 masters, clipping and zeroing. At ACCUM_LEN (default 32768), one child per row,
  # most important first (the budget cuts the last):
  #   best1  the best path, accum=1: ACCUM1_STEPS (4) steps, 3 timed as in the seventh session, then
  #          one more step profiled (kernel table $OUT/prof_*.txt; not timed; ACCUM_PROFILE=0: none)
  #   bestK  the best path, accum=$ACCUM (8): ACCUM_STEPS (2) optimizer steps of K rows; the first
  #          (compile, autotune, AdamW state) untimed, so the timed window is one whole optimizer step
  #          of K rows, the optimizer's cost in it once. If it runs out of memory (K > 1 keeps the
  #          float32 gradients, ~15.7 GiB, resident through the next rows' forward; at 32k the best
  #          path peaks at 126 GiB with K = 1), the same with keep-tokens=$ACCUM_FALLBACK_KEEP
  #          (327680: 10 layers kept at 32k, 6 at 48k; 0: no fallback)
  #   today1 today's path (fla-bypass), accum=1, ACCUM1_STEPS steps
  #   todayK today's path, accum=K: only with ACCUM_TODAY=1 (last), or ACCUM_ROWS="todayK" on a warm machine
  # ACCUM_ROWS: the rows to run, in order (default "best1 bestK today1"). STAGE_BUDGET (default 570):
  # seconds after this script began by which every child has ended; a child gets min(its cap, what is
  # left); caps ACCUM_CAP_BEST1 330 (cold: the first compiled 32k step takes 150-200 s),
  # ACCUM_CAP_BESTK 240, ACCUM_CAP_TODAY 260 (cold first step ~140 s). Rows append to
  # $OUT/train_gpu_accum.jsonl; a summary (s per row) ends the stage.
  K=${ACCUM:-8}; L=${ACCUM_LEN:-32768}; S1=${ACCUM1_STEPS:-4}; SK=${ACCUM_STEPS:-2}
  BEST=${ACCUM_BEST:-fla-fix,compile=blocks,gdn=fused,keep-tokens=458752}
  J="$OUT/train_gpu_accum.jsonl"; end=${STAGE_BUDGET:-570}
  rows=${ACCUM_ROWS:-best1 bestK today1}; [ -n "${ACCUM_TODAY:-}" ] && rows="$rows todayK"
  arow() {  # arow CAP STEPS VARIANT [bench args]: one child, bounded by min(CAP, what the budget leaves)
    local cap=$1 steps=$2 v=$3; shift 3
    local left=$((end - SECONDS - 15))
    if [ $left -lt 30 ]; then echo "SKIP $v: ${left}s left at ${SECONDS}s"; return 0; fi
    local t=$((cap < left ? cap : left))
    echo "ROW $v at ${L} tokens, $steps optimizer steps, child timeout ${t}s, at ${SECONDS}s"
    timeout -k 10 $((t + 10)) python3 bench/train_gpu.py --tokenizer .cache/bench_tok --seq-lens $L \
      --steps $steps --child-timeout $t --out "$J" --variants "$v" "$@"
  }
  for r in $rows; do
    case $r in
    best1)
      if [ "${ACCUM_PROFILE:-1}" != 0 ]; then  # profile the step after the timed ones: they stay clean
        arow ${ACCUM_CAP_BEST1:-330} $((S1 + 1)) "$BEST" --profile-out "$OUT/prof_{v}_{w}.txt" --profile-step $((S1 + 1))
      else
        arow ${ACCUM_CAP_BEST1:-330} $S1 "$BEST"
      fi ;;
    bestK)
      n0=$(cat "$J" 2>/dev/null | wc -l)
      arow ${ACCUM_CAP_BESTK:-240} $SK "$BEST,accum=$K"
      fb=${ACCUM_FALLBACK_KEEP:-327680}  # only this row's lines count
      if [ "$fb" != 0 ] && tail -n +$((n0 + 1)) "$J" 2>/dev/null | grep -F "\"variant\": \"$BEST,accum=$K\"" |
          grep -qi '"error": "[^"]*\(OOM\|out of memory\)'; then
        arow ${ACCUM_CAP_BESTK:-240} $SK "$(echo "$BEST" | sed "s/keep-tokens=[0-9]*/keep-tokens=$fb/"),accum=$K"
      fi ;;
    today1) arow ${ACCUM_CAP_TODAY:-260} $S1 "$TODAY" ;;
    todayK) arow ${ACCUM_CAP_TODAY:-260} $SK "$TODAY,accum=$K" ;;
    *) echo "unknown accum row $r (best1 bestK today1 todayK)" >&2 ;;
    esac
  done
  [ -f "$J" ] && python3 - "$J" <<'PY'
import json, sys
# each row at its own length: the jsonl can hold rows of earlier invocations at other ACCUM_LEN
# (workload "8k" / "32k" / "48k" = that many x 1024 tokens per row; other workloads: s/row from
# the timed rows, "-" without them)
print(f"\n{'variant':62s} {'load':>5} {'tok/s':>7} {'s/row':>6} {'MFU':>6} {'peak GiB':>8}  timed")
for x in map(json.loads, open(sys.argv[1])):
    w = str(x.get("workload", "?"))
    if "error" in x:
        print(f"{x['variant']:62s} {w:>5} {x['error'][:90]}")
        continue
    L = int(w[:-1]) * 1024 if w[-1:] == "k" and w[:-1].isdigit() else None
    n = x.get("timed_rows") or (round(x["tokens_per_s"] * x["timed_s"] / L) if L else None)
    per = L / x["tokens_per_s"] if L else (x["timed_s"] / n if n else None)
    per = f"{per:6.3f}" if per is not None else f"{'-':>6}"
    print(f"{x['variant']:62s} {w:>5} {x['tokens_per_s']:7.0f} {per} {x['mfu']:6.1%} "
          f"{x['max_memory_gib']:8.1f}  {x['timed_s']:.1f} s, {n if n else '?'} rows")
PY
  ;;
v3)
  # rule v3's rows (bench/train_gpu.md, "Seventh session"), accuracy only, so in parallel processes:
  # per seed, fla's float32 rows with every float32 dot in 3xTF32 (own Triton cache, one autotune
  # config) and their torch+f32 floors; the bf16 compiled rows as training runs them (default
  # precision, full autotuning); report only (V3_REPORT=1): fla's float32 rows with the default
  # TF32 dots on the CPU interpreter's inputs. Then the dot audit (P) and the verdicts.
  # WARM="<variant>@<len> ...": meanwhile, one after the other, compile-only runs of bench/train_gpu.py
  # (2 steps, nothing reported) so that a later speed call on this machine starts warm; fla's
  # autotune choices and inductor's best configs made under this load are not kept.
  V=/tmp/v3out; mkdir -p $V
  G="python3 bench/gradcheck_gpu.py --skip-op"
  X3="--f32-dots tf32x3 --one-config --op32 torch+f32 fixed wrong-dg fixed+fused wrong-dg+fused
      --models torch+f32 fixed+f32 fixed+fused+f32 wrong-dg+f32 wrong-dg+fused+f32"
  for s in ${V3_SEEDS:-0 1 2}; do
    TRITON_CACHE_DIR=/tmp/tri_x3 $TO $G $X3 --seeds $s --out $V/x3_s$s.json > $V/x3_s$s.log 2>&1 &
  done
  # (caches of their own: autotune results chosen under this load must not reach the speed rows)
  export TRITON_CACHE_DIR=/tmp/tri_bf16 TORCHINDUCTOR_CACHE_DIR=/tmp/ind_gc
  $TO $G --seeds 0 1 2 --models torch fixed+compile --out $V/bf16_shipped.json > $V/bf16_shipped.log 2>&1 &
  $TO $G --seeds 0 1 2 --models fixed+compile+fused --out $V/bf16_fused.json > $V/bf16_fused.log 2>&1 &
  export TRITON_CACHE_DIR=/tmp/tri TORCHINDUCTOR_CACHE_DIR=/tmp/ind
  [ -n "${V3_REPORT:-}" ] && TRITON_CACHE_DIR=/tmp/tri_one $TO $G --one-config --op32 fixed fixed+fused \
    --op32-cpu-rng --seeds 0 1 2 --models fixed+f32 fixed+fused+f32 --out $V/tf32_report.json > $V/tf32_report.log 2>&1 &
  if [ -n "${WARM:-}" ]; then  # WARM_BUDGET: seconds for all of them
    end=$((SECONDS + ${WARM_BUDGET:-400}))
    (for vw in $WARM; do
      rem=$((end - SECONDS)); [ $rem -gt 30 ] || break; echo "WARM $vw (${rem}s left)"
      FLA_CACHE_RESULTS=0 timeout -k 10 $rem python3 bench/train_gpu.py --tokenizer .cache/bench_tok --steps 2 \
        --seq-lens ${vw#*@} --child-timeout $rem --out $V/warm.jsonl --variants ${vw%@*}
    done; find /tmp/ind -name '*.best_config' -delete; echo "WARM done at ${SECONDS}s") > $V/warm.log 2>&1 &
    warm=$!
  fi
  while [ "$(jobs -rp | grep -vx "${warm:-x}" | wc -l)" -gt 0 ]; do sleep 5; done
  python3 bench/gradcheck_gpu.py --dot-audit /tmp/tri_x3 --out $V/dot_audit_x3.json
  [ -d /tmp/tri_one ] && python3 bench/gradcheck_gpu.py --dot-audit /tmp/tri_one --out $V/dot_audit_default.json > /dev/null
  J=(); for f in $V/*.json $V/*.json.partial; do [ -f "${f%.partial}" ] && [ "$f" != "${f%.partial}" ] || J+=("$f"); done
  python3 bench/gradcheck_gpu.py --judge $(ls "${J[@]}" | grep -v dot_audit) --audit $V/dot_audit_x3.json \
    --seeds 0 1 2 --out $V/verdict_v3.json
  [ -n "${warm:-}" ] && wait $warm
  grep -h "^Traceback\|Error" $V/*.log | sort | uniq -c | head -20
  tar czf "$OUT/v3.tgz" -C /tmp v3out
  exit 0
  ;;
*) echo "unknown stage $stage" >&2; exit 2 ;;
esac
rc=$?
# SKIP_TAR=1: leave the caches in /tmp untarred (a later stage of the same call tars them)
[ -n "${SKIP_TAR:-}" ] && exit $rc
(cd /tmp && tar czf "$OUT/tri.tgz" tri && tar czf "$OUT/ind.tgz" ind)
# a file over 16 MiB does not come back from the device: send the Triton cache in parts (and at most 8
# files come back in all: the fifth session's call 2 lost its 4th part to that count, keep other outputs few)
# (cat .cache/gpu_cache/tri.tgz.part* > .cache/gpu_cache/tri.tgz here)
[ "$(stat -c %s "$OUT/tri.tgz")" -gt 15000000 ] && split -b 16000000 "$OUT/tri.tgz" "$OUT/tri.tgz.part" && rm "$OUT/tri.tgz"
exit $rc
