"""Load generators for the chaos scenarios: ``loadgen`` (open loop, requests fired on a
schedule whatever the answers, for capacity and shedding) and ``chat_load`` (closed loop,
clients that each chat one after another while a fault is injected). They import only
third-party packages; the gateways they load come from :mod:`tests.support.gateways`."""
