"""Outside development the audit log must be pinned by signed checkpoints."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from appliance.settings import AuditSettings, Settings

URL = SecretStr("postgresql+psycopg://appliance_gateway:s3cret-Password-123@127.0.0.1/appliance")


def test_production_refuses_an_audit_log_without_checkpoints() -> None:
    audit = AuditSettings(checkpoint_key_file="/etc/appliance/audit-checkpoint.pem")
    assert Settings(environment="production", database_url=URL, audit=audit)
    with pytest.raises(ValidationError, match="checkpoint_every must be positive"):
        Settings(
            environment="production",
            database_url=URL,
            audit=audit.model_copy(update={"checkpoint_every": 0}),
        )
    # Development may turn them off (the tests' scratch chains do).
    assert Settings(audit=AuditSettings(checkpoint_every=0)).audit.checkpoint_every == 0
