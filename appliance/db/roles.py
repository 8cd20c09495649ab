"""The appliance database's roles and what each may do: the one place they are declared.

- ``appliance_owner`` owns the database, its schema objects and the audit tables, and is
  ``NOLOGIN``: nobody signs in as it. Owning a table is what allows ``ALTER TABLE``,
  ``DISABLE TRIGGER`` and ``DROP``, so no password anywhere grants those rights directly.
- ``appliance_migrator`` is the login that runs the migrations: a member of the owner
  whose every session starts as the owner (``ALTER ROLE ... SET role``), so whatever a
  migration creates belongs to the owner, never to a login. Its credentials are root's only.
- ``appliance_gateway`` is the gateway's (and the web UI's) login: it may connect and use
  the schema; table rights come from the migrations (``SELECT, INSERT`` on the audit tables,
  read-write on the rest through the owner's default privileges).
- ``appliance_backup`` is the nightly and manual dumps' login: it reads every table
  (``pg_read_all_data``) and may change none.

The local runtime (``appliance.runtime.postgres_service``), the postgresql Ansible role and
restore.yml (through ``appliance db grants``), and the tests' scratch databases all apply
:func:`cluster_sql` then :func:`database_sql`, as the superuser. Passwords are not set here:
each caller sets its logins' passwords its own way. Keycloak's role and database are the
postgresql role's alone.

May import nothing of the appliance. A new role, or a right given to one, goes here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OWNER = "appliance_owner"
MIGRATOR = "appliance_migrator"
GATEWAY = "appliance_gateway"
BACKUP = "appliance_backup"

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class Role:
    """One role: whether it may sign in, the roles it belongs to, its session's role."""

    name: str
    login: bool
    member_of: tuple[str, ...] = ()
    session_role: str | None = None
    connect: bool = False
    schema_usage: bool = False


@dataclass(frozen=True, slots=True)
class RoleNames:
    """The names the roles go by (the playbooks may rename them; the runtime does not)."""

    owner: str = OWNER
    migrator: str = MIGRATOR
    gateway: str = GATEWAY
    backup: str = BACKUP

    def __post_init__(self) -> None:
        for name in (self.owner, self.migrator, self.gateway, self.backup):
            if not _NAME.fullmatch(name):
                raise ValueError(f"not a plain role name: {name!r}")


def roles(names: RoleNames = RoleNames()) -> tuple[Role, ...]:
    """The appliance's roles, owner first (the others refer to it)."""
    return (
        Role(names.owner, login=False),
        Role(
            names.migrator,
            login=True,
            member_of=(names.owner,),
            session_role=names.owner,
            connect=True,
        ),
        Role(names.gateway, login=True, connect=True, schema_usage=True),
        Role(names.backup, login=True, member_of=("pg_read_all_data",), connect=True),
    )


def _check_database(database: str) -> str:
    if not _NAME.fullmatch(database):
        raise ValueError(f"not a plain database name: {database!r}")
    return database


def _ensure_role(role: Role) -> list[str]:
    login = "LOGIN" if role.login else "NOLOGIN"
    # A login that acts as another role does so by SET ROLE (its sessions do by default),
    # never by holding that role's rights implicitly.
    inherit = "NOINHERIT" if role.session_role else "INHERIT"
    statements = [
        "DO $$ BEGIN\n"
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role.name}') THEN\n"
        f"    CREATE ROLE {role.name};\n"
        "  END IF;\n"
        "END $$",
        f"ALTER ROLE {role.name} {login} {inherit} NOSUPERUSER NOCREATEDB NOCREATEROLE "
        "NOREPLICATION NOBYPASSRLS",
    ]
    if not role.login:
        statements.append(f"ALTER ROLE {role.name} PASSWORD NULL")
    statements += [f"GRANT {group} TO {role.name}" for group in role.member_of]
    if role.session_role:
        statements.append(f"ALTER ROLE {role.name} SET role = '{role.session_role}'")
    return statements


def cluster_sql(names: RoleNames = RoleNames()) -> list[str]:
    """Create the roles and give each its attributes and memberships; run as the superuser
    on any database of the cluster, before the appliance's database is created (it is
    owned by the owner role). Safe to run again: it converges."""
    return [statement for role in roles(names) for statement in _ensure_role(role)]


def database_sql(database: str, names: RoleNames = RoleNames()) -> list[str]:
    """The owner, pgvector and the connect and schema rights of ``database``; run as the
    superuser connected to it. Table rights are the migrations' (they run as the owner)."""
    db = _check_database(database)
    statements = [
        f"ALTER DATABASE {db} OWNER TO {names.owner}",
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    ]
    for role in roles(names):
        if role.connect:
            statements.append(f"GRANT CONNECT ON DATABASE {db} TO {role.name}")
        if role.schema_usage:
            statements.append(f"GRANT USAGE ON SCHEMA public TO {role.name}")
    return statements


def state_query(database: str, names: RoleNames = RoleNames()) -> str:
    """One line that changes whenever :func:`cluster_sql` or :func:`database_sql` changes
    something: printed before and after them, it tells a playbook whether anything did."""
    db = _check_database(database)
    listed = ", ".join(f"'{role.name}'" for role in roles(names))
    # Names and database are checked plain identifiers (RoleNames, _check_database).
    return (
        "SELECT md5(concat_ws('|',"  # noqa: S608
        " (SELECT string_agg(concat_ws(',', rolname, rolcanlogin, rolinherit, rolsuper,"
        " rolcreatedb, rolcreaterole, rolpassword IS NULL, (SELECT setconfig::text"
        " FROM pg_db_role_setting WHERE setrole = a.oid AND setdatabase = 0)), ';'"
        " ORDER BY rolname) FROM pg_authid a"
        f" WHERE rolname IN ({listed})),"
        " (SELECT string_agg(concat_ws(',', m.roleid::regrole, m.member::regrole), ';'"
        " ORDER BY m.roleid, m.member) FROM pg_auth_members m"
        f" WHERE m.member::regrole::text IN ({listed})),"
        " (SELECT concat_ws(',', datdba::regrole, datacl::text) FROM pg_database"
        f" WHERE datname = '{db}'),"
        " (SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public'),"
        " (SELECT extversion FROM pg_extension WHERE extname = 'vector')))"
    )


def script(statements: list[str]) -> str:
    """Statements as one psql script."""
    return "".join(f"{statement};\n" for statement in statements)
