"""A cheap fingerprint of everything in the cluster that belongs to a guest or to a node.

Two fingerprints compare equal for a target exactly when nothing that target owns changed, so
diffing them finds every touched guest and node without trusting handlers to say what they did.
Records made on first use (empty snapshot lists, default HA options, a node's default admin
record) fingerprint like their absence: looking at something is not changing it.

What belongs to a guest: its existence and ``Guest.stamp`` (any attribute or config change,
including its node, pool, lock and HA state), volumes it owns on any storage, backup archives
naming it, its snapshots, pending changes, cloud-init drive and guest-agent commands, its HA
options and pending HA motion, its replication jobs and their runs, its firewall rules, options and ACL
entries on /vms/<vmid>; and, as far as they concern it, HA rules and backup jobs naming it or
taking it in (their settings and its place in them, not the other guests they name).

What belongs to a node: its own record (online, process counter, ...), the guests on it, the
number of tasks it ran, volumes and used space on its local storages, its network config, its
firewall rules and options, its admin record (services, package lists, config), its Ceph
daemons, replication jobs that target it and ACL entries on /nodes/<node>. HA rules and backup
jobs are policy for guests: the nodes they name are addressed by a request, not changed. Everything
else (users, roles, storage definitions, SDN, pools as such, the datacenter firewall) is
cluster-wide and belongs to neither.
"""

from __future__ import annotations

import operator
import pickle
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .addressing import vmid_list, volume_guests
from .state.admin import GuestRecords
from .state.ha import parse_sid
from .state.node_admin import LAST_APT_REFRESH, default_config

if TYPE_CHECKING:
    from .recorded import Target
    from .state.cluster import ClusterState
    from .state.records import Guest, Volume

Parts = defaultdict["Target", list[object]]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Per target, the summary of what it owns; per node, how many tasks it has run."""

    parts: Parts
    task_counts: dict[str, int]


def differences(before: Fingerprint, after: Fingerprint) -> set[Target]:
    """The targets whose fingerprint differs, including ones that appeared or vanished."""
    old, new = before.parts, after.parts
    changed = {target for target, summary in new.items() if old.get(target) != summary}
    changed.update(target for target in old if target not in new)
    return changed


def frozen(value: object) -> object:
    """A copy of nested plain data that later changes to ``value`` cannot reach. Pickle is the
    quickest way to take one whose bytes depend only on the data and on which of its objects are
    shared, both stable while nothing writes (marshal's also depend on reference counts)."""
    try:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return repr(value)


VolumeKey = tuple[str, str]
Shares = tuple[tuple["Target", object], ...]
REVISION = operator.attrgetter("rev")


@dataclass(eq=False)
class Memo:
    """What the volume lists and archives contributed last time, reused while they are unchanged.

    Backups pile up over a long run; checking a list's revisions is one C-level pass, and only a
    list that changed is attributed again volume by volume.
    """

    volumes: dict[VolumeKey, tuple[tuple[int, ...], Shares]] = field(default_factory=dict)
    archives: tuple[tuple[str, ...], Shares] | None = None


def take(state: ClusterState, memo: Memo | None = None) -> Fingerprint:
    """Fingerprint the cluster now (well under 100 µs for the default cluster)."""
    memo = Memo() if memo is None else memo
    parts: Parts = defaultdict(list)
    for name, node in state.nodes.items():
        parts[("node", name)] = [tuple(vars(node).values())]
    for vmid, guest in state.guests.items():
        parts[("guest", vmid)] = [guest.rev, guest.config.version]
        parts[("node", guest.node)].append(vmid)
    counts = {name: len(tasks) for name, tasks in state.node_tasks.items()}
    for name, count in counts.items():
        parts[("node", name)].append(("tasks", count))
    _volumes(state, parts, memo)
    _archives(state, parts, memo)
    _guest_records(state, parts)
    _high_availability(state, parts)
    _replication(state, parts)
    _backup_jobs(state, parts)
    _firewall(state, parts)
    _node_records(state, parts)
    _ceph(state, parts)
    _acls(state, parts)
    return Fingerprint(parts, counts)


def _volumes(state: ClusterState, parts: Parts, memo: Memo) -> None:
    """A volume belongs to the guest it names; a local storage's volumes to their node too.

    A volume's revision changes with any of its fields and is unique, so revisions stand for volumes.
    """
    for key, volumes in state.volumes.items():
        revisions = tuple(map(REVISION, volumes))
        known = memo.volumes.get(key)
        if known is None or known[0] != revisions:
            known = memo.volumes[key] = (revisions, _volume_shares(key, volumes))
        for target, summary in known[1]:
            parts[target].append(summary)
    for storage in state.storages.values():
        for where, used in storage.used.items():
            if where:
                parts[("node", where)].append((storage.storage, used))


def _volume_shares(key: VolumeKey, volumes: list[Volume]) -> Shares:
    storeid, where = key
    owned: dict[Target, list[int]] = {}
    for volume in volumes:
        owners = (volume.vmid,) if volume.vmid is not None else volume_guests(volume.volid)
        for vmid in owners:
            owned.setdefault(("guest", vmid), []).append(volume.rev)
    shares: list[tuple[Target, object]] = [(target, (storeid, *revs)) for target, revs in owned.items()]
    if where and volumes:
        shares.append((("node", where), (storeid, *map(REVISION, volumes))))
    return tuple(shares)


def _archives(state: ClusterState, parts: Parts, memo: Memo) -> None:
    """What each backup archive holds belongs to the guest it was taken from. An archive is written
    once, under the ID of the backup volume it describes, and dropped with it: its ID stands for it."""
    volids = tuple(state.backup.archives)
    known = memo.archives
    if known is None or known[0] != volids:
        owned: dict[Target, list[str]] = {}
        for volid in volids:
            for vmid in volume_guests(volid):
                owned.setdefault(("guest", vmid), []).append(volid)
        known = memo.archives = (volids, tuple((target, tuple(items)) for target, items in owned.items()))
    for target, summary in known[1]:
        parts[target].append(summary)


def _current(state: ClusterState, guest: Guest) -> bool:
    """Records hang off guest objects; a destroyed guest's records are gone with it."""
    return state.guests.get(guest.vmid) is guest


def _records_summary(records: GuestRecords) -> tuple[object, ...]:
    """Snapshots by identity: one is made or dropped whole, under its own name, and doing either
    also rewrites the config's parent. Guest-agent results that were read and dropped are not a
    change; a new command is."""
    pending = (dict(records.pending), tuple(sorted(records.pending_delete)))
    return tuple(records.snapshots.values()), pending, records.next_agent_pid, dict(records.cloudinit)


NO_RECORDS = _records_summary(GuestRecords())


def _guest_records(state: ClusterState, parts: Parts) -> None:
    for guest, records in state.admin.records.items():
        summary = _records_summary(records)
        if summary != NO_RECORDS and _current(state, guest):
            parts[("guest", guest.vmid)].append(summary)


def _high_availability(state: ClusterState, parts: Parts) -> None:
    ha = state.ha
    for guest, opts in ha.options.items():
        summary = (opts.comment, opts.max_restart, opts.max_relocate, opts.failback)
        if summary != ("", None, None, None) and _current(state, guest):
            parts[("guest", guest.vmid)].append(summary)
    for guest, request in ha.requests.items():
        if _current(state, guest):
            parts[("guest", guest.vmid)].append((request.kind, request.target, request.upid))
    for rule in ha.rules.values():  # each guest it names sees its settings, not the other names
        settings = (rule.rule, rule.type, rule.nodes, rule.affinity, rule.strict, rule.comment, rule.disable)
        for sid in rule.resources:
            if (parsed := parse_sid(sid)) is not None:
                parts[("guest", parsed[1])].append(settings)


def _replication(state: ClusterState, parts: Parts) -> None:
    """A job and its run state belong to its guest and its target (the scheduler's own
    bookkeeping, ``checked`` and the log, does not count)."""
    runs = state.replication_runs.runs
    for job in state.admin.replication.values():
        run = runs.get(job.id)
        run_summary = (run.last_try, run.last_sync, run.fail_count, run.error, run.duration) if run else None
        if run_summary == (0.0, 0.0, 0, None, 0.0):  # a run record made on first look
            run_summary = None
        summary = (tuple(vars(job).values()), run_summary)
        parts[("guest", job.guest)].append(summary)
        parts[("node", job.target)].append(summary)


def _backup_jobs(state: ClusterState, parts: Parts) -> None:
    """A job belongs, as far as it concerns each, to the guests it takes in or excludes: its settings
    and that guest's place in it (dropping one guest from the list changes only that guest)."""
    for job_id, job in state.backup.jobs.items():
        settings = tuple((key, value) for key, value in job.items() if key not in ("vmid", "exclude"))
        node = str(job["node"]) if job.get("node") else None
        excluded = set(vmid_list(str(job.get("exclude", ""))))
        included = set(vmid_list(str(job.get("vmid", ""))))
        every, pool = str(job.get("all", 0)) == "1", job.get("pool")
        if every or pool:
            included.update(
                g.vmid for g in state.guests.values() if node in (None, g.node) and (every or g.pool == pool)
            )
        for vmid in included - excluded:
            parts[("guest", vmid)].append((job_id, settings, "included"))
        for vmid in excluded:
            parts[("guest", vmid)].append((job_id, settings, "excluded"))


def _firewall(state: ClusterState, parts: Parts) -> None:
    """Rules are flat dicts of strings and numbers, so shallow copies are true snapshots (and
    the quickest to take; rule lists grow over a long run)."""
    fw = state.firewall
    for vmid, rules in fw.guest_rules.items():
        # rules left behind by a destroyed guest of the same VMID are not the current guest's
        if rules and fw.rule_owners.get(vmid) is state.guests.get(vmid):
            parts[("guest", vmid)].append(tuple(map(dict.copy, rules)))
    for vmid, options in fw.guest_options.items():
        if options and fw.rule_owners.get(vmid) is state.guests.get(vmid):
            parts[("guest", vmid)].append(dict(options))
    for name, node_rules in fw.node_rules.items():
        if node_rules:
            parts[("node", name)].append(tuple(map(dict.copy, node_rules)))
    for name, options in fw.node_options.items():
        if options:
            parts[("node", name)].append(dict(options))


def _node_records(state: ClusterState, parts: Parts) -> None:
    """Network config (live, pending, interfaces up) and the admin record, unless it is still the default."""
    for name, network in state.networks.items():
        summary = (frozen(network.live), frozen(network.pending), tuple(sorted(network.up)), network.nics)
        parts[("node", name)].append(summary)
    admin = state.node_admin
    for name, records in admin.nodes.items():
        node = state.nodes.get(name)
        refreshed = None if admin.anchor is None else admin.anchor - LAST_APT_REFRESH
        config = tuple(records.config.items())
        if records.services or records.apt_refreshed != refreshed or node is None:
            parts[("node", name)].append((tuple(records.services.items()), records.apt_refreshed, config))
        elif config != tuple(default_config(node).items()):
            parts[("node", name)].append(config)


def _ceph(state: ClusterState, parts: Parts) -> None:
    """Which nodes lack Ceph and which OSDs (numbered per node) are down or out."""
    ceph = state.ceph
    for name in sorted(ceph.absent):  # sorted: a set's order may shift as members come and go
        parts[("node", name)].append("no ceph")
    if ceph.down or ceph.out:
        names = list(state.nodes)
        for marked, osds in (("down", ceph.down), ("out", ceph.out)):
            for osd in sorted(osds):
                index = osd // max(ceph.osds_per_node, 1)
                if 0 <= index < len(names):
                    parts[("node", names[index])].append((marked, osd))


def _acls(state: ClusterState, parts: Parts) -> None:
    for acl in state.acls:
        kind, _, ident = acl.path.strip("/").partition("/")
        summary = (acl.path, acl.ugid, acl.type, acl.roleid, acl.propagate)
        if kind == "vms" and ident.isdigit():
            parts[("guest", int(ident))].append(summary)
        elif kind == "nodes" and ident and "/" not in ident:
            parts[("node", ident)].append(summary)
