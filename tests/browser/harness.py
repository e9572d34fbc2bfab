"""The cluster app in headless Chromium, hosted by tests/browser/host.html, against a live `pvemcp run --sandbox`.

The MCP client here is the host's: it declares the MCP Apps extension, finds the tool that names the app,
reads the ui:// resource, calls the tool, and hands HTML, CSP and result to the host page. The page renders
the app in a sandboxed frame and sends every tools/call the app makes back here, to the same session, so
the app's clicks reach the real server exactly as a host would forward them.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp import Client, StdioServerParameters
from mcp.client.extension import advertise
from mcp.shared.exceptions import MCPError

from pvemcp.server.apps import EXTENSION, MIME

if TYPE_CHECKING:
    from playwright.async_api import Browser, FrameLocator, Page

HOST_PAGE = Path(__file__).with_name("host.html")
BIN = Path(sys.executable).parent / "pvemcp"
# Chromium as the machine's package installs it; no download of a browser of playwright's own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST_CONTEXT_LIGHT = {
    "theme": "light",
    "displayMode": "inline",
    "availableDisplayModes": ["inline"],
    "containerDimensions": {"maxHeight": 4000},
    "platform": "web",
    "locale": "en-US",
}


def chromium() -> str | None:
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if chromium() is None:
        return "no Chromium: install Debian's chromium package (.ci/run does)"
    return None


def dumped(result: Any) -> dict[str, Any]:
    return dict(result.model_dump(by_alias=True, exclude_none=True, mode="json"))


@asynccontextmanager
async def sandbox(tier: str, home: Path) -> AsyncIterator[Client]:
    """`pvemcp run --sandbox` at `tier`, over stdio, from a client that renders MCP Apps."""
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PVE_ACCESS_TIER": tier,
        "PVE_AUDIT_LOG": str(home / "audit.jsonl"),
        "PATH": os.environ.get("PATH", ""),
    }
    params = StdioServerParameters(command=str(BIN), args=["run", "--sandbox"], env=env, cwd=str(home))
    async with Client(params, extensions=[advertise(EXTENSION, {"mimeTypes": [MIME]})]) as client:
        yield client


@dataclass
class HostedApp:
    """The app open in a page; `calls` is every request the app sent the server, with its answer."""

    page: Page
    client: Client
    opened_by: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def frame(self) -> FrameLocator:
        return self.page.frame_locator("#frame")

    async def forward(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The host proxying one of the app's requests to the MCP server."""
        try:
            if method == "tools/call":
                result = dumped(await self.client.call_tool(params["name"], params.get("arguments") or {}))
            else:
                result = dumped(await self.client.read_resource(params["uri"]))
            answer: dict[str, Any] = {"result": result}
        except MCPError as exc:
            answer = {"error": {"code": exc.error.code, "message": exc.error.message, "data": exc.error.data}}
        self.calls.append({"method": method, "params": params, **answer})
        return answer


async def open_app(
    browser: Browser, client: Client, *, width: int = 1000, host_context: dict[str, Any] | None = None
) -> HostedApp:
    """What a host does when the model calls the tool that names the app: read it, call, render."""
    tools = (await client.list_tools()).tools
    # the tool the model calls (the app's own data tool is listed for the app alone: visibility ["app"])
    ui: dict[str, dict[str, Any]] = {t.name: (t.meta or {}).get("ui") or {} for t in tools}
    linked = next(t for t in tools if ui[t.name] and "visibility" not in ui[t.name])
    uri = ui[linked.name]["resourceUri"]
    [content] = (await client.read_resource(uri)).contents
    result = await client.call_tool(linked.name, {})
    page = await browser.new_page(viewport={"width": width, "height": 900})
    hosted = HostedApp(page, client, linked.name)
    page.on("console", lambda m: hosted.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: hosted.console_errors.append(str(e)))
    page.on("request", lambda r: hosted.requests.append(r.url))
    await page.expose_function("pvemcpHost", hosted.forward)
    await page.goto(HOST_PAGE.as_uri())
    ui_meta = (getattr(content, "meta", None) or {}).get("ui")
    opened = {"arguments": {}, "result": dumped(result)}
    await page.evaluate(
        "([html, meta, opened, context]) => window.openApp(html, meta, opened, context)",
        [getattr(content, "text", ""), ui_meta, opened, host_context or HOST_CONTEXT_LIGHT],
    )
    await hosted.frame.locator("[data-state='ready']").wait_for(timeout=30_000)
    return hosted


@asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
