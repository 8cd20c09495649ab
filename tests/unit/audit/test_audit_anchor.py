"""Anchors: the syslog framing, reading anchor lines back, the cross-check in verify_rows,
and the sender's queue against a real TCP listener on loopback, kept running or sent once
and stopped (the archive run)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import random
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.audit.anchor import (
    ANCHOR_TYPE,
    Anchor,
    AnchorSender,
    anchor_json,
    parse_anchor,
    parse_target,
    read_anchors,
    send_once,
    syslog_frame,
)
from appliance.audit.chain import GENESIS_HASH, row_hash
from appliance.audit.checkpoint import Checkpoint, CheckpointSigner
from appliance.audit.verify import Reason, verify_rows
from tests.support.audit_chain import make_chain

Rows = list[dict[str, Any]]
KEY = Ed25519PrivateKey.generate()
SIGNER = CheckpointSigner(KEY)
EVERY = 10
# The timed checkpoints of a chain whose writer also checkpoints every EVERY rows.
TIMED = (4, 13, 27, 33)
LENGTH = 36


def _chain() -> tuple[Rows, list[Checkpoint]]:
    rows = make_chain(random.Random(7), LENGTH)
    seqs = sorted({*range(EVERY, LENGTH + 1, EVERY), *TIMED})
    checkpoints = [
        Checkpoint.signed(SIGNER, s, rows[s - 1]["row_hash"], rows[s - 1]["created_at"])
        for s in seqs
    ]
    return rows, checkpoints


def _rows(checkpoints: list[Checkpoint]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checkpoints]


def _anchors(checkpoints: list[Checkpoint]) -> list[Anchor]:
    return [Anchor(c, f"anchors.log:{i}") for i, c in enumerate(checkpoints, start=1)]


def _verify(rows: Rows, stored: list[Checkpoint], anchored: list[Checkpoint]) -> Any:
    return verify_rows(
        rows,
        public_keys=[KEY.public_key()],
        checkpoints=_rows(stored),
        checkpoint_every=EVERY,
        anchors=_anchors(anchored),
    )


def _rechain(rows: Rows, start: int) -> None:
    prev = rows[start - 1]["row_hash"] if start else GENESIS_HASH
    for i in range(start, len(rows)):
        rows[i] = {**rows[i], "prev_hash": prev}
        rows[i]["row_hash"] = prev = row_hash(rows[i])


def test_the_frame_is_octet_counted_rfc5424_with_the_checkpoint_as_json() -> None:
    _, checkpoints = _chain()
    frame = syslog_frame(checkpoints[0], hostname="gw-1", procid="4242")
    length, _, message = frame.partition(b" ")
    assert int(length) == len(message)
    text = message.decode("ascii")
    header = (
        r"<109>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z gw-1 appliance-audit 4242 checkpoint - "
    )
    assert re.match(header, text), text
    body = json.loads(text[text.index("{") :])
    assert body["type"] == ANCHOR_TYPE and body["seq"] == checkpoints[0].seq
    assert parse_anchor(text) == checkpoints[0]


def test_anchor_lines_are_read_back_from_a_receivers_file(tmp_path: Path) -> None:
    _, checkpoints = _chain()
    path = tmp_path / "anchors.log"
    path.write_text(
        "2026-12-06T10:00:00+00:00 anchor rsyslogd: [origin software=\"rsyslogd\"] start\n"
        + "".join(f"2026-12-06T10:00:01+00:00 gw-1 appliance-audit[1]: {anchor_json(c)}\n"
                  for c in checkpoints)
        + anchor_json(checkpoints[-1]) + "\n"
    )  # fmt: skip
    anchors = read_anchors([path])
    assert [a.checkpoint for a in anchors] == [*checkpoints, checkpoints[-1]]
    assert anchors[0].source == f"{path}:2"


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[:-20],
        lambda line: line.replace('"seq":', '"sequence":'),
        lambda line: line.replace('"seq":4', '"seq":-4'),
        lambda line: line.replace('Z"', '"'),
    ],
)
def test_a_damaged_anchor_line_is_an_error_naming_its_line(tmp_path: Path, damage: Any) -> None:
    _, checkpoints = _chain()
    path = tmp_path / "anchors.log"
    path.write_text(anchor_json(checkpoints[1]) + "\n" + damage(anchor_json(checkpoints[0])) + "\n")
    with pytest.raises(ValueError, match=f"{path}:2: malformed anchor"):
        read_anchors([path])


def test_targets() -> None:
    assert parse_target("siem.example:6514") == ("siem.example", 6514)
    assert parse_target("[fd00::5]:6514") == ("fd00::5", 6514)
    for bad in ("siem.example", ":6514", "host:tls"):
        with pytest.raises(ValueError):
            parse_target(bad)


def test_an_intact_chain_cross_checks_with_its_anchors() -> None:
    rows, checkpoints = _chain()
    report = _verify(rows, checkpoints, checkpoints)
    assert report.ok, report
    assert (report.anchors, report.anchors_verified) == (len(checkpoints), len(checkpoints))


@pytest.mark.parametrize("keep", [32, 30, 29, 14, 3])
def test_a_truncated_tail_with_its_checkpoints_deleted_is_found(keep: int) -> None:
    """Without anchors this verifies: no checkpoint lies beyond the cut, none is due."""
    rows, checkpoints = _chain()
    kept = [c for c in checkpoints if c.seq <= keep]
    without = verify_rows(
        rows[:keep],
        public_keys=[KEY.public_key()],
        checkpoints=_rows(kept),
        checkpoint_every=EVERY,
    )
    assert without.ok
    report = _verify(rows[:keep], kept, checkpoints)
    assert (report.ok, report.first_bad_seq, report.reason) == (False, keep + 1, Reason.DELETED)
    assert f"rows from {keep + 1} to 33 missing" in report.message


@pytest.mark.parametrize("edited", [34, 31, 28, 14, 5])
def test_a_rehashed_tail_with_its_checkpoints_deleted_is_found(edited: int) -> None:
    rows, checkpoints = _chain()
    forged = copy.deepcopy(rows)
    forged[edited - 1]["response"] = "forged answer"
    _rechain(forged, edited - 1)
    kept = [c for c in checkpoints if c.seq < edited]
    report = _verify(forged, kept, checkpoints)
    if edited > TIMED[-1]:
        # After the last anchor: the bound of what anchors can pin (one interval).
        assert report.ok
        return
    assert not report.ok and report.reason in (Reason.EDITED, Reason.ANCHOR_MISMATCH), report
    last_before = max(c.seq for c in kept)
    first_after = min(c.seq for c in checkpoints if c.seq >= edited)
    assert last_before < report.first_bad_seq <= first_after, report


def test_an_anchor_unlike_the_database_checkpoint_is_found() -> None:
    rows, checkpoints = _chain()
    forged = copy.deepcopy(rows)
    forged[30]["response"] = "forged answer"
    _rechain(forged, 30)
    # The database's checkpoint at 33 re-signed by another key, matching the forged chain.
    other = CheckpointSigner(Ed25519PrivateKey.generate())
    stored = [
        c if c.seq != 33 else Checkpoint.signed(other, 33, forged[32]["row_hash"], c.created_at)
        for c in checkpoints
        if c.seq <= 33
    ]
    report = _verify(forged, stored, checkpoints)
    assert not report.ok and report.first_bad_seq is not None
    assert 31 <= report.first_bad_seq <= 33


def test_a_forged_anchor_is_refused() -> None:
    rows, checkpoints = _chain()
    forged = [
        c if c.seq != 13 else dataclasses.replace(c, head_hash="ab" * 32) for c in checkpoints
    ]
    report = _verify(rows, checkpoints, forged)
    assert (report.ok, report.first_bad_seq, report.reason) == (False, 13, Reason.BAD_ANCHOR)
    assert "anchors.log:3" in report.message


async def _listener(port: int = 0) -> tuple[asyncio.Server, list[bytes], int]:
    """A TCP listener that reads octet-counted frames, as rsyslog's imptcp does."""
    received: list[bytes] = []

    async def read_frames(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = await reader.readuntil(b" ")
                received.append(await reader.readexactly(int(length)))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(read_frames, "127.0.0.1", port)
    return server, received, server.sockets[0].getsockname()[1]


async def _until(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_the_sender_delivers_each_checkpoint_as_one_frame() -> None:
    _, checkpoints = _chain()
    server, received, port = await _listener()
    sender = AnchorSender(f"127.0.0.1:{port}")
    sender.start()
    for checkpoint in checkpoints:
        sender.send(checkpoint)
    await _until(lambda: len(received) == len(checkpoints))
    await sender.stop()
    server.close()
    assert [parse_anchor(m.decode()) for m in received] == checkpoints
    assert sender.stats.sent == len(checkpoints) and sender.stats.failures == 0


async def test_a_receiver_down_is_counted_and_the_checkpoints_wait_for_it() -> None:
    _, checkpoints = _chain()
    server, received, port = await _listener()
    server.close()
    await server.wait_closed()
    sender = AnchorSender(f"127.0.0.1:{port}", queue_max=3)
    sender.start()
    for checkpoint in checkpoints:
        sender.send(checkpoint)
    await _until(lambda: sender.stats.failures >= 1)
    stats = sender.stats
    # A full queue drops the oldest, counted; the rest wait.
    assert stats.queued == 3 and stats.dropped == len(checkpoints) - 3 and stats.sent == 0
    again, received, _ = await _listener(port)
    await _until(lambda: len(received) == 3, timeout=20)
    await sender.stop()
    again.close()
    assert [parse_anchor(m.decode()) for m in received] == checkpoints[-3:]
    assert sender.stats.queued == 0 and sender.stats.sent == 3


async def test_a_missing_ca_file_is_a_counted_send_failure(tmp_path: Path) -> None:
    """A misconfigured receiver must not keep the gateway from starting."""
    _, checkpoints = _chain()
    server, received, port = await _listener()
    sender = AnchorSender(f"127.0.0.1:{port}", ca_file=str(tmp_path / "absent.crt"))
    sender.start()
    sender.send(checkpoints[0])
    await _until(lambda: sender.stats.failures >= 1)
    await sender.stop()
    server.close()
    assert received == [] and sender.stats.sent == 0 and sender.stats.dropped == 1


async def test_a_one_shot_send_delivers_its_checkpoints_and_says_none_is_left() -> None:
    """The archive run's path: the gateway's sender, started and stopped for a few."""
    _, checkpoints = _chain()
    server, received, port = await _listener()
    left = await send_once(checkpoints[:3], f"127.0.0.1:{port}")
    server.close()
    assert left == ()
    assert [parse_anchor(m.decode()) for m in received] == checkpoints[:3]


async def test_a_one_shot_send_to_a_receiver_down_gives_up_within_the_stop_bound() -> None:
    _, checkpoints = _chain()
    server, _, port = await _listener()
    server.close()
    await server.wait_closed()
    started = time.monotonic()
    left = await send_once(checkpoints[:2], f"127.0.0.1:{port}")
    assert left == tuple(checkpoints[:2])
    assert time.monotonic() - started < 5
