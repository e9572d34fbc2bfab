"""Node network interfaces, following PVE::API2::Network: writes land in interfaces.new."""

from __future__ import annotations

from ..errors import fail, param_error
from ..params import NODE, Param, flag, integer, split_list, text
from ..routes import Call, Reply, Route
from ..state.network import Iface, NodeNetwork
from ..state.records import Task

BRIDGES = {"any_local_bridge": ("bridge", "OVSBridge"), "any_bridge": ("bridge", "OVSBridge", "vnet")}


def _network(c: Call) -> NodeNetwork:
    return c.state.networks[c.text("node")]


def _existing(c: Call) -> str:
    iface = c.text("iface")
    if iface not in _network(c).current():
        raise param_error({"iface": "interface does not exist"})
    return iface


def network_index(c: Call) -> object:
    network = _network(c)
    kind = c.opt_text("type")
    wanted = BRIDGES.get(kind or "", (kind,))
    items = [network.record(name) for name in sorted(network.current())]
    if kind is not None and kind != "include_sdn":
        items = [item for item in items if item["type"] in wanted]
    return Reply(items, changes=network.changes())


def network_read(c: Call) -> object:
    return _network(c).record(_existing(c))


def _addresses(params: dict[str, object]) -> None:
    """cidr/cidr6 become address+netmask; giving both forms is refused, as PVE does."""
    for cidr, address, netmask in (("cidr", "address", "netmask"), ("cidr6", "address6", "netmask6")):
        if not params.get(cidr):
            continue
        if params.get(address):
            raise param_error({address: f"{address} conflicts with {cidr}"})
        if params.get(netmask):
            raise param_error({netmask: f"{netmask} conflicts with {cidr}"})
        ip, _, prefix = str(params.pop(cidr)).partition("/")
        params[address], params[netmask] = ip, prefix if address == "address" else int(prefix)


def _gateways(ifaces: dict[str, Iface], name: str, params: dict[str, object]) -> None:
    for key, label in (("gateway", "Default gateway"), ("gateway6", "Default ipv6 gateway")):
        if not params.get(key):
            continue
        for other, iface in ifaces.items():
            if other != name and iface.get(key):
                raise param_error({key: f"{label} already exists on interface '{other}'."})


def _families(iface: Iface, params: dict[str, object]) -> None:
    """PVE derives method and families from the addresses sent with this very request."""
    raw = iface.get("families")
    families = [f for f in raw if isinstance(f, str)] if isinstance(raw, list) else []
    for family, key in (("inet", "address"), ("inet6", "address6")):
        if params.get(key):
            families += [] if family in families else [family]
        elif family in families:
            families.remove(family)
    iface["families"] = families or ["inet"]
    iface["method"] = "static" if params.get("address") else "manual"
    iface["method6"] = "static" if params.get("address6") else "manual"


def network_create(c: Call) -> object:
    name = c.text("iface")
    ifaces = _network(c).current()
    if name in ifaces:
        raise param_error({"iface": "interface already exists"})
    params: dict[str, object] = {k: v for k, v in c.params.items() if k not in ("node", "iface")}
    _gateways(ifaces, name, params)
    _addresses(params)
    if str(params["type"]).startswith("OVS"):
        raise fail("Open VSwitch is not installed (need package 'openvswitch-switch')")
    iface: Iface = dict(params)
    _families(iface, params)
    _network(c).edit()[name] = iface
    return None


def network_update(c: Call) -> object:
    """Works on a copy, so a refused update leaves interfaces.new as it was."""
    name = _existing(c)
    ifaces = _network(c).current()
    iface = dict(ifaces[name])
    for key in split_list(c.opt_text("delete") or ""):
        iface.pop(key, None)
        if key in ("cidr", "cidr6"):
            suffix = "6" if key == "cidr6" else ""
            iface.pop(f"address{suffix}", None)
            iface.pop(f"netmask{suffix}", None)
    params: dict[str, object] = {k: v for k, v in c.params.items() if k not in ("node", "iface", "delete")}
    _addresses(params)
    _gateways(ifaces, name, params)
    _families(iface, params)
    iface.update(params)
    _network(c).edit()[name] = iface
    return None


def network_delete(c: Call) -> object:
    name = _existing(c)
    del _network(c).edit()[name]
    return None


def network_apply(c: Call) -> object:
    """ifreload in a worker: the pending file becomes the live one when the task ends."""
    network = _network(c)

    def reload(task: Task) -> str | None:
        network.apply()
        return None

    return c.ctx.runner.start(c.node, "srvreload", "networking", c.ctx.user, action=reload).upid


def network_revert(c: Call) -> object:
    _network(c).pending = None
    return None


IFACE = Param("iface", "string", optional=False, format="pve-iface", max_length=20)
TYPES = ("bridge", "bond", "eth", "alias", "vlan", "fabric", "OVSBridge", "OVSBond", "OVSPort", "OVSIntPort", "vnet")
BOND_MODES = (
    "balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb",
    "balance-slb", "lacp-balance-slb", "lacp-balance-tcp",
)  # fmt: skip
SETTINGS: tuple[Param, ...] = (
    text("address", format="ipv4"),
    text("address6", format="ipv6"),
    flag("autostart"),
    text("bond-primary", format="pve-iface"),
    text("bond_mode", enum=BOND_MODES),
    text("bond_xmit_hash_policy", enum=("layer2", "layer2+3", "layer3+4")),
    text("bridge_ports", format="pve-iface-list"),
    text("bridge_vids", format="pve-vlan-id-or-range-list"),
    flag("bridge_vlan_aware"),
    text("cidr", format="CIDRv4"),
    text("cidr6", format="CIDRv6"),
    text("comments"),
    text("comments6"),
    text("gateway", format="ipv4"),
    text("gateway6", format="ipv6"),
    integer("mtu", minimum=1280, maximum=65520),
    text("netmask", format="ipv4mask"),
    integer("netmask6", minimum=0, maximum=128),
    text("ovs_bonds", format="pve-iface-list"),
    text("ovs_bridge", format="pve-iface"),
    text("ovs_options", max_length=1024),
    text("ovs_ports", format="pve-iface-list"),
    integer("ovs_tag", minimum=1, maximum=4094),
    text("slaves", format="pve-iface-list"),
    text("type", optional=False, enum=(*TYPES, "unknown")),
    integer("vlan-id", minimum=1, maximum=4094),
    text("vlan-raw-device", format="pve-iface"),
)
LIST_TYPES = (*TYPES, "any_bridge", "any_local_bridge", "include_sdn")

ROUTES = (
    Route("GET", "/nodes/{node}/network", (NODE, text("type", enum=LIST_TYPES)), network_index),
    Route("POST", "/nodes/{node}/network", (NODE, IFACE, *SETTINGS), network_create),
    Route("PUT", "/nodes/{node}/network", (NODE, flag("regenerate-frr")), network_apply),
    Route("DELETE", "/nodes/{node}/network", (NODE,), network_revert),
    Route("GET", "/nodes/{node}/network/{iface}", (NODE, IFACE), network_read),
    Route(
        "PUT",
        "/nodes/{node}/network/{iface}",
        (NODE, IFACE, *SETTINGS, text("delete", format="pve-configid-list")),
        network_update,
    ),
    Route("DELETE", "/nodes/{node}/network/{iface}", (NODE, IFACE), network_delete),
)
