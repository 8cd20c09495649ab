"""Async engine and session factory built from the settings.

The pool is small (the gateway runs several worker processes, each with its own pool, and
PostgreSQL's default limit is 100 connections) and pings connections before use so a restarted
database is survived. Connecting gives up after two seconds: the audit log is fail-closed,
so a dead database must turn into a quick 503, not a hanging request.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from appliance.settings import Settings

CONNECT_TIMEOUT_S = 2
POOL_SIZE = 8
MAX_OVERFLOW = 8
POOL_TIMEOUT_S = 2.0


def create_engine(url: str, *, pool_size: int = POOL_SIZE) -> AsyncEngine:
    """Engine for a ``postgresql+psycopg://`` URL with the appliance's pool policy."""
    return _create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_S,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "appliance"},
    )


def create_engine_from_settings(settings: Settings) -> AsyncEngine:
    """The runtime engine, connected as the gateway's least-privilege role."""
    return create_engine(settings.database_url.get_secret_value())


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (no implicit refresh I/O)."""
    return async_sessionmaker(engine, expire_on_commit=False)
