"""Which process wrote an event, and whether that process is still alive.

A writer is named ``hostname:pid:start-time`` where start-time is the process's start in
clock ticks since boot (``/proc/<pid>/stat``), so a recycled pid is not mistaken for the
original writer.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_ticks(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces, so split after its ")".
    return stat.rpartition(")")[2].split()[19]


def default_writer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


def parse_writer_id(writer_id: str) -> tuple[str, int, str] | None:
    parts = writer_id.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


def writer_alive(writer_id: str) -> bool:
    """True unless ``writer_id`` names a process on this host that is gone.

    Writers on other hosts are assumed alive: only their own host can tell.
    """
    parsed = parse_writer_id(writer_id)
    if parsed is None or parsed[0] != socket.gethostname():
        return True
    _, pid, started = parsed
    return _start_ticks(pid) == started
