"""Where a guest lives: tools take a vmid and an optional node, found from /cluster/resources.

One cluster-wide read serves every lookup for a few seconds; a miss refreshes once before saying
GUEST_NOT_FOUND, so a guest created or migrated a moment ago is still found.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.pve.upid import parse_upid
from pvemcp.pve.upstream import Upstream


@dataclass(frozen=True, slots=True)
class GuestRef:
    vmid: int
    node: str
    type: str
    name: str
    tags: tuple[str, ...] = ()

    def describe(self) -> str:
        """How a person names the guest: "VM 104 'db-primary' on pve2"."""
        kind = "VM" if self.type == "qemu" else "container"
        named = f" '{self.name}'" if self.name else ""
        return f"{kind} {self.vmid}{named} on {self.node}"


class Locator(Protocol):
    """Where guests are: the shared, cached GuestLocator, or one call's view of it (server/scoped_client.py)."""

    @property
    def client(self) -> Upstream: ...

    async def guests(self, *, fresh: bool = False, since: float | None = None) -> Mapping[int, GuestRef]: ...

    async def locate(self, vmid: int, *, fresh: bool = False, since: float | None = None) -> GuestRef: ...


class GuestLocator:
    def __init__(self, client: Upstream, *, ttl: float = 5.0) -> None:
        self._client = client
        self._ttl = ttl
        self._guests: dict[int, GuestRef] = {}
        self._fetched_at = float("-inf")
        self._lock = anyio.Lock()

    @property
    def client(self) -> Upstream:
        """The client the cluster is read with (the guard reads a backup job's selection through it)."""
        return self._client

    def forget(self) -> None:
        self._fetched_at = float("-inf")

    async def _refresh(self, *, stale_before: float) -> None:
        async with self._lock:
            if self._fetched_at > stale_before:  # another caller refreshed while we waited
                return
            rows: Any = await self._client.get("/cluster/resources", {"type": "vm"})
            guests: dict[int, GuestRef] = {}
            for row in rows if isinstance(rows, list) else []:
                if isinstance(row, dict) and row.get("vmid") is not None and row.get("node"):
                    vmid = int(row["vmid"])
                    tags = tuple(t for t in str(row.get("tags") or "").replace(",", ";").split(";") if t)
                    guests[vmid] = GuestRef(
                        vmid, str(row["node"]), str(row.get("type", "")), str(row.get("name", "")), tags
                    )
            self._guests = guests
            self._fetched_at = time.monotonic()

    async def _current(self, fresh: bool, since: float | None) -> float:
        """Read the cluster when the map is older than wanted: the ttl, or (fresh) now or `since`."""
        now = time.monotonic()
        if fresh:
            await self._refresh(stale_before=now if since is None else since)
        elif now - self._fetched_at > self._ttl:
            await self._refresh(stale_before=now - self._ttl)
        return now

    async def guests(self, *, fresh: bool = False, since: float | None = None) -> Mapping[int, GuestRef]:
        """Every guest by vmid, at most ttl seconds old (one cluster read when stale); fresh=True reads now,
        or, with `since`, accepts a read made after that moment."""
        await self._current(fresh, since)
        return self._guests

    async def locate(self, vmid: int, *, fresh: bool = False, since: float | None = None) -> GuestRef:
        """The guest's current place; fresh=True reads the cluster now (writes check tags and identity), or,
        with `since`, accepts a read made after that moment."""
        now = await self._current(fresh, since)
        ref = self._guests.get(vmid)
        if ref is None and self._fetched_at < now:
            await self._refresh(stale_before=now)
            ref = self._guests.get(vmid)
        if ref is None:
            raise ToolCallError(
                ErrorCode.GUEST_NOT_FOUND,
                f"No VM or container with VMID {vmid} exists in the cluster.",
                "List guests with pve_list_cluster_resources (type vm) and use one of their vmids.",
            )
        return ref


KIND_NAMES = {"qemu": "QEMU VM", "lxc": "LXC container"}


async def fill_location(spec: ToolSpec, args: dict[str, Any], locator: Locator) -> None:
    """Add `node` (and `guest_type` for {guest_type} paths) when the caller left them out."""
    wanted = spec.guest_type
    if wanted is not None and "vmid" in args:
        needs_type = wanted == "any" and not args.get("guest_type")
        if args.get("node") and not needs_type:
            return
        ref = await locator.locate(int(args["vmid"]))
        expected = args.get("guest_type") or (wanted if wanted != "any" else ref.type)
        if ref.type != expected:
            other = "pve_get_lxc_status" if ref.type == "lxc" else "pve_get_qemu_status"
            raise ToolCallError(
                ErrorCode.GUEST_NOT_FOUND,
                f"VMID {ref.vmid} is a {KIND_NAMES.get(ref.type, ref.type)}, not a {KIND_NAMES[expected]}.",
                f"Use the {ref.type} tools for it (e.g. {other}).",
            )
        args.setdefault("node", ref.node)
        if wanted == "any":
            args["guest_type"] = ref.type
    elif spec.param("upid") is not None and not args.get("node") and isinstance(args.get("upid"), str):
        parsed = parse_upid(args["upid"])
        if parsed is None:
            raise ToolCallError(
                ErrorCode.TOOL_INPUT_REJECTED,
                f"{args['upid'][:80]!r} is not a Proxmox task ID (UPID:node:pid:pstart:starttime:type:id:user:).",
                "Pass the UPID exactly as a tool or pve_list_tasks returned it.",
            )
        args["node"] = parsed.node
