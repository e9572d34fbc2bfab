"""Proxmox VE's built-in roles, as PVE 9 derives them from its privilege groups.

Privileges fall into categories, each split into root-only, admin, user and audit sets; PVE<Cat>Admin,
PVE<Cat>User, PVEAdmin and PVEAuditor collect the matching sets.
"""

from __future__ import annotations

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
