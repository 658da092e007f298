#!/usr/bin/env bash
# Rebuilds the default segmentation model that the boneage binary carries
# (models/segmentation/: segmentation.json + model.safetensors, about 2 MB):
#
#   1. 600 phantoms at 384x480 with their true masks (the labelled set);
#   2. positive mining over the real radiographs in SAMPLES (default: the 20 RSNA samples in
#      ../shared/data/rsna-sample/images), seeded with their bootstrap masks that pass the
#      plausibility check: 3 rounds of 8 epochs;
#   3. the final model copied into models/segmentation/; rebuild the binary to embed it.
#
# About 30 minutes on 2 cores. Work files go to WORK (default out/segmentation-build); look at
# WORK/mine/round-*/contact.png. Same seeds, same data and same thread count give the same
# model; other thread counts can differ in the last bits of the float sums.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo build --release -p boneage
WORK=${WORK:-out/segmentation-build}
SAMPLES=${SAMPLES:-../shared/data/rsna-sample/images}
B=target/release/boneage
rm -rf "$WORK"
"$B" phantom --n 600 --out "$WORK/phantoms" --seed 11 --size 384x480
"$B" mine --labelled "$WORK/phantoms" --unlabelled "$SAMPLES" --bootstrap \
    --rounds 3 --epochs 8 --out "$WORK/mine"
mkdir -p models/segmentation
cp "$WORK/mine/model/segmentation.json" "$WORK/mine/model/model.safetensors" models/segmentation/
cp "$WORK/mine/rounds.csv" models/segmentation/rounds.csv
echo "models/segmentation/ updated; rebuild (cargo build --release -p boneage) to embed it"
