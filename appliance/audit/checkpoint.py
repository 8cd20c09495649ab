"""Signed checkpoints of the chain head (Ed25519).

The hash chain alone proves order and integrity only against someone who cannot recompute
it; a database superuser can. A checkpoint signs "row ``seq`` ends the chain at ``head``"
with a key the database never sees, so a rewritten history no longer matches the signed
heads. Keys are identified by the SHA-256 of their raw public bytes.

With no key configured (development only: settings refuse that in production) checkpoints
are still written, with ``alg = "none"`` and an empty signature: they still pin the head
against truncation of the tail, but prove nothing against someone who can also rewrite them,
so the verifier refuses them unless told to skip signatures (``appliance.audit.verify``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.audit.chain import format_timestamp

ED25519 = "ed25519"
UNSIGNED = "none"


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def checkpoint_message(seq: int, head_hash: str, created_at: datetime) -> bytes:
    """The bytes that are signed: unambiguous and independent of how the row is read."""
    return json.dumps(
        ["appliance-audit-checkpoint/1", seq, head_hash, format_timestamp(created_at)],
        separators=(",", ":"),
    ).encode("ascii")


@dataclass(frozen=True, slots=True)
class CheckpointSigner:
    """Signs checkpoints; ``key`` None means development mode (unsigned checkpoints)."""

    key: Ed25519PrivateKey | None

    @property
    def fingerprint(self) -> str:
        return "" if self.key is None else fingerprint(self.key.public_key())

    @property
    def alg(self) -> str:
        return UNSIGNED if self.key is None else ED25519

    def sign(self, seq: int, head_hash: str, created_at: datetime) -> str:
        if self.key is None:
            return ""
        return self.key.sign(checkpoint_message(seq, head_hash, created_at)).hex()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint as stored in ``audit_checkpoints`` and as sent out as an anchor."""

    seq: int
    head_hash: str
    created_at: datetime
    signature: str
    key_fingerprint: str
    alg: str

    @classmethod
    def signed(
        cls, signer: CheckpointSigner, seq: int, head_hash: str, created_at: datetime
    ) -> Checkpoint:
        signature = signer.sign(seq, head_hash, created_at)
        return cls(seq, head_hash, created_at, signature, signer.fingerprint, signer.alg)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """A public key file, or the public half of a private key file."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def signer_from_file(path: str) -> CheckpointSigner:
    return CheckpointSigner(load_private_key(path) if path else None)


def generate_key(private_path: Path) -> Path:
    """Write a new private key (mode 0600) and its public key next to it (``.pub``)."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path = private_path.with_name(private_path.name + ".pub")
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public_path


def key_ring(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    return {fingerprint(k): k for k in keys}


def signature_valid(
    ring: dict[str, Ed25519PublicKey],
    *,
    seq: int,
    head_hash: str,
    created_at: datetime,
    signature: str,
    key_fingerprint: str,
) -> bool:
    """True when a trusted key with that fingerprint signed exactly this checkpoint."""
    key = ring.get(key_fingerprint)
    if key is None:
        return False
    try:
        key.verify(bytes.fromhex(signature), checkpoint_message(seq, head_hash, created_at))
    except (InvalidSignature, ValueError):
        return False
    return True
