#!/usr/bin/env bash
# Rebuilds the default model bundle that the boneage binary carries (models/bundle/) from the
# 900 real RSNA radiographs in ../shared/data/rsna-900 (override with RSNA900=DIR):
#
#   1. the mirror check's handedness template: the training split registered as it is and the
#      first 248 of its films registered as mirror images (boneage register --mirror-images),
#      then boneage handedness (threshold 1) writes WORK/keypoints (the built-in keypoint net
#      with the template; models/keypoints/ carries the same), and boneage hand-template fits
#      the quality gate's typical registered hand on the same registered films
#      (WORK/hand_template.json);
#   2. scripts/train-bundle.sh with the shipped split (data/rsna-900-split: 720 train, 89
#      validation, 91 test, stratified by sex and age, seed 900), the built-in segmentation
#      model, phantom pre-training (1200 registered phantoms, 6 epochs per member) and the
#      recipe configs/real/ensemble.json (a regression and a 240-bin classification VGG net for
#      each of regions A 176x224, B 160x160 and C 192x160, 16 epochs of real fine-tuning, the
#      B and C nets again with other seeds, a region-A net trained on the real films alone),
#      the weighting rule (fitted or equal, by leave-one-out), calibration and 95% interval
#      fitted on the validation split, the test split's figures in the manifest, and the
#      results table on the raw test radiographs (WORK/results);
#   3. every member fine-tuned 8 more epochs (cosine, peak learning rate 3e-4) from its
#      weights and bundled again the same way (scripts/finetune-bundle.sh);
#   4. that bundle copied into models/bundle/ and the hand template into data/; rebuild the
#      binary to embed them.
#
# MINE=1 mines the segmentation U-Net on the training films first (about 47 minutes more).
# At most about 2.5 hours on 2 cores (a member epoch takes 9-11 s on idle cores); every stage is resumable (run it again after a stop). Work files
# go to WORK (default out/bundle-build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BONEAGE_BIN:-}" ]; then
  ./scripts/setup.sh
  source scripts/env.sh
  cargo build --release -p boneage
  BONEAGE_BIN=$PWD/target/release/boneage
fi
export BONEAGE_BIN
B=$BONEAGE_BIN
WORK=${WORK:-out/bundle-build}
RSNA900=${RSNA900:-../shared/data/rsna-900}
SPLIT=data/rsna-900-split
[ -f "$RSNA900/labels.csv" ] || { echo "error: $RSNA900/labels.csv: the real radiographs are needed" >&2; exit 2; }
mkdir -p "$WORK"

echo "== handedness template"
"$B" register --data "$SPLIT/train.csv" --data-images "$RSNA900/images" --out "$WORK/hand-train"
head -n 249 "$SPLIT/train.csv" > "$WORK/hand-mirror.csv"
"$B" register --mirror-images --data "$WORK/hand-mirror.csv" --data-images "$RSNA900/images" \
  --out "$WORK/hand-mirror"
# Fitted into WORK and installed only at the end, beside the bundle: the binary that builds the
# bundle embeds the committed template, and a stopped or trial run leaves the tree as it was.
echo "== the quality gate's hand template (WORK/hand_template.json; data/ at the end)"
"$B" hand-template --registered "$WORK/hand-train" --out "$WORK/hand_template.json" \
  --described-as "the rsna-900 training split (data/rsna-900-split/train.csv), registered"
if [ ! -f "$WORK/keypoints/keypoints.json" ]; then
  "$B" handedness --registered "$WORK/hand-train" --mirrored "$WORK/hand-mirror" --threshold 1 \
    --out "$WORK/keypoints.tmp"
  rm -rf "$WORK/keypoints" && mv "$WORK/keypoints.tmp" "$WORK/keypoints"
fi

# MINE=1: the segmentation U-Net mined on the training films first (from the built-in model's
# weights, 2 rounds of 4 epochs), and the regions cut with it.
MINE_ARGS=()
[ "${MINE:-0}" = 1 ] && MINE_ARGS=(--mine --mine-init models/segmentation --mine-epochs 4)
# The fine-tuned bundle carries the models its regions were cut with (without them it would
# carry the built-in U-Net and keypoint net, and cut regions its nets were not trained on).
FRONT_ARGS=(--keypoints "$WORK/keypoints")
[ "${MINE:-0}" = 1 ] && FRONT_ARGS+=(--segmentation "$WORK/mine/model")
scripts/train-bundle.sh --labels "$RSNA900/labels.csv" --images "$RSNA900/images" \
  --work "$WORK" --split "$SPLIT" --recipe configs/real/ensemble.json "${MINE_ARGS[@]}" \
  --keypoints "$WORK/keypoints" --pretrain-phantoms 1200 --pretrain-epochs 6 \
  --trained-on "720 real RSNA 2017 training radiographs (rsna-900 split, data/rsna-900-split/train.csv) after pre-training on 1200 phantoms; weighting rule, calibration and 95% interval fitted on 89 real validation radiographs; research use only" \
  --test-name "91 held-out real RSNA radiographs (data/rsna-900-split/test.csv)"

echo "== every member fine-tuned 8 more epochs, bundled again (scripts/finetune-bundle.sh)"
scripts/finetune-bundle.sh "$WORK/bundle" "$WORK/reg-train" "$WORK/reg-valid" "$WORK/reg-test" \
  "$WORK/finetune" --label rsna-regions "${FRONT_ARGS[@]}" \
  --trained-on "720 real RSNA 2017 training radiographs (rsna-900 split, data/rsna-900-split/train.csv) after pre-training on 1200 phantoms; eleven VGG-style nets (two seeds more of each region-B net, one more of each region-C net), each fine-tuned 8 more epochs (peak learning rate 3e-4); weighting rule, calibration and 95% interval chosen on 89 real validation radiographs; research use only" \
  --test-name "91 held-out real RSNA radiographs (data/rsna-900-split/test.csv)"

rm -rf models/bundle
cp -r "$WORK/finetune/bundle" models/bundle
cp "$WORK/hand_template.json" data/hand_template.json
echo "models/bundle/ and data/hand_template.json updated; rebuild (cargo build --release -p boneage)"
echo "to embed them, and evaluate again: the bundle's figures were made with the template before"
