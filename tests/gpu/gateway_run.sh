#!/bin/bash
# gateway_run.sh: the gateway (auth and audit on) in front of vLLM on the GPU machine,
# against direct access to the same server in the same run, then the BF16 levels the
# first run left out. Needs /tmp/site (install.sh), /tmp/gwsite (stage_gateway.sh), $OUT.
#
#   1. FP8 planner profile; `vllm bench serve` (1,024 in / 512 out) at concurrency 1 and
#      64, direct and through the gateway (the token in OPENAI_API_KEY, which vLLM's bench
#      client sends as the bearer token), interleaved: direct, gateway, direct.
#   2. BF16, planner profile then vLLM's defaults, at concurrency 16, 64 and 128.
set -u
REPO=$(pwd)
export PYTHONPATH=/tmp/site:$REPO PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
export VLLM_USE_FLASHINFER_SAMPLER=0
export DEADLINE=$(( $(date +%s) + ${BUDGET_S:-540} ))
# shellcheck source=tests/gpu/serve_lib.sh
source "$REPO/tests/gpu/serve_lib.sh"
[ -f /tmp/model/config.json ] || python3 tests/gpu/make_dummy_model.py /tmp/model /tmp/tok

PLANNER=$(python3 tests/gpu/render_profile.py fp8 2>> "$BLOG")
# shellcheck disable=SC2086  # the rendered command is shlex-quoted plain words
serve_start fp8_planner $PLANNER
if [ "$READY" = 1 ]; then
  rm -rf /tmp/gwroot && mkdir -p /tmp/gwroot && chmod 755 /tmp/gwroot
  setsid env PYTHONPATH=/tmp/gwsite:/tmp/site:$REPO python3 tests/gpu/gateway_stack.py \
    /tmp/gwroot http://127.0.0.1:8000 8080 /tmp/gwroot/token > "$OUT/gateway.log" 2>&1 &
  GPID=$!
  for _ in $(seq 1 120); do
    grep -q '^http://127.0.0.1:8080$' "$OUT/gateway.log" && break
    kill -0 $GPID 2>/dev/null || break
    sleep 1
  done
  bench fp8_direct_c1 1 4
  if grep -q '^http://127.0.0.1:8080$' "$OUT/gateway.log"; then
    echo "gateway ready" | tee -a "$BLOG"
    BASE_URL=http://127.0.0.1:8080 OPENAI_API_KEY=$(cat /tmp/gwroot/token) bench fp8_gateway_c1 1 4
    bench fp8_direct_c64 64 128
    BASE_URL=http://127.0.0.1:8080 OPENAI_API_KEY=$(cat /tmp/gwroot/token) bench fp8_gateway_c64 64 128
    bench fp8_direct_c64_again 64 128
    PYTHONPATH=/tmp/gwsite:/tmp/site:$REPO python3 tests/gpu/audit_count.py /tmp/gwroot \
      >> "$BLOG" 2>&1
  else
    echo "gateway did not start" | tee -a "$BLOG"
  fi
  kill -TERM -- -"$GPID" 2>/dev/null; sleep 2
fi
serve_stop

PLANNER=$(python3 tests/gpu/render_profile.py bf16 2>> "$BLOG")
for LABEL in bf16_planner bf16_default; do
  if [ $LABEL = bf16_planner ]; then
    # shellcheck disable=SC2086
    serve_start $LABEL $PLANNER
  else
    serve_start $LABEL python3 -m vllm.entrypoints.openai.api_server --model /tmp/model \
      --tokenizer /tmp/tok --load-format dummy --served-model-name r1q7b \
      --host 127.0.0.1 --port 8000
  fi
  if [ "$READY" = 1 ]; then
    for C in 16 64 128; do bench "${LABEL}_c$C" "$C" "$(prompts_for "$C")"; done
  fi
  serve_stop
done
python3 tests/gpu/summarize.py "$OUT/results" "$OUT/results.jsonl" | tee "$OUT/summary_gateway.md"
