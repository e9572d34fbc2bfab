"""The scope promise, proven by generation: whatever an assistant sends, no request that reaches Proxmox
addresses or changes a guest or node outside the scope, or changes a protected guest.

Hypothesis draws batches of calls: raw calls inside and outside the modelled table with values of every shape
(floats, lists, objects, NaN, non-ASCII digits, VMID lists), and catalog calls with random targets. Each batch
runs on a fresh simulated cluster in both protocol eras and in flag and elicit confirmation modes (a person who
approves everything: the scope alone must hold). The oracle is the simulator's own record of what each request
it received addressed and changed, its tasks' later effects included (sim/effects.py), not our own reasoning.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.client.context import ClientRequestContext

from pvemcp.catalog import ALL_TOOLS
from pvemcp.catalog.spec import ToolSpec
from pvemcp.server.confirm import ConfirmMode
from pvemcp.server.scope import Scope
from pvemcp.sim import Simulator
from pvemcp.sim.effects import Target
from tests.conftest import CANARY, client_for, mcp_client
from tests.test_scope import valid_args

TAG = "pvemcp-protected"
NODES = frozenset({"pve1", "pve2"})
SCOPE = Scope(nodes=NODES, vmids=((100, 104), (150, 159), (200, 203)), protected_tag=TAG)
PROTECTED = (104, 203)  # on pve2, inside the scope's VMIDs and nodes
# In scope; outside by VMID; in range but on pve3; protected; new IDs inside and outside; unknown.
VMIDS = (100, 101, 103, 202, 106, 205, 102, 201, 104, 203, 150, 160, 999)
NODE_NAMES = ("pve1", "pve2", "pve3")
BATCH = 16
# × BATCH calls × 2 eras × 2 confirmation modes = 10,240 calls; fewer for a quick local look.
EXAMPLES = int(os.environ.get("PVEMCP_INVARIANT_EXAMPLES", "160"))
COMBOS = (("legacy", ConfirmMode.FLAG), ("legacy", ConfirmMode.ELICIT), ("2026-07-28", ConfirmMode.FLAG),
          ("2026-07-28", ConfirmMode.ELICIT))  # fmt: skip


def upid(node: str, vmid: int) -> str:
    return f"UPID:{node}:00001234:00ABCDEF:69248100:qmstart:{vmid}:root@pam:"


# Values: a target as it should be written, and every shape that once slipped past a guard.
def vmid_shapes(vmid: int) -> st.SearchStrategy[Any]:
    arabic = "".join(chr(0x0660 + int(d)) for d in str(vmid))
    return st.sampled_from([
        vmid, str(vmid), float(vmid), [vmid], [str(vmid)], {"id": vmid}, f"{vmid}.0", arabic, f" {vmid}", True,
        f"{vmid},{VMIDS[0]}", f"vm:{vmid}", f"{vmid}-0", math.nan, math.inf,
    ])  # fmt: skip


def node_shapes(node: str) -> st.SearchStrategy[Any]:
    return st.sampled_from([node, [node], {"node": node}, node.upper(), f"{node},pve1", 1])


VMID = st.sampled_from(VMIDS)
NODE = st.sampled_from(NODE_NAMES)
ANY_VMID_VALUE = VMID.flatmap(vmid_shapes)
ANY_NODE_VALUE = NODE.flatmap(node_shapes)
PARAM_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{name: ANY_VMID_VALUE for name in ("vmid", "vms", "newid", "target-vmid", "exclude", "sid", "id", "guest")},
    **{name: ANY_NODE_VALUE for name in ("target", "node", "nodes", "target_node", "source")},
    "all": st.sampled_from([True, 1, "1", [True], 1.0, False]),
    "pool": st.sampled_from(["production", ["production"]]),
    "archive": VMID.map(lambda v: f"nfs-backup:backup/vzdump-qemu-{v}-2025_11_24-01_00_02.vma.zst"),
    "resources": VMID.map(lambda v: f"vm:{v},vm:100"),
    "force": st.sampled_from([1, True]),
    "storage": st.sampled_from(["local-lvm", "nfs-backup"]),
    "timeout": st.integers(0, 60),
    "tags": st.sampled_from(["web", TAG]),
    "command": st.sampled_from(["reboot", "shutdown"]),
}
PATHS = (
    "/nodes/{n}/qemu/{v}/status/stop", "/nodes/{n}/qemu/{v}/status/start", "/nodes/{n}/qemu/{v}/config",
    "/nodes/{n}/lxc/{v}/status/start", "/nodes/{n}/lxc/{v}/config", "/nodes/{n}/qemu/{v}/clone",
    "/nodes/{n}/qemu/{v}/migrate", "/nodes/{n}/qemu/{v}/move_disk", "/nodes/{n}/qemu/{v}/snapshot",
    "/nodes/{n}/qemu/{v}/remote_migrate", "/nodes/{n}/qemu", "/nodes/{n}/lxc", "/nodes/{n}/vzdump",
    "/nodes/{n}/stopall", "/nodes/{n}/startall", "/nodes/{n}/suspendall", "/nodes/{n}/migrateall",
    "/nodes/{n}/status", "/nodes/{n}/storage/local-lvm/content", "/nodes/{n}/storage/nfs-backup/prunebackups",
    "/nodes/{n}/storage/local-lvm/content/local-lvm:vm-{v}-disk-0", "/cluster/ha/resources",
    "/cluster/ha/resources/vm:{v}", "/cluster/ha/resources/vm:{v}/migrate", "/cluster/ha/rules",
    "/cluster/replication", "/cluster/replication/{v}-0", "/nodes/{n}/replication/{v}-0/schedule_now",
    "/nodes/{n}/replication/{v}-0/status", "/cluster/backup", "/pools", "/pools/production",
    "/cluster/bulk-action/guest/start", "/cluster/bulk-action/guest/shutdown", "/cluster/sdn",
    "/nodes/{n}/network", "/nodes/{n}/services/cron/restart", "/nodes/{n}/execute", "/nodes/{n}/termproxy",
    "/cluster/config/join", "/nodes/{n}/tasks/{upid}", "/nodes/{n}/tasks/{upid}/log", "/access/users",
    "/nodes/{n}/qemu/{v}/agent/file-read", "/nodes/{n}/qemu/{v}/agent/ping", "/nodes/{n}/tasks",
    "/cluster/nextid", "/nodes/{n}/storage/nfs-backup/content",
)  # fmt: skip


@st.composite
def raw_call(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    node, vmid, path = draw(NODE), draw(VMID), draw(st.sampled_from(PATHS))
    path = path.format(n=node, v=vmid, upid=upid(draw(NODE), draw(VMID)))
    names = draw(st.lists(st.sampled_from(sorted(PARAM_VALUES)), max_size=4, unique=True))
    params = {name: draw(PARAM_VALUES[name]) for name in names}
    method = draw(st.sampled_from(["POST", "PUT", "DELETE", "GET"]))
    if method == "GET":
        return "pve_api_get", {"path": path, "params": params}
    return "pve_api_call", {"method": method, "path": path, "params": params}


# Catalog tools with random targets: every tool that names a guest, node, task or list.
CATALOG = [s for s in ALL_TOOLS if s.api and not s.raw and not s.ssh]
TARGETED = ("vmid", "newid", "node", "target", "vms", "sid", "id", "upid", "all", "archive", "volume", "guest")


def _target(spec: ToolSpec, name: str, draw: st.DrawFn) -> Any:
    param = spec.param(name)
    assert param is not None
    vmid, node = draw(VMID), draw(NODE)
    if name in ("node", "target"):
        return node
    if name == "upid":
        return upid(node, vmid)
    if name == "all":
        return draw(st.booleans())
    if name == "sid":
        return f"vm:{vmid}"
    if name == "id" and "/replication" in spec.path:
        return f"{vmid}-0"
    if name in ("archive", "volume"):
        return f"nfs-backup:backup/vzdump-qemu-{vmid}-2025_11_24-01_00_02.vma.zst"
    if param.type == "string" and name in ("vmid", "vms"):
        return ",".join(str(v) for v in draw(st.lists(VMID, min_size=1, max_size=3)))
    if param.type == "integer":
        return draw(st.sampled_from([vmid, float(vmid)]))
    return None


@st.composite
def catalog_call(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    spec = draw(st.sampled_from(CATALOG))
    args = valid_args(spec)
    for name in (p.name for p in spec.all_params if p.name in TARGETED):
        if draw(st.booleans()) or name in ("vmid", "node", "upid", "sid"):
            value = _target(spec, name, draw)
            if value is None:
                continue
            args[name] = value
    if draw(st.booleans()):
        args.pop("node", None)
    return spec.name, args


CALLS = st.lists(st.one_of(raw_call(), catalog_call()), min_size=BATCH, max_size=BATCH)


@dataclass
class Tally:
    calls: int = 0
    requests: int = 0
    violations: list[str] = field(default_factory=list)


TALLY = Tally()


def forbidden(sim: Simulator, homes: dict[int, str], target: Target, changed: bool) -> str | None:
    """Why touching `target` breaks the promise, or None. `homes`: where each guest lived at the start."""
    if target[0] == "node":
        return None if target[1] in NODES else "a node outside the scope"
    vmid = target[1]
    if not SCOPE.allows_vmid(vmid):
        return "a VMID outside the scope"
    home = homes.get(vmid) or (sim.state.guests[vmid].node if vmid in sim.state.guests else None)
    if home is not None and home not in NODES:
        return "a guest on a node outside the scope"
    if changed and vmid in PROTECTED:
        return "a protected guest"
    return None


def person(approve: bool) -> Any:
    async def answer(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"approve": approve})

    return answer


async def run_batch(calls: list[tuple[str, dict[str, Any]]], era: str, mode: ConfirmMode) -> None:
    sim = Simulator(token_secret=CANARY)
    for vmid in PROTECTED:
        guest = sim.state.guests[vmid]
        guest.config["tags"] = f"{guest.config.get('tags', '')};{TAG}".strip(";")
    sim.record_effects = True  # from here on, every change is someone's
    homes = {vmid: guest.node for vmid, guest in sim.state.guests.items()}
    background = set(sim.background_changes)
    pve = client_for(sim)
    try:
        async with mcp_client(pve, sim, era, scope=SCOPE, confirm_mode=mode, person=person(True)) as client:
            for name, args in calls:
                sent = {**args, "confirm": True} if mode is ConfirmMode.FLAG and name != "pve_api_get" else args
                await client.call_tool(name, sent)
        sim.clock.advance(3600)  # every task started finishes, and its effects are recorded
        sim.settle()
    finally:
        await pve.aclose()
    TALLY.calls += len(calls)
    TALLY.requests += len(sim.requests)
    for request in sim.requests:
        for target in request.reads | request.changes:
            why = forbidden(sim, homes, target, target in request.changes)
            if why is not None:
                TALLY.violations.append(f"{era}/{mode}: {request.method} {request.path} touched {target}: {why}")
    # What the cluster does by itself (HA manager, replication schedule) is nobody's request; beyond what it
    # does with no calls at all over the same time, it must not change anything outside either.
    control = Simulator(token_secret=CANARY, record_effects=True)
    control.clock.advance(sim.clock.now() - control.clock.now())
    control.settle()
    for target in (sim.background_changes - background) - control.background_changes:
        why = forbidden(sim, homes, target, True)
        if why is not None:
            TALLY.violations.append(f"{era}/{mode}: {target} changed later, by nobody's request: {why}")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(calls=CALLS)
def test_no_request_that_reaches_proxmox_touches_anything_outside_the_scope(calls: list[tuple[str, Any]]) -> None:
    before = len(TALLY.violations)
    for era, mode in COMBOS:
        anyio.run(run_batch, calls, era, mode)
    assert TALLY.violations[before:] == []


def test_the_invariant_ran_on_enough_calls() -> None:
    """Runs after the generated test (file order): the figures the closing note reports."""
    if TALLY.calls == 0:
        pytest.skip("the generated test did not run in this session")
    print(f"\nscope invariant: {TALLY.calls} calls, {TALLY.requests} requests, {len(TALLY.violations)} violations")
    assert TALLY.calls >= BATCH * len(COMBOS) * EXAMPLES >= 10_000 or "PVEMCP_INVARIANT_EXAMPLES" in os.environ
    assert TALLY.violations == []
