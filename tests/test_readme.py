"""The README gets a new user going; the reference lives in docs/, and its tables are generated.

The settings table is the one declaration: the docs pages' settings tables are generated from it, and the code
reads exactly the settings it holds. The README's command list names every option `--help` shows.
Rewrite the generated tables with `make docs`; the diff is the review.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import click

from pvemcp.cli.docs import LISTING_BLOCK, SETTINGS_BLOCK, pages, update_generated
from pvemcp.cli.main import cli
from pvemcp.config.table import BY_NAME, SECTIONS, SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SOURCE = ROOT / "src" / "pvemcp"
UPDATE = os.environ.get("PVEMCP_UPDATE_SNAPSHOTS") == "1"
ACCESSORS = {"raw", "given", "text", "integer", "number", "flag", "choice"}
OURS = re.compile(r"^(PROXMOX|PVE|PVEMCP|MCP)_[A-Z0-9_]+$")
LINK = re.compile(r"\]\((?!https?://|#)(?P<target>[^)#\s]+)(?:#[^)]*)?\)")


def _all_docs() -> str:
    return "\n".join(page.read_text("utf-8") for page in pages(ROOT))


def _section(text: str, title: str) -> str:
    """The text under a `## title` heading, up to the next heading of that level."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_generated_tables_are_current() -> None:
    found: list[str] = []
    listings = 0
    for page in pages(ROOT):
        text = page.read_text("utf-8")
        if UPDATE:
            text = update_generated(text)
            page.write_text(text, "utf-8")
        found += [m.group("section") for m in SETTINGS_BLOCK.finditer(text)]
        listings += len(LISTING_BLOCK.findall(text))
        assert text == update_generated(text), f"{page.relative_to(ROOT)}'s generated tables are stale: run `make docs`"
    assert sorted(found) == sorted(SECTIONS), f"each settings table once across the docs: {found}"
    assert listings == 1, "the listing-size table appears once across the docs"


def test_every_documented_setting_is_in_the_docs() -> None:
    text = _all_docs()
    missing = [s.name for s in SETTINGS if s.section != "environment" and f"`{s.name}`" not in text]
    assert not missing, f"the docs do not document: {', '.join(missing)}"


def test_every_row_has_a_meaning_and_bounds_fit_the_default() -> None:
    for section in SECTIONS:
        first = next(s for s in SETTINGS if s.section == section)
        assert first.doc, f"{first.name} opens the {section} table and needs a meaning"
    for setting in SETTINGS:
        if setting.kind in ("integer", "number"):
            assert setting.low is not None and setting.high is not None, setting.name
            assert isinstance(setting.default, int | float), setting.name
            assert setting.low <= setting.default <= setting.high, setting.name
        if setting.kind == "choice":
            assert setting.default in setting.choices, setting.name
        assert setting.kind == "text" or not setting.secret, setting.name


def test_the_readme_is_short_and_leads_with_both_paths() -> None:
    text = README.read_text("utf-8")
    assert len(text.splitlines()) <= 200, "README.md stays under 200 lines; the reference goes to docs/"
    assert "make demo" in text and "make test" in text, "the two commands that set everything up"
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    order = ["Get the code", "Try it on the sandbox", "Connect your cluster", "Commands"]
    assert [h for h in headings if h in order] == order, headings
    assert "git clone " in _section(text, "Get the code")
    assert "make demo" in _section(text, "Try it on the sandbox")
    connect = _section(text, "Connect your cluster")
    steps = [connect.index(f"pvemcp {step}") for step in ("bootstrap", "setup", "doctor")]
    assert steps == sorted(steps), "bootstrap → setup → doctor, in that order"
    for where in (
        "~/Library/Application Support/Claude/claude_desktop_config.json",
        "%APPDATA%\\Claude\\claude_desktop_config.json",
        "claude mcp add",
        "~/.cursor/mcp.json",
        ".vscode/mcp.json",
        "pvemcp sim serve",
    ):
        assert where in connect, where
    assert "## Upgrading and uninstalling" in text


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken = [
        f"{page.relative_to(ROOT)} → {m.group('target')}"
        for page in pages(ROOT)
        for m in LINK.finditer(page.read_text("utf-8"))
        if not (page.parent / m.group("target")).exists()
    ]
    assert not broken, broken


def _commands(group: click.Group, path: str = "pvemcp") -> list[tuple[str, click.Command]]:
    ctx = click.Context(group)
    found: list[tuple[str, click.Command]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += _commands(command, f"{path} {name}")
        else:
            found.append((f"{path} {name}", command))
    return found


def test_the_command_list_names_every_option_help_shows() -> None:
    """Each command's bullet in the README names each of its options and arguments, as `--help` lists them."""
    bullets = _section(README.read_text("utf-8"), "Commands").split("\n- ")
    missing = []
    for path, command in _commands(cli):
        text = "\n".join(bullet for bullet in bullets if f"`{path} " in bullet or f"`{path}`" in bullet)
        if not text:
            missing.append(path)
            continue
        for param in command.params:
            if isinstance(param, click.Option):
                if param.hidden or param.name == "help":
                    continue
                longs = [opt for opt in param.opts if opt.startswith("--")] or list(param.opts)
                missing += [f"{path} {opt}" for opt in longs if not re.search(rf"{re.escape(opt)}\b", text)]
            elif isinstance(param, click.Argument) and (param.name or "").upper() not in text:
                missing.append(f"{path} {param.name}")
    assert not missing, f"README.md's command list does not name: {missing}"


def names_read() -> dict[str, set[str]]:
    """Every setting name the code reads: through SettingValues' accessors, or from an environment mapping."""
    found: dict[str, set[str]] = {}
    for path in SOURCE.rglob("*.py"):
        if path == SOURCE / "config" / "table.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            key: ast.expr | None = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if node.func.attr in ACCESSORS or (node.func.attr == "get" and _mapping(node.func.value)):
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and _mapping(node.value):
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isupper():
                found.setdefault(key.value, set()).add(str(path.relative_to(SOURCE)))
    return found


def _mapping(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name in ("environ", "source")


def test_the_code_reads_every_setting_of_the_table_and_no_other() -> None:
    read = names_read()
    unread = sorted(set(BY_NAME) - set(read))
    assert not unread, f"in the settings table but read by no code: {unread}"
    unknown = sorted(name for name in read if OURS.match(name) and name not in BY_NAME)
    assert not unknown, f"read by code but not in the settings table: {[(n, sorted(read[n])) for n in unknown]}"
