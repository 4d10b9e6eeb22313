#!/usr/bin/env bash
# One prepared training run for a machine with an NVIDIA GPU and many CPU cores (e.g. a short lease of
# one H100/H200 with 16 cores): fine-tunes the shipped weights with the shipped recipe, rendering the
# synthetic crops on all but two cores, then scores the result on the held-out test-split crops and
# leaves everything needed to judge and ship it in OUT_DIR (flat: no file deeper than OUT_DIR/).
#
#   bash scripts/train_on_gpu.sh OUT_DIR [TRAIN_MINUTES]      # default 6 min: ~8 min in all
#
# Needs python3 with torch (CUDA), numpy, opencv, matplotlib and tqdm, nothing else: the package runs
# from this checkout (PYTHONPATH), no install, no network. TRAIN_DEVICE=cpu (with a small
# TRAIN_MINUTES and TRAIN_BATCH) is a dry run of the same steps on a machine without a GPU.
# Writes 8 files (what a lease brings back at most): best.pt + best.json (the best held-out step's
# weights + sidecar), heldout.json (report of best.pt), heldout_shipped.json (report of the shipped
# weights, same crops), loss.png, predictions.png, train.log, report.log. To ship: put best.pt/.json
# in a folder and run `python -m face_anything_ros.training.ship --run FOLDER` (docs/MODEL_CARD.md).
set -euo pipefail

out=${1:?usage: bash scripts/train_on_gpu.sh OUT_DIR [TRAIN_MINUTES]}
minutes=${2:-6}
device=${TRAIN_DEVICE:-cuda}
batch=${TRAIN_BATCH:-64}
supersample=${TRAIN_SUPERSAMPLE:-0.5}  # share of crops rendered at 2x (lower it if the workers cannot keep up)
# TRAIN_PRIOR_INPUT=1 gives image-only shipped weights the face-mesh prior input (weights that take it keep it)
prior_input=${TRAIN_PRIOR_INPUT:+--prior-input}
python=${PYTHON:-python3}
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$out"

if [[ $device == cuda* ]] && ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "train_on_gpu.sh: no CUDA device visible to $python (TRAIN_DEVICE=cpu runs the dry run)" >&2
    exit 2
fi
cores=$(nproc)
workers=$(( cores > 4 ? cores - 2 : 1 ))
shipped=face_anything_ros/weights/face_anything_small.pt
run="$out/run"

echo "[train_on_gpu] $(date -u +%FT%TZ) device=$device batch=$batch workers=$workers minutes=$minutes supersample=$supersample" | tee "$out/train.log"
"$python" -m face_anything_ros.cli.main train --out "$run" --minutes "$minutes" --device "$device" \
    --batch "$batch" --echo 1 --workers "$workers" --threads 2 --checkpoint-minutes 1 --seed 5 \
    --lr 2e-4 --init-weights "$shipped" --confidence-alpha 0.5 --canonical-weight 0.2 \
    --supersample-probability "$supersample" $prior_input 2>&1 | tr '\r' '\n' \
    | grep -v "step/s" >> "$out/train.log"

report() {  # weights, json
    "$python" -m face_anything_ros.training.report --weights "$1" --crops 256 --windows 16 --threads 2 \
        --json "$2" "${@:3}"
}
report "$run/best.pt" "$out/heldout.json" --image "$out/predictions.png" > "$out/report.log" 2>&1
report "$shipped" "$out/heldout_shipped.json" >> "$out/report.log" 2>&1
cp "$run"/best.pt "$run"/best.json "$run"/loss.png "$out"/
rm -rf "$run"
echo "[train_on_gpu] $(date -u +%FT%TZ) done" | tee -a "$out/train.log"
"$python" - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
new, old = (json.load(open(f"{out}/{name}")) for name in ("heldout.json", "heldout_shipped.json"))
for key in sorted(set(new) & set(old)):
    if isinstance(new[key], (int, float)):
        print(f"{key:40s} shipped {old[key]:.5f}  new {new[key]:.5f}")
EOF
