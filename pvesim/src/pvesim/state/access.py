"""Access control beyond the user, token and ACL records: groups, realms, built-in roles.

Built-in roles are derived the way PVE derives them: privileges fall into categories, each split
into root-only, admin, user and audit sets, and PVE<Cat>Admin, PVE<Cat>User, PVEAdmin and
PVEAuditor collect the matching sets. The ACL walk over them is in permissions.py.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

# category: (root-only, admin, user, audit), as PVE 9 groups its privileges
PRIVILEGE_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "VM": (
        (),
        (
            "VM.Allocate", "VM.Clone", "VM.Config.CPU", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
            "VM.Config.Network", "VM.Config.Options", "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.Replicate",
            "VM.Snapshot", "VM.Snapshot.Rollback",
        ),
        (
            "VM.Backup", "VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.GuestAgent.FileRead",
            "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt",
        ),
        ("VM.Audit", "VM.GuestAgent.Audit"),
    ),
    "Sys": (
        ("Sys.AccessNetwork", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt"),
        ("Sys.Console", "Sys.Syslog"),
        (),
        ("Sys.Audit",),
    ),
    "Datastore": ((), ("Datastore.Allocate", "Datastore.AllocateTemplate"), ("Datastore.AllocateSpace",),
                  ("Datastore.Audit",)),
    "SDN": ((), ("SDN.Allocate", "SDN.Audit"), ("SDN.Use",), ("SDN.Audit",)),
    "User": (("Realm.Allocate",), ("Group.Allocate", "Realm.AllocateUser", "User.Modify"), (), ()),
    "Pool": ((), ("Pool.Allocate",), ("Pool.Audit",), ("Pool.Audit",)),
    "Mapping": (("Mapping.Modify",), (), ("Mapping.Use",), ("Mapping.Audit",)),
}  # fmt: skip
ALL_PRIVILEGES = tuple(
    sorted({p for sets in PRIVILEGE_GROUPS.values() for s in sets for p in s} | {"Permissions.Modify"})
)


def _builtin_roles() -> dict[str, tuple[str, ...]]:
    roles: dict[str, set[str]] = {"NoAccess": set(), "PVEAdmin": set(), "PVEAuditor": set()}
    for category, (_root, admin, user, audit) in PRIVILEGE_GROUPS.items():
        roles.setdefault(f"PVE{category}Admin", set()).update(admin, user, audit)
        roles["PVEAdmin"].update(admin, user, audit)
        if user:
            roles.setdefault(f"PVE{category}User", set()).update(user, audit)
        roles["PVEAuditor"].update(audit)
    roles["PVEMappingAdmin"].add("Mapping.Modify")  # the one admin role holding a root-only privilege
    roles["PVETemplateUser"] = {"VM.Audit", "VM.Clone"}
    roles["Administrator"] = set(ALL_PRIVILEGES)
    return {name: tuple(sorted(privs)) for name, privs in sorted(roles.items())}


BUILTIN_ROLES = _builtin_roles()
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
