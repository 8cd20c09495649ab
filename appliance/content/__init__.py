"""Content security: the keyword library and the filter that holds a model's answer to it.

GB/T 45654-2025 asks for a keyword library of at least 10,000 entries across the risk
categories of its appendix A, owned by the security administrator (``secadmin``), and for
generated text to be checked against it. This package is that check, free of any I/O:

- ``normalise``: the text a match runs on (compatibility forms, traditional characters,
  case, and characters inserted to break a term up all folded away), with the way back to
  the original text, so a hit can be masked or reported where the user sees it;
- ``keywords``: entries, the versioned ``KeywordLibrary`` and the ``Matcher`` that scans a
  whole text; ``alphabet`` the compact encoding its automatons run on, for speed;
- ``library_csv``: the library as a CSV file (the administrator's import and export),
  ``library_xlsx`` the same as an Excel workbook, and ``diff``: what an import would add,
  remove and change;
- ``stream``: the filter for a streamed answer, which releases no text that could still be
  the start of a match; ``screen`` the same for a whole text (a prompt, a passage, a
  complete answer);
- ``pii``: personal information (resident ID, mobile, bank card, credit code, email, IP,
  passport) found by form and check character, and masked as its kind, for the prompt of a
  chat and the chunks of a knowledge base;
- ``models`` and ``store``: the library's versions in PostgreSQL, and ``ActiveLibrary``,
  the gateway's matcher of the newest one, rebuilt only when the secadmin imports another.

Layer 4, beside ``rag``: may import layers 1-3 (``errors``, ``settings``, ``db``, ``auth``,
``audit``) and uses ``errors`` and ``db``; the gateway calls in (``appliance.gateway.content``
for the secadmin's routes, ``appliance.gateway.chat.screening`` on every chat). Only
``store`` does I/O (the database); nothing reads settings, files other than its own example
library, or the network.
"""
