#!/usr/bin/env bash
# From a label table and an image folder to a model bundle, stage by stage:
#
#   scripts/train-bundle.sh --labels TABLE --images DIR --work WORK [options]
#
#   1. split     one fixed split, stratified by sex and age (WORK/split/{train,valid,test}.csv);
#                or your own with --split DIR holding those three tables
#   2. segment   (--mine) the segmentation U-Net by positive mining: phantom masks as the
#                labelled set, the training images as the unlabelled set (WORK/mine/model);
#                default: the built-in segmentation model
#   3. register  every image into the canonical frame, regions A/B/C (WORK/reg-{train,valid,test})
#   4. pretrain  (--pretrain-phantoms N) each member first learns on N registered phantoms
#                (WORK/reg-phantoms, WORK/pretrain/runs) and starts its real training from them
#   5. members   every net of the recipe (WORK/runs/<name>), CPU or CUDA (--device)
#   6. bundle    ensemble weights fitted on the validation split; the test split's figures in
#                the manifest (WORK/bundle)
#   7. evaluate  the bundle through the whole pipeline on the raw test radiographs
#                (WORK/results: results.json, results.html, predictions.csv)
#
# Every stage is resumable: a finished stage is skipped when the script runs again, the
# registration folders are caches, an unfinished training run resumes from its last epoch, and
# every file is written atomically (a killed stage leaves nothing half-written behind).
#
# Options:
#   --recipe FILE            ensemble recipe (default configs/real/ensemble.json; the challenge
#                            winner's Inception-v3 ensemble: configs/winner/ensemble.json)
#   --device cpu|cuda|auto   where the nets train (default auto)
#   --epochs N               override every member's epochs (e.g. 1 for a smoke test)
#   --fractions F,F,F        split fractions (default 0.8,0.1,0.1); --seed S (default 900)
#   --split DIR              use DIR/{train,valid,test}.csv instead of making a split
#   --mine                   mine a segmentation model (--mine-rounds R, --mine-epochs E,
#                            --mine-phantoms N, --mine-config FILE; --mine-init DIR starts
#                            from that model's weights, e.g. models/segmentation)
#   --pretrain-phantoms N    phantom pre-training (--pretrain-epochs E)
#   --keypoints DIR          keypoint model for registration and the bundle (default: built in)
#   --label TEXT             start of the bundle id (default: the recipe's name)
#   --trained-on TEXT        what the bundle was trained on, in words
#   --test-name TEXT         what the test split is, in words
#
# BONEAGE_BIN names the boneage binary (default: built here in release mode).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

LABELS= IMAGES= WORK= SPLIT= RECIPE=configs/real/ensemble.json DEVICE=auto EPOCHS=
FRACTIONS=0.8,0.1,0.1 SEED=900 MINE=0 MINE_ROUNDS=2 MINE_EPOCHS=6 MINE_PHANTOMS=400 MINE_CONFIG= MINE_INIT=
PRETRAIN=0 PRETRAIN_EPOCHS=8 LABEL= TRAINED_ON= TEST_NAME= KEYPOINTS=
while [ $# -gt 0 ]; do
  case "$1" in
    --labels) LABELS=$2; shift 2 ;;
    --images) IMAGES=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --split) SPLIT=$2; shift 2 ;;
    --recipe) RECIPE=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --fractions) FRACTIONS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --mine) MINE=1; shift ;;
    --mine-rounds) MINE_ROUNDS=$2; shift 2 ;;
    --mine-epochs) MINE_EPOCHS=$2; shift 2 ;;
    --mine-phantoms) MINE_PHANTOMS=$2; shift 2 ;;
    --mine-config) MINE_CONFIG=$2; shift 2 ;;
    --mine-init) MINE_INIT=$2; shift 2 ;;
    --pretrain-phantoms) PRETRAIN=$2; shift 2 ;;
    --pretrain-epochs) PRETRAIN_EPOCHS=$2; shift 2 ;;
    --keypoints) KEYPOINTS=$2; shift 2 ;;
    --label) LABEL=$2; shift 2 ;;
    --trained-on) TRAINED_ON=$2; shift 2 ;;
    --test-name) TEST_NAME=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$LABELS" ] && [ -n "$IMAGES" ] && [ -n "$WORK" ] || usage
[ -f "$LABELS" ] || { echo "error: $LABELS: no such label table" >&2; exit 2; }
[ -d "$IMAGES" ] || { echo "error: $IMAGES: no such image folder" >&2; exit 2; }
[ -f "$RECIPE" ] || { echo "error: $RECIPE: no such recipe" >&2; exit 2; }

if [ -z "${BONEAGE_BIN:-}" ]; then
  ./scripts/setup.sh
  source scripts/env.sh
  cargo build --release -q -p boneage
  BONEAGE_BIN=$PWD/target/release/boneage
fi
export BONEAGE_BIN
B=$BONEAGE_BIN
mkdir -p "$WORK"
stage() { echo; echo "== $1"; }
done_mark() { : > "$WORK/.done-$1.tmp" && mv "$WORK/.done-$1.tmp" "$WORK/.done-$1"; }
is_done() { [ -f "$WORK/.done-$1" ]; }

stage "1/7 split"
if [ -n "$SPLIT" ]; then
  for p in train valid test; do
    [ -f "$SPLIT/$p.csv" ] || { echo "error: $SPLIT/$p.csv: missing" >&2; exit 2; }
  done
elif is_done split; then
  SPLIT=$WORK/split
  echo "done before: $SPLIT"
else
  "$B" split --data "$LABELS" --out "$WORK/split" --fractions "$FRACTIONS" --seed "$SEED"
  SPLIT=$WORK/split
  done_mark split
fi

stage "2/7 segmentation"
SEG_ARGS=()
if [ "$MINE" = 1 ]; then
  if ! is_done mine; then
    rm -rf "$WORK/mine"
    [ -f "$WORK/seg-phantoms/labels.csv" ] ||
      "$B" phantom --n "$MINE_PHANTOMS" --out "$WORK/seg-phantoms" --seed 11 --size 384x480
    # The training split's images are the unlabelled set the mining learns real hands from.
    mkdir -p "$WORK/mine-input"
    python3 - "$SPLIT/train.csv" "$IMAGES" "$WORK/mine-input/list.txt" <<'PY'
import csv, os, sys
table, images, out = sys.argv[1:4]
ids = {r["id"] for r in csv.DictReader(open(table))}
found = {}
for root, _, files in os.walk(images):
    for f in files:
        stem, ext = os.path.splitext(f)
        if stem in ids and ext.lower() in (".png", ".jpg", ".jpeg", ".dcm"):
            found[stem] = os.path.join(root, f)
missing = sorted(ids - set(found))
if missing:
    sys.exit(f"error: {table}: no image in {images} for ids {', '.join(missing[:5])}")
open(out + ".tmp", "w").write("".join(found[i] + "\n" for i in sorted(found)))
os.replace(out + ".tmp", out)
PY
    unlabelled=()
    while read -r f; do unlabelled+=(--unlabelled "$f"); done < "$WORK/mine-input/list.txt"
    mine_cfg=()
    [ -n "$MINE_CONFIG" ] && mine_cfg=(--config "$MINE_CONFIG")
    [ -n "$MINE_INIT" ] && mine_cfg+=(--init "$MINE_INIT")
    "$B" mine --labelled "$WORK/seg-phantoms" "${unlabelled[@]}" --bootstrap \
      --rounds "$MINE_ROUNDS" --epochs "$MINE_EPOCHS" --device "$DEVICE" --out "$WORK/mine" \
      "${mine_cfg[@]}"
    done_mark mine
  else
    echo "done before: $WORK/mine/model"
  fi
  SEG_ARGS=(--segmentation "$WORK/mine/model")
else
  echo "built-in segmentation model"
fi

[ -n "$KEYPOINTS" ] && SEG_ARGS+=(--keypoints "$KEYPOINTS")
REG_ARGS=("${SEG_ARGS[@]}")
# `boneage register` names the keypoint model --model.
for i in "${!REG_ARGS[@]}"; do [ "${REG_ARGS[$i]}" = --keypoints ] && REG_ARGS[$i]=--model; done

stage "3/7 register"
for p in train valid test; do
  "$B" register --data "$SPLIT/$p.csv" --data-images "$IMAGES" --out "$WORK/reg-$p" \
    --device "$DEVICE" "${REG_ARGS[@]}"
done

INIT_DIR=
if [ "$PRETRAIN" -gt 0 ]; then
  stage "4/7 phantom pre-training"
  [ -f "$WORK/phantoms/labels.csv" ] ||
    "$B" phantom --n "$PRETRAIN" --out "$WORK/phantoms" --seed 7101 --size 384x480
  "$B" register --data "$WORK/phantoms" --out "$WORK/reg-phantoms" --device "$DEVICE" "${REG_ARGS[@]}"
  # Phantoms validate on their own held-out part; every member is pre-trained once.
  EPOCHS="$PRETRAIN_EPOCHS" INIT_DIR= PRETRAIN_STAGE=1 scripts/train-ensemble.sh "$RECIPE" "$WORK/reg-phantoms" \
    "" "$WORK/pretrain" --members-only
  INIT_DIR=$WORK/pretrain/runs
else
  stage "4/7 phantom pre-training: not asked for (--pretrain-phantoms N)"
fi

stage "5/7 members and 6/7 bundle"
label=${LABEL:-$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['name'])" "$RECIPE")}
n_train=$(($(wc -l < "$SPLIT/train.csv") - 1))
n_valid=$(($(wc -l < "$SPLIT/valid.csv") - 1))
n_test=$(($(wc -l < "$SPLIT/test.csv") - 1))
TRAINED_ON=${TRAINED_ON:-"$n_train training radiographs of $LABELS (weights fitted on $n_valid validation radiographs; $n_test held out for test)"}
TEST_NAME=${TEST_NAME:-"$n_test held-out test radiographs of $LABELS"}
EPOCHS="$EPOCHS" INIT_DIR="$INIT_DIR" DEVICE="$DEVICE" scripts/train-ensemble.sh "$RECIPE" \
  "$WORK/reg-train" "$WORK/reg-valid" "$WORK" --label "$label" --trained-on "$TRAINED_ON" \
  --test "$WORK/reg-test" --test-name "$TEST_NAME" "${SEG_ARGS[@]}"

stage "7/7 evaluate on the raw test radiographs"
"$B" evaluate --model "$WORK/bundle" --data "$SPLIT/test.csv" --data-images "$IMAGES" \
  --out "$WORK/results" --device "$DEVICE"
echo
echo "bundle: $WORK/bundle   results: $WORK/results/results.html"
