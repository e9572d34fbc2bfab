"""Secrets are redacted by meaning: the catalog's `secret` mark, and the words of free-form keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pvemcp.audit import AuditLog
from pvemcp.catalog import ALL_TOOLS
from pvemcp.server.call import REDACTED, SECRET_ARGS, redacted, secret_name
from pvemcp.server.scope import Scope
from pvesim import Simulator
from tests.conftest import LEAK_WATCH, client_for, mcp_client, payload

PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-5ec2e7a1-key-canary\n-----END PRIVATE KEY-----\n"
)
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE-public-part\n-----END CERTIFICATE-----\n"
PASSWORD = "5ec2e7a1-password-canary"
NESTED = "5ec2e7a1-nested-canary"
LEAK_WATCH.secrets = (*LEAK_WATCH.secrets, "5ec2e7a1-key-canary", PASSWORD, NESTED)

SECRET_NAMES = (
    *("key", "password", "cipassword", "confirmation-password", "token_secret", "eab-hmac-key", "encryption-key"),
    *("keyring", "client-key", "certkey", "privkey", "private-key", "passphrase", "api-token", "token", "secret"),
    *("Authorization", "csrf_token", "cookie", "ticket", "vncticket", "credentials", "totp", "otp", "clientSecret"),
    *("pass", "smtp_passwd", "hmac", "privateKey", "apiKey", "X-API-Key"),
)
HARMLESS_NAMES = (
    *("keep-last", "keep-daily", "keep-all", "sshkeys", "ssh-public-keys", "tokenid", "tokens", "master-pubkey"),
    *("verify-certificates", "certificates", "fingerprint", "digest", "checksum", "userid", "comment", "keyboard"),
    *("bypass", "passthrough", "monkey", "privsep", "vmid", "node", "forceStop", "containerName", "keys"),
)


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_a_key_naming_a_secret_is_recognised_by_its_words(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize("name", HARMLESS_NAMES)
def test_harmless_keys_and_public_keys_are_kept(name: str) -> None:
    assert not secret_name(name)


def test_redaction_reaches_nested_mappings_lists_and_pem_keys_under_any_name() -> None:
    args: dict[str, Any] = {
        "method": "POST",
        "params": {"certificates": CERTIFICATE, "key": PRIVATE_KEY, "options": {"password": NESTED, "keep-last": 3}},
        "items": [{"token": NESTED}, "plain", CERTIFICATE + PRIVATE_KEY],
        "password": None,
    }
    masked = redacted(args)
    assert masked == {
        "method": "POST",
        "params": {"certificates": CERTIFICATE, "key": REDACTED, "options": {"password": REDACTED, "keep-last": 3}},
        "items": [{"token": REDACTED}, "plain", REDACTED],
        "password": None,  # nothing was given, nothing to hide
    }
    assert args["params"]["key"] == PRIVATE_KEY  # the caller's arguments are left alone


def marked_params() -> dict[str, set[bool]]:
    marks: dict[str, set[bool]] = {}
    for spec in ALL_TOOLS:
        for param in spec.all_params:
            marks.setdefault(param.name, set()).add(param.secret)
    return marks


def test_catalog_secrets_are_marked_and_a_marked_name_means_a_secret_everywhere() -> None:
    marks = marked_params()
    assert {name for name, seen in marks.items() if True in seen} == {"password", "cipassword"}
    assert all(len(seen) == 1 for seen in marks.values()), "a name is marked secret in one tool but not another"
    unmarked = {name for name, seen in marks.items() if secret_name(name) and seen == {False}}
    assert unmarked == set(), f"these look like secrets but are not marked: {unmarked}"
    assert {"password", "cipassword"} <= SECRET_ARGS


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.anyio
async def test_the_audit_log_never_holds_a_private_key_a_password_or_a_nested_secret(tmp_path: Path) -> None:
    sim = Simulator(token_secret="redaction-test")
    client = client_for(sim)
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    upload = {"certificates": CERTIFICATE, "key": PRIVATE_KEY, "force": 1}
    raw = {"method": "POST", "path": "/nodes/pve1/certificates/custom", "params": upload, "confirm": True}
    try:
        async with mcp_client(client, sim, scope=Scope(protected_tag=None), audit=audit, audit_reads=True) as mcp:
            uploaded = await mcp.call_tool("pve_api_call", raw)
            nested = await mcp.call_tool("pve_api_call", {**raw, "params": {"options": {"password": NESTED}}})
            created = await mcp.call_tool(
                "pve_create_user", {"userid": "erin@pve", "password": PASSWORD, "confirm": True}
            )
            preview = await mcp.call_tool("pve_preview", {"tool": "pve_api_call", "arguments": raw})
    finally:
        audit.close()
        await client.aclose()
    for result in (uploaded, nested, created, preview):
        assert "5ec2e7a1" not in result.model_dump_json() and "PRIVATE KEY" not in result.model_dump_json()
    assert not created.is_error and not preview.is_error
    [request] = payload(preview)["requests"]
    assert request["params"]["key"] == REDACTED and request["params"]["certificates"] == CERTIFICATE
    text = path.read_text()
    assert "PRIVATE KEY" not in text and "5ec2e7a1" not in text
    rows = {row["tool"] + str(index): row for index, row in enumerate(audit_lines(path))}
    upload_row, nested_row, user_row, preview_row = rows.values()
    assert upload_row["arguments"]["params"] == {"certificates": CERTIFICATE, "key": REDACTED, "force": 1}
    assert upload_row["arguments"]["path"] == raw["path"]  # the rest of the call stays on record
    assert json.dumps(nested_row["arguments"]["params"]) == json.dumps({"options": {"password": REDACTED}})
    assert user_row["arguments"]["password"] == REDACTED and user_row["arguments"]["userid"] == "erin@pve"
    assert preview_row["arguments"]["arguments"]["params"]["key"] == REDACTED
