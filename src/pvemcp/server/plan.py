"""The steps a call takes before its handler runs, shared by the call itself and by pve_preview.

plan: the scope guard finds what the call reaches and refuses what lies outside, then the node is filled
in from the guest's location. The dispatch path (server/dispatch.py) confirms between planning and
executing; pve_preview plans the same way, describes the confirmation instead of asking for it, and
executes against a client that only writes writes down. Both execute through the `Planner`, which the
Runtime implements, so preview needs no import of the dispatch path.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.pve.upstream import Upstream
from pvemcp.server.confirm import ConfirmMode
from pvemcp.server.context import CallContext
from pvemcp.server.fronts import Fronts
from pvemcp.server.guard import guard
from pvemcp.server.inventory import Inventory
from pvemcp.server.resolve import GuestRef, Locator, fill_location
from pvemcp.server.scope import Scope
from pvemcp.server.validation import ArgumentValidator

SCOPE_REFUSALS = frozenset({ErrorCode.OUT_OF_SCOPE, ErrorCode.PROTECTED_GUEST})


@dataclass(slots=True)
class Plan:
    spec: ToolSpec
    args: dict[str, Any]  # validated; the node filled in once located
    target: GuestRef | None  # the guest the call acts on, as the guard found it
    begun: float  # time.monotonic() when planning began: cluster reads since then count as fresh
    refusal: ToolCallError | None = None  # kept rather than raised, for pve_preview's verdict


class Planner(Protocol):
    """What plans and carries out calls for one caller's view of the server: the Runtime."""

    @property
    def inventory(self) -> Inventory: ...
    @property
    def validators(self) -> Mapping[str, ArgumentValidator]: ...
    @property
    def scope(self) -> Scope: ...
    @property
    def locator(self) -> Locator: ...
    @property
    def confirm_mode(self) -> ConfirmMode: ...
    @property
    def fronts(self) -> Fronts: ...

    async def execute(self, plan: Plan, client: Upstream, ctx: CallContext) -> Any:
        """Run the tool's handler for a planned (and, where needed, confirmed) call, sending through `client`."""
        ...


async def reach(planner: Planner, spec: ToolSpec, args: Mapping[str, Any]) -> GuestRef | None:
    """The guard under this planner's scope and tier: the guest the call acts on, or a refusal."""
    return await guard(planner.scope, planner.locator, spec, args, planner.inventory.policy.tier)


async def plan(
    planner: Planner, spec: ToolSpec, args: dict[str, Any], *, locate: bool = True, keep_refusal: bool = False
) -> Plan:
    """Guard, then locate. Raises guard.EmptyRead for a list filtered by a guest outside the scope.

    locate=False leaves the node for later (a call resuming after confirmation compares the guest first);
    keep_refusal=True records a scope refusal in the plan instead of raising it (pve_preview).
    """
    begun = time.monotonic()
    target, refusal = None, None
    try:
        target = await reach(planner, spec, args)
    except ToolCallError as exc:
        if not keep_refusal or exc.code not in SCOPE_REFUSALS:
            raise
        refusal = exc
    if locate:
        await fill_location(spec, args, planner.locator)
    return Plan(spec, args, target, begun, refusal)
