#!/usr/bin/env bash
# Rebuilds the default model bundle that the boneage binary carries (models/bundle/): the
# seed's per-region ensemble trained on phantoms.
#
#   1. phantoms: 1600 training and 300 validation radiographs at 384x480 (RSNA age/sex mix);
#   2. `boneage register` puts both sets into the canonical frame and cuts regions A, B, C
#      with the built-in segmentation and keypoint models;
#   3. scripts/train-ensemble.sh with configs/bundle/ensemble.json: a regression and a 240-bin
#      classification VGG net per region (configs/bundle/<R>-<head>.json, 16 epochs each, best
#      validation epoch kept), then `boneage bundle`: the six nets with the built-in
#      segmentation and keypoint models in one folder, ensemble weights fitted on the
#      validation regions, manifest with SHA-256.
#
# About 45 minutes on 2 cores; finished steps are reused when re-run (WORK folder). Rebuild the
# binary afterwards (cargo build --release -p boneage) to embed the bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BONEAGE_BIN:-}" ]; then
  ./scripts/setup.sh
  source scripts/env.sh
  cargo build --release -p boneage
  BONEAGE_BIN=target/release/boneage
fi
export BONEAGE_BIN
B=$BONEAGE_BIN
WORK=${WORK:-out/bundle-build}
mkdir -p "$WORK"
[ -f "$WORK/train/labels.csv" ] || "$B" phantom --n 1600 --out "$WORK/train" --seed 7001 --size 384x480
[ -f "$WORK/valid/labels.csv" ] || "$B" phantom --n 300 --out "$WORK/valid" --seed 7002 --size 384x480
"$B" register --data "$WORK/train" --out "$WORK/reg-train"
"$B" register --data "$WORK/valid" --out "$WORK/reg-valid"
scripts/train-ensemble.sh configs/bundle/ensemble.json "$WORK/reg-train" "$WORK/reg-valid" "$WORK" \
  --phantom-only \
  --trained-on "phantoms only: 1600 training + 300 validation phantom radiographs 384x480 (scripts/build-bundle.sh)"
rm -rf models/bundle
cp -r "$WORK/bundle" models/bundle
echo "models/bundle/ updated; rebuild (cargo build --release -p boneage) to embed it"
