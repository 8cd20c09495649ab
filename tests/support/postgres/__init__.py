"""PostgreSQL for tests and benchmarks, made like the appliance's own.

``databases`` is the one place a database is created, granted and dropped (on the local
runtime's cluster through :class:`~tests.support.postgres.databases.Cluster`, or any
cluster a superuser can reach); ``scratch`` makes migrated scratch databases from
``var/endpoints.json``; ``cluster`` runs a throwaway cluster that a fault scenario may stop,
freeze or starve of disk. May import ``appliance.runtime.postgres_service`` (binaries,
authentication rules) and ``appliance.db``. Roles and grants are decided once, by
``appliance.db.roles``: the appliance's own database and every scratch one share them.
"""
