"""The house plan, enforced: which package may import which (docs/ARCHITECTURE.md, "What may import what").

Every import counts, wherever it stands: at module level, inside a function, under TYPE_CHECKING. A cycle
hidden in a function is still a cycle a reader has to hold in their head.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"pvemcp": ROOT / "src" / "pvemcp", "pvesim": ROOT / "pvesim" / "src" / "pvesim"}

# pvemcp's parts from the bottom up; a part imports only parts of lower layers (and itself).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"pvemcp", "pvemcp.secret_input", "pvemcp.logs"}),  # the version; leaf helpers
    frozenset({"pvemcp.pve"}),  # Proxmox itself: the client, its errors and quirks, built-in roles
    frozenset({"pvemcp.ssh", "pvemcp.audit", "pvemcp.audit_syslog"}),
    frozenset({"pvemcp.catalog"}),  # the tool records
    frozenset({"pvemcp.server", "pvemcp.privileges"}),  # the MCP server: one dispatch path for every call
    frozenset({"pvemcp.config"}),  # settings, parsed once from the environment and the configuration file
    frozenset({"pvemcp.compose"}),  # the composition root: a client and the Runtime, from the Config
    frozenset({"pvemcp.stdio", "pvemcp.stdio.transport", "pvemcp.http", "pvemcp.setup"}),  # transports; setup
    frozenset({"pvemcp.doctor"}),
    frozenset({"pvemcp.cli"}),  # the command line; each command imports its module when it runs
    frozenset({"pvemcp.__main__"}),
)
# Where pvemcp may import the simulator: the sandbox is built only when asked for.
SIMULATOR_USERS = frozenset({"pvemcp.compose", "pvemcp.cli.simserve"})
# Where pvemcp reads Proxmox's permission facts (pvesim.facts: the rule table, the built-in roles), at
# module level: those modules import nothing else of pvesim, and pvesim loads its simulator lazily.
FACT_READERS = frozenset({"pvemcp.catalog.permissions", "pvemcp.pve.roles"})
FACTS = "pvesim.facts"


@dataclass(frozen=True, slots=True)
class Import:
    target: str
    top_level: bool  # at module level, outside TYPE_CHECKING: runs whenever the module is imported


def module_name(package: str, path: Path) -> str:
    parts = list(path.relative_to(SOURCES[package].parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(pkg, p): p for pkg, base in SOURCES.items() for p in sorted(base.rglob("*.py"))}


def _deferred(node: ast.AST) -> bool:
    """A body that does not run when the module is imported: a function's, or a TYPE_CHECKING block."""
    if isinstance(node, ast.If):
        return "TYPE_CHECKING" in ast.unparse(node.test)
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)


def _walk(node: ast.AST, top_level: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, top_level
        elif _deferred(child):
            yield from _walk(child, False)
        else:
            yield from _walk(child, top_level)


def _owner(name: str) -> str | None:
    """The known module an imported name lives in (`a.b.c` may be a module or a name in `a.b`)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports() -> dict[str, tuple[Import, ...]]:
    found: dict[str, tuple[Import, ...]] = {}
    for name, path in modules().items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out: list[Import] = []
        for node, top in _walk(ast.parse(path.read_text()), True):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                owner = _owner(target)
                if owner is not None and owner != name:
                    out.append(Import(owner, top))
        found[name] = tuple(dict.fromkeys(out))
    return found


def part(module: str) -> str:
    """The part of the house a module belongs to: `pvemcp.server.guard` → `pvemcp.server`."""
    if module.startswith("pvesim"):
        return "pvesim"
    pieces = module.split(".")
    return ".".join(pieces[:2])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def module_graph(prefix: str) -> dict[str, set[str]]:
    return {
        name: {i.target for i in found if i.target.startswith(prefix)}
        for name, found in imports().items()
        if name.startswith(prefix)
    }


def test_every_part_of_pvemcp_has_a_layer() -> None:
    placed = set().union(*LAYERS)
    parts = {part(name) for name in modules() if name.startswith("pvemcp")}
    assert parts <= placed, f"place these in LAYERS (and in docs/ARCHITECTURE.md): {sorted(parts - placed)}"


def test_parts_import_only_parts_below_them() -> None:
    layer = {name: level for level, names in enumerate(LAYERS) for name in names}
    wrong = sorted(
        f"{name} imports {i.target}"
        for name, found in imports().items()
        if name.startswith("pvemcp")
        for i in found
        if i.target.startswith("pvemcp")
        and part(i.target) != part(name)
        and layer.get(part(i.target), 99) >= layer.get(part(name), -1)
    )
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_module_imports_itself_in_a_circle() -> None:
    for prefix in ("pvemcp.", "pvesim"):
        assert not cycles(module_graph(prefix)), f"import cycles among {prefix} modules"


def test_the_simulator_imports_nothing_of_pvemcp() -> None:
    wrong = [f"{n} imports {i.target}" for n, f in imports().items() if n.startswith("pvesim") for i in f]
    assert not [w for w in wrong if " imports pvemcp" in w]


def test_pvemcp_imports_the_simulator_only_for_the_sandbox() -> None:
    users = defaultdict(list)
    for name, found in imports().items():
        for i in found:
            if name in FACT_READERS and (i.target == FACTS or i.target.startswith(FACTS + ".")):
                continue
            if name.startswith("pvemcp") and i.target.startswith("pvesim"):
                users[name].append(i)
    assert set(users) <= SIMULATOR_USERS, sorted(set(users) - SIMULATOR_USERS)
    eager = [name for name, found in users.items() if any(i.top_level for i in found)]
    assert not eager, f"imported at module level, so every run would load the simulator: {eager}"


def test_the_facts_import_nothing_of_the_simulator() -> None:
    """Reading the facts must not load the simulator: they import only each other."""
    facts = {name: found for name, found in imports().items() if name == FACTS or name.startswith(FACTS + ".")}
    assert facts, "pvesim.facts is missing"
    wrong = [f"{n} imports {i.target}" for n, f in facts.items() for i in f if not i.target.startswith(FACTS)]
    assert not wrong, wrong
    readers = {name for name, found in imports().items() if any(i.target.startswith(FACTS) for i in found)}
    assert {r for r in readers if r.startswith("pvemcp")} == FACT_READERS


def test_the_graph_sees_imports_in_every_form() -> None:
    """The checks above are only as good as the parser: it finds relative, nested and TYPE_CHECKING imports."""
    dispatch = {i.target for i in imports()["pvemcp.server.dispatch"]}
    assert {"pvemcp.server.plan", "pvemcp.server.handlers", "pvemcp.catalog"} <= dispatch
    compose = {i.target: i.top_level for i in imports()["pvemcp.compose"]}
    assert compose.get("pvesim") is False  # inside sandbox_client()
    assert any(i.target == "pvemcp.server.dispatch" and not i.top_level for i in imports()["pvemcp.compose"])
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
