"""Helpers shared by the simulator tests: an in-process client and the schema location."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2

from pvesim import Simulator

API = "/api2/json"
BASE_URL = "https://pve1.sim:8006"
UPID_PATTERN = r"^UPID:[a-z0-9-]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[a-z]+:\d*:[^:]+:$"
REPO_ROOT = Path(__file__).resolve().parents[2]


def make_client(sim: Simulator, *, auth: bool = True) -> httpx2.AsyncClient:
    headers = {"Authorization": sim.authorization} if auth else {}
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sim.app), base_url=BASE_URL, headers=headers)


def schema_dir() -> Path | None:
    """The official PVE API schema beside the repository, if this checkout has it."""
    candidate = REPO_ROOT / ".." / "shared" / "pve-api"
    return candidate if (candidate / "endpoints.json").is_file() else None


def load_endpoints(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) → endpoint record; the file is JSON, so its values are untyped."""
    records: list[dict[str, Any]] = json.loads((folder / "endpoints.json").read_text())
    return {(r["method"], r["path"]): r for r in records}


def data(response: httpx2.Response) -> Any:
    """The ``data`` member of a successful PVE reply (JSON, hence untyped)."""
    assert response.status_code == 200, response.text
    return response.json()["data"]


def sample_path(sim: Simulator, template: str) -> str:
    """Fill a route's placeholders with values that exist on pve1."""
    kind = "lxc" if "/lxc/" in template else "qemu"
    vmid = min(g.vmid for g in sim.state.guests.values() if g.node == "pve1" and g.type == kind)
    if template.endswith("/cloudinit"):  # the cloud-init template has cloud-init options to list
        vmid = next(g.vmid for g in sim.state.guests.values() if g.template and "ciuser" in g.config)
    upid = next(t.upid for t in sim.state.tasks.values() if t.node == "pve1")
    return (
        template.replace("{storage}/prunebackups", "nfs-backup/prunebackups")  # local holds no backups
        .replace("{node}", "pve1")
        .replace("{vmid}", str(vmid))
        .replace("{storage}", "local")
        .replace("{upid}", upid)
        .replace("{userid}", sim.token_id.split("!", 1)[0])
        .replace("{tokenid}", sim.token_id.split("!", 1)[1])
        .replace("{roleid}", "PVEAuditor")
        .replace("{vnet}", "office")
        .replace("{subnet}", "lan-192.168.10.0-24")
        .replace("{zone}", "lan")
        .replace("{controller}", "evpnctl")
        .replace("{service}", "pveproxy")
        .replace("{iface}", "vmbr0")
        .replace("{group}", "webserver")
        .replace("{name}", "management")
        .replace("{sid}", next(f"vm:{g.vmid}" for g in sim.state.guests.values() if g.hastate))
        .replace("{rule}", next(iter(sim.state.ha.rules)))
        .replace("/replication/{id}", "/replication/" + next(iter(sim.state.admin.replication)))
        .replace("{id}", next(iter(sim.state.backup.jobs)))
    )
