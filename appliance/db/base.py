"""The declarative base every table of the appliance derives from.

A fixed naming convention makes constraint and index names deterministic, so Alembic
migrations written by hand and models stay in step and can be dropped by name later.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all ORM models; shares one metadata with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
