# Sourced (from the repository root) by the benchmarks that run boneage against the PyTorch +
# OpenCV peer: the local venv with the pinned torch, OpenCV and numpy in it, the release
# binary as $B.
./scripts/setup.sh >/dev/null
source scripts/env.sh
"$BONEAGE_PYTHON" -c 'import cv2, numpy' 2>/dev/null ||
  "$BONEAGE_PYTHON" -m pip install --quiet numpy opencv-python-headless
cargo build --release -q -p boneage
B=target/release/boneage
