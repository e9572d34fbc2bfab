from __future__ import annotations

import hashlib
import ipaddress
import re
import ssl

import anyio
import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pvesim import Fault, Simulator
from pvesim.serve import generate_self_signed, serve, serving
from sim_support import API, data

pytestmark = pytest.mark.anyio


def test_the_certificate_fingerprint_is_sha256_of_der_in_pve_notation() -> None:
    cert = generate_self_signed(["127.0.0.1", "pve1.sim"])
    parsed = x509.load_pem_x509_certificate(cert.cert_pem)
    der = parsed.public_bytes(serialization.Encoding.DER)

    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", cert.fingerprint)
    assert cert.fingerprint.replace(":", "").lower() == hashlib.sha256(der).hexdigest()
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["pve1.sim"]
    assert parsed.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "pve1.sim"
    assert b"PRIVATE KEY" in cert.key_pem


async def test_the_simulator_serves_over_https_to_a_client_pinned_to_its_certificate() -> None:
    sim = Simulator()
    with anyio.fail_after(10):
        async with serving(sim) as (url, cert):
            context = ssl.create_default_context(cadata=cert.cert_pem.decode())
            async with httpx2.AsyncClient(
                base_url=url, verify=context, headers={"Authorization": sim.authorization}
            ) as client:
                version = data(await client.get(f"{API}/version"))
                nodes = data(await client.get(f"{API}/nodes"))
                anonymous = await client.get(f"{API}/version", headers={"Authorization": ""})

    assert int(url.rsplit(":", 1)[1]) > 0
    assert version["version"] == "9.1.4"
    assert nodes[0]["ssl_fingerprint"] == cert.fingerprint
    assert anonymous.status_code == 401


async def test_a_client_that_does_not_trust_the_certificate_is_refused_by_tls() -> None:
    sim = Simulator()
    with anyio.fail_after(10):
        async with serving(sim) as (url, _), httpx2.AsyncClient(base_url=url) as client:
            with pytest.raises(httpx2.ConnectError):
                await client.get(f"{API}/version")


async def test_serving_off_loopback_needs_an_explicit_opt_in() -> None:
    cert = generate_self_signed(["192.0.2.10"])

    with pytest.raises(ValueError, match="non-loopback"):
        await serve(Simulator(), host="0.0.0.0", port=0, cert=cert)


def test_a_certificate_needs_at_least_one_name() -> None:
    with pytest.raises(ValueError, match="at least one"):
        generate_self_signed([])


async def test_a_hanging_request_does_not_keep_the_server_from_stopping() -> None:
    sim = Simulator()
    sim.arm(Fault("hang"))
    with anyio.fail_after(10):
        async with serving(sim) as (url, cert):
            context = ssl.create_default_context(cadata=cert.cert_pem.decode())
            async with httpx2.AsyncClient(base_url=url, verify=context) as client:
                with pytest.raises(TimeoutError), anyio.fail_after(0.5):
                    await client.get(f"{API}/version")

    assert [r.path for r in sim.requests] == ["/version"]
