"""After the gateway run on the GPU machine: what the audit log holds, and whether it verifies.

Every benchmark request through the gateway must have left a committed ``chat.begin`` and a
``chat.end`` row, and the chain must verify with the checkpoint key's public half.

    python3 bench/gpu/audit_count.py ROOT    (ROOT as given to gateway_stack.py)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from appliance.audit.verify_db import libpq_url, verify_url
from appliance.runtime import postgres_service as postgres
from appliance.runtime.paths import RuntimePaths


def main(root: Path) -> None:
    postgres.PORT = int(os.environ.get("PG_PORT", postgres.PORT))
    paths = RuntimePaths(root)
    owner = postgres.database_urls(paths).owner
    with psycopg.connect(libpq_url(owner)) as conn:
        rows = conn.execute(
            "SELECT event_type, outcome, count(*), sum(completion_tokens)"
            " FROM audit_events GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        # Per request: one begin and one end row each (bench request ids are
        # ``bench-<run>-<n>``, so the second part names the benchmark run).
        pairs = conn.execute(
            "SELECT split_part(request_id, '-', 2), count(*),"
            " count(*) FILTER (WHERE b = 1 AND e = 1)"
            " FROM (SELECT request_id,"
            "   count(*) FILTER (WHERE event_type = 'chat.begin') AS b,"
            "   count(*) FILTER (WHERE event_type = 'chat.end') AS e"
            "   FROM audit_events WHERE event_type LIKE 'chat.%' GROUP BY request_id) AS r"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall()
    for event_type, outcome, count, tokens in rows:
        print(f"audit: {event_type} {outcome}: {count} rows, {tokens or 0} completion tokens")
    for run, requests, paired in pairs:
        print(f"audit: run {run or '-'}: {requests} requests, {paired} with one begin and one end")
    key = paths.secret("audit_checkpoint_key.pem.pub").read_bytes()
    report = verify_url(owner, public_keys=[load_pem_public_key(key)])  # type: ignore[list-item]
    print("audit verify:", json.dumps(report.to_dict()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
