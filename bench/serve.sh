#!/usr/bin/env bash
# Load test of `boneage serve` on loopback (issue 15): 20 phantom radiographs (768x1024, 8-bit)
# sent by N concurrent clients for a fixed time (bench/src/bin/load.rs), then stop; then the
# same 20 files through `boneage predict` in one process, for images/s without the service.
# Phase 1: 2 clients (the queue never fills: every answer should be 200). Phase 2: 16 clients
# against a queue of 4 (503 with Retry-After is the intended answer to the overflow). Memory is
# the service's resident set, sampled every 0.25 s.
#
#   bench/serve.sh [SECONDS per phase, default 60]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh >/dev/null
source scripts/env.sh
cargo build --release -q -p boneage -p boneage-bench
B=target/release/boneage
L=target/release/load
S=${1:-60}
W=$(mktemp -d)
trap 'kill "${PID:-0}" 2>/dev/null || true; rm -rf "$W"' EXIT
"$B" phantom --n 20 --size 768x1024 --seed 15 --out "$W/ph" >/dev/null
IMGS=("$W"/ph/images/*.png)
"$B" serve --port 0 --queue 4 2> "$W/serve.log" &
PID=$!
for _ in $(seq 1 300); do grep -q "listening on" "$W/serve.log" && break; sleep 0.2; done
ADDR=$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$W/serve.log")
"$L" --addr "$ADDR" --pid "$PID" --clients 1 --seconds 5 --sex F "${IMGS[@]}" >/dev/null # warm up
echo "phase 1, 2 clients:  $("$L" --addr "$ADDR" --pid "$PID" --clients 2 --seconds "$S" --sex F "${IMGS[@]}")"
echo "phase 2, 16 clients: $("$L" --addr "$ADDR" --pid "$PID" --clients 16 --seconds "$S" --sex F "${IMGS[@]}")"
kill -TERM "$PID"; wait "$PID" || true
start=$(date +%s.%N)
"$B" predict --sex F "${IMGS[@]}" > /dev/null 2>&1
end=$(date +%s.%N)
python3 -c "n=${#IMGS[@]}; t=$end-$start; print(f'boneage predict, same {n} files, one process: {t:.1f} s wall, {n/t:.2f} images/s (bundle load included)')"
