#!/usr/bin/env bash
# Segmentation U-Net, 1x320x256, batch 8, 2 threads: boneage (tch) vs PyTorch, same libtorch.
# Prints images/s and the ratio boneage / PyTorch (> 1: boneage faster).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh >/dev/null
source scripts/env.sh
cargo build --release -q -p boneage-bench --bin unet
ITERS="${ITERS:-10}"
ours=$(target/release/unet --threads 2 --iters "$ITERS")
peer=$(cd bench && "$BONEAGE_PYTHON" unet_peer.py --threads 2 --iters "$ITERS")
python3 - "$ours" "$peer" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for k in ("train_images_per_s", "infer_images_per_s"):
    print(f"{k:<20} boneage {a[k]:7.2f}  {b['impl']} {b[k]:7.2f}  ratio {a[k]/b[k]:.2f}")
PY
