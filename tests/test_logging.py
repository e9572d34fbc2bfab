"""Logs go to stderr, one line per tool call, with secrets redacted."""

from __future__ import annotations

import logging

import pytest

from pvemcp.logs import RedactingFormatter, redact
from pvesim import Simulator
from tests.conftest import McpFactory

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: PVEAPIToken=root@pam!mcp=0f8e1d2c-1111-2222-3333-444455556666", "0f8e1d2c"),
        ("headers={'authorization': 'PVEAPIToken=u@pve!t=abcdef123'}", "abcdef123"),
        ("password=hunter2 next", "hunter2"),
        ('{"password": "hunter2"}', "hunter2"),
        ("token_secret=xyz987", "xyz987"),
    ],
)
def test_secrets_and_password_like_values_are_redacted(text: str, leak: str) -> None:
    assert leak not in redact(text)


def test_configured_secrets_are_redacted_wherever_they_appear() -> None:
    formatter = RedactingFormatter("%(message)s", ["plain-secret-value"])
    record = logging.LogRecord("pvemcp", logging.INFO, __file__, 1, "got %s", ("plain-secret-value",), None)
    assert formatter.format(record) == "got ***"


async def test_each_tool_call_logs_one_line_with_outcome_and_duration(
    connect: McpFactory, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pvemcp.call")
    async with connect() as client:
        await client.call_tool("listNodes", {})
        await client.call_tool("pve_stop_qemu_vm", {"node": "pve1", "vmid": 100})
    lines = [r.getMessage() for r in caplog.records if r.name == "pvemcp.call"]
    assert len(lines) == 2
    assert lines[0].startswith("call tool=listNodes alias_of=pve_list_nodes caller=stdio outcome=ok duration_ms=")
    assert "tool=pve_stop_qemu_vm caller=stdio outcome=CONFIRMATION_REQUIRED" in lines[1]
    assert sim.token_secret not in caplog.text
