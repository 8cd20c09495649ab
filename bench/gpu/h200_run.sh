#!/bin/bash
# h200_run.sh fp8|bf16 [SIDES]: one measuring run on an H200. Serves the dummy
# R1-Distill-Qwen-7B with each of SIDES (default "planner default"), back to back on the
# same GPU: the planner's launch profile (rendered by appliance.sizing.launch_profile from
# the plan), then vLLM's defaults (only model, tokenizer, dummy weights, the quantization and
# the port given), each at concurrency 1, 16, 64, 128 (the planner also once greedy at 1,
# unless GREEDY=0). One side per call fits the 10-minute limit of a call; /tmp/site stays
# between calls on a warm machine. Needs /tmp/site
# (install.sh) and $OUT; writes there results.jsonl, summary_MODE.md, run.json (run_facts.py),
# bench.log and results.tar.gz (the result files and the servers' logs).
set -u
MODE=$1
SIDES=${2:-planner default}
REPO=$(pwd)
export PYTHONPATH=/tmp/site:$REPO PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
export VLLM_USE_FLASHINFER_SAMPLER=0   # flashinfer is not shipped: native top-p sampler
export DEADLINE=$(( $(date +%s) + ${BUDGET_S:-560} ))
python3 bench/gpu/make_dummy_model.py /tmp/model /tmp/tok
Q=(); [ "$MODE" = fp8 ] && Q=(--quantization fp8)
DEFAULT=(python3 -m vllm.entrypoints.openai.api_server --model /tmp/model --tokenizer /tmp/tok
  --load-format dummy "${Q[@]}" --served-model-name r1q7b --host 127.0.0.1 --port 8000)
SERVERS=()
for SIDE in $SIDES; do
  if [ "$SIDE" = planner ]; then
    PLANNER=$(python3 bench/gpu/render_profile.py "$MODE" 2>> "$OUT/bench.log")
    echo "planner profile: $PLANNER" | tee -a "$OUT/bench.log"
    # shellcheck disable=SC2086  # the rendered command is shlex-quoted plain words
    GREEDY=${GREEDY:-1} bash bench/gpu/serve_bench.sh "${MODE}_planner" $PLANNER
    SERVERS+=("${MODE}_planner=$PLANNER")
  else
    bash bench/gpu/serve_bench.sh "${MODE}_default" "${DEFAULT[@]}"
    SERVERS+=("${MODE}_default=${DEFAULT[*]}")
  fi
done
python3 bench/gpu/summarize.py "$OUT/results" "$OUT/results.jsonl" | tee "$OUT/summary_$MODE.md"
python3 bench/gpu/run_facts.py "$MODE" "$OUT" "${SERVERS[@]}" > "$OUT/run.json"
(cd "$OUT" && tar -czf results.tar.gz results serve_*.log && rm -rf results serve_*.log)
