"""Our Proxmox client against the simulator: errors keep Proxmox's words, retries are safe, TLS is strict."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import anyio
import pytest

from pvemcp.pve.client import ProxmoxClient, RetryPolicy
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.pve.tls import TlsConfig
from pvesim import Fault, Simulator
from pvesim.serve import serving
from tests.conftest import client_for, sim_token

pytestmark = pytest.mark.anyio


async def failure(client: ProxmoxClient, method: str, path: str) -> PveMcpError:
    with pytest.raises(PveMcpError) as caught:
        await client.request(method, path)
    return caught.value


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("status", status=401, message="authentication failure"), ErrorCode.PROXMOX_AUTH_FAILED),
        (
            Fault("status", status=403, message="Permission check failed (/nodes/pve1, Sys.Audit)"),
            ErrorCode.PROXMOX_ACL_FORBIDDEN,
        ),
        (Fault("status", status=404, message="no such resource"), ErrorCode.PROXMOX_NOT_FOUND),
        (Fault("status", status=500, message="got timeout"), ErrorCode.PROXMOX_SERVER_ERROR),
        (Fault("html"), ErrorCode.PROXMOX_SERVER_ERROR),
        (Fault("bad-json"), ErrorCode.PROXMOX_INVALID_RESPONSE),
    ],
    ids=["401", "403", "404", "500", "html-502", "bad-json"],
)
async def test_each_injected_fault_gives_its_stable_code(
    sim: Simulator, pve: ProxmoxClient, fault: Fault, code: ErrorCode
) -> None:
    sim.arm(fault)
    error = await failure(pve, "POST", "/nodes/pve1/qemu/100/status/start")
    assert error.code is code
    assert error.hint
    if fault.message:
        assert fault.message in error.message


async def test_proxmox_own_words_and_parameter_errors_are_kept(pve: ProxmoxClient) -> None:
    with pytest.raises(PveMcpError) as caught:
        await pve.request("GET", "/nodes/pve1/tasks", {"limit": "many", "bogus": 1})
    error = caught.value
    assert error.code is ErrorCode.PROXMOX_REQUEST_REJECTED and error.status == 400
    assert "limit" in error.message and "bogus" in error.message
    assert error.details is not None and set(error.details["errors"]) == {"limit", "bogus"}


async def test_a_missing_guest_is_a_not_found_with_proxmox_text(pve: ProxmoxClient) -> None:
    error = await failure(pve, "GET", "/nodes/pve1/qemu/99999/status/current")
    assert error.code is ErrorCode.PROXMOX_NOT_FOUND
    assert "does not exist" in error.message


async def test_writes_are_never_retried(sim: Simulator, pve: ProxmoxClient) -> None:
    sim.arm(Fault("status", status=503, message="service unavailable", count=5))
    error = await failure(pve, "POST", "/nodes/pve1/qemu/100/status/start")
    assert error.status == 503
    assert [r.method for r in sim.requests] == ["POST"]


async def test_reads_are_retried_on_transient_failures_and_then_succeed(sim: Simulator, pve: ProxmoxClient) -> None:
    sim.arm(Fault("status", status=596, message="Broken pipe", count=2))
    nodes = await pve.get("/nodes")
    assert {n["node"] for n in nodes} == {"pve1", "pve2", "pve3"}
    assert len(sim.requests) == 3


async def test_reads_are_not_retried_on_client_errors(sim: Simulator, pve: ProxmoxClient) -> None:
    sim.arm(Fault("status", status=403, message="Permission check failed", count=5))
    await failure(pve, "GET", "/nodes")
    assert len(sim.requests) == 1


async def test_retries_stop_after_the_attempt_limit(sim: Simulator, pve: ProxmoxClient) -> None:
    sim.arm(Fault("status", status=502, message="Bad Gateway", count=0))
    error = await failure(pve, "GET", "/nodes")
    assert error.code is ErrorCode.PROXMOX_SERVER_ERROR
    assert len(sim.requests) == pve.retry.attempts


async def test_a_timeout_cancels_the_request(sim: Simulator) -> None:
    client = client_for(sim, timeout=0.2)
    sim.arm(Fault("hang"))
    with anyio.fail_after(5):
        error = await failure(client, "POST", "/nodes/pve1/qemu/100/status/start")
    assert error.code is ErrorCode.TIMEOUT
    # The cancelled request leaves the client usable.
    assert await client.get("/version")
    await client.aclose()


async def test_booleans_travel_as_0_and_1(sim: Simulator, pve: ProxmoxClient) -> None:
    await pve.get("/nodes/pve1/storage", {"enabled": True})
    assert sim.requests[-1].params == {"enabled": "1"}


async def test_tls_verification_is_on_by_default_and_refuses_a_self_signed_node(sim: Simulator) -> None:
    async with serving(sim) as (url, _):
        client = ProxmoxClient(url, sim_token(sim), retry=RetryPolicy(attempts=1))
        error = await failure(client, "GET", "/version")
        await client.aclose()
    assert error.code is ErrorCode.TLS_ERROR
    assert sim.requests == []


async def test_a_pinned_fingerprint_is_trusted(sim: Simulator) -> None:
    async with serving(sim) as (url, cert):
        client = ProxmoxClient(url, sim_token(sim), tls=TlsConfig(fingerprint=cert.fingerprint))
        version = await client.get("/version")
        await client.aclose()
    assert "version" in version


async def test_a_wrong_pin_fails_before_any_credential_is_sent(sim: Simulator) -> None:
    async with serving(sim) as (url, _):
        client = ProxmoxClient(url, sim_token(sim), tls=TlsConfig(fingerprint="AB" * 32), retry=RetryPolicy(1))
        error = await failure(client, "GET", "/version")
        await client.aclose()
    assert error.code is ErrorCode.TLS_ERROR and "fingerprint" in error.message
    assert sim.requests == []


async def test_a_ca_file_is_trusted(sim: Simulator) -> None:
    async with serving(sim) as (url, cert):
        with tempfile.TemporaryDirectory() as tmp:
            ca = Path(tmp) / "ca.pem"
            ca.write_bytes(cert.cert_pem)
            client = ProxmoxClient(url, sim_token(sim), tls=TlsConfig(ca_file=str(ca)))
            assert await client.get("/version")
            await client.aclose()


async def test_insecure_mode_skips_verification_only_when_asked_by_name(sim: Simulator) -> None:
    assert TlsConfig().ssl_context().verify_mode is ssl.CERT_REQUIRED
    async with serving(sim) as (url, _):
        client = ProxmoxClient(url, sim_token(sim), tls=TlsConfig(insecure=True))
        assert await client.get("/version")
        await client.aclose()


async def test_a_closed_port_is_connection_refused() -> None:
    sim = Simulator()
    with anyio.fail_after(10):
        async with serving(sim) as (url, _):
            port = int(url.rsplit(":", 1)[1])
    client = ProxmoxClient(f"https://127.0.0.1:{port}", sim_token(sim), retry=RetryPolicy(1), timeout=5)
    error = await failure(client, "GET", "/version")
    await client.aclose()
    assert error.code is ErrorCode.CONNECTION_REFUSED
