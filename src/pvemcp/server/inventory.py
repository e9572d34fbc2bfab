"""Which tools are exposed, decided once at start-up.

Filters apply in this order; each can only remove tools, never add one back:

1. tier ceiling   PVE_ACCESS_TIER (read-only < read-execute < full); nothing raises it.
   SSH tools       hidden unless the SSH channel is configured (PVE_SSH, PROXMOX_SSH_*).
2. module         PVE_MODULE_MODE=core hides advanced tools.
3. categories     PVE_CATEGORIES, when set, keeps only those categories.
4. whitelist      PVE_TOOL_WHITELIST, when set, keeps only those tools (it narrows; it never
                  re-admits a tool that the tier, module or categories removed).
5. blacklist      PVE_TOOL_BLACKLIST removes tools.

A list may name a tool or one of its aliases: either name acts on the canonical tool, and an
alias is exposed exactly when its canonical tool is. PVE_ALIASES=listed (default) lists aliases as
tools of their own; hidden keeps them callable but unlisted; off removes them. Unknown names stop
start-up.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pvemcp.catalog import ALL_TOOLS, CATEGORIES
from pvemcp.catalog.spec import Module, Tier, ToolSpec

AliasMode = Literal["listed", "hidden", "off"]
ALIAS_MODES: tuple[AliasMode, ...] = ("listed", "hidden", "off")
# consolidated: the tools of catalog/fronts.py are listed, each a front over the catalog's operations;
# catalog: one tool per operation. Every catalog name and alias is callable in both.
ToolMode = Literal["consolidated", "catalog"]


@dataclass(frozen=True, slots=True)
class Policy:
    tier: Tier = Tier.READ_ONLY
    module: Module = Module.CORE
    categories: frozenset[str] = frozenset()
    whitelist: frozenset[str] = frozenset()
    blacklist: frozenset[str] = frozenset()
    aliases: AliasMode = "listed"
    mode: ToolMode = "catalog"
    ssh: bool = False  # the SSH channel is configured (config.ssh_settings); without it the SSH tools are hidden


@dataclass(frozen=True, slots=True)
class Exposed:
    """A callable name: the canonical spec, and the alias name when called by one."""

    spec: ToolSpec
    alias_of: str | None = None


def split_csv(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def parse_policy(
    *,
    tier: str | None,
    module: str | None,
    categories: str | None,
    whitelist: str | None,
    blacklist: str | None,
    aliases: str | None = None,
    mode: str = "catalog",
    catalog: Sequence[ToolSpec] = ALL_TOOLS,
) -> tuple[Policy, list[str]]:
    """Build a Policy from settings text; return it with every problem found (empty when valid)."""
    problems: list[str] = []
    parsed_tier = Tier.READ_ONLY
    if tier:
        try:
            parsed_tier = Tier.parse(tier)
        except ValueError:
            problems.append(
                f"PVE_ACCESS_TIER={tier!r} is not a tier{_suggest(tier, Tier.labels())};"
                f" use one of {', '.join(Tier.labels())}"
            )
    parsed_module = Module.CORE
    if module:
        try:
            parsed_module = Module(module.strip().lower())
        except ValueError:
            choices = [m.value for m in Module]
            problems.append(
                f"PVE_MODULE_MODE={module!r} is not a module mode{_suggest(module, choices)}; use core or advanced"
            )
    known_categories = {spec.category for spec in catalog}
    cats = {c.lower() for c in split_csv(categories)}
    for cat in sorted(cats - known_categories):
        problems.append(f"PVE_CATEGORIES names unknown category {cat!r}{_suggest(cat, known_categories)}")
    names = {spec.name: spec.name for spec in catalog}
    names.update({alias: spec.name for spec in catalog for alias in spec.aliases})
    lists: dict[str, frozenset[str]] = {}
    for env, text in (("PVE_TOOL_WHITELIST", whitelist), ("PVE_TOOL_BLACKLIST", blacklist)):
        canonical: set[str] = set()
        for name in split_csv(text):
            if name in names:
                canonical.add(names[name])
            else:
                problems.append(f"{env} names unknown tool {name!r}{_suggest(name, names)}")
        lists[env] = frozenset(canonical)
    alias_mode: AliasMode = "listed"
    if aliases and aliases.strip():
        mode = aliases.strip().lower()
        if mode == "hidden":
            alias_mode = "hidden"
        elif mode == "off":
            alias_mode = "off"
        elif mode != "listed":
            problems.append(f"PVE_ALIASES={aliases!r} is not one of listed, hidden, off{_suggest(mode, ALIAS_MODES)}")
    policy = Policy(
        mode="consolidated" if mode == "consolidated" else "catalog",
        aliases=alias_mode,
        tier=parsed_tier,
        module=parsed_module,
        categories=frozenset(cats),
        whitelist=lists["PVE_TOOL_WHITELIST"],
        blacklist=lists["PVE_TOOL_BLACKLIST"],
    )
    return policy, problems


def hidden_by(spec: ToolSpec, policy: Policy) -> str | None:
    """The first filter that removes this tool, or None when it is exposed."""
    if spec.tier > policy.tier:
        return "tier"
    if spec.ssh and not policy.ssh:
        return "ssh"
    if policy.module is Module.CORE and spec.module is Module.ADVANCED:
        return "module"
    if policy.categories and spec.category not in policy.categories:
        return "categories"
    if policy.whitelist and spec.name not in policy.whitelist:
        return "whitelist"
    if spec.name in policy.blacklist:
        return "blacklist"
    return None


# Why a filter hides a tool, in words for the assistant (pve_preview, a consolidated tool's hidden action).
HIDDEN: dict[str, Callable[[ToolSpec, Policy], str]] = {
    "tier": lambda s, p: f"it needs the {s.tier.label} access tier; this server runs at {p.tier.label}",
    "ssh": lambda s, p: "it runs over SSH, which this server has not configured (PROXMOX_SSH_*, PVE_SSH)",
    "module": lambda s, p: "it is an advanced tool; this server runs PVE_MODULE_MODE=core",
    "categories": lambda s, p: f"its category {s.category} is not in PVE_CATEGORIES",
    "whitelist": lambda s, p: "it is not in PVE_TOOL_WHITELIST",
    "blacklist": lambda s, p: "PVE_TOOL_BLACKLIST removes it",
}


@dataclass(slots=True)
class Inventory:
    """The exposed tools for one policy, in catalog order with each alias after its tool."""

    policy: Policy
    catalog: Sequence[ToolSpec] = ALL_TOOLS
    by_name: dict[str, Exposed] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {}
        for spec in self.catalog:
            if hidden_by(spec, self.policy) is None:
                self.by_name[spec.name] = Exposed(spec)
                if self.policy.aliases == "off":
                    continue
                for alias in spec.aliases:
                    self.by_name[alias] = Exposed(spec, alias_of=spec.name)

    def listed(self) -> list[tuple[str, Exposed]]:
        """What tools/list shows in catalog mode: hidden aliases and the consolidated surface's own answers
        stay callable but unlisted."""
        hide = self.policy.aliases != "listed"
        return [(name, e) for name, e in self.by_name.items() if e.spec.catalog_listing and not (hide and e.alias_of)]

    def get(self, name: str) -> Exposed | None:
        return self.by_name.get(name)

    def __len__(self) -> int:
        return len(self.by_name)


__all__ = ["CATEGORIES", "HIDDEN", "Exposed", "Inventory", "Policy", "hidden_by", "parse_policy", "split_csv"]
