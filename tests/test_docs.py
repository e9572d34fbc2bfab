"""Generated artefacts stay current: docs/TOOLS.md and the snapshot of every tool's MCP definition.

Rewrite them with `make docs` and `make snapshots` (PVEMCP_UPDATE_SNAPSHOTS=1); the diff is the review.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from mcp_types import Tool

from pvemcp.cli.docs import render_markdown
from pvemcp.server.fronts import Fronts
from pvemcp.server.inventory import Inventory
from pvemcp.server.listing import build_listing
from tests.conftest import FULL

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "tests" / "snapshots" / "tools"
CONSOLIDATED = ROOT / "tests" / "snapshots" / "consolidated"
UPDATE = os.environ.get("PVEMCP_UPDATE_SNAPSHOTS") == "1"


def test_docs_tools_md_is_current() -> None:
    path = ROOT / "docs" / "TOOLS.md"
    if UPDATE:
        path.write_text(render_markdown())
    assert path.read_text() == render_markdown(), "docs/TOOLS.md is stale: run `make docs`"


def _matches_snapshots(tools: list[Tool], where: Path) -> None:
    rendered = {
        tool.name: json.dumps(tool.model_dump(by_alias=True, mode="json", exclude_none=True), indent=2) + "\n"
        for tool in tools
    }
    if UPDATE:
        where.mkdir(parents=True, exist_ok=True)
        for stale in {p.stem for p in where.glob("*.json")} - set(rendered):
            (where / f"{stale}.json").unlink()
        for name, text in rendered.items():
            (where / f"{name}.json").write_text(text)
    on_disk = {p.stem: p.read_text() for p in where.glob("*.json")}
    assert set(on_disk) == set(rendered), "tools added or removed: run `make snapshots`"
    changed = [name for name, text in rendered.items() if on_disk[name] != text]
    assert changed == [], f"definitions changed, run `make snapshots` and review the diff: {changed}"


def test_every_tool_definition_matches_its_snapshot() -> None:
    """The catalog listing (PVE_TOOL_MODE=catalog), one tool per operation as nandi-proxmox-mcp lists them."""
    _matches_snapshots(build_listing(Inventory(FULL)), SNAPSHOTS)


def test_every_consolidated_tool_matches_its_snapshot() -> None:
    _matches_snapshots(Fronts(Inventory(replace(FULL, mode="consolidated"))).tools, CONSOLIDATED)
