"""The cluster app in a real browser: headless Chromium renders it inside a host page that speaks the host side
of MCP Apps, against a live `pvemcp run --sandbox` over stdio (tests/browser/harness.py).

What a person sees is checked against what the server says (the sandbox's nodes and guests, a sparkline),
and what a person does is checked against what the server did: a start clicked at read-only reaches the
server and is refused, the guest stays stopped; at read-execute it is carried out after the app's own
confirmation, the guest runs, and the audit log records the call made through the app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.browser.harness import HostedApp, browser, missing, open_app, sandbox
from tests.conftest import payload

REASON = missing()
pytestmark = [pytest.mark.anyio, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


async def view_of(client: Client) -> dict[str, Any]:
    return payload(await client.call_tool("pve_cluster_view", {}))


async def status_of(client: Client, vmid: int) -> str:
    return str(payload(await client.call_tool("pve_guest", {"action": "status", "vmid": vmid}))["status"])


def first_stopped_vm(view: dict[str, Any]) -> int:
    return next(
        int(g["vmid"])
        for g in view["guests"]
        if g["type"] == "qemu" and g["status"] == "stopped" and not g["template"] and not g["ha"]
    )


async def click_action(hosted: HostedApp, vmid: int, action: str) -> None:
    frame = hosted.frame
    await frame.locator(f'[data-vmid="{vmid}"]').first.click()
    panel = frame.locator(f'[data-role="detail"][data-vmid="{vmid}"]')
    await panel.locator(f'[data-action="{action}"]').click()
    await frame.locator('[data-role="confirm"]').click()


def app_calls(hosted: HostedApp, tool: str) -> list[dict[str, Any]]:
    return [c for c in hosted.calls if c["method"] == "tools/call" and c["params"].get("name") == tool]


async def told_the_model(hosted: HostedApp) -> list[str]:
    """What the app put into the model's context (ui/update-model-context), oldest first."""
    log = await hosted.page.evaluate("window.hostLog")
    sent = [e["message"] for e in log if e["dir"] == "from-view"]
    return [b["text"] for m in sent if m.get("method") == "ui/update-model-context" for b in m["params"]["content"]]


async def test_the_app_shows_the_sandbox_and_a_start_at_read_only_is_refused(tmp_path: Path) -> None:
    from playwright.async_api import expect

    async with sandbox("read-only", tmp_path) as client, browser() as chromium:
        hosted = await open_app(chromium, client)
        view = await view_of(client)
        frame = hosted.frame
        assert hosted.opened_by == "pve_health"
        for node in view["nodes"]:
            await expect(frame.locator(f'[data-node="{node["node"]}"]')).to_be_visible()
        for guest in view["guests"]:
            shown = frame.locator(f'[data-vmid="{guest["vmid"]}"][data-status="{guest["status"]}"]')
            assert await shown.count() >= 1, guest
        running = next(g for g in view["guests"] if g["spark"])
        line = frame.locator(f'svg.spark[data-vmid="{running["vmid"]}"] polyline').first
        points = await line.get_attribute("points")
        assert points is not None and len(points.split()) >= 2
        assert await line.bounding_box() is not None  # drawn with a size, not an empty element
        await expect(frame.locator('[data-role="status"]')).to_be_visible()

        vmid = first_stopped_vm(view)
        await click_action(hosted, vmid, "start")
        outcome = frame.locator('[data-role="outcome"]')
        await expect(outcome).to_have_attribute("data-outcome", "refused", timeout=30_000)
        assert "read-execute" in await outcome.inner_text()
        [sent] = app_calls(hosted, "pve_guest_power")
        assert sent["params"]["arguments"] == {"action": "start", "vmid": vmid}
        assert "pve_guest_power" in sent["error"]["message"]  # the server's own answer came back
        assert await status_of(client, vmid) == "stopped"
        [told] = await told_the_model(hosted)
        assert f"Start VM {vmid}" in told and "refused" in told
        assert not hosted.console_errors
        assert all(url.startswith(("file:", "about:", "data:")) for url in hosted.requests), hosted.requests


async def test_a_start_at_read_execute_is_carried_out_after_confirmation(tmp_path: Path) -> None:
    from playwright.async_api import expect

    async with sandbox("read-execute", tmp_path) as client, browser() as chromium:
        hosted = await open_app(chromium, client)
        vmid = first_stopped_vm(await view_of(client))
        frame = hosted.frame
        await frame.locator(f'[data-vmid="{vmid}"]').first.click()
        panel = frame.locator(f'[data-role="detail"][data-vmid="{vmid}"]')
        await panel.locator('[data-action="start"]').click()
        assert not app_calls(hosted, "pve_guest_power"), "nothing is sent before the person confirms"
        await frame.locator('[data-role="confirm"]').click()
        outcome = frame.locator('[data-role="outcome"]')
        await expect(outcome).to_have_attribute("data-outcome", "ok", timeout=90_000)
        [sent] = app_calls(hosted, "pve_guest_power")
        assert sent["result"].get("isError") is not True
        assert await status_of(client, vmid) == "running"
        refreshed = frame.locator(f'[data-vmid="{vmid}"][data-status="running"]').first
        await expect(refreshed).to_be_attached(timeout=30_000)
        entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
        started = [e for e in entries if e.get("tool") == "pve_start_qemu_vm"]
        assert [(e["outcome"], e["via"], e["arguments"]["vmid"]) for e in started] == [
            ("ok", "pve_guest_power action=start", vmid)
        ]
        assert [text for text in await told_the_model(hosted) if f"VM {vmid}" in text and "Outcome: done" in text]
        assert not hosted.console_errors


async def test_a_destructive_action_carries_the_persons_confirmation(tmp_path: Path) -> None:
    from playwright.async_api import expect

    async with sandbox("read-execute", tmp_path) as client, browser() as chromium:
        hosted = await open_app(chromium, client)
        view = await view_of(client)
        vmid = next(int(g["vmid"]) for g in view["guests"] if g["type"] == "lxc" and g["status"] == "running")
        await click_action(hosted, vmid, "shutdown")
        outcome = hosted.frame.locator('[data-role="outcome"]')
        await expect(outcome).to_have_attribute("data-outcome", "ok", timeout=90_000)
        [sent] = app_calls(hosted, "pve_guest_power")
        assert sent["params"]["arguments"] == {"action": "shutdown", "vmid": vmid, "confirm": True}
        assert await status_of(client, vmid) == "stopped"
