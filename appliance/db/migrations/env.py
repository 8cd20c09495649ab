"""Alembic environment: runs migrations online with the migrations' login's URL.

The URL comes from the Alembic config (set by ``appliance.db.migrate``), never from a file
in the repository, so no credentials live next to the migrations. The session acts as the
NOLOGIN owner role (``SET ROLE``), so every table, trigger and default privilege the
migrations create belongs to the owner, never to a login (:mod:`appliance.db.roles`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from appliance.apikeys import models as _apikey_models  # noqa: F401  (api_keys)
from appliance.assess import models as _assessment_models  # noqa: F401  (reports)
from appliance.audit import models as _audit_models  # noqa: F401  (the audit tables)
from appliance.complaints import models as _complaint_models  # noqa: F401  (complaints)
from appliance.content import models as _content_models  # noqa: F401  (keyword library)
from appliance.conversations import models as _conversation_models  # noqa: F401
from appliance.db import roles
from appliance.db.base import Base
from appliance.rag import models as _rag_models  # noqa: F401  (knowledge-base tables)

target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SET ROLE {roles.OWNER}")
        connection.commit()  # the setting outlives this transaction; the migrations' own follow
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
