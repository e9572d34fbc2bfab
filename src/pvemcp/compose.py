"""The composition root: a Proxmox client, and the Runtime every transport serves, built from the Config.

stdio (pvemcp/stdio.py), HTTP (pvemcp/http/serve.py), the doctor and `pvemcp setup` build what they serve
here, so a real cluster and the sandbox are wired one way. The simulator is imported only for the sandbox.
"""

from __future__ import annotations

import gc
import logging
from typing import TYPE_CHECKING

from pvemcp.config import Config
from pvemcp.pve.client import ApiToken, ProxmoxClient
from pvemcp.server.inventory import Inventory

if TYPE_CHECKING:
    from pvemcp.server.dispatch import Runtime

log = logging.getLogger("pvemcp")

SANDBOX_URL = "https://sandbox.pve.invalid:8006"


def sandbox_client() -> ProxmoxClient:
    """A client wired in-process to a fresh simulated cluster whose tasks take real seconds."""
    import httpx2

    from pvesim import RealClock, Simulator

    sim = Simulator(clock=RealClock(), task_seconds=(1.0, 2.0))
    user_realm, token_name = sim.token_id.split("!", 1)
    user, realm = user_realm.rsplit("@", 1)
    token = ApiToken(user=user, realm=realm, token_name=token_name, secret=sim.token_secret)
    return ProxmoxClient(SANDBOX_URL, token, transport=httpx2.ASGITransport(app=sim.app))


def make_client(config: Config) -> ProxmoxClient:
    if config.sandbox or config.target is None:
        return sandbox_client()
    target = config.target
    if target.tls.insecure:
        log.warning(
            "PROXMOX_ALLOW_INSECURE_TLS=true: the node's certificate is NOT verified and a man in the middle could"
            " read the API token. Prefer PROXMOX_TLS_FINGERPRINT or PROXMOX_TLS_CA_FILE."
        )
    return ProxmoxClient(target.base_url, target.token, tls=target.tls, timeout=target.timeout)


def settle_heap() -> None:
    """Move the start-up heap (imports, catalog, schemas) out of the garbage collector's sight.

    Those objects live as long as the process; without this, every full collection walks them again,
    which measurably slows bursts of tool calls (see bench/concurrency.py).
    """
    gc.collect()
    gc.freeze()


def make_runtime(config: Config, client: ProxmoxClient) -> Runtime:
    from pvemcp.audit import AuditLog
    from pvemcp.server.dispatch import Runtime

    audit = None
    ssh = None
    if config.ssh is not None:
        from pvemcp.ssh.client import SshChannel

        ssh = SshChannel(config.ssh, client)  # connects at first use: a node that is down does not stop start-up
    if config.audit_path is not None:
        forward = None
        if config.audit_syslog is not None:
            from pvemcp.audit_syslog import SyslogForwarder

            forward = SyslogForwarder(config.audit_syslog)  # started by open(), stopped by the log's close()
        audit = AuditLog(config.audit_path, forward)
        audit.open()  # a path that cannot be written fails here, at start-up, not in the middle of a change
    return Runtime(
        client,
        Inventory(config.policy),
        max_result_bytes=config.result_max_bytes,
        confirm_mode=config.confirm_mode,
        scope=config.scope,
        audit=audit,
        audit_reads=config.audit_reads,
        ssh=ssh,
    )


def log_safety(config: Config) -> None:
    """One start-up line with every safety setting, so an operator sees what this process enforces."""
    scope = config.scope
    log.info(
        "confirmation %s; scope nodes=%s vmids=%s protected tag=%s; SSH %s; audit log %s",
        config.confirm_mode.value,
        ",".join(sorted(scope.nodes)) if scope.nodes is not None else "all",
        scope.describe_vmids() or "all",
        scope.protected_tag or "none",
        f"via {config.ssh.host}" if config.ssh else "off",
        f"{config.audit_path} (also to syslog {config.audit_syslog})"
        if config.audit_syslog
        else config.audit_path or "off",
    )
