"""Generated artefacts stay current: docs/TOOLS.md and the snapshot of every tool's MCP definition.

Rewrite them with `make docs` and `make snapshots` (PVEMCP_UPDATE_SNAPSHOTS=1); the diff is the review.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pvemcp.cli.docs import render_markdown
from pvemcp.server.inventory import Inventory
from pvemcp.server.listing import build_listing
from tests.conftest import FULL

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "tests" / "snapshots" / "tools"
UPDATE = os.environ.get("PVEMCP_UPDATE_SNAPSHOTS") == "1"


def test_docs_tools_md_is_current() -> None:
    path = ROOT / "docs" / "TOOLS.md"
    if UPDATE:
        path.write_text(render_markdown())
    assert path.read_text() == render_markdown(), "docs/TOOLS.md is stale: run `make docs`"


def test_every_tool_definition_matches_its_snapshot() -> None:
    rendered = {
        tool.name: json.dumps(tool.model_dump(by_alias=True, mode="json", exclude_none=True), indent=2) + "\n"
        for tool in build_listing(Inventory(FULL))
    }
    if UPDATE:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        for stale in {p.stem for p in SNAPSHOTS.glob("*.json")} - set(rendered):
            (SNAPSHOTS / f"{stale}.json").unlink()
        for name, text in rendered.items():
            (SNAPSHOTS / f"{name}.json").write_text(text)
    on_disk = {p.stem: p.read_text() for p in SNAPSHOTS.glob("*.json")}
    assert set(on_disk) == set(rendered), "tools added or removed: run `make snapshots`"
    changed = [name for name, text in rendered.items() if on_disk[name] != text]
    assert changed == [], f"definitions changed, run `make snapshots` and review the diff: {changed}"
