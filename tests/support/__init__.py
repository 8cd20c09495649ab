"""Helpers shared by the test suites (and the benchmarks in ``bench/``): no tests, no fixtures.

What the suites start and talk to lives here, one module per responsibility: child processes
and free ports (``process``), gateways (``gateways``), the stub OpenAI backend (``stubs``,
``stub_openai``), a TCP proxy that can cut a service away (``proxy``), PostgreSQL
(``postgres/``: scratch databases made like the appliance's own, throwaway clusters), Keycloak
tokens of the demo users (``tokens``), locally signed tokens and a local IdP (``auth/``),
audit lookups and events (``audit``, ``audit_events``, ``audit_chain``), a superuser's
tampering with an audit log copy, in memory and on a scratch database (``audit_tamper``,
``audit_superuser``), load generators
(``load/``), a loop filesystem (``loopfs``), the hostile-input plumbing (``hostile``), the
browser tests' constants (``e2e``) and a web UI and gateway of the working tree for them
(``tree_webui``), booted Debian nodes (``deploy/``), the chaos scenarios' results
recorder (``record``), and OFD documents written by the tests (``ofd_writer``).

May import: ``appliance``, ``webui`` and third-party packages; never a test suite
(``tests.unit``, ``tests.integration``, ``tests.e2e``, ``tests.chaos``, ``tests.deploy``) and
never ``bench``. Fixtures stay in the suites' ``conftest.py`` files, which import from here.
A helper a new test needs goes in the module of its responsibility (a new module when none
fits); a constant one suite alone uses may stay in that suite's ``conftest.py``.
"""
