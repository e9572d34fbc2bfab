"""Proxmox VE's built-in roles, read from pvesim's facts (the one place that states them, ADR 0011).

The permission doctor and the setup plan read these; the simulator grants by the same table.
"""

from __future__ import annotations

from pvesim.facts.roles import ALL_PRIVILEGES, BUILTIN_ROLES, PRIVILEGE_GROUPS

__all__ = ["ALL_PRIVILEGES", "BUILTIN_ROLES", "PRIVILEGE_GROUPS"]
