"""A node's systemd journal, rebuilt on demand from what the cluster knows about that node.

Since the node's boot: the boot sequence, every task the node ran (pvedaemon logs its start and
end), hourly cron runs, the daily update timer and pveproxy recycling its workers. Lines look like
``journalctl -o short`` output in the node's time zone (UTC) and come oldest first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from .state.cluster import ClusterState
from .state.records import Node

HOUR = 3600
DAY = 86_400
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Entry:
    at: float
    unit: str
    text: str


def _pids(node: Node) -> dict[str, int]:
    """Daemon process ids, fixed per node as they would be from one boot to the next."""
    base = 800 + node.nodeid * 3
    names = ("journald", "chronyd", "pmxcfs", "corosync", "pvestatd", "pvedaemon", "pveproxy", "cron")
    return {name: base + i * 97 for i, name in enumerate(names)}


def _boot(state: ClusterState, node: Node, pid: dict[str, int]) -> list[Entry]:
    t = node.boot_time
    release = state.kernel_release
    entries = [
        Entry(t, "kernel", f"kernel: Linux version {release} (build@proxmox) {state.kernel_build}"),
        Entry(
            t, "kernel", f"kernel: Command line: BOOT_IMAGE=/boot/vmlinuz-{release} root=/dev/mapper/pve-root ro quiet"
        ),
        Entry(t + 6, "systemd-journald", f"systemd-journald[{pid['journald']}]: Journal started"),
        Entry(t + 11, "chrony", f"chronyd[{pid['chronyd']}]: chronyd version 4.6.1 starting (+CMDMON +NTP +REFCLOCK)"),
        Entry(
            t + 13,
            "pve-cluster",
            f"pmxcfs[{pid['pmxcfs']}]: [main] notice: resolved node name '{node.name}' to '{node.ip}' for default"
            " node IP address",
        ),
    ]
    if len(state.nodes) > 1:
        entries.append(
            Entry(
                t + 14, "corosync", f"corosync[{pid['corosync']}]:   [MAIN  ] Corosync Cluster Engine 3.1.9 starting up"
            )
        )
        entries.append(
            Entry(
                t + 16,
                "corosync",
                f"corosync[{pid['corosync']}]:   [QUORUM] This node is within the primary component and will"
                " provide service.",
            )
        )
    entries += [
        Entry(t + 18, "pvestatd", f"pvestatd[{pid['pvestatd']}]: starting server"),
        Entry(t + 19, "pvedaemon", f"pvedaemon[{pid['pvedaemon']}]: starting server"),
        Entry(t + 19, "pvedaemon", f"pvedaemon[{pid['pvedaemon']}]: starting 3 worker(s)"),
        Entry(t + 20, "pveproxy", f"pveproxy[{pid['pveproxy']}]: starting server"),
        Entry(t + 20, "pveproxy", f"pveproxy[{pid['pveproxy']}]: starting 3 worker(s)"),
        Entry(t + 24, "systemd", "systemd[1]: Reached target multi-user.target - Multi-User System."),
        Entry(t + 52, "chrony", f"chronyd[{pid['chronyd']}]: Selected source 192.0.2.123 (2.debian.pool.ntp.org)"),
    ]
    return entries


def _routine(node: Node, pid: dict[str, int], now: float) -> list[Entry]:
    """Hourly cron, the daily update timer and pveproxy worker turnover, from boot to now."""
    entries: list[Entry] = []
    hour = (int(node.boot_time) // HOUR + 1) * HOUR
    while hour + 17 * 60 <= now:
        at = hour + 17 * 60
        cron = 10_000 + (at // HOUR) % 50_000
        entries += [
            Entry(
                at, "cron", f"CRON[{cron}]: pam_unix(cron:session): session opened for user root(uid=0) by root(uid=0)"
            ),
            Entry(at, "cron", f"CRON[{cron + 1}]: (root) CMD (cd / && run-parts --report /etc/cron.hourly)"),
            Entry(at + 1, "cron", f"CRON[{cron}]: pam_unix(cron:session): session closed for user root"),
        ]
        if (at // HOUR) % 24 == 5:
            entries += [
                Entry(
                    at + 300,
                    "systemd",
                    "systemd[1]: Starting pve-daily-update.service - Daily PVE download activities...",
                ),
                Entry(at + 309, "systemd", "systemd[1]: pve-daily-update.service: Deactivated successfully."),
                Entry(
                    at + 309,
                    "systemd",
                    "systemd[1]: Finished pve-daily-update.service - Daily PVE download activities.",
                ),
            ]
        if (at // HOUR) % 7 == node.nodeid % 7:
            worker = pid["pveproxy"] + 1 + (at // HOUR) % 9000
            entries += [
                Entry(at + 1500, "pveproxy", f"pveproxy[{worker}]: worker exit"),
                Entry(at + 1500, "pveproxy", f"pveproxy[{pid['pveproxy']}]: worker {worker} finished"),
                Entry(at + 1500, "pveproxy", f"pveproxy[{pid['pveproxy']}]: starting 1 worker(s)"),
                Entry(at + 1500, "pveproxy", f"pveproxy[{pid['pveproxy']}]: worker {worker + 9001} started"),
            ]
        hour += HOUR
    return entries


def _tasks(state: ClusterState, node: Node, pid: dict[str, int], now: float) -> list[Entry]:
    entries: list[Entry] = []
    for task in state.node_tasks.get(node.name, []):
        if task.starttime < node.boot_time or task.starttime > now:
            continue
        user = task.user
        entries.append(
            Entry(task.starttime, "pvedaemon", f"pvedaemon[{pid['pvedaemon']}]: <{user}> starting task {task.upid}")
        )
        if task.endtime is not None and task.status is not None:
            entries.append(
                Entry(
                    task.endtime,
                    "pvedaemon",
                    f"pvedaemon[{pid['pvedaemon']}]: <{user}> end task {task.upid} {task.status}",
                )
            )
    return entries


def entries(state: ClusterState, node: Node, now: float) -> list[Entry]:
    pid = _pids(node)
    found = _boot(state, node, pid) + _routine(node, pid, now) + _tasks(state, node, pid, now)
    return sorted((e for e in found if e.at <= now), key=lambda e: e.at)


def parse_date(text: str) -> float:
    """journalctl --since/--until with the schema's 'YYYY-MM-DD[ HH:MM[:SS]]', in the node's zone (UTC)."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(text)


def line(node: Node, entry: Entry) -> str:
    return f"{time.strftime('%b %d %H:%M:%S', time.gmtime(entry.at))} {node.name} {entry.text}"


def read(
    state: ClusterState,
    node: Node,
    now: float,
    *,
    start: int,
    limit: int,
    since: str | None,
    until: str | None,
    service: str | None,
) -> tuple[int, list[dict[str, object]]]:
    """PVE's dump_journal: skip ``start`` lines, return ``limit`` (0 means 50) and the total count."""
    lo = parse_date(since) if since else None
    hi = parse_date(until) if until else None
    selected = [
        e
        for e in entries(state, node, now)
        if (service is None or e.unit == service) and (lo is None or e.at >= lo) and (hi is None or e.at <= hi)
    ]
    limit = limit or 50
    lines = [{"n": i + 1, "t": line(node, e)} for i, e in enumerate(selected) if i >= start][:limit]
    if not selected:
        return 1, [{"n": 1, "t": "no content"}]
    return len(selected), lines
