# Sourced by the project's scripts: points the build at libtorch.
#
# By default libtorch comes from the pinned torch wheel in the project's own virtual
# environment (.venv, made by scripts/setup.sh). To use your own libtorch instead (a CUDA
# build, a system install), set LIBTORCH=/path/to/libtorch before running the scripts; to use
# another Python's torch, set BONEAGE_PYTHON=/path/to/python.
BONEAGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BONEAGE_ROOT
if [ -n "${LIBTORCH:-}" ]; then
  export LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  BONEAGE_PYTHON="${BONEAGE_PYTHON:-$BONEAGE_ROOT/.venv/bin/python}"
  export LIBTORCH_USE_PYTORCH=1
  # torch-sys's build script runs `python3` from PATH to find torch.
  BONEAGE_PYTHON_BIN="$(dirname "$BONEAGE_PYTHON")"
  export PATH="$BONEAGE_PYTHON_BIN:$PATH"
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
