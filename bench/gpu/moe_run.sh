#!/bin/bash
# moe_run.sh: per-layer decode cost of the DeepSeek-V3/R1 shape on one H200. Serves two
# slices of R1 with dummy FP8 block-quantized weights (make_dummy_r1.py): $MOE_LAYERS
# layers, default 4 (3 dense + 1 MoE) and 8 (3 dense + 5 MoE), and benches each at
# concurrency 1, 64 and 256 (random 1,024 in / 256 out). Both slices carry the same
# embedding, LM head and dense layers, so the difference of their step times over the
# difference in MoE layers is one MoE layer's cost. Needs /tmp/site with vLLM's MoE library
# (vllm/_moe_C_stable_libtorch.abi3.so, left out of the dense pack) and $OUT.
#
# Settings (ops/benchmarks/gpu-h200.md): CUTLASS for the FP8 block linear layers
# (VLLM_USE_DEEP_GEMM=0: DeepGEMM would JIT-compile for minutes at start), uniform random
# expert routing (dummy weights would send every token to the same 8 experts), 0.85 of
# the GPU's memory and expandable segments (the 8-layer slice ran out of memory while
# capturing CUDA graphs at vLLM's default 0.92), CUDA graphs for 15 batch sizes up to 256.
set -u
REPO=$(pwd)
export PYTHONPATH=/tmp/site:$REPO PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
export VLLM_USE_FLASHINFER_SAMPLER=0 VLLM_USE_DEEP_GEMM=0
export VLLM_MOE_ROUTING_SIMULATION_STRATEGY=uniform_random
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
export DEADLINE=$(( $(date +%s) + ${BUDGET_S:-540} ))
export MODEL_NAME=r1slice TOKENIZER=/tmp/r1tok OUTPUT_LEN=${OUTPUT_LEN:-256}
# shellcheck source=bench/gpu/serve_lib.sh
source "$REPO/bench/gpu/serve_lib.sh"

for L in ${MOE_LAYERS:-4 8}; do
  if (( $(date +%s) + ${MIN_LEFT_S:-200} > DEADLINE )); then
    echo "[r1_L$L] skipped: under ${MIN_LEFT_S:-200} s left" | tee -a "$BLOG"; continue
  fi
  python3 bench/gpu/make_dummy_r1.py "/tmp/r1_$L" /tmp/r1tok "$L"
  serve_start "r1_L$L" python3 -m vllm.entrypoints.openai.api_server --model "/tmp/r1_$L" \
    --tokenizer /tmp/r1tok --load-format dummy --served-model-name r1slice \
    --host 127.0.0.1 --port 8000 --max-model-len 2048 --max-num-seqs 256 \
    --gpu-memory-utilization 0.85 \
    --cudagraph-capture-sizes 1 2 4 8 16 24 32 48 64 96 128 160 192 224 256
  if [ "$READY" = 1 ]; then
    grep -E "Model loading took|weights|Graph capturing finished|torch.compile takes" \
      "$OUT/serve_r1_L$L.log" | head -6 >> "$BLOG"
    bench "r1_L${L}_c1" 1 4
    bench "r1_L${L}_c64" 64 128
    bench "r1_L${L}_c256" 256 256
  else
    tail -30 "$OUT/serve_r1_L$L.log"
  fi
  serve_stop
done
python3 bench/gpu/summarize.py "$OUT/results" "$OUT/results.jsonl" | tee "$OUT/summary_moe.md"
