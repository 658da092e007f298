#!/usr/bin/env bash
# Decoding benchmark: boneage's read_radiograph against Python peers on a 2000x2500 16-bit
# hand-like radiograph, stored as a PNG and as an uncompressed 16-bit DICOM.
#
#   bench/decode.sh                  # 15 runs per timing (median)
#   ITERS=31 bench/decode.sh         # more runs
#   DATA=/some/dir bench/decode.sh   # where the test files go (default target/bench-decode)
#   DECODE_BIN=path bench/decode.sh  # use an already built `decode` binary; skip the build
#
# Steps: build the Rust bin in release, write the two files with `decode --make`, install the
# Python peers into the project venv if missing (pydicom, pillow, numpy,
# opencv-python-headless), time both sides, print a table. Ratio = peer time / our time:
# above 1 means boneage is faster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ITERS="${ITERS:-15}"
DATA="${DATA:-target/bench-decode}"
# The bench crate links libtorch (for its other binaries); env.sh points the build at it and
# sets BONEAGE_PYTHON (the project venv by default).
source scripts/env.sh
PY="$BONEAGE_PYTHON"

if [ ! -x "$PY" ]; then
  echo "decode.sh: no Python at $PY (run scripts/setup.sh, or set BONEAGE_PYTHON)" >&2
  exit 1
fi

if [ -n "${DECODE_BIN:-}" ]; then
  BIN="$DECODE_BIN"
else
  cargo build --release -q -p boneage-bench --bin decode
  BIN=target/release/decode
fi
"$BIN" --make "$DATA"

for pkg in pydicom:pydicom PIL:pillow numpy:numpy cv2:opencv-python-headless; do
  module="${pkg%%:*}"
  dist="${pkg#*:}"
  if ! "$PY" -c "import $module" 2>/dev/null; then
    echo "decode.sh: installing $dist into $PY's environment" >&2
    "$PY" -m pip install --quiet "$dist" ||
      echo "decode.sh: could not install $dist; its rows are skipped" >&2
  fi
done

echo "decode.sh: timing boneage ($ITERS runs each)..." >&2
OURS="$("$BIN" --iters "$ITERS" "$DATA")"
echo "decode.sh: timing Python peers ($ITERS runs each)..." >&2
PEERS="$("$PY" bench/decode_peer.py --iters "$ITERS" "$DATA")"

"$PY" - "$OURS" "$PEERS" <<'PYEOF'
import json, os, platform, sys

ours = json.loads(sys.argv[1])
peers = [json.loads(line) for line in sys.argv[2].splitlines() if line.strip()]
print()
print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
print(f"files: PNG {ours['png_bytes']:,} bytes, DICOM {ours['dicom_bytes']:,} bytes; "
      f"median of {ours['iters']} runs, file read included")
print()
print(f"| format | implementation | time (ms) | ratio peer/ours | mean pixel |")
print(f"|---|---|---:|---:|---:|")
for fmt, key in (("PNG", "png"), ("DICOM", "dicom")):
    t = ours[f"{key}_s"]
    print(f"| {fmt} | {ours['impl']} | {t * 1e3:.1f} | 1.00 | {ours[key + '_mean']:.5f} |")
    for p in peers:
        if f"{key}_s" in p:
            pt = p[f"{key}_s"]
            print(f"| {fmt} | {p['impl']} | {pt * 1e3:.1f} | {pt / t:.2f} | {p[key + '_mean']:.5f} |")
print()
print(f"boneage from bytes already in memory: PNG {ours['png_mem_s'] * 1e3:.1f} ms, "
      f"DICOM {ours['dicom_mem_s'] * 1e3:.1f} ms")
PYEOF
