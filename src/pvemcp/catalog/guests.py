"""Record builders shared by the QEMU and LXC categories, whose read and power tools mirror each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pvemcp.catalog.spec import NODE, NODE_FOR_GUEST, VMID, Param, Tier, ToolSpec

GuestKind = Literal["qemu", "lxc"]
NOUN: dict[GuestKind, str] = {"qemu": "VM", "lxc": "container"}
LONG: dict[GuestKind, str] = {"qemu": "QEMU VM", "lxc": "LXC container"}
SUFFIX: dict[GuestKind, str] = {"qemu": "qemu_vm", "lxc": "lxc_container"}

TIMEOUT = Param("timeout", "integer", "Seconds to wait for the guest before the task fails.", minimum=0)
FORCE_STOP = Param("forceStop", "boolean", "Hard-stop the guest if it has not shut down by the timeout.")


@dataclass(frozen=True, slots=True)
class PowerAction:
    action: str
    title: str
    description: str
    confirm: bool
    params: tuple[Param, ...] = ()
    alias: str | None = None


def power_tools(kind: GuestKind, actions: tuple[PowerAction, ...]) -> tuple[ToolSpec, ...]:
    """Power tools start a Proxmox task; the result carries its UPID and current status."""
    noun = NOUN[kind]
    return tuple(
        ToolSpec(
            name=f"pve_{a.action}_{SUFFIX[kind]}",
            category=kind,
            tier=Tier.READ_EXECUTE,
            title=f"{a.title} {noun}",
            description=a.description.format(noun=noun) + " Returns the task UPID and its status.",
            method="POST",
            path=f"/nodes/{{node}}/{kind}/{{vmid}}/status/{a.action}",
            params=(NODE_FOR_GUEST, VMID, *a.params),
            destructive=True,
            confirm=a.confirm,
            aliases=(a.alias,) if a.alias else (),
            returns_task=True,
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
            method="GET",
            path=f"/nodes/{{node}}/{kind}",
            params=(NODE,),
        ),
        ToolSpec(
            name=f"pve_get_{kind}_status",
            category=kind,
            tier=Tier.READ_ONLY,
            title=f"{noun[0].upper()}{noun[1:]} status",
            description=f"Live state of one {noun}: status, uptime, CPU, memory, disk and network counters.",
            method="GET",
            path=f"/nodes/{{node}}/{kind}/{{vmid}}/status/current",
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
            method="GET",
            path=f"/nodes/{{node}}/{kind}/{{vmid}}/config",
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
            method="GET",
            path="/cluster/resources",
            params=(Param("node", "string", "Only guests on this node.", local=True),),
            deprecated=True,
            handler="legacy_list_guests",
        ),
    )
