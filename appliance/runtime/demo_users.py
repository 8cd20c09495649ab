"""The demo users of the local runtime: every role, more than one department, every data
grade clearance (a user without one reads the lowest grade only).

Created through Keycloak's admin API (never in the realm file that deployments import),
with passwords generated at the first ``appliance up`` and kept in
``var/secrets/demo_users.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.runtime.paths import RuntimePaths
from appliance.runtime.secrets import json_secrets


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    # The Keycloak ``clearance`` attribute: the highest data grade the user may read.
    clearance: str = ""

    @property
    def email(self) -> str:
        return f"{self.username}@example.invalid"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("zhang.wei", "Wei", "Zhang", ("staff",), ("/dept/finance",), "一般"),
    DemoUser("li.na", "Na", "Li", ("staff", "kb-editor"), ("/dept/finance",), "重要"),
    DemoUser("wang.fang", "Fang", "Wang", ("staff",), ("/dept/legal",), "核心"),
    DemoUser("chen.jie", "Jie", "Chen", ("sysadmin",), ("/dept/it",)),
    DemoUser("zhao.min", "Min", "Zhao", ("secadmin",), ("/dept/it",)),
    DemoUser("liu.yang", "Yang", "Liu", ("auditor",), ("/dept/it",)),
    DemoUser("sun.li", "Li", "Sun", (), ("/dept/legal",)),
)


def stored_passwords(paths: RuntimePaths) -> dict[str, str]:
    return json_secrets(paths.secret("demo_users.json"))
