#!/bin/bash
# serve_bench.sh LABEL COMMAND...
# Serve COMMAND (a vLLM server on port 8000, dummy weights), bench it at each concurrency
# in $LEVELS (with GREEDY=1 also one greedy run at concurrency 1, to show what sampling
# costs per step), then stop it. See serve_lib.sh.
set -u
LABEL=$1; shift
LEVELS=${LEVELS:-"1 16 64 128"}
# shellcheck source=bench/gpu/serve_lib.sh
source "$(dirname "$0")/serve_lib.sh"
t0=$(date +%s)
serve_start "$LABEL" "$@"
if [ "$READY" = 1 ]; then
  for C in $LEVELS; do
    bench "${LABEL}_c$C" "$C" "$(prompts_for "$C")"
  done
  [ "${GREEDY:-0}" = 1 ] && bench "${LABEL}_c1_greedy" 1 4 --temperature 0
fi
serve_stop
echo "[$LABEL] done in $(( $(date +%s) - t0 )) s" | tee -a "$BLOG"
