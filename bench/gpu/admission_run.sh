#!/bin/bash
# admission_run.sh [SECONDS] [TARGET/INTERVAL...]: the admission benchmark (python -m
# bench.perf.admission: the former count bound beside the queueing-delay rule, capacity at
# 16 clients, a burst of 256, closed loops of 64 and 256, an open loop at three times
# capacity) on the lent GPU machine, whose 16 quiet cores the shared machine lacks. Each
# TARGET/INTERVAL (ms) adds a gateway of the current code with those shedding settings.
#
# The call carries two ignored folders, built here beforehand:
#   .gpu/admission/gwsite.tar.xz   the gateway's packages for Python 3.12 (pack_gwsite.sh)
#   .gpu/admission-old/appliance   the former code: git archive ce96c10 appliance (the
#                                  GPU machine gets the working tree without its history)
# Writes $OUT/admission-h200.json and .md; on failure, $OUT/logs.tar.gz.
set -uo pipefail
REPO=$(pwd)
SECONDS_EACH=${1:-8}
shift || true
VARIANTS=()
for v in "$@"; do VARIANTS+=(--variant "$v"); done
bash bench/gpu/stage_gateway.sh .gpu/admission >/dev/null || exit 1
rm -rf /tmp/admroot && mkdir -p /tmp/admroot && chmod 755 /tmp/admroot
export PYTHONPATH=/tmp/gwsite:$REPO PYTHONUNBUFFERED=1
nproc; uptime
python3 -m bench.gpu.admission_stack /tmp/admroot "$OUT/admission-h200.json" \
  --old-tree .gpu/admission-old --seconds "$SECONDS_EACH" "${VARIANTS[@]}"
rc=$?
uptime
if [ $rc -ne 0 ]; then
  tar -czf "$OUT/logs.tar.gz" var/bench/admission var/log/tests /tmp/admroot/log 2>/dev/null
fi
exit $rc
