"""A private rsyslog receiving audit checkpoint anchors, as the ``audit_anchor`` role sets
one up: TCP on 127.0.0.1 (octet-counted framing is imtcp's default), TLS through the gtls
driver with a certificate from a throwaway CA, and the anchor lines appended to one file.

Never the system's rsyslog: its own configuration, pid file and work directory under the
test's directory, on a free port, stopped when the context ends.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.process import Process, free_port, wait_until

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

# What the audit_anchor role writes (playbooks/roles/audit_anchor/templates): only
# messages of the audit writer, from the anchor input, into the append-only file.
_CONFIG = """\
global(workDirectory="{work}"{tls_global})
module(load="imtcp"{tls_module})
template(name="AuditAnchorLine" type="string"
         string="%timegenerated:::date-rfc3339% %fromhost-ip% %hostname% %app-name%: %msg%\\n")
ruleset(name="audit_anchor") {{
  if $app-name == "appliance-audit" and $msgid == "checkpoint" then {{
    action(type="omfile" file="{file}" template="AuditAnchorLine" fileCreateMode="0600")
  }}
}}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="audit_anchor")
"""


@dataclass(frozen=True)
class Receiver:
    port: int
    file: Path
    ca_file: Path | None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        return self.file.read_text().splitlines() if self.file.exists() else []


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1: (CA file, certificate, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("audit anchor test CA"))
        .issuer_name(_name("audit anchor test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_file)
    return ca_file, cert_file, key_file


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@contextmanager
def private_rsyslog(directory: Path, *, tls: bool = True) -> Iterator[Receiver]:
    """rsyslogd in the foreground with the anchor configuration; yields where it listens
    and the file it appends to."""
    work = directory / "work"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    anchor_file = directory / "anchors" / "audit-anchors.log"
    anchor_file.parent.mkdir(parents=True, exist_ok=True)
    ca_file: Path | None = None
    tls_global = tls_module = ""
    if tls:
        ca_file, cert_file, key_file = make_tls(directory / "tls")
        tls_global = (
            f' defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{ca_file}"'
            f' defaultNetstreamDriverCertFile="{cert_file}"'
            f' defaultNetstreamDriverKeyFile="{key_file}"'
        )
        tls_module = ' streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"'
    config = directory / "rsyslog.conf"
    config.write_text(
        _CONFIG.format(
            work=work, tls_global=tls_global, tls_module=tls_module, file=anchor_file, port=port
        )
    )
    argv = [RSYSLOGD, "-n", "-f", str(config), "-i", str(directory / "rsyslogd.pid")]
    process = Process(f"rsyslogd-anchor-{port}", argv)
    try:
        wait_until(lambda: _listening(port) or not process.alive(), "rsyslogd", timeout_s=20)
        assert process.alive(), f"rsyslogd exited; see {process.log_path}"
        yield Receiver(port, anchor_file, ca_file)
    finally:
        process.stop()
