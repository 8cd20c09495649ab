"""Running the Alembic migrations from code (``appliance db upgrade``) and from tests.

The configuration is built here rather than read from an ``alembic.ini`` so the installed
package carries everything it needs and the URL is passed in, never stored.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Migration files are named by date and slug, e.g. 2026-11-28_audit_log.py.
FILE_TEMPLATE = "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s"


def alembic_config(url: str) -> Config:
    """Alembic config for this package's migrations against ``url`` (the migrations' login)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def current_heads() -> tuple[str, ...]:
    """Head revisions of the migration scripts (one: the chain is kept linear)."""
    return tuple(ScriptDirectory.from_config(alembic_config("postgresql://")).get_heads())
