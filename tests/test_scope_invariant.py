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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

import anyio
import mcp_types as types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.client.context import ClientRequestContext

from pvemcp.catalog import ALL_TOOLS, BY_NAME
from pvemcp.catalog.spec import ToolSpec
from pvemcp.server.confirm import ConfirmMode
from pvemcp.server.scope import Scope
from pvesim import Simulator
from pvesim.recorded import Target
from tests.conftest import CANARY, client_for, mcp_client
from tests.test_scope import valid_args

TAG = "pvemcp-protected"
NODES = frozenset({"pve1", "pve2"})
SCOPE = Scope(nodes=NODES, vmids=((100, 104), (150, 159), (200, 203)), protected_tag=TAG)
PROTECTED = (104, 203)  # on pve2, inside the scope's VMIDs and nodes
# In scope; outside by VMID; in range but on pve3; protected; new IDs inside and outside; unknown.
VMIDS = (100, 101, 103, 202, 106, 205, 102, 201, 104, 203, 150, 160, 999)
NODE_NAMES = ("pve1", "pve2", "pve3")
BATCH = 4
# × BATCH calls × 2 eras × 2 confirmation modes = 10,240 calls; fewer for a quick local look.
EXAMPLES = int(os.environ.get("PVEMCP_INVARIANT_EXAMPLES", "640"))
COMBOS = (("legacy", ConfirmMode.FLAG), ("legacy", ConfirmMode.ELICIT), ("2026-07-28", ConfirmMode.FLAG),
          ("2026-07-28", ConfirmMode.ELICIT))  # fmt: skip


def upid(node: str, vmid: int) -> str:
    return f"UPID:{node}:00001234:00ABCDEF:69248100:qmstart:{vmid}:root@pam:"


# Hypothesis draws the seed of each batch; the calls are then drawn uniformly from it, so that 10,000 calls
# are mostly different ones (strategies for each value favour a few simple ones and repeat them).


def vmid_value(rnd: Random) -> Any:
    """Mostly well-formed values, which reach Proxmox; then every shape that once slipped past a guard."""
    vmid = rnd.choice(VMIDS)
    if rnd.random() < 0.7:
        return rnd.choice([vmid, str(vmid), f"{vmid},{rnd.choice(VMIDS)}", f"vm:{vmid}", f"{vmid}-0"])
    arabic = "".join(chr(0x0660 + int(d)) for d in str(vmid))
    return rnd.choice([float(vmid), [vmid], [str(vmid)], {"id": vmid}, f"{vmid}.0", arabic, f" {vmid}", True,
                       math.nan, math.inf])  # fmt: skip


def node_value(rnd: Random) -> Any:
    node = rnd.choice(NODE_NAMES)
    if rnd.random() < 0.7:
        return rnd.choice([node, f"{node},{rnd.choice(NODE_NAMES)}"])
    return rnd.choice([[node], {"node": node}, node.upper(), 1])


def backup_of(vmid: int) -> str:
    return f"nfs-backup:backup/vzdump-qemu-{vmid}-2025_11_24-01_00_02.vma.zst"


PARAM_VALUES: dict[str, Callable[[Random], Any]] = {
    **dict.fromkeys(("vmid", "vms", "newid", "target-vmid", "exclude", "sid", "id", "guest"), vmid_value),
    **dict.fromkeys(("target", "node", "nodes", "target_node", "source"), node_value),
    "all": lambda r: r.choice([True, 1, "1", [True], 1.0, False]),
    "pool": lambda r: r.choice(["production", ["production"]]),
    "archive": lambda r: backup_of(r.choice(VMIDS)),
    "resources": lambda r: f"vm:{r.choice(VMIDS)},vm:100",
    "force": lambda r: r.choice([1, True]),
    "storage": lambda r: r.choice(["local-lvm", "nfs-backup"]),
    "timeout": lambda r: r.randint(0, 60),
    "tags": lambda r: r.choice(["web", TAG]),
    "command": lambda r: r.choice(["reboot", "shutdown"]),
    "upid": lambda r: upid(r.choice(NODE_NAMES), r.choice(VMIDS)),
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
    "/nodes/{n}/replication/{v}-0/status", "/cluster/backup", "/cluster/backup/backup-7fdc990e-ab4c", "/pools",
    "/pools/production", "/cluster/bulk-action/guest/start", "/cluster/bulk-action/guest/shutdown", "/cluster/sdn",
    "/nodes/{n}/network", "/nodes/{n}/services/cron/restart", "/nodes/{n}/execute", "/nodes/{n}/termproxy",
    "/cluster/config/join", "/nodes/{n}/tasks/{upid}", "/nodes/{n}/tasks/{upid}/log", "/access/users",
    "/access/acl", "/nodes/{n}/qemu/{v}/agent/file-read", "/nodes/{n}/qemu/{v}/agent/ping", "/nodes/{n}/tasks",
    "/cluster/nextid", "/nodes/{n}/storage/nfs-backup/content",
)  # fmt: skip
# The parameters that matter on an endpoint, drawn more often than the rest.
RELEVANT = {
    "vzdump": ("vmid", "all", "pool", "exclude"), "all": ("vms",), "migrateall": ("vms", "target"),
    "clone": ("newid", "target"), "migrate": ("target", "node"), "move_disk": ("target-vmid",),
    "/qemu": ("vmid", "archive", "force"), "/lxc": ("vmid", "force"), "ha/resources": ("sid", "node"),
    "ha/rules": ("resources", "nodes"), "replication": ("id", "target", "source"),
    "cluster/backup": ("vmid", "all", "pool", "node", "exclude"), "pools": ("vms",), "bulk-action": ("vms", "target"),
    "prunebackups": ("vmid",), "content": ("vmid", "target", "target_node"), "nextid": ("vmid",),
    "tasks": ("vmid", "upid", "source"),
}  # fmt: skip


def raw_call(rnd: Random) -> tuple[str, dict[str, Any]]:
    template = rnd.choice(PATHS)
    path = template.format(n=rnd.choice(NODE_NAMES), v=rnd.choice(VMIDS), upid=PARAM_VALUES["upid"](rnd))
    relevant = sorted({name for key, names in RELEVANT.items() if key in template for name in names})
    names = rnd.sample(relevant, rnd.randint(0, min(3, len(relevant))))
    others = sorted(set(PARAM_VALUES) - set(names))
    names += rnd.sample(others, rnd.randint(0, 2))
    params = {name: PARAM_VALUES[name](rnd) for name in names}
    if "acl" in template:
        params["path"] = rnd.choice(["/vms/{}", "/nodes/pve{}"]).format(rnd.choice(VMIDS) % 4)
    method = rnd.choice(["POST", "PUT", "DELETE", "GET"])
    if method == "GET":
        return "pve_api_get", {"path": path, "params": params}
    return "pve_api_call", {"method": method, "path": path, "params": params}


# Catalog tools with random targets: every tool that names a guest, node, task or list.
CATALOG = [s for s in ALL_TOOLS if s.api and not s.raw and not s.ssh]
TARGETED = ("vmid", "newid", "node", "target", "vms", "sid", "id", "upid", "all", "archive", "volume", "guest", "path")


def _target(spec: ToolSpec, name: str, rnd: Random) -> Any:
    param = spec.param(name)
    assert param is not None
    vmid, node = rnd.choice(VMIDS), rnd.choice(NODE_NAMES)
    if name in ("node", "target"):
        return node
    if name == "upid":
        return upid(node, vmid)
    if name == "all":
        return rnd.random() < 0.5
    if name == "sid":
        return f"vm:{vmid}"
    if name == "id" and "/replication" in spec.path:
        return f"{vmid}-0"
    if name in ("archive", "volume"):
        return backup_of(vmid)
    if name == "path" and spec.path.startswith("/access"):
        return f"/vms/{vmid}"
    if param.type == "string" and name in ("vmid", "vms"):
        return ",".join(str(rnd.choice(VMIDS)) for _ in range(rnd.randint(1, 3)))
    if param.type == "integer":
        return rnd.choice([vmid, float(vmid)])
    return None


def catalog_call(rnd: Random) -> tuple[str, dict[str, Any]]:
    spec = rnd.choice(CATALOG)
    args = valid_args(spec)
    for name in (p.name for p in spec.all_params if p.name in TARGETED):
        if rnd.random() < 0.5 or name in ("vmid", "node", "upid", "sid"):
            value = _target(spec, name, rnd)
            if value is not None:
                args[name] = value
    node = spec.param("node")
    if node is not None and not node.required and rnd.random() < 0.5:
        args.pop("node", None)  # found from the vmid or the UPID
    return spec.name, args


def batch(rnd: Random) -> list[tuple[str, dict[str, Any]]]:
    return [raw_call(rnd) if rnd.random() < 0.5 else catalog_call(rnd) for _ in range(BATCH)]


CALLS = st.randoms(use_true_random=True).map(batch)


@dataclass
class Tally:
    calls: int = 0
    requests: int = 0
    violations: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)


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
                confirmable = BY_NAME[name].confirm and mode is ConfirmMode.FLAG
                sent = {**args, "confirm": True} if confirmable else args
                result = await client.call_tool(name, sent)
                content = result.structured_content or {}
                TALLY.outcomes[str(content.get("code", "ok")) if result.is_error else "ok"] += 1
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
    print("outcomes:", ", ".join(f"{code} {n}" for code, n in TALLY.outcomes.most_common()))
    assert TALLY.calls >= BATCH * len(COMBOS) * EXAMPLES >= 10_000 or "PVEMCP_INVARIANT_EXAMPLES" in os.environ
    assert TALLY.violations == []
