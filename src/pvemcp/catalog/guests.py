"""Record builders shared by the QEMU and LXC categories, whose read and power tools mirror each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pvemcp.catalog.spec import NODE, NODE_FOR_GUEST, VMID, Param, Rest, Tier, ToolSpec

GuestKind = Literal["qemu", "lxc"]
NOUN: dict[GuestKind, str] = {"qemu": "VM", "lxc": "container"}
LONG: dict[GuestKind, str] = {"qemu": "QEMU VM", "lxc": "LXC container"}
SUFFIX: dict[GuestKind, str] = {"qemu": "qemu_vm", "lxc": "lxc_container"}

TIMEOUT = Param("timeout", "integer", "Seconds to wait for the guest before the task fails.", minimum=0)
FORCE_STOP = Param("forceStop", "boolean", "Hard-stop the guest if it has not shut down by the timeout.")
NOT_DESTRUCTIVE = "Not annotated destructive (nandi's is): it ends nothing and changes no data."


@dataclass(frozen=True, slots=True)
class PowerAction:
    action: str
    title: str
    description: str
    confirm: bool  # ends or interrupts what runs (stop, reset ...): destructive; start and resume are neither
    params: tuple[Param, ...] = ()
    alias: str | None = None
    differs: str = ""


def power_tools(kind: GuestKind, actions: tuple[PowerAction, ...]) -> tuple[ToolSpec, ...]:
    """Power tools start a Proxmox task; pvemcp waits for it and the result carries the task (server/waiting.py)."""
    noun = NOUN[kind]
    return tuple(
        ToolSpec(
            name=f"pve_{a.action}_{SUFFIX[kind]}",
            category=kind,
            tier=Tier.READ_EXECUTE,
            title=f"{a.title} {noun}",
            description=a.description.format(noun=noun),
            target=Rest("POST", f"/nodes/{{node}}/{kind}/{{vmid}}/status/{a.action}"),
            params=(NODE_FOR_GUEST, VMID, *a.params),
            destructive=a.confirm,
            confirm=a.confirm,
            aliases=(a.alias,) if a.alias else (),
            returns_task=True,
            differs=a.differs,
        )
        for a in actions
    )


def read_tools(kind: GuestKind, *, status_alias: str) -> tuple[ToolSpec, ...]:
    noun, long = NOUN[kind], LONG[kind]
    plural = "VMs" if kind == "qemu" else "containers"
    list_name = "pve_list_qemu_vms" if kind == "qemu" else "pve_list_lxc_containers"
    return (
        ToolSpec(
            name=list_name,
            category=kind,
            tier=Tier.READ_ONLY,
            title=f"List {long}s on a node",
            description=(
                f"{long}s on one node with status, CPU, memory and uptime. For every node at once use"
                " pve_list_cluster_resources (type vm)."
            ),
            target=Rest("GET", f"/nodes/{{node}}/{kind}"),
            params=(NODE,),
        ),
        ToolSpec(
            name=f"pve_get_{kind}_status",
            category=kind,
            tier=Tier.READ_ONLY,
            title=f"{noun[0].upper()}{noun[1:]} status",
            description=f"Live state of one {noun}: status, uptime, CPU, memory, disk and network counters.",
            target=Rest("GET", f"/nodes/{{node}}/{kind}/{{vmid}}/status/current"),
            params=(NODE_FOR_GUEST, VMID),
            aliases=(status_alias,),
        ),
        ToolSpec(
            name=f"pve_get_{kind}_config",
            category=kind,
            tier=Tier.READ_ONLY,
            title=f"{noun[0].upper()}{noun[1:]} configuration",
            description=(
                f"The {noun}'s configuration (CPU, memory, disks, network, boot, options) with its digest."
                " Pending changes are shown as if applied; set current=true for the values in effect now."
            ),
            target=Rest("GET", f"/nodes/{{node}}/{kind}/{{vmid}}/config"),
            params=(
                NODE_FOR_GUEST,
                VMID,
                Param("current", "boolean", "Return the values in effect now, without pending changes."),
            ),
        ),
        ToolSpec(
            name="listVMs" if kind == "qemu" else "listContainers",
            category=kind,
            tier=Tier.READ_ONLY,
            title=f"List {plural} (legacy)",
            description=(
                f"Deprecated: use pve_list_cluster_resources. Every {long} in the cluster, or on one node,"
                " from one cluster-wide call."
            ),
            target=Rest("GET", "/cluster/resources"),
            params=(Param("node", "string", "Only guests on this node.", local=True),),
            deprecated=True,
            handler="legacy_list_guests",
        ),
    )


# Administration (create, delete, clone, migrate, snapshots, pending changes): shared by both kinds.
NEW_VMID = Param("vmid", "integer", "Default: the next free ID.", minimum=100, local=True)
DISK_STORAGE = Param("storage", "string", "Disk storage, e.g. local-lvm.", local=True)
BRIDGE = Param("bridge", "string", "NIC bridge, e.g. vmbr0.", local=True)
CORES = Param("cores", "integer", "CPU cores.", minimum=1)
ONBOOT = Param("onboot", "boolean", "Start with the node.")
START = Param("start", "boolean", "Start it once created.")
POOL = Param("pool", "string", "Resource pool.")
TAGS = Param("tags", "string", "Tags, e.g. prod;web.", free_text=True)
DESCRIPTION = Param("description", "string", "Free-text notes.", free_text=True)
DELETE_KEYS = Param("delete", "string", "Keys to remove, e.g. net1,ide2.")
SNAPNAME = Param("snapname", "string", "Snapshot name, e.g. pre-upgrade.", required=True)
TARGET_NODE = Param("target", "string", "Destination node.", required=True)
TARGET_STORAGE = Param("targetstorage", "string", "Target storage (or src:dst,...).")


def admin_tools(kind: GuestKind) -> tuple[ToolSpec, ...]:
    """Delete, clone, snapshots and pending changes: the same calls for VMs and containers."""
    noun, where = NOUN[kind], f"/nodes/{{node}}/{kind}/{{vmid}}"
    name_key = "name" if kind == "qemu" else "hostname"
    snap = f"{where}/snapshot"
    guest = (NODE_FOR_GUEST, VMID)
    extra_delete = (Param("force", "boolean", "Stop it first if running."),) if kind == "lxc" else ()
    return (
        ToolSpec(
            name=f"pve_{kind}_delete",
            category=kind,
            tier=Tier.FULL,
            title=f"Delete {noun}",
            description=f"Destroy a stopped {noun} and all its disks. This cannot be undone: back it up first.",
            target=Rest("DELETE", where),
            params=(
                *guest,
                Param("purge", "boolean", "Also drop it from jobs, replication, HA."),
                Param("destroy-unreferenced-disks", "boolean", "Also its disks not in the config."),
                *extra_delete,
            ),
            destructive=True,
            confirm=True,
            returns_task=True,
            differs="Adds purge and destroy-unreferenced-disks" + (" and force." if kind == "lxc" else "."),
        ),
        ToolSpec(
            name=f"pve_{kind}_clone",
            category=kind,
            tier=Tier.FULL,
            title=f"Clone {noun}",
            description=f"Copy a {noun} or template. Returns newid and the task.",
            target=Rest("POST", f"{where}/clone"),
            params=(
                *guest,
                Param("newid", "integer", "Default: the next free ID.", minimum=100, local=True),
                Param(name_key, "string", f"{name_key.capitalize()} of the copy."),
                Param("target", "string", "Node for the copy (shared storage)."),
                Param("full", "boolean", "Full copy; templates default to linked."),
                Param("storage", "string", "Storage for a full copy."),
                POOL,
            ),
            returns_task=True,
            handler="clone_guest",
            differs="newid is optional (next free ID); adds full, storage and pool.",
        ),
        ToolSpec(
            name=f"pve_{kind}_create_snapshot",
            category=kind,
            tier=Tier.FULL,
            title=f"Snapshot {noun}",
            description=f"Snapshot the {noun}'s disks and config, to roll back to this point later.",
            target=Rest("POST", snap),
            params=(
                *guest,
                SNAPNAME,
                Param("description", "string", "Free-text notes.", free_text=True),
                *((Param("vmstate", "boolean", "Include RAM."),) if kind == "qemu" else ()),
            ),
            returns_task=True,
            differs="Adds vmstate (include RAM)." if kind == "qemu" else "",
        ),
        ToolSpec(
            name=f"pve_list_{kind}_snapshots",
            category=kind,
            tier=Tier.READ_ONLY,
            title=f"List {noun} snapshots",
            description=f"The {noun}'s snapshots with parent, time and notes; 'current' is now.",
            target=Rest("GET", snap),
            params=guest,
            differs="New: nandi cannot list snapshots.",
        ),
        ToolSpec(
            name=f"pve_{kind}_delete_snapshot",
            category=kind,
            tier=Tier.FULL,
            title=f"Delete {noun} snapshot",
            description="Delete one snapshot; the guest and its other snapshots stay as they are.",
            target=Rest("DELETE", f"{snap}/{{snapname}}"),
            params=(*guest, SNAPNAME),
            destructive=True,
            confirm=True,
            returns_task=True,
        ),
        ToolSpec(
            name=f"pve_{kind}_rollback_snapshot",
            category=kind,
            tier=Tier.FULL,
            title=f"Roll back {noun}",
            description=f"Return the {noun} to a snapshot, losing later changes.",
            target=Rest("POST", f"{snap}/{{snapname}}/rollback"),
            params=(*guest, SNAPNAME, Param("start", "boolean", "Start it afterwards.")),
            destructive=True,
            confirm=True,
            returns_task=True,
            differs="Adds start.",
        ),
        ToolSpec(
            name=f"pve_get_{kind}_pending_config",
            category=kind,
            tier=Tier.READ_ONLY,
            title=f"{noun[0].upper()}{noun[1:]} pending changes",
            description="Config values now and the changes waiting for the next start.",
            target=Rest("GET", f"{where}/pending"),
            params=guest,
            differs="New: nandi cannot show pending changes.",
        ),
    )
