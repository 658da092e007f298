#!/usr/bin/env bash
# Installs what the project needs, idempotently: the pinned torch wheel (libtorch for the
# `tch` bindings) from PyPI into the project's own virtual environment .venv, and checks for
# cargo. Nothing global is changed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
TORCH_VERSION=2.11.0

command -v cargo >/dev/null || { echo "error: cargo (Rust) is required: https://rustup.rs" >&2; exit 2; }

if [ -n "${LIBTORCH:-}" ]; then
  echo "setup: using LIBTORCH=$LIBTORCH"
  exit 0
fi
if [ "$BONEAGE_PYTHON" = "$BONEAGE_ROOT/.venv/bin/python" ] && [ ! -x "$BONEAGE_PYTHON" ]; then
  echo "setup: creating $BONEAGE_ROOT/.venv"
  python3 -m venv "$BONEAGE_ROOT/.venv"
fi
have=$("$BONEAGE_PYTHON" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
if [ "$have" != "$TORCH_VERSION" ]; then
  echo "setup: installing torch==$TORCH_VERSION into the venv (large download, once)"
  # numpy only silences torch's import-time warning; nothing of ours needs it.
  "$BONEAGE_PYTHON" -m pip install --quiet --progress-bar off --disable-pip-version-check "torch==$TORCH_VERSION" numpy
fi
echo "setup: torch $("$BONEAGE_PYTHON" -c 'import torch; print(torch.__version__)') ready"
