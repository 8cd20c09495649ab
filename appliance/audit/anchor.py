"""Checkpoints anchored outside the database: sent as syslog, read back as anchor lines.

A database superuser can delete the rows after the last checkpoint, or re-hash them and
delete the checkpoints that no longer match; inside the database nothing then records what
was there. Every checkpoint the writer commits is therefore also sent, as RFC 5424 syslog
over TCP with octet-counted framing (RFC 6587; TLS when a CA file is configured), to a
receiver the database owner cannot write to: the site's SIEM, or the ``audit_anchor`` node
whose rsyslog appends the lines to a file only the ``auditor`` user owns (``chattr +a``).
``appliance audit verify --anchors FILE`` reads those lines back (``read_anchors``), and
``verify.verify_rows`` requires every anchored checkpoint in the database, with the same head.

Sending is best-effort and never blocks a request: ``AnchorSender.send`` only appends to a
bounded in-memory queue, which one task drains through a connection it reopens with backoff.
A failed send is logged and counted and the checkpoint stays queued; only a full queue (or a
stop while the receiver is down) drops one, oldest first, logged and counted too.
``send_once`` runs the same sender for a one-shot command that signs checkpoints outside
the writer (``appliance audit archive``), and says which of them the receiver did not take.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from appliance.audit.chain import format_timestamp
from appliance.audit.checkpoint import Checkpoint

log = logging.getLogger(__name__)

ANCHOR_TYPE = "appliance-audit-checkpoint/1"
APP_NAME = "appliance-audit"
MSGID = "checkpoint"
# RFC 5424 facility 13 ("log audit"), severity 5 (notice).
PRIORITY = 13 * 8 + 5
CONNECT_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 5.0
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
STOP_FLUSH_S = 2.0
_FIELDS = ("seq", "head_hash", "created_at", "key_fingerprint", "alg", "signature")


def anchor_json(checkpoint: Checkpoint) -> str:
    """The MSG part: one JSON object, ASCII only, with what a verifier needs to check it."""
    return json.dumps(
        {
            "type": ANCHOR_TYPE,
            "seq": checkpoint.seq,
            "head_hash": checkpoint.head_hash,
            "created_at": format_timestamp(checkpoint.created_at),
            "key_fingerprint": checkpoint.key_fingerprint,
            "alg": checkpoint.alg,
            "signature": checkpoint.signature,
        },
        separators=(",", ":"),
    )


def syslog_frame(checkpoint: Checkpoint, *, hostname: str, procid: str) -> bytes:
    """One RFC 5424 message in RFC 6587 octet-counted framing (``LEN SP MSG``)."""
    timestamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    message = (
        f"<{PRIORITY}>1 {timestamp} {hostname or '-'} {APP_NAME} {procid or '-'} {MSGID} - "
        f"{anchor_json(checkpoint)}"
    ).encode("ascii")
    return str(len(message)).encode("ascii") + b" " + message


@dataclass(frozen=True, slots=True)
class Anchor:
    """A checkpoint as read back from outside the database, and where it was read."""

    checkpoint: Checkpoint
    source: str


def parse_anchor(text: str) -> Checkpoint:
    """The checkpoint in one received line: its JSON object, wherever the receiver's format
    puts it (rsyslog's own line prefix, or none). Raises ``ValueError`` when malformed."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object")
    data = json.loads(text[start : end + 1])
    if not isinstance(data, dict) or data.get("type") != ANCHOR_TYPE:
        raise ValueError(f"not a {ANCHOR_TYPE} object")
    missing = [f for f in _FIELDS if f not in data]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    created_at = datetime.strptime(str(data["created_at"]), "%Y-%m-%dT%H:%M:%S.%f%z")
    seq = data["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq <= 0:
        raise ValueError(f"bad seq {seq!r}")
    return Checkpoint(
        seq=seq,
        head_hash=str(data["head_hash"]),
        created_at=created_at,
        signature=str(data["signature"]),
        key_fingerprint=str(data["key_fingerprint"]),
        alg=str(data["alg"]),
    )


def read_anchors(paths: Iterable[Path]) -> list[Anchor]:
    """Every anchor line of the files; other lines (the receiver's own messages) are ignored.

    A line that names the anchor type but does not parse is an error, not skipped: a
    truncated or edited anchor must not pass for an absent one.
    """
    anchors = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if ANCHOR_TYPE not in line:
                    continue
                try:
                    checkpoint = parse_anchor(line)
                except (ValueError, json.JSONDecodeError) as exc:
                    raise ValueError(f"{path}:{number}: malformed anchor: {exc}") from exc
                anchors.append(Anchor(checkpoint, f"{path}:{number}"))
    return anchors


def parse_target(target: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for an IPv6 address)."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"anchor target {target!r} is not host:port")
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class AnchorStats:
    """A snapshot for /metrics."""

    sent: int
    failures: int
    dropped: int
    queued: int


class AnchorSender:
    """Sends checkpoints to one syslog receiver; see the module docstring."""

    def __init__(self, target: str, *, ca_file: str = "", queue_max: int = 10_000) -> None:
        self._host, self._port = parse_target(target)
        self._ca_file = ca_file
        self._tls: ssl.SSLContext | None = None
        self._queue: deque[Checkpoint] = deque()
        self._queue_max = max(1, queue_max)
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._hostname = socket.gethostname()
        self._procid = str(os.getpid())
        self._sent = 0
        self._failures = 0
        self._dropped = 0

    @property
    def stats(self) -> AnchorStats:
        return AnchorStats(self._sent, self._failures, self._dropped, len(self._queue))

    def send(self, checkpoint: Checkpoint) -> None:
        """Queue ``checkpoint``; returns at once, whatever the receiver's state."""
        if len(self._queue) >= self._queue_max:
            lost = self._queue.popleft()
            self._dropped += 1
            log.error("audit anchor queue full: checkpoint %d not sent", lost.seq)
        self._queue.append(checkpoint)
        self._drained.clear()
        self._ready.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-anchor")

    async def stop(self) -> None:
        """Send what is queued within a short bound, then close; what is left is counted."""
        if self._task is None:
            return
        if self._queue:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), timeout=STOP_FLUSH_S)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._queue:
            self._dropped += len(self._queue)
            log.error(
                "audit anchor: %d checkpoints not sent at stop (seq %d to %d)",
                len(self._queue),
                self._queue[0].seq,
                self._queue[-1].seq,
            )
            self._queue.clear()
        await self._close()

    async def _run(self) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            if not self._queue:
                self._drained.set()
                self._ready.clear()
                await self._ready.wait()
                continue
            checkpoint = self._queue[0]
            try:
                await self._send_one(checkpoint)
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                self._failures += 1
                log.warning(
                    "audit anchor: sending checkpoint %d to %s:%d failed (%s); retrying in %.1fs",
                    checkpoint.seq,
                    self._host,
                    self._port,
                    exc or type(exc).__name__,
                    backoff,
                )
                await self._close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_MIN_S
            # The queue may have overflowed while this one was in flight.
            if self._queue and self._queue[0] is checkpoint:
                self._queue.popleft()
            self._sent += 1

    async def _connected(self) -> asyncio.StreamWriter:
        """The open connection, or a new one when there is none or the receiver closed it."""
        if self._writer is not None and self._reader is not None and not self._reader.at_eof():
            return self._writer
        await self._close()
        if self._ca_file and self._tls is None:
            # Here rather than at start: a missing CA file is then a counted send failure,
            # retried, never a gateway that cannot start.
            self._tls = ssl.create_default_context(cafile=self._ca_file)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                self._host,
                self._port,
                ssl=self._tls,
                server_hostname=self._host if self._tls else None,
            ),
            timeout=CONNECT_TIMEOUT_S,
        )
        self._reader, self._writer = reader, writer
        return writer

    async def _send_one(self, checkpoint: Checkpoint) -> None:
        writer = await self._connected()
        writer.write(syslog_frame(checkpoint, hostname=self._hostname, procid=self._procid))
        await asyncio.wait_for(writer.drain(), timeout=SEND_TIMEOUT_S)

    async def _close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), timeout=1.0)


async def send_once(
    checkpoints: Sequence[Checkpoint], target: str, *, ca_file: str = ""
) -> tuple[Checkpoint, ...]:
    """Send ``checkpoints`` through an ``AnchorSender`` and stop it; the ones not sent.

    Sent in order, so the ones not sent are the tail: the receiver did not take them within
    the stop bound (retried with backoff until then, as by the gateway), and they were
    logged and counted as dropped, as at a gateway's stop.
    """
    sender = AnchorSender(target, ca_file=ca_file, queue_max=max(1, len(checkpoints)))
    sender.start()
    for checkpoint in checkpoints:
        sender.send(checkpoint)
    await sender.stop()
    return tuple(checkpoints[sender.stats.sent :])
