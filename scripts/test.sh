#!/usr/bin/env bash
# The project's test command: installs what it needs (scripts/setup.sh), then builds and runs
# every test of the workspace. Extra arguments go to the test runner (e.g. a filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
source scripts/env.sh
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
