#!/bin/bash
# serve_bench.sh LABEL COMMAND...
# Start the vLLM server given by COMMAND (port 8000, dummy weights) in its own session,
# wait for /health, run `vllm bench serve` (random 1,024 in / 512 out, --ignore-eos) at
# each concurrency in $LEVELS, then stop it. With GREEDY=1 also one greedy (temperature 0)
# run at concurrency 1, to show what sampling costs per step. Results: $OUT/results/*.json.
# Skips what would run past $DEADLINE (epoch seconds) so a call never times out mid-write.
set -u
LABEL=$1; shift
LEVELS=${LEVELS:-"1 16 64 128"}
LOG=$OUT/serve_$LABEL.log
BLOG=$OUT/bench.log
mkdir -p "$OUT/results"
t0=$(date +%s)
echo "[$LABEL] $(date +%T) starting: $*" | tee -a "$BLOG"
setsid bash -c 'echo $$ > /tmp/serve.pid; exec "$@"' _ "$@" > "$LOG" 2>&1 < /dev/null &
sleep 1; SPID=$(cat /tmp/serve.pid)
ok=0
for _ in $(seq 1 "${SERVE_WAIT:-300}"); do
  kill -0 "$SPID" 2>/dev/null || { echo "[$LABEL] server died" | tee -a "$BLOG"; break; }
  if python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=2)" 2>/dev/null; then
    ok=1; break
  fi
  sleep 1
done
echo "[$LABEL] ready=$ok after $(( $(date +%s) - t0 )) s" | tee -a "$BLOG"
bench() {  # bench NAME CONCURRENCY PROMPTS [extra args]
  local name=$1 c=$2 n=$3; shift 3
  if (( $(date +%s) + 60 > ${DEADLINE:-99999999999} )); then
    echo "[$LABEL] skipped $name: deadline" | tee -a "$BLOG"; return
  fi
  local tb; tb=$(date +%s)
  timeout "${BENCH_TIMEOUT:-150}" python3 -m vllm.entrypoints.cli.main bench serve \
    --backend openai-chat --endpoint /v1/chat/completions --base-url http://127.0.0.1:8000 \
    --model r1q7b --tokenizer /tmp/tok --dataset-name random --random-input-len 1024 \
    --random-output-len 512 --num-prompts "$n" --max-concurrency "$c" \
    --num-warmups $(( c < 8 ? c : 8 )) --ignore-eos --disable-tqdm \
    --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99 \
    --save-result --result-dir "$OUT/results" --result-filename "$name.json" "$@" >> "$BLOG" 2>&1
  echo "[$LABEL] $name rc=$? took $(( $(date +%s) - tb )) s" | tee -a "$BLOG"
}
if [ $ok = 1 ]; then
  nvidia-smi --query-gpu=memory.used,memory.total --format=csv >> "$BLOG"
  grep -E "KV cache|Maximum concurrency|max_num_seqs|async" "$LOG" | head -5 >> "$BLOG"
  for C in $LEVELS; do
    bench "${LABEL}_c$C" "$C" $(( C <= 16 ? 4 * C : 2 * C ))
  done
  [ "${GREEDY:-0}" = 1 ] && bench "${LABEL}_c1_greedy" 1 4 --temperature 0
fi
kill -TERM -- -"$SPID" 2>/dev/null; sleep 3; kill -KILL -- -"$SPID" 2>/dev/null
for _ in $(seq 1 20); do
  nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -q . || break; sleep 1
done
echo "[$LABEL] done in $(( $(date +%s) - t0 )) s" | tee -a "$BLOG"
