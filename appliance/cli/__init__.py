"""The ``appliance`` command line (Typer): thin commands over the packages below.

``main`` builds the app and each area registers its commands from ``<area>_cmds``:
``runtime_cmds`` (``up``, ``down``, ``status``), ``audit_cmds``, ``db_cmds``, ``plan_cmds``
(``plan``), ``bench_cmds`` (``bench``), ``deploy_cmds`` (``preflight``, ``deploy``, ...,
and ``render-launch``, which the ``vllm`` role calls; ``site_status`` renders what their
playbooks hand back: the status table and the preflight reports), ``bundle_cmds`` and
``kb_cmds``, ``keys_cmds`` (``keys find-leaked``). A
command parses its arguments, calls one function of the package that does the work, and
turns that package's domain errors into a clear message and a non-zero exit.

The top layer: it may import the packages below it (``runtime``, ``provision``, ``sizing``,
``audit``, ``db``, ``settings``), never the gateway's code, and nothing imports it. A new
command goes in the ``<area>_cmds`` module of its area (a new area registers in ``main``);
its logic goes in that area's package, not here. Command names are an interface: the
playbooks, the runbooks and the tests call them, so renaming one means changing those too.
"""
