"""config, reach, version and auth: can pvemcp load its settings, reach pveproxy, trust it, and log in?

Reach opens its own TCP and TLS connections rather than going through the API client, so that it can
say what the node presented (its certificate's fingerprint) and why it was not trusted, before any
token is sent.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import anyio

from pvemcp.doctor.model import DOCTOR_TIMEOUT, CheckResult, DoctorContext, Status, copyable, green, red, skip
from pvemcp.pve.errors import ErrorCode
from pvemcp.pve.tls import TlsConfig, format_fingerprint

SETUP_FIX = "fix the settings named above, or run `pvemcp setup` to write a working configuration"
SUPPORTED_MAJOR = 8  # the oldest Proxmox VE major version whose API the catalog's endpoints match


async def check_config(ctx: DoctorContext) -> CheckResult:
    config, problems, path = ctx.load()
    source = f"file {path}" if path else "environment only (no configuration file)"
    if ctx.profile:
        source += f", profile {ctx.profile!r}"
    if config is None:
        listed = "\n".join(f"- {problem}" for problem in problems)
        return red(
            "config",
            f"{len(problems)} problem(s) in the settings ({source}):\n{listed}",
            SETUP_FIX,
            file=str(path) if path else None,
            problems=problems,
        )
    tools, aliases, surface = tool_counts(ctx)
    policy = config.policy
    parts = [source]
    data: dict[str, object] = {
        "file": str(path) if path else None,
        "profile": ctx.profile,
        "tools": tools,
        "aliases": aliases,
        "mode": policy.mode,
    }
    if config.sandbox or config.target is None:
        parts.append("sandbox: the simulated cluster, in-process")
        data["sandbox"] = True
    else:
        target = config.target
        parts.append(f"{target.base_url} as {target.token.token_id} (secret {_secret_source(ctx)})")
        data.update(base_url=target.base_url, token_id=target.token.token_id, sandbox=False)
    parts.append(
        f"tier {policy.tier.label}, module {policy.module.value}, {tools} tools + {aliases} aliases,"
        f" SSH {'on' if config.ssh else 'off'}"
    )
    data.update(tier=policy.tier.label, module=policy.module.value, ssh=config.ssh is not None)
    overridden = (
        [origin for _, origin in sorted(ctx.origins().items()) if origin.file_value is not None] if path else []
    )
    data["overridden"] = [origin.name for origin in overridden]
    lines = ["; ".join(parts), *surface]
    lines += [f"{origin.name} {origin.describe()}" for origin in overridden]
    return green("config", "\n".join(lines), **data)


def tool_counts(ctx: DoctorContext) -> tuple[int, int, list[str]]:
    """(tools, aliases, lines on the listed surface): what `pvemcp run` exposes, said the same way everywhere."""
    from pvemcp.server.fronts import Fronts
    from pvemcp.server.inventory import Inventory

    inventory = Inventory(ctx.config().policy)
    tools = sum(1 for exposed in inventory.by_name.values() if exposed.alias_of is None)
    aliases = len(inventory.by_name) - tools
    if inventory.policy.mode != "consolidated":
        return tools, aliases, []
    fronts = Fronts(inventory)
    default = " (the default)" if ctx.origin("PVE_TOOL_MODE").source == "default" else ""
    offered = [f"{name} ({len(o.specs())})" for name, o in fronts.offered.items()]
    standalone = [t.name for t in fronts.tools if t.name not in fronts.offered]
    head = f"PVE_TOOL_MODE consolidated{default}: {len(fronts.tools)} tools listed, over the {tools} operations"
    return tools, aliases, [f"{head} (operations behind each): {', '.join(offered + standalone)}"]


def _secret_source(ctx: DoctorContext) -> str:
    """Where the token secret came from; never the secret."""
    if (ctx.environ.get("PROXMOX_TOKEN_SECRET") or "").strip():
        return "from the environment"
    settings = ctx.settings()
    if (settings.get("PROXMOX_TOKEN_SECRET") or "").strip():
        return "inline in the configuration file"
    return f"from file {settings.get('PROXMOX_TOKEN_SECRET_FILE', '?').strip()}"


@dataclass(frozen=True, slots=True)
class Handshake:
    tls_version: str
    fingerprint: str  # lowercase hex sha256 of the certificate the node presented


def _handshake(host: str, port: int, context: ssl.SSLContext, server_hostname: str | None) -> Handshake:
    with (
        socket.create_connection((host, port), timeout=DOCTOR_TIMEOUT) as sock,
        context.wrap_socket(sock, server_hostname=server_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True) or b""
        return Handshake(tls.version() or "TLS", hashlib.sha256(der).hexdigest())


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _tls_mode(tls: TlsConfig) -> str:
    if tls.fingerprint:
        return "pinned"
    if tls.insecure:
        return "insecure"
    return "ca-file" if tls.ca_file else "system"


async def check_reach(ctx: DoctorContext) -> CheckResult:
    config = ctx.config()
    if config.sandbox or config.target is None:
        return skip("reach", "sandbox: the simulated cluster runs in-process, no network to check")
    target = config.target
    parts = urlsplit(target.base_url)
    host, port = parts.hostname or "", parts.port or 8006
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    mode = _tls_mode(target.tls)
    data: dict[str, object] = {"address": where, "tls_mode": mode}
    anything = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anything.check_hostname = False
    anything.verify_mode = ssl.CERT_NONE
    sni = None if _is_ip(host) else host
    result = await _reach(ctx, where, host, port, anything, sni, data)
    if result.status is Status.RED:
        moved = _overridden(ctx, "PROXMOX_HOST", "PROXMOX_PORT")
        return replace(result, fix=f"{result.fix}\n({moved})") if moved else result
    return result


def _overridden(ctx: DoctorContext, *names: str) -> str:
    """Which of these settings the environment sets over the file: the first suspect when editing the file
    changed nothing."""
    said = [f"{name} {ctx.origin(name).describe()}" for name in names if ctx.origin(name).file_value is not None]
    return "; ".join(said)


async def _reach(
    ctx: DoctorContext,
    where: str,
    host: str,
    port: int,
    anything: ssl.SSLContext,
    sni: str | None,
    data: dict[str, object],
) -> CheckResult:
    try:
        seen = await anyio.to_thread.run_sync(_handshake, host, port, anything, sni)
    except socket.gaierror as exc:
        return red(
            "reach", f"{host} does not resolve: {exc.strerror or exc}", _hint(ErrorCode.DNS_RESOLUTION_FAILED), **data
        )
    except ConnectionRefusedError:
        return red("reach", f"nothing accepts connections on {where}", _hint(ErrorCode.CONNECTION_REFUSED), **data)
    except TimeoutError:
        return red(
            "reach", f"{where} did not answer within {DOCTOR_TIMEOUT:g} s", _hint(ErrorCode.HOST_UNREACHABLE), **data
        )
    except ssl.SSLError as exc:
        return red(
            "reach",
            f"{where} accepts TCP but the TLS handshake failed ({exc.reason or exc}): is it pveproxy?",
            "point PROXMOX_HOST and PROXMOX_PORT at pveproxy (https, port 8006), not a plain-HTTP proxy"
            " or another service",
            **data,
        )
    except OSError as exc:
        return red(
            "reach", f"cannot connect to {where}: {exc.strerror or exc}", _hint(ErrorCode.HOST_UNREACHABLE), **data
        )
    shown = format_fingerprint(seen.fingerprint)
    data.update(tls_version=seen.tls_version, fingerprint=shown)
    pin = ctx.origin("PROXMOX_TLS_FINGERPRINT")
    pinned_hint = pin.change(shown)
    result = await _judge_tls(ctx, where, host, port, seen, shown, pinned_hint, data)
    return copyable(result, shown, pinned_hint)


async def _judge_tls(
    ctx: DoctorContext,
    where: str,
    host: str,
    port: int,
    seen: Handshake,
    shown: str,
    pinned_hint: str,
    data: dict[str, object],
) -> CheckResult:
    target = ctx.config().target
    assert target is not None
    mode = _tls_mode(target.tls)
    if mode == "pinned":
        if seen.fingerprint != target.tls.fingerprint:
            expected = format_fingerprint(target.tls.fingerprint or "")
            return copyable(
                red(
                    "reach",
                    f"{where} presents a certificate other than the pinned one: a renewed certificate, another"
                    f" host, or someone in between\npresented       {shown}\nnot the pinned  {expected}"
                    f" ({ctx.origin('PROXMOX_TLS_FINGERPRINT').describe()})",
                    "compare the presented certificate with the node's (Node > System > Certificates); only if it"
                    f" is the node's, pin it:\n{pinned_hint}",
                    **data,
                ),
                expected,
            )
        return green("reach", f"{where} over {seen.tls_version}; certificate matches the pinned fingerprint", **data)
    if mode == "insecure":
        return green(
            "reach",
            f"{where} over {seen.tls_version}; certificate NOT verified (PROXMOX_ALLOW_INSECURE_TLS);"
            f" pin it instead after comparing with the node's:\n{pinned_hint}",
            **data,
        )
    try:
        await anyio.to_thread.run_sync(_handshake, host, port, target.tls.ssl_context(), host)
    except ssl.SSLCertVerificationError as exc:
        reason, fix = _explain_verification(exc, host, target.tls.ca_file, pinned_hint)
        return red(
            "reach",
            f"{where} presents a certificate that is not trusted: {reason}\npresented       {shown}",
            fix,
            **data,
        )
    except (ssl.SSLError, OSError) as exc:
        return red(
            "reach", f"the verified TLS handshake with {where} failed: {exc}", _hint(ErrorCode.TLS_ERROR), **data
        )
    trusted = f"the CA file {target.tls.ca_file}" if target.tls.ca_file else "the system's CAs"
    return green("reach", f"{where} over {seen.tls_version}; certificate verified against {trusted}", **data)


def _hint(code: ErrorCode) -> str:
    from pvemcp.pve.errors import TRANSPORT_HINTS

    return TRANSPORT_HINTS[code]


def _explain_verification(
    exc: ssl.SSLCertVerificationError, host: str, ca_file: str | None, pinned_hint: str
) -> tuple[str, str]:
    code, message = exc.verify_code, exc.verify_message or str(exc)
    trust = f"pin it after comparing with Node > System > Certificates:\n{pinned_hint}"
    if code in (18, 19, 20, 21):  # self-signed, self-signed in chain, unknown issuer, unverifiable leaf
        where = f"the CA file {ca_file}" if ca_file else "this machine's CAs"
        return (
            f"{message}; it is not signed by {where} (Proxmox signs its own certificates with the cluster's CA)",
            f"{trust}\nor set PROXMOX_TLS_CA_FILE to a copy of the node's /etc/pve/pve-root-ca.pem",
        )
    if code == 10:
        return (
            f"{message}: the certificate has expired",
            f"renew it on the node (`pvecm updatecerts --force`, or ACME), or {trust}",
        )
    if code == 9:
        return f"{message}: the certificate is not valid yet", "check the clocks of this machine and the node"
    if code == 62:
        return (
            f"{message}: it does not name {host}",
            f"set PROXMOX_HOST to a name the certificate holds, or {trust}",
        )
    return message, trust


async def check_version(ctx: DoctorContext) -> CheckResult:
    probe = await ctx.probe()
    error = probe.error
    if error is not None and error.status is not None and error.code is not ErrorCode.PROXMOX_AUTH_FAILED:
        return red("version", f"GET /version failed: {error.message.strip()}", error.hint, code=str(error.code))
    if error is not None:
        await ctx.api()  # raises BlockedError naming reach or auth
    data = probe.data if isinstance(probe.data, dict) else {}
    version = str(data.get("version") or "")
    if not version:
        return red(
            "version",
            f"GET /version answered without a version: {str(probe.data)[:120]!r}",
            "point PROXMOX_HOST and PROXMOX_PORT at pveproxy (port 8006)",
        )
    try:
        major = int(version.split(".", 1)[0])
    except ValueError:
        major = 0
    info = {"version": version, "release": data.get("release"), "repoid": data.get("repoid"), "major": major}
    if major < SUPPORTED_MAJOR:
        return red(
            "version",
            f"Proxmox VE {version}: older than {SUPPORTED_MAJOR}.0; many tools call endpoints it does not have",
            f"upgrade the cluster to Proxmox VE {SUPPORTED_MAJOR} or 9",
            **info,
        )
    return green("version", f"Proxmox VE {version} (major version {major})", **info)


async def check_auth(ctx: DoctorContext) -> CheckResult:
    config = ctx.config()
    who = config.target.token.token_id if config.target else "the sandbox token"
    probe = await ctx.probe()
    error = probe.error
    if error is not None and error.code is ErrorCode.PROXMOX_AUTH_FAILED:
        return red(
            "auth",
            f"Proxmox refused {who} (401 {error.message.strip()})",
            f"check the token ID {who} and its secret (PROXMOX_TOKEN_SECRET or PROXMOX_TOKEN_SECRET_FILE);"
            " Datacenter > Permissions > API Tokens shows whether it exists and has expired",
            token_id=who,
        )
    await ctx.api()  # other failures belong to reach or version
    return green("auth", f"{who} authenticates", token_id=who)
