"""pve_preview: the requests a call would send, the verdict it would get, the settings it would change.

The preview takes the real call's steps up to its handler (resolve the name, validate, then the same plan:
scope, locate; server/plan.py), describes the confirmation policy instead of asking, then executes the
handler on a client that sends reads and only writes down writes, so the requests it reports are the ones
the call makes. Nothing but GETs ever reaches Proxmox.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvemcp.catalog import BY_NAME
from pvemcp.catalog.fronts import BY_FRONT
from pvemcp.catalog.spec import WAIT_DEFAULT, ToolSpec
from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError
from pvemcp.pve.upstream import Shortcuts, Upstream
from pvemcp.server.call import CONTROL_ARGS, REDACTED, Call, is_secret, redacted, wire_params
from pvemcp.server.confirm import ConfirmMode
from pvemcp.server.context import CallContext
from pvemcp.server.guard import EmptyRead
from pvemcp.server.inventory import HIDDEN, Inventory, hidden_by
from pvemcp.server.plan import Plan, Planner, plan
from pvemcp.server.rawpath import raw_request
from pvemcp.server.validation import ArgumentValidator

REFUSAL_KEYS = {ErrorCode.OUT_OF_SCOPE: "out_of_scope", ErrorCode.PROTECTED_GUEST: "protected"}
# Parameters that steer the update itself rather than set a key of the object.
NOT_KEYS = frozenset({"digest", "delete", "moveto", "append", "allow-move"})


class Recorder(Shortcuts):
    """Reads go to Proxmox through `inner` (the scope-checking client); writes are written down, answered with
    nothing."""

    def __init__(self, inner: Upstream) -> None:
        self._inner = inner
        self.writes: list[dict[str, Any]] = []

    async def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        if method.upper() == "GET":
            return await self._inner.request("GET", path, params, timeout=timeout)
        self.writes.append(described(method.upper(), path, params))
        return None


def sent(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters as Proxmox receives them: absent values dropped, booleans as 0/1."""
    return {k: int(v) if isinstance(v, bool) else v for k, v in (params or {}).items() if v is not None}


def described(method: str, path: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"method": method, "path": path, "params": sent(params)}


def _resolve(inventory: Inventory, name: str) -> tuple[ToolSpec, tuple[str, str] | None]:
    """The tool's spec, and why this caller may not call it with the filter's name (None when exposed)."""
    exposed = inventory.get(name)
    if exposed is not None:
        return exposed.spec, None
    spec = BY_NAME.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(BY_NAME), n=3, cutoff=0.5)
        raise ToolCallError(
            ErrorCode.TOOL_INPUT_REJECTED,
            f"No tool is named {name[:80]!r}" + (f"; did you mean {', '.join(close)}?" if close else "."),
            "Pass the name of a tool as tools/list shows it.",
        )
    policy = inventory.policy
    why = hidden_by(spec, policy)
    if why is None:  # exposed under its own name only
        return spec, (f"aliases are off on this server (PVE_ALIASES=off); call it as {spec.name}", "aliases")
    return spec, (f"{HIDDEN[why](spec, policy)}, so the tool is not offered to this client", why)


def confirmation(mode: ConfirmMode, ctx: CallContext) -> str:
    if mode is ConfirmMode.FLAG:
        return "flag: call with confirm=true, only after the user agreed"
    if mode is ConfirmMode.ELICIT:
        if ctx.can_elicit:
            return "human: pvemcp asks the user itself before it runs; confirm=true alone does not count"
        return "human: pvemcp must ask the user, and this client cannot answer such questions, so it would not run"
    if ctx.can_elicit:
        return "flag or human: confirm=true once the user agreed, or pvemcp asks the user when it is missing"
    return "flag: call with confirm=true, only after the user agreed"


def main_request(spec: ToolSpec, args: dict[str, Any]) -> dict[str, Any]:
    """The tool's own request, worked out without running its handler."""
    if spec.raw:
        return described(*raw_request(spec, args))
    path = wire.expand_path(spec.path, {name: args[name] for name in spec.placeholders if name in args})
    return described(spec.method, path, wire_params(spec, args))


def _names(value: Any) -> list[str]:
    return [item for item in str(value or "").replace(";", ",").replace(" ", ",").split(",") if item]


@dataclass(frozen=True, slots=True)
class Source:
    """Where the current object lives, when the update's own path is not readable as it is."""

    path: str
    query: Mapping[str, str] | None = None  # Proxmox parameter -> argument
    pick: str | None = None  # the answer is a list: take the item whose key equals the argument of this name
    fixed: Mapping[str, Any] | None = None


SAME = Source("")
SOURCES: dict[str, Source] = {
    "/nodes/{node}/qemu/{vmid}/config": SAME,
    "/nodes/{node}/lxc/{vmid}/config": SAME,
    "/storage/{storage}": SAME,
    "/cluster/backup/{id}": SAME,
    "/cluster/firewall/options": SAME,
    "/nodes/{node}/{guest_type}/{vmid}/firewall/options": SAME,
    "/nodes/{node}/network/{iface}": SAME,
    "/cluster/firewall/rules/{pos}": Source("/cluster/firewall/rules", pick="pos"),
    "/nodes/{node}/{guest_type}/{vmid}/firewall/rules/{pos}": Source(
        "/nodes/{node}/{guest_type}/{vmid}/firewall/rules", pick="pos"
    ),
    "/access/users/{userid}": Source("/access/users", pick="userid", fixed={"full": 1}),
    "/pools": Source("/pools", query={"poolid": "poolid"}, pick="poolid"),
}


async def current_object(client: Upstream, spec: ToolSpec, args: Mapping[str, Any]) -> dict[str, Any] | None:
    source = SOURCES.get(spec.path)
    if source is None:
        return None
    template = source.path or spec.path
    path = wire.expand_path(template, {k: v for k, v in args.items() if "{" + k + "}" in template})
    query = {**(source.fixed or {}), **{k: args[a] for k, a in (source.query or {}).items() if a in args}}
    data = await client.get(path, query or None)
    if source.pick is not None:
        data = next(
            (i for i in data or [] if isinstance(i, dict) and str(i.get(source.pick)) == str(args[source.pick])), None
        )
    if isinstance(data, dict) and "members" in data:  # a pool: its members as the lists pve_update_pool sets
        members = [m for m in data["members"] if isinstance(m, dict)]
        data = {
            **{k: v for k, v in data.items() if k != "members"},
            "vms": ",".join(str(m["vmid"]) for m in members if m.get("vmid") is not None),
            "storage": ",".join(str(m["storage"]) for m in members if m.get("type") == "storage"),
        }
    return data if isinstance(data, dict) else None


def config_diff(
    spec: ToolSpec, before: Mapping[str, Any], params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """{key: {before, after}} for every key the request changes or deletes, secrets redacted; keys it
    sends with their current value (a composite keeps some that way) are listed as unchanged."""
    changes: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        if key in NOT_KEYS or key in CONTROL_ARGS:
            continue
        after = value
        if spec.path == "/pools" and key in ("vms", "storage"):  # members are added, or removed with delete
            old, given = _names(before.get(key)), _names(value)
            removing = bool(params.get("delete"))
            after = ",".join(
                [i for i in old if i not in given] if removing else old + [i for i in given if i not in old]
            )
        changes[key] = {"before": before.get(key), "after": after}
    delete = spec.param("delete")
    if delete is not None and delete.type == "string":
        for key in _names(params.get("delete")):
            changes[key] = {"before": before.get(key), "after": None}
    diff: dict[str, Any] = {}
    unchanged = []
    for key, change in changes.items():
        if _same(change["before"], change["after"]):
            unchanged.append(key)
        else:
            diff[key] = {side: REDACTED if is_secret(key, v) else v for side, v in change.items()}
    return diff, unchanged


def _same(before: Any, after: Any) -> bool:
    """Proxmox answers 1 where 1, "1" or true was sent."""
    if before is None or after is None:
        return before is after
    return wire.encode_value(before) == wire.encode_value(after)


def verdict_for(
    planner: Planner, ctx: CallContext, spec: ToolSpec, planned: Plan | None, hidden: tuple[str, str] | None
) -> dict[str, Any]:
    """The policy's answer for this caller: exposure, scope and protection, confirmation (no plan: the call
    reads a list filtered by a guest outside the scope, which pvemcp answers itself)."""
    verdict: dict[str, Any] = {"allowed": hidden is None, "tier": spec.tier.label}
    if hidden is not None:
        verdict.update(reason=hidden[0], hidden_by=hidden[1])
    if planned is None:
        verdict["answer"] = "an empty list: the guest it filters by is not within this server's scope"
        return verdict
    if planned.refusal is not None:
        verdict.update(allowed=False, **{REFUSAL_KEYS[planned.refusal.code]: True})
        verdict.setdefault("reason", planned.refusal.message)
    verdict["needs_confirmation"] = spec.confirm
    if spec.confirm:
        verdict["confirmation"] = confirmation(planner.confirm_mode, ctx)
    return verdict


async def planned_requests(
    planner: Planner, call: Call, planned: Plan, verdict: dict[str, Any], notes: list[str]
) -> list[dict[str, Any]]:
    """The requests the call sends: a write tool's handler runs on the recorder when it is allowed. A handler that
    refuses the call (its own checks, e.g. a migration's preflight) turns the verdict into "would be refused"."""
    spec, args, allowed = planned.spec, planned.args, verdict["allowed"]
    if spec.ssh:  # described in `ssh_commands`, never run: a preview executes nothing on a node
        notes.append("Runs over SSH on the node, not through the Proxmox API; ssh_commands are the exact argv.")
        return []
    if not spec.api:
        notes.append("pvemcp answers this tool itself; it sends no request of its own to Proxmox.")
        return []
    if spec.read_only or not allowed:  # not allowed: nothing is read on the caller's behalf
        if spec.handler:
            notes.append(f"A composite ({spec.handler}): the main request is shown; pvemcp may make others.")
        return [main_request(spec, args)]
    # The reads the handler makes pass the scope like the real call's (call.client checks each one).
    recorder = Recorder(call.client)
    try:
        await planner.execute(planned, recorder, call.ctx)
    except ToolCallError as exc:  # refused before it writes anything: the real call would get the same answer
        verdict.update(allowed=False, refused=True, reason=f"would be refused: {exc.message}", code=str(exc.code))
        if exc.hint:
            verdict["hint"] = exc.hint
        notes.append("Its own checks refuse this call before it sends anything; the request is the one it aims at.")
        return [main_request(spec, args)]
    except PveMcpError:
        raise  # the real call fails the same way
    except Exception:  # a handler that needed a write's answer: what it had sent so far is all we know
        notes.append("Later requests depend on Proxmox's answers to the first ones.")
    if spec.handler:
        notes.append(f"A composite ({spec.handler}): pvemcp also reads from Proxmox to build these requests.")
    return recorder.writes


async def preview(planner: Planner, call: Call) -> dict[str, Any]:
    """pve_preview: describe the call `tool(arguments)` as this server would carry it out, and do nothing."""
    name = str(call.args["tool"])
    arguments: Mapping[str, Any] = call.args.get("arguments") or {}
    via = None
    if planner.inventory.get(name) is None and name in BY_FRONT:  # a consolidated tool: its operation
        routed = await planner.fronts.route(name, arguments, planner.scope, planner.locator, hidden_too=True)
        name, arguments, via = routed.spec.name, routed.args, f"{routed.front} action={routed.action}"
    spec, hidden = _resolve(planner.inventory, name)
    validator = planner.validators.get(spec.name) or ArgumentValidator(spec)
    args = validator.validate(arguments)
    result: dict[str, Any] = {"tool": spec.name}
    if name != spec.name:
        result["called_as"] = name
    if via is not None:
        result["via"] = via
    planned: Plan | None = None
    with contextlib.suppress(EmptyRead):
        planned = await plan(planner, spec, args, keep_refusal=True)
    if planned is not None and planned.target is not None:
        result["target"] = planned.target.describe()
    verdict = result["verdict"] = verdict_for(planner, call.ctx, spec, planned, hidden)
    if spec.ssh:
        from pvemcp.server.composites.remote import planned_commands

        result["ssh_commands"] = planned_commands(spec.name, args)
    notes: list[str] = []
    # pvemcp answers an empty read without asking Proxmox
    requests = [] if planned is None else await planned_requests(planner, call, planned, verdict, notes)
    result["requests"] = [{**r, "params": redacted(r["params"])} for r in requests]
    if spec.returns_task:
        wait = int(args.get("wait_seconds", WAIT_DEFAULT))
        result["waits_for_task_seconds"] = wait
        notes.append(
            f"Proxmox runs this as a task; pvemcp waits up to {wait} s for it and reports how it ended."
            if wait
            else "Proxmox runs this as a task; pvemcp returns its UPID at once."
        )
    main = next((r for r in requests if r["method"] == "PUT"), None)
    own = spec.rest
    if own is not None and own.method == "PUT" and own.path in SOURCES and verdict["allowed"] and main is not None:
        try:
            before = await current_object(call.client, spec, args)
        except PveMcpError as exc:
            notes.append(f"No diff: reading the current settings failed ({exc.message}).")
        else:
            if before is not None:
                result["diff"], unchanged = config_diff(spec, before, main["params"])
                if unchanged:
                    result["unchanged"] = unchanged
    if notes:
        result["notes"] = notes
    return result
