"""Ansible module: the offline bundle on a node is the one its builder signed, file for file.

Runs on the node before anything is installed from the bundle. The manifest's Ed25519
signature is checked against the public key the site was given with the bundle
(``appliance_bundle_public_key``), then every file's size and SHA-256 against the manifest,
and any file the manifest does not list is refused as well. The apt repository's signing key
(``debs/appliance-bundle-archive.asc``) is one of those files, so apt's ``signed-by=`` trust
comes from this check.

Hashing a full bundle (the model's weights: hundreds of GB) takes minutes, and every deploy,
upgrade or added node runs this check. So after a bundle passes, the module records each
file's identity (size, inode, modification and change times) with the manifest's digest in a
root-only stamp file (``stamp``, outside the bundle directory); the next run checks the
signature and the file list again but re-hashes only the files whose identity differs. The
change time (ctime) is set by the kernel on any write or metadata change and cannot be set
back from user space, so a file altered after the check is hashed again.

Nodes need nothing beyond Python's standard library: Ed25519 verification is the reference
algorithm of RFC 8032 (section 6), in pure Python. Verification handles only public data, so
its timing leaks nothing worth protecting; it is not for signing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]

DOCUMENTATION = r"""
module: appliance_bundle_verify
short_description: Verify the offline bundle's signed manifest and every file's SHA-256
options:
  path:
    description: The unpacked bundle directory (appliance_bundle_dir).
    type: path
    required: true
  public_key:
    description: The bundle's Ed25519 public key, PEM (SubjectPublicKeyInfo).
    type: str
    required: true
  stamp:
    description: Root-only file recording the files of the last bundle that passed, so
      unchanged files are not hashed again; empty to hash every file every time.
    type: path
    default: ""
"""

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
# How many problems the failure message names; the count says how many more there are.
SHOWN = 20
_CHUNK = 1 << 20
# DER SubjectPublicKeyInfo of an Ed25519 key, less the 32 key bytes (RFC 8410).
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")

# RFC 8032, 5.1: the curve edwards25519 and its base point, in extended coordinates.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

Point = tuple[int, int, int, int]


def _add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    pa = (y1 - x1) * (y2 - x2) % _P
    pb = (y1 + x1) * (y2 + x2) % _P
    pc = t1 * 2 * _D * t2 % _P
    pd = z1 * 2 * z2 % _P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(a: Point, b: Point) -> bool:
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % _P == 0 and (y1 * z2 - y2 * z1) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decompress(data: bytes) -> Point | None:
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


# The base point B (RFC 8032 5.1): y = 4/5, x its even root.
_G_Y = 4 * pow(5, _P - 2, _P) % _P
_G_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_G: Point = (_G_X, _G_Y, 1, _G_X * _G_Y % _P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 5.1.7: whether ``signature`` is ``public``'s signature of ``message``."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little")
    return _equal(_multiply(s, _G), _add(r, _multiply(h % _L, a)))


def public_key_from_pem(text: str) -> bytes:
    """The 32 key bytes of a PEM ``PUBLIC KEY`` (what ``appliance audit keygen`` writes)."""
    body = [line.strip() for line in text.strip().splitlines() if not line.startswith("-----")]
    der = base64.b64decode("".join(body), validate=True)
    if len(der) != len(_SPKI_PREFIX) + 32 or not der.startswith(_SPKI_PREFIX):
        raise ValueError("not an Ed25519 public key (PEM SubjectPublicKeyInfo)")
    return der[len(_SPKI_PREFIX) :]


def _sha256(path: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _present(root: str) -> set[str]:
    found = set()
    for directory, _, names in os.walk(root):
        for name in names:
            relative = os.path.relpath(os.path.join(directory, name), root)
            if relative not in (MANIFEST, SIGNATURE):
                found.add(relative)
    return found


def _identity(path: str) -> list[int]:
    """What changes whenever the file's content may have: size, inode, mtime and ctime."""
    status = os.stat(path)
    return [status.st_size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns]


def _read_stamp(stamp: str, manifest_sha256: str) -> dict[str, list[int]]:
    """The file identities recorded for this very manifest, or nothing."""
    try:
        with open(stamp, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("manifest_sha256") != manifest_sha256:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _write_stamp(stamp: str, manifest_sha256: str, files: dict[str, list[int]]) -> None:
    os.makedirs(os.path.dirname(stamp) or ".", mode=0o700, exist_ok=True)
    partial = stamp + ".partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"manifest_sha256": manifest_sha256, "files": files}, handle, sort_keys=True)
    os.replace(partial, stamp)


def verify_bundle(
    root: str, public_key_pem: str, stamp: str = ""
) -> tuple[int, int, list[str], bool]:
    """(files the manifest lists, files hashed, problems, whether the stamp was written).

    Each problem is one line naming the file; the files are only read once the signature
    holds. With ``stamp``, files whose identity matches the stamp of this same manifest are
    not hashed again, and a bundle that passes is recorded there.
    """
    key = public_key_from_pem(public_key_pem)
    try:
        with open(os.path.join(root, MANIFEST), "rb") as handle:
            body = handle.read()
        with open(os.path.join(root, SIGNATURE), "rb") as handle:
            signature = handle.read()
    except FileNotFoundError as exc:
        return 0, 0, [f"missing: {os.path.relpath(str(exc.filename), root)}"], False
    if not ed25519_verify(key, body, signature):
        bad = f"bad signature: {MANIFEST} is not signed by appliance_bundle_public_key"
        return 0, 0, [bad], False
    manifest_sha256 = hashlib.sha256(body).hexdigest()
    recorded = _read_stamp(stamp, manifest_sha256) if stamp else {}
    files: dict[str, dict[str, Any]] = json.loads(body)["files"]
    problems, identities, hashed = [], {}, 0
    for name, expected in sorted(files.items()):
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            problems.append(f"missing: {name}")
            continue
        identities[name] = _identity(path)
        if recorded.get(name) == identities[name]:
            continue
        hashed += 1
        if _sha256(path) != (expected["size"], expected["sha256"]):
            problems.append(f"altered: {name}")
    problems += [f"not in manifest: {name}" for name in sorted(_present(root) - set(files))]
    written = bool(stamp) and not problems and recorded != identities
    if written:
        _write_stamp(stamp, manifest_sha256, identities)
    return len(files), hashed, problems, written


def check_bundle(root: str, public_key_pem: str) -> tuple[int, list[str]]:
    """The files the manifest lists and every problem found, every file hashed."""
    checked, _, problems, _ = verify_bundle(root, public_key_pem)
    return checked, problems


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "public_key": {"type": "str", "required": True, "no_log": False},
            "stamp": {"type": "path", "default": ""},
        },
        supports_check_mode=True,
    )
    root: str = module.params["path"]
    stamp: str = "" if module.check_mode else module.params["stamp"]
    try:
        checked, hashed, problems, written = verify_bundle(root, module.params["public_key"], stamp)
    except (ValueError, KeyError, OSError) as exc:
        module.fail_json(msg=f"cannot verify the offline bundle in {root}: {exc}")
    if problems:
        more = len(problems) - SHOWN
        named = "; ".join(problems[:SHOWN]) + (f"; and {more} more" if more > 0 else "")
        module.fail_json(
            msg=f"the offline bundle in {root} is not the one its builder signed, so nothing "
            f"is installed from it: {named} - copy the bundle again from the build machine "
            "and check it with `appliance bundle verify`",
            problems=problems,
        )
    module.exit_json(changed=written, checked=checked, hashed=hashed)


if __name__ == "__main__":
    main()
