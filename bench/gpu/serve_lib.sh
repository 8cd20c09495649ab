#!/bin/bash
# serve_lib.sh: sourced by serve_bench.sh, gateway_run.sh and moe_run.sh. Starts a vLLM
# server (port 8000, its own session), waits for /health, runs `vllm bench serve` (random
# $INPUT_LEN in / $OUTPUT_LEN out, default 1,024 / 512, --ignore-eos; served name
# $MODEL_NAME, tokenizer $TOKENIZER) against a base URL, and stops the server. Results go to
# $OUT/results/*.json; every step logs to $OUT/bench.log. Nothing starts that would run
# past $DEADLINE (epoch seconds), so a call never times out mid-write.
BLOG=$OUT/bench.log
mkdir -p "$OUT/results"

serve_start() {  # serve_start LABEL COMMAND... ; sets SPID and READY (1 or 0)
  local label=$1; shift
  local t0; t0=$(date +%s)
  echo "[$label] $(date +%T) starting: $*" | tee -a "$BLOG"
  setsid bash -c 'echo $$ > /tmp/serve.pid; exec "$@"' _ "$@" > "$OUT/serve_$label.log" 2>&1 < /dev/null &
  sleep 1; SPID=$(cat /tmp/serve.pid); READY=0
  for _ in $(seq 1 "${SERVE_WAIT:-300}"); do
    kill -0 "$SPID" 2>/dev/null || { echo "[$label] server died" | tee -a "$BLOG"; break; }
    if python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=2)" 2>/dev/null; then
      READY=1; break
    fi
    if (( $(date +%s) + 30 > ${DEADLINE:-99999999999} )); then
      echo "[$label] not ready before the deadline" | tee -a "$BLOG"; break
    fi
    sleep 1
  done
  echo "[$label] ready=$READY after $(( $(date +%s) - t0 )) s" | tee -a "$BLOG"
  if [ "$READY" = 1 ]; then
    nvidia-smi --query-gpu=memory.used,memory.total --format=csv >> "$BLOG"
    grep -E "KV cache|Maximum concurrency|max_num_seqs|async" "$OUT/serve_$label.log" | head -5 >> "$BLOG"
  fi
}

bench() {  # bench NAME CONCURRENCY PROMPTS [extra args]; BASE_URL, OPENAI_API_KEY from env
  local name=$1 c=$2 n=$3 k=2; shift 3
  local base=$name  # a repeated name gets _2, _3, ...: no result file is overwritten
  while [ -e "$OUT/results/$name.json" ]; do name=${base}_$k; k=$((k + 1)); done
  if (( $(date +%s) + 45 > ${DEADLINE:-99999999999} )); then
    echo "skipped $name: deadline" | tee -a "$BLOG"; return
  fi
  local tb; tb=$(date +%s)
  timeout "${BENCH_TIMEOUT:-150}" python3 -m vllm.entrypoints.cli.main bench serve \
    --backend openai-chat --endpoint /v1/chat/completions \
    --base-url "${BASE_URL:-http://127.0.0.1:8000}" \
    --model "${MODEL_NAME:-r1q7b}" --tokenizer "${TOKENIZER:-/tmp/tok}" --dataset-name random \
    --random-input-len "${INPUT_LEN:-1024}" --random-output-len "${OUTPUT_LEN:-512}" \
    --num-prompts "$n" --max-concurrency "$c" \
    --num-warmups $(( c < 8 ? c : 8 )) --ignore-eos --disable-tqdm \
    --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99 \
    --save-result --result-dir "$OUT/results" --result-filename "$name.json" "$@" >> "$BLOG" 2>&1
  echo "$name rc=$? took $(( $(date +%s) - tb )) s" | tee -a "$BLOG"
}

prompts_for() {  # 4 × concurrency prompts up to 16, 2 × beyond
  echo $(( $1 <= 16 ? 4 * $1 : 2 * $1 ))
}

serve_stop() {
  kill -TERM -- -"$SPID" 2>/dev/null; sleep 3; kill -KILL -- -"$SPID" 2>/dev/null
  for _ in $(seq 1 20); do
    nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -q . || break; sleep 1
  done
}
