"""A guest's firewall options: the [OPTIONS] section of /etc/pve/firewall/<vmid>.fw.

As in PVE, a read returns only the options the file sets (with the digest): an absent one has its
default (enable off, policy_in DROP, policy_out ACCEPT, macfilter and ndp on, the rest off, logging
nolog). A write deletes first, then sets.
"""

from __future__ import annotations

from ..errors import fail, param_error
from ..params import NODE, VMID, flag, split_list, text
from ..routes import Call, Route
from ..state.firewall import digest
from .firewall import DIGEST, LOG_LEVELS, MODIFIED, POLICIES

FLAGS = ("dhcp", "enable", "ipfilter", "macfilter", "ndp", "radv")
CHOICES = ("log_level_in", "log_level_out", "policy_in", "policy_out")
OPTION_KEYS = frozenset(FLAGS + CHOICES)


def get_options(c: Call) -> object:
    vmid = c.integer("vmid")
    options = c.state.firewall.options_seen(vmid, c.state.guests.get(vmid))
    return {**dict(sorted(options.items())), "digest": digest([options])}


def set_options(c: Call) -> object:
    vmid = c.integer("vmid")
    fw = c.state.firewall
    current = fw.options_seen(vmid, c.state.guests.get(vmid))
    wanted = c.opt_text("digest")
    if wanted is not None and wanted != digest([current]):
        raise fail(MODIFIED)
    deleted = split_list(c.opt_text("delete") or "")
    for key in deleted:
        if key not in OPTION_KEYS:
            raise param_error({"delete": f"no such option '{key}'"})
    given = {key: c.params[key] for key in sorted(OPTION_KEYS) if c.params.get(key) is not None}
    if not deleted and not given:
        return None  # nothing to write: the .fw file is left as it is
    options = fw.options_of(vmid, c.state.guests.get(vmid))
    for key in deleted:
        options.pop(key, None)
    for key, value in given.items():
        options[key] = value if isinstance(value, str) else int(value)  # flags arrive checked as 0 or 1
    return None


PARAMS = (
    NODE,
    VMID,
    text("delete", format="pve-configid-list"),
    DIGEST,
    *(flag(name) for name in FLAGS),
    *(text(name, enum=LOG_LEVELS) for name in ("log_level_in", "log_level_out")),
    *(text(name, enum=POLICIES) for name in ("policy_in", "policy_out")),
)

ROUTES: tuple[Route, ...] = tuple(
    route
    for kind in ("qemu", "lxc")
    for route in (
        Route("GET", f"/nodes/{{node}}/{kind}/{{vmid}}/firewall/options", (NODE, VMID), get_options),
        Route("PUT", f"/nodes/{{node}}/{kind}/{{vmid}}/firewall/options", PARAMS, set_options),
    )
)
