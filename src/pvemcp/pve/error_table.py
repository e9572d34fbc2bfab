"""Every code pvemcp reports, when it happens and what to do next: the source of docs/errors.md.

The hints for Proxmox and transport failures are the ones the errors themselves carry; the refusals
raised by pvemcp carry a hint written for their situation, and the one here is the general advice.
"""

from __future__ import annotations

from dataclasses import dataclass

from pvemcp.pve.errors import API_HINTS, SSH_HINTS, TRANSPORT_HINTS, ErrorCode

E = ErrorCode

WHEN: dict[ErrorCode, str] = {
    E.PROXMOX_AUTH_FAILED: "Proxmox answered 401: the API token is unknown, expired or its secret is wrong.",
    E.PROXMOX_ACL_FORBIDDEN: "Proxmox answered 403: the token may not do this on this path.",
    E.PROXMOX_NOT_FOUND: (
        'Proxmox answered 404, or 500 with "does not exist" / "no such" in its message (PVE\'s usual way of'
        " saying a guest, node, storage or task is missing)."
    ),
    E.TASK_NOT_FOUND: (
        'Proxmox answered 400 "upid: no such task": the UPID is well-formed but the node has no such task (from'
        ' another cluster or node). Its log answers one line "unable to open file" instead, which'
        " pve_get_task_log reports the same way; so does a read of a task of a guest outside the scope."
    ),
    E.PROXMOX_REQUEST_REJECTED: (
        "Proxmox answered another 4xx (400: a parameter failed its checks, named in `details.errors`) or 501."
    ),
    E.PROXMOX_SERVER_ERROR: (
        "Proxmox answered 500 for any other reason, or another 5xx: 502/503/504 or pveproxy's 595/596 when it"
        " could not reach the node; an HTML error page from a proxy counts too. Reads are retried first on 502,"
        " 503, 504 and 596; writes are sent once."
    ),
    E.PROXMOX_INVALID_RESPONSE: "The answer said success but its body was not Proxmox JSON.",
    E.QEMU_GUEST_AGENT_UNAVAILABLE: (
        "Proxmox answered 500 saying the VM has no guest agent configured or the agent did not answer."
    ),
    E.CLOUDINIT_UNAVAILABLE: "Proxmox answered 500 saying the VM has no usable cloud-init drive or setup.",
    E.TIMEOUT: "No answer within PROXMOX_TIMEOUT seconds; the request is cancelled, not left running.",
    E.TLS_ERROR: (
        "The TLS handshake failed: an untrusted certificate, a pin that does not match, or a port that does"
        " not speak TLS."
    ),
    E.CONNECTION_REFUSED: "Nothing accepted the connection on PROXMOX_HOST:PROXMOX_PORT.",
    E.CONNECTION_RESET: "The connection broke after it was made.",
    E.DNS_RESOLUTION_FAILED: "PROXMOX_HOST could not be resolved.",
    E.HOST_UNREACHABLE: "The network has no route to PROXMOX_HOST.",
    E.TOOL_INPUT_REJECTED: (
        "The arguments do not fit the tool's input schema, or a value is malformed (a UPID, a cursor, an"
        " option value, a VMID that is not ASCII digits, a raw parameter that is a float, list or object, a"
        " query too long for a URL), or a raw read needs a higher tier; nothing was sent to Proxmox."
    ),
    E.CONFIRMATION_REQUIRED: (
        "A destructive tool was called without the confirmation PVE_CONFIRM_MODE asks for (confirm=true, or a"
        " person's answer through elicitation); nothing was done."
    ),
    E.CONFIRMATION_DECLINED: "The person asked to confirm declined or dismissed the form; nothing was done.",
    E.TARGET_CHANGED: (
        "Between confirmation and action the vmid came to name another guest (name or type changed) or the"
        " guest moved node; nothing was done."
    ),
    E.APPROVAL_ALREADY_USED: (
        "A 2026-07-28 retry brought back a confirmation state already answered (approved, or declined) in this"
        " process, or on any replica sharing MCP_SHARED_STATE_URL: an approval carries out its action once;"
        " nothing was done."
    ),
    E.SHARED_STATE_UNAVAILABLE: (
        "A 2026-07-28 approval came back, but the Redis server MCP_SHARED_STATE_URL names (where replicas record"
        " the approvals already used) did not answer or refused the command, so whether the approval was"
        " already used could not be checked. It is refused rather than risk acting twice; nothing was done."
    ),
    E.OUT_OF_SCOPE: (
        "A write names a node or guest outside PVE_ALLOWED_NODES / PVE_ALLOWED_VMIDS (about a guest on a node"
        " outside, only its VMID is said); it would reach every guest of a node or the cluster (all=1, stopall"
        " without vms, a prune without vmid, a pool selection) under a scope; or it is a raw write to an"
        " endpoint whose reach pvemcp does not model, while a scope or the protected tag is set. Nothing was sent."
    ),
    E.PROTECTED_GUEST: (
        "A write names, or would reach (all=1, a backup job's guests), a guest tagged with PVE_PROTECTED_TAG"
        " (default pvemcp-protected). Nothing was sent."
    ),
    E.GUEST_NOT_FOUND: (
        "No guest in the cluster has the vmid (reads of guests outside the scope answer the same), or it is"
        " a VM passed to a container tool or the reverse."
    ),
    E.TASK_FAILED: "The Proxmox task the tool started ended with an error; details hold its exit status and log tail.",
    E.INTERNAL_ERROR: "pvemcp itself failed; the result says only that, the server log has the trace.",
    E.SSH_NOT_CONFIGURED: "An SSH tool was called but no SSH channel is set up (PROXMOX_SSH_HOST is unset).",
    E.SSH_KEY_UNREADABLE: "The private key at PROXMOX_SSH_KEY_PATH is missing, unreadable or not a key.",
    E.SSH_HOST_KEY_UNKNOWN: (
        "The host's key is not in PROXMOX_SSH_KNOWN_HOSTS and trust-on-first-use is off; nothing was sent."
    ),
    E.SSH_HOST_KEY_CHANGED: "The host's key differs from the one recorded in PROXMOX_SSH_KNOWN_HOSTS; always refused.",
    E.SSH_AUTH_FAILED: "The host refused public-key authentication for PROXMOX_SSH_USER.",
    E.SSH_CONNECTION_FAILED: "The SSH connection (direct, or through the entry host as a jump host) could not be made.",
    E.SSH_CONNECTION_LOST: "The SSH connection broke while a command ran; the command is never rerun.",
    E.SSH_TIMEOUT: "Connecting or the command took longer than the SSH timeouts allow.",
    E.CONTAINER_NOT_RUNNING: "A command was to run inside an LXC container that is not running; nothing ran.",
    E.DIAGNOSTIC_COMMAND_NOT_ALLOWED: (
        "pve_run_remote_diagnostic was given a command that is not on its allow-list (matched as a whole argv,"
        " so no extra arguments, pipes or separators); nothing ran."
    ),
    E.INVALID_CONTAINER_NAME: "A Docker container name does not match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$; nothing ran.",
    E.DOCKER_NOT_AVAILABLE: "The docker command is not installed (or not on PATH) inside the LXC container.",
    E.TOOL_NOT_EXPOSED: (
        "Audit log only. A tool hidden by the tier, module or filters was called: the client gets the MCP"
        ' protocol error "Unknown tool", exactly as for a name that does not exist.'
    ),
}

REFUSAL_HINTS: dict[ErrorCode, str] = {
    E.TOOL_INPUT_REJECTED: "Fix the argument named in the message and call again; the hint says how.",
    E.CONFIRMATION_REQUIRED: (
        "Tell the user exactly what will happen and ask them; only if they agree, call again with"
        " confirm=true (in elicit mode, the user must approve in a client that shows MCP forms)."
    ),
    E.CONFIRMATION_DECLINED: "Leave it as it is; only try again if the user asks for it again.",
    E.TARGET_CHANGED: "Look the guest up again and ask the user whether the change is still wanted.",
    E.APPROVAL_ALREADY_USED: (
        "Do not resend the old requestState. If the change is still wanted, call the tool again without it:"
        " the user must approve it again."
    ),
    E.SHARED_STATE_UNAVAILABLE: (
        "Try again in a moment; nothing was changed. If it keeps failing, the administrator should check that"
        " the Redis server of MCP_SHARED_STATE_URL is up and reachable from every replica."
    ),
    E.OUT_OF_SCOPE: "Work within the scope the message names; only an administrator can widen it.",
    E.PROTECTED_GUEST: "Leave the guest alone; only an administrator removing the tag in Proxmox lifts that.",
    E.GUEST_NOT_FOUND: "List guests with pve_list_cluster_resources (type vm) and use one of their vmids.",
    E.TASK_FAILED: "Read the log lines in details; fix the cause in Proxmox before running the task again.",
    E.INTERNAL_ERROR: "A bug in pvemcp, not in the request. Report it with the server's log line.",
    E.CONTAINER_NOT_RUNNING: "Start the container (pve_start_lxc_container) if the user wants that, then call again.",
    E.DIAGNOSTIC_COMMAND_NOT_ALLOWED: (
        "Use one of the allowed commands listed in the message exactly, or pve_exec_in_container (full tier,"
        " confirmed) for anything else."
    ),
    E.INVALID_CONTAINER_NAME: "List the names with pve_docker_ps_in_container and pass one exactly.",
    E.DOCKER_NOT_AVAILABLE: "This container does not run Docker; pick the LXC container that does.",
    E.TOOL_NOT_EXPOSED: (
        "Expected when PVE_ACCESS_TIER or the filters hide the tool; raise them only if it should be allowed."
    ),
}

SOURCES: tuple[tuple[str, frozenset[ErrorCode]], ...] = (
    ("Proxmox answered with an error", frozenset(API_HINTS)),
    ("Proxmox was not reached or did not answer in time", frozenset(TRANSPORT_HINTS)),
    ("The SSH channel failed", frozenset(SSH_HINTS)),
    ("pvemcp refused or failed the call", frozenset(REFUSAL_HINTS) - {E.TOOL_NOT_EXPOSED}),
    ("Recorded in the audit log, never returned", frozenset({E.TOOL_NOT_EXPOSED})),
)


@dataclass(frozen=True, slots=True)
class ErrorRow:
    code: ErrorCode
    when: str
    hint: str


def error_rows(codes: frozenset[ErrorCode]) -> list[ErrorRow]:
    """Rows for these codes, in ErrorCode order; a code without an entry fails loudly."""
    hints = {**API_HINTS, **TRANSPORT_HINTS, **SSH_HINTS, **REFUSAL_HINTS}
    return [ErrorRow(code, WHEN[code], hints[code]) for code in ErrorCode if code in codes]
