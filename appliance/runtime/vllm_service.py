"""vLLM (CPU build, ``var/vllm-venv``) serving the demo model on 127.0.0.1:8011.

The launch profile comes from ``appliance.sizing.launch_profile``, like on GPU nodes. The
demo model gets one addition: the ``think_budget`` logits processor from ``scripts/demo_model``,
which closes SmolLM2's reasoning block after a few tokens so that, through vLLM's
``deepseek_r1`` reasoning parser, answers carry both ``reasoning`` and ``content`` as R1's
do (see that module's docstring for why it is needed and what it does).

Like every replica of a deployed site, it requires a key (``var/secrets/vllm_api_key``,
made on first start, handed to vLLM as ``VLLM_API_KEY`` so ``ps`` never shows it) that only
the gateway sends: the integration tests reach the model through the gateway, as users do.
"""

from __future__ import annotations

import dataclasses
import os

import httpx

from appliance.runtime import process
from appliance.runtime.endpoints import VLLM_URL
from appliance.runtime.paths import DEMO_MODEL_NAME, RuntimePaths
from appliance.runtime.secrets import vllm_api_key
from appliance.sizing.launch_profile import cpu_demo_profile, vllm_command, vllm_environment

SERVICE = "vllm"
PORT = 8011
START_TIMEOUT_S = 420.0
THINK_BUDGET_TOKENS = 16


def is_ready(paths: RuntimePaths) -> bool:
    """Healthy, serving the demo model to the key's holder, and refusing a request without
    it: a vLLM left running without the key (an older checkout's) is restarted with it."""
    bearer = {"Authorization": f"Bearer {vllm_api_key(paths)}"}
    try:
        health = httpx.get(f"{VLLM_URL}/health", timeout=2.0)
        models = httpx.get(f"{VLLM_URL}/v1/models", headers=bearer, timeout=2.0)
        keyless = httpx.get(f"{VLLM_URL}/v1/models", timeout=2.0)
    except httpx.HTTPError:
        return False
    if health.status_code != 200 or models.status_code != 200 or keyless.status_code != 401:
        return False
    return any(m.get("id") == DEMO_MODEL_NAME for m in models.json().get("data", []))


def command(paths: RuntimePaths) -> tuple[list[str], dict[str, str]]:
    """The server's argv and extra environment."""
    base = cpu_demo_profile(
        str(paths.model_dir),
        served_model_name=DEMO_MODEL_NAME,
        port=PORT,
        cpus=os.cpu_count() or 2,
    )
    profile = dataclasses.replace(
        base,
        extra_args=(*base.extra_args, "--logits-processors", "think_budget:ThinkBudget"),
        env={
            **base.env,
            "PYTHONPATH": str(paths.root / "scripts" / "demo_model"),
            "APPLIANCE_DEMO_THINK_BUDGET": str(THINK_BUDGET_TOKENS),
            "VLLM_API_KEY": vllm_api_key(paths),
        },
    )
    return vllm_command(profile, python=str(paths.vllm_python)), vllm_environment(profile)


def start(paths: RuntimePaths) -> bool:
    """Start vLLM unless it already serves the model; returns whether it was started now."""
    if is_ready(paths):
        return False
    if not paths.vllm_python.exists() or not (paths.model_dir / "config.json").exists():
        raise process.ServiceError(
            f"vLLM or the demo model is not installed ({paths.vllm_python}, {paths.model_dir}):"
            " run `make bootstrap`"
        )
    argv, env = command(paths)
    process.launch(
        paths,
        SERVICE,
        argv,
        what="vLLM",
        ready=lambda: is_ready(paths),
        timeout_s=START_TIMEOUT_S,
        env=env,
        interval_s=2.0,
    )
    return True


def stop(paths: RuntimePaths) -> bool:
    return process.stop_pid_file(paths.pid(SERVICE), timeout_s=30.0)
