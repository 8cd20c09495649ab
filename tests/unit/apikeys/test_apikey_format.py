"""The key string, its prefix and its peppered hash."""

from __future__ import annotations

import hashlib

import pytest

from appliance.apikeys import keys


def test_a_new_key_carries_the_marker_and_256_random_bits() -> None:
    key = keys.new_key()
    assert key.startswith("sk-appl-")
    assert keys.is_well_formed(key)
    assert len(key) == len("sk-appl-") + 43
    assert len({keys.new_key() for _ in range(200)}) == 200


def test_the_prefix_names_the_key_without_being_it() -> None:
    key = keys.new_key()
    prefix = keys.prefix_of(key)
    assert prefix == key[:16]
    assert key.startswith(prefix)
    assert not keys.is_well_formed(prefix)


@pytest.mark.parametrize(
    "token",
    [
        "sk-appl-",
        "sk-appl-short",
        "sk-appl-" + "a" * 42,
        "sk-appl-" + "a" * 44,
        "sk-appl-" + "!" * 43,
    ],
)
def test_malformed_keys_are_not_keys(token: str) -> None:
    assert keys.looks_like_key(token)
    assert not keys.is_well_formed(token)


def test_a_keycloak_token_is_not_taken_for_a_key() -> None:
    assert not keys.looks_like_key("eyJhbGciOiJSUzI1NiJ9.e30.sig")


def test_the_hash_needs_the_pepper_and_is_not_plain_sha256() -> None:
    key = keys.new_key()
    stored = keys.key_hash(key, b"pepper-one")
    assert stored != hashlib.sha256(key.encode()).digest()
    assert keys.matches(key, stored, b"pepper-one")
    assert not keys.matches(key, stored, b"pepper-two")
    assert not keys.matches(keys.new_key(), stored, b"pepper-one")
    with pytest.raises(ValueError, match="pepper"):
        keys.key_hash(key, b"")
