"""Prompts: offered only when their tools are exposed, and written around the cluster-wide tools."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from pvemcp.catalog.spec import Module, Tier
from pvemcp.server.inventory import Inventory, Policy
from pvemcp.server.prompts import RECIPES, Prompts
from tests.conftest import FULL, McpFactory

pytestmark = pytest.mark.anyio


def test_every_recipe_names_only_tools_of_the_catalog() -> None:
    inventory = Inventory(FULL)
    for recipe in RECIPES:
        assert all(inventory.get(tool) for tool in recipe.tools), recipe.name
        for tool in recipe.tools:
            assert tool in recipe.text


async def test_the_four_prompts_are_listed_and_render(connect: McpFactory) -> None:
    async with connect() as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(listed) == {"cluster-health", "guest-inventory", "backup-audit", "troubleshoot-guest"}
        assert [a.name for a in listed["troubleshoot-guest"].arguments or []] == ["vmid"]
        result = await client.get_prompt("troubleshoot-guest", {"vmid": "101"})
        text = result.messages[0].content.text  # type: ignore[union-attr]
        assert "101" in text and "pve_list_cluster_resources" in text
        with pytest.raises(MCPError):
            await client.get_prompt("troubleshoot-guest", {"vmid": "abc"})


async def test_prompts_follow_the_exposed_tools(connect: McpFactory) -> None:
    only_inventory = Policy(
        tier=Tier.READ_ONLY, module=Module.CORE, whitelist=frozenset({"pve_list_cluster_resources"})
    )
    async with connect(only_inventory) as client:
        assert [p.name for p in (await client.list_prompts()).prompts] == ["guest-inventory"]


async def test_no_prompts_capability_is_advertised_when_none_is_offered(connect: McpFactory, era: str) -> None:
    nothing = Policy(whitelist=frozenset({"pve_list_nodes"}))
    assert Prompts(Inventory(nothing)).recipes == {}
    async with connect(nothing) as client:
        capabilities = client.server_capabilities
        if era == "legacy":
            assert capabilities.prompts is None
        with pytest.raises(MCPError):
            await client.list_prompts()
