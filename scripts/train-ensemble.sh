#!/usr/bin/env bash
# Trains every member of an ensemble recipe on a registered training set and puts them into a
# model bundle with weights fitted on a registered validation set.
#
#   scripts/train-ensemble.sh RECIPE REG_TRAIN REG_VALID WORK [bundle options...]
#
# RECIPE: a JSON file (configs/bundle/ensemble.json, configs/winner/ensemble.json) listing
# members {name, region, config (relative to the recipe), seed (optional), pretrain (optional,
# default true: false keeps a member out of phantom pre-training, it then starts from random
# weights)}. REG_TRAIN and
# REG_VALID: folders written by `boneage register --data` (REG_VALID may be "": each run then
# holds out its config's validation_fraction of REG_TRAIN). Runs go to WORK/runs/<name> (an
# unfinished run is resumed, a finished one kept), the bundle to WORK/bundle. Extra arguments
# go to `boneage bundle` (e.g. --phantom-only --trained-on TEXT --test REG_TEST); a first extra
# argument --members-only trains the members and makes no bundle. EPOCHS overrides every
# config's epochs; INIT_DIR starts each member from INIT_DIR/<name>/best.safetensors (e.g.
# pre-trained on phantoms); PRETRAIN_STAGE=1 trains only the members that take part in
# pre-training; DEVICE picks cpu/cuda (default auto); BONEAGE_BIN the binary.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 RECIPE REG_TRAIN REG_VALID WORK [bundle options...]" >&2; exit 2; }
RECIPE=$1 TRAIN=$2 VALID=$3 WORK=$4
shift 4
MEMBERS_ONLY=0
if [ "${1:-}" = "--members-only" ]; then MEMBERS_ONLY=1; shift; fi
cd "$(dirname "$0")/.."
if [ -z "${BONEAGE_BIN:-}" ]; then
  source scripts/env.sh
  cargo build --release -q -p boneage
  BONEAGE_BIN=target/release/boneage
fi
mkdir -p "$WORK/configs"
# One line per member: name region config-path (seed applied into a copy of the config).
members=$(python3 - "$RECIPE" "$WORK/configs" <<'PY'
import json, os, sys
recipe, out = sys.argv[1], sys.argv[2]
r = json.load(open(recipe))
for m in r["members"]:
    cfg = json.load(open(os.path.join(os.path.dirname(recipe), m["config"])))
    if "seed" in m:
        cfg["seed"] = m["seed"]
    path = os.path.join(out, m["name"] + ".json")
    json.dump(cfg, open(path, "w"), indent=2)
    print(m["name"], m["region"], path, 1 if m.get("pretrain", True) else 0)
PY
)
bundle_args=()
while read -r name region cfg pretrain; do
  [ "${PRETRAIN_STAGE:-0}" = 1 ] && [ "$pretrain" = 0 ] && continue
  run="$WORK/runs/$name"
  if [ ! -f "$run/state.json" ] || ! grep -q '"finished": true' "$run/state.json"; then
    extra=()
    [ -f "$run/state.json" ] && extra+=(--resume)
    [ -n "${EPOCHS:-}" ] && extra+=(--epochs "$EPOCHS")
    [ -n "$VALID" ] && extra+=(--valid "$VALID/regions/$region")
    if [ -n "${INIT_DIR:-}" ] && [ "$pretrain" = 1 ] && [ ! -f "$run/state.json" ]; then
      extra+=(--init "$INIT_DIR/$name/best.safetensors")
    fi
    "$BONEAGE_BIN" train --data "$TRAIN/regions/$region" \
      --config "$cfg" --out "$run" --device "${DEVICE:-auto}" "${extra[@]}"
  fi
  bundle_args+=(--member "$region:$run")
done <<< "$members"
[ "$MEMBERS_ONLY" = 1 ] && exit 0
label=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['name'])" "$RECIPE")
tta=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('tta', 1))" "$RECIPE")
"$BONEAGE_BIN" bundle "${bundle_args[@]}" --valid "$VALID" --out "$WORK/bundle" --tta "$tta" \
  --device "${DEVICE:-auto}" --label "$label" "$@"
