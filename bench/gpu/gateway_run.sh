#!/bin/bash
# gateway_run.sh: the gateway (auth and audit on) in front of vLLM on the GPU machine,
# against direct access to the same server in the same run, then the BF16 level the
# earlier runs left out. Needs /tmp/site (install.sh), /tmp/gwsite (stage_gateway.sh), $OUT.
#
#   1. FP8 planner profile; `vllm bench serve` (1,024 in / 512 out) at concurrency 1 and
#      64, direct and through the gateway (the token in OPENAI_API_KEY, which vLLM's bench
#      client sends as the bearer token), interleaved: direct, gateway, direct. At 64 the
#      requests arrive as a Poisson stream of $RATE/s (default 100) until 64 are open, the
#      same for both paths: a burst of 64 at one instant is refused in part by the
#      gateway's load shedding (16 queued requests per worker), which the last run
#      (gateway, all 128 requests at time 0) shows. Then the audit rows are counted and
#      the chain verified (audit_count.py).
#   2. BF16 at concurrency $BF16_LEVELS (default 128): vLLM's defaults, then the planner.
set -u
REPO=$(pwd)
export PYTHONPATH=/tmp/site:$REPO PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
export VLLM_USE_FLASHINFER_SAMPLER=0
export DEADLINE=$(( $(date +%s) + ${BUDGET_S:-540} ))
RATE=${RATE:-100}
# shellcheck source=bench/gpu/serve_lib.sh
source "$REPO/bench/gpu/serve_lib.sh"
[ -f /tmp/model/config.json ] || python3 bench/gpu/make_dummy_model.py /tmp/model /tmp/tok

gw() {  # gw NAME CONCURRENCY PROMPTS [extra]: bench through the gateway
  BASE_URL=http://127.0.0.1:8080 OPENAI_API_KEY=$(cat /tmp/gwroot/token) bench "$@"
}

PLANNER=$(python3 bench/gpu/render_profile.py fp8 2>> "$BLOG")
# shellcheck disable=SC2086  # the rendered command is shlex-quoted plain words
serve_start fp8_planner $PLANNER
if [ "$READY" = 1 ]; then
  rm -rf /tmp/gwroot && mkdir -p /tmp/gwroot && chmod 755 /tmp/gwroot
  t0=$(date +%s)
  setsid env PYTHONPATH=/tmp/gwsite:/tmp/site:$REPO python3 bench/gpu/gateway_stack.py \
    /tmp/gwroot http://127.0.0.1:8000 8080 /tmp/gwroot/token > "$OUT/gateway.log" 2>&1 &
  GPID=$!
  for _ in $(seq 1 120); do
    grep -q '^http://127.0.0.1:8080$' "$OUT/gateway.log" && break
    kill -0 $GPID 2>/dev/null || break
    sleep 1
  done
  if grep -q '^http://127.0.0.1:8080$' "$OUT/gateway.log"; then
    echo "gateway ready after $(( $(date +%s) - t0 )) s" | tee -a "$BLOG"
    bench fp8_direct_c1 1 4
    gw fp8_gateway_c1 1 4
    bench fp8_direct_c1_again 1 4
    bench fp8_direct_c64 64 128 --request-rate "$RATE"
    gw fp8_gateway_c64 64 128 --request-rate "$RATE"
    bench fp8_direct_c64_again 64 128 --request-rate "$RATE"
    gw fp8_gateway_c64_burst 64 128
    PYTHONPATH=/tmp/gwsite:/tmp/site:$REPO python3 bench/gpu/audit_count.py /tmp/gwroot \
      2>&1 | tee -a "$BLOG" > "$OUT/audit.txt"
  else
    echo "gateway did not start" | tee -a "$BLOG"
    tail -40 "$OUT/gateway.log"
  fi
  kill -TERM -- -"$GPID" 2>/dev/null; sleep 3
fi
serve_stop

PLANNER=$(python3 bench/gpu/render_profile.py bf16 2>> "$BLOG")
for LABEL in bf16_default bf16_planner; do
  if (( $(date +%s) + ${MIN_LEFT_S:-150} > DEADLINE )); then
    echo "[$LABEL] skipped: under ${MIN_LEFT_S:-150} s left" | tee -a "$BLOG"; continue
  fi
  if [ $LABEL = bf16_planner ]; then
    # shellcheck disable=SC2086
    serve_start $LABEL $PLANNER
  else
    serve_start $LABEL python3 -m vllm.entrypoints.openai.api_server --model /tmp/model \
      --tokenizer /tmp/tok --load-format dummy --served-model-name r1q7b \
      --host 127.0.0.1 --port 8000
  fi
  if [ "$READY" = 1 ]; then
    for C in ${BF16_LEVELS:-128}; do bench "${LABEL}_c$C" "$C" "$(prompts_for "$C")"; done
  fi
  serve_stop
done
python3 bench/gpu/summarize.py "$OUT/results" "$OUT/results.jsonl" | tee "$OUT/summary_gateway.md"
