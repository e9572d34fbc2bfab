"""`pvemcp bootstrap`: the printed pveum commands per tier, and --apply against the simulator over HTTPS."""

from __future__ import annotations

import json

import anyio
import pytest
from click.testing import CliRunner, Result

from pvemcp.catalog import ALL_TOOLS, BY_NAME
from pvemcp.catalog.spec import Module, Tier
from pvemcp.cli.main import cli
from pvemcp.compose import make_client
from pvemcp.config import load_config
from pvemcp.privileges import ToolAccess, check_tools, minimal_privileges, write_needs_of_readers
from pvemcp.server.inventory import Inventory

READ_ONLY_ROLE = "Datastore.Audit,Pool.Audit,Sys.Audit,Sys.Syslog,VM.Audit,VM.GuestAgent.Audit"


pytestmark = pytest.mark.usefixtures("no_config_file")


def bootstrap(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["bootstrap", *args], env=env, catch_exceptions=False)


def test_read_only_prints_a_role_with_reading_privileges_a_user_and_a_separated_token() -> None:
    result = bootstrap("--tier", "read-only")
    assert result.exit_code == 0, result.output
    commands = [line for line in result.output.splitlines() if line.startswith("pveum")]
    assert commands == [
        f"pveum role add pvemcp-read-only --privs {READ_ONLY_ROLE}",
        "pveum user add pvemcp@pve --comment 'pvemcp assistant'",
        "pveum acl modify / --users pvemcp@pve --roles pvemcp-read-only",
        "pveum user token add pvemcp@pve assistant --privsep 1 --comment pvemcp",
        "pveum acl modify / --tokens 'pvemcp@pve!assistant' --roles pvemcp-read-only",
    ]
    assert "#   pve_get_storage_config: Datastore.Allocate" in result.output
    assert "# Hide them with PVE_TOOL_BLACKLIST=pve_get_storage_config" in result.output


def test_read_execute_adds_power_migration_and_backup_privileges_under_the_names_given() -> None:
    result = bootstrap("--tier", "read-execute", "--user", "bot", "--realm", "pam", "--token-name", "ops")
    assert result.exit_code == 0, result.output
    role_line = next(line for line in result.output.splitlines() if line.startswith("pveum role add"))
    privs = set(role_line.split("--privs ")[1].split(","))
    assert privs == set(READ_ONLY_ROLE.split(",")) | {
        "Datastore.AllocateSpace",
        "VM.Backup",
        "VM.Migrate",
        "VM.PowerMgmt",
    }
    assert "pveum user token add bot@pam ops --privsep 1 --comment pvemcp" in result.output
    assert "pveum acl modify / --tokens 'bot@pam!ops' --roles pvemcp-read-execute" in result.output


def test_full_holds_what_every_enabled_tool_needs_and_follows_the_configured_module() -> None:
    core = bootstrap("--tier", "full", "--role", "assistant")
    advanced = bootstrap("--tier", "full", "--role", "assistant", env={"PVE_MODULE_MODE": "advanced"})
    for result, module in ((core, Module.CORE), (advanced, Module.ADVANCED)):
        assert result.exit_code == 0, result.output
        role_line = next(line for line in result.output.splitlines() if line.startswith("pveum role add assistant"))
        specs = [s for s in ALL_TOOLS if module is Module.ADVANCED or s.module is Module.CORE]
        wanted = {p for privs in minimal_privileges(specs).values() for p in privs}
        assert set(role_line.split("--privs ")[1].split(",")) == wanted
        assert "Left out" not in result.output  # the full tier holds the write privileges anyway
    assert "Permissions.Modify" in advanced.output and "Permissions.Modify" not in core.output


async def usable_with(env: dict[str, str]) -> list[ToolAccess]:
    """Every tool of the environment's tier, judged with the token's own GET /access/permissions."""
    config = load_config(env)
    assert config.target is not None
    client = make_client(config)
    try:
        perms = await client.get("/access/permissions")
    finally:
        await client.aclose()
    specs = [e.spec for e in Inventory(config.policy).by_name.values() if e.alias_of is None]
    return check_tools(specs, perms, token_id=config.target.token.token_id)


def settings(output: str) -> dict[str, str]:
    pairs = (line.partition("=") for line in output.splitlines() if line.startswith(("PROXMOX_", "PVE_")))
    return {key: value for key, _, value in pairs}


@pytest.mark.parametrize("tier", Tier.labels())
def test_apply_creates_role_user_and_token_whose_permissions_make_every_tool_of_the_tier_usable(
    served_sim: dict[str, str], tier: str
) -> None:
    admin = {**served_sim, "PVE_AUDIT_LOG": "off", "PVE_MODULE_MODE": "advanced"}
    result = bootstrap("--tier", tier, "--apply", env=admin)
    assert result.exit_code == 0, result.output
    assert "Created role pvemcp-" in result.output
    new = settings(result.output)
    assert new["PROXMOX_USER"] == "pvemcp" and new["PROXMOX_TOKEN_NAME"] == "assistant"
    assert new["PROXMOX_TLS_FINGERPRINT"] == served_sim["PROXMOX_TLS_FINGERPRINT"]
    assert new["PROXMOX_TOKEN_SECRET"] != served_sim["PROXMOX_TOKEN_SECRET"]
    env = {**new, "PVE_AUDIT_LOG": "off", "PVE_MODULE_MODE": "advanced"}

    verdicts = anyio.run(usable_with, env)
    assert verdicts and all(v.usable for v in verdicts), [v for v in verdicts if not v.usable]
    if tier != "full":  # the tools left out of the role are hidden by the blacklist the output gives
        hidden = set(new["PVE_TOOL_BLACKLIST"].split(","))
        # Readers needing a write privilege are hidden, unless the tier's own write tools bring that privilege
        # into the role anyway (read-execute refreshes package lists, so it may list pending updates too).
        assert hidden and hidden <= set(write_needs_of_readers(ALL_TOOLS))
        if tier == "read-only":
            assert hidden == set(write_needs_of_readers(ALL_TOOLS))
    # The doctor, run with exactly what bootstrap printed, passes every check for this tier.
    doctor = CliRunner().invoke(cli, ["doctor", "--json"], env=env, catch_exceptions=False)
    checks = json.loads(doctor.output)["checks"]
    assert doctor.exit_code == 0, [c for c in checks if c["status"] not in ("GREEN", "SKIP")]
    assert {c["name"]: c["status"] for c in checks}["privileges"] == "GREEN"

    again = bootstrap("--tier", tier, "--apply", env=admin)  # role and user exist: only the token is refused
    assert again.exit_code == 1 and "already exists" in again.output


def test_a_token_with_fewer_privileges_reports_each_missing_one_with_its_fix(served_sim: dict[str, str]) -> None:
    admin = {**served_sim, "PVE_AUDIT_LOG": "off"}
    result = bootstrap("--tier", "read-only", "--apply", "--token-name", "narrow", env=admin)
    assert result.exit_code == 0, result.output
    env = {**settings(result.output), "PVE_AUDIT_LOG": "off", "PVE_ACCESS_TIER": "read-execute"}
    env.pop("PVE_TOOL_BLACKLIST")

    verdicts = {v.name: v for v in anyio.run(usable_with, env)}
    stop = verdicts["pve_stop_qemu_vm"]
    assert stop.status == "missing" and stop.missing[0].privs == ("VM.PowerMgmt",)
    assert stop.fixes == [
        "pveum acl modify /vms --tokens 'pvemcp@pve!narrow' --roles PVEVMUser",
        "pveum acl modify /vms --users 'pvemcp@pve' --roles PVEVMUser",
    ]
    assert verdicts["pve_get_storage_config"].missing[0].privs == ("Datastore.Allocate",)
    assert verdicts["pve_list_qemu_vms"].usable and verdicts["pve_get_node_status"].usable
    assert BY_NAME["pve_run_backup"].name in {n for n, v in verdicts.items() if not v.usable}
