"""Which Proxmox privilege each endpoint needs, as the official PVE 9.1 schema states it.

`RULES` holds, for every (method, path) the simulator serves, the permission rule exactly as Proxmox
states it (`perm(/vms/{vmid}, [VM.PowerMgmt])`, `user=all`, …); a test keeps it equal to the schema.
An endpoint open to every user (`user=all`) often filters what it returns, or checks privileges in its
code: `USEFUL` records, in the same notation, what makes such an endpoint useful, read from the
endpoint's own description (a VM listing shows only guests with VM.Audit on /vms/<vmid>).
`rule_for(method, path)` parses both into the rule tree of rules.py.
"""

from __future__ import annotations

from functools import cache

from .rules import Rule, UserAll, parse_rule

GUEST_TYPES = ("qemu", "lxc")

VM_AUDIT = "perm(/vms/{vmid}, [VM.Audit])"
STORAGE_VISIBLE = "perm(/storage/{storage}, [Datastore.Audit, Datastore.AllocateSpace], any)"

# (method, path) → the rule as the schema states it. {guest_type} paths are stored once per type.
RULES: dict[tuple[str, str], str] = {
    ("GET", "/nodes"): "user=all",
    ("GET", "/nodes/{node}/status"): "perm(/nodes/{node}, [Sys.Audit])",
    ("GET", "/nodes/{node}/version"): "user=all",
    ("GET", "/nodes/{node}/dns"): "perm(/nodes/{node}, [Sys.Audit])",
    ("GET", "/nodes/{node}/time"): "perm(/nodes/{node}, [Sys.Audit])",
    ("GET", "/nodes/{node}/syslog"): "perm(/nodes/{node}, [Sys.Syslog])",
    ("GET", "/nodes/{node}/services"): "perm(/nodes/{node}, [Sys.Audit])",
    ("GET", "/nodes/{node}/rrddata"): "perm(/nodes/{node}, [Sys.Audit])",
    ("GET", "/cluster/status"): "perm(/, [Sys.Audit])",
    ("GET", "/cluster/resources"): "user=all",
    ("GET", "/cluster/nextid"): "user=all",
    ("GET", "/cluster/log"): "user=all",
    ("GET", "/cluster/options"): "perm(/, [Sys.Audit]) ; user=all",
    ("GET", "/cluster/replication"): "user=all",
    ("GET", "/cluster/ha/status/current"): "perm(/, [Sys.Audit])",
    ("GET", "/cluster/backup-info/not-backed-up"): "perm(/, [Sys.Audit])",
    ("GET", "/cluster/tasks"): "user=all",
    ("GET", "/cluster/backup"): "perm(/, [Sys.Audit])",
    ("GET", "/cluster/backup/{id}"): "perm(/, [Sys.Audit])",
    ("POST", "/cluster/backup"): "perm(/, [Sys.Modify])",
    ("PUT", "/cluster/backup/{id}"): "perm(/, [Sys.Modify])",
    ("DELETE", "/cluster/backup/{id}"): "perm(/, [Sys.Modify])",
    ("GET", "/cluster/firewall/rules"): "perm(/, [Sys.Audit])",
    ("GET", "/cluster/firewall/options"): "perm(/, [Sys.Audit])",
    ("GET", "/cluster/firewall/aliases"): "perm(/, [Sys.Audit])",
    ("GET", "/cluster/firewall/ipset"): "perm(/, [Sys.Audit])",
    ("PUT", "/cluster/firewall/options"): "perm(/, [Sys.Modify])",
    ("POST", "/cluster/firewall/rules"): "perm(/, [Sys.Modify])",
    ("PUT", "/cluster/firewall/rules/{pos}"): "perm(/, [Sys.Modify])",
    ("DELETE", "/cluster/firewall/rules/{pos}"): "perm(/, [Sys.Modify])",
    ("GET", "/storage"): "user=all",
    ("GET", "/storage/{storage}"): "perm(/storage/{storage}, [Datastore.Allocate])",
    ("POST", "/storage"): "perm(/storage, [Datastore.Allocate])",
    ("PUT", "/storage/{storage}"): "perm(/storage, [Datastore.Allocate])",
    ("DELETE", "/storage/{storage}"): "perm(/storage, [Datastore.Allocate])",
    ("GET", "/nodes/{node}/storage"): "user=all",
    ("GET", "/nodes/{node}/storage/{storage}/status"): STORAGE_VISIBLE,
    ("GET", "/nodes/{node}/storage/{storage}/content"): STORAGE_VISIBLE,
    ("GET", "/nodes/{node}/storage/{storage}/rrddata"): STORAGE_VISIBLE,
    ("POST", "/nodes/{node}/vzdump"): "user=all",
    ("GET", "/nodes/{node}/tasks"): "user=all",
    ("GET", "/nodes/{node}/tasks/{upid}/status"): "user=all",
    ("GET", "/nodes/{node}/tasks/{upid}/log"): "user=all",
    ("DELETE", "/nodes/{node}/tasks/{upid}"): "user=all",
    ("GET", "/nodes/{node}/network"): "user=all",
    ("GET", "/nodes/{node}/network/{iface}"): "perm(/nodes/{node}, [Sys.Audit])",
    ("POST", "/nodes/{node}/network"): "perm(/nodes/{node}, [Sys.Modify])",
    ("PUT", "/nodes/{node}/network"): "perm(/nodes/{node}, [Sys.Modify])",
    ("DELETE", "/nodes/{node}/network"): "perm(/nodes/{node}, [Sys.Modify])",
    ("PUT", "/nodes/{node}/network/{iface}"): "perm(/nodes/{node}, [Sys.Modify])",
    ("DELETE", "/nodes/{node}/network/{iface}"): "perm(/nodes/{node}, [Sys.Modify])",
    ("GET", "/pools"): "user=all",
    ("POST", "/pools"): "perm(/pool/{poolid}, [Pool.Allocate])",
    ("PUT", "/pools"): "perm(/pool/{poolid}, [Pool.Allocate])",
    ("DELETE", "/pools"): "perm(/pool/{poolid}, [Pool.Allocate])",
    ("GET", "/access/users"): "user=all",
    ("GET", "/access/roles"): "user=all",
    ("GET", "/access/groups"): "user=all",
    ("GET", "/access/acl"): "user=all",
    ("GET", "/access/domains"): "user=world",
    ("GET", "/access/permissions"): "user=all",
    ("GET", "/access/users/{userid}/token"): "or(userid-param(self), userid-group([User.Modify]))",
    ("POST", "/access/users"):
        "and(userid-param(Realm.AllocateUser), userid-group([User.Modify], groups_param=create))",
    ("PUT", "/access/users/{userid}"): "userid-group([User.Modify], groups_param=update)",
    ("DELETE", "/access/users/{userid}"): "and(userid-param(Realm.AllocateUser), userid-group([User.Modify]))",
    ("PUT", "/access/acl"): "perm-modify({path})",
    ("POST", "/access/users/{userid}/token/{tokenid}"): "or(userid-param(self), userid-group([User.Modify]))",
    ("DELETE", "/access/users/{userid}/token/{tokenid}"): "or(userid-param(self), userid-group([User.Modify]))",
}  # fmt: skip

_GUEST_RULES: dict[tuple[str, str], str] = {
    ("GET", ""): "user=all",
    ("POST", ""): "user=all",
    ("GET", "/{vmid}/status/current"): VM_AUDIT,
    ("GET", "/{vmid}/config"): VM_AUDIT,
    ("GET", "/{vmid}/pending"): VM_AUDIT,
    ("GET", "/{vmid}/snapshot"): VM_AUDIT,
    ("GET", "/{vmid}/rrddata"): VM_AUDIT,
    ("GET", "/{vmid}/firewall/rules"): VM_AUDIT,
    ("POST", "/{vmid}/firewall/rules"): "perm(/vms/{vmid}, [VM.Config.Network])",
    ("PUT", "/{vmid}/firewall/rules/{pos}"): "perm(/vms/{vmid}, [VM.Config.Network])",
    ("DELETE", "/{vmid}/firewall/rules/{pos}"): "perm(/vms/{vmid}, [VM.Config.Network])",
    ("GET", "/{vmid}/firewall/options"): VM_AUDIT,
    ("PUT", "/{vmid}/firewall/options"): "perm(/vms/{vmid}, [VM.Config.Network])",
    **{("POST", f"/{{vmid}}/status/{a}"): "perm(/vms/{vmid}, [VM.PowerMgmt])"
       for a in ("start", "stop", "shutdown", "reboot", "suspend", "resume")},
    ("DELETE", "/{vmid}"): "perm(/vms/{vmid}, [VM.Allocate])",
    ("POST", "/{vmid}/clone"): "and(perm(/vms/{vmid}, [VM.Clone]), or(perm(/vms/{newid}, [VM.Allocate]),"
    " perm(/pool/{pool}, [VM.Allocate], require_param=pool)))",
    ("POST", "/{vmid}/snapshot"): "perm(/vms/{vmid}, [VM.Snapshot])",
    ("DELETE", "/{vmid}/snapshot/{snapname}"): "perm(/vms/{vmid}, [VM.Snapshot])",
    ("POST", "/{vmid}/snapshot/{snapname}/rollback"): "perm(/vms/{vmid}, [VM.Snapshot, VM.Snapshot.Rollback], any)",
    ("POST", "/{vmid}/migrate"): "perm(/vms/{vmid}, [VM.Migrate])",
    ("GET", "/{vmid}/migrate"): "perm(/vms/{vmid}, [VM.Migrate])",
}  # fmt: skip
for _kind in GUEST_TYPES:
    for (_method, _tail), _rule in _GUEST_RULES.items():
        RULES[(_method, f"/nodes/{{node}}/{_kind}{_tail}")] = _rule

_AGENT_READ = "perm(/vms/{vmid}, [VM.GuestAgent.Audit, VM.GuestAgent.Unrestricted], any)"
RULES.update(
    {
        ("POST", "/nodes/{node}/qemu/{vmid}/status/reset"): "perm(/vms/{vmid}, [VM.PowerMgmt])",
        ("PUT", "/nodes/{node}/qemu/{vmid}/config"): "perm(/vms/{vmid}, [VM.Config.Disk, VM.Config.CDROM,"
        " VM.Config.CPU, VM.Config.Memory, VM.Config.Network, VM.Config.HWType, VM.Config.Options,"
        " VM.Config.Cloudinit], any)",
        ("PUT", "/nodes/{node}/lxc/{vmid}/config"): "perm(/vms/{vmid}, [VM.Config.Disk, VM.Config.CPU,"
        " VM.Config.Memory, VM.Config.Network, VM.Config.Options], any)",
        ("PUT", "/nodes/{node}/qemu/{vmid}/resize"): "perm(/vms/{vmid}, [VM.Config.Disk])",
        ("POST", "/nodes/{node}/qemu/{vmid}/template"): "perm(/vms/{vmid}, [VM.Allocate])",
        ("POST", "/nodes/{node}/qemu/{vmid}/agent/exec"): "perm(/vms/{vmid}, [VM.GuestAgent.Unrestricted])",
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/exec-status"): "perm(/vms/{vmid}, [VM.GuestAgent.Unrestricted])",
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/info"): _AGENT_READ,
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"): _AGENT_READ,
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-osinfo"): _AGENT_READ,
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-fsinfo"): _AGENT_READ,
        ("GET", "/nodes/{node}/qemu/{vmid}/cloudinit/dump"): VM_AUDIT,
        ("POST", "/nodes/{node}/qemu/{vmid}/agent/ping"): _AGENT_READ,
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-users"): _AGENT_READ,
        ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-time"): _AGENT_READ,
        (
            "GET",
            "/nodes/{node}/qemu/{vmid}/agent/file-read",
        ): "perm(/vms/{vmid}, [VM.GuestAgent.FileRead, VM.GuestAgent.Unrestricted], any)",
        ("GET", "/nodes/{node}/qemu/{vmid}/cloudinit"): VM_AUDIT,
        ("PUT", "/nodes/{node}/qemu/{vmid}/cloudinit"): "perm(/vms/{vmid}, [VM.Config.Cloudinit])",
        ("POST", "/nodes/{node}/qemu/{vmid}/move_disk"): "perm(/vms/{vmid}, [VM.Config.Disk])",
        ("PUT", "/nodes/{node}/qemu/{vmid}/unlink"): "perm(/vms/{vmid}, [VM.Config.Disk])",
        ("GET", "/nodes/{node}/firewall/rules"): "perm(/nodes/{node}, [Sys.Audit])",
        ("GET", "/nodes/{node}/firewall/options"): "perm(/nodes/{node}, [Sys.Audit])",
        ("GET", "/cluster/firewall/groups"): "user=all",
        ("GET", "/cluster/firewall/groups/{group}"): "perm(/, [Sys.Audit])",
        ("GET", "/cluster/firewall/ipset/{name}"): "perm(/, [Sys.Audit])",
        ("POST", "/cluster/firewall/aliases"): "perm(/, [Sys.Modify])",
        ("DELETE", "/cluster/firewall/aliases/{name}"): "perm(/, [Sys.Modify])",
        ("POST", "/cluster/firewall/ipset/{name}"): "perm(/, [Sys.Modify])",
        ("DELETE", "/cluster/firewall/ipset/{name}/{cidr}"): "perm(/, [Sys.Modify])",
    }
)

_SDN_AUDIT = "perm(/sdn/zones/{zone}/{vnet}, [SDN.Audit, SDN.Allocate], any)"
_SDN_ALLOCATE = "perm(/sdn/zones/{zone}/{vnet}, [SDN.Allocate])"
_CEPH_AUDIT = "perm(/, [Sys.Audit, Datastore.Audit], any)"
RULES.update(
    {
        ("GET", "/cluster/sdn/zones"): "user=all",
        ("GET", "/cluster/sdn/vnets"): "user=all",
        ("GET", "/cluster/sdn/vnets/{vnet}"): "user=all",
        ("GET", "/cluster/sdn/vnets/{vnet}/subnets"): "user=all",
        ("GET", "/cluster/sdn/controllers"): "user=all",
        ("POST", "/cluster/sdn/vnets"): "perm(/sdn/zones/{zone}, [SDN.Allocate])",
        ("DELETE", "/cluster/sdn/vnets/{vnet}"): "user=all",
        ("POST", "/cluster/sdn/vnets/{vnet}/subnets"): "user=all",
        ("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"): "user=all",
        ("PUT", "/cluster/sdn"): "perm(/sdn, [SDN.Allocate])",
        ("GET", "/cluster/ceph/status"): _CEPH_AUDIT,
        ("GET", "/cluster/ceph/flags"): "perm(/, [Sys.Audit])",
        ("GET", "/nodes/{node}/ceph/osd"): _CEPH_AUDIT,
        ("GET", "/nodes/{node}/ceph/pool"): _CEPH_AUDIT,
        ("GET", "/nodes/{node}/ceph/mon"): _CEPH_AUDIT,
    }
)

_NODE_AUDIT = "perm(/nodes/{node}, [Sys.Audit])"
_NODE_MODIFY = "perm(/nodes/{node}, [Sys.Modify])"
RULES.update(
    {
        ("GET", "/nodes/{node}/services/{service}/state"): _NODE_AUDIT,
        **{("POST", f"/nodes/{{node}}/services/{{service}}/{c}"): _NODE_MODIFY for c in ("start", "stop", "restart")},
        ("GET", "/nodes/{node}/apt/update"): _NODE_MODIFY,
        ("POST", "/nodes/{node}/apt/update"): _NODE_MODIFY,
        ("GET", "/nodes/{node}/disks/list"): "or(perm(/, [Sys.Audit]), perm(/nodes/{node}, [Sys.Audit]))",
        ("GET", "/nodes/{node}/disks/smart"): "perm(/, [Sys.Audit])",
        ("GET", "/nodes/{node}/certificates/info"): "user=all",
        ("GET", "/nodes/{node}/journal"): "perm(/nodes/{node}, [Sys.Syslog])",
        ("GET", "/nodes/{node}/subscription"): "user=all",
        ("GET", "/nodes/{node}/config"): "perm(/, [Sys.Audit])",
        ("POST", "/nodes/{node}/storage/{storage}/download-url"): "and(perm(/storage/{storage},"
        " [Datastore.AllocateTemplate]), or(perm(/, [Sys.Audit, Sys.Modify]),"
        " perm(/nodes/{node}, [Sys.AccessNetwork])))",
        ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"): "user=all",
        ("GET", "/nodes/{node}/storage/{storage}/prunebackups"): STORAGE_VISIBLE,
        ("DELETE", "/nodes/{node}/storage/{storage}/prunebackups"): "user=all",
    }
)

# Endpoints whose any-of list is a menu per parameter: each privilege unlocks the keys it names
# (memory needs VM.Config.Memory), so a role for the tool holds them all.
PER_PARAMETER = frozenset({("PUT", "/nodes/{node}/qemu/{vmid}/config"), ("PUT", "/nodes/{node}/lxc/{vmid}/config")})

_CREATE = (
    "and(perm(/vms/{vmid}, [VM.Allocate]), perm(/storage/{storage}, [Datastore.AllocateSpace]),"
    " perm(/sdn/zones/{zone}, [SDN.Use]))"
)
# user=all endpoints: what the results or the action depend on, from each endpoint's description.
USEFUL: dict[tuple[str, str], str] = {
    ("GET", "/cluster/resources"): VM_AUDIT,
    ("GET", "/cluster/log"): "perm(/, [Sys.Syslog])",
    ("GET", "/cluster/replication"): VM_AUDIT,
    ("GET", "/cluster/tasks"): "perm(/nodes/{node}, [Sys.Audit])",
    ("GET", "/nodes/{node}/qemu"): VM_AUDIT,
    ("GET", "/nodes/{node}/lxc"): VM_AUDIT,
    ("POST", "/nodes/{node}/qemu"): _CREATE,
    ("POST", "/nodes/{node}/lxc"): _CREATE,
    ("GET", "/storage"): STORAGE_VISIBLE,
    ("GET", "/nodes/{node}/storage"): STORAGE_VISIBLE,
    ("POST", "/nodes/{node}/vzdump"): "and(perm(/vms/{vmid}, [VM.Backup]),"
    " perm(/storage/{storage}, [Datastore.AllocateSpace]))",
    ("GET", "/nodes/{node}/tasks"): "perm(/nodes/{node}, [Sys.Audit])",
    ("GET", "/nodes/{node}/tasks/{upid}/status"): "perm(/nodes/{node}, [Sys.Audit])",
    ("GET", "/nodes/{node}/tasks/{upid}/log"): "perm(/nodes/{node}, [Sys.Audit])",
    ("DELETE", "/nodes/{node}/tasks/{upid}"): "perm(/nodes/{node}, [Sys.Modify])",
    ("GET", "/pools"): "perm(/pool/{poolid}, [Pool.Audit])",
    ("GET", "/access/users"): "perm(/access/groups, [User.Modify, Sys.Audit], any)",
    ("GET", "/access/groups"): "perm(/access/groups, [User.Modify, Sys.Audit, Group.Allocate], any)",
    ("GET", "/access/acl"): "perm(/, [Permissions.Modify])",
}

USEFUL.update(
    {
        ("GET", "/cluster/sdn/zones"): "perm(/sdn/zones/{zone}, [SDN.Audit, SDN.Allocate], any)",
        ("GET", "/cluster/sdn/vnets"): _SDN_AUDIT,
        ("GET", "/cluster/sdn/vnets/{vnet}"): _SDN_AUDIT,
        ("GET", "/cluster/sdn/vnets/{vnet}/subnets"): _SDN_AUDIT,
        ("GET", "/cluster/sdn/controllers"): "perm(/sdn/controllers/{controller}, [SDN.Audit, SDN.Allocate], any)",
        ("DELETE", "/cluster/sdn/vnets/{vnet}"): _SDN_ALLOCATE,
        ("POST", "/cluster/sdn/vnets/{vnet}/subnets"): _SDN_ALLOCATE,
        ("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"): _SDN_ALLOCATE,
    }
)

USEFUL.update(
    {
        ("GET", "/nodes/{node}/subscription"): _NODE_AUDIT,  # the server ID shows only with it
        (
            "DELETE",
            "/nodes/{node}/storage/{storage}/content/{volume}",
        ): "perm(/storage/{storage}, [Datastore.Allocate])",
        ("DELETE", "/nodes/{node}/storage/{storage}/prunebackups"): "perm(/storage/{storage}, [Datastore.Allocate])",
    }
)


# High availability and storage replication. Replication endpoints are open (user=all) and check
# the job's guest in code: VM.Audit to read, VM.Replicate to change or run.
_HA_AUDIT, _HA_CONSOLE = "perm(/, [Sys.Audit])", "perm(/, [Sys.Console])"
_REPLICATE = "perm(/vms/{vmid}, [VM.Replicate])"
RULES.update(
    {
        ("GET", "/cluster/ha/resources"): _HA_AUDIT,
        ("GET", "/cluster/ha/resources/{sid}"): _HA_AUDIT,
        ("GET", "/cluster/ha/rules"): _HA_AUDIT,
        ("GET", "/cluster/ha/rules/{rule}"): _HA_AUDIT,
        ("POST", "/cluster/ha/resources"): _HA_CONSOLE,
        ("PUT", "/cluster/ha/resources/{sid}"): _HA_CONSOLE,
        ("DELETE", "/cluster/ha/resources/{sid}"): _HA_CONSOLE,
        ("POST", "/cluster/ha/resources/{sid}/migrate"): _HA_CONSOLE,
        ("POST", "/cluster/ha/resources/{sid}/relocate"): _HA_CONSOLE,
        ("GET", "/cluster/replication/{id}"): "user=all",
        ("POST", "/cluster/replication"): "user=all",
        ("PUT", "/cluster/replication/{id}"): "user=all",
        ("DELETE", "/cluster/replication/{id}"): "user=all",
        ("GET", "/nodes/{node}/replication"): "user=all",
        ("GET", "/nodes/{node}/replication/{id}/status"): "user=all",
        ("GET", "/nodes/{node}/replication/{id}/log"): "user=all",
        ("POST", "/nodes/{node}/replication/{id}/schedule_now"): "user=all",
    }
)
USEFUL.update(
    {
        ("GET", "/cluster/replication/{id}"): VM_AUDIT,
        ("POST", "/cluster/replication"): _REPLICATE,
        ("PUT", "/cluster/replication/{id}"): _REPLICATE,
        ("DELETE", "/cluster/replication/{id}"): _REPLICATE,
        ("GET", "/nodes/{node}/replication"): VM_AUDIT,
        ("GET", "/nodes/{node}/replication/{id}/status"): VM_AUDIT,
        ("GET", "/nodes/{node}/replication/{id}/log"): f"or({VM_AUDIT}, perm(/nodes/{{node}}, [Sys.Audit]))",
        ("POST", "/nodes/{node}/replication/{id}/schedule_now"): _REPLICATE,
    }
)


# The rest of what the simulator serves: its version, node firewall rules, users, tokens and roles, SDN
# and Ceph details, a service.
RULES.update(
    {
        ("GET", "/version"): "user=all",
        ("POST", "/nodes/{node}/firewall/rules"): _NODE_MODIFY,
        ("PUT", "/nodes/{node}/firewall/rules/{pos}"): _NODE_MODIFY,
        ("DELETE", "/nodes/{node}/firewall/rules/{pos}"): _NODE_MODIFY,
        ("GET", "/nodes/{node}/services/{service}"): _NODE_AUDIT,
        ("GET", "/access/users/{userid}"): "userid-group([User.Modify, Sys.Audit])",
        ("GET", "/access/users/{userid}/token/{tokenid}"): "or(userid-param(self), userid-group([User.Modify]))",
        ("PUT", "/access/users/{userid}/token/{tokenid}"): "or(userid-param(self), userid-group([User.Modify]))",
        ("POST", "/access/roles"): "perm(/access, [Sys.Modify])",
        ("GET", "/access/roles/{roleid}"): "user=all",
        ("PUT", "/access/roles/{roleid}"): "perm(/access, [Sys.Modify])",
        ("DELETE", "/access/roles/{roleid}"): "perm(/access, [Sys.Modify])",
        ("GET", "/cluster/sdn/zones/{zone}"): "perm(/sdn/zones/{zone}, [SDN.Allocate])",
        ("GET", "/cluster/sdn/controllers/{controller}"): "perm(/sdn/controllers/{controller}, [SDN.Allocate])",
        ("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"): "user=all",
        ("GET", "/nodes/{node}/ceph/status"): _CEPH_AUDIT,
    }
)
USEFUL[("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")] = _SDN_AUDIT


@cache
def rule_for(method: str, path: str) -> Rule:
    """The parsed rule for one schema endpoint; user=all carries what makes it useful. KeyError if unknown."""
    rule = parse_rule(RULES[(method, path)])
    if isinstance(rule, UserAll) and (method, path) in USEFUL:
        return UserAll(parse_rule(USEFUL[(method, path)]))
    return rule
