"""The key string and its hash.

A key is ``sk-appl-`` followed by 43 URL-safe characters (32 random bytes from
:mod:`secrets`). Its first :data:`PREFIX_LENGTH` characters are stored in clear as the
lookup prefix (and shown, so people tell their keys apart); the whole key is stored only as
HMAC-SHA256 under the gateway's pepper. The recognisable marker lets a scanner find leaked
keys in code and logs, and lets the gateway tell a key from a Keycloak token without
parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

MARKER = "sk-appl-"
_RANDOM_BYTES = 32
_RANDOM_CHARS = 43  # base64url of 32 bytes, unpadded
# The marker and 8 random characters: 48 bits that find one row, never enough to use it.
PREFIX_LENGTH = len(MARKER) + 8
KEY_LENGTH = len(MARKER) + _RANDOM_CHARS
KEY_PATTERN = re.compile(re.escape(MARKER) + "[A-Za-z0-9_-]{" + str(_RANDOM_CHARS) + "}")


def looks_like_key(token: str) -> bool:
    """Whether a bearer token is meant as an API key (it carries the marker)."""
    return token.startswith(MARKER)


def is_well_formed(token: str) -> bool:
    return KEY_PATTERN.fullmatch(token) is not None


def new_key() -> str:
    """A fresh key; shown to its owner once and never stored."""
    return MARKER + secrets.token_urlsafe(_RANDOM_BYTES)


def prefix_of(key: str) -> str:
    return key[:PREFIX_LENGTH]


def key_hash(key: str, pepper: bytes) -> bytes:
    """HMAC-SHA256 of the key under the gateway's pepper (a secret outside the database)."""
    if not pepper:
        raise ValueError("an API key hash needs a pepper")
    return hmac.new(pepper, key.encode("utf-8"), hashlib.sha256).digest()


def matches(key: str, stored_hash: bytes, pepper: bytes) -> bool:
    """Constant-time comparison of ``key``'s hash with the stored one."""
    return hmac.compare_digest(key_hash(key, pepper), stored_hash)
