"""The tamper-evident audit log: every request the gateway serves or refuses, hash-chained
and signed, readable only by auditors.

Writing: the gateway builds an ``events.AuditEvent``; ``writer.AuditWriter`` (one per
gateway process) applies the capture mode (``capture``: full, redacted or hash) and
group-commits through ``store.append_locked``, the one place that extends the chain
(``chain`` hashes rows, ``models`` holds the tables, ``checkpoint`` signs the chain head,
``reconcile`` closes requests a crashed process left open, ``identity`` names the writer;
``anchor`` sends each checkpoint out of the database, as syslog, and reads it back).
Retention: ``retention`` moves rows past ``audit.retention_days`` into the signed files of
``archive``, through the migrations' login only, and records each run in the chain.
Reading: ``query`` lists and exports for auditors, ``usage_query`` sums tokens for quotas
and the usage report, ``verify`` checks a chain from any source and ``verify_db`` feeds it
from PostgreSQL or, through ``dump``, from a ``pg_dump`` file with no database.

May import ``errors``, ``settings`` and ``db``; never ``gateway``, ``auth`` or ``rag`` (the
gateway passes in who the caller is). A new event type goes in ``events``; a new stored
column in ``models`` with a migration in ``appliance/db/migrations/versions``, but read
``chain`` first: its canonical form covers every column, and rows already written must
still verify; a new way for auditors to search or export in ``query``; a new check of
the chain in ``verify``, which requires a signed checkpoint at every multiple of
``checkpoint_every`` where ``store`` places them (the writer's timer adds more, anywhere):
change the two together.
"""
