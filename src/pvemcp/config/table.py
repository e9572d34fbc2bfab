"""Every setting pvemcp reads, declared once: name, kind, default, bounds, meaning, secrecy and section.

The table drives parsing (config.values.SettingValues), the configuration file's keys (config.file), what
`pvemcp setup` manages (setup.plan) and the settings tables in docs/ (`make docs`); tests keep code and
table in step. It imports nothing of pvemcp, so any layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "integer", "number", "boolean", "choice"]
# connection, ssh and http are the three settings tables (docs/settings.md, docs/ssh.md, docs/http.md);
# environment holds the process's own variables.
Section = Literal["connection", "ssh", "http", "environment"]
SECTIONS: tuple[Section, ...] = ("connection", "ssh", "http")


@dataclass(frozen=True, slots=True)
class Setting:
    """One variable. Numbers carry bounds; `shown` is the default as the docs show it when it is no value."""

    name: str
    kind: Kind
    section: Section
    doc: str  # its meaning in the README ("" for one that shares the row of the setting before it)
    default: str | int | float | bool | None = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    shown: str | None = None
    secret: bool = False
    in_file: bool = True  # may be a key of the configuration file
    setup: bool = False  # `pvemcp setup` decides it (and removes it when an answer no longer needs it)

    @property
    def shares_row(self) -> bool:
        return not self.doc

    @property
    def key(self) -> str:
        """Its key in the configuration file."""
        return self.name.lower()

    def shown_default(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.default is None:
            return "—"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)


def _text(
    name: str,
    section: Section,
    doc: str,
    *,
    default: str | None = None,
    shown: str | None = None,
    secret: bool = False,
    in_file: bool = True,
    setup: bool = False,
) -> Setting:
    return Setting(name, "text", section, doc, default, shown=shown, secret=secret, in_file=in_file, setup=setup)


def _int(name: str, section: Section, doc: str, default: int, low: int, high: int) -> Setting:
    return Setting(name, "integer", section, doc, default, low, high)


def _seconds(name: str, section: Section, doc: str, default: float, low: float, high: float) -> Setting:
    return Setting(name, "number", section, doc, default, low, high)


def _flag(name: str, section: Section, doc: str) -> Setting:
    return Setting(name, "boolean", section, doc, False)


def _choice(name: str, section: Section, doc: str, choices: tuple[str, ...]) -> Setting:
    return Setting(name, "choice", section, doc, choices[0], choices=choices)


C: Section = "connection"
S: Section = "ssh"
H: Section = "http"
E: Section = "environment"

SETTINGS: tuple[Setting, ...] = (
    # -- connection and policy -------------------------------------------------------------------------
    _text(
        "PROXMOX_HOST",
        C,
        "the API endpoint (pveproxy): a name or an IP address, IPv6 with or without brackets (`::1`, `[fd00::5]`)",
        setup=True,
    ),
    Setting("PROXMOX_PORT", "integer", C, "", 8006, 1, 65535, setup=True),
    _text("PROXMOX_USER", C, "the API token", setup=True),
    _text("PROXMOX_REALM", C, "", setup=True),
    _text("PROXMOX_TOKEN_NAME", C, "", setup=True),
    _text("PROXMOX_TOKEN_SECRET", C, "", secret=True, setup=True),
    _text(
        "PROXMOX_TOKEN_SECRET_FILE",
        C,
        "a file holding the token secret (first line), instead of `PROXMOX_TOKEN_SECRET`; a regular file"
        " (or a symlink to one) of at most 4 KiB",
        setup=True,
    ),
    _text(
        "PVEMCP_CONFIG",
        C,
        "the configuration file to read (instead of looking in `./.pvemcp/` and `~/.config/pvemcp/`)",
        in_file=False,
    ),
    _text("PVEMCP_PROFILE", C, "the `[profiles.NAME]` to use, like `--profile NAME`", in_file=False),
    _text(
        "PROXMOX_TLS_FINGERPRINT",
        C,
        "pin the node certificate's sha256 (`AA:BB:…` as Proxmox shows it, or hex); checked during the TLS"
        " handshake, before the token is sent",
        setup=True,
    ),
    _text("PROXMOX_TLS_CA_FILE", C, "trust this CA bundle instead of the system's", setup=True),
    Setting(
        "PROXMOX_ALLOW_INSECURE_TLS",
        "boolean",
        C,
        "skip certificate checks (logs a warning; prefer a pin)",
        False,
        setup=True,
    ),
    _seconds("PROXMOX_TIMEOUT", C, "seconds per API request; a timed-out request is cancelled", 20.0, 1, 600),
    _text(
        "PVE_ACCESS_TIER",
        C,
        "`read-only`, `read-execute` (power actions) or `full`; a ceiling nothing raises",
        default="read-only",
        setup=True,
    ),
    _choice(
        "PVE_TOOL_MODE",
        C,
        "`consolidated`: about twenty tools named for what an admin asks, each with actions; `catalog`: one tool"
        " per Proxmox operation, as nandi-proxmox-mcp lists them. Every tool name is callable in both",
        ("consolidated", "catalog"),
    ),
    _text(
        "PVE_MODULE_MODE",
        C,
        "`core` or `advanced` (adds access-control and firewall tools)",
        default="core",
        setup=True,
    ),
    _text(
        "PVE_CATEGORIES",
        C,
        "comma-separated categories to keep, e.g. `nodes,qemu,lxc`; all of them: nodes, cluster, qemu, lxc,"
        " storage, backup, ha, replication, tasks, network, firewall, sdn, pools, access, templates, monitoring,"
        " agent, node-admin, ceph, remote, raw",
        shown="all",
    ),
    _text("PVE_TOOL_WHITELIST", C, "comma-separated tool names or aliases to keep / remove"),
    _text("PVE_TOOL_BLACKLIST", C, ""),
    _text(
        "PVE_ALIASES",
        C,
        "nandi's camelCase aliases (`startVM`, …): `listed` as tools of their own, `hidden` (callable, not"
        " listed) or `off`",
        default="listed",
    ),
    _int(
        "PVE_RESULT_MAX_BYTES",
        C,
        "the most one result may hold; longer lists page, anything else is cut and says so",
        40_000,
        2_000,
        10_000_000,
    ),
    _flag("PVE_SANDBOX", C, "same as `pvemcp run --sandbox`"),
    Setting(
        "PVE_LOG_LEVEL",
        "choice",
        C,
        "`debug`, `info`, `warning`, `error` (logs go to stderr only)",
        "info",
        choices=("debug", "info", "warning", "error"),
    ),
    _choice(
        "PVE_CONFIRM_MODE",
        C,
        "how destructive tools are confirmed: `auto`, `elicit` or `flag` (see Safety)",
        ("auto", "elicit", "flag"),
    ),
    _text("PVE_ALLOWED_NODES", C, "comma-separated node names this server may touch", shown="all"),
    _text("PVE_ALLOWED_VMIDS", C, "VMIDs and ranges this server may touch, e.g. `100-199,300`", shown="all"),
    _text(
        "PVE_PROTECTED_TAG",
        C,
        "guests with this Proxmox tag are never changed (empty: no tag protects)",
        default="pvemcp-protected",
    ),
    _text(
        "PVE_AUDIT_LOG",
        C,
        "the audit log (`$XDG_STATE_HOME/pvemcp/` when set; `off` disables it)",
        shown="`~/.local/state/pvemcp/audit.jsonl`",
    ),
    _flag("PVE_AUDIT_READS", C, "audit read-only calls too"),
    _text(
        "PVE_AUDIT_SYSLOG",
        C,
        "also send each audit entry to syslog (RFC 5424): `tcp://host:601` or `udp://host:514`; `?facility=local3`"
        " changes the facility (default authpriv)",
        shown="off",
    ),
    # -- SSH ---------------------------------------------------------------------------------------------
    _choice(
        "PVE_SSH",
        S,
        "`auto`: SSH tools on when `PROXMOX_SSH_HOST` is set; `on`: required; `off`: every SSH tool hidden",
        ("auto", "on", "off"),
    ),
    _text("PROXMOX_SSH_HOST", S, "the entry host", setup=True),
    _int("PROXMOX_SSH_PORT", S, "", 22, 1, 65535),
    _text(
        "PROXMOX_SSH_USER",
        S,
        "the user and private key (public-key authentication only; no agent, no passwords)",
        setup=True,
    ),
    _text("PROXMOX_SSH_KEY_PATH", S, "", setup=True),
    _text("PROXMOX_SSH_KNOWN_HOSTS", S, "the host keys pvemcp trusts", shown="`~/.ssh/known_hosts`"),
    _flag("PROXMOX_SSH_TRUST_ON_FIRST_USE", S, "record an unknown host's key on first contact instead of refusing"),
    _text("PROXMOX_SSH_NODE_HOSTS", S, "`pve2=10.0.0.2,pve3=pve3.lan`: addresses to reach nodes directly"),
    _seconds("PROXMOX_SSH_CONNECT_TIMEOUT", S, "seconds", 10.0, 1, 120),
    _seconds("PVE_SSH_COMMAND_TIMEOUT", S, "", 30.0, 1, 3600),
    _int(
        "PVE_SSH_MAX_OUTPUT_BYTES",
        S,
        "stdout and stderr are each cut here, with a marker; never an error",
        1024 * 1024,
        1024,
        64 << 20,
    ),
    # -- HTTP --------------------------------------------------------------------------------------------
    _choice(
        "MCP_TRANSPORT",
        H,
        "`stdio` or `http` (anything else is an error); `--transport` overrides it",
        ("stdio", "http"),
    ),
    _text("MCP_HOST", H, "where to listen (`0` picks a free port)", default="127.0.0.1"),
    _int("MCP_PORT", H, "", 3000, 0, 65535),
    _text(
        "MCP_ALLOWED_HOSTS",
        H,
        "host names accepted in `Host` (required for `0.0.0.0`/`::`); loopback names are always accepted on a"
        " loopback bind",
    ),
    _text(
        "MCP_ALLOWED_ORIGINS",
        H,
        "origins accepted besides those of allowed hosts, e.g. `https://inspector.example.com`",
    ),
    _int(
        "MCP_RATE_LIMIT_WINDOW_MS",
        H,
        "requests per window, per credential (per client address without one)",
        60_000,
        1000,
        86_400_000,
    ),
    _int("MCP_RATE_LIMIT_MAX", H, "", 120, 1, 1_000_000_000),
    _int("MCP_MAX_BODY_SIZE_BYTES", H, "largest request body", 262_144, 1024, 64 << 20),
    _int(
        "MCP_HEADERS_TIMEOUT_MS",
        H,
        "time to send the headers, the whole request; idle keep-alive",
        15_000,
        100,
        600_000,
    ),
    _int("MCP_REQUEST_TIMEOUT_MS", H, "", 120_000, 100, 3_600_000),
    _int("MCP_KEEPALIVE_TIMEOUT_MS", H, "", 5_000, 100, 600_000),
    _int("MCP_MAX_HEADERS_COUNT", H, "most header lines per request", 100, 8, 10_000),
    _int(
        "MCP_MAX_SESSIONS",
        H,
        "open 2025-11-25 sessions in all (about 40 MB when idle); a new one beyond gets `503`",
        1000,
        1,
        100_000,
    ),
    _int(
        "MCP_MAX_SESSIONS_PER_CALLER",
        H,
        "open sessions per caller (token, OAuth subject, else client address); beyond: `429`; never above"
        " `MCP_MAX_SESSIONS`",
        50,
        1,
        100_000,
    ),
    _int(
        "MCP_SESSION_IDLE_TIMEOUT_MS",
        H,
        "a session with no request for this long (an hour) is closed; its id then answers `404`",
        3_600_000,
        1000,
        86_400_000,
    ),
    _text("MCP_AUTH_TOKENS_FILE", H, "bearer tokens, each with a name, tier and optional scope (below)"),
    _text(
        "MCP_AUTH_TOKEN",
        H,
        "one bearer token (at least 32 characters) with the server's tier; caller name `token`",
        secret=True,
    ),
    _text("MCP_OAUTH_ISSUER", H, "OAuth 2.1 resource-server mode (below)"),
    _text("MCP_OAUTH_AUDIENCE", H, ""),
    _text("MCP_OAUTH_JWKS_URL", H, ""),
    _text("MCP_PUBLIC_URL", H, "the URL clients use (OAuth metadata, printed config)", shown="`http://HOST:PORT/mcp`"),
    _flag("MCP_METRICS_PUBLIC", H, "serve `/metrics` without a token"),
    _flag("MCP_ALLOW_UNAUTHENTICATED", H, "accept a non-loopback bind without authentication"),
    _text(
        "MCP_STATE_KEY",
        H,
        "shared key (≥ 32 characters; comma-separated to rotate: the first seals) for confirmation rounds"
        " across replicas",
        shown="random per process",
        secret=True,
    ),
    _flag(
        "MCP_STATELESS",
        H,
        "no sessions: every POST stands alone (any replica can take any request; 2025-11-25 clients then"
        " confirm with `confirm=true` instead of a form)",
    ),
    _text("MCP_TRUSTED_PROXIES", H, "addresses or networks whose `X-Forwarded-For` is believed"),
    _text(
        "MCP_REPLICA_ID",
        H,
        "this replica's name, put in front of its session IDs (`<name>.<id>`) so a load balancer can keep each"
        " 2025-11-25 session on the replica that holds it (deploy/nginx/)",
        shown="none",
    ),
    _text(
        "MCP_SHARED_STATE_URL",
        H,
        "state replicas share: single-use approvals and rate-limit counters in Redis (`redis://host:6379/0`,"
        " `rediss://` for TLS)",
        shown="per process",
        secret=True,
    ),
    # -- the process's own environment, read for defaults ------------------------------------------------
    _text("HOME", E, "the user's home: `~` in paths, the user configuration file", in_file=False),
    _text("XDG_CONFIG_HOME", E, "where the user configuration file lives (`$XDG_CONFIG_HOME/pvemcp/`)", in_file=False),
    _text("XDG_STATE_HOME", E, "where the audit log lives by default (`$XDG_STATE_HOME/pvemcp/`)", in_file=False),
)

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
FILE_KEYS: frozenset[str] = frozenset(setting.key for setting in SETTINGS if setting.in_file)
SETUP_KEYS: tuple[str, ...] = tuple(setting.name for setting in SETTINGS if setting.setup)
SECRET_NAMES: frozenset[str] = frozenset(setting.name for setting in SETTINGS if setting.secret)


def default_of(name: str) -> str | int | float | bool | None:
    return BY_NAME[name].default


def int_default(name: str) -> int:
    value = BY_NAME[name].default
    assert isinstance(value, int) and not isinstance(value, bool), name
    return value


def number_default(name: str) -> float:
    value = BY_NAME[name].default
    assert isinstance(value, int | float) and not isinstance(value, bool), name
    return float(value)


def bounds(name: str) -> tuple[float, float]:
    setting = BY_NAME[name]
    assert setting.low is not None and setting.high is not None, name
    return setting.low, setting.high
