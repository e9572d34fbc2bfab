"""`pvemcp tools` on a terminal of a given width, and into a pipe.

A terminal is a real pseudo-terminal (the command's stdout is a tty of that many columns); a pipe is
CliRunner's captured output. The listing is compared with what the server itself would list for the same
settings (Inventory, Fronts).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner

from pvemcp.catalog import ALL_TOOLS
from pvemcp.catalog.spec import Module, Tier
from pvemcp.cli.main import cli
from pvemcp.server.fronts import Fronts
from pvemcp.server.inventory import Inventory, Policy
from tests.conftest import BIN

COUNTS = re.compile(r"\b\d+ tools \+ \d+ aliases\b")
BOX = set("─│┃━┏┓┗┛┡┩└┘├┤┬┴┼╇═║╔╗╚╝")
LEGEND = "flags: D destructive, C asks for confirmation, I idempotent (safe to repeat)."
WHOLE = f"The whole catalog: {len(ALL_TOOLS)} tools + {sum(len(s.aliases) for s in ALL_TOOLS)} aliases."
READ_ONLY_CORE = Policy(tier=Tier.READ_ONLY, module=Module.CORE, mode="consolidated")
EXPOSED = [e.spec.name for e in Inventory(READ_ONLY_CORE).by_name.values() if e.alias_of is None]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No settings from the environment or a configuration file: the sandbox's defaults apply."""
    for name in list(os.environ):
        if name.startswith(("PROXMOX_", "PVE_", "PVEMCP_", "MCP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return dict(os.environ)


def on_terminal(args: list[str], columns: int, env: dict[str, str]) -> str:
    """Run pvemcp with its stdout on a pseudo-terminal `columns` wide; what it printed, without CRs."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        [str(BIN), *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        # COLUMNS at 100 (as a shell may export it); otherwise only the terminal's own size tells the width
        env={**{k: v for k, v in env.items() if k != "COLUMNS"}, "TERM": "xterm"}
        | ({"COLUMNS": str(columns)} if columns == 100 else {}),
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    return b"".join(chunks).decode().replace("\r\n", "\n")


def piped(args: list[str], **env: str) -> str:
    result = CliRunner().invoke(cli, ["tools", *args], env={"COLUMNS": "100", **env})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("columns", [80, 100, 120])
@pytest.mark.parametrize("view", [[], ["--operations"], ["--all"]], ids=["default", "operations", "all"])
def test_the_listing_fits_the_terminal(clean_env: dict[str, str], columns: int, view: list[str]) -> None:
    shown = on_terminal(["tools", *view], columns, clean_env)
    lines = shown.splitlines()

    assert max(len(line) for line in lines) <= columns, shown
    assert not BOX & set(shown)
    assert COUNTS.search(" ".join(shown.split())), "counts say N tools + M aliases"
    if view:
        assert LEGEND in " ".join(shown.split())
        rows = lines[lines.index(next(line for line in lines if line.startswith("name "))) + 2 :]
        names = [row.split()[0] for row in rows]
        # every name whole, one row per line
        assert names == ([s.name for s in ALL_TOOLS] if view == ["--all"] else EXPOSED)
    else:
        assert "(DC)" in shown or "(D)" in shown or "An action marked (D)" in shown


def test_the_whole_catalog_is_titled_as_such(clean_env: dict[str, str]) -> None:
    shown = on_terminal(["tools", "--all"], 100, clean_env)
    first = shown.splitlines()[0]
    assert first == WHOLE
    exposed = Inventory(READ_ONLY_CORE)
    aliases = sum(1 for e in exposed.by_name.values() if e.alias_of)
    assert f"This configuration exposes {len(exposed) - aliases} tools + {aliases} aliases" in " ".join(shown.split())


@pytest.mark.usefixtures("clean_env")
def test_piped_operations_are_one_tab_separated_row_per_line() -> None:
    shown = piped(["--operations"])
    comments = [line for line in shown.splitlines() if line.startswith("# ")]
    table = [line.split("\t") for line in shown.splitlines() if not line.startswith("# ")]

    assert f"# {LEGEND}" in comments
    assert any(COUNTS.search(line) for line in comments)
    assert table[0] == ["name", "category", "tier", "flags", "endpoint", "aliases"]
    assert all(len(row) == 6 for row in table)
    assert [row[0] for row in table[1:]] == EXPOSED
    by_name = {row[0]: row for row in table[1:]}
    status = by_name["pve_get_node_status"]
    assert status[3] == "I" and status[4] == "GET /nodes/{node}/status" and status[5] == "getNodeStatus"
    assert not BOX & set(shown)


@pytest.mark.usefixtures("clean_env")
def test_piped_whole_catalog_says_what_hides_each_tool() -> None:
    table = [line.split("\t") for line in piped(["--all"]).splitlines() if not line.startswith("# ")]
    assert table[0][-1] == "hidden by" and len(table) == len(ALL_TOOLS) + 1
    hidden = {row[0]: row[-1] for row in table[1:]}
    assert hidden["pve_list_nodes"] == ""
    assert hidden[next(s.name for s in ALL_TOOLS if s.tier > Tier.READ_ONLY)] == "tier"
    advanced = next(s for s in ALL_TOOLS if s.module is Module.ADVANCED and s.tier is Tier.READ_ONLY and not s.ssh)
    assert hidden[advanced.name] == "module"


@pytest.mark.usefixtures("clean_env")
def test_the_default_view_is_the_consolidated_listing() -> None:
    table = [line.split("\t") for line in piped([]).splitlines() if not line.startswith("# ")]
    fronts = Fronts(Inventory(READ_ONLY_CORE))

    assert table[0] == ["tool", "for", "actions"]
    assert [row[0] for row in table[1:]] == [tool.name for tool in fronts.tools]
    inventory = {row[0]: row[2].split(", ") for row in table[1:]}["pve_inventory"]
    assert inventory == list(fronts.offered["pve_inventory"].actions)

    full = [line.split("\t") for line in piped([], PVE_ACCESS_TIER="full").splitlines() if line[:1] != "#"]
    power = {row[0]: row[2].split(", ") for row in full[1:]}["pve_guest_power"]
    assert "start" in power and "stop(DC)" in power


@pytest.mark.usefixtures("clean_env")
def test_catalog_mode_lists_the_operations_and_json_is_unchanged() -> None:
    catalog = piped([], PVE_TOOL_MODE="catalog")
    assert "name\tcategory\ttier\tflags\tendpoint\taliases" in catalog.splitlines()

    rows = json.loads(piped(["--json"]))
    assert [row["name"] for row in rows] == EXPOSED
    assert set(rows[0]) >= {"name", "category", "tier", "module", "destructive", "confirm", "idempotent", "target"}
    assert rows[0]["target"] == {"kind": "rest", "method": "GET", "path": "/nodes"}
