"""The bundle's software bill of materials: CycloneDX 1.5 JSON, written and checked.

``sbom.cdx.json`` at the bundle's top lists every artefact a node or the controller installs
from the bundle: each wheel (``pkg:pypi``), each Debian package (``pkg:deb/debian``, with its
architecture), the Keycloak distribution, the pgvector build, each Ansible collection and
each file of the model directories, with the file's SHA-256 and its path in the bundle (the
property ``appliance:path``). A site's vulnerability scanner reads it without unpacking the
bundle; ``check`` holds it to the bundle's files, so the list a site files is the list it
installs. The SBOM is itself in the signed manifest, which is what makes it trustworthy.
"""

from __future__ import annotations

import json
import re
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from appliance.provision.repack import file_sha256, normalize_name

SBOM = "sbom.cdx.json"
PATH_PROPERTY = "appliance:path"
_WHEEL_DIRS = ("wheels", "vllm-wheels", "controller/wheels")


def covered(root: Path) -> Iterator[Path]:
    """The bundle's files the SBOM must list, relative to ``root``, in a stable order."""
    patterns = [f"{d}/*.whl" for d in _WHEEL_DIRS]
    patterns += ["debs/*.deb", "keycloak/*.zip", "pgvector/*.tar.gz", "model/**/*"]
    patterns += ["controller/collections/*.tar.gz"]
    seen: set[Path] = set()
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and path not in seen:
                seen.add(path)
                yield path.relative_to(root)


def _described(rel: Path) -> dict[str, Any]:
    """Type, name, version and purl of one bundle file, read from its path."""
    top, name = rel.parts[0], rel.name
    if name.endswith(".whl"):
        dist, version = name.split("-")[:2]
        purl = f"pkg:pypi/{normalize_name(dist)}@{quote(version, safe='')}"
        return {"type": "library", "name": normalize_name(dist), "version": version, "purl": purl}
    if name.endswith(".deb"):
        package, version, arch = name[: -len(".deb")].split("_")[:3]
        version = unquote(version)
        purl = f"pkg:deb/debian/{package}@{quote(version, safe='')}?arch={arch}"
        return {"type": "library", "name": package, "version": version, "purl": purl}
    if top == "keycloak":
        version = re.sub(r"^keycloak(-quarkus-dist)?-|\.zip$", "", name)
        purl = f"pkg:maven/org.keycloak/keycloak-quarkus-dist@{version}?type=zip"
        return {"type": "application", "name": "keycloak", "version": version, "purl": purl}
    if top == "pgvector":
        return {"type": "library", "name": "pgvector", "purl": "pkg:generic/pgvector"}
    if top == "controller":
        namespace, collection, version = name[: -len(".tar.gz")].rsplit("-", 2)
        purl = f"pkg:generic/ansible-collection/{namespace}.{collection}@{version}"
        return {
            "type": "library",
            "name": f"{namespace}.{collection}",
            "version": version,
            "purl": purl,
        }
    return {"type": "data", "name": str(Path(*rel.parts[1:]))}


def _pgvector_version(archive: Path) -> str | None:
    """``default_version`` from the extension's control file inside the packed build."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.endswith("extension/vector.control"):
                handle = tar.extractfile(member)
                text = handle.read().decode() if handle is not None else ""
                found = re.search(r"default_version\s*=\s*'([^']+)'", text)
                return found.group(1) if found else None
    return None


def component(root: Path, rel: Path) -> dict[str, Any]:
    """One file's CycloneDX component: what it is, its SHA-256 and its path in the bundle."""
    described = _described(rel)
    if rel.parts[0] == "pgvector" and (version := _pgvector_version(root / rel)):
        described["version"] = version
        described["purl"] = f"pkg:generic/pgvector@{version}"
    return {
        "bom-ref": str(rel),
        **described,
        "hashes": [{"alg": "SHA-256", "content": file_sha256(root / rel)}],
        "properties": [{"name": PATH_PROPERTY, "value": str(rel)}],
    }


def write(root: Path, version: str) -> dict[str, Any]:
    """Write ``sbom.cdx.json`` into the bundle directory ``root``; returns the document."""
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "component": {
                "bom-ref": "appliance-bundle",
                "type": "application",
                "name": "appliance-bundle",
                "version": version,
            },
        },
        "components": [component(root, rel) for rel in covered(root)],
    }
    (root / SBOM).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return document


def _listed(document: dict[str, Any]) -> dict[str, str]:
    """Path in the bundle → SHA-256, for every component that names a path."""
    found: dict[str, str] = {}
    for item in document.get("components", []):
        paths = [p["value"] for p in item.get("properties", []) if p["name"] == PATH_PROPERTY]
        sha = [h["content"] for h in item.get("hashes", []) if h["alg"] == "SHA-256"]
        for path in paths:
            found[path] = sha[0] if sha else ""
    return found


def check(root: Path) -> list[str]:
    """Problems between the SBOM and the bundle's files, each naming the file; none: agree."""
    if not (root / SBOM).is_file():
        return [f"missing: {SBOM}"]
    try:
        document = json.loads((root / SBOM).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return [f"unreadable: {SBOM}"]
    if document.get("bomFormat") != "CycloneDX" or document.get("specVersion") != "1.5":
        return [f"not CycloneDX 1.5 JSON: {SBOM}"]
    listed = _listed(document)
    problems = []
    present = {str(rel) for rel in covered(root)}
    for rel in sorted(present):
        if rel not in listed:
            problems.append(f"not in SBOM: {rel}")
        elif file_sha256(root / rel) != listed[rel]:
            problems.append(f"SBOM hash differs: {rel}")
    problems += [f"in SBOM, not in bundle: {rel}" for rel in sorted(set(listed) - present)]
    return problems
