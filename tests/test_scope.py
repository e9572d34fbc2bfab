"""Scoping through the SDK client against the simulator: every write tool refuses what lies outside the
scope or is protected, every list shows only what lies inside, and reads cannot tell out-of-scope from absent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client

from pvemcp.catalog import ALL_TOOLS
from pvemcp.catalog.spec import Rest, ToolSpec
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.reach import catalog_rules as reach
from pvemcp.server.resolve import GuestLocator
from pvemcp.server.scope import Scope, filter_result, guest_homes, parse_scope
from pvesim import Simulator
from tests.conftest import mcp_client, payload

pytestmark = pytest.mark.anyio

# pve3 is outside; so are VMIDs 105-109 and 204-205. 150-159 are free IDs inside.
SCOPE, problems = parse_scope("pve1,pve2", "100-104,150-159,200-203", None)
assert not problems
TAG = "pvemcp-protected"
# In scope and allowed nodes / outside by VMID (on pve1) / in range but on pve3 / protected (on pve2).
GUESTS = {
    "qemu": {"inside": 100, "vmid": 106, "node": 102, "protected": 104},
    "lxc": {"inside": 202, "vmid": 205, "node": 201, "protected": 203},
}
# Names of guests outside by VMID; those outside only by node are checked where rows carry a node.
OUTSIDE_NAMES = ("cache-01", "mail-01", "ci-runner-01", "monitor-01", "tpl-debian-13", "ct-log")
TASK_ON_PVE3 = "UPID:pve3:00001234:00ABCDEF:69248100:qmstart:102:root@pam:"
TASK_OF_106 = "UPID:pve1:00001234:00ABCDEF:69248100:qmstart:106:root@pam:"


def protect(sim: Simulator) -> None:
    for kind in GUESTS.values():
        guest = sim.state.guests[kind["protected"]]
        guest.config["tags"] = f"{guest.config.get('tags', '')};{TAG}".strip(";")


@asynccontextmanager
async def serve(sim: Simulator, pve: ProxmoxClient, era: str = "legacy", scope: Scope = SCOPE) -> AsyncIterator[Client]:
    async with mcp_client(pve, sim, era, scope=scope) as client:
        yield client


async def answer(client: Client, name: str, args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(name, args)
    return bool(result.is_error), payload(result)


# Arguments: whatever each tool requires, with values the simulator accepts.
FILLERS: dict[str, Any] = {
    "node": "pve1",
    "snapname": "pre-upgrade",
    "target": "pve1",
    "disk": "scsi0",
    "device": "/dev/sda",
    "size": "+1G",
    "command": ["uname", "-a"],
    "pos": 0,
    "action": "ACCEPT",
    "iface": "vmbr0",
    "vnet": "office",
    "zone": "lan",
    "archive": "nfs-backup:backup/vzdump-qemu-100-2025_11_24-01_00_02.vma.zst",
    "ostemplate": "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
    "storage": "nfs-backup",
    "schedule": "01:00",
    "poolid": "production",
    "id": "backup-7fdc990e-ab4c",
    "userid": "root@pam",
    "pid": 1,
    "upid": next(t.upid for t in Simulator().state.tasks.values() if t.type == "qmstart" and t.id == "100"),
    "ciuser": "ops",
    "memory": 1024,
    "comment": "x",
    "vms": "100",
    "sid": "vm:104",
    "rule": "keep-web",
    "group": "webserver",
    "name": "management",
    "file": "/etc/hostname",
}


def valid_args(spec: ToolSpec, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {}
    firsts = {group[0] for group in (spec.at_least_one, spec.only_one) if group}
    wanted = [p for p in spec.all_params if p.required or p.name in firsts]
    for param in wanted:
        if param.name == "command" and param.type == "string":  # pct exec takes a string or argv
            args[param.name] = "uname -a"
        elif param.name in FILLERS:
            args[param.name] = FILLERS[param.name]
        elif param.enum:
            args[param.name] = param.enum[0]
        elif param.name == "vmid":
            args[param.name] = GUESTS["lxc" if spec.guest_type == "lxc" else "qemu"]["inside"]
        elif param.name == "ctid":  # pct exec's container
            args[param.name] = GUESTS["lxc"]["inside"]
        else:
            args[param.name] = {"integer": 1, "boolean": True}.get(param.type, "x")
    if spec.guest_type is not None:
        args["vmid"] = GUESTS["lxc" if spec.guest_type == "lxc" else "qemu"]["inside"]
    replication = spec.rest is not None and "/replication" in spec.rest.path
    if replication and spec.param("id") is not None:  # a job names its guest: '<vmid>-<n>'
        args["id"] = "100-0"
    if spec.raw:  # the raw API names its endpoint as an argument
        args["path"] = "/cluster/resources"
    if spec.confirm:
        args["confirm"] = True
    args.update(overrides)
    return args


WRITES = [spec for spec in ALL_TOOLS if not spec.read_only]
CLUSTER_WIDE = {spec.name for spec in ALL_TOOLS if spec.cluster_wide}
READS = [spec for spec in ALL_TOOLS if spec.read_only and spec.api]


def write_cases() -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(tool, case, arguments, expected code) for every way each write tool can reach outside the scope."""
    for spec in WRITES:
        names = reach(spec)
        if spec.ssh and spec.param("ctid") is not None:
            lxc = GUESTS["lxc"]
            yield spec.name, "ctid", valid_args(spec, ctid=lxc["vmid"]), "OUT_OF_SCOPE"
            yield spec.name, "ctid-node", valid_args(spec, ctid=lxc["node"]), "OUT_OF_SCOPE"
            yield spec.name, "ctid-protected", valid_args(spec, ctid=lxc["protected"]), "PROTECTED_GUEST"
        if spec.guest_type is not None:
            guests = GUESTS["lxc" if spec.guest_type == "lxc" else "qemu"]
            yield spec.name, "vmid", valid_args(spec, vmid=guests["vmid"]), "OUT_OF_SCOPE"
            yield spec.name, "guest-node", valid_args(spec, vmid=guests["node"]), "OUT_OF_SCOPE"
            yield spec.name, "protected", valid_args(spec, vmid=guests["protected"]), "PROTECTED_GUEST"
        if "node" in names:
            yield spec.name, "node", valid_args(spec, node="pve3"), "OUT_OF_SCOPE"
        if "target" in names:
            yield spec.name, "target", valid_args(spec, target="pve3"), "OUT_OF_SCOPE"
        if "newid" in names:
            yield spec.name, "newid", valid_args(spec, newid=160), "OUT_OF_SCOPE"
            yield spec.name, "newid-omitted", valid_args(spec), "OUT_OF_SCOPE"
        if "upid" in names:
            yield spec.name, "task-node", valid_args(spec, upid=TASK_ON_PVE3), "OUT_OF_SCOPE"
            yield spec.name, "task-guest", valid_args(spec, upid=TASK_OF_106), "OUT_OF_SCOPE"
        if spec.guest_type is None and "vmid" in names:
            if spec.param("vmid") and spec.param("vmid").type == "string":  # type: ignore[union-attr]
                yield spec.name, "list-vmid", valid_args(spec, vmid="100,106"), "OUT_OF_SCOPE"
                yield spec.name, "list-node", valid_args(spec, vmid="102"), "OUT_OF_SCOPE"
                yield spec.name, "list-protected", valid_args(spec, vmid="101,104"), "PROTECTED_GUEST"
            else:
                yield spec.name, "new-vmid", valid_args(spec, vmid=160), "OUT_OF_SCOPE"
                if spec.param("force") is not None:  # a restore over an existing guest
                    yield spec.name, "over-node", valid_args(spec, vmid=102, force=True), "OUT_OF_SCOPE"
                    yield spec.name, "over-protected", valid_args(spec, vmid=104, force=True), "PROTECTED_GUEST"
                else:
                    yield spec.name, "vmid-omitted", valid_args(spec), "OUT_OF_SCOPE"
        if "all" in names:
            yield (
                spec.name,
                "all",
                {**valid_args(spec, all=True), **({"node": "pve1"} if "node" in names else {})},
                ("OUT_OF_SCOPE"),
            )
        for name in (n for n, kind in names.items() if kind in ("sid", "job")):  # an HA SID or a replication job ID
            ref = "vm:{}" if name == "sid" else "{}-0"
            yield spec.name, f"{name}-vmid", valid_args(spec, **{name: ref.format(106)}), "OUT_OF_SCOPE"
            yield spec.name, f"{name}-node", valid_args(spec, **{name: ref.format(102)}), "OUT_OF_SCOPE"
            yield spec.name, f"{name}-protected", valid_args(spec, **{name: ref.format(104)}), "PROTECTED_GUEST"
        if names.get("path") == "acl-path":  # a permission path names a guest or a node
            yield spec.name, "acl-vmid", valid_args(spec, path="/vms/106"), "OUT_OF_SCOPE"
            yield spec.name, "acl-node", valid_args(spec, path="/nodes/pve3"), "OUT_OF_SCOPE"
            yield spec.name, "acl-protected", valid_args(spec, path="/vms/104"), "PROTECTED_GUEST"
        if "vms" in names:
            yield spec.name, "vms-vmid", valid_args(spec, vms="100,106"), "OUT_OF_SCOPE"
            yield spec.name, "vms-node", valid_args(spec, vms="102"), "OUT_OF_SCOPE"
            yield spec.name, "vms-protected", valid_args(spec, vms="104"), "PROTECTED_GUEST"


# The raw API reaches through its path and its parameters: (case, path, params, code).
RAW_CASES: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("path-vmid", "/nodes/pve1/qemu/106/status/stop", {}, "OUT_OF_SCOPE"),
    ("path-guest-node", "/nodes/pve1/qemu/102/config", {"memory": 1024}, "OUT_OF_SCOPE"),
    ("path-node", "/nodes/pve3/network", {}, "OUT_OF_SCOPE"),
    ("path-protected", "/nodes/pve2/qemu/104/status/stop", {}, "PROTECTED_GUEST"),
    ("path-task", f"/nodes/pve1/tasks/{TASK_OF_106}", {}, "OUT_OF_SCOPE"),
    ("path-ha", "/cluster/ha/resources/vm:106", {}, "OUT_OF_SCOPE"),
    ("params-target", "/nodes/pve1/qemu/100/migrate", {"target": "pve3"}, "OUT_OF_SCOPE"),
    ("params-newid", "/nodes/pve1/qemu/100/clone", {"newid": 160}, "OUT_OF_SCOPE"),
    ("params-vmid-list", "/nodes/pve1/vzdump", {"vmid": "100,106"}, "OUT_OF_SCOPE"),
    ("params-protected", "/pools", {"poolid": "production", "vms": "104"}, "PROTECTED_GUEST"),
    ("params-all", "/nodes/pve1/vzdump", {"all": 1}, "OUT_OF_SCOPE"),
)


def raw_cases() -> Iterator[tuple[str, str, dict[str, Any], str]]:
    for spec in WRITES:
        if spec.raw:
            for case, path, params, code in RAW_CASES:
                yield spec.name, case, valid_args(spec, path=path, params=params), code


WRITE_CASES = [*write_cases(), *raw_cases()]


def test_every_write_tool_is_scoped_or_cluster_wide() -> None:
    covered = {tool for tool, *_ in WRITE_CASES}
    assert [s.name for s in WRITES if s.name not in covered and s.name not in CLUSTER_WIDE] == []
    assert [s.name for s in WRITES if s.name in CLUSTER_WIDE and (reach(s) or s.guest_type)] == []
    assert {s.name for s in WRITES} >= CLUSTER_WIDE


@pytest.mark.parametrize(("tool", "case", "args", "code"), WRITE_CASES, ids=[f"{c[0]}-{c[1]}" for c in WRITE_CASES])
async def test_a_write_outside_the_scope_is_refused_and_sends_nothing(
    sim: Simulator, pve: ProxmoxClient, tool: str, case: str, args: dict[str, Any], code: str
) -> None:
    protect(sim)
    before = repr(sim.state)
    async with serve(sim, pve) as client:
        failed, body = await answer(client, tool, args)
    assert failed and body["code"] == code, body
    assert body["hint"] and ("PVE_ALLOWED" in body["message"] or TAG in body["message"])
    assert [r for r in sim.requests if r.method != "GET"] == []
    sim.clock.advance(60)
    assert repr(sim.state) == before


async def test_refusals_name_the_rule_and_how_to_lift_protection(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    protect(sim)
    async with serve(sim, pve, era) as client:
        _, by_vmid = await answer(client, "pve_stop_qemu_vm", {"vmid": 106, "confirm": True})
        _, by_node = await answer(client, "pve_stop_qemu_vm", {"vmid": 102, "confirm": True})
        _, guarded = await answer(client, "pve_start_lxc_container", {"vmid": 203})
    assert "PVE_ALLOWED_VMIDS=100-104,150-159,200-203" in by_vmid["message"]
    # A guest on an out-of-scope node: the refusal names neither the guest nor its node, as a read would not.
    assert by_node["message"] == "VMID 102 (vmid) is outside this server's scope: PVE_ALLOWED_NODES=pve1,pve2."
    assert "db-01" not in json.dumps(by_node) and "pve3" not in json.dumps(by_node)
    assert guarded["code"] == "PROTECTED_GUEST" and "container 203 'ct-monitor'" in guarded["message"]
    assert "pct set 203 --tags 'infra'" in guarded["hint"]


async def test_a_tag_added_a_moment_ago_protects_at_once(sim: Simulator, pve: ProxmoxClient) -> None:
    async with serve(sim, pve) as client:
        assert not (await answer(client, "pve_get_qemu_status", {"vmid": 100}))[0]  # the locator has read the cluster
        sim.state.guests[100].config["tags"] = f"prod;{TAG}"
        failed, body = await answer(client, "pve_reboot_qemu_vm", {"vmid": 100, "confirm": True})
        readable, _ = await answer(client, "pve_get_qemu_config", {"vmid": 100})
    assert failed and body["code"] == "PROTECTED_GUEST"
    assert not readable


async def test_calls_inside_the_scope_still_work(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    protect(sim)
    async with serve(sim, pve, era) as client:
        failed, started = await answer(client, "pve_start_qemu_vm", {"vmid": 103})
        assert not failed, started
        failed, created = await answer(
            client, "pve_lxc_create", valid_args(ALL_TOOL["pve_lxc_create"], vmid=150, storage="local-lvm")
        )
        assert not failed, created
        failed, members = await answer(
            client, "pve_update_pool", {"poolid": "production", "vms": "202", "confirm": True}
        )
        assert not failed, members
        # A job's schedule decides when its guests are backed up: this one backs up guests outside the scope.
        job = {"id": "backup-7fdc990e-ab4c", "schedule": "02:00", "confirm": True}
        failed, changed = await answer(client, "pve_update_backup_job", job)
        assert failed and changed["code"] == "OUT_OF_SCOPE" and "backup job" in changed["message"], changed
        sim.state.backup.jobs["backup-7fdc990e-ab4c"]["vmid"] = "100,101"
        failed, changed = await answer(client, "pve_update_backup_job", job)  # now all its guests are inside
        assert not failed, changed
        some = {"node": "pve2", "vmid": "101,200", "storage": "nfs-backup", "confirm": True}
        failed, backup = await answer(client, "pve_run_backup", some)
        assert not failed, backup
        failed, backup = await answer(client, "pve_run_backup", {"node": "pve1", "all": True, "confirm": True})
    assert failed and backup["code"] == "OUT_OF_SCOPE"
    assert sim.state.backup.jobs["backup-7fdc990e-ab4c"]["schedule"] == "02:00"
    sim.clock.advance(60)
    sim.settle()
    assert sim.state.guests[103].status == "running" and 150 in sim.state.guests


ALL_TOOL = {spec.name: spec for spec in ALL_TOOLS}
GUEST_READS = [s for s in READS if s.guest_type is not None]
NODE_READS = [s for s in READS if s.guest_type is None and "node" in reach(s)]
TASK_READS = [s for s in READS if "upid" in reach(s)]


@pytest.mark.parametrize("spec", GUEST_READS, ids=[s.name for s in GUEST_READS])
@pytest.mark.parametrize("where", ["vmid", "node"])
async def test_reading_an_out_of_scope_guest_answers_like_an_unknown_one(
    sim: Simulator, pve: ProxmoxClient, spec: ToolSpec, where: str
) -> None:
    outside = GUESTS["lxc" if spec.guest_type == "lxc" else "qemu"][where]
    async with serve(sim, pve) as client:
        _, hidden = await answer(client, spec.name, valid_args(spec, vmid=outside))
        _, unknown = await answer(client, spec.name, valid_args(spec, vmid=155))
    assert hidden["code"] == "GUEST_NOT_FOUND"
    assert json.dumps(hidden).replace(str(outside), "155") == json.dumps(unknown)


@pytest.mark.parametrize("spec", NODE_READS, ids=[s.name for s in NODE_READS])
async def test_reading_an_out_of_scope_node_answers_like_an_unknown_one(
    sim: Simulator, pve: ProxmoxClient, spec: ToolSpec
) -> None:
    async with serve(sim, pve) as client:
        _, hidden = await answer(client, spec.name, valid_args(spec, node="pve3"))
        _, unknown = await answer(client, spec.name, valid_args(spec, node="pve9"))
    assert hidden["code"] == "PROXMOX_NOT_FOUND"
    assert json.dumps(hidden).replace("pve3", "pve9") == json.dumps(unknown)
    assert not [r for r in sim.requests if "/nodes/pve3" in r.path]


@pytest.mark.parametrize("spec", TASK_READS, ids=[s.name for s in TASK_READS])
async def test_reading_an_out_of_scope_task_answers_like_an_unknown_one(
    sim: Simulator, pve: ProxmoxClient, spec: ToolSpec, era: str
) -> None:
    async with serve(sim, pve, era) as client:
        _, of_guest = await answer(client, spec.name, valid_args(spec, upid=TASK_OF_106))
        _, no_task = await answer(client, spec.name, valid_args(spec, upid=TASK_OF_106.replace(":106:", ":155:")))
        _, on_node = await answer(client, spec.name, valid_args(spec, upid=TASK_ON_PVE3))
        _, no_node = await answer(client, spec.name, valid_args(spec, upid=TASK_ON_PVE3.replace("pve3", "pve9")))
    assert of_guest["code"] == "TASK_NOT_FOUND"
    assert json.dumps(of_guest).replace(":106:", ":155:") == json.dumps(no_task)
    assert json.dumps(on_node).replace("pve3", "pve9") == json.dumps(no_node)


async def test_the_free_id_question_is_refused_outside_the_scope(sim: Simulator, pve: ProxmoxClient) -> None:
    async with serve(sim, pve) as client:
        _, taken = await answer(client, "pve_get_next_vmid", {"vmid": 106})
        _, free = await answer(client, "pve_get_next_vmid", {"vmid": 150})
    assert taken["code"] == "OUT_OF_SCOPE" and free == {"vmid": 150}


def rows(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict inside a list, at any depth."""
    if isinstance(value, dict):
        for item in value.values():
            yield from rows(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item
            yield from rows(item)


@pytest.mark.parametrize("spec", READS, ids=[s.name for s in READS])
async def test_every_list_shows_only_guests_and_nodes_inside_the_scope(
    sim: Simulator, pve: ProxmoxClient, spec: ToolSpec
) -> None:
    async with serve(sim, pve) as client:
        failed, body = await answer(client, spec.name, valid_args(spec))
    assert not failed or spec.name == "pve_get_qemu_guest_exec_status", body
    text = json.dumps(body)
    assert [name for name in OUTSIDE_NAMES if f'"{name}"' in text or f"{name} " in text] == []
    for row in rows(body):
        assert all(SCOPE.allows_vmid(int(v)) for v in str(row.get("vmid") or "").split(",") if v.isdigit()), row
        assert SCOPE.allows_node(str(row.get("node") or "pve1")), row
        task_of = str(row.get("id")) if "upid" in row else ""
        assert not task_of.isdigit() or SCOPE.allows_vmid(int(task_of)), row
    # Archives name their guest only by VMID; Ceph is one cluster-wide service, reported whole (scope.py).
    if spec.rest != Rest("GET", "/nodes/{node}/storage/{storage}/content") and spec.category != "ceph":
        assert "pve3" not in text.replace('"nodes": 3', "") and "db-01" not in text


async def test_lists_lose_exactly_the_rows_outside(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    async with serve(sim, pve, era) as client:
        _, guests = await answer(client, "pve_list_cluster_resources", {"type": "vm"})
        _, legacy = await answer(client, "listVMs", {})
        _, nodes = await answer(client, "pve_list_nodes", {})
        _, tasks = await answer(client, "pve_list_cluster_tasks", {})
        _, pool = await answer(client, "pve_get_pool", {"poolid": "production"})
    inside = {v for v, g in sim.state.guests.items() if SCOPE.allows_vmid(v) and g.node != "pve3"}
    assert {g["vmid"] for g in guests["items"]} == inside and guests["total"] == len(inside)
    assert {g["vmid"] for g in legacy["items"]} == {v for v in inside if sim.state.guests[v].type == "qemu"}
    assert {n["node"] for n in nodes["items"]} == {"pve1", "pve2"}
    assert tasks["items"] and all(t["node"] != "pve3" and t["id"] not in ("105", "106") for t in tasks["items"])
    assert {m["vmid"] for m in pool["items"][0]["members"] if "vmid" in m} == {100, 101, 103, 104}


def test_an_unrestricted_scope_leaves_results_untouched() -> None:
    data = [{"vmid": 999, "node": "elsewhere"}]
    spec = ALL_TOOL["pve_list_cluster_resources"]
    assert filter_result(Scope(), spec, data) is data
    assert filter_result(SCOPE, spec, data) == []


async def test_an_unrestricted_scope_still_protects(sim: Simulator, pve: ProxmoxClient) -> None:
    protect(sim)
    async with serve(sim, pve, scope=Scope()) as client:
        _, body = await answer(client, "pve_qemu_create_snapshot", {"vmid": 104, "snapname": "x"})
        failed, other = await answer(client, "pve_get_qemu_status", {"vmid": 108})
    assert body["code"] == "PROTECTED_GUEST" and not failed and other["vmid"] == 108
    async with serve(sim, pve, scope=Scope(protected_tag=None)) as client:
        failed, body = await answer(client, "pve_qemu_create_snapshot", {"vmid": 104, "snapname": "x"})
    assert not failed, body


async def test_rows_naming_a_guest_only_by_vmid_follow_the_guest_to_its_node(
    sim: Simulator, pve: ProxmoxClient
) -> None:
    archives = [
        {"volid": "nfs-backup:backup/vzdump-qemu-102-2025_11_24-01_00_02.vma.zst"},
        {"vmid": 100},
        {"vmid": 155},
    ]
    spec = ALL_TOOL["pve_list_backups"]
    homes = await guest_homes(SCOPE, GuestLocator(pve), archives)
    assert homes == {100: "pve1", 102: "pve3"}  # 155 is gone: it lives nowhere
    assert filter_result(SCOPE, spec, archives, homes) == [{"vmid": 100}, {"vmid": 155}]
    assert await guest_homes(Scope(vmids=((100, 199),)), GuestLocator(pve), archives) is None


async def test_pruning_every_backup_under_a_vmid_scope_says_so_in_its_own_words(
    sim: Simulator, pve: ProxmoxClient
) -> None:
    args = {"node": "pve1", "storage": "nfs-backup", "keep-last": 1, "confirm": True}
    async with serve(sim, pve) as client:
        failed, body = await answer(client, "pve_prune_backups", args)
    assert failed and body["code"] == "OUT_OF_SCOPE"
    assert "the backups of every guest on the storage" in body["message"] and "next free" not in body["message"]
    assert "vmid" in body["hint"]
    assert [r for r in sim.requests if r.method != "GET"] == []


async def test_a_backup_of_every_guest_is_refused_while_one_is_protected_unless_it_is_left_out(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    protect(sim)  # 104 and 203, both on pve2
    tag_only = Scope(protected_tag=TAG)
    call = {"method": "POST", "path": "/nodes/pve2/vzdump", "confirm": True}
    async with serve(sim, pve, era, scope=tag_only) as client:
        failed, body = await answer(client, "pve_api_call", {**call, "params": {"all": 1, "storage": "nfs-backup"}})
        assert failed and body["code"] == "PROTECTED_GUEST" and "all" in body["message"], body
        assert [r for r in sim.requests if r.method != "GET"] == []
        left_out = {"all": 1, "storage": "nfs-backup", "exclude": "104,203"}
        failed, body = await answer(client, "pve_api_call", {**call, "params": left_out})
    assert not failed, body
    assert [r.path for r in sim.requests if r.method != "GET"] == ["/nodes/pve2/vzdump"]


@pytest.mark.parametrize("digits", ["١٠٦", "１０６", "100,١٠٦"], ids=["arabic-indic", "fullwidth", "in-a-list"])
async def test_non_ascii_digits_in_a_vmid_list_are_refused_as_input(
    sim: Simulator, pve: ProxmoxClient, era: str, digits: str
) -> None:
    args = {"node": "pve1", "vmid": digits, "storage": "nfs-backup", "confirm": True}
    async with serve(sim, pve, era) as client:
        failed, body = await answer(client, "pve_run_backup", args)
    assert failed and body["code"] == "TOOL_INPUT_REJECTED" and "vmid" in body["message"].lower(), body
    assert [r for r in sim.requests if r.method != "GET"] == []


@pytest.mark.parametrize("text", ["١٠٠-١٩٩", "100-١٩٩", "１００"])
def test_a_scope_written_with_non_ascii_digits_is_a_problem(text: str) -> None:
    _, problems = parse_scope(None, text, None)
    assert problems and "PVE_ALLOWED_VMIDS" in problems[0]
