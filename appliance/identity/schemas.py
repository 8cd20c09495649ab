"""Wire models of account management, shared by the gateway's routes and the directory.

No docstrings on the models themselves: they would become schema descriptions in the
gateway's OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

# Keycloak lower-cases usernames; allow what an HR export holds (letters, digits, . _ -).
USERNAME = r"^[a-z0-9][a-z0-9._-]{1,62}$"
DEPARTMENT = r"^/dept(/[^/\s]{1,64})+$"
CLIENT_NAME = r"^[a-z0-9][a-z0-9-]{1,40}$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Username = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=USERNAME)]
Department = Annotated[str, StringConstraints(strip_whitespace=True, pattern=DEPARTMENT)]


class NewUser(BaseModel):
    username: Username
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] = ""
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] = ""
    department: Department | None = None
    roles: list[str] = Field(default_factory=lambda: ["staff"], max_length=5)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value


class UserOut(BaseModel):
    id: str
    username: str
    name: str
    email: str
    enabled: bool
    roles: list[str]
    departments: list[str]
    created: datetime | None


class OneTimePassword(BaseModel):
    username: str
    password: str
    temporary: bool = True


class ImportRequest(BaseModel):
    # Raw rows: each one is validated on its own, so a bad row is reported, not fatal.
    users: list[dict[str, object]] = Field(max_length=1000)


class ImportRow(BaseModel):
    row: int
    username: str
    ok: bool
    password: str | None = None
    error: str | None = None
    message: str | None = None


class ImportResult(BaseModel):
    results: list[ImportRow]


class RoleChange(BaseModel):
    grant: list[str] = Field(default_factory=list, max_length=5)
    revoke: list[str] = Field(default_factory=list, max_length=5)


class GroupOut(BaseModel):
    path: str
    members: int


class NewGroup(BaseModel):
    path: Department


class NewMember(BaseModel):
    group: Department
    username: Username


class NewClient(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, pattern=CLIENT_NAME)]
    department: Department | None = None
    description: Annotated[str, StringConstraints(max_length=255)] = ""


class ClientOut(BaseModel):
    client_id: str
    name: str
    enabled: bool
    departments: list[str]


class ClientCredentials(BaseModel):
    client_id: str
    client_secret: str
    token_url: str
