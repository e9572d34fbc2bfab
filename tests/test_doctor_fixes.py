"""Doctor's fixes: least privilege against the served simulator, said where each value lives, whole on screen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvemcp.pve.roles import BUILTIN_ROLES
from tests.test_doctor import Admin, doctor, isolated, report

READ_ONLY = ("Datastore.Audit", "Sys.Audit", "VM.Audit")


@pytest.fixture(autouse=True)
def work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolated(monkeypatch, tmp_path)


@pytest.fixture
def sim_admin(served_sim: dict[str, str]) -> Iterator[Admin]:
    client = Admin(served_sim)
    try:
        yield client
    finally:
        client.close()


def _token(admin: Admin, served_sim: dict[str, str], role: str, **extra: str) -> dict[str, str]:
    """A new user and privilege-separated token, both granted `role` on /; their settings for doctor."""
    admin.call("POST", "/access/users", userid="ro@pve")
    admin.call("PUT", "/access/acl", path="/", users="ro@pve", roles=role)
    secret = admin.call("POST", "/access/users/ro@pve/token/assistant", privsep=1)["value"]
    admin.call("PUT", "/access/acl", path="/", tokens="ro@pve!assistant", roles=role)
    return {
        **served_sim,
        "PROXMOX_USER": "ro",
        "PROXMOX_REALM": "pve",
        "PROXMOX_TOKEN_NAME": "assistant",
        "PROXMOX_TOKEN_SECRET": secret,
        "PVE_ACCESS_TIER": "read-execute",
        **extra,
    }


def _acl(admin: Admin) -> set[tuple[str, str, str]]:
    return {(a["path"], a["ugid"], a["roleid"]) for a in admin.acl() if a["ugid"].startswith("ro@pve")}


def test_a_read_only_token_at_read_execute_is_pointed_at_bootstrap_never_at_a_broad_built_in_role(
    served_sim: dict[str, str], sim_admin: Admin
) -> None:
    admin = sim_admin
    env = _token(admin, served_sim, "PVEAuditor")
    code, checks = report(env, "--check", "privileges")
    assert code == 1
    data = checks["privileges"]["data"]
    assert data["route"] == "bootstrap" and data["role"] == {"name": "PVEAuditor", "path": "/", "custom": False}
    assert data["add"]["/vms"] == ["VM.Backup", "VM.Migrate", "VM.PowerMgmt"]
    assert data["blacklist"] == ["pve_get_storage_config"]  # a read tool: hidden, as bootstrap does
    commands = data["commands"]
    assert commands[0] == "pvemcp bootstrap --tier read-execute"
    assert not any(f"--roles {builtin}" in c for c in commands for builtin in BUILTIN_ROLES)
    role_privs = commands[1].split("--privs ")[1].split(",")
    assert commands[1].startswith("pveum role add pvemcp-read-execute --privs ")
    assert "Datastore.Allocate" not in role_privs and "VM.Allocate" not in role_privs
    assert commands[2:] == [
        "pveum acl modify / --tokens 'ro@pve!assistant' --roles pvemcp-read-execute",
        "pveum acl modify / --users ro@pve --roles pvemcp-read-execute",
    ]
    fix = checks["privileges"]["fix"]
    assert "PVE_TOOL_BLACKLIST=pve_get_storage_config" in fix

    for command in commands[1:]:
        admin.apply(command)
    assert ("/", "ro@pve!assistant", "pvemcp-read-execute") in _acl(admin)
    code, checks = report({**env, "PVE_TOOL_BLACKLIST": "pve_get_storage_config"}, "--check", "privileges")
    assert code == 0, checks
    assert checks["privileges"]["data"]["not_usable"] == 0


def test_a_custom_role_is_extended_by_exactly_what_is_missing(served_sim: dict[str, str], sim_admin: Admin) -> None:
    admin = sim_admin
    admin.call("POST", "/access/roles", roleid="assist", privs=",".join(READ_ONLY))
    env = _token(admin, served_sim, "assist", PVE_TOOL_BLACKLIST="pve_get_storage_config")
    code, checks = report(env, "--check", "privileges")
    assert code == 1
    data = checks["privileges"]["data"]
    assert data["route"] == "extend" and data["role"] == {"name": "assist", "path": "/", "custom": True}
    added = sorted({p for privs in data["add"].values() for p in privs})
    assert data["commands"] == [f"pveum role modify assist --append 1 --privs {','.join(added)}"]  # / reaches all
    assert set(added) >= {"VM.PowerMgmt", "VM.Migrate", "Sys.Syslog"} and not set(added) & set(READ_ONLY)
    assert "Datastore.Allocate" not in added

    admin.apply(data["commands"][0])
    held = set(admin.call("GET", "/access/roles/assist"))
    assert held == set(READ_ONLY) | set(added)
    code, checks = report(env, "--check", "privileges")
    assert code == 0, checks


def test_fix_hints_name_the_file_a_value_came_from_and_the_environment_overriding_it(
    served_sim: dict[str, str], work: Path
) -> None:
    folder = work / ".pvemcp"
    folder.mkdir()
    settings = {k.lower(): v for k, v in served_sim.items() if k not in ("PROXMOX_PORT", "PROXMOX_TLS_FINGERPRINT")}
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    wrong = ":".join(["AB"] * 32)
    lines += ["proxmox_port = 8006", f'proxmox_tls_fingerprint = "{wrong}"']
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    env = {"PROXMOX_PORT": served_sim["PROXMOX_PORT"], "COLUMNS": "100"}
    code, checks = report(env, "--check", "config,reach")
    assert code == 1
    config = checks["config"]
    assert f"PROXMOX_PORT from the environment, overriding proxmox_port = 8006 in {path}" in config["detail"]
    assert config["data"]["overridden"] == ["PROXMOX_PORT"]
    reach = checks["reach"]
    actual = served_sim["PROXMOX_TLS_FINGERPRINT"].upper()
    assert f"(from proxmox_tls_fingerprint in {path})" in reach["detail"]
    assert f'in {path}, set proxmox_tls_fingerprint = "{actual}"' in reach["fix"]
    assert "PROXMOX_TLS_FINGERPRINT=" not in reach["fix"]

    table = doctor(env, "--check", "config,reach")  # at 100 columns the fingerprint stays whole, on one line
    screen = table.output.splitlines()
    assert max(len(line) for line in screen if actual not in line and str(path) not in line) <= 100
    assert [line.strip() for line in screen if actual in line] == [
        f"presented       {actual}",
        f'in {path}, set proxmox_tls_fingerprint = "{actual}"',
    ]
    assert any("from the environment, overriding" in line for line in screen)
    assert reach["fix"].endswith(f"\n(PROXMOX_PORT from the environment, overriding proxmox_port = 8006 in {path})")


def test_counts_say_tools_and_aliases_and_the_consolidated_surface_with_its_operations() -> None:
    code, checks = report({}, "--sandbox", "--check", "config,selftest")
    assert code == 0
    config = checks["config"]
    data = config["data"]
    assert f"{data['tools']} tools + {data['aliases']} aliases" in config["detail"]
    assert data["mode"] == "consolidated"
    assert "PVE_TOOL_MODE consolidated (the default):" in config["detail"]
    assert "pve_guest (" in config["detail"] and "pve_storage (8)" in config["detail"]
    selftest = checks["selftest"]
    assert selftest["data"]["through"] == "pve_inventory" and "through pve_inventory" in selftest["detail"]
    code, checks = report({"PVE_TOOL_MODE": "catalog"}, "--sandbox", "--check", "config")
    assert "PVE_TOOL_MODE" not in checks["config"]["detail"]
