"""Parsing pg_dump's COPY text format without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.audit.dump import parse_text_array, read_dump


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("{}", []),
        ("{staff}", ["staff"]),
        ("{/dept/finance,/dept/legal}", ["/dept/finance", "/dept/legal"]),
        (
            '{"/dept/with space","quo\\"te","com,ma",""}',
            ["/dept/with space", 'quo"te', "com,ma", ""],
        ),
        ('{"back\\\\slash",王芳}', ["back\\slash", "王芳"]),
    ],
)
def test_parse_text_array(literal: str, expected: list[str]) -> None:
    assert parse_text_array(literal) == expected


def test_not_an_array_is_refused() -> None:
    with pytest.raises(ValueError, match="not an array"):
        parse_text_array("staff")


def test_read_dump_without_audit_table_is_refused(tmp_path: Path) -> None:
    dump = tmp_path / "other.sql"
    dump.write_text("COPY public.other (a) FROM stdin;\n1\n\\.\n")
    with pytest.raises(ValueError, match="no COPY block for audit_events"):
        read_dump(dump)


def test_read_dump_unescapes_and_types(tmp_path: Path) -> None:
    dump = tmp_path / "audit.sql"
    dump.write_text(
        "SET x = 1;\n"
        "COPY public.audit_checkpoints (seq, head_hash, created_at, signature, "
        "key_fingerprint, alg) FROM stdin;\n"
        "10\tab\t2026-11-28 10:00:00.5+08\t\t\tnone\n\\.\n"
        "COPY public.audit_events (seq, prompt, actor_roles, latency_ms, detail) FROM stdin;\n"
        '2\ta\\tb\\nc\\\\d\t{x}\t\\N\t{"k": 1.5}\n'
        "1\t\\N\t{}\t12.5\t{}\n\\.\n"
    )
    events, checkpoints = read_dump(dump)
    assert [e["seq"] for e in events] == [1, 2]
    assert events[1]["prompt"] == "a\tb\nc\\d" and events[1]["actor_roles"] == ["x"]
    assert events[1]["latency_ms"] is None and events[1]["detail"] == {"k": 1.5}
    assert events[0]["prompt"] is None and events[0]["latency_ms"] == 12.5
    assert checkpoints[0]["seq"] == 10 and checkpoints[0]["created_at"].utcoffset()


def test_a_value_altered_past_parsing_is_an_edit_not_a_crash(tmp_path: Path) -> None:
    dump = tmp_path / "audit.sql"
    dump.write_text(
        "COPY public.audit_events (seq, latency_ms, actor_roles, detail) FROM stdin;\n"
        '1\t12.5x\t{"unterminated\t{"k": 1\n\\.\n'
    )
    events, _ = read_dump(dump)
    assert events[0]["latency_ms"] == "12.5x"
    assert events[0]["actor_roles"] == '{"unterminated'
    assert events[0]["detail"] == '{"k": 1'
