"""The cluster as an MCP App (extension io.modelcontextprotocol/ui, SEP-1865).

A client that declares the extension with the HTML app mime type sees three differences, and no other
client sees any: the health check (pve_health; pve_list_cluster_resources in the catalog mode) names
the app in `_meta.ui.resourceUri`, so the host shows the cluster beside the answer; the app's own data
tool, pve_cluster_view, is listed with visibility ["app"], which hosts keep out of the model's list;
and resources/list offers the app. The app is one self-contained HTML file (app_ui/cluster.html): no
external origins, so its declared CSP allows none. Everything it does goes back through the host's
tools/call and so through the one dispatch path: tier, scope, confirmation and audit apply as for the model.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import mcp_types as types

from pvemcp.catalog.fronts import APP_ONLY
from pvemcp.server.listing import tool_definition

EXTENSION = "io.modelcontextprotocol/ui"
MIME = "text/html;profile=mcp-app"
APP_URI = "ui://pvemcp/cluster"
[APP_TOOL] = APP_ONLY  # the app's data tool: pve_cluster_view
LINKED = frozenset({"pve_health", "pve_list_cluster_resources"})  # tools whose results the app accompanies
# No external origins of any kind: the app draws with inline SVG and talks only to its host.
CSP: dict[str, list[str]] = {"connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []}
RESOURCE_META = {"ui": {"csp": CSP, "prefersBorder": False}}

APP_RESOURCE = types.Resource(
    name="cluster-app",
    title="Cluster app",
    uri=APP_URI,
    description="The cluster at a glance: nodes, guests with sparklines, health findings and guest actions.",
    mime_type=MIME,
    _meta=RESOURCE_META,
)


def renders_apps(capabilities: types.ClientCapabilities | None) -> bool:
    """Did the client declare the extension with the HTML app type? Anything else gets plain results."""
    declared = (capabilities.extensions or {}) if capabilities is not None else {}
    settings = declared.get(EXTENSION)
    mime_types = settings.get("mimeTypes") if isinstance(settings, dict) else None
    return isinstance(mime_types, list) and MIME in mime_types


@cache
def app_html() -> str:
    return (resources.files("pvemcp.server") / "app_ui" / "cluster.html").read_text(encoding="utf-8")


def read_app() -> types.ReadResourceResult:
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=APP_URI, mime_type=MIME, text=app_html(), _meta=RESOURCE_META)]
    )


def _linked(tool: types.Tool, ui: dict[str, Any]) -> types.Tool:
    meta = dict(tool.meta or {})
    meta["ui"] = ui
    return tool.model_copy(update={"meta": meta})


class AppListings:
    """tools/list for app-rendering clients: each plain listing with the app linked, built once per listing."""

    def __init__(self) -> None:
        self._built: dict[int, tuple[list[types.Tool], list[types.Tool]]] = {}

    def listing(self, tools: list[types.Tool], app_tool: Any) -> list[types.Tool]:
        """`tools` with the linked ones pointing at the app, and the app's data tool (its ToolSpec, or None
        when this caller's inventory hides it) listed for the app alone."""
        kept = self._built.get(id(tools))
        if kept is not None and kept[0] is tools:
            return kept[1]
        linked = [_linked(t, {"resourceUri": APP_URI}) if t.name in LINKED else t for t in tools]
        if app_tool is not None:
            linked.append(_linked(tool_definition(app_tool), {"resourceUri": APP_URI, "visibility": ["app"]}))
        self._built[id(tools)] = (tools, linked)
        return linked
