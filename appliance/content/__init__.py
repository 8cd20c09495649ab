"""Content security: the keyword library and the filter that holds a model's answer to it.

GB/T 45654-2025 asks for a keyword library of at least 10,000 entries across the risk
categories of its appendix A, owned by the security administrator (``secadmin``), and for
generated text to be checked against it. This package is that check, free of any I/O:

- ``normalise``: the text a match runs on (compatibility forms, traditional characters,
  case, and characters inserted to break a term up all folded away), with the way back to
  the original text, so a hit can be masked or reported where the user sees it;
- ``keywords``: entries, the versioned ``KeywordLibrary`` and the ``Matcher`` that scans a
  whole text; ``alphabet`` the compact encoding its automatons run on, for speed;
- ``library_csv``: the library as a CSV file (the administrator's import and export) and
  ``diff``: what an import would add, remove and change;
- ``stream``: the filter for a streamed answer, which releases no text that could still be
  the start of a match.

Layer 4, beside ``rag``: may import layers 1-3 (``errors``, ``settings``, ``db``, ``auth``,
``audit``) and today uses ``errors`` only; the gateway will call in. Nothing here reads
settings, files other than its own example library, or the network.
"""
