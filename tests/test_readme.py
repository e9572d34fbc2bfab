"""The settings table is the one declaration: the README's tables are generated from it, and the code reads
exactly the settings it holds.

Rewrite the README's tables with `make docs`; the diff is the review.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from pvemcp.cli.docs import SETTINGS_BLOCK, update_readme
from pvemcp.config.table import BY_NAME, SECTIONS, SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SOURCE = ROOT / "src" / "pvemcp"
UPDATE = os.environ.get("PVEMCP_UPDATE_SNAPSHOTS") == "1"
ACCESSORS = {"raw", "given", "text", "integer", "number", "flag", "choice"}
OURS = re.compile(r"^(PROXMOX|PVE|PVEMCP|MCP)_[A-Z0-9_]+$")


def test_the_readme_settings_tables_are_current() -> None:
    text = README.read_text("utf-8")
    if UPDATE:
        README.write_text(update_readme(text), "utf-8")
    assert [m.group("section") for m in SETTINGS_BLOCK.finditer(text)] == list(SECTIONS)
    assert text == update_readme(text), "README.md's settings tables are stale: run `make docs`"


def test_every_documented_setting_is_in_the_readme() -> None:
    text = README.read_text("utf-8")
    missing = [s.name for s in SETTINGS if s.section != "environment" and f"`{s.name}`" not in text]
    assert not missing, f"README.md does not document: {', '.join(missing)}"


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
