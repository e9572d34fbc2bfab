"""How many tools a configuration offers, in the one wording every command uses.

A bare "96 tools" hid that some were aliases of others, and in consolidated mode the few listed tools
front many operations: each number here says what it counts. The transports sit below the command line,
so `pvemcp run` hands them `runtime_listing` rather than them importing this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pvemcp.server.dispatch import Runtime
    from pvemcp.server.inventory import Inventory, Policy


def _many(count: int, word: str, plural: str) -> str:
    return f"{count} {word if count == 1 else plural}"


def counted(tools: int, aliases: int) -> str:
    """'88 tools + 8 aliases': canonical tools, and the extra names (nandi's camelCase) that call them."""
    return f"{_many(tools, 'tool', 'tools')} + {_many(aliases, 'alias', 'aliases')}"


def consolidated(tools: int, operations: int) -> str:
    """'19 tools (consolidated; 229 operations callable by name)': the fronts listed and what they reach."""
    reached = _many(operations, "operation", "operations")
    return f"{_many(tools, 'tool', 'tools')} (consolidated; {reached} callable by name)"


def exposed(inventory: Inventory) -> tuple[int, int]:
    """The tools and aliases a policy exposes (callable, listed or not)."""
    aliases = sum(1 for entry in inventory.by_name.values() if entry.alias_of is not None)
    return len(inventory) - aliases, aliases


def listing(inventory: Inventory, names: Iterable[str]) -> str:
    """What tools/list shows for `inventory`, given the names it lists, in words."""
    listed = list(names)
    if inventory.policy.mode == "consolidated":
        return consolidated(len(listed), exposed(inventory)[0])
    aliases = sum(1 for name in listed if (entry := inventory.get(name)) is not None and entry.alias_of is not None)
    return counted(len(listed) - aliases, aliases)


def runtime_listing(runtime: Runtime) -> str:
    """What a running server lists, e.g. for `pvemcp run`'s first log line."""
    return listing(runtime.inventory, (tool.name for tool in runtime.tools))


def policy_listing(policy: Policy) -> str:
    """What a server with this policy would list, without building one."""
    from pvemcp.server.fronts import Fronts
    from pvemcp.server.inventory import Inventory

    inventory = Inventory(policy)
    if policy.mode == "consolidated":
        return listing(inventory, (tool.name for tool in Fronts(inventory).tools))
    return listing(inventory, (name for name, _ in inventory.listed()))
