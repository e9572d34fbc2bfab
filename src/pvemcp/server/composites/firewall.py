"""Composite handlers for the firewall tools.

Proxmox puts every new firewall rule at the top and ignores `pos` on create; a rule is placed
elsewhere by moving it afterwards. So that a rule never takes effect in the wrong place, one
meant for another position is created disabled, moved, and only then enabled.
"""

from __future__ import annotations

from typing import Any

from pvemcp.pve import wire
from pvemcp.server.call import Call, Handler, api_params
from pvemcp.server.recovery import read_after_write


async def create_firewall_rule(call: Call) -> Any:
    """Create, place and enable a rule; answer with the rule as Proxmox lists it."""
    rules = wire.expand_path(call.spec.path, {name: call.args[name] for name in call.spec.placeholders})
    params = api_params(call)
    enable = params.pop("enable", 1)
    wanted = call.args.get("pos") or 0
    pos = min(wanted, len(await call.client.get(rules))) if wanted else 0
    await call.client.post(rules, {**params, "enable": 0 if pos else enable})
    if pos:
        # Proxmox inserts a moved rule before the one at `moveto`; the new rule sits at 0 until then.
        await call.client.request("PUT", f"{rules}/0", {"moveto": pos + 1})
        if enable:
            await call.client.request("PUT", f"{rules}/{pos}", {"enable": enable})
    listed, warning = await read_after_write(call.client.get(rules), "the rules", "list them to see it at pos.")
    if warning is not None:
        return {"pos": pos, "warning": warning}
    return listed[pos] if isinstance(listed, list) and pos < len(listed) else {"pos": pos}


HANDLERS: dict[str, Handler] = {"create_firewall_rule": create_firewall_rule}
