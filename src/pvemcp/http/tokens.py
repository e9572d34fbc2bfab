"""Bearer tokens for the HTTP transport: MCP_AUTH_TOKENS_FILE entries and the single MCP_AUTH_TOKEN.

The file holds no token, only each token's SHA-256. Tokens are 256 bits of randomness
(`pvemcp token new`), so a plain hash cannot be reversed or guessed and a leaked file grants nothing.

    [[tokens]]
    name = "claude-laptop"      # unique; the caller the audit log names
    sha256 = "<64 hex digits>"  # sha256 of the token
    tier = "read-only"          # read-only | read-execute | full: a ceiling under PVE_ACCESS_TIER
    nodes = ["pve1"]            # optional
    vmids = "100-199,300"       # optional, the syntax of PVE_ALLOWED_VMIDS

Every problem in the file is reported at start-up, all together, as a configuration problem.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pvemcp.catalog.spec import Tier
from pvemcp.secret_input import read_small_file
from pvemcp.server.access import Grant, VmidRanges
from pvemcp.server.scope import parse_scope

SINGLE_TOKEN_CALLER = "token"  # noqa: S105 - a caller name, not a secret: the caller name of MCP_AUTH_TOKEN
ENTRY_KEYS = ("name", "sha256", "tier", "nodes", "vmids")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_TOKENS_FILE = 1 << 20  # some thousand entries
TIER_SCOPES = {Tier.READ_ONLY: "pve:read", Tier.READ_EXECUTE: "pve:execute", Tier.FULL: "pve:admin"}


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    """A fresh bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One accepted token, known only by its digest."""

    name: str
    digest: bytes
    tier: Tier
    nodes: frozenset[str] | None = None
    vmids: VmidRanges | None = None

    def grant(self, server_tier: Tier) -> Grant:
        """The caller's grant; its tier never above the server's."""
        return Grant(self.name, min(self.tier, server_tier), self.nodes, self.vmids)


@dataclass(frozen=True, slots=True)
class Identity:
    """What a presented credential turned out to be: a grant, or why not (`problem` is safe to show)."""

    grant: Grant | None
    scopes: tuple[str, ...] = ()
    expires_at: int | None = None
    subject: str | None = None
    claims: dict[str, Any] | None = None
    fingerprint: str = ""  # stands for the credential where the SDK wants one; never the credential itself
    problem: str | None = None
    insufficient_scope: bool = False

    @classmethod
    def refused(cls, problem: str, *, insufficient_scope: bool = False) -> Identity:
        return cls(None, problem=problem, insufficient_scope=insufficient_scope)


@dataclass(slots=True)
class TokenAuthenticator:
    """Looks a bearer token up by its SHA-256 among the configured entries."""

    entries: Iterable[TokenEntry]
    server_tier: Tier
    _by_digest: dict[bytes, Grant] = field(init=False)

    def __post_init__(self) -> None:
        self._by_digest = {entry.digest: entry.grant(self.server_tier) for entry in self.entries}

    async def grant_for(self, token: str) -> Grant | None:
        return self._by_digest.get(token_digest(token))

    async def identify(self, token: str) -> Identity:
        digest = token_digest(token)
        grant = self._by_digest.get(digest)
        if grant is None:
            return Identity.refused("unknown bearer token")
        return Identity(grant, scopes=(TIER_SCOPES[grant.tier],), fingerprint="sha256:" + digest.hex()[:16])

    def known_grants(self) -> list[Grant]:
        return list(self._by_digest.values())


def single_token_entry(token: str) -> TokenEntry:
    """MCP_AUTH_TOKEN: caller "token", the server's own tier (capped later like any entry)."""
    return TokenEntry(SINGLE_TOKEN_CALLER, token_digest(token), Tier.FULL)


def load_tokens_file(path: Path) -> tuple[tuple[TokenEntry, ...], list[str]]:
    """The entries of MCP_AUTH_TOKENS_FILE and every problem found in it.

    The file holds digests, not tokens, so its mode is not checked; like a secret file it must be a regular
    file of bounded size, so that a FIFO or device named by mistake cannot hang start-up.
    """
    where = f"MCP_AUTH_TOKENS_FILE {str(path)!r}"
    problems: list[str] = []
    found = read_small_file("MCP_AUTH_TOKENS_FILE", str(path), problems, max_bytes=MAX_TOKENS_FILE)
    if found is None:
        return (), problems
    try:
        text = found[0].decode("utf-8")
    except UnicodeDecodeError:
        return (), [f"{where} is not UTF-8 text"]
    return parse_tokens(text, where)


def parse_tokens(text: str, where: str) -> tuple[tuple[TokenEntry, ...], list[str]]:
    problems: list[str] = []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return (), [f"{where} is not valid TOML: {exc}"]
    for key in sorted(set(data) - {"tokens"}):
        problems.append(f"{where}: unknown top-level key {key!r} (entries go in [[tokens]] tables)")
    raw = data.get("tokens")
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where} has no [[tokens]] entries")
        return (), problems
    entries: list[TokenEntry] = []
    names: dict[str, int] = {}
    digests: dict[str, int] = {}
    for number, item in enumerate(raw, start=1):
        label = f"{where}: token #{number}"
        if not isinstance(item, dict):
            problems.append(f"{label} is not a table")
            continue
        if isinstance(item.get("name"), str):
            label = f"{label} ({item['name']!r})"
        name, sha = item.get("name"), item.get("sha256")
        if isinstance(name, str) and name in names:
            problems.append(f"{label}: name repeats token #{names[name]}; each name must be unique")
        if isinstance(sha, str) and sha.lower() in digests:
            problems.append(f"{label}: sha256 repeats token #{digests[sha.lower()]}; each token must be unique")
        if isinstance(name, str):
            names.setdefault(name, number)
        if isinstance(sha, str):
            digests.setdefault(sha.lower(), number)
        entry = _entry(item, label, problems)
        if entry is not None:
            entries.append(entry)
    return tuple(entries), problems


def _entry(item: Mapping[str, Any], label: str, problems: list[str]) -> TokenEntry | None:
    before = len(problems)
    for key in sorted(set(item) - set(ENTRY_KEYS)):
        problems.append(f"{label}: unknown key {key!r} (known: {', '.join(ENTRY_KEYS)})")
    name, sha, tier_text = item.get("name"), item.get("sha256"), item.get("tier")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{label}: name must be 1-64 letters, digits or . _ @ : + - (starting with a letter or digit)")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        problems.append(f"{label}: sha256 must be 64 hex digits (the SHA-256 of the token; see `pvemcp token new`)")
    tier = Tier.READ_ONLY
    try:
        tier = Tier.parse(tier_text) if isinstance(tier_text, str) else Tier.parse("")
    except ValueError:
        problems.append(f"{label}: tier must be one of {', '.join(Tier.labels())}")
    nodes_text: str | None = None
    if "nodes" in item:
        raw_nodes = item["nodes"]
        if not isinstance(raw_nodes, list) or not all(isinstance(n, str) and n.strip() for n in raw_nodes):
            problems.append(f'{label}: nodes must be a list of node names, e.g. ["pve1", "pve2"]')
        elif not raw_nodes:
            problems.append(f"{label}: nodes is empty, which allows no node; leave it out to allow every node")
        else:
            nodes_text = ",".join(n.strip() for n in raw_nodes)
    vmids_text: str | None = None
    if "vmids" in item:
        raw_vmids = item["vmids"]
        if isinstance(raw_vmids, int) and not isinstance(raw_vmids, bool):
            raw_vmids = str(raw_vmids)
        if not isinstance(raw_vmids, str) or not raw_vmids.strip():
            problems.append(f'{label}: vmids must be a string of VMIDs and ranges, e.g. "100-199,300"')
        else:
            vmids_text = raw_vmids
    scope, scope_problems = parse_scope(nodes_text, vmids_text, None)
    for problem in scope_problems:
        problems.append(
            f"{label}: " + problem.replace("PVE_ALLOWED_NODES", "nodes").replace("PVE_ALLOWED_VMIDS", "vmids")
        )
    if len(problems) > before:
        return None
    assert isinstance(name, str) and isinstance(sha, str)
    return TokenEntry(name, bytes.fromhex(sha), tier, scope.nodes, scope.vmids)


def entry_toml(name: str, token: str, tier: Tier, nodes: list[str] | None = None, vmids: str | None = None) -> str:
    """The [[tokens]] table that accepts `token` (only its hash is written)."""
    lines = [
        "[[tokens]]",
        f"name = {_toml_string(name)}",
        f'sha256 = "{token_digest(token).hex()}"',
        f'tier = "{tier.label}"',
    ]
    if nodes:
        lines.append("nodes = [" + ", ".join(_toml_string(n) for n in nodes) + "]")
    if vmids:
        lines.append(f"vmids = {_toml_string(vmids)}")
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
