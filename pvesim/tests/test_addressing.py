"""How the effect record reads the guests and nodes a request names, checked against the official schema."""

from __future__ import annotations

from typing import Any

import pytest

from pvesim import Simulator
from pvesim.addressing import BY_FORMAT, addressed, reader_for, volume_guests, wire_text
from pvesim.effects import task_targets
from sim_support import load_endpoints, schema_dir


def _format(spec: dict[str, Any]) -> str | None:
    """A parameter's named format, or its items' for an array."""
    fmt = spec.get("format")
    items = spec.get("items")
    if not isinstance(fmt, str) and isinstance(items, dict):
        fmt = items.get("format")
    return fmt if isinstance(fmt, str) else None


def test_every_parameter_the_schema_gives_a_naming_format_is_declared_with_it() -> None:
    folder = schema_dir()
    if folder is None:
        pytest.skip("the official PVE API schema is not beside this checkout")
    endpoints = load_endpoints(folder)
    sim = Simulator()
    missing = []
    for route in sim.router.routes:
        for name, spec in endpoints[(route.method, route.path)]["parameters"].items():
            fmt = _format(spec)
            if fmt in BY_FORMAT:
                declared = route.declared.get(name)
                if declared is None or declared.format != fmt or reader_for(declared) is None:
                    missing.append(f"{route.method} {route.path} {name} ({fmt})")
    assert missing == []


def test_every_naming_format_in_the_schema_has_a_reader() -> None:
    folder = schema_dir()
    if folder is None:
        pytest.skip("the official PVE API schema is not beside this checkout")
    formats = {
        fmt
        for record in load_endpoints(folder).values()
        for spec in record["parameters"].values()
        if (fmt := _format(spec)) is not None
    }
    naming = {f for f in formats if any(word in f for word in ("vmid", "node", "ha-resource", "volume-id", "job-id"))}

    assert naming <= set(BY_FORMAT)


@pytest.mark.parametrize(
    ("volid", "guests"),
    [
        ("local-lvm:vm-100-disk-0", (100,)),
        ("vm-100-disk-0", (100,)),
        ("local-lvm:base-109-disk-0", (109,)),
        ("local-zfs:base-109-disk-0/vm-150-disk-0", (109, 150)),
        ("local:subvol-201-disk-1", (201,)),
        ("local:100/vm-100-disk-1.qcow2", (100,)),
        ("nfs-backup:backup/vzdump-qemu-106-2025_01_02-03_04_05.vma.zst", (106,)),
        ("nfs-backup:backup/vzdump-lxc-201-2025_01_02-03_04_05.tar.zst", (201,)),
        ("local:iso/debian-13.1.0-amd64-netinst.iso", ()),
        ("local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst", ()),
        ("local:snippets/vm-hook.pl", ()),
    ],
)
def test_volume_ids_name_the_guests_in_them(volid: str, guests: tuple[int, ...]) -> None:
    assert volume_guests(volid) == guests


def test_wire_values_read_as_the_parameter_check_reads_them() -> None:
    assert wire_text("100") == "100"
    assert wire_text(100) == "100"
    assert wire_text(100.0) == "100"
    assert wire_text([100, 101.0], array=True) == "100\x00101"
    assert wire_text([100, 101]) is None  # a list for a string parameter fails its type check
    assert wire_text([100, True], array=True) is None
    assert wire_text(True) is None and wire_text(None) is None and wire_text({"a": 1}) is None


def named(sim: Simulator, method: str, url: str, /, **params: object) -> set[object]:
    """What a request for ``url`` (relative to /api2/json) with these parameters addresses."""
    segments = url.strip("/").split("/")
    return set(addressed(sim.state, segments, sim.router.match(method, segments), params))


def test_parameters_name_guests_and_nodes_by_format_and_role() -> None:
    sim = Simulator()
    state = sim.state

    def reads(method: str, url: str, /, **params: object) -> set[object]:
        return named(sim, method, url, **params)

    upid = next(t.upid for t in state.tasks.values() if t.node == "pve3" and t.id.isdigit())
    assert reads("GET", "/nodes/pve1/tasks/" + upid + "/status") == {("node", "pve1"), *task_targets(state.tasks[upid])}
    assert reads("PUT", "/pools", poolid="p", vms="100;101 102,bad") == {("guest", v) for v in (100, 101, 102)}
    assert reads("POST", "/storage", storage="s", type="dir", nodes="pve1,pve2") == {("node", "pve1"), ("node", "pve2")}
    assert reads("GET", "/nodes/localhost/storage", target="pve3") == {("node", "pve1"), ("node", "pve3")}
    assert reads("PUT", "/access/acl", path="/vms/105", roles="PVEAuditor") == {("guest", 105)}
    assert reads("PUT", "/access/acl", path="/nodes/pve2", roles="PVEAuditor") == {("node", "pve2")}
    assert reads("PUT", "/access/acl", path="/storage/local", roles="PVEAuditor") == set()
    assert reads("GET", "/cluster/ha/rules", resource="ct:201") == {("guest", 201)}
    assert reads("GET", "/cluster/ha/resources/105") == {("guest", 105)}
    assert reads("POST", "/nodes/pve1/qemu", vmid="300", archive="nfs-backup:backup/vzdump-qemu-100-x.vma") == {
        ("guest", 300),
        ("guest", 100),
        ("node", "pve1"),
    }
    assert reads("GET", "/nodes/pve1/tasks", source="all") == {("node", "pve1")}  # an enum, not a node


def test_backup_selections_address_what_they_would_take_in() -> None:
    sim = Simulator()
    state = sim.state

    def reads(method: str, url: str, /, **params: object) -> set[object]:
        return named(sim, method, url, **params)

    everyone = {("guest", vmid) for vmid in state.guests}
    in_pool = {("guest", g.vmid) for g in state.guests.values() if g.pool == "production"}
    on_pve3 = {("guest", g.vmid) for g in state.guests.values() if g.node == "pve3"}

    assert reads("POST", "/cluster/backup", all="1", schedule="daily") == everyone
    assert reads("POST", "/cluster/backup", all=True, exclude="100", schedule="daily") == everyone
    assert reads("POST", "/cluster/backup", pool="production", schedule="daily") == in_pool
    assert reads("POST", "/cluster/backup", all="1", node="pve3", schedule="daily") == on_pve3 | {("node", "pve3")}
    assert reads("POST", "/nodes/pve3/vzdump", all="1", exclude="102") == on_pve3 | {("node", "pve3")}
    assert reads("POST", "/nodes/pve3/vzdump", all="0", vmid="100") == {("guest", 100), ("node", "pve3")}
    assert reads("POST", "/nodes/pve3/vzdump", all=1.0) == on_pve3 | {("node", "pve3")}
    # shapes the parameter check refuses name nothing
    assert reads("POST", "/nodes/pve3/vzdump", all=[True], pool=["production"], vmid=[100]) == {("node", "pve3")}
