#!/usr/bin/env bash
# The project's main command on its built-in default: installs what it needs, builds the
# `boneage` binary in release mode and runs the demo. Output goes to ./out/ (or $1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
source scripts/env.sh
OUT="${1:-out}"
cargo build --release -p boneage
BIN=target/release/boneage
echo
echo "== EDA of the RSNA training labels shipped in data/rsna/train.csv"
"$BIN" eda --labels data/rsna/train.csv --out "$OUT/eda-rsna-train"
