"""Signed archive files of audit rows that left the database (``appliance.audit.retention``).

An archive is ``audit-<first>-<last>.jsonl.gz``: one row per line, every stored column, as
psycopg returns it (``created_at`` in ISO form), so the rows hash exactly as they did in the
database. Beside it, ``<file>.manifest.json`` says which rows it holds (seq range, the hash
the first row links to, first and last row hash), the SHA-256 of the file and the archive
before it, signed with the checkpoint key (``appliance.audit.checkpoint``): the database
never sees that key, so neither a file nor its manifest can be rewritten unnoticed.

:func:`check_archives` checks a directory of them: each manifest's signature, each file's
SHA-256, and that they follow each other from seq 1 without a gap; a missing or altered
file is named. :func:`archived_rows` then streams their rows, in order, to the same chain
walk as the live rows (``appliance.audit.verify``), which the live chain continues.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.audit.chain import GENESIS_HASH, STORED_FIELDS
from appliance.audit.checkpoint import UNSIGNED, CheckpointSigner

FORMAT = "appliance-audit-archive/1"
MANIFEST_SUFFIX = ".manifest.json"
_PATTERN = "audit-*.jsonl.gz"


class ArchiveError(ValueError):
    """An archive that cannot be trusted; the message names its file."""


def archive_name(first_seq: int, last_seq: int) -> str:
    """Zero-padded, so the names sort in chain order."""
    return f"audit-{first_seq:012d}-{last_seq:012d}.jsonl.gz"


def manifest_path(archive: Path) -> Path:
    return archive.with_name(archive.name + MANIFEST_SUFFIX)


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an archive file holds; ``signature`` covers every other field."""

    file: str
    first_seq: int
    last_seq: int
    rows: int
    prev_hash: str
    first_hash: str
    last_hash: str
    sha256: str
    previous_file: str
    created_at: str
    key_fingerprint: str
    alg: str
    signature: str = ""

    def message(self) -> bytes:
        """The signed bytes: every field but the signature, keys sorted."""
        body = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps([FORMAT, body], sort_keys=True, separators=(",", ":")).encode("utf-8")

    def signed(self, signer: CheckpointSigner) -> Manifest:
        unsigned = replace(self, key_fingerprint=signer.fingerprint, alg=signer.alg)
        if signer.key is None:
            return unsigned
        return replace(unsigned, signature=signer.key.sign(unsigned.message()).hex())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return cls(**data)


def row_to_json(row: Mapping[str, Any]) -> str:
    """One archive line: every stored column, ``created_at`` as ISO 8601 with its offset."""
    record = {name: row[name] for name in STORED_FIELDS}
    record["created_at"] = row["created_at"].isoformat()
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def row_from_json(line: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(line)
    record["created_at"] = datetime.fromisoformat(record["created_at"])
    return record


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _signature_problem(
    manifest: Manifest, ring: Mapping[str, Ed25519PublicKey], skip_signatures: bool
) -> str | None:
    if skip_signatures and (manifest.alg == UNSIGNED or not ring):
        return None
    if manifest.alg == UNSIGNED:
        return "is unsigned"
    key = ring.get(manifest.key_fingerprint)
    if key is None:
        return f"is signed by an unknown key ({manifest.key_fingerprint[:16]})"
    try:
        key.verify(bytes.fromhex(manifest.signature), manifest.message())
    except (InvalidSignature, ValueError):
        return "has an invalid signature"
    return None


def _read_manifest(
    archive: Path, ring: Mapping[str, Ed25519PublicKey], skip_signatures: bool
) -> Manifest:
    path = manifest_path(archive)
    if not path.is_file():
        raise ArchiveError(f"archive {archive.name}: its manifest {path.name} is missing")
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError) as exc:
        raise ArchiveError(f"manifest {path.name} is not a manifest: {exc}") from exc
    problem = _signature_problem(manifest, ring, skip_signatures)
    if problem is not None:
        raise ArchiveError(f"manifest {path.name} {problem}")
    if manifest.file != archive.name:
        raise ArchiveError(f"manifest {path.name} describes {manifest.file}, not {archive.name}")
    if file_sha256(archive) != manifest.sha256:
        raise ArchiveError(f"archive {archive.name} does not match the SHA-256 of its manifest")
    return manifest


def _orphan_manifests(directory: Path) -> list[Path]:
    """Manifests whose archive file is gone."""
    return sorted(
        path
        for path in directory.glob(_PATTERN + MANIFEST_SUFFIX)
        if not path.with_name(path.name.removesuffix(MANIFEST_SUFFIX)).is_file()
    )


def check_archives(
    directory: Path,
    ring: Mapping[str, Ed25519PublicKey],
    *,
    skip_signatures: bool = False,
    last_recorded: str = "",
) -> list[Manifest]:
    """The manifests of ``directory``'s archives in chain order, each checked.

    ``last_recorded`` is the file the live chain's newest ``audit.archive`` event names: it
    must be the last archive, so deleting the newest archive is caught as well as a gap.
    Raises :class:`ArchiveError` naming the first file that is missing, altered or unsigned.
    """
    if not directory.is_dir():
        raise ArchiveError(f"archive directory {directory} does not exist")
    orphans = _orphan_manifests(directory)
    if orphans:
        name = orphans[0].name.removesuffix(MANIFEST_SUFFIX)
        raise ArchiveError(f"archive {name} is missing (its manifest {orphans[0].name} is there)")
    manifests = [
        _read_manifest(path, ring, skip_signatures) for path in sorted(directory.glob(_PATTERN))
    ]
    manifests.sort(key=lambda m: m.first_seq)
    previous: Manifest | None = None
    for manifest in manifests:
        expected_seq = 1 if previous is None else previous.last_seq + 1
        expected_hash = GENESIS_HASH if previous is None else previous.last_hash
        if manifest.first_seq != expected_seq or manifest.prev_hash != expected_hash:
            missing = manifest.previous_file or "(unnamed)"
            raise ArchiveError(
                f"archive {missing} is missing: {manifest.file} starts at seq "
                f"{manifest.first_seq}, the archives before it end at {expected_seq - 1}"
            )
        previous = manifest
    newest = "" if previous is None else previous.file
    if last_recorded and newest != last_recorded:
        raise ArchiveError(
            f"archive {last_recorded} is missing: the audit log records it as the newest archive"
        )
    return manifests


def _file_rows(directory: Path, manifest: Manifest) -> Iterator[dict[str, Any]]:
    count = 0
    last_hash = manifest.prev_hash
    with gzip.open(directory / manifest.file, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = row_from_json(line)
            count += 1
            last_hash = str(row["row_hash"])
            yield row
    if count != manifest.rows or last_hash != manifest.last_hash:
        raise ArchiveError(f"archive {manifest.file} does not hold the rows its manifest names")


def archived_rows(directory: Path, manifests: Iterable[Manifest]) -> Iterator[dict[str, Any]]:
    """The rows of every archive, in chain order (after :func:`check_archives`)."""
    for manifest in manifests:
        yield from _file_rows(directory, manifest)


class ArchiveWriter:
    """Writes rows (ascending seq) to an archive file as they come, durably: the file gets
    its final name only once complete and on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.prev_hash = self.first_hash = self.last_hash = ""
        self._partial = path.with_name(path.name + ".partial")
        self._raw = self._partial.open("wb")
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0)

    def write(self, row: Mapping[str, Any]) -> None:
        if self.count == 0:
            self.prev_hash, self.first_hash = str(row["prev_hash"]), str(row["row_hash"])
        self.last_hash = str(row["row_hash"])
        self._gzip.write(row_to_json(row).encode("utf-8") + b"\n")
        self.count += 1

    def finish(self) -> None:
        self._gzip.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        self._partial.rename(self.path)

    def discard(self) -> None:
        self._gzip.close()
        self._raw.close()
        self._partial.unlink(missing_ok=True)


def write_manifest(archive: Path, manifest: Manifest) -> Path:
    path = manifest_path(archive)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    partial.rename(path)
    return path
