"""SDN (/cluster/sdn), following PVE::API2::Network::SDN: zones, vnets, subnets, controllers, apply.

Writes change the config at once and wait for PUT /cluster/sdn to reach the nodes; see state/sdn.py
for the config, the running copy and PVE's pending view.
"""

from __future__ import annotations

import ipaddress

from ..errors import fail, param_error
from ..params import Param, flag, integer, text
from ..routes import Call, Route
from ..state.records import Task
from ..state.sdn import SdnState, Section, Sections

VNET_PATTERN = "[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]"
ZONE_TYPES = ("evpn", "faucet", "qinq", "simple", "vlan", "vxlan")
CONTROLLER_TYPES = ("bgp", "evpn", "faucet", "isis")
VXLAN_ZONES = ("vxlan", "evpn")


def _sdn(c: Call) -> SdnState:
    return c.state.sdn


def _view(c: Call, kind: str) -> tuple[Sections, str | None]:
    """The config, the running copy (running=1) or PVE's pending merge (pending=1), and its digest."""
    sdn = _sdn(c)
    if c.flag("pending"):
        return sdn.pending(kind), None
    if c.flag("running"):
        return sdn.section(kind, running=True), None
    return sdn.section(kind), sdn.digest(kind)


def _entry(key: str, ident: str, values: Section, digest: str | None) -> dict[str, object]:
    entry: dict[str, object] = {**values, key: ident}
    if digest is not None:
        entry["digest"] = digest
    return entry


def _one(c: Call, kind: str, key: str, noun: str) -> object:
    ident = c.text(key)
    objects, digest = _view(c, kind)
    if ident not in objects:
        raise fail(f"sdn {noun} '{ident}' does not exist")
    return _entry(key, ident, objects[ident], digest)


def _listing(c: Call, kind: str, key: str) -> list[dict[str, object]]:
    objects, digest = _view(c, kind)
    kind_filter = c.opt_text("type")
    return [
        _entry(key, ident, values, digest)
        for ident, values in sorted(objects.items())
        if kind_filter is None or values.get("type") == kind_filter
    ]


def zone_index(c: Call) -> object:
    return _listing(c, "zones", "zone")


def zone_read(c: Call) -> object:
    return _one(c, "zones", "zone", "zone")


def controller_index(c: Call) -> object:
    return _listing(c, "controllers", "controller")


def controller_read(c: Call) -> object:
    return _one(c, "controllers", "controller", "controller")


def vnet_index(c: Call) -> object:
    return _listing(c, "vnets", "vnet")


def vnet_read(c: Call) -> object:
    return _one(c, "vnets", "vnet", "vnet")


def _tag_problem(sdn: SdnState, zone: Section, zone_id: str, tag: int | None) -> str | None:
    """The zone plugin's vnet_update_hook: which tags each zone type takes."""
    kind = zone.get("type")
    vnets = sdn.section("vnets")
    if kind == "simple":
        return "vlan tag is not allowed on simple zone" if tag is not None else None
    if kind == "vlan":
        if tag is None:
            return "missing vlan tag"
        if tag > 4096:
            return "vlan tag max value is 4096"
        other = next((i for i, v in sorted(vnets.items()) if v.get("zone") == zone_id and v.get("tag") == tag), None)
        return f"tag {tag} already exist in vnet {other}" if other else None
    if kind in VXLAN_ZONES:
        if tag is None:
            return "missing vxlan tag"
        zones = sdn.section("zones")
        for ident, values in sorted(vnets.items()):
            other_zone = str(values.get("zone"))
            if values.get("tag") == tag and zones.get(other_zone, {}).get("type") in VXLAN_ZONES:
                return f"vxlan tag {tag} already exist in vnet {ident} in zone {other_zone} "
    return None


def vnet_create(c: Call) -> object:
    sdn, vnet, zone_id = _sdn(c), c.text("vnet"), c.text("zone")
    prefix = "create sdn vnet object failed: "
    vnets = sdn.section("vnets")
    if vnet in vnets:
        raise fail(f"{prefix}sdn vnet object ID '{vnet}' already defined")
    zone = sdn.section("zones").get(zone_id)
    if zone is None:
        raise fail(f"{prefix}unknown section type ''")
    tag = c.opt_int("tag")
    problem = _tag_problem(sdn, zone, zone_id, tag)
    if problem is not None:
        raise fail(f"{prefix}400 Parameter verification failed.\ntag: {problem}")
    values: Section = {"type": "vnet", "zone": zone_id}
    for key in ("tag", "alias", "vlanaware", "isolate-ports"):
        if key in c.params:
            values[key] = c.params[key]
    vnets[vnet] = values
    return None


def _subnets_of(sdn: SdnState, vnet: str, running: bool = False) -> list[str]:
    return sorted(i for i, v in sdn.section("subnets", running).items() if v.get("vnet") == vnet)


def vnet_delete(c: Call) -> object:
    sdn, vnet = _sdn(c), c.text("vnet")
    prefix = "delete sdn vnet object failed: "
    vnets = sdn.section("vnets")
    if vnet not in vnets:
        raise fail(f"{prefix}sdn vnet '{vnet}' does not exist")
    if _subnets_of(sdn, vnet):
        raise fail(f"{prefix}400 Parameter verification failed.\nvnet: Can't delete vnet if subnets exists")
    del vnets[vnet]
    return None


def _vnet_zone(c: Call) -> str:
    """check_vnet_access: the vnet must exist (in the config) before its subnets can be touched."""
    vnet = c.text("vnet")
    values = _sdn(c).section("vnets").get(vnet)
    if values is None:
        raise fail(f"sdn vnet '{vnet}' does not exist")
    return str(values.get("zone", ""))


def _subnet_entry(ident: str, values: Section, digest: str | None) -> dict[str, object]:
    """sdn_subnets_config adds the parts of the ID; the API adds the subnet ID and parsed DHCP ranges."""
    zone, network, mask = [*ident.split("-"), "", ""][:3]
    entry: dict[str, object] = {
        **values,
        "id": ident,
        "cidr": f"{network}/{mask}",
        "zone": zone,
        "network": network,
        "mask": mask,
        "subnet": ident,
        "dhcp-range": [_range(r) for r in _ranges(values.get("dhcp-range"))],
    }
    if digest is not None:
        entry["digest"] = digest
    return entry


def _ranges(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _range(text_value: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text_value.split(",") if "=" in part)


def subnet_index(c: Call) -> object:
    _vnet_zone(c)
    vnet = c.text("vnet")
    objects, digest = _view(c, "subnets")
    return [_subnet_entry(i, v, digest) for i, v in sorted(objects.items()) if v.get("vnet") == vnet]


def _cidr(value: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """pve-sdn-subnet-id: a CIDR, or the stored form zone-address-prefix."""
    cidr = value if "/" in value else "/".join([*value.split("-"), "", ""][1:3])
    try:
        return ipaddress.ip_interface(cidr)
    except ValueError:
        raise param_error({"subnet": "invalid format - value does not look like a valid CIDR network\n"}) from None


def subnet_read(c: Call) -> object:
    _vnet_zone(c)
    ident = c.text("subnet")
    _cidr(ident)
    objects, digest = _view(c, "subnets")
    if ident not in objects:
        raise fail(f"sdn subnet '{ident}' does not exist")
    if objects[ident].get("vnet") != c.text("vnet"):
        raise param_error({"vnet": "wrong vnet"})
    return _subnet_entry(ident, objects[ident], digest)


def subnet_create(c: Call) -> object:
    zone = _vnet_zone(c)
    cidr = c.text("subnet")
    _cidr(cidr)
    ident = f"{zone}-{cidr.replace('/', '-')}"
    subnets = _sdn(c).section("subnets")
    if ident in subnets:
        raise fail(f"create sdn subnet object failed: sdn subnet object ID '{ident}' already defined")
    values: Section = {"type": "subnet", "vnet": c.text("vnet")}
    for key in ("gateway", "snat", "dnszoneprefix", "dhcp-dns-server"):
        if key in c.params:
            values[key] = c.params[key]
    if "dhcp-range" in c.params:
        values["dhcp-range"] = [r for r in c.text("dhcp-range").split("\0") if r]
    subnets[ident] = values
    return None


def subnet_delete(c: Call) -> object:
    _vnet_zone(c)
    ident = c.text("subnet")
    _cidr(ident)
    subnets = _sdn(c).section("subnets")
    if ident not in subnets:  # SubnetPlugin's on_delete_hook looks it up without noerr
        raise fail(f"delete sdn subnet object failed: sdn subnet '{ident}' does not exist")
    del subnets[ident]
    return None


def apply(c: Call) -> object:
    """commit_config, then a reloadnetworkall worker that starts one networking reload per node."""
    sdn = _sdn(c)
    sdn.apply()
    runner, user = c.ctx.runner, c.ctx.user
    nodes = [node for node in c.state.nodes.values() if node.online]

    def reload_all(task: Task) -> str | None:
        for node in nodes:
            reload = runner.start(node, "srvreload", "networking", user)
            task.log.append(f"{node.name}: {reload.upid}")
        return None

    return runner.start(c.state.nodes[c.state.local_node], "reloadnetworkall", "", user, action=reload_all).upid


VIEW = (flag("pending"), flag("running"))
LOCK = text("lock-token")
VNET = Param("vnet", "string", optional=False, max_length=8, pattern=VNET_PATTERN)
ZONE = Param("zone", "string", optional=False, max_length=8, pattern=VNET_PATTERN)
CONTROLLER = Param("controller", "string", optional=False, max_length=64, pattern="[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9]")
SUBNET = text("subnet", optional=False, format="pve-sdn-subnet-id")

ROUTES = (
    Route("PUT", "/cluster/sdn", (LOCK, flag("release-lock")), apply),
    Route("GET", "/cluster/sdn/zones", (*VIEW, text("type", enum=ZONE_TYPES)), zone_index),
    Route("GET", "/cluster/sdn/zones/{zone}", (*VIEW, ZONE), zone_read),
    Route("GET", "/cluster/sdn/controllers", (*VIEW, text("type", enum=CONTROLLER_TYPES)), controller_index),
    Route("GET", "/cluster/sdn/controllers/{controller}", (*VIEW, CONTROLLER), controller_read),
    Route("GET", "/cluster/sdn/vnets", VIEW, vnet_index),
    Route(
        "POST",
        "/cluster/sdn/vnets",
        (
            Param("alias", "string", max_length=256, pattern=r"(?^i:[\(\)-_.\w\d\s]{0,256})"),
            flag("isolate-ports"),
            LOCK,
            integer("tag", minimum=1, maximum=16777215),
            text("type", enum=("vnet",)),
            flag("vlanaware"),
            VNET,
            text("zone", optional=False),
        ),
        vnet_create,
    ),
    Route("GET", "/cluster/sdn/vnets/{vnet}", (*VIEW, VNET), vnet_read),
    Route("DELETE", "/cluster/sdn/vnets/{vnet}", (LOCK, VNET), vnet_delete),
    Route("GET", "/cluster/sdn/vnets/{vnet}/subnets", (*VIEW, VNET), subnet_index),
    Route(
        "POST",
        "/cluster/sdn/vnets/{vnet}/subnets",
        (
            text("dhcp-dns-server", format="ip"),
            Param("dhcp-range", "array"),
            text("dnszoneprefix", format="dns-name"),
            text("gateway", format="ip"),
            LOCK,
            flag("snat"),
            SUBNET,
            text("type", optional=False, enum=("subnet",)),
            text("vnet", optional=False),
        ),
        subnet_create,
    ),
    Route("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}", (*VIEW, SUBNET, VNET), subnet_read),
    Route("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}", (LOCK, SUBNET, VNET), subnet_delete),
)
