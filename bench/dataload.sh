#!/usr/bin/env bash
# Data path images/s: boneage's loader vs a torch DataLoader on the same 400 phantom PNGs
# (512x640, 8-bit), both with 2 workers, decode + fit to 128x160 + augment + standardise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh >/dev/null
source scripts/env.sh
"$BONEAGE_PYTHON" -c 'import PIL, numpy' 2>/dev/null || "$BONEAGE_PYTHON" -m pip install -q pillow numpy
cargo build --release -q -p boneage -p boneage-bench --bin boneage --bin dataload
SET=out/bench-phantoms
[ -f "$SET/labels.csv" ] || target/release/boneage phantom --n 400 --out "$SET" --seed 11 --size 512x640
ours=$(target/release/dataload "$SET")
peer=$("$BONEAGE_PYTHON" bench/dataload_peer.py "$SET")
python3 - "$ours" "$peer" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"data path images/s  boneage {a['images_per_s']:.1f}  {b['impl']} {b['images_per_s']:.1f}  ratio {a['images_per_s']/b['images_per_s']:.2f}")
PY
