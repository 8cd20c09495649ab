"""Per-user limits: concurrent requests and the daily token quota (429 + Retry-After).

``admission`` applies both; ``slots`` leases each open chat a slot in PostgreSQL, so the
concurrency cap holds across workers and gateways; ``usage`` loads a user's tokens of the
day from the audit log through :mod:`appliance.audit.usage_query`, bounded in time and
failing closed.

May import: ``appliance.errors``, ``appliance.audit`` and libraries; no other gateway
package. A new per-user limit goes here; per-worker overload limits are in
``appliance.gateway.edge.shedding``, per-replica ones in ``appliance.gateway.replicas``.
"""
