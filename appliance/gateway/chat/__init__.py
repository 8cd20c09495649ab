"""Chat completions: ``/v1/models`` and ``/v1/chat/completions``, OpenAI-compatible.

A chat passes ``routes`` (authorize, read the body), ``serving`` (validate, model check, the
deep-thinking switch mapped by ``thinking``, per-user admission, a replica slot, committed
``chat.begin``), ``grounding`` for a chat with ``rag`` (retrieval and the grounded prompt),
then ``relay`` (forward, fail over before the first byte, relay bytes, abort upstream when
the client leaves, ``chat.end``); ``sse`` reads vLLM's answers on the way through,
``protocol`` holds the wire models and ``context`` the
:class:`~appliance.gateway.chat.context.ChatContext` that serving works on instead of the
HTTP request.

May import: ``appliance.gateway.edge``, ``.replicas``, ``.quota``, ``.deps``, ``.state``,
``.knowledge`` (knowledge-base access checks), and ``appliance.audit``, ``appliance.rag``,
``appliance.auth``. A change to what is checked before a chat goes upstream goes in
``serving``; to what is forwarded or recorded at its end, in ``relay``; to the prompt of a
``rag`` chat, in ``grounding``.
"""
