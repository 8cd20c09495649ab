"""Finding keys in a stream: every key once, on its line, across chunk boundaries, and
only its prefix."""

from __future__ import annotations

import io

import pytest

from appliance.apikeys import keys
from appliance.apikeys.leaks import scan_stream


def _scan(data: bytes, chunk_bytes: int) -> list[tuple[int, str]]:
    return [(f.line, f.prefix) for f in scan_stream(io.BytesIO(data), chunk_bytes=chunk_bytes)]


def test_each_key_is_found_on_its_line_with_its_prefix_only() -> None:
    first, second = keys.new_key(), keys.new_key()
    text = f"one\nOPENAI_API_KEY={first}\n\nclient(api_key='{second}')\n".encode()
    assert _scan(text, 1 << 20) == [
        (2, keys.prefix_of(first)),
        (4, keys.prefix_of(second)),
    ]


@pytest.mark.parametrize("chunk_bytes", [1, 7, 50, 51, 52, 64, 100, 4096])
def test_a_key_across_a_chunk_boundary_is_found_once(chunk_bytes: int) -> None:
    found = [keys.new_key() for _ in range(3)]
    text = ("x" * 30 + "\n" + found[0] + " " + found[1] + "\n" * 3 + "é" * 40 + found[2]).encode()
    expected = [(2, keys.prefix_of(found[0])), (2, keys.prefix_of(found[1]))]
    expected.append((5, keys.prefix_of(found[2])))
    assert _scan(text, chunk_bytes) == expected


def test_the_boundary_of_a_1_mib_chunk() -> None:
    key = keys.new_key()
    for split in (5, 8, 30, 50):
        data = b"a\n" * ((1 << 19) - 10) + b"b" * (20 - split) + key.encode() + b"\n"
        assert len(data) > 1 << 20
        assert _scan(data, 1 << 20) == [((1 << 19) - 9, keys.prefix_of(key))]


def test_no_key_no_finding() -> None:
    almost = "sk-appl-" + "a" * 42
    assert _scan(f"{almost}\nsk-appl-\nsk-other-{'b' * 43}\n".encode(), 16) == []
    assert _scan(b"", 16) == []
