#!/usr/bin/env bash
# Install the appliance CLI and Ansible on an air-gapped controller, from this bundle alone.
#
#   ./install-controller.sh [--prefix DIR] [--bin-dir DIR]
#
# Creates a venv at --prefix (default /opt/appliance-controller), installs every wheel of
# controller/requirements.txt from the bundle's wheels/ and controller/wheels/ with
# --no-index --require-hashes (a wheel whose SHA-256 differs from the signed list is refused),
# installs the Ansible collections of controller/collections/ into the venv, and links
# appliance, ansible-playbook, ansible-vault and ansible-galaxy into --bin-dir (default
# /usr/local/bin). Needs python3 (3.11) with its venv module; reaches no network.
# Check the bundle first (ops/runbooks/controller.md): this script trusts its directory.
set -euo pipefail

BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX=/opt/appliance-controller
BIN_DIR=/usr/local/bin
PYTHON="${PYTHON:-python3}"
LINKS=(appliance ansible-playbook ansible-vault ansible-galaxy ansible-inventory)

while (($#)); do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --bin-dir) BIN_DIR="$2"; shift 2 ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
find_links=()
for dir in "$BUNDLE/wheels" "$BUNDLE/controller/wheels"; do
  [[ -d "$dir" ]] && find_links+=("--find-links=$dir")
done

echo "==> venv: $PREFIX"
[[ -x "$PREFIX/bin/python" ]] || "$PYTHON" -m venv "$PREFIX"
echo "==> wheels: $(grep -c . "$BUNDLE/controller/requirements.txt") from the bundle (--require-hashes)"
"$PREFIX/bin/pip" install --no-index "${find_links[@]}" --require-hashes --only-binary=:all: \
  --no-cache-dir -q -r "$BUNDLE/controller/requirements.txt"

collections=("$BUNDLE"/controller/collections/*.tar.gz)
if [[ -e "${collections[0]}" ]]; then
  # Into the venv's site-packages: every ansible of this venv finds ansible_collections on
  # its sys.path, whatever ANSIBLE_CONFIG or ANSIBLE_COLLECTIONS_PATH says.
  site=$("$PREFIX/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "==> Ansible collections: ${#collections[@]} into $site"
  "$PREFIX/bin/ansible-galaxy" collection install --offline --force -p "$site" "${collections[@]}"
fi

echo "==> links in $BIN_DIR"
mkdir -p "$BIN_DIR"
for name in "${LINKS[@]}"; do
  ln -sfn "$PREFIX/bin/$name" "$BIN_DIR/$name"
done
"$BIN_DIR/appliance" --help >/dev/null
echo "==> controller installed: $BIN_DIR/appliance"
