#!/usr/bin/env bash
# Full prediction of one 1500x2000 16-bit radiograph (a phantom) with the default bundle:
# `boneage predict` (decode, U-Net, CLAHE, keypoints, registration, regions, six region nets,
# ensemble) without TTA and with TTA-10, against the same model steps in PyTorch + OpenCV
# (bench/predict_peer.py), 2 threads each. Seconds per image are medians over repeated images
# in one process (the bundle loaded once); the one-image command's wall time is printed too.
# Ratio = peer time / boneage time (> 1: boneage faster).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/peer-env.sh
BUNDLE="$(realpath "${BUNDLE:-models/bundle}")"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$B" phantom --n 1 --size 1500x2000 --bit16 --seed 5 --out "$W/ph" >/dev/null
IMG=$(ls "$W"/ph/images/*.png | head -1)
export OMP_NUM_THREADS=2 RAYON_NUM_THREADS=2
start=$(date +%s.%N)
"$B" predict --model "$BUNDLE" --sex M "$IMG" >/dev/null 2>&1
end=$(date +%s.%N)
one=$(python3 -c "print(f'{$end - $start:.2f}')")
ours1=$("$B" predict --model "$BUNDLE" --sex M --one-at-a-time --tta 1 "$IMG" "$IMG" "$IMG" "$IMG" "$IMG" "$IMG" 2>/dev/null)
ours10=$("$B" predict --model "$BUNDLE" --sex M --one-at-a-time --tta 10 "$IMG" "$IMG" "$IMG" "$IMG" "$IMG" "$IMG" 2>/dev/null)
peer=$(cd bench && "$BONEAGE_PYTHON" predict_peer.py --image "$IMG" --bundle "$BUNDLE" --tta 10 --threads 2)
python3 - "$ours1" "$ours10" "$peer" "$one" <<'PY'
import json, statistics, sys
def med(lines):
    t = [json.loads(l)["seconds"]["total"] for l in lines.strip().splitlines()][1:]
    return statistics.median(t)
def parts(lines):
    rows = [json.loads(l)["seconds"] for l in lines.strip().splitlines()][1:]
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}
a1, a10, p, one = med(sys.argv[1]), med(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
print(f"predict 1500x2000, no TTA  boneage {a1:.3f} s  {p['impl']} {p['seconds_tta1']:.3f} s  ratio {p['seconds_tta1']/a1:.2f}")
print(f"predict 1500x2000, TTA-10  boneage {a10:.3f} s  {p['impl']} {p['seconds_tta10']:.3f} s  ratio {p['seconds_tta10']/a10:.2f}")
print("boneage steps, no TTA:", ", ".join(f"{k} {v:.3f} s" for k, v in parts(sys.argv[1]).items()))
print("boneage steps, TTA-10:", ", ".join(f"{k} {v:.3f} s" for k, v in parts(sys.argv[2]).items()))
print(f"one-image command (start, bundle check and load, predict): {one} s wall")
PY
