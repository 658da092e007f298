#!/usr/bin/env bash
# A folder of radiographs predicted as a pipeline: `boneage predict DIR/*.png` (the next film
# read, segmented, registered and cut while the nets read this one) against the same model
# steps in PyTorch + OpenCV (bench/predict_peer.py --folder, one film after another), 2 cores.
# The folder: N (default 100) 16-bit phantoms of 1500x2000, made here. Images per second over
# the whole folder; for boneage the wall time of the command minus that of the same command on
# one film (start and bundle loading), for the peer its loop (after one warm-up film). Also
# boneage with --one-at-a-time. Ratio = boneage images/s / peer images/s (> 1: boneage faster).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/peer-env.sh
N=${N:-100}
BUNDLE="$(realpath "${BUNDLE:-models/bundle}")"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$B" phantom --n "$N" --size 1500x2000 --bit16 --seed 11 --out "$W/ph" >/dev/null
mapfile -t IMGS < <(ls "$W"/ph/images/*.png)
export RAYON_NUM_THREADS=2
wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); python3 -c "print($e - $s)"; }
one=$(wall "$B" predict --model "$BUNDLE" --sex M "${IMGS[0]}")
all=$(wall "$B" predict --model "$BUNDLE" --sex M "${IMGS[@]}")
one_seq=$(wall "$B" predict --model "$BUNDLE" --sex M --one-at-a-time "${IMGS[0]}")
all_seq=$(wall "$B" predict --model "$BUNDLE" --sex M --one-at-a-time "${IMGS[@]}")
peer=$(cd bench && OMP_NUM_THREADS=2 "$BONEAGE_PYTHON" predict_peer.py --folder "$W/ph/images" \
  --bundle "$BUNDLE" --threads 2)
python3 - "$N" "$one" "$all" "$one_seq" "$all_seq" "$peer" <<'PY'
import json, sys
n = int(sys.argv[1])
one, all_, one_seq, all_seq = map(float, sys.argv[2:6])
p = json.loads(sys.argv[6])
ours = (n - 1) / (all_ - one)
seq = (n - 1) / (all_seq - one_seq)
print(f"folder of {n} radiographs 1500x2000, no TTA")
print(f"  boneage, overlapped      {ours:.2f} images/s")
print(f"  boneage, one at a time   {seq:.2f} images/s")
print(f"  {p['impl']}  {p['images_per_second']:.2f} images/s")
print(f"  ratio boneage / peer: overlapped {ours / p['images_per_second']:.2f}, "
      f"one at a time {seq / p['images_per_second']:.2f}")
PY
