#!/usr/bin/env bash
# The project's main command on its built-in default: installs what it needs, builds the
# `boneage` binary in release mode and runs `boneage demo` (300 phantom test radiographs through
# the whole pipeline with the built-in model bundle: the seed's results table, one prediction
# with TTA-10 and its debug images), then the EDA of the RSNA training labels shipped in
# data/rsna/train.csv. Output goes to ./out/ (or $1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
source scripts/env.sh
OUT="${1:-out}"
cargo build --release -p boneage
BIN=target/release/boneage
echo
echo "== boneage demo (phantom data; a few minutes on 2 CPU cores)"
"$BIN" demo --out "$OUT/demo"
echo
echo "== EDA of the RSNA training labels (data/rsna/train.csv)"
"$BIN" eda --labels data/rsna/train.csv --out "$OUT/eda-rsna-train"
