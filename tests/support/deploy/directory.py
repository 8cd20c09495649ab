"""A real OpenLDAP directory (slapd) for the federation test: the site's staff directory.

The directory is ``dc=test,dc=internal`` with people under ``ou=people``, departments as
groups under ``ou=departments`` and the appliance's roles as groups under ``ou=roles``, the
layout the ``keycloak`` role's ``keycloak_ldap_*_dn`` settings describe. slapd runs in the
foreground from a slapd.conf under ``var/deploy/``, bound to one address (in the deployment
tests, the mirror node's), and is stopped when the run ends.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DN = "dc=test,dc=internal"
PEOPLE_DN = f"ou=people,{BASE_DN}"
DEPARTMENTS_DN = f"ou=departments,{BASE_DN}"
ROLES_DN = f"ou=roles,{BASE_DN}"
BIND_DN = f"cn=svc-appliance,ou=service,{BASE_DN}"
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")


@dataclass(frozen=True)
class Person:
    uid: str
    given: str
    family: str
    department: str
    roles: tuple[str, ...]
    password: str = field(default_factory=lambda: secrets.token_hex(12))

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{PEOPLE_DN}"


def _hash(password: str) -> str:
    return subprocess.run(
        ["/usr/sbin/slappasswd", "-s", password], capture_output=True, text=True, check=True
    ).stdout.strip()


def _ldif(people: list[Person], bind_password: str) -> str:
    entries = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: test\no: Test",
        *(
            f"dn: ou={ou},{BASE_DN}\nobjectClass: organizationalUnit\nou: {ou}"
            for ou in ("people", "service", "departments", "roles")
        ),
        f"dn: {BIND_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: svc-appliance\nuserPassword: {_hash(bind_password)}",
    ]
    for person in people:
        entries.append(
            f"dn: {person.dn}\nobjectClass: inetOrgPerson\nuid: {person.uid}\n"
            f"cn: {person.given} {person.family}\ngivenName: {person.given}\nsn: {person.family}\n"
            f"mail: {person.uid}@test.internal\nuserPassword: {_hash(person.password)}"
        )
    groups: dict[tuple[str, str], list[str]] = {}
    for person in people:
        groups.setdefault((person.department, DEPARTMENTS_DN), []).append(person.dn)
        for role in person.roles:
            groups.setdefault((role, ROLES_DN), []).append(person.dn)
    for (name, parent), members in sorted(groups.items()):
        lines = "".join(f"\nmember: {dn}" for dn in members)
        entries.append(f"dn: cn={name},{parent}\nobjectClass: groupOfNames\ncn: {name}{lines}")
    return "\n\n".join(entries) + "\n"


class Directory:
    """slapd with the given people, listening on ``ldap://ADDRESS:PORT/``."""

    def __init__(self, work: Path, people: list[Person], address: str, port: int = 389) -> None:
        self.work = work
        self.people = people
        self.url = f"ldap://{address}:{port}"
        self.bind_password = secrets.token_hex(12)
        self._process: subprocess.Popen[bytes] | None = None

    def _configure(self) -> Path:
        shutil.rmtree(self.work, ignore_errors=True)
        (self.work / "data").mkdir(parents=True)
        conf = self.work / "slapd.conf"
        schemas = "".join(f"include /etc/ldap/schema/{s}.schema\n" for s in SCHEMAS)
        conf.write_text(
            f"{schemas}modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
            f"pidfile {self.work}/slapd.pid\n"
            # Users' passwords: only for binding; everything else readable by the bind DN.
            "access to attrs=userPassword by anonymous auth by * none\n"
            f'access to * by dn.exact="{BIND_DN}" read by self read by * none\n'
            f'database mdb\nmaxsize 10485760\nsuffix "{BASE_DN}"\n'
            f"directory {self.work}/data\nindex objectClass eq\nindex uid eq\n"
        )
        ldif = self.work / "directory.ldif"
        ldif.write_text(_ldif(self.people, self.bind_password))
        subprocess.run(
            ["/usr/sbin/slapadd", "-f", str(conf), "-l", str(ldif)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return conf

    def start(self, netns: str | None = None) -> None:
        conf = self._configure()
        prefix = ["ip", "netns", "exec", netns] if netns else []
        log = (self.work / "slapd.log").open("wb")
        self._process = subprocess.Popen(
            [*prefix, "/usr/sbin/slapd", "-d", "0", "-f", str(conf), "-h", f"{self.url}/"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = subprocess.run(
                [*prefix, "ldapsearch", "-x", "-H", self.url, "-D", BIND_DN,
                 "-w", self.bind_password, "-b", PEOPLE_DN, "-LLL", "uid"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if found.returncode == 0:
                return
            if self._process.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"slapd did not start; see {self.work / 'slapd.log'}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
