"""GB 45438-2025 labels on every file the appliance produces, and reading them back.

The standard asks for two labels on AI-generated content. The *explicit* label is text a
reader sees: 「本内容由人工智能生成」 at the start and the end of a text document (with the
English words too when the reader's interface is English). The *implicit* label is file
metadata: one ``AIGC`` entry whose value is a JSON object of the fields ``Label``,
``ContentProducer``, ``ProduceID``, ``ReservedCode1``, ``ContentPropagator``,
``PropagateID`` and ``ReservedCode2`` (``aigc`` says what each value means here).

- ``aigc``: the fields, the explicit text, the content digest that binds a label to the
  content it was made for, and the judgement of what a reader found (:class:`Verdict`);
- ``text_formats``: Markdown, JSON, and the audit log's CSV and JSON Lines (streamed);
- ``office_formats``: DOCX (written directly as Office Open XML) and PDF (reportlab, then
  pypdf for the document information dictionary);
- ``files``: which reader a file needs, by its name and first bytes, for
  ``appliance label verify``.

Layer 1 beside ``errors`` and ``settings``: imports nothing of the appliance. It builds and
reads bytes and does no other I/O (no files, database, settings or network): callers pass
the producer's identity and the file id in, and write or serve the bytes themselves (the
gateway's conversation and audit exports, the CLI's verify).
"""
