"""pytest imports a test module outside a package by its file name alone (rootdir-based
``rootdir/conftest`` mode): two such modules of one name stop the whole run at collection,
before any test runs. Caught here, in the unit tests, rather than by the full suite."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tests.support.paths import REPO


def _in_package(path: Path) -> bool:
    return (path.parent / "__init__.py").exists()


def test_no_two_test_modules_outside_packages_share_a_name() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        if not _in_package(path):
            by_name[path.name].append(str(path.relative_to(REPO)))
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}
