"""Sizing: from the GPUs a customer owns to a model, a layout and the vLLM command line,
and the load benchmark that checks the result.

``catalog`` (models and their architecture figures) and ``gpus`` (memory, bandwidth and
what each GPU can run) feed ``kvcache`` (bytes per token, MLA and V3.2's sparse-attention
indexer modelled exactly) and ``planner`` (which
model, quantization, parallelism and limits fit, and how many staff it serves);
``launch_profile`` turns a plan into vLLM's arguments and environment, the one code path the
local runtime and the Ansible ``vllm`` role both use; ``inventory`` reads GPU facts from an
Ansible inventory for ``appliance plan --inventory``. ``bench`` and ``bench_report`` are
``appliance bench``: a concurrency sweep through the gateway whose goodput is the figure
the planner predicts.

Pure and self-contained: it imports ``errors`` only (and ``bench`` talks HTTP, nothing
else), so ``provision``, ``runtime`` and ``cli`` build on it. A new model goes in
``catalog``; a new GPU in ``gpus``; a new vLLM flag every replica gets in
``launch_profile``; a change of sizing rule in ``planner`` (with its measured basis).
"""
