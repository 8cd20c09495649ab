"""The API gateway: the one place that enforces policy and writes the audit log.

``app.create_app`` builds it. A chat completion passes ``deps`` (authenticate, authorize),
``serving_chat`` (limits, admission, backend choice, committed ``chat.begin``) and ``relay``
(forward, fail over before the first byte, relay bytes, ``chat.end``); ``sse`` reads
vLLM's answers on the way through. ``backends`` health-checks and chooses vLLM replicas,
``admission`` holds per-user limits, ``usage`` reads today's tokens from the audit log,
``metrics`` and ``middleware`` observe every request, and ``errors`` is the single edge
where failures become OpenAI's error shape.
"""
