#!/usr/bin/env bash
# CLAHE benchmark: boneage's clahe_u8 against OpenCV's createCLAHE(2.0, (8, 8)).apply on a
# 2000x2500 8-bit radiograph-like image (OpenCV with 1 thread and with its default threads).
#
#   bench/clahe.sh                  # 21 runs per timing (median)
#   ITERS=51 bench/clahe.sh         # more runs
#   DATA=/some/dir bench/clahe.sh   # where the test image goes (default target/bench-clahe)
#
# Ratio = OpenCV time / our time: above 1 means boneage is faster. The peer also reports the
# max |ours - OpenCV| over the image and how many pixels differ.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ITERS="${ITERS:-21}"
DATA="${DATA:-target/bench-clahe}"
# The bench crate links libtorch (for its other binaries); env.sh points the build at it.
source scripts/env.sh
PY="$BONEAGE_PYTHON"

cargo build --release -q -p boneage-bench --bin clahe
BIN=target/release/clahe
"$BIN" --make "$DATA"

for pkg in numpy:numpy cv2:opencv-python-headless; do
  module="${pkg%%:*}"
  if ! "$PY" -c "import $module" 2>/dev/null; then
    echo "clahe.sh: installing ${pkg#*:} into $PY's environment" >&2
    "$PY" -m pip install --quiet "${pkg#*:}"
  fi
done

echo "clahe.sh: timing boneage ($ITERS runs, 1 and 2 threads)..." >&2
OURS1="$(RAYON_NUM_THREADS=1 "$BIN" --iters "$ITERS" "$DATA")"
OURS="$(RAYON_NUM_THREADS=2 "$BIN" --iters "$ITERS" "$DATA")"
echo "clahe.sh: timing OpenCV ($ITERS runs per thread setting)..." >&2
PEERS="$("$PY" bench/clahe_peer.py --iters "$ITERS" "$DATA")"

"$PY" - "$OURS" "$PEERS" "$OURS1" <<'PYEOF'
import json, os, platform, sys

ours = json.loads(sys.argv[1])
ours1 = json.loads(sys.argv[3])
peers = [json.loads(line) for line in sys.argv[2].splitlines() if line.strip()]
print()
print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
print(f"image: {ours['width']}x{ours['height']} 8-bit, clip 2.0, 8x8 tiles; "
      f"median of {ours['iters']} runs")
print()
print("| implementation | time (ms) | ratio OpenCV/ours (same threads) | mean output | max diff vs ours | differing pixels |")
print("|---|---:|---:|---:|---:|---:|")
mine = {1: ours1, 2: ours}
for n, o in mine.items():
    print(f"| {o['impl']} ({n} thread{'s' if n > 1 else ''}) | {o['s'] * 1e3:.1f} | 1.00 | {o['mean']:.4f} | - | - |")
for p in peers:
    t = mine.get(p.get("threads"), ours)["s"]
    print(f"| {p['impl']} | {p['s'] * 1e3:.1f} | {p['s'] / t:.2f} | {p['mean']:.4f} | "
          f"{p.get('max_diff', '-')} | {p.get('n_diff', '-')} |")
PYEOF
