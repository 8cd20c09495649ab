"""What the runtime starts, decided without starting anything: the gateway's settings file,
vLLM's command line, the order of the stack and the summary ``appliance up`` ends with."""

from __future__ import annotations

import stat
from typing import Any

from appliance.runtime import gateway_service, stack, vllm_service
from appliance.runtime.paths import DEMO_MODEL_NAME, RuntimePaths


def test_the_gateway_settings_file_is_owner_only_and_names_its_database_and_keys(
    paths: RuntimePaths,
) -> None:
    values = gateway_service.render_settings(paths)

    text = paths.settings_file.read_text(encoding="utf-8")
    assert stat.S_IMODE(paths.settings_file.stat().st_mode) == 0o600
    assert all(f"{name}={value}\n" in text for name, value in values.items())
    assert values["APPLIANCE_ENVIRONMENT"] == "development"
    assert values["APPLIANCE_DATABASE_URL"].startswith("postgresql+psycopg://appliance_gateway:")
    assert values["APPLIANCE_MIGRATION_DATABASE_URL"].startswith(
        "postgresql+psycopg://appliance_migrator:"
    )
    assert values["APPLIANCE_BACKENDS"] == "http://127.0.0.1:8011"
    key = paths.secret("audit_checkpoint_key.pem")
    assert values["APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE"] == str(key)
    assert key.exists()


def test_the_checkpoint_key_is_made_once(paths: RuntimePaths) -> None:
    first = gateway_service.checkpoint_key(paths)
    before = paths.secret("audit_checkpoint_key.pem").read_bytes()
    assert gateway_service.checkpoint_key(paths) == first
    assert paths.secret("audit_checkpoint_key.pem").read_bytes() == before


def test_vllm_serves_the_demo_model_with_the_think_budget_offline(paths: RuntimePaths) -> None:
    argv, env = vllm_service.command(paths)

    assert argv[0] == str(paths.vllm_python)
    assert argv[argv.index("--served-model-name") + 1] == DEMO_MODEL_NAME
    assert argv[argv.index("--port") + 1] == "8011"
    assert argv[argv.index("--logits-processors") + 1] == "think_budget:ThinkBudget"
    assert env["PYTHONPATH"] == str(paths.root / "scripts" / "demo_model")
    assert env["APPLIANCE_DEMO_THINK_BUDGET"] == str(vllm_service.THINK_BUDGET_TOKENS)
    assert env["HF_HUB_OFFLINE"] == "1"


def test_services_start_in_dependency_order() -> None:
    assert [s.value for s in stack.ORDER] == ["postgres", "keycloak", "vllm", "gateway", "webui"]
    assert stack.URLS[stack.Service.POSTGRES] == "127.0.0.1:55432"


def test_the_summary_says_where_everything_is_and_who_can_sign_in(paths: RuntimePaths) -> None:
    content: dict[str, Any] = {
        "webui_url": "http://127.0.0.1:7860",
        "gateway_url": "http://127.0.0.1:8080",
        "backends": ["http://127.0.0.1:8011"],
        "model": DEMO_MODEL_NAME,
        "keycloak": {"url": "http://127.0.0.1:8180", "realm": "appliance"},
        "users": [
            {"username": "sun.li", "password": "pw1", "roles": [], "groups": ["/dept/legal"]},
            {"username": "liu.yang", "password": "pw2", "roles": ["auditor"], "groups": []},
        ],
    }
    text = "\n".join(stack.summary(paths, content))

    assert "The appliance is running (loopback only):" in text
    assert "web UI      http://127.0.0.1:7860" in text
    assert f"(model {DEMO_MODEL_NAME})" in text
    assert "sun.li     pw1  (no roles)" in text
    assert "liu.yang   pw2  auditor" in text
    assert str(paths.endpoints_file) in text


def test_vllm_requires_the_key_the_gateway_sends_and_only_in_its_environment(
    paths: RuntimePaths,
) -> None:
    argv, env = vllm_service.command(paths)
    values = gateway_service.render_settings(paths)

    key = paths.secret("vllm_api_key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(env["VLLM_API_KEY"]) >= 32
    assert values["APPLIANCE_BACKEND_API_KEY"] == env["VLLM_API_KEY"]
    assert env["VLLM_API_KEY"] not in " ".join(argv) and "--api-key" not in argv
    assert vllm_service.command(paths)[1]["VLLM_API_KEY"] == env["VLLM_API_KEY"]
