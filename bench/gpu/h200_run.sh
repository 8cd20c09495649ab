#!/bin/bash
# h200_run.sh fp8|bf16: one measuring run on an H200. Serves the dummy
# R1-Distill-Qwen-7B twice, back to back on the same GPU: first with the planner's launch
# profile (rendered by appliance.sizing.launch_profile from the plan), then with vLLM's defaults
# (only model, tokenizer, dummy weights, the quantization and the port given), each at
# concurrency 1, 16, 64, 128. Needs /tmp/site (install.sh) and $OUT.
set -u
MODE=$1
REPO=$(pwd)
export PYTHONPATH=/tmp/site:$REPO PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
export VLLM_USE_FLASHINFER_SAMPLER=0   # flashinfer is not shipped: native top-p sampler
export DEADLINE=$(( $(date +%s) + ${BUDGET_S:-560} ))
python3 bench/gpu/make_dummy_model.py /tmp/model /tmp/tok
PLANNER=$(python3 bench/gpu/render_profile.py "$MODE" 2>> "$OUT/bench.log")
echo "planner profile: $PLANNER" | tee -a "$OUT/bench.log"
Q=(); [ "$MODE" = fp8 ] && Q=(--quantization fp8)
# shellcheck disable=SC2086  # the rendered command is shlex-quoted plain words
GREEDY=1 bash bench/gpu/serve_bench.sh "${MODE}_planner" $PLANNER
bash bench/gpu/serve_bench.sh "${MODE}_default" python3 -m vllm.entrypoints.openai.api_server \
  --model /tmp/model --tokenizer /tmp/tok --load-format dummy "${Q[@]}" \
  --served-model-name r1q7b --host 127.0.0.1 --port 8000
python3 bench/gpu/summarize.py "$OUT/results" "$OUT/results.jsonl" | tee "$OUT/summary_$MODE.md"
