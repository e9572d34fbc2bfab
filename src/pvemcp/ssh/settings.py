"""SSH settings, checked as a whole like the rest of the configuration (pvemcp.config collects the problems).

The defaults repeat the settings table's, which sits in a layer above; tests/test_config.py keeps them equal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# A host or user may not smuggle ssh options or shell syntax: no leading '-', no spaces, quotes or metacharacters.
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]*[$]?$", re.IGNORECASE)
_NODE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class SshSettings:
    host: str
    user: str
    key_path: Path
    port: int = 22
    known_hosts: Path = field(default_factory=lambda: Path.home() / ".ssh" / "known_hosts")
    trust_on_first_use: bool = False
    node_hosts: Mapping[str, str] = field(default_factory=dict)  # node name -> address reached directly
    max_output_bytes: int = 1024 * 1024
    connect_timeout: float = 10.0
    command_timeout: float = 30.0


def valid_host(value: str) -> bool:
    return bool(_HOST.match(value))


def valid_user(value: str) -> bool:
    return bool(_USER.match(value))


def valid_node(value: str) -> bool:
    return bool(_NODE.match(value))


def parse_node_hosts(text: str | None, problems: list[str]) -> dict[str, str]:
    """PROXMOX_SSH_NODE_HOSTS="pve2=10.0.0.2,pve3=pve3.lan"."""
    hosts: dict[str, str] = {}
    for item in (i.strip() for i in (text or "").split(",")):
        if not item:
            continue
        node, sep, host = (part.strip() for part in item.partition("="))
        if not sep or not valid_node(node) or not valid_host(host):
            problems.append(f"PROXMOX_SSH_NODE_HOSTS: {item!r} is not node=host (a node name and a host name or IP)")
            continue
        hosts[node] = host
    return hosts
