"""The OCI image of deploy/Containerfile, built and run here with podman: it serves MCP in both protocol eras
from a read-only root filesystem as an unprivileged user, keeps its audit log on the volume, and its
HEALTHCHECK passes.

Skips, saying why, where podman is missing or cannot start containers, or no base image can be had (no
registry and no debootstrap). `deploy/smoke.sh` runs this module alone.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import payload
from tests.deploy import podman
from tests.loopback import free_port

STOPPED_QEMU = 103  # on pve1, stopped in the simulator's default cluster


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The image, built once for the module from this checkout, and removed afterwards."""
    work = tmp_path_factory.mktemp("image")
    try:
        podman.podman()
        with podman.base_image(work) as base:
            tag = f"localhost/pvemcp-test:{secrets.token_hex(4)}"
            podman.build(base, tag, work / "build.log")
            try:
                yield tag
            finally:
                podman.remove_image(tag)
    except podman.UnavailableError as reason:
        pytest.skip(str(reason))


@pytest.fixture(scope="module")
def served(image: str) -> Iterator[podman.Container]:
    try:
        options = podman.run_options(image)
    except podman.UnavailableError as reason:
        pytest.skip(f"the image was built, but {reason}")
    env = {"MCP_ALLOWED_HOSTS": "pvemcp.example.org", "PVE_ACCESS_TIER": "full", "PVE_CONFIRM_MODE": "flag"}
    with podman.serve(image, options, free_port(), env) as container:
        wait_healthy(container)
        yield container


def wait_healthy(container: podman.Container, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if httpx2.get(f"{container.base}/health", timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"the container did not answer /health:\n{podman.logs(container.name)}")


@asynccontextmanager
async def mcp(container: podman.Container, mode: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {container.token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(container.url, http_client=http), mode=mode) as client,
    ):
        yield client


def test_the_image_is_what_the_containerfile_promises(image: str) -> None:
    found = json.loads(podman.run([podman.podman(), "image", "inspect", image]).stdout)[0]
    config = found["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/opt/pvemcp/venv/bin/pvemcp", "run", "--transport", "http"]
    assert set(config["ExposedPorts"]) == {"3000/tcp"}
    assert set(config["Volumes"]) == {"/var/lib/pvemcp"}
    assert config["WorkingDir"] == "/var/lib/pvemcp"
    assert found["Healthcheck"]["Test"] == ["CMD", podman.PYTHON, "/opt/pvemcp/healthcheck.py"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["MCP_HOST"] == "0.0.0.0" and env["PVE_AUDIT_LOG"] == "/var/lib/pvemcp/audit.jsonl"
    labels = config["Labels"]
    for key in ("title", "description", "source", "licenses", "version"):
        assert labels[f"org.opencontainers.image.{key}"], key


def test_it_answers_health_as_an_unprivileged_user(served: podman.Container) -> None:
    health = httpx2.get(f"{served.base}/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ids = served.exec(podman.PYTHON, "-c", "import os; print(os.getuid(), os.getgid(), os.getgroups())")
    assert ids.stdout.split()[:2] == ["10001", "10001"], ids.stdout + ids.stderr
    check = podman.run([podman.podman(), "healthcheck", "run", served.name], check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    tools = served.exec(
        podman.PYTHON, "-c", "import importlib.util as u; print(u.find_spec('pip'), u.find_spec('setuptools'))"
    )
    assert tools.stdout.split() == ["None", "None"], "the runtime venv holds the wheels and their dependencies alone"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_it_serves_mcp_in_both_eras_with_the_token_from_a_file(served: podman.Container, mode: str) -> None:
    async with mcp(served, mode) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"pve_inventory", "pve_guest_power"} <= tools
        nodes = payload(await client.call_tool("pve_inventory", {"action": "nodes"}))
        assert nodes["count"] == 3
    refused = httpx2.post(served.url, json={}, headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert refused.status_code == 401


@pytest.mark.anyio
async def test_a_chart_is_drawn_with_the_root_filesystem_read_only(served: podman.Container) -> None:
    """matplotlib writes its font cache under the volume (MPLCONFIGDIR), and nowhere else: there is no /tmp."""
    async with mcp(served, "2026-07-28") as client:
        args = {"action": "metrics", "vmid": 101, "timeframe": "day", "chart": True}
        result = await client.call_tool("pve_guest", args)
    assert [item.type for item in result.content] == ["text", "image"]
    probe = "import pathlib; pathlib.Path('/opt/pvemcp/x').touch()"
    assert served.exec(podman.PYTHON, "-c", probe).returncode != 0, "the root filesystem is read-only"


@pytest.mark.anyio
async def test_a_change_is_audited_on_the_volume_and_its_chain_verifies(served: podman.Container) -> None:
    async with mcp(served, "2026-07-28") as client:
        args = {"action": "start", "vmid": STOPPED_QEMU, "confirm": True}
        started = payload(await client.call_tool("pve_guest_power", args))
    assert started["task"]["exitstatus"] == "OK"
    verified = served.exec("/opt/pvemcp/venv/bin/pvemcp", "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "chain intact" in verified.stdout + verified.stderr
    stored = served.exec(podman.PYTHON, "-c", "print(open('/var/lib/pvemcp/audit.jsonl').read())")
    entries = [json.loads(line) for line in stored.stdout.splitlines() if line.strip()]
    assert [entry["tool"] for entry in entries] == ["pve_start_qemu_vm"]
