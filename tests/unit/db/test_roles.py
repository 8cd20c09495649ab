"""The roles' SQL as the runtime, the playbooks and the tests apply it (appliance.db.roles)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from appliance.cli.main import app
from appliance.db import roles


def test_the_owner_may_not_sign_in_and_the_migrator_acts_as_it() -> None:
    cluster = roles.cluster_sql()
    assert f"ALTER ROLE {roles.OWNER} NOLOGIN INHERIT NOSUPERUSER" in cluster[1]
    assert f"ALTER ROLE {roles.OWNER} PASSWORD NULL" in cluster
    assert f"GRANT {roles.OWNER} TO {roles.MIGRATOR}" in cluster
    assert f"ALTER ROLE {roles.MIGRATOR} SET role = '{roles.OWNER}'" in cluster
    assert f"GRANT pg_read_all_data TO {roles.BACKUP}" in cluster
    # No other login is a member of the owner.
    members = [s for s in cluster if s.startswith(f"GRANT {roles.OWNER} TO")]
    assert members == [f"GRANT {roles.OWNER} TO {roles.MIGRATOR}"]


def test_the_database_belongs_to_the_owner_and_public_gets_nothing() -> None:
    statements = roles.database_sql("appliance")
    assert statements[0] == f"ALTER DATABASE appliance OWNER TO {roles.OWNER}"
    assert "REVOKE ALL ON DATABASE appliance FROM PUBLIC" in statements
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC" in statements
    assert f"GRANT USAGE ON SCHEMA public TO {roles.GATEWAY}" in statements
    assert not any("SCHEMA public TO" in s and roles.BACKUP in s for s in statements)


@pytest.mark.parametrize("name", ["Appliance", "a; DROP ROLE x", "a'b", ""])
def test_only_plain_names_are_rendered(name: str) -> None:
    with pytest.raises(ValueError, match="plain"):
        roles.RoleNames(gateway=name)
    with pytest.raises(ValueError, match="plain"):
        roles.database_sql(name)


def test_grants_command_prints_the_state_before_and_after() -> None:
    result = CliRunner().invoke(app, ["db", "grants", "database", "--database", "site_db"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == lines[-1] == roles.state_query("site_db") + ";"
    assert f"ALTER DATABASE site_db OWNER TO {roles.OWNER};" in lines
    refused = CliRunner().invoke(app, ["db", "grants", "everything"])
    assert refused.exit_code == 1
