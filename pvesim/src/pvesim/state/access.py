"""Access control beyond the user, token and ACL records: groups, realms, built-in roles.

The built-in roles are Proxmox's facts (facts/roles.py), named here for the state that grants them.
The ACL walk over them is in permissions.py.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from ..facts.roles import ALL_PRIVILEGES, BUILTIN_ROLES, PRIVILEGE_GROUPS

__all__ = [
    "ALL_PRIVILEGES",
    "BUILTIN_ROLES",
    "PRIVILEGE_GROUPS",
    "REALMS",
    "SUPERUSER",
    "TOP_PATHS",
    "AccessState",
    "Group",
    "Realm",
]

SUPERUSER = "root@pam"
# Paths every effective-permission listing looks at, besides the ones named in ACLs.
TOP_PATHS = ("/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms")


@dataclass(eq=False)
class Group:
    groupid: str
    comment: str = ""
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Realm:
    realm: str
    type: str
    comment: str


REALMS = (
    Realm("pam", "pam", "Linux PAM standard authentication"),
    Realm("pve", "pve", "Proxmox VE authentication server"),
)


@dataclass(eq=False)
class AccessState:
    groups: dict[str, Group] = field(default_factory=dict)
    realms: dict[str, Realm] = field(default_factory=lambda: {r.realm: r for r in REALMS})
    tokens_issued: int = 0

    def groups_of(self, userid: str) -> list[str]:
        return sorted(g.groupid for g in self.groups.values() if userid in g.members)

    def new_secret(self, cluster_name: str, full_id: str) -> str:
        """A token secret that is new for every creation yet the same in every run of the same cluster."""
        self.tokens_issued += 1
        seed = f"{cluster_name}|{full_id}|{self.tokens_issued}".encode()
        return str(uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4))
