"""``appliance keys find-leaked``: files, directories and standard input; exit 0, 1 or 2;
the prefix printed, the key never."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from appliance.apikeys import keys
from appliance.cli.keys_cmds import find_leaked

APPLIANCE = Path(sys.executable).parent / "appliance"


def _run(targets: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = find_leaked(targets, stdin=io.BytesIO(stdin), out=out, err=err, chunk_bytes=64)
    return status, out.getvalue(), err.getvalue()


def test_a_directory_is_searched_recursively(tmp_path: Path) -> None:
    key, other = keys.new_key(), keys.new_key()
    (tmp_path / "src" / "deep").mkdir(parents=True)
    (tmp_path / "src" / "deep" / "settings.py").write_text(f"# x\nKEY = '{key}'\n")
    (tmp_path / "src" / "clean.txt").write_text("nothing here\n")
    (tmp_path / "app.log").write_bytes(b"\x00\xff binary\n" * 10 + other.encode())
    status, out, err = _run([str(tmp_path)])
    assert status == 1 and err == ""
    assert out.splitlines() == [
        f"{tmp_path / 'app.log'}:11: {keys.prefix_of(other)}",
        f"{tmp_path / 'src' / 'deep' / 'settings.py'}:2: {keys.prefix_of(key)}",
    ]
    assert key not in out and other not in out


def test_standard_input_and_files_with_nothing_exit_0(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("sk-appl-short\n")
    assert _run([str(tmp_path / "a.txt"), "-"], b"no keys\n") == (0, "", "")
    key = keys.new_key()
    status, out, _ = _run(["-"], f"\n\nBearer {key}\n".encode())
    assert (status, out) == (1, f"-:3: {keys.prefix_of(key)}\n")


def test_an_unreadable_path_is_2_and_the_rest_is_still_searched(tmp_path: Path) -> None:
    key = keys.new_key()
    (tmp_path / "leak.txt").write_text(key)
    missing = tmp_path / "missing.txt"
    status, out, err = _run([str(missing), str(tmp_path / "leak.txt")])
    assert status == 2
    assert out == f"{tmp_path / 'leak.txt'}:1: {keys.prefix_of(key)}\n"
    assert str(missing) in err and key not in err


def test_an_unreadable_file_inside_a_directory_is_2(tmp_path: Path) -> None:
    """A link whose target is gone cannot be opened (by root either): named, exit 2."""
    broken = tmp_path / "broken.txt"
    broken.symlink_to(tmp_path / "gone.txt")
    status, _, err = _run([str(tmp_path)])
    assert status == 2 and str(broken) in err


def test_the_installed_command(tmp_path: Path) -> None:
    key = keys.new_key()
    (tmp_path / "notes.md").write_text(f"key: {key}\n")
    found = subprocess.run(
        [str(APPLIANCE), "keys", "find-leaked", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 1, found.stderr
    assert found.stdout == f"{tmp_path / 'notes.md'}:1: {keys.prefix_of(key)}\n"
    piped = subprocess.run(
        [str(APPLIANCE), "keys", "find-leaked", "-"],
        input="nothing",
        capture_output=True,
        text=True,
        check=False,
    )
    assert (piped.returncode, piped.stdout) == (0, "")
