"""Migration preflight: what would stop a guest's migration, and the call that does it right.

Proxmox's own precondition read (GET .../migrate) says which nodes may take the guest and which volumes and
devices tie it to its node; the guest's status says whether it runs, holds a lock or is managed by HA. Many
of the reasons a migration fails only show in its task after minutes of copying, or the call is taken over
by HA; judged here first, each becomes a blocker in Proxmox's own words with what to do instead. The migrate
tools refuse a call with a blocker, so the fix is known before anything moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvemcp.catalog import BY_NAME
from pvemcp.pve import wire
from pvemcp.pve.errors import PveMcpError
from pvemcp.server.call import Call

NOUN = {"qemu": "VM", "lxc": "CT"}
SID_KIND = {"qemu": "vm", "lxc": "ct"}
GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Intent:
    """How the migrate call is meant: its options as the caller passed them (None: not given)."""

    online: bool | None = None
    with_local_disks: bool | None = None
    restart: bool | None = None
    targetstorage: str | None = None


@dataclass(frozen=True, slots=True)
class Blocker:
    code: str
    message: str  # Proxmox's words where it has them
    hint: str
    fixed_by_use: bool = False  # the `use` call avoids it (HA's own migrate, online, with-local-disks, restart)

    def record(self) -> dict[str, Any]:
        fields = {"code": self.code, "message": self.message, "hint": self.hint, "fixed_by_use": self.fixed_by_use}
        return {"severity": "critical", **fields}


def flag(value: Any) -> bool:
    """Proxmox's 0/1 (or "1", or a JSON boolean) as a boolean."""
    return str(value).strip().lower() in ("1", "true")


def part(data: Any, key: str) -> Mapping[str, Any]:
    """A nested object of an answer, or an empty one when Proxmox left it out."""
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def note(severity: str, message: str) -> dict[str, Any]:
    return {"severity": severity, "message": message}


def gib(size: int) -> str:
    return f"{size / GIB:.1f} GiB"


def described(use: Mapping[str, Any]) -> str:
    """A call as a sentence: pve_qemu_migrate with vmid=100, target=pve2, online=true."""
    args = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in use["arguments"].items())
    return f"{use['tool']} with {args}"


def _disk(row: Mapping[str, Any]) -> dict[str, Any]:
    size = row.get("size")
    return {
        "volid": str(row.get("volid")),
        "drive": row.get("drivename"),
        "size_bytes": int(size) if isinstance(size, int | float) else None,
        "cdrom": flag(row.get("cdrom")),
        "unused": flag(row.get("is_unused")),
        "attached": flag(row.get("is_attached")),
    }


def _reasons(info: Any) -> list[str]:
    """What Proxmox says keeps a node from taking the guest, in words."""
    info = info if isinstance(info, Mapping) else {}
    reasons = [f"storage '{s}' is not available there" for s in info.get("unavailable_storages") or []]
    reasons += [f"mapped device {r} is missing there" for r in info.get("unavailable-resources") or []]
    for item in info.get("blocking-ha-resources") or []:
        sid = item.get("sid") if isinstance(item, Mapping) else item
        cause = item.get("cause", "affinity") if isinstance(item, Mapping) else "affinity"
        reasons.append(f"HA resource {sid} runs there and must stay apart ({cause} rule)")
    return reasons or ["Proxmox does not allow it"]


async def _lxc_local_volumes(call: Call, base: str, node: str) -> list[dict[str, Any]]:
    """A container's volumes on storage its node does not share: copied while the container is down."""
    config = await call.client.get(f"{base}/config")
    storages = await call.client.get(wire.expand_path("/nodes/{node}/storage", {"node": node}))
    shared = {str(s.get("storage")) for s in storages or [] if isinstance(s, Mapping) and flag(s.get("shared"))}
    found = []
    for key, value in (config or {}).items():
        if key != "rootfs" and not (key.startswith("mp") and key[2:].isdigit()):
            continue
        volid, _, opts = str(value).partition(",")
        if ":" not in volid or volid.split(":", 1)[0] in shared:
            continue
        size = next((o.split("=", 1)[1] for o in opts.split(",") if o.startswith("size=")), None)
        disk = {"volid": volid, "drive": key, "size_bytes": _size(size)}
        found.append({**disk, "cdrom": False, "unused": False, "attached": True})
    return found


def _size(text: str | None) -> int | None:
    units = {"K": 1024, "M": 1024**2, "G": GIB, "T": 1024 * GIB}
    if not text:
        return None
    try:
        return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)
    except ValueError:
        return None


async def _replication_targets(call: Call, vmid: int) -> list[str]:
    jobs = await call.client.get("/cluster/replication")
    return [str(j.get("target")) for j in jobs or [] if isinstance(j, Mapping) and str(j.get("guest")) == str(vmid)]


async def preflight(call: Call, vmid: int, kind: str, node: str, target: str | None, intent: Intent) -> dict[str, Any]:
    """The verdict on migrating guest `vmid` (a `kind` guest on `node`) to `target` (None: the best allowed node)."""
    noun, sid = NOUN[kind], f"{SID_KIND[kind]}:{vmid}"
    base = wire.expand_path("/nodes/{node}/{kind}/{vmid}", {"node": node, "kind": kind, "vmid": vmid})
    status = await call.client.get(f"{base}/status/current") or {}
    running = status.get("status") == "running"
    ha = part(status, "ha")
    ha_state = ha.get("state") if flag(ha.get("managed")) else None
    managed = ha_state is not None and ha_state != "ignored"  # Proxmox lets an ignored resource migrate itself
    members = [n for n in await call.client.get("/nodes") or [] if isinstance(n, Mapping)]
    online = {str(n.get("node")): n.get("status") == "online" for n in members}
    free = {str(n.get("node")): int(n.get("maxmem") or 0) - int(n.get("mem") or 0) for n in members}
    blockers: list[Blocker] = []
    warnings: list[dict[str, Any]] = []
    pre: Mapping[str, Any] = {}
    lock = status.get("lock")
    if lock:
        blockers.append(
            Blocker(
                "locked",
                f"{noun} is locked ({lock})",
                f"Proxmox refuses to move a locked guest. See which task holds it with pve_list_tasks (node {node},"
                f" vmid {vmid}) and wait for it; a lock left by a task that died must be cleared on the node.",
            )
        )
    else:
        pre = await call.client.get(f"{base}/migrate", {"target": target} if target else None) or {}
    dashed = kind == "lxc"
    allowed_by_pve = [str(n) for n in pre.get("allowed-nodes" if dashed else "allowed_nodes") or []]
    refused = pre.get("not-allowed-nodes" if dashed else "not_allowed_nodes") or {}
    refused = dict(refused) if isinstance(refused, Mapping) else {}
    if intent.targetstorage:  # storage mapped elsewhere: Proxmox checks the mapped storages itself
        for name, info in list(refused.items()):
            if isinstance(info, Mapping) and set(info) <= {"unavailable_storages"}:
                allowed_by_pve.append(name)
                del refused[name]
    reasons = {str(n): _reasons(info) for n, info in refused.items()}
    reasons.update({n: ["the node is offline"] for n in allowed_by_pve if not online.get(n)})
    allowed = [n for n in allowed_by_pve if online.get(n) and call.scope.allows_node(n)]
    chosen = target
    if pre and target is None:
        chosen = max(allowed, key=lambda n: free.get(n, 0)) if allowed else None
        if chosen is not None:
            warnings.append(note("info", f"No target given: {chosen} has the most free memory of the nodes allowed."))
        else:
            blockers.append(Blocker("no_node", "No other node can take it.", "See not_allowed_nodes for why."))
    elif target is not None:
        others = ", ".join(allowed) or "none"
        if target == node:
            blockers.append(Blocker("same_node", "target is local node.", f"Pick another node (allowed: {others})."))
        elif target not in online:
            blockers.append(
                Blocker("unknown_node", f"no such cluster node '{target}'", f"Pick a cluster node (allowed: {others}).")
            )
        elif target in reasons:
            blockers.append(
                Blocker(
                    "node_not_allowed",
                    f"{noun} {vmid} cannot migrate to {target}: {'; '.join(reasons[target])}.",
                    f"Pick an allowed node ({others}), or remove what ties it to this one.",
                )
            )
    disks = [_disk(d) for d in pre.get("local_disks") or [] if isinstance(d, Mapping)]
    if kind == "lxc" and pre:
        disks = await _lxc_local_volumes(call, base, node)
    attached = [d for d in disks if d["attached"] and not d["cdrom"]]
    copied = sum(d["size_bytes"] or 0 for d in disks if not d["cdrom"])
    for d in disks:
        if d["cdrom"] and d["attached"] and "cloudinit" not in d["volid"]:
            blockers.append(
                Blocker(
                    "local_cdrom",
                    f"can't migrate local disk '{d['volid']}': local cdrom image",
                    f"Eject the ISO from {d['drive'] or 'the CD-ROM drive'} first (set the drive to none).",
                )
            )
    if managed:
        blockers.append(
            Blocker(
                "ha_managed",
                f"{noun} {vmid} is managed by HA ({sid}, state {ha_state}): its migration is the HA manager's job.",
                "Use pve_migrate_ha_resource (it answers at once; follow the move with pve_get_cluster_ha_status).",
                fixed_by_use=True,
            )
        )
        dependent = [str(s) for s in pre.get("dependent-ha-resources") or []]
        if dependent:
            along = ", ".join(dependent)
            warnings.append(note("warning", f"HA moves {along} along with it (positive resource affinity)."))
        if chosen is not None:
            warnings += await _affinity_warnings(call, sid, chosen, online)
    elif kind == "qemu":
        blockers += await _vm_blockers(call, vmid, pre, running, chosen, intent, attached)
    elif running and not intent.restart:
        blockers.append(
            Blocker(
                "needs_restart",
                "can't migrate running container without --online or --restart",
                "Pass restart=true: the container is shut down, moved and started again on the target.",
                fixed_by_use=True,
            )
        )
    if kind == "qemu" and intent.online and not running:
        warnings.append(note("info", "VM isn't running. Doing offline migration instead."))
    if kind == "lxc" and running:
        warnings.append(note("warning", "A running container moves in restart mode: it is down while it moves."))
    if copied and chosen is not None:
        live = " while it runs" if running and kind == "qemu" else ""
        count = len([d for d in disks if not d["cdrom"]])
        warnings.append(note("info", f"{count} local volume(s), {gib(copied)}, are copied to {chosen}{live}."))
    if status.get("template") and kind == "qemu":
        warnings.append(note("info", "It is a template: its base volumes move with it."))
    blockers.sort(key=lambda b: b.fixed_by_use)  # what no call avoids comes first
    can_migrate = chosen is not None and all(b.fixed_by_use for b in blockers)
    use = _use(kind, vmid, sid, managed, running, chosen, attached, intent) if can_migrate else None
    return {
        "vmid": vmid,
        "type": kind,
        "node": node,
        "running": running,
        "target": chosen,
        "can_migrate": can_migrate,
        "blockers": [b.record() for b in blockers],
        "warnings": sorted(warnings, key=lambda w: w["severity"] != "warning"),
        "allowed_nodes": allowed,
        "not_allowed_nodes": {n: r for n, r in reasons.items() if call.scope.allows_node(n)},
        "local_disks": [{k: v for k, v in d.items() if k != "attached"} for d in disks],
        "ha": {"managed": managed, "sid": sid if ha_state else None, "state": ha_state},
        "use": use,
    }


async def _affinity_warnings(call: Call, sid: str, target: str, online: Mapping[str, bool]) -> list[dict[str, Any]]:
    """Node-affinity rules that keep the guest off `target` or pull it back (failback, on by default)."""
    try:
        rules = await call.client.get("/cluster/ha/rules", {"type": "node-affinity", "resource": sid})
    except PveMcpError:  # reading rules needs Sys.Audit on /: without it the migration is judged without them
        return []
    found = []
    for rule in rules or []:
        if not isinstance(rule, Mapping) or flag(rule.get("disable")):
            continue
        priority = {}
        for item in str(rule.get("nodes") or "").split(","):
            name, _, level = item.strip().partition(":")
            priority[name] = int(level) if level.isdigit() else 0
        top = max((p for n, p in priority.items() if online.get(n)), default=None)
        if target not in priority and flag(rule.get("strict")):
            kept = ", ".join(priority)
            message = f"HA rule {rule.get('rule')} (strict) keeps it on {kept}: HA will not run it on {target}."
            found.append(note("warning", message))
        elif top is not None and priority.get(target, -1) < top:
            best = ", ".join(n for n, p in priority.items() if p == top and online.get(n))
            message = f"HA rule {rule.get('rule')} prefers {best}: unless its failback is off, HA moves it back."
            found.append(note("warning", message))
    return found


async def _vm_blockers(
    call: Call,
    vmid: int,
    pre: Mapping[str, Any],
    running: bool,
    target: str | None,
    intent: Intent,
    attached: list[dict[str, Any]],
) -> list[Blocker]:
    """What Proxmox refuses for a VM it migrates itself (HA passes force and with-local-disks on its own)."""
    found: list[Blocker] = []
    devices = [str(r) for r in pre.get("local_resources") or []]
    if devices:
        found.append(
            Blocker(
                "local_devices",
                f"can't migrate VM which uses local devices: {', '.join(devices)}",
                "Remove the passed-through devices from the VM first (or map them on every node).",
            )
        )
    if running and not intent.online:
        found.append(
            Blocker(
                "needs_online",
                "can't migrate running VM without --online",
                "Pass online=true for a live migration, or shut the VM down first.",
                fixed_by_use=True,
            )
        )
    if running and attached and not intent.with_local_disks:
        size = gib(sum(d["size_bytes"] or 0 for d in attached))
        found.append(
            Blocker(
                "local_disks",
                "can't live migrate attached local disks without with-local-disks option",
                f"Pass with-local-disks=true: its local disks ({size}) are copied while it runs.",
                fixed_by_use=True,
            )
        )
    if running and target is not None:
        targets = await _replication_targets(call, vmid)
        if targets and target not in targets:
            found.append(
                Blocker(
                    "replication",
                    f"Cannot live-migrate replicated VM to node '{target}' - not a replication target.",
                    f"Migrate it to its replication target ({', '.join(targets)}), or shut it down first.",
                )
            )
    return found


def _use(
    kind: str,
    vmid: int,
    sid: str,
    managed: bool,
    running: bool,
    target: str | None,
    attached: list[dict[str, Any]],
    intent: Intent,
) -> dict[str, Any]:
    """The call that does the migration right."""
    if managed:
        ha = BY_NAME["pve_migrate_ha_resource"]
        destination = next(p.name for p in ha.params if p.api_name == "node")  # Proxmox's `node` is the target
        return {"tool": ha.name, "arguments": {"sid": sid, destination: target}}
    arguments: dict[str, Any] = {"vmid": vmid, "target": target}
    if kind == "lxc":
        if running:
            arguments["restart"] = True
        return {"tool": "pve_lxc_migrate", "arguments": arguments}
    if running:
        arguments["online"] = True
        if attached:
            arguments["with-local-disks"] = True
    if intent.targetstorage:
        arguments["targetstorage"] = intent.targetstorage
    return {"tool": "pve_qemu_migrate", "arguments": arguments}
