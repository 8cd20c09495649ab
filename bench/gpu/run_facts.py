"""Write what a measuring run needs beside its results to be read later: the machine (GPU,
memory, driver), the software (Python, torch, vLLM), the date, the plan behind the
planner's profile, each server's launch command, start time and memory split as vLLM logged
them, and the load's parameters. Runs on the GPU machine at the end of ``h200_run.sh``.

Usage: python3 run_facts.py MODE OUT_DIR LABEL=COMMAND... > run.json
"""

import datetime
import json
import os
import platform
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from bench.gpu.render_profile import CONTEXT, proof_plan

SERVER_LOG = {  # what vLLM logs at start, as numbers
    "weights_gib": r"Model loading took ([\d.]+) ?GiB",
    "kv_cache_gib": r"Available KV cache memory: ([\d.]+) ?GiB",
    "kv_cache_tokens": r"GPU KV cache size: ([\d,]+) tokens",
}


def gpu() -> dict[str, str]:
    fields = ("name", "memory.total", "driver_version")
    line = subprocess.run(
        ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[0]
    return dict(zip(fields, (value.strip() for value in line.split(",")), strict=True))


def server(out: Path, label: str, command: str) -> dict[str, object]:
    facts: dict[str, object] = {"command": command}
    bench_log = (out / "bench.log").read_text()
    ready = re.search(rf"\[{label}\] ready=(\d) after (\d+) s", bench_log)
    facts["ready"] = ready is not None and ready.group(1) == "1"
    facts["ready_after_s"] = int(ready.group(2)) if ready else None
    log = out / f"serve_{label}.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    for key, pattern in SERVER_LOG.items():
        found = re.search(pattern, text)
        value = found.group(1).replace(",", "") if found else None
        facts[key] = (
            None if value is None else int(value) if key.endswith("tokens") else float(value)
        )
    return facts


def main(mode: str, out: Path, servers: list[str]) -> None:
    chosen = proof_plan(mode)
    facts = {
        "mode": mode,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "gpu": gpu(),
        "cpus": os.cpu_count(),
        "software": {
            "python": platform.python_version(),
            "torch": version("torch"),
            "vllm": version("vllm"),
        },
        "plan": {
            "gpu": "1×H200",
            "context": CONTEXT,
            "decode_ceiling_tps": round(chosen.decode_ceiling_tps, 1),
            "expected_tps": round(chosen.expected_tps, 1),
            "weights_gib": round(chosen.weights_gib_per_gpu, 2),
            "kv_cache_gib": round(chosen.kv_cache_gib_per_gpu, 2),
            "kv_cache_tokens": chosen.kv_capacity_tokens,
        },
        "load": {
            "input_len": int(os.environ.get("INPUT_LEN", "1024")),
            "output_len": int(os.environ.get("OUTPUT_LEN", "512")),
        },
        "servers": {
            label: server(out, label, command)
            for label, command in (spec.split("=", 1) for spec in servers)
        },
    }
    print(json.dumps(facts, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
