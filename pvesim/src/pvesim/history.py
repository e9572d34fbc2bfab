"""Finished tasks from before the simulator started, so task lists look lived-in.

Each node gets its boot-time ``startall`` with one start task per guest it brought up,
daily ``aptupdate`` runs, and one failed VM start where a stopped VM makes that plausible.
Nightly backups are seeded with their archives in ``content``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .state.cluster import ClusterState
from .state.records import Node, Task
from .tasks import new_task

DAY = 86_400
ADMIN = "root@pam"


def past_task(
    state: ClusterState,
    node: Node,
    kind: str,
    ident: str,
    start: float,
    duration: float,
    lines: Sequence[str],
    error: str | None = None,
    user: str = ADMIN,
) -> Task:
    """Record a task that already finished, with its log and final status line."""
    log = list(lines)
    log.append("TASK OK" if error is None else f"TASK ERROR: {error}")
    task = new_task(
        node,
        kind,
        ident,
        user,
        start=start,
        end_at=start + duration,
        log=log,
        status="OK" if error is None else error,
        endtime=int(start + duration),
    )
    state.add_task(task)
    return task


APT_LINES = (
    "starting apt-get update",
    "Hit:1 http://deb.debian.org/debian trixie InRelease",
    "Hit:2 http://deb.debian.org/debian trixie-updates InRelease",
    "Hit:3 http://security.debian.org/debian-security trixie-security InRelease",
    "Hit:4 http://download.proxmox.com/debian/pve trixie InRelease",
    "Reading package lists...",
)


def seed_history(state: ClusterState, rng: random.Random, now: float) -> None:
    """Add boot, start and update tasks to every node; events are in the past of ``now``."""
    by_node: dict[str, list[int]] = {}
    for guest in state.guests.values():
        if guest.started_at is not None:
            by_node.setdefault(guest.node, []).append(guest.vmid)
    failed_start_done = False
    for node in state.nodes.values():
        boot = node.boot_time + 45
        started = sorted(by_node.get(node.name, ()), key=lambda v: state.guests[v].started_at or 0)
        onboot = [v for v in started if state.guests[v].config.get("onboot") == 1]
        lines = [f"Starting {'VM' if state.guests[v].type == 'qemu' else 'CT'} {v}" for v in onboot]
        past_task(state, node, "startall", "", boot, 5 + 3 * len(onboot), lines)
        for vmid in started:
            guest = state.guests[vmid]
            kind = "qmstart" if guest.type == "qemu" else "vzstart"
            at = guest.started_at or boot
            past_task(state, node, kind, str(vmid), at - 1, rng.uniform(0.5, 3), ())
        day0 = int(now // DAY) * DAY
        for back in range(3, 0, -1):
            at = day0 - back * DAY + 4 * 3600 + rng.randrange(0, 3600)
            if at > node.boot_time:
                past_task(state, node, "aptupdate", "", at, rng.uniform(3, 9), APT_LINES)
        if not failed_start_done:
            failed_start_done = _failed_start(state, node, rng, now)


def _failed_start(state: ClusterState, node: Node, rng: random.Random, now: float) -> bool:
    """A stopped VM that once refused to start because its passthrough device was missing."""
    for guest in state.guests.values():
        if guest.node != node.name or guest.type != "qemu" or guest.running or guest.template:
            continue
        at = now - rng.uniform(2, 20) * 3600
        lines = (
            "kvm: -device vfio-pci,host=0000:41:00.0,id=hostpci0,bus=ich9-pcie-port-1,addr=0x0: "
            "vfio 0000:41:00.0: failed to open /dev/vfio/42: No such file or directory",
        )
        error = "start failed: QEMU exited with code 1"
        past_task(state, node, "qmstart", str(guest.vmid), at, 1.2, lines, error)
        return True
    return False
