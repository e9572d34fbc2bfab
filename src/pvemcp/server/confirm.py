"""The confirmation gate for destructive tools: the one place where a missing confirmation stops a call.

A person's approval comes through MCP elicitation: inline (elicitation/create, 2025-11-25) or as an
InputRequiredResult whose sealed requestState carries what was asked (2026-07-28). An approval is bound
to the guest it named: the guest is read again just before acting, so a "yes" to VM 104 'db-primary'
never becomes a change to whatever VM 104 has become since. And it acts once: the 2025-11-25 question lives
inside one call, and each 2026-07-28 state carries a nonce spent when the state is answered, in the
Runtime's ApprovalStore: this process's UsedApprovals, or Redis shared by every replica (http/shared.py).
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol

import mcp_types as types
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.server.call import redacted
from pvemcp.server.context import CallContext
from pvemcp.server.resolve import GuestRef

log = logging.getLogger("pvemcp.confirm")


class ConfirmMode(StrEnum):
    AUTO = "auto"  # confirm=true from the caller, else ask the human when the client can
    ELICIT = "elicit"  # only a human's answer through elicitation counts
    FLAG = "flag"  # confirm=true only, never ask


@dataclass(frozen=True, slots=True)
class Approval:
    """Why the call may go ahead."""

    by: Literal["not-needed", "flag", "human"]


Relocate = Callable[[], Awaitable[GuestRef | None]]

ANSWER_KEY = "confirm"  # the key of our one input request and of the client's answer to it
STATE_KIND = "pvemcp.confirm/2"  # /1 carried no nonce: such a state is asked again, never acted on
STATE_LIFETIME = 600.0  # seconds a sealed requestState stays valid (app.py gives the SDK this ttl)
# Clock difference allowed between the replica that minted a state and the one spending it (the SDK
# itself accepts states minted up to 60 s "in the future").
CLOCK_MARGIN = 120.0
# Arguments that tell a person what exactly is affected; anything else (secrets included) stays out of the form.
GUEST_DETAILS = (
    *("method", "path", "command", "argv", "snapname", "target", "online"),
    *("disk", "size", "pos", "force", "purge", "todisk"),
)
OTHER_DETAILS = (
    *("node", "vmid", "storage", "archive", "id", "poolid", "userid", "tokenid"),
    *("method", "path", "roles", "users", "groups", "tokens", "delete", "iface", "pos", "upid", "force"),
)
RAW_DETAILS = 12  # a raw call's parameters shown in its form, secrets redacted
SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\.\s+(?=[A-Z])")
NOTHING_CHANGED = "nothing was changed"


class ApprovalStore(Protocol):
    """Where the nonces of answered 2026-07-28 states are spent: one check-and-mark, atomic."""

    async def spend(self, nonce: str, minted: float) -> str | None:
        """Mark the state's nonce used; None if it was fresh, otherwise why it may not act.

        Raises ApprovalStoreError when the store cannot tell: the approval must then not act.
        """
        ...


class ApprovalStoreError(Exception):
    """The store could not check a nonce (shared state unreachable); the message never holds a secret."""


class UsedApprovals:
    """The nonces of 2026-07-28 confirmation states already answered in this process (ApprovalStore).

    The client holds a sealed state for its whole lifetime, so the seal alone lets one "yes" be sent
    again and act again. Each nonce is kept until its state can no longer be unsealed anyway (minted +
    lifetime + margin), and at most `capacity` are kept: when the store is full the one expiring first is
    forgotten and every state expiring no later than it is refused from then on, so running out of room
    refuses approvals instead of letting one act twice. Check-and-spend holds a lock and never awaits, so
    two concurrent retries of one state cannot both pass. It never raises ApprovalStoreError.
    """

    def __init__(
        self,
        capacity: int = 10_000,
        lifetime: float = STATE_LIFETIME + CLOCK_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.capacity = capacity
        self._lifetime = lifetime
        self._clock = clock  # wall time: the state's mint time may come from another replica's clock
        self._expires: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []  # (expires, nonce), a heap
        self._horizon = -math.inf  # states expiring at or before it were forgotten: refused
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expires)

    async def spend(self, nonce: str, minted: float) -> str | None:
        """Mark the state's nonce used; None if it was fresh, otherwise why it may not act."""
        expires = minted + self._lifetime
        with self._lock:
            now = self._clock()
            while self._queue and self._queue[0][0] <= now:
                del self._expires[heapq.heappop(self._queue)[1]]
            if nonce in self._expires:
                return "was already used"
            if len(self._expires) >= self.capacity and expires > self._horizon:
                oldest, forgotten = heapq.heappop(self._queue)
                del self._expires[forgotten]
                self._horizon = max(self._horizon, oldest)
            if expires <= now or expires <= self._horizon:
                return "is too old to be checked for an earlier use"
            self._expires[nonce] = expires
            heapq.heappush(self._queue, (expires, nonce))
            return None


# The process-local store, shared by every connection, caller and Runtime of this process that has no
# shared store (Runtime.approvals defaults to it): what "within one process" means.
APPROVALS = UsedApprovals()


def _detail(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_target(spec: ToolSpec, args: Mapping[str, Any], target: GuestRef | None = None) -> str:
    """The action in a person's words: "Stop VM 104 'db-primary' on pve2", "Remove storage (storage=nfs)"."""
    keys = GUEST_DETAILS if target is not None else OTHER_DETAILS
    details = [f"{key}={_detail(args[key])}" for key in keys if args.get(key) not in (None, False, "")]
    if spec.raw and isinstance(args.get("params"), Mapping):  # a raw call's parameters say what it does
        params = redacted(args["params"])
        details += [f"{key}={_detail(value)}" for key, value in list(params.items())[:RAW_DETAILS]]
        if len(params) > RAW_DETAILS:
            details.append(f"and {len(params) - RAW_DETAILS} more")
    suffix = f" ({', '.join(details)})" if details else ""
    if target is None:
        return spec.title + suffix
    guest = target.describe()
    kind, _, rest = guest.partition(" ")
    if spec.title.endswith(f" {kind}"):  # "Stop VM" + "VM 104 ..." reads "Stop VM 104 ..."
        return f"{spec.title} {rest}{suffix}"
    return f"{spec.title}: {guest}{suffix}"


def _question(spec: ToolSpec, action: str) -> tuple[str, dict[str, Any]]:
    """The form: a message naming action and target, and one required yes/no."""
    effect = SENTENCE_END.split(spec.description.strip(), maxsplit=1)[0].rstrip(".")
    message = f"{action}. {effect}. Approve to carry it out; otherwise nothing is changed."
    schema = {
        "type": "object",
        "properties": {
            "approve": {
                "type": "boolean",
                "title": f"Carry out: {action}",
                "description": "Yes carries the action out now; no leaves everything as it is.",
                "default": False,
            }
        },
        "required": ["approve"],
    }
    return message, schema


def _identity(target: GuestRef | None) -> list[Any] | None:
    return None if target is None else [target.vmid, target.type, target.name, target.node]


def _required(mode: ConfirmMode, action: str, called_as: str, flagged: bool, why: str = "") -> ToolCallError:
    if mode is ConfirmMode.ELICIT:
        refused = " confirm=true alone is not accepted here." if flagged else ""
        return ToolCallError(
            ErrorCode.CONFIRMATION_REQUIRED,
            f"{action} is destructive and was not carried out: this server only accepts a person's approval,"
            f" given in an MCP client that supports elicitation.{refused}{why}",
            "Do not retry with confirm=true. Tell the user this change must be approved by them in a client"
            " that supports MCP elicitation forms, or made by them directly in Proxmox.",
        )
    return ToolCallError(
        ErrorCode.CONFIRMATION_REQUIRED,
        f"{action} is destructive and was not carried out: {called_as} needs confirm=true.{why}",
        "Tell the user exactly what will happen and ask them; only if they agree, call again with confirm=true.",
    )


def _approve(answer: Any, action: str) -> None:
    """Go on only for an accepted form with approve=true; anything else was not a yes."""
    result: types.ElicitResult | None = None
    if isinstance(answer, types.ElicitResult):
        result = answer
    elif isinstance(answer, Mapping):
        try:
            result = types.ElicitResult.model_validate(dict(answer))
        except ValidationError:
            result = None
    if result is not None and result.action == "accept" and (result.content or {}).get("approve") is True:
        return
    if result is None or result.action == "accept":
        why = "the answer did not approve it"
    else:
        why = "the user declined" if result.action == "decline" else "the user dismissed the confirmation"
    raise ToolCallError(
        ErrorCode.CONFIRMATION_DECLINED,
        f"{action} was not carried out; {NOTHING_CHANGED} ({why}).",
        "Leave it as it is. Only try again if the user asks for it again.",
    )


def _same_target(confirmed: list[Any] | None, current: GuestRef | None) -> None:
    """Refuse when the vmid now names another guest (or the guest moved) since the person said yes."""
    now = _identity(current)
    if confirmed is None or current is None or now == confirmed:
        return
    vmid, kind, name, node = confirmed
    was = GuestRef(int(vmid), str(node), str(kind), str(name)).describe()
    if [current.type, current.name] != [kind, name]:
        change = f"VMID {vmid} is now {current.describe()}, not the {was} that was confirmed"
    else:
        change = f"{was} moved to {current.node} after it was confirmed"
    raise ToolCallError(
        ErrorCode.TARGET_CHANGED,
        f"{change}; {NOTHING_CHANGED}.",
        "Check the guest with pve_list_cluster_resources and ask the user again if the change is still wanted.",
        details={"confirmed": was, "current": current.describe()},
    )


def _state(ctx: CallContext, spec: ToolSpec) -> dict[str, Any] | None:
    """Our own state from the retry leg (the SDK verified it), or None when this leg asks nothing back."""
    if ctx.request_state is None:
        return None
    try:
        state = json.loads(ctx.request_state)
    except ValueError:
        return None
    if not isinstance(state, dict) or state.get("kind") != STATE_KIND or state.get("tool") != spec.name:
        return None
    target, nonce, minted = state.get("target"), state.get("nonce"), state.get("minted")
    if not (isinstance(nonce, str) and nonce and isinstance(minted, int | float) and not isinstance(minted, bool)):
        return None
    return state if target is None or (isinstance(target, list) and len(target) == 4) else None


def _unavailable(action: str, exc: ApprovalStoreError) -> ToolCallError:
    log.warning("approval refused, nothing done: %s", exc)
    return ToolCallError(
        ErrorCode.SHARED_STATE_UNAVAILABLE,
        f"{action} was not carried out: the approval could not be checked against the shared state store"
        f" that makes each approval act once across this server's replicas, so {NOTHING_CHANGED}.",
        "Try again in a moment. If it keeps failing, tell the administrator: the server cannot reach its shared"
        " state store (the Redis server of MCP_SHARED_STATE_URL).",
    )


async def _spend(approvals: ApprovalStore, state: Mapping[str, Any], action: str) -> None:
    """Let an accepted state act only the first time it comes back; when that cannot be checked, not at all."""
    try:
        why = await approvals.spend(state["nonce"], state["minted"])
    except ApprovalStoreError as exc:
        raise _unavailable(action, exc) from None
    if why is None:
        return
    raise ToolCallError(
        ErrorCode.APPROVAL_ALREADY_USED,
        f"{action} was not carried out: the approval sent with it {why}, and an approval carries out its"
        f" action once; {NOTHING_CHANGED} by this call.",
        "Do not resend this approval. If the change is still wanted, call the tool again without requestState:"
        " the user must approve it again.",
    )


def _ask(spec: ToolSpec, action: str, target: GuestRef | None) -> types.InputRequiredResult:
    message, schema = _question(spec, action)
    state = {
        "kind": STATE_KIND,
        "tool": spec.name,
        "target": _identity(target),
        "nonce": secrets.token_urlsafe(16),  # this question's answer acts once (UsedApprovals)
        "minted": round(time.time(), 3),
    }
    return types.InputRequiredResult(
        input_requests={
            ANSWER_KEY: types.ElicitRequest(
                params=types.ElicitRequestFormParams(message=message, requested_schema=schema)
            )
        },
        request_state=json.dumps(state, separators=(",", ":")),
    )


async def confirm(
    mode: ConfirmMode,
    spec: ToolSpec,
    called_as: str,
    args: Mapping[str, Any],
    target: GuestRef | None,
    ctx: CallContext,
    relocate: Relocate,
    *,
    approvals: ApprovalStore,
) -> Approval | types.InputRequiredResult:
    """Approve, ask the human (inline or as an InputRequiredResult), or raise why the call may not act.

    approvals: where 2026-07-28 states are spent (Runtime.approvals).
    """
    if not spec.confirm:
        return Approval("not-needed")
    flagged = args.get("confirm") is True
    if flagged and mode is not ConfirmMode.ELICIT:
        return Approval("flag")
    action = describe_target(spec, args, target)
    if mode is ConfirmMode.FLAG or not ctx.can_elicit:
        raise _required(mode, action, called_as, flagged)
    if ctx.era == "modern":
        state = _state(ctx, spec)
        answer = (ctx.input_responses or {}).get(ANSWER_KEY)
        if state is None or answer is None:  # first leg, or a retry that brings no answer to our question
            return _ask(spec, action, target)
        try:
            _approve(answer, action)
        except ToolCallError:
            # The answer is the client's word, not sealed: a state answered "no" must not be sent again
            # with a "yes" that acts. Any answer spends the question.
            try:
                await approvals.spend(state["nonce"], state["minted"])
            except ApprovalStoreError as exc:  # nothing acts either way: the refusal stands as given
                log.warning("a declined approval could not be marked used: %s", exc)
            raise
        _same_target(state["target"], target)  # this leg already read the guest afresh (server/guard.py)
        await _spend(approvals, state, action)  # only now, about to act: a leg refused for its target keeps it
        return Approval("human")
    if ctx.elicit is None:
        raise _required(mode, action, called_as, flagged)
    message, schema = _question(spec, action)
    confirmed = _identity(target)
    try:
        answer = await ctx.elicit(message, schema)
    except MCPError as exc:
        raise _required(mode, action, called_as, flagged, f" The client could not ask the user: {exc}.") from exc
    _approve(answer, action)
    _same_target(confirmed, await relocate())
    return Approval("human")
