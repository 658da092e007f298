#!/usr/bin/env bash
# Fuzzes what boneage reads from outside with cargo-fuzz (libFuzzer): PNG, JPEG, DICOM files,
# DICOM data sets as the DICOM node receives them, label tables (targets in fuzz/).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
#
# Installs cargo-fuzz when missing and builds with the project's (stable) toolchain and
# RUSTC_BOOTSTRAP=1: the sanitizer and coverage flags cargo-fuzz passes are unstable options. The seed corpora are
# made by code (crates/boneage/tests/hostile_input/: valid files of every format and the
# hostile corpus) into fuzz/corpus/<target>/, which the runs then grow. A crash, abort, hang
# (over 20 s on one input) or a run over 2 GB stops with the input in fuzz/artifacts/<target>/
# and a non-zero exit status. FUZZ_SEED=N fixes libFuzzer's random seed (CI sets 1, so a run
# gives the same inputs every time).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(png jpeg dicom dicom_data_set label_table)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
echo "== seed corpora (fuzz/corpus)"
./scripts/setup.sh >/dev/null
source scripts/env.sh
BONEAGE_FUZZ_SEEDS="$PWD/fuzz/corpus" cargo test -q -p boneage --test hostile_input \
  fuzz_seeds_start_from_readable_files >/dev/null
cd fuzz
cargo fuzz build -O
for t in "${TARGETS[@]}"; do
  echo "== $t: ${SECONDS_PER_TARGET} s"
  mkdir -p "corpus/$t" "artifacts/$t"
  cargo fuzz run -O "$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=20 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 ${FUZZ_SEED:+-seed="$FUZZ_SEED"} 2>&1 |
    grep -E "^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|.*(panicked|deadly signal|Test unit written))" || true
  found=$(find "artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \))
  if [ -n "$found" ]; then
    echo "$found" >&2
    echo "error: $t: findings in fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
echo "fuzz: no findings in ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each"
