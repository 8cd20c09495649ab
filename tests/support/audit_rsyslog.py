"""A private rsyslog receiving audit checkpoint anchors with the ``audit_anchor`` role's own
configuration (its template rendered here): TCP on 127.0.0.1 (octet-counted framing is
imtcp's default), TLS through the gtls driver with a certificate from a throwaway CA, and
the anchor lines appended to one file.

Never the system's rsyslog: its own configuration, pid file and work directory under the
test's directory, on a free port, stopped when the context ends.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jinja2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.paths import REPO
from tests.support.process import Process, free_port, wait_until

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

ROLE_TEMPLATE = (
    REPO / "playbooks/roles/audit_anchor/templates/etc/rsyslog.d/60-appliance-audit-anchor.conf.j2"
)


@dataclass(frozen=True)
class Receiver:
    port: int
    file: Path
    ca_file: Path

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
    """A CA and a server certificate for 127.0.0.1, named as the role installs them:
    (CA file, certificate, key)."""
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
    ca_file, cert_file, key_file = (directory / n for n in ("ca.crt", "server.crt", "server.key"))
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


def role_config(*, tls_dir: Path, anchor_file: Path, port: int, user: str) -> str:
    """The role's rsyslog configuration for a receiver on 127.0.0.1."""
    template = jinja2.Template(ROLE_TEMPLATE.read_text(), undefined=jinja2.StrictUndefined)
    return template.render(
        ansible_managed="rendered by tests/support/audit_rsyslog.py",
        audit_anchor_tls_dir=str(tls_dir),
        audit_anchor_file=str(anchor_file),
        audit_anchor_user=user,
        audit_anchor_listen_address="127.0.0.1",
        audit_anchor_port=port,
    )


@contextmanager
def private_rsyslog(directory: Path) -> Iterator[Receiver]:
    """rsyslogd in the foreground with the role's configuration and a work directory of its
    own; yields where it listens and the file it appends to. The file is made beforehand
    and append-only (``chattr +a``), as the role makes it; the attribute is removed at the
    end so that the test's directory can be cleaned up."""
    work = directory / "work"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    anchor_file = directory / "anchors" / "audit-anchors.log"
    anchor_file.parent.mkdir(parents=True, exist_ok=True)
    anchor_file.touch(mode=0o640)
    subprocess.run(["chattr", "+a", str(anchor_file)], check=True)
    ca_file, _, _ = make_tls(directory / "tls")
    config = directory / "rsyslog.conf"
    config.write_text(
        f'global(workDirectory="{work}")\n'
        + role_config(tls_dir=directory / "tls", anchor_file=anchor_file, port=port, user="root")
    )
    argv = [RSYSLOGD, "-n", "-f", str(config), "-i", str(directory / "rsyslogd.pid")]
    process = Process(f"rsyslogd-anchor-{port}", argv)
    try:
        wait_until(lambda: _listening(port) or not process.alive(), "rsyslogd", timeout_s=20)
        assert process.alive(), f"rsyslogd exited; see {process.log_path}"
        yield Receiver(port, anchor_file, ca_file)
    finally:
        process.stop()
        subprocess.run(["chattr", "-a", str(anchor_file)], check=True)
