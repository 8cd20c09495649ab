"""The database plumbing shared by every table: declarative base, async engine and sessions,
and the Alembic migrations.

``base.Base`` carries the constraint naming convention every model derives from;
``session`` builds the small, pre-pinged async pool from the settings; ``migrate`` runs the
migrations from code (``appliance db upgrade``, the runtime, the tests) with the URL passed
in, never stored; ``roles`` declares the database's roles and grants, applied by the
runtime, the postgresql playbook role and the tests alike. The tables themselves live with
their domain (``audit.models``, ``rag.models``, ``conversations.models``).

May import ``settings`` only, except ``migrations/env.py``, which imports the audit,
knowledge-base and conversation models so that Alembic sees every table. A schema change is
a new file in ``migrations/versions`` named ``YYYY-MM-DD_slug.py`` next to the model it
changes; a pool or timeout change goes in ``session``; a role or a right given to one, in
``roles``.
"""
