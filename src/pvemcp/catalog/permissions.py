"""Which Proxmox privilege each endpoint of the catalog needs: read from pvesim's facts, never copied.

The table (`RULES`, and `USEFUL` for what makes an open endpoint useful) and its parser live in
`pvesim.facts`, the one place that states Proxmox's permission rules; the simulator enforces them on
every request and pvemcp's doctor and bootstrap judge tokens by them (ADR 0011). Catalog paths name
`{guest_type}` where the schema has one path per guest type: `schema_path` maps them.
"""

from __future__ import annotations

from pvesim.facts.rules import (
    AllOf,
    AnyOf,
    Perm,
    PermModify,
    RootOnly,
    Rule,
    RuleSyntaxError,
    UserAll,
    UserIdGroup,
    UserIdParam,
    World,
    parse_rule,
)
from pvesim.facts.table import GUEST_TYPES, PER_PARAMETER, RULES, USEFUL, rule_for

__all__ = [
    "GUEST_TYPES",
    "PER_PARAMETER",
    "RULES",
    "USEFUL",
    "AllOf",
    "AnyOf",
    "Perm",
    "PermModify",
    "RootOnly",
    "Rule",
    "RuleSyntaxError",
    "UserAll",
    "UserIdGroup",
    "UserIdParam",
    "World",
    "parse_rule",
    "rule_for",
    "schema_path",
]


def schema_path(method: str, path: str) -> list[tuple[str, str]]:
    """The schema's (method, path) pairs a catalog path stands for ({guest_type}: qemu and lxc)."""
    if "{guest_type}" in path:
        return [(method, path.replace("{guest_type}", kind)) for kind in GUEST_TYPES]
    return [(method, path)]
