"""The consolidated surface served: each front's listing, built once per policy, and a call routed to its operation.

A front lists only the actions whose operation this policy exposes (tier, module, categories, lists, SSH), and
is listed only when it has one. Routing turns `{action, ...}` into the operation's own arguments; the call
then takes the one dispatch path under the operation's name (server/dispatch.py).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from pvemcp.catalog import BY_NAME
from pvemcp.catalog.fronts import BY_FRONT, CANONICAL, FRONTS, STANDALONE, Action, Front
from pvemcp.catalog.monitoring import TIMEFRAMES
from pvemcp.catalog.spec import PAGING, WAIT, Param, ToolSpec
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError
from pvemcp.server.concise import concise
from pvemcp.server.inventory import HIDDEN, Inventory, hidden_by
from pvemcp.server.listing import tool_definition
from pvemcp.server.resolve import Locator
from pvemcp.server.scope import Scope
from pvemcp.server.validation import rejected

FORMATS = ("concise", "detailed")
RESPONSE_FORMAT = Param(
    "response_format",
    "string",
    "concise (default): readable sizes and times, percentages; detailed: Proxmox's own fields.",
    enum=FORMATS,
)
TIMEFRAME = Param("timeframe", "string", "Default: hour.", enum=TIMEFRAMES)
GUEST_KIND = Param("type", "string", "qemu (VM) or lxc (container); default: the vmid's.", enum=("qemu", "lxc"))
UNIT = re.compile(r"\b(MiB|GiB|seconds|bytes/s)\b")
TOOL_NAME = re.compile(r"\bpve_[a-z0-9_]+\b")
ACTION_HINT = "Pass action as one of the listed values; each action's arguments are in the tool's description."
# An operation's own parameter whose name the front's selector takes: a firewall rule's action (ACCEPT…).
RENAMED = {"action": "rule_action"}
# Added by pvemcp to the operations' schemas; named once per front, never in an action's signature.
OWN = frozenset({"confirm", "wait_seconds", *(p.name for p in PAGING)})


@dataclass(frozen=True, slots=True)
class Offered:
    """A front as one policy exposes it: the actions it keeps, each with the variants it keeps."""

    front: Front
    actions: Mapping[str, Mapping[str, ToolSpec]]  # action -> variant -> operation

    def specs(self) -> list[ToolSpec]:
        return list({s.name: s for variants in self.actions.values() for s in variants.values()}.values())


@dataclass(frozen=True, slots=True)
class Routed:
    front: str
    action: str
    spec: ToolSpec
    args: dict[str, Any]
    response_format: str  # concise or detailed


def _offer(front: Front, inventory: Inventory | None) -> Offered | None:
    """The front as the policy exposes it; with no inventory, the whole of it (pve_preview explains what is hidden)."""
    actions: dict[str, dict[str, ToolSpec]] = {}
    for action in front.actions:
        variants = {}
        for variant, op in action.ops.items():
            exposed = inventory.get(op) if inventory is not None else None
            if exposed is not None and exposed.alias_of is None:
                variants[variant] = exposed.spec
            elif inventory is None and op in BY_NAME:
                variants[variant] = BY_NAME[op]
        if variants:
            actions[action.name] = variants
    return Offered(front, actions) if actions else None


@functools.cache
def _whole(name: str) -> Offered | None:
    """A front with every action, whatever the policy: built once, for pve_preview."""
    return _offer(BY_FRONT[name], None)


def _signature(name: str, specs: list[ToolSpec], declared: set[str]) -> str:
    """`clone(newid, name, target…)`: the action's own arguments, required ones marked with *, units where the
    parameter has one (`memory MiB`); `!` after an action that needs confirm=true."""
    seen: dict[str, bool] = {}
    units: dict[str, str] = {}
    for spec in specs:
        for p in spec.params:
            if p.name not in declared and p.name not in OWN:
                shown = RENAMED.get(p.name, p.name)
                seen[shown] = seen.get(shown, True) and p.required
                unit = UNIT.search(p.description)
                if unit is not None and p.type in ("integer", "number"):
                    units[shown] = unit.group(1)
    args = ", ".join(f"{n}{'*' if req else ''}{' ' + units[n] if n in units else ''}" for n, req in seen.items())
    mark = "!" if any(spec.confirm for spec in specs) else ""
    return f"{name}{mark}({args})" if args else f"{name}{mark}"


def _schema(offered: Offered) -> tuple[dict[str, Any], set[str]]:
    front = offered.front
    specs = offered.specs()
    actions = list(offered.actions)
    properties: dict[str, Any] = {}
    if len(front.actions) > 1:  # a front for one question takes no action
        properties["action"] = {"type": "string", "enum": actions}
        if front.default in offered.actions:
            properties["action"]["description"] = f"Default: {front.default}."
    declared: set[str] = {"action"}
    for name in front.shared:
        param = next((p for s in specs for p in s.params if p.name == name), None)
        if param is not None:
            properties[name] = param.json_schema()
            declared.add(name)
    selectors = {by for name in actions for by in _action(front, name).by}
    creating = [
        variants
        for name, variants in offered.actions.items()
        if "type" in _action(front, name).by and all(s.guest_type is None for s in variants.values())
    ]
    if creating:
        properties["type"] = GUEST_KIND.json_schema()
        declared.add("type")
    if "timeframe" in selectors:
        properties["timeframe"] = TIMEFRAME.json_schema()
        declared.add("timeframe")
    if any(s.read_only for s in specs):
        properties["response_format"] = RESPONSE_FORMAT.json_schema()
        declared.add("response_format")
    if any(s.paged for s in specs):
        properties.update({p.name: p.json_schema() for p in PAGING})
    if any(s.returns_task for s in specs):
        properties[WAIT.name] = WAIT.json_schema()
    if any(s.confirm for s in specs):
        properties["confirm"] = {"type": "boolean", "description": "true only once the user agreed to this change."}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if "action" in properties and front.default not in offered.actions:
        schema["required"] = ["action"]
    return schema, declared


def _action(front: Front, name: str) -> Action:
    action = front.action(name)
    assert action is not None
    return action


def _definition(offered: Offered) -> types.Tool:
    schema, declared = _schema(offered)
    front = offered.front
    lines = [_signature(name, list(variants.values()), declared) for name, variants in offered.actions.items()]
    one_question = len(front.actions) == 1
    arguments = lines[0].partition("(")[2].rstrip(")")
    description = (
        (f"{front.description}\nArguments: {arguments}." if arguments else front.description)
        if one_question
        else f"{front.description}\nActions (* required; ! needs confirm=true): {'; '.join(lines)}."
    )
    specs = offered.specs()
    return types.Tool(
        name=front.name,
        title=front.title,
        description=description,
        input_schema=schema,
        output_schema=dict(front.output_schema) if front.output_schema is not None else None,
        annotations=types.ToolAnnotations(
            read_only_hint=all(s.read_only for s in specs),
            destructive_hint=any(s.destructive for s in specs),
            idempotent_hint=all(s.is_idempotent for s in specs),
            open_world_hint=False,
        ),
    )


class Fronts:
    """The consolidated surface for one policy: what tools/list shows, and how a front's call is routed."""

    def __init__(self, inventory: Inventory) -> None:
        self.policy = inventory.policy
        self.offered: dict[str, Offered] = {}
        for front in FRONTS:
            offered = _offer(front, inventory)
            if offered is not None:
                self.offered[front.name] = offered
        self.tools = [_definition(o) for o in self.offered.values()]
        for name, worded in STANDALONE.items():
            exposed = inventory.get(name)
            if exposed is not None:
                params = tuple(
                    dataclasses.replace(p, description=worded.get(p.name, p.description)) for p in exposed.spec.params
                )
                self.tools.append(tool_definition(dataclasses.replace(exposed.spec, params=params)))

    def __contains__(self, name: str) -> bool:
        return name in self.offered

    def where(self, op: str) -> tuple[str, dict[str, Any]] | None:
        """The front and the arguments (action, selectors) that reach a catalog operation here, if any."""
        place = CANONICAL.get(op)
        if place is None:
            return None
        front, action, picks = place
        offered = self.offered.get(front)
        if offered is None or action not in offered.actions:
            return None
        args: dict[str, Any] = {"action": action}
        if "timeframe" in picks:
            args["timeframe"] = picks["timeframe"]
        if "type" in picks and all(s.guest_type is None for s in offered.actions[action].values()):
            args["type"] = picks["type"]
        return front, args

    async def route(
        self, name: str, arguments: Mapping[str, Any], scope: Scope, locator: Locator, *, hidden_too: bool = False
    ) -> Routed:
        """The operation a front's call names, with the arguments the operation takes.

        hidden_too: route to operations this policy hides as well (pve_preview then says what hides them).
        """
        offered = self.offered.get(name)
        if hidden_too:
            offered = _whole(name)
        assert offered is not None
        front = offered.front
        args = dict(arguments)
        action_name = args.pop("action", None) or front.default
        if action_name not in offered.actions:
            raise self._no_action(name, action_name)
        fmt = args.pop("response_format", "concise")
        if fmt not in FORMATS:
            raise rejected(f"{name}: response_format must be concise or detailed, not {fmt!r}.", "Pass concise.")
        action = _action(front, str(action_name))
        variants = offered.actions[str(action_name)]
        picks: list[str] = []
        for by in action.by:
            if by == "timeframe":
                timeframe = args.pop("timeframe", "hour")
                if timeframe not in TIMEFRAMES:
                    raise rejected(f"{name}: timeframe must be one of {', '.join(TIMEFRAMES)}.", "Pass hour.")
                picks.append(str(timeframe))
            else:
                creates = all(spec.guest_type is None for spec in variants.values())
                picks.append(await _guest_type(name, args, scope, locator, creates=creates))
        if "type" in args and "type" not in action.by and not _takes(variants, "type"):
            args.pop("type")
        for own, shown in RENAMED.items():
            if shown in args:
                args[own] = args.pop(shown)
        variant = "/".join(picks)
        spec = variants.get(variant)
        if spec is None:
            missing = action.ops.get(variant)
            why = (
                f"{name} action {action_name} is not available for {variant.replace('/', ' ')}"
                if missing is None
                else f"{name} action {action_name} for {variant.replace('/', ' ')} is not enabled on this server"
            )
            raise ToolCallError(
                ErrorCode.TOOL_NOT_EXPOSED,
                f"{why}.",
                "Tell the user; the server's access tier or tool filters decide what is enabled.",
            )
        for own in ("confirm", "wait_seconds"):  # declared once for the front; an action without them ignores them
            if own in args and spec.param(own) is None:
                args.pop(own)
        for key, value in args.items():  # true/false for Proxmox's 0/1 flags, as concise answers show them
            param = spec.param(key)
            if param is not None and param.type == "integer" and isinstance(value, bool):
                args[key] = int(value)
        node = spec.param("node")
        if node is not None and node.required and args.get("node") is None:
            found = await _node_for(args, scope, locator)
            if found is not None:
                args["node"] = found
        return Routed(name, str(action_name), spec, args, str(fmt))

    def _no_action(self, name: str, action_name: Any) -> ToolCallError:
        """Which actions there are, or why this one is not offered (the tier, a filter)."""
        offered = self.offered[name]
        listed = ", ".join(offered.actions)
        action = offered.front.action(str(action_name)) if action_name is not None else None
        if action is None:
            what = "needs an action" if action_name is None else f"has no action {action_name!r}"
            return rejected(f"{name} {what}; its actions: {listed}.", ACTION_HINT)
        spec = BY_NAME.get(next(iter(action.ops.values())))
        why = hidden_by(spec, self.policy) if spec is not None else None
        reason = HIDDEN[why](spec, self.policy) if spec is not None and why is not None else "it is not enabled"
        return ToolCallError(
            ErrorCode.TOOL_NOT_EXPOSED,
            f"{name} action {action_name} is not offered: {reason}. Its actions here: {listed}.",
            "Tell the user what the server allows; an admin changes the tier or filters, not the assistant.",
        )

    def explain(self, error: PveMcpError) -> PveMcpError:
        """An error met through a front, its pointers and tool names said as this surface's."""
        details = self._said(_pointing(self, error.details)) if error.details else error.details
        message, hint = self._renamed(error.message), self._renamed(error.hint)
        return PveMcpError(error.code, message, hint, status=error.status, details=details)

    def _said(self, value: Any) -> Any:
        """Every hint and message inside an error's details, in this surface's names."""
        if isinstance(value, list):
            return [self._said(item) for item in value]
        if isinstance(value, dict):
            return {
                k: self._renamed(v) if k in ("hint", "message") and isinstance(v, str) else self._said(v)
                for k, v in value.items()
            }
        return value

    def _renamed(self, text: str) -> str:
        def name(match: re.Match[str]) -> str:
            place = self.where(match.group(0))
            if place is None:
                return match.group(0)
            front, args = place
            extra = "".join(f" {k} {v}" for k, v in args.items() if k != "action")
            return f"{front} action {args['action']}{extra}" if "action" in args else front

        return TOOL_NAME.sub(name, text)


def _takes(variants: Mapping[str, ToolSpec], param: str) -> bool:
    return any(spec.param(param) is not None for spec in variants.values())


async def _node_for(args: Mapping[str, Any], scope: Scope, locator: Locator) -> str | None:
    """The node an operation that requires one can run on: the vmid's, else one that has the storage."""
    vmid = args.get("vmid")
    if isinstance(vmid, str) and vmid.isdigit():
        vmid = int(vmid)
    if isinstance(vmid, int) and not isinstance(vmid, bool) and scope.allows_vmid(vmid):
        try:
            ref = await locator.locate(vmid)
        except ToolCallError:
            return None
        return ref.node if scope.allows_node(ref.node) else None
    storage = args.get("storage")
    if isinstance(storage, str):
        rows: Any = await locator.client.get("/cluster/resources", {"type": "storage"})
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("storage") == storage and row.get("status") == "available":
                node = str(row.get("node", ""))
                if node and scope.allows_node(node):
                    return node
    return None


async def _guest_type(name: str, args: dict[str, Any], scope: Scope, locator: Locator, *, creates: bool) -> str:
    """qemu or lxc: the `type` argument, else the vmid's guest. A vmid outside the scope gets no lookup: the
    operation then refuses it exactly as when called by its own name. `creates`: the action makes a new guest
    (create, restore), so a vmid the cluster does not have yet cannot say which."""
    kind = args.pop("type", None)
    if kind is not None:
        if kind not in ("qemu", "lxc"):
            raise rejected(
                f"{name}: type must be qemu or lxc, not {kind!r}.", "Pass qemu for a VM, lxc for a container."
            )
        return str(kind)
    vmid = args.get("vmid")
    if creates and vmid is None:
        raise rejected(f"{name} needs type for this action: qemu (a VM) or lxc (a container).", "Pass type.")
    if not isinstance(vmid, int) or isinstance(vmid, bool):
        raise rejected(f"{name} needs vmid.", "Pass the guest's vmid (pve_inventory lists them).")
    if not scope.allows_vmid(vmid):
        return "qemu"
    try:
        ref = await locator.locate(vmid)
    except ToolCallError as exc:
        if exc.code is not ErrorCode.GUEST_NOT_FOUND:
            raise
        if creates:
            raise rejected(
                f"{name}: VMID {vmid} is new, so it cannot say the guest's type.", "Pass type: qemu or lxc."
            ) from exc
        return "qemu"  # the operation says GUEST_NOT_FOUND in its own words
    return ref.type if scope.allows_node(ref.node) and ref.type in ("qemu", "lxc") else "qemu"


def present(fronts: Fronts, routed: Routed, payload: dict[str, Any]) -> dict[str, Any]:
    """The operation's result as the front answers it: concise, with pointers to other calls ({"tool",
    "arguments"}) naming this surface's tools; or, detailed, exactly as the operation answers by its own name."""
    if routed.response_format == "detailed":  # exactly the operation's answer; its pointers stay callable
        return payload
    shown = concise(payload)
    return _pointing(fronts, shown) if isinstance(shown, dict) else payload


def _pointing(fronts: Fronts, value: Any) -> Any:
    if isinstance(value, list):
        return [_pointing(fronts, item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _pointing(fronts, item) for key, item in value.items()}
    tool, arguments = out.get("tool"), out.get("arguments")
    if isinstance(tool, str) and isinstance(arguments, dict):
        place = fronts.where(tool)
        if place is not None:
            out["tool"], out["arguments"] = place[0], {**place[1], **arguments}
    return out
