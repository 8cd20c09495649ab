"""A small loop-mounted filesystem that a test can fill to the last byte (needs root).

The disk-full scenario puts a scratch PostgreSQL's data directory on it, fills it, and
frees it again.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.postgres.cluster import chown_to_postgres


@contextlib.contextmanager
def loop_filesystem(image: Path, mountpoint: Path, size_mb: int) -> Iterator[Path]:
    """A small ext4 filesystem in a sparse file, loop-mounted; always unmounted and removed.

    No blocks are reserved for root, so a filler file written by root can take the last
    byte that PostgreSQL (running as ``postgres``) would need.
    """
    image.parent.mkdir(parents=True, exist_ok=True)
    mountpoint.mkdir(parents=True, exist_ok=True)
    with image.open("wb") as sparse:
        sparse.truncate(size_mb * 1024 * 1024)
    mounted = False
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
        subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
        mounted = True
        chown_to_postgres(mountpoint)
        yield mountpoint
    finally:
        if mounted:
            for _ in range(20):
                if subprocess.run(["umount", str(mountpoint)], check=False).returncode == 0:
                    break
                time.sleep(0.5)
            else:
                subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        image.unlink(missing_ok=True)


def fill(path: Path) -> int:
    """Write ``path`` until the filesystem has no byte left; returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as filler:
        for block in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * block
            with contextlib.suppress(OSError):
                while True:
                    written += filler.write(chunk)
        with contextlib.suppress(OSError):
            os.fsync(filler.fileno())
    return written
