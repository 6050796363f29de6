#!/usr/bin/env bash
# The whole reader training on one lent GPU, in one command of a few minutes:
# teacher (all-mpnet-base-v2, fine-tuned for SQuAD 2.0) -> its logits on the student's windows
# -> student (all-MiniLM-L6-v2) on gold spans and the teacher's distributions together.
#
# Inputs in $G (packed with scripts/reader/pack.py, carried to the machine beforehand):
#   mpnet/part-*.npz  minilm/part-*.npz  squad/{train,dev}.json  stop_words.txt
# Output in $OUT: the student's weights (fp16, pack.py parts, its training.json in part 0) and
# the teacher's training record; the log goes to stdout.
# Each training loop has a time budget (train.py --time-budget), so the run ends in time
# even on a slower machine; the records say how many steps ran.
#
# Locally, as a smoke test on a few questions:
#   G=/tmp/g OUT=/tmp/out DEVICE=cpu TEACHER_BUDGET=30 STUDENT_BUDGET=30 bash scripts/reader/gpu.sh
#   G=/tmp/g OUT=/tmp/out DEVICE=cpu STAGES=large LARGE_ARGS="--max-steps 2" \
#       bash scripts/reader/gpu.sh && G=/tmp/g OUT=/tmp/out STAGES=large-rest bash scripts/reader/gpu.sh
#
# STAGES picks what runs (default all): "teacher" (unpack, teacher, its logits; the teacher and
# logits stay in $G) and "student" (unpack, student, pack), so that the two halves can run as two
# calls of at most 10 minutes each on a machine that stays warm between them.
#
# STAGES=large trains all-mpnet-base-v2 itself as the reader to ship, at the shipped window
# (256 tokens), and packs it int8 (pack.py, a scale per row) into 15 MB parts in
# $G/large-parts. A call brings back at most 64 MiB, so "large" copies parts 000-003 to $OUT
# and "large-rest" (a further call, nothing trained) the others. MiniLM is not needed for these two.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=${PY:-python3}
G=${G:-/tmp/g}
DEVICE=${DEVICE:-cuda}
TEACHER_EPOCHS=${TEACHER_EPOCHS:-2}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-3}
TEACHER_BUDGET=${TEACHER_BUDGET:-170}
LARGE_EPOCHS=${LARGE_EPOCHS:-2}
LARGE_BUDGET=${LARGE_BUDGET:-300}
STUDENT_BUDGET=${STUDENT_BUDGET:-110}
THREADS=${THREADS:-8}
STAGES=${STAGES:-teacher student}
DATA=(--train "$G/squad/train.json" --dev "$G/squad/dev.json" --title --dev-repeats 2
      --paragraph-negatives 0.3 --crop-negatives 0.15 --stop-words "$G/stop_words.txt"
      --device "$DEVICE" --threads "$THREADS" --checkpoint-every 100000)
mkdir -p "$OUT"
started=$SECONDS
stamp() { echo "[$((SECONDS - started)) s] $*"; }
run() { [[ " $STAGES " == *" $1 "* ]]; }

shopt -s nullglob
if run large-rest; then
    parts=("$G"/large-parts/part-*.npz)
    if [ ${#parts[@]} -eq 0 ]; then
        echo "Error: no parts in $G/large-parts: run STAGES=large first" >&2
        exit 1
    fi
    if [ ${#parts[@]} -gt 4 ]; then cp "${parts[@]:4}" "$OUT/"; fi
    stamp "returned the parts after the first 4 (${#parts[@]} in all)"
    exit 0
fi

stamp "unpack"
if run teacher || run large; then $PY pack.py unpack "$G"/mpnet/part-*.npz --out "$G/mpnet-base"; fi

if run large; then
    stamp "large reader"
    $PY train.py "${DATA[@]}" --out "$G/large" --base "$G/mpnet-base" \
        --epochs "$LARGE_EPOCHS" --lr 5e-5 --batch-size 32 --max-length 256 \
        --time-budget "$LARGE_BUDGET" ${LARGE_ARGS:-}
    rm -rf "$G/large-parts"
    $PY pack.py pack "$G/large/final" "$G/large-parts" --part-mb 15
    parts=("$G"/large-parts/part-*.npz)
    cp "${parts[@]:0:4}" "$OUT/"
    cp "$G/large/final/training.json" "$OUT/large-training.json"
    stamp "returned the first 4 of ${#parts[@]} parts; STAGES=large-rest brings the others"
    exit 0
fi

$PY pack.py unpack "$G"/minilm/part-*.npz --out "$G/minilm-base"

if run teacher; then
    stamp "teacher"
    if $PY train.py "${DATA[@]}" --out "$G/teacher" --base "$G/mpnet-base" \
        --epochs "$TEACHER_EPOCHS" --lr 5e-5 --batch-size 32 --max-length 384 \
        --time-budget "$TEACHER_BUDGET" && [ -f "$G/teacher/final/training.json" ]; then
        cp "$G/teacher/final/training.json" "$OUT/teacher-training.json"
        stamp "teacher logits"
        $PY distill.py logits "${DATA[@]}" --teacher "$G/teacher/final" --base "$G/minilm-base" \
            --out "$G/distill" --batch-size 256 || true
    fi
fi
run student || { stamp "done"; exit 0; }

# Distil when the teacher's logits cover every window, else train on the gold spans alone.
logits_done() {
    $PY -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(s["done"] != s["shape"][0])' \
        "$G/distill/teacher_logits.json" 2>/dev/null
}

if logits_done; then
    stamp "student (distilled)"
    $PY distill.py train "${DATA[@]}" --teacher "$G/teacher/final" --base "$G/minilm-base" \
        --out "$G/distill" --epochs "$STUDENT_EPOCHS" --batch-size 32 --lr 1e-4 --alpha 0.5 \
        --temperature 2 --time-budget "$STUDENT_BUDGET"
    final="$G/distill/final"
else
    stamp "student (no teacher: gold spans only)"
    $PY train.py "${DATA[@]}" --out "$G/student" --base "$G/minilm-base" \
        --epochs "$STUDENT_EPOCHS" --batch-size 32 --lr 1e-4 --time-budget "$STUDENT_BUDGET"
    final="$G/student/final"
fi

stamp "pack the student"
$PY pack.py pack "$final" "$OUT/student" --weights fp16 --part-mb 15
stamp "done"
