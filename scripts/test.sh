#!/usr/bin/env bash
# The project's test command: installs what it needs (scripts/setup.sh), then builds and runs
# every test of the workspace. Extra arguments go to the test runner (e.g. a filter).
#
# Tests that need real radiographs find them in $BONEAGE_REAL_DATA (default ../shared/data
# beside the repository). Without them those checks are skipped, and say so; with
# BONEAGE_REQUIRE_REAL_DATA=1 (as .ci/run sets) their absence fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
source scripts/env.sh
real="${BONEAGE_REAL_DATA:-$PWD/../shared/data}"
if [ -d "$real/rsna-sample" ] && [ -d "$real/rsna-900" ]; then
  echo "test: real radiographs found in $real"
elif [ "${BONEAGE_REQUIRE_REAL_DATA:-0}" != "0" ] && [ -n "${BONEAGE_REQUIRE_REAL_DATA:-}" ]; then
  echo "error: real radiographs not found in $real (rsna-sample/, rsna-900/) and BONEAGE_REQUIRE_REAL_DATA is set" >&2
  exit 2
else
  echo "test: NOTE: real radiographs not found in $real: the real-data checks are SKIPPED (each skipped test says so in its output; set BONEAGE_REAL_DATA=DIR to run them)"
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
