"""``ClusterState``: everything the simulated cluster knows, one record per area.

The area records (access, firewall, HA, ...) import only ``records``; operations that need the
whole cluster live in modules above this one (``permissions``, ``scheduler``, ``seeds``, ``guest_disks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .access import AccessState
from .admin import AdminState
from .backup import BackupState
from .ceph import CephState
from .firewall import FirewallState
from .ha import HaState
from .network import NodeNetwork
from .node_admin import NodeAdminState
from .records import Acl, Guest, GuestType, Node, Pool, Storage, Task, Token, User, Volume
from .replication import ReplicationRuns
from .sdn import SdnState


@dataclass(eq=False)
class ClusterState:
    """Everything the simulated cluster knows."""

    cluster_name: str
    local_node: str
    nodes: dict[str, Node]
    guests: dict[int, Guest]
    storages: dict[str, Storage]
    volumes: dict[tuple[str, str], list[Volume]]
    pools: dict[str, Pool]
    tasks: dict[str, Task] = field(default_factory=dict)
    node_tasks: dict[str, list[Task]] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    acls: list[Acl] = field(default_factory=list)
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    access: AccessState = field(default_factory=AccessState)
    firewall: FirewallState = field(default_factory=FirewallState)
    admin: AdminState = field(default_factory=AdminState)
    backup: BackupState = field(default_factory=BackupState)
    ha: HaState = field(default_factory=HaState)
    replication_runs: ReplicationRuns = field(default_factory=ReplicationRuns)
    node_admin: NodeAdminState = field(default_factory=NodeAdminState)
    networks: dict[str, NodeNetwork] = field(default_factory=dict)
    sdn: SdnState = field(default_factory=SdnState)
    ceph: CephState = field(default_factory=CephState)
    pve_version: str = "9.1.4"
    release: str = "9.1"
    repoid: str = "5ad4ae8d1f0d3b0a"
    kernel_release: str = "6.17.2-2-pve"
    kernel_build: str = "#1 SMP PREEMPT_DYNAMIC PMX 6.17.2-2 (2025-11-11T12:17Z)"

    def guest_on(self, node: str, vmid: int, kind: GuestType) -> Guest | None:
        """The guest only if its config lives on that node, as PVE's config lookup demands."""
        guest = self.guests.get(vmid)
        if guest is None or guest.node != node or guest.type != kind:
            return None
        return guest

    def volumes_of(self, storage: Storage, node: str) -> list[Volume]:
        """Shared storages keep one list for the whole cluster; local ones one per node."""
        return self.volumes.get((storage.storage, "" if storage.shared else node), [])

    def add_task(self, task: Task) -> None:
        self.tasks[task.upid] = task
        self.node_tasks.setdefault(task.node, []).append(task)
