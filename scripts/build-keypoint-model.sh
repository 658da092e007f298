#!/usr/bin/env bash
# Rebuilds the default keypoint model that the boneage binary carries (models/keypoints/:
# keypoints.json + model.safetensors): 1500 phantoms at 256x320 with their true masks and
# keypoints, the VGG-style keypoint regressor at 128x160 trained 30 epochs with rotations of
# ±30°. About 15 minutes on 2 cores. Rebuild the binary afterwards to embed it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo build --release -p boneage
WORK=${WORK:-out/keypoint-build}
B=target/release/boneage
rm -rf "$WORK"
"$B" phantom --n 1500 --out "$WORK/phantoms" --seed 21 --size 256x320
"$B" keypoints --data "$WORK/phantoms" --out "$WORK/model"
mkdir -p models/keypoints
cp "$WORK/model/keypoints.json" "$WORK/model/model.safetensors" "$WORK/model/metrics.csv" models/keypoints/
echo "models/keypoints/ updated; rebuild (cargo build --release -p boneage) to embed it"
