"""`appliance bench` against the local appliance: real gateway, Keycloak token, vLLM."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

APPLIANCE = Path(sys.executable).parent / "appliance"

pytestmark = pytest.mark.services


def test_bench_sweeps_levels_through_the_gateway_and_saves_json_and_plot(
    endpoints: dict[str, Any], tokens: Any, tmp_path: Path
) -> None:
    prefix = tmp_path / "run"
    env = {**os.environ, "BENCH_TOKEN": tokens("zhang.wei")}
    result = subprocess.run(
        [str(APPLIANCE), "bench", "--target", endpoints["gateway_url"], "--token-env",
         "BENCH_TOKEN", "--concurrency", "1,2", "--requests", "2", "--max-tokens", "12",
         "--min-tps", "1", "--output", str(prefix)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "goodput" in result.stdout

    report = json.loads(prefix.with_suffix(".json").read_text())
    assert report["model"] == endpoints["model"]
    assert [level["concurrency"] for level in report["levels"]] == [1, 2]
    for level in report["levels"]:
        assert level["failed"] == 0, level["errors"]
        assert level["output_tokens"] > 0
        assert level["ttft_p50_ms"] > 0
        assert level["output_tps"] > 0
    assert report["goodput_concurrency"] in (1, 2)
    assert prefix.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_with_a_bad_token_reports_every_request_failed(
    endpoints: dict[str, Any], tmp_path: Path
) -> None:
    env = {**os.environ, "BENCH_TOKEN": "not-a-token"}
    result = subprocess.run(
        [str(APPLIANCE), "bench", "--target", endpoints["gateway_url"], "--token-env",
         "BENCH_TOKEN", "--concurrency", "1", "--requests", "1", "--max-tokens", "4",
         "--model", endpoints["model"], "--output", str(tmp_path / "bad")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    report = json.loads((tmp_path / "bad.json").read_text())
    assert report["levels"][0]["failed"] == 1
    assert "HTTP 401" in report["levels"][0]["errors"][0]
