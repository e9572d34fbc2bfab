"""The raw API's write table against the official schema: every parameter of an allowed endpoint that can name
a node or a guest is modelled, every row matches a real endpoint, and every catalog write endpoint is allowed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pvemcp.catalog import ALL_TOOLS
from pvemcp.server.raw_table import TABLE, endpoint, pattern_matches, spec_patterns
from tests.conftest import SCHEMA_DIR

ENDPOINTS = SCHEMA_DIR / "endpoints.json"
pytestmark = pytest.mark.skipif(not ENDPOINTS.exists(), reason="the official API schema is not in ../shared")

# Formats and names through which a parameter can name a node or a guest somewhere in the API.
NAMING_FORMATS = {
    *("pve-vmid", "pve-vmid-list", "pve-node", "pve-node-list", "pve-poolid"),
    *("pve-ha-resource-or-vm-id", "pve-ha-resource-id-list", "pve-ha-node-list"),
}
NAMING_NAMES = {
    *("vms", "vmid", "sid", "all", "pool", "target", "newid", "guest", "target-vmid", "node", "nodes", "upid"),
    *("volume", "archive", "ostemplate", "resources", "exclude", "filename", "target_node", "source", "id"),
}
# Parameters with such a name that name neither on their endpoint, and why.
HARMLESS: dict[tuple[str, str], str] = {
    **{(path, "source"): "a firewall address" for path in (
        "/cluster/firewall/groups/{group}", "/cluster/firewall/groups/{group}/{pos}", "/cluster/firewall/rules",
        "/cluster/firewall/rules/{pos}", "/cluster/sdn/vnets/{vnet}/firewall/rules",
        "/cluster/sdn/vnets/{vnet}/firewall/rules/{pos}", "/nodes/{node}/firewall/rules",
        "/nodes/{node}/firewall/rules/{pos}", "/nodes/{node}/lxc/{vmid}/firewall/rules",
        "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}", "/nodes/{node}/qemu/{vmid}/firewall/rules",
        "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}",
    )},
    **{(path, "id"): "the new object's own ID" for path in (
        "/cluster/acme/plugins", "/cluster/backup", "/cluster/mapping/dir", "/cluster/mapping/pci",
        "/cluster/mapping/usb", "/cluster/sdn/fabrics/fabric", "/cluster/sdn/prefix-lists",
    )},
    **{(path, "pool"): "the pool a new guest joins; pools are cluster-wide" for path in (
        "/nodes/{node}/lxc", "/nodes/{node}/qemu", "/nodes/{node}/lxc/{vmid}/clone", "/nodes/{node}/qemu/{vmid}/clone",
    )},
    **{(path, "poolid"): "the pool itself" for path in ("/pools",)},
    ("/storage", "pool"): "a Ceph or ZFS pool backing the storage",
    ("/storage/{storage}", "pool"): "a Ceph or ZFS pool backing the storage",
    ("/storage", "target"): "an iSCSI target",
    ("/cluster/notifications/matchers", "target"): "a notification target",
    ("/cluster/notifications/matchers/{name}", "target"): "a notification target",
    ("/nodes/{node}/lxc/{vmid}/move_volume", "volume"): "the container's own mount point key (rootfs, mp0)",
}  # fmt: skip


def schema() -> list[dict[str, Any]]:
    return [e for e in json.loads(ENDPOINTS.read_text()) if e["method"] != "GET"]


def segments(path: str) -> list[str]:
    return ["x" if part.startswith("{") else part for part in path.strip("/").split("/")]


def test_every_parameter_that_can_name_a_node_or_guest_is_modelled_or_known_harmless() -> None:
    missed = []
    for entry in schema():
        row = endpoint(entry["method"], segments(entry["path"]))
        if row is None or row.refuse:
            continue
        for name, param in entry["parameters"].items():
            fmt = param.get("format") if isinstance(param.get("format"), str) else ""
            if name in entry["path_params"] or (fmt not in NAMING_FORMATS and name not in NAMING_NAMES):
                continue
            modelled = name in row.params or name in row.flags or name in row.missing
            if not modelled and (entry["path"], name) not in HARMLESS:
                missed.append(f"{entry['method']} {entry['path']} {name} ({fmt or 'no format'})")
    assert missed == []


def test_every_row_matches_an_endpoint_of_the_official_api() -> None:
    entries = schema()
    dead = [
        f"{sorted(row.methods)} /{'/'.join(row.pattern)}"
        for row in TABLE
        if not any(e["method"] in row.methods and pattern_matches(row.pattern, segments(e["path"])) for e in entries)
    ]
    assert dead == []


def test_every_catalog_write_endpoint_is_modelled_so_the_scoped_client_sends_it() -> None:
    unmodelled = [
        f"{spec.name}: {spec.method} {spec.path}"
        for spec in ALL_TOOLS
        if not spec.read_only and spec.api and not spec.raw and not spec.ssh
        for pattern in spec_patterns(spec)
        if (row := endpoint(spec.method, [("x" if p == "*" else p) for p in pattern])) is None or row.refuse
    ]
    assert unmodelled == []


def test_writes_the_table_does_not_model_are_few_and_named() -> None:
    unmodelled = sorted(
        f"{e['method']} {e['path']}" for e in schema() if endpoint(e["method"], segments(e["path"])) is None
    )
    assert unmodelled == ["POST /cluster/ha/status/arm-ha", "POST /cluster/ha/status/disarm-ha"]
