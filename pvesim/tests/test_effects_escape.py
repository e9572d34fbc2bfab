"""An independent check of the effect record against a generic walk over the whole cluster state.

The record diffs a hand-picked fingerprint; this walk reaches every value the simulator keeps, so a
field or area the fingerprint forgets shows up as a changed value owned by a guest or node that the
record does not name (an escape). The other way round, every target the record names must be
explained by a changed value or a new task (nothing invented). Reads of every GET route change
nothing at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from weakref import WeakKeyDictionary

import pytest

from pvesim import Simulator, Target
from pvesim.state import ClusterState, Guest, Volume
from pvesim.state.node_admin import LAST_APT_REFRESH, NodeRecords, default_config
from sim_support import API, make_client, sample_path

pytestmark = pytest.mark.anyio

Path = tuple[object, ...]
Leaves = dict[Path, object]
SCALARS = (str, int, float, bool, bytes, type(None))
NAMED_GUEST = re.compile(r"(?:^|[:/])(?:vm|base|subvol)-(\d+)-|vzdump-(?:qemu|lxc)-(\d+)-")
# Records a read may create; they hold nothing yet, so they are left out like absent ones.
LAZY = {("admin", "records"), ("ha", "options"), ("replication_runs", "runs"), ("node_admin", "nodes")}


def leaves(state: ClusterState) -> Leaves:
    out: Leaves = {}
    for name, value in vars(state).items():
        if name not in ("tasks", "node_tasks"):  # tasks are checked by count, below
            _walk(state, value, (name,), out)
    return out


def _label(state: ClusterState, item: object) -> object:
    if isinstance(item, Guest):
        return ("g", item.vmid) if state.guests.get(item.vmid) is item else ("stale", id(item))
    if isinstance(item, Volume):
        return ("volume", item.volid)
    return item if isinstance(item, (*SCALARS, tuple)) else ("id", id(item))


def _fresh(state: ClusterState, path: Path, value: object) -> bool:
    """A record as a first look makes it, holding nothing yet (a run's ``checked`` is bookkeeping)."""
    if path[:2] not in LAZY:
        return False
    default: object
    if path[0] == "node_admin":
        anchor = state.node_admin.anchor or 0.0
        node = state.nodes[str(path[2])]
        default = NodeRecords(apt_refreshed=anchor - LAST_APT_REFRESH, config=default_config(node))
    else:
        default = type(value)()
    mine, blank = dict(vars(value)), dict(vars(default))
    for fields in (mine, blank):
        fields.pop("checked", None)
    return mine == blank


def _walk(state: ClusterState, value: object, path: Path, out: Leaves) -> None:
    if isinstance(value, SCALARS):
        out[path] = value
    elif isinstance(value, Guest) and path[:1] != ("guests",):
        out[path] = _label(state, value)
    elif isinstance(value, Mapping | WeakKeyDictionary):
        for key, item in list(value.items()):
            if not (len(path) == 2 and _fresh(state, (*path, key), item)):
                _walk(state, item, (*path, _label(state, key)), out)
    elif isinstance(value, list | tuple):
        if all(isinstance(item, SCALARS) for item in value):
            out[path] = tuple(value)
            return
        out[(*path, "order")] = tuple(_label(state, item) for item in value)
        for item in value:
            _walk(state, item, (*path, _label(state, item)), out)
    elif isinstance(value, set | frozenset):
        out[path] = frozenset(value)
    elif callable(value) and not hasattr(value, "__dataclass_fields__"):
        out[path] = "callable"
    else:
        slots: tuple[str, ...] = getattr(value, "__slots__", ())
        names = vars(value) if hasattr(value, "__dict__") else {n: getattr(value, n) for n in slots}
        for name, item in names.items():
            if name != "shape_cache":
                _walk(state, item, (*path, name), out)


def _guests_named(volid: str) -> set[Target]:
    return {("guest", int(a or b)) for a, b in NAMED_GUEST.findall(volid)}


def _values(old: Leaves, new: Leaves, path: Path) -> list[object]:
    return [found for found in (old.get(path), new.get(path)) if found is not None]


def _items(value: object) -> tuple[object, ...]:
    return value if isinstance(value, tuple) else ()


def _sid_guest(sid: object) -> Target:
    return ("guest", int(str(sid).split(":")[-1]))


def _ids(text: object) -> set[int]:
    return {int(v) for v in re.split(r"[,;\s]+", str(text or "")) if v.isdigit()}


def owners(path: Path, old: Leaves, new: Leaves) -> set[Target]:
    """Who owns a changed value: the test's own reading of what belongs to a guest or a node."""
    head, rest = path[0], path[1:]
    found: set[Target] = set()
    if head == "guests":
        found.add(("guest", int(str(rest[0]))))
        if len(rest) > 1 and rest[1] in ("node", "vmid"):
            found.update(("node", str(n)) for n in _values(old, new, ("guests", rest[0], "node")))
    elif head in ("nodes", "networks"):
        found.add(("node", str(rest[0])))
    elif head == "volumes":
        storage, label = rest[0], rest[1]
        if isinstance(storage, tuple) and storage[1]:  # (storage, node): a local storage
            found.add(("node", str(storage[1])))
        if isinstance(label, tuple) and label[0] == "volume":
            vmids = _values(old, new, (*path[:3], "vmid"))
            found |= {("guest", int(str(v))) for v in vmids} if vmids else _guests_named(str(label[1]))
    elif head == "storages" and len(rest) > 2 and rest[1] == "used" and rest[2]:
        found.add(("node", str(rest[2])))
    elif head == "backup" and rest[0] == "archives":
        found |= _guests_named(str(rest[1]))
    elif head == "backup" and rest[0] == "jobs":
        job = ("backup", "jobs", rest[1])
        lists = [_ids(v) for key in ("vmid", "exclude") for v in _values(old, new, (*job, key))]
        if rest[2] in ("vmid", "exclude"):
            before, after = (_ids(old.get(path)), _ids(new.get(path)))
            found |= {("guest", v) for v in before ^ after}
        else:
            found |= {("guest", v) for group in lists for v in group}
    elif head in ("admin", "ha") and rest[0] in ("records", "options", "requests"):
        if rest[0] == "records" and len(rest) > 2 and rest[2] == "agent_runs":
            return found  # reading a command's result drops it; starting one counts (next_agent_pid)
        label = rest[1]
        if isinstance(label, tuple) and label[0] == "g":
            found.add(("guest", int(label[1])))
    elif (head == "admin" and rest[0] == "replication") or head == "replication_runs":
        job_id = str(rest[1])
        if head == "replication_runs" and rest[2] in ("checked", "log"):
            return found
        found.add(("guest", int(job_id.split("-")[0])))
        found |= {("node", str(n)) for n in _values(old, new, ("admin", "replication", job_id, "target"))}
    elif head == "ha" and rest[0] == "rules":
        rule = ("ha", "rules", rest[1])
        if rest[2] == "resources":
            return {_sid_guest(sid) for sid in set(_items(old.get(path))) ^ set(_items(new.get(path)))}
        for sids in _values(old, new, (*rule, "resources")):
            found |= {_sid_guest(sid) for sid in _items(sids)}
    elif head == "firewall" and rest[0] in ("guest_rules", "guest_options"):
        found.add(("guest", int(str(rest[1]))))
    elif (head == "firewall" and rest[0] in ("node_rules", "node_options")) or (
        head == "node_admin" and rest[0] == "nodes"
    ):
        found.add(("node", str(rest[1])))
    elif head == "acls" and rest[0] != "order":
        for acl_path in _values(old, new, ("acls", rest[0], "path")):
            kind, _, ident = str(acl_path).strip("/").partition("/")
            if kind == "vms":
                found.add(("guest", int(ident)))
            elif kind == "nodes":
                found.add(("node", ident))
    return found  # anything else is cluster-wide


def task_targets(state: ClusterState, counts: dict[str, int]) -> set[Target]:
    found: set[Target] = set()
    for node, tasks in state.node_tasks.items():
        for task in tasks[counts.get(node, 0) :]:
            found.add(("node", task.node))
            if task.id.isdigit():
                found.add(("guest", int(task.id)))
    return found


Step = tuple[str, str, dict[str, str]]
SNAPSHOT: Step = ("POST", "/nodes/pve1/qemu/100/snapshot", {"snapname": "before"})
WRITES: list[Step] = [
    ("POST", "/nodes/pve1/qemu/103/status/start", {}),
    ("POST", "/nodes/pve2/qemu/101/status/stop", {}),
    ("POST", "/nodes/pve3/lxc/201/status/shutdown", {}),
    ("PUT", "/nodes/pve1/qemu/100/config", {"description": "front", "cores": "4"}),
    ("POST", "/nodes/pve1/qemu/100/snapshot", {"snapname": "before"}),
    ("POST", "/nodes/pve1/qemu/100/clone", {"newid": "150"}),
    ("POST", "/nodes/pve1/qemu/106/migrate", {"target": "pve2", "online": "1", "with-local-disks": "1"}),
    ("POST", "/nodes/pve1/vzdump", {"vmid": "100", "storage": "local"}),
    ("POST", "/nodes/pve3/vzdump", {"all": "1", "storage": "nfs-backup"}),
    ("POST", "/cluster/backup", {"schedule": "02:00", "vmid": "101", "storage": "nfs-backup"}),
    ("DELETE", "/nodes/pve1/qemu/103", {"purge": "1"}),
    ("POST", "/cluster/ha/resources", {"sid": "vm:103"}),
    ("POST", "/cluster/ha/resources/vm:104/migrate", {"node": "pve3"}),
    ("POST", "/nodes/pve2/qemu/104/migrate", {"target": "pve1", "online": "1"}),  # handed to HA
    ("DELETE", "/cluster/ha/resources/vm:104", {}),
    ("POST", "/cluster/replication", {"id": "106-0", "target": "pve2", "type": "local"}),
    ("POST", "/nodes/pve1/qemu/100/firewall/rules", {"type": "in", "action": "ACCEPT"}),
    ("POST", "/nodes/pve2/firewall/rules", {"type": "in", "action": "DROP"}),
    ("PUT", "/nodes/pve1/qemu/100/firewall/options", {"enable": "0", "policy_in": "REJECT"}),
    ("PUT", "/nodes/pve1/qemu/103/firewall/options", {"delete": "enable,log_level_in"}),
    ("PUT", "/nodes/pve3/lxc/201/firewall/options", {"enable": "1"}),
    ("PUT", "/pools", {"poolid": "production", "vms": "106"}),
    ("PUT", "/nodes/pve1/network/vmbr1", {"type": "bridge", "comments": "changed"}),
    ("PUT", "/nodes/pve1/network", {}),
    ("POST", "/nodes/pve1/services/pveproxy/restart", {}),
    ("POST", "/nodes/pve1/apt/update", {}),
    ("DELETE", "/nodes/pve1/storage/local-lvm/content/vm-205-disk-0", {}),
    ("DELETE", "/nodes/pve1/storage/nfs-backup/prunebackups", {"prune-backups": "keep-last=1"}),
    ("PUT", "/nodes/pve1/qemu/100/resize", {"disk": "scsi0", "size": "+1G"}),
    ("POST", "/nodes/pve1/qemu/103/template", {}),
    ("POST", "/nodes/pve1/qemu/106/agent/exec", {"command": "uname"}),
    ("PUT", "/nodes/pve1/qemu/109/cloudinit", {}),
    ("POST", "/nodes/pve1/qemu/103/move_disk", {"disk": "scsi0", "target-vmid": "106", "target-disk": "scsi1"}),
    ("PUT", "/access/acl", {"path": "/vms/101", "roles": "PVEAuditor", "users": "bob@pve"}),
    ("PUT", "/cluster/sdn", {}),
    (
        "POST",
        "/nodes/pve1/lxc",
        {"vmid": "300", "ostemplate": "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst", "storage": "local-lvm"},
    ),
]


# Changes to what already exists, each after the step that makes it.
EDITS: list[tuple[Step, Step]] = [
    (SNAPSHOT, ("DELETE", "/nodes/pve1/qemu/100/snapshot/before", {})),
    (SNAPSHOT, ("POST", "/nodes/pve1/qemu/100/snapshot/before/rollback", {})),
    (
        ("POST", "/nodes/pve1/qemu/100/firewall/rules", {"type": "in", "action": "DROP"}),
        ("PUT", "/nodes/pve1/qemu/100/firewall/rules/1", {"comment": "edited"}),
    ),
    (
        ("PUT", "/nodes/pve1/qemu/100/config", {"cores": "2"}),
        ("PUT", "/nodes/pve1/qemu/100/config", {"revert": "cores"}),
    ),
    (
        ("POST", "/nodes/pve1/qemu/106/agent/exec", {"command": "uname"}),
        ("GET", "/nodes/pve1/qemu/106/agent/exec-status", {"pid": "1001"}),
    ),
    (("GET", "/version", {}), ("PUT", "/nodes/pve2/firewall/rules/0", {"comment": "edited"})),
    (("GET", "/version", {}), ("PUT", "/cluster/replication/100-0", {"rate": "10"})),
    (("GET", "/version", {}), ("POST", "/nodes/pve1/replication/100-0/schedule_now", {})),
    (("GET", "/version", {}), ("DELETE", "/cluster/replication/100-0", {"force": "1"})),
    (("GET", "/version", {}), ("PUT", "/cluster/backup/{job}", {"schedule": "03:00"})),
    (("GET", "/version", {}), ("PUT", "/cluster/ha/resources/vm:104", {"max_restart": "3"})),
    (("GET", "/version", {}), ("DELETE", "/nodes/pve1/network", {})),
]
SCENARIOS: list[tuple[Step, Step]] = [(("GET", "/version", {}), step) for step in WRITES] + EDITS


@pytest.mark.parametrize(("setup", "step"), SCENARIOS, ids=[f"{m} {p}" for _, (m, p, _) in SCENARIOS])
async def test_the_record_names_exactly_the_guests_and_nodes_whose_state_changed(setup: Step, step: Step) -> None:
    sim = Simulator(record_effects=True)
    job = next(iter(sim.state.backup.jobs))
    async with make_client(sim) as client:
        ready = await client.request(setup[0], f"{API}{setup[1]}", data=setup[2])
        sim.clock.advance(5)
        before, counts = leaves(sim.state), {n: len(t) for n, t in sim.state.node_tasks.items()}
        method, path, params = step
        if method == "GET":
            response = await client.get(f"{API}{path}", params=params)
        else:
            response = await client.request(method, f"{API}{path.replace('{job}', job)}", data=params)
    for _ in range(3):  # tasks a finished task started (SDN apply) need another turn
        sim.clock.advance(5)
    after = leaves(sim.state)

    assert ready.status_code == response.status_code == 200, response.text
    record = sim.requests[-1]
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    owned: set[Target] = set()
    for changed_path in changed:
        owned |= owners(changed_path, before, after)
    escaped = owned - record.changes
    assert not escaped, f"changed but not recorded: {escaped}"
    invented = record.changes - owned - task_targets(sim.state, counts)
    assert not invented, f"recorded but unchanged: {invented}"
    assert sim.background_changes == set()


async def test_no_read_route_changes_anything() -> None:
    sim = Simulator(record_effects=True)
    before = leaves(sim.state)
    reads = sorted({r.path for r in sim.router.routes if r.method == "GET"})

    async with make_client(sim) as client:
        for template in reads:
            await client.get(f"{API}{sample_path(sim, template)}")
        sim.clock.advance(5)
        for template in reads:
            await client.get(f"{API}{sample_path(sim, template)}")

    after = leaves(sim.state)
    assert len(sim.requests) == 2 * len(reads)
    assert [r.path for r in sim.requests if r.changes] == []
    assert sim.background_changes == set()
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert {p for p in changed if owners(p, before, after)} == set()
