"""Every failure a tool can report, classified once where it happens.

The tree::

    PveMcpError                      code, message, hint (+ HTTP status, details)
    ├── ProxmoxApiError              Proxmox answered, but not with success
    │     PROXMOX_AUTH_FAILED (401)  PROXMOX_ACL_FORBIDDEN (403)  PROXMOX_NOT_FOUND (404, "does not exist")
    │     TASK_NOT_FOUND (400 "upid: no such task")
    │     PROXMOX_REQUEST_REJECTED (other 4xx)  PROXMOX_SERVER_ERROR (5xx)  PROXMOX_INVALID_RESPONSE (not JSON)
    │     QEMU_GUEST_AGENT_UNAVAILABLE  CLOUDINIT_UNAVAILABLE (5xx in PVE's words for those)
    ├── ProxmoxTransportError        Proxmox was not reached or did not answer in time
    │     TIMEOUT  TLS_ERROR  CONNECTION_REFUSED  CONNECTION_RESET  DNS_RESOLUTION_FAILED  HOST_UNREACHABLE
    ├── SshError                     the SSH channel could not run the command
    │     SSH_NOT_CONFIGURED  SSH_KEY_UNREADABLE  SSH_HOST_KEY_UNKNOWN  SSH_HOST_KEY_CHANGED  SSH_AUTH_FAILED
    │     SSH_CONNECTION_FAILED  SSH_CONNECTION_LOST  SSH_TIMEOUT
    └── ToolCallError                refused by pvemcp itself before or around the call
          TOOL_INPUT_REJECTED  CONFIRMATION_REQUIRED  CONFIRMATION_DECLINED  TARGET_CHANGED  APPROVAL_ALREADY_USED
          OUT_OF_SCOPE  PROTECTED_GUEST  GUEST_NOT_FOUND  TASK_FAILED  INTERNAL_ERROR (a bug, logged)
          CONTAINER_NOT_RUNNING  DIAGNOSTIC_COMMAND_NOT_ALLOWED  INVALID_CONTAINER_NAME  DOCKER_NOT_AVAILABLE
          SHARED_STATE_UNAVAILABLE (an approval that could not be checked against MCP_SHARED_STATE_URL)

TOOL_NOT_EXPOSED is never returned: a call to a hidden tool answers "Unknown tool" like a name that does not
exist, and only the audit log records the code. Messages keep Proxmox's own words; hints say what to do
next. Later layers never re-classify by matching message text: they read `code`. docs/errors.md lists every
code, generated from pvemcp.pve.error_table.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    PROXMOX_AUTH_FAILED = "PROXMOX_AUTH_FAILED"
    PROXMOX_ACL_FORBIDDEN = "PROXMOX_ACL_FORBIDDEN"
    PROXMOX_NOT_FOUND = "PROXMOX_NOT_FOUND"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    PROXMOX_REQUEST_REJECTED = "PROXMOX_REQUEST_REJECTED"
    PROXMOX_SERVER_ERROR = "PROXMOX_SERVER_ERROR"
    PROXMOX_INVALID_RESPONSE = "PROXMOX_INVALID_RESPONSE"
    QEMU_GUEST_AGENT_UNAVAILABLE = "QEMU_GUEST_AGENT_UNAVAILABLE"
    CLOUDINIT_UNAVAILABLE = "CLOUDINIT_UNAVAILABLE"
    TIMEOUT = "TIMEOUT"
    TLS_ERROR = "TLS_ERROR"
    CONNECTION_REFUSED = "CONNECTION_REFUSED"
    CONNECTION_RESET = "CONNECTION_RESET"
    DNS_RESOLUTION_FAILED = "DNS_RESOLUTION_FAILED"
    HOST_UNREACHABLE = "HOST_UNREACHABLE"
    TOOL_INPUT_REJECTED = "TOOL_INPUT_REJECTED"
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
    CONFIRMATION_DECLINED = "CONFIRMATION_DECLINED"
    TARGET_CHANGED = "TARGET_CHANGED"
    APPROVAL_ALREADY_USED = "APPROVAL_ALREADY_USED"
    SHARED_STATE_UNAVAILABLE = "SHARED_STATE_UNAVAILABLE"
    OUT_OF_SCOPE = "OUT_OF_SCOPE"
    PROTECTED_GUEST = "PROTECTED_GUEST"
    GUEST_NOT_FOUND = "GUEST_NOT_FOUND"
    TASK_FAILED = "TASK_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SSH_NOT_CONFIGURED = "SSH_NOT_CONFIGURED"
    SSH_KEY_UNREADABLE = "SSH_KEY_UNREADABLE"
    SSH_HOST_KEY_UNKNOWN = "SSH_HOST_KEY_UNKNOWN"
    SSH_HOST_KEY_CHANGED = "SSH_HOST_KEY_CHANGED"
    SSH_AUTH_FAILED = "SSH_AUTH_FAILED"
    SSH_CONNECTION_FAILED = "SSH_CONNECTION_FAILED"
    SSH_CONNECTION_LOST = "SSH_CONNECTION_LOST"
    SSH_TIMEOUT = "SSH_TIMEOUT"
    CONTAINER_NOT_RUNNING = "CONTAINER_NOT_RUNNING"
    DIAGNOSTIC_COMMAND_NOT_ALLOWED = "DIAGNOSTIC_COMMAND_NOT_ALLOWED"
    INVALID_CONTAINER_NAME = "INVALID_CONTAINER_NAME"
    DOCKER_NOT_AVAILABLE = "DOCKER_NOT_AVAILABLE"
    TOOL_NOT_EXPOSED = "TOOL_NOT_EXPOSED"


class PveMcpError(Exception):
    """A failure the model can act on: a stable code, a message, and a hint."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        hint: str = "",
        *,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.details = details

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.hint:
            payload["hint"] = self.hint
        if self.status is not None:
            payload["status"] = self.status
        if self.details:
            payload["details"] = self.details
        return payload


class ProxmoxApiError(PveMcpError):
    """Proxmox answered with an error status or an unusable body."""


class ProxmoxTransportError(PveMcpError):
    """The request did not complete: connection, TLS or timeout."""


class SshError(PveMcpError):
    """The SSH channel failed: not configured, host key, authentication, connection or timeout."""


class ToolCallError(PveMcpError):
    """pvemcp refused the call itself (bad input, missing confirmation, unknown guest)."""


API_HINTS: dict[ErrorCode, str] = {
    ErrorCode.PROXMOX_AUTH_FAILED: (
        "Check PROXMOX_USER, PROXMOX_REALM, PROXMOX_TOKEN_NAME and PROXMOX_TOKEN_SECRET; the token may be"
        " expired or deleted (Datacenter > Permissions > API Tokens)."
    ),
    ErrorCode.PROXMOX_ACL_FORBIDDEN: (
        "The API token lacks the privilege named in the message. Grant it on that path, or with"
        " privilege separation on, grant it to the token itself (not only to the user)."
    ),
    ErrorCode.PROXMOX_NOT_FOUND: (
        "The node, guest, storage or task does not exist (or not on that node). List it first, e.g. with"
        " pve_list_cluster_resources."
    ),
    ErrorCode.TASK_NOT_FOUND: (
        "The node has no task with this UPID: it comes from another cluster or node, or was mistyped. Find the"
        " task with pve_list_cluster_tasks, or pve_list_tasks for one node, and pass its upid exactly."
    ),
    ErrorCode.PROXMOX_REQUEST_REJECTED: (
        "Proxmox refused the request as sent. On 400, fix the parameters the message names (details.errors"
        " lists them); on 501, this Proxmox version has no such endpoint or method, so a retry will not help."
    ),
    ErrorCode.PROXMOX_SERVER_ERROR: (
        "Proxmox could not carry out the request; the message says why. Check the guest's state or the"
        " task log before retrying."
    ),
    ErrorCode.PROXMOX_INVALID_RESPONSE: (
        "The answer was not Proxmox JSON: a reverse proxy, a login page or the wrong port may be in the"
        " way. Point PROXMOX_HOST/PROXMOX_PORT at pveproxy (8006)."
    ),
    ErrorCode.QEMU_GUEST_AGENT_UNAVAILABLE: (
        "The VM must run with the agent option enabled (agent=1, then a full stop and start) and"
        " qemu-guest-agent installed and running inside the guest; just after boot, retry in a minute."
    ),
    ErrorCode.CLOUDINIT_UNAVAILABLE: (
        "The VM has no usable cloud-init setup: add a CloudInit drive (e.g. ide2: local-lvm:cloudinit) and"
        " check its citype and cicustom settings in the VM config."
    ),
}


def api_error(code: ErrorCode, message: str, *, status: int, details: dict[str, Any] | None = None) -> ProxmoxApiError:
    return ProxmoxApiError(code, message, API_HINTS[code], status=status, details=details)


TRANSPORT_HINTS: dict[ErrorCode, str] = {
    ErrorCode.TIMEOUT: "Proxmox did not answer in time. The node may be overloaded; retry, or raise PROXMOX_TIMEOUT.",
    ErrorCode.TLS_ERROR: (
        "The node's certificate was not trusted. Pin it with PROXMOX_TLS_FINGERPRINT (shown under Node >"
        " System > Certificates) or trust its CA with PROXMOX_TLS_CA_FILE."
    ),
    ErrorCode.CONNECTION_REFUSED: (
        "Nothing accepted the connection: check PROXMOX_HOST, PROXMOX_PORT (8006) and firewalls."
    ),
    ErrorCode.CONNECTION_RESET: "The connection dropped mid-request; retry, and check proxies or load balancers.",
    ErrorCode.DNS_RESOLUTION_FAILED: "PROXMOX_HOST does not resolve; use an IP address or fix DNS.",
    ErrorCode.HOST_UNREACHABLE: "No route to PROXMOX_HOST; check the network or VPN.",
}


def transport_error(code: ErrorCode, message: str) -> ProxmoxTransportError:
    return ProxmoxTransportError(code, message, TRANSPORT_HINTS[code])


SSH_HINTS: dict[ErrorCode, str] = {
    ErrorCode.SSH_NOT_CONFIGURED: (
        "Set PROXMOX_SSH_HOST, PROXMOX_SSH_USER and PROXMOX_SSH_KEY_PATH (and leave PVE_SSH unset or on) to"
        " use the SSH tools."
    ),
    ErrorCode.SSH_KEY_UNREADABLE: (
        "PROXMOX_SSH_KEY_PATH must name a readable, unencrypted private key file (e.g. ed25519) whose public"
        " half is in the node's authorized_keys."
    ),
    ErrorCode.SSH_HOST_KEY_UNKNOWN: (
        "Trust the host once: compare its key fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`"
        " on the node, then run `ssh-keyscan -p PORT HOST >> KNOWN_HOSTS` (PROXMOX_SSH_KNOWN_HOSTS), or set"
        " PROXMOX_SSH_TRUST_ON_FIRST_USE=true to record it on first connection."
    ),
    ErrorCode.SSH_HOST_KEY_CHANGED: (
        "The host presented a different key than the one recorded. Find out why (reinstall, or an attacker in"
        " the middle) before removing the old entry with `ssh-keygen -R HOST -f KNOWN_HOSTS`."
    ),
    ErrorCode.SSH_AUTH_FAILED: (
        "The node refused the key: add the public key to PROXMOX_SSH_USER's ~/.ssh/authorized_keys on every"
        " node and check PROXMOX_SSH_USER."
    ),
    ErrorCode.SSH_CONNECTION_FAILED: (
        "Check PROXMOX_SSH_HOST, PROXMOX_SSH_PORT, PROXMOX_SSH_NODE_HOSTS and that sshd runs and is reachable"
        " (for a jump through the entry host, it must allow TCP forwarding)."
    ),
    ErrorCode.SSH_CONNECTION_LOST: (
        "The connection dropped while the command ran; it may or may not have finished. Check its effect"
        " before running it again; the next call reconnects."
    ),
    ErrorCode.SSH_TIMEOUT: (
        "The node did not connect or the command did not finish in time; it may still be running. Check"
        " before retrying, or use a command that finishes sooner."
    ),
}


def ssh_error(code: ErrorCode, message: str, *, details: dict[str, Any] | None = None) -> SshError:
    return SshError(code, message, SSH_HINTS[code], details=details)
