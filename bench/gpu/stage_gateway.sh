#!/bin/bash
# stage_gateway.sh [DIR]: on the GPU machine, take what a call carried in DIR (default
# .gpu/stage/: chunks of the packed vLLM site, the packed gateway site gwsite.tar.xz and
# its complement gwextra.tar.xz) into /tmp, unpack the gateway packs to /tmp/gwsite, and
# prepare what PostgreSQL needs: a `postgres` system user (initdb refuses root) and
# `runuser` to start it as that user.
set -euo pipefail
mkdir -p /tmp/wheels /tmp/gwsite
for f in "${1:-.gpu/stage}"/*; do
  case $f in
    *gw*.tar.xz) python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall('/tmp/gwsite')" "$f" ;;
    *) cp "$f" /tmp/wheels/ ;;
  esac
done
id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
if ! command -v runuser >/dev/null; then
  cat > /usr/local/bin/runuser <<'PY'
#!/usr/bin/env python3
"""runuser -u USER -- COMMAND...: the util-linux tool's one form the runtime uses."""
import os, pwd, sys
user = pwd.getpwnam(sys.argv[2])
os.setgid(user.pw_gid); os.setuid(user.pw_uid)
os.execvp(sys.argv[4], sys.argv[4:])
PY
  chmod +x /usr/local/bin/runuser
fi
ls -la /tmp/wheels; du -sh /tmp/gwsite
