"""Each user's saved conversations (the web UI's sidebar): tables, wire shapes, queries.

The gateway serves them under ``/api/conversations`` (``appliance.gateway.conversations``)
so the web UI holds no database credentials: it reaches its users' conversations with each
user's own token, like every other call it makes. ``models`` holds the two tables,
``schemas`` what goes over the wire, ``service`` the queries, each filtered by the owner's
token subject inside SQL, so one user's id names nothing for another (``NotFound``).

May import ``appliance.db`` and ``appliance.errors`` only. A new column goes in ``models``
with a migration in ``appliance/db/migrations/versions``; a new field on the wire in
``schemas``; a new query in ``service``; its route and audit event in the gateway package.
"""
