#!/usr/bin/env bash
# Fine-tunes every member of a bundle a few more epochs on registered training regions and
# bundles the results again (weights, calibration and interval chosen on the validation set,
# test figures in the manifest): the last stage of the built-in bundle (README, "The built-in
# bundle on real radiographs").
#
#   scripts/finetune-bundle.sh BUNDLE REG_TRAIN REG_VALID REG_TEST WORK [bundle options...]
#
# BUNDLE: a bundle folder (its members/<name>/{config.json,model.safetensors} are the starting
# points); REG_*: folders written by `boneage register --data`. Each member is trained
# EPOCHS (default 8) more epochs, cosine from a peak learning rate LR (default 3e-4), into
# WORK/runs/<name> (an unfinished run is resumed, a finished one kept); the new bundle goes to
# WORK/bundle. Extra arguments go to `boneage bundle` (--trained-on, --test-name, --label).
# AUGMENT: a JSON object merged into each config's data.augment, e.g.
# '{"blur_sigma": 1.0, "resolution": 0.4}' (default '{}': the members' own augmentation; blur and
# resolution loss made the validation MAE worse, README "The built-in bundle on real radiographs").
# DEVICE picks cpu/cuda (default auto); BONEAGE_BIN the binary.
set -euo pipefail
[ $# -ge 5 ] || { echo "usage: $0 BUNDLE REG_TRAIN REG_VALID REG_TEST WORK [bundle options...]" >&2; exit 2; }
BUNDLE=$1 TRAIN=$2 VALID=$3 TEST=$4 WORK=$5
shift 5
cd "$(dirname "$0")/.."
if [ -z "${BONEAGE_BIN:-}" ]; then
  source scripts/env.sh
  cargo build --release -q -p boneage
  BONEAGE_BIN=target/release/boneage
fi
[ -f "$BUNDLE/manifest.json" ] || { echo "error: $BUNDLE/manifest.json: not a bundle folder" >&2; exit 2; }
mkdir -p "$WORK/configs"
# One line per member: name region (from the manifest), config copied with the new schedule.
AUGMENT=${AUGMENT:-'{}'}
members=$(python3 - "$BUNDLE" "$WORK/configs" "${EPOCHS:-8}" "${LR:-0.0003}" "$AUGMENT" <<'PY'
import json, os, sys
bundle, out, epochs, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
augment = json.loads(sys.argv[5])
for m in json.load(open(os.path.join(bundle, "manifest.json")))["members"]:
    c = json.load(open(os.path.join(bundle, m["dir"], "config.json")))
    c.pop("init_weights", None)
    c["epochs"], c["patience"] = epochs, epochs
    c["optimizer"]["lr"] = lr
    c.setdefault("data", {}).setdefault("augment", {}).update(augment)
    json.dump(c, open(os.path.join(out, m["name"] + ".json"), "w"), indent=2)
    print(m["name"], m["region"], os.path.join(bundle, m["dir"], "model.safetensors"))
PY
)
bundle_args=()
while read -r name region weights; do
  run="$WORK/runs/$name"
  if [ ! -f "$run/state.json" ] || ! grep -q '"finished": true' "$run/state.json"; then
    extra=(--init "$weights")
    [ -f "$run/state.json" ] && extra=(--resume)
    "$BONEAGE_BIN" train --data "$TRAIN/regions/$region" --valid "$VALID/regions/$region" \
      --config "$WORK/configs/$name.json" --out "$run" --device "${DEVICE:-auto}" "${extra[@]}"
  fi
  bundle_args+=(--member "$region:$run")
done <<< "$members"
tta=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['tta']['views'])" "$BUNDLE/manifest.json")
"$BONEAGE_BIN" bundle "${bundle_args[@]}" --valid "$VALID" --test "$TEST" --out "$WORK/bundle" \
  --tta "$tta" --device "${DEVICE:-auto}" "$@"
