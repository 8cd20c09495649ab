"""Personal API keys on the deployed site, through nginx/TLS: the vault's pepper reaches the
gateway (the install runbook generates it with the other secrets), staff create a key with
their own sign-in, an OpenAI-style client chats with it and the audit row names the key, and
a revoked key is refused at once. Runs on the shared site after the compliance tests, in
seconds.
"""

from __future__ import annotations

import httpx

from tests.support.deploy import bundle, deployed, nodes
from tests.support.deploy.deployed import Site


def test_a_staff_key_chats_through_nginx_is_audited_and_revoked(
    site: Site, cluster: nodes.Cluster
) -> None:
    inventory, vault, _ = site
    assert vault.get("vault_api_keys_pepper"), "the runbook's vault has no API keys pepper"
    base = f"https://{cluster.control.address}"
    ctx = deployed.ca(inventory)
    token = deployed.token(base, ctx, vault["vault_keycloak_webui_client_secret"])
    signed_in = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, verify=ctx, timeout=120) as client:
        made = client.post("/api/keys", json={"name": "OA"}, headers=signed_in)
        assert made.status_code == 201, made.text
        key, key_id = made.json()["key"], made.json()["id"]
        keyed = {"Authorization": f"Bearer {key}"}
        body = {
            "model": bundle.MODEL_NAME,
            "messages": [{"role": "user", "content": "你好"}],
            "max_tokens": 4,
        }
        answer = client.post("/v1/chat/completions", json=body, headers=keyed)
        assert answer.status_code == 200, answer.text
        assert key not in client.get("/api/keys", headers=signed_in).text

        revoked = client.delete(f"/api/keys/{key_id}", headers=signed_in)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"] is not None
        refused = client.post("/v1/chat/completions", json=body, headers=keyed)
        assert refused.status_code == 401, refused.text
        assert key not in refused.text

    rows = deployed.psql(
        cluster.control,
        cluster.key,
        "SELECT actor_username, client_id FROM audit_events"
        f" WHERE client_id = 'apikey:{key_id}' AND event_type = 'chat.end'",
    )
    assert rows == [f"{deployed.USER}|apikey:{key_id}"], rows
    leaked = deployed.psql(
        cluster.control,
        cluster.key,
        f"SELECT count(*) FROM audit_events WHERE detail::text LIKE '%{key[8:]}%'",
    )
    assert leaked == ["0"], leaked
