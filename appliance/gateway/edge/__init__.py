"""The gateway's edge: what every request passes through on its way in and out.

``middleware`` (request id, timing, HTTP metrics), ``shedding`` (refuses work at once when
the worker is saturated), ``errors`` (the single translation of every failure into
OpenAI's error shape, and ``InvalidParam``), ``body`` (the one way to read a bounded body
and validate it into a model), ``caller`` (who is calling, stamped on audit events),
``openapi`` (the helpers routes use to document their statuses, and the document's
builder), ``audited_change`` (the intent-change-outcome order every audited change follows)
and ``metrics`` (the process's Prometheus registry).

May import: ``appliance.errors``, ``appliance.audit.events``, ``appliance.auth.principal``,
``appliance.settings`` and libraries; no other ``appliance.gateway`` package, so every
route package can rely on it. A new cross-cutting rule for every request goes here; a rule
for one kind of request goes in that request's package.
"""
