"""The endpoints the simulator answers, as a table generated from its route table (ENDPOINTS.md).

Every route reads or changes the simulated cluster's state; any other method and path answers 501,
as PVE does for an API it lacks. A QEMU route and its LXC twin share one row (``{qemu|lxc}``).
``python -m pvesim.endpoints`` prints the Markdown; a test keeps the checked-in file equal to it
and every route described.
"""

from __future__ import annotations

import re
import sys

from .handlers import ALL_ROUTES
from .routes import Route

KIND = re.compile(r"/(qemu|lxc)(?=/|$)")

# (method, path with {type} for qemu/lxc) → what the route does to or with the cluster's state.
SUMMARIES: dict[tuple[str, str], str] = {
    ("GET", "/version"): "PVE version, release and repository ID",
    ("GET", "/cluster/status"): "the cluster and its members, quorum and online state",
    ("GET", "/cluster/resources"): "guests, nodes, storages, pools and SDN zones with live figures; filter by type",
    ("GET", "/cluster/nextid"): "the next free VMID, or whether a given one is free",
    ("GET", "/cluster/log"): "the cluster log: recent task starts and ends",
    ("GET", "/cluster/options"): "datacenter.cfg options",
    ("GET", "/cluster/backup-info/not-backed-up"): "guests no enabled backup job covers",
    ("GET", "/nodes"): "the nodes with status and usage",
    ("GET", "/nodes/{node}/status"): "one node's CPU, memory, disk, load, kernel and versions",
    ("GET", "/nodes/{node}/{type}"): "the node's VMs or containers with status and usage",
    ("GET", "/nodes/{node}/{type}/{vmid}/status/current"): "a guest's run state and usage",
    ("GET", "/nodes/{node}/{type}/{vmid}/config"): "a guest's config, pending values applied unless current=1",
    ("POST", "/nodes/{node}/{type}/{vmid}/status/start"): "start a guest (task); applies pending changes",
    ("POST", "/nodes/{node}/{type}/{vmid}/status/stop"): "stop a guest at once (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/status/shutdown"): "shut a guest down cleanly (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/status/reboot"): "reboot a running guest (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/status/reset"): "reset a running VM (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/status/suspend"): "pause a guest, or hibernate a VM to disk (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/status/resume"): "resume a paused or hibernated guest (task)",
    ("GET", "/storage"): "storage definitions (storage.cfg)",
    ("POST", "/storage"): "add a storage definition",
    ("GET", "/storage/{storage}"): "one storage definition",
    ("PUT", "/storage/{storage}"): "change a storage definition",
    ("DELETE", "/storage/{storage}"): "remove a storage definition",
    ("GET", "/nodes/{node}/storage"): "storages available on a node, with capacity",
    ("GET", "/nodes/{node}/storage/{storage}/status"): "one storage's capacity and state on a node",
    ("GET", "/nodes/{node}/storage/{storage}/content"): "volumes in a storage: disks, ISOs, templates, backups",
    ("GET", "/cluster/tasks"): "recent tasks of every node",
    ("GET", "/nodes/{node}/tasks"): "a node's tasks, filtered and paged, with a total",
    ("DELETE", "/nodes/{node}/tasks/{upid}"): "stop a running task",
    ("GET", "/nodes/{node}/tasks/{upid}/status"): "a task's state and exit status",
    ("GET", "/nodes/{node}/tasks/{upid}/log"): "a task's log, paged or as a download",
    ("POST", "/nodes/{node}/{type}"): "create a guest, or restore one from a backup archive (task)",
    ("DELETE", "/nodes/{node}/{type}/{vmid}"): "destroy a guest and its volumes (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/clone"): "clone a guest or template, linked or full (task)",
    ("GET", "/nodes/{node}/{type}/{vmid}/migrate"): (
        "migration preconditions: nodes allowed or not and why, local disks and devices, HA dependants"
    ),
    ("POST", "/nodes/{node}/{type}/{vmid}/migrate"): (
        "move a guest and its local volumes to another node, or hand an HA-managed one to HA (task)"
    ),
    ("PUT", "/nodes/{node}/{type}/{vmid}/config"): "change a guest's config; some changes wait in pending",
    ("GET", "/nodes/{node}/{type}/{vmid}/pending"): "config values with their pending changes and deletions",
    ("PUT", "/nodes/{node}/{type}/{vmid}/resize"): "grow a guest disk (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/template"): "turn a VM into a template; its disks become base volumes (task)",
    ("GET", "/nodes/{node}/{type}/{vmid}/snapshot"): "a guest's snapshot tree, with the current state",
    ("POST", "/nodes/{node}/{type}/{vmid}/snapshot"): "take a snapshot, optionally with RAM (task)",
    ("DELETE", "/nodes/{node}/{type}/{vmid}/snapshot/{snapname}"): "delete a snapshot (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/snapshot/{snapname}/rollback"): "roll a guest back to a snapshot (task)",
    ("POST", "/nodes/{node}/{type}/{vmid}/agent/ping"): "ping the QEMU guest agent",
    ("GET", "/nodes/{node}/{type}/{vmid}/agent/get-users"): "users logged in to the guest",
    ("GET", "/nodes/{node}/{type}/{vmid}/agent/get-time"): "the guest's clock",
    ("GET", "/nodes/{node}/{type}/{vmid}/agent/file-read"): "read a file inside the guest",
    ("POST", "/nodes/{node}/{type}/{vmid}/agent/exec"): "run a command in the guest; returns its PID",
    ("GET", "/nodes/{node}/{type}/{vmid}/agent/exec-status"): "a guest command's exit code and output, once done",
    ("GET", "/nodes/{node}/{type}/{vmid}/cloudinit"): "cloud-init values the drive does not hold yet",
    ("PUT", "/nodes/{node}/{type}/{vmid}/cloudinit"): "regenerate the cloud-init drive",
    ("POST", "/nodes/{node}/{type}/{vmid}/move_disk"): "move a VM disk to another storage (task)",
    ("PUT", "/nodes/{node}/{type}/{vmid}/unlink"): "drop unused disks from the config, freeing their volumes",
    ("GET", "/cluster/backup"): "scheduled backup jobs (jobs.cfg)",
    ("POST", "/cluster/backup"): "create a backup job",
    ("GET", "/cluster/backup/{id}"): "one backup job, with its next run",
    ("PUT", "/cluster/backup/{id}"): "change a backup job",
    ("DELETE", "/cluster/backup/{id}"): "delete a backup job",
    ("POST", "/nodes/{node}/vzdump"): "back guests up to a storage as vzdump archives (task)",
    ("GET", "/nodes/{node}/network"): "a node's interfaces, the pending copy when there is one",
    ("POST", "/nodes/{node}/network"): "add an interface to the pending config",
    ("PUT", "/nodes/{node}/network"): "apply the pending network config (task)",
    ("DELETE", "/nodes/{node}/network"): "discard the pending network config",
    ("GET", "/nodes/{node}/network/{iface}"): "one interface",
    ("PUT", "/nodes/{node}/network/{iface}"): "change an interface in the pending config",
    ("DELETE", "/nodes/{node}/network/{iface}"): "remove an interface in the pending config",
    ("GET", "/cluster/firewall/options"): "datacenter firewall options",
    ("PUT", "/cluster/firewall/options"): "change datacenter firewall options",
    ("GET", "/cluster/firewall/aliases"): "firewall aliases",
    ("GET", "/cluster/firewall/ipset"): "IP sets",
    ("POST", "/cluster/firewall/aliases"): "create an alias",
    ("DELETE", "/cluster/firewall/aliases/{name}"): "delete an alias no rule uses",
    ("GET", "/cluster/firewall/ipset/{name}"): "an IP set's entries",
    ("POST", "/cluster/firewall/ipset/{name}"): "add an entry to an IP set",
    ("DELETE", "/cluster/firewall/ipset/{name}/{cidr}"): "remove an entry from an IP set",
    ("GET", "/cluster/firewall/groups"): "security groups",
    ("GET", "/cluster/firewall/groups/{group}"): "a security group's rules",
    ("GET", "/nodes/{node}/firewall/options"): "a node's firewall options",
    ("GET", "/nodes/{node}/firewall/rules"): "a node's firewall rules, in order",
    ("POST", "/nodes/{node}/firewall/rules"): "add a node firewall rule",
    ("PUT", "/nodes/{node}/firewall/rules/{pos}"): "change or move a node firewall rule",
    ("DELETE", "/nodes/{node}/firewall/rules/{pos}"): "delete a node firewall rule",
    ("GET", "/cluster/firewall/rules"): "datacenter firewall rules, in order",
    ("POST", "/cluster/firewall/rules"): "add a datacenter firewall rule",
    ("PUT", "/cluster/firewall/rules/{pos}"): "change or move a datacenter firewall rule",
    ("DELETE", "/cluster/firewall/rules/{pos}"): "delete a datacenter firewall rule",
    ("GET", "/nodes/{node}/{type}/{vmid}/firewall/rules"): "a guest's firewall rules, in order",
    ("POST", "/nodes/{node}/{type}/{vmid}/firewall/rules"): "add a guest firewall rule",
    ("PUT", "/nodes/{node}/{type}/{vmid}/firewall/rules/{pos}"): "change or move a guest firewall rule",
    ("DELETE", "/nodes/{node}/{type}/{vmid}/firewall/rules/{pos}"): "delete a guest firewall rule",
    ("GET", "/nodes/{node}/{type}/{vmid}/firewall/options"): "a guest's firewall options: those set, with the digest",
    ("PUT", "/nodes/{node}/{type}/{vmid}/firewall/options"): "set or reset (delete) a guest's firewall options",
    ("GET", "/pools"): "resource pools, or one pool with its members",
    ("POST", "/pools"): "create a pool",
    ("PUT", "/pools"): "add or remove a pool's guests and storages",
    ("DELETE", "/pools"): "delete an empty pool",
    ("GET", "/access/users"): "users, optionally with their tokens",
    ("POST", "/access/users"): "create a user",
    ("PUT", "/access/users/{userid}"): "change a user",
    ("DELETE", "/access/users/{userid}"): "delete a user, their tokens and ACL entries",
    ("GET", "/access/users/{userid}/token"): "a user's API tokens",
    ("POST", "/access/users/{userid}/token/{tokenid}"): "create an API token; returns its secret once",
    ("DELETE", "/access/users/{userid}/token/{tokenid}"): "delete an API token",
    ("GET", "/access/users/{userid}"): "one user, with groups and tokens",
    ("GET", "/access/users/{userid}/token/{tokenid}"): "one API token",
    ("PUT", "/access/users/{userid}/token/{tokenid}"): "change an API token, or regenerate its secret",
    ("GET", "/access/roles"): "built-in and custom roles with their privileges",
    ("POST", "/access/roles"): "create a role",
    ("GET", "/access/roles/{roleid}"): "one role's privileges",
    ("PUT", "/access/roles/{roleid}"): "change a custom role's privileges",
    ("DELETE", "/access/roles/{roleid}"): "delete a custom role",
    ("GET", "/access/groups"): "groups",
    ("GET", "/access/acl"): "ACL entries",
    ("PUT", "/access/acl"): "add or remove ACL entries",
    ("GET", "/access/domains"): "authentication realms",
    ("GET", "/access/permissions"): "effective privileges of the caller or another user or token",
    ("GET", "/nodes/{node}/rrddata"): "a node's usage history (RRD)",
    ("GET", "/nodes/{node}/{type}/{vmid}/rrddata"): "a guest's usage history (RRD)",
    ("GET", "/nodes/{node}/storage/{storage}/rrddata"): "a storage's use history (RRD), following its volumes",
    ("GET", "/nodes/{node}/version"): "a node's PVE version",
    ("GET", "/nodes/{node}/dns"): "a node's DNS settings",
    ("GET", "/nodes/{node}/time"): "a node's clock and time zone",
    ("GET", "/nodes/{node}/syslog"): "a node's syslog, paged and filtered by time or service",
    ("GET", "/nodes/{node}/services"): "a node's system services and their states",
    ("GET", "/nodes/{node}/{type}/{vmid}/agent/info"): "the guest agent's version and commands",
    ("GET", "/nodes/{node}/{type}/{vmid}/agent/network-get-interfaces"): "the guest's network interfaces",
    ("GET", "/nodes/{node}/{type}/{vmid}/agent/get-osinfo"): "the guest's operating system",
    ("GET", "/nodes/{node}/{type}/{vmid}/agent/get-fsinfo"): "the guest's file systems",
    ("GET", "/nodes/{node}/{type}/{vmid}/cloudinit/dump"): "generated cloud-init user, network or meta data",
    ("GET", "/cluster/ha/status/current"): "HA manager status: quorum, master, LRMs, services",
    ("GET", "/cluster/ha/resources"): "HA-managed guests",
    ("POST", "/cluster/ha/resources"): "put a guest under HA",
    ("GET", "/cluster/ha/resources/{sid}"): "one HA resource",
    ("PUT", "/cluster/ha/resources/{sid}"): "change an HA resource's requested state or options",
    ("DELETE", "/cluster/ha/resources/{sid}"): "take a guest out of HA",
    ("POST", "/cluster/ha/resources/{sid}/migrate"): "ask HA to migrate a guest (task)",
    ("POST", "/cluster/ha/resources/{sid}/relocate"): "ask HA to relocate a guest (task)",
    ("GET", "/cluster/ha/rules"): "HA rules",
    ("GET", "/cluster/ha/rules/{rule}"): "one HA rule",
    ("GET", "/cluster/replication"): "storage replication jobs",
    ("POST", "/cluster/replication"): "create a replication job",
    ("GET", "/cluster/replication/{id}"): "one replication job",
    ("PUT", "/cluster/replication/{id}"): "change a replication job",
    ("DELETE", "/cluster/replication/{id}"): "mark a replication job for removal",
    ("GET", "/nodes/{node}/replication"): "replication jobs of a node's guests, with run state",
    ("GET", "/nodes/{node}/replication/{id}/status"): "a replication job's last and next runs",
    ("GET", "/nodes/{node}/replication/{id}/log"): "the log of a replication job's last run",
    ("POST", "/nodes/{node}/replication/{id}/schedule_now"): "run a replication job at the next scheduler minute",
    ("PUT", "/cluster/sdn"): "apply the SDN config to the nodes (task)",
    ("GET", "/cluster/sdn/zones"): "SDN zones, as configured, applied or pending",
    ("GET", "/cluster/sdn/zones/{zone}"): "one SDN zone",
    ("GET", "/cluster/sdn/controllers"): "SDN controllers",
    ("GET", "/cluster/sdn/controllers/{controller}"): "one SDN controller",
    ("GET", "/cluster/sdn/vnets"): "SDN vnets",
    ("POST", "/cluster/sdn/vnets"): "create a vnet",
    ("GET", "/cluster/sdn/vnets/{vnet}"): "one vnet",
    ("DELETE", "/cluster/sdn/vnets/{vnet}"): "delete a vnet without subnets",
    ("GET", "/cluster/sdn/vnets/{vnet}/subnets"): "a vnet's subnets",
    ("POST", "/cluster/sdn/vnets/{vnet}/subnets"): "create a subnet",
    ("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"): "one subnet",
    ("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"): "delete a subnet",
    ("GET", "/cluster/ceph/status"): "Ceph status: health, monitors, OSD map, placement groups",
    ("GET", "/cluster/ceph/flags"): "the OSD flags and which are set",
    ("GET", "/nodes/{node}/ceph/status"): "Ceph status as a node reports it",
    ("GET", "/nodes/{node}/ceph/osd"): "the OSD tree",
    ("GET", "/nodes/{node}/ceph/pool"): "Ceph pools with usage",
    ("GET", "/nodes/{node}/ceph/mon"): "Ceph monitors and quorum",
    ("GET", "/nodes/{node}/services/{service}"): "the commands a service offers",
    ("GET", "/nodes/{node}/services/{service}/state"): "one service's state",
    ("POST", "/nodes/{node}/services/{service}/start"): "start a service (task)",
    ("POST", "/nodes/{node}/services/{service}/stop"): "stop a service (task)",
    ("POST", "/nodes/{node}/services/{service}/restart"): "restart a service (task)",
    ("GET", "/nodes/{node}/apt/update"): "upgradable packages",
    ("POST", "/nodes/{node}/apt/update"): "refresh the package index (task)",
    ("GET", "/nodes/{node}/disks/list"): "a node's physical disks",
    ("GET", "/nodes/{node}/disks/smart"): "a disk's SMART health",
    ("GET", "/nodes/{node}/certificates/info"): "a node's TLS certificates",
    ("GET", "/nodes/{node}/subscription"): "a node's subscription status",
    ("GET", "/nodes/{node}/config"): "a node's config (description, wake-on-LAN...)",
    ("GET", "/nodes/{node}/journal"): "a node's systemd journal, by cursor or last entries",
    ("POST", "/nodes/{node}/storage/{storage}/download-url"): "download an ISO or template into a storage (task)",
    ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"): "free a volume, in use or not, as PVE does (task)",
    ("GET", "/nodes/{node}/storage/{storage}/prunebackups"): "which backups a prune would keep and remove",
    ("DELETE", "/nodes/{node}/storage/{storage}/prunebackups"): "remove the backups the keep rules drop (task)",
}


def key_of(route: Route) -> tuple[str, str]:
    """The route's row: its method, and its path with qemu or lxc as {type}."""
    return route.method, KIND.sub("/{type}", route.path)


def rows(routes: tuple[Route, ...] = ALL_ROUTES) -> list[tuple[str, str, str]]:
    """(method, path, summary) once per row, in route-table order; QEMU/LXC twins as {qemu|lxc}."""
    kinds: dict[tuple[str, str], list[str]] = {}
    for route in routes:
        found = KIND.search(route.path)
        kinds.setdefault(key_of(route), []).append(found.group(1) if found else "")
    table = []
    for (method, path), names in kinds.items():
        shown = path.replace("{type}", "{" + "|".join(names) + "}" if len(names) > 1 else names[0])
        table.append((method, shown, SUMMARIES.get((method, path), "")))
    return table


def undescribed(routes: tuple[Route, ...] = ALL_ROUTES) -> list[str]:
    return [f"{method} {path}" for method, path, summary in rows(routes) if not summary]


def render_markdown() -> str:
    table = rows()
    lines = [
        "# Endpoints pvesim serves",
        "",
        "Generated from the simulator's route table by `pvesim endpoints --markdown`; do not edit by hand.",
        "",
        f"{len(ALL_ROUTES)} routes under `/api2/json`, each reading or changing the simulated cluster's state;",
        "any other method and path answers 501, as Proxmox VE does for an API it lacks. Where the QEMU and LXC",
        "routes are twins, one row shows both (`{qemu|lxc}`). Every route checks its parameters against the",
        "formats Proxmox VE declares and answers 400 with per-parameter errors. (task): the route starts a",
        "worker task and answers its UPID; the task finishes as the simulator's clock passes its duration.",
        "",
        "| Method | Path | What it does |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {method} | `{path}` | {summary} |" for method, path, summary in table]
    return "\n".join(lines) + "\n"


def render_text() -> str:
    table = rows()
    width = max(len(path) for _, path, _ in table)
    return "".join(f"{method:<6} {path:<{width}}  {summary}\n" for method, path, summary in table)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
