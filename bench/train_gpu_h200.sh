#!/usr/bin/env bash
# The #14 GPU measurements, one device call per stage (bench/train_gpu.md, "Third session").
# Run on the device machine from the repo root, carrying .cache/train_wheels, .cache/bench_tok and
# .cache/gpu_cache (Triton + inductor caches of the previous call: a cold first step costs ~150 s).
#   bash bench/train_gpu_h200.sh 32k              # today, after, and the new variants at 32k, side by side
#   bash bench/train_gpu_h200.sh mix "<variant>"  # length mix, 2 passes: today, after, <variant>
#   bash bench/train_gpu_h200.sh sizes "<variant>" # 8k and 48k of <variant>
#   bash bench/train_gpu_h200.sh gradcheck        # model-level gradient check of the new paths
# Everything lands in $OUT; copy $OUT/{tri,ind}.tgz back into .cache/gpu_cache/ for the next call.
set -uo pipefail
stage=${1:?stage: 32k | mix VARIANT | sizes VARIANT | gradcheck}
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
