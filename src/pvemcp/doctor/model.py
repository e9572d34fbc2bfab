"""The doctor's vocabulary: a check's verdict, and the context every check shares.

Checks depend on each other (no configuration, no API call; no connection, no token check), but
each may run alone (`--check auth`). So what they share — the configuration, one client, the answer
to GET /version — is computed once, on first use, by whichever check asks first. A check that cannot
run because an earlier step failed raises `BlockedError`, naming that step: the runner reports it as SKIP
when that step's own RED line is on screen, and as RED with that step's fix otherwise, so a failure
is never hidden by `--check`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from pvemcp.config import Config, ConfigError, gather_settings, load_config
from pvemcp.config.origins import Origin, setting_origins
from pvemcp.pve.client import ProxmoxClient, RetryPolicy
from pvemcp.pve.errors import ErrorCode, PveMcpError

# The checks, in the order they run (each module's check_<name>; runner.CHECKS maps them).
CHECK_NAMES = ("config", "reach", "version", "auth", "privileges", "inventory", "ssh", "clients", "selftest")
# The doctor asks once and reports: a retry would only delay the verdict.
NO_RETRY = RetryPolicy(attempts=1)
DOCTOR_TIMEOUT = 10.0


class Status(StrEnum):
    GREEN = "GREEN"
    RED = "RED"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str | None = None  # one line, for RED
    data: dict[str, Any] = field(default_factory=dict)
    copy: tuple[str, ...] = ()  # values in detail or fix meant to be copied: shown whole, never wrapped

    @property
    def passed(self) -> bool:
        return self.status is not Status.RED

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "detail": self.detail,
            "fix": self.fix,
            "data": self.data,
            "copy": list(self.copy),
        }


def green(name: str, detail: str, **data: Any) -> CheckResult:
    return CheckResult(name, Status.GREEN, detail, None, data)


def red(name: str, detail: str, fix: str, **data: Any) -> CheckResult:
    return CheckResult(name, Status.RED, detail, fix, data)


def copyable(result: CheckResult, *values: str) -> CheckResult:
    """The result, with these values of its detail or fix shown whole on lines of their own."""
    return replace(result, copy=tuple(dict.fromkeys((*result.copy, *values))))


def skip(name: str, detail: str, **data: Any) -> CheckResult:
    return CheckResult(name, Status.SKIP, detail, None, data)


class BlockedError(Exception):
    """This check needs a step that failed: `by` names that step's check."""

    def __init__(self, by: str, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.by = by
        self.reason = reason
        self.fix = fix


@dataclass(frozen=True, slots=True)
class Probe:
    """The answer to GET /version: the data, or the classified failure."""

    data: Any = None
    error: PveMcpError | None = None


@dataclass
class DoctorContext:
    environ: Mapping[str, str]
    cwd: Path
    profile: str | None = None
    sandbox: bool = False
    _loaded: bool = False
    _config: Config | None = None
    _problems: list[str] = field(default_factory=list)
    _file: Path | None = None
    _client: ProxmoxClient | None = None
    _probe: Probe | None = None
    _origins: dict[str, Origin] | None = None

    @classmethod
    def from_process(cls, *, profile: str | None, sandbox: bool) -> DoctorContext:
        return cls(environ=dict(os.environ), cwd=Path.cwd(), profile=profile, sandbox=sandbox)

    # -- configuration -------------------------------------------------------------------------------

    def load(self) -> tuple[Config | None, list[str], Path | None]:
        """The configuration as `pvemcp run` would load it here, its problems, and the file it came from."""
        if not self._loaded:
            self._loaded = True
            self._file = gather_settings(self.environ, profile=self.profile, cwd=self.cwd, problems=[])[1]
            try:
                self._config = load_config(self.environ, sandbox=self.sandbox, profile=self.profile, cwd=self.cwd)
            except ConfigError as exc:
                self._problems = list(exc.problems)
        return self._config, self._problems, self._file

    def config(self) -> Config:
        config, problems, _ = self.load()
        if config is None:
            raise BlockedError(
                "config",
                f"the configuration has {len(problems)} problem(s): " + "; ".join(problems),
                "fix the settings named above (`pvemcp doctor --check config` lists them)",
            )
        return config

    def settings(self) -> dict[str, str]:
        """The merged settings text (file under environment), for saying where a value came from."""
        return gather_settings(self.environ, profile=self.profile, cwd=self.cwd, problems=[])[0]

    def origins(self) -> dict[str, Origin]:
        """Where each setting's value came from, so that a fix is made there."""
        if self._origins is None:
            self._origins = setting_origins(self.environ, profile=self.profile, cwd=self.cwd)
        return self._origins

    def origin(self, name: str) -> Origin:
        return self.origins()[name]

    # -- the API -------------------------------------------------------------------------------------

    def client(self) -> ProxmoxClient:
        if self._client is None:
            config = self.config()
            if config.sandbox or config.target is None:
                from pvemcp.compose import sandbox_client

                self._client = sandbox_client()
            else:
                target = config.target
                self._client = ProxmoxClient(
                    target.base_url,
                    target.token,
                    tls=target.tls,
                    timeout=min(target.timeout, DOCTOR_TIMEOUT),
                    retry=NO_RETRY,
                )
        return self._client

    async def probe(self) -> Probe:
        """GET /version, once: every authenticated caller may read it, so it tells reach and auth apart."""
        if self._probe is None:
            try:
                self._probe = Probe(data=await self.client().get("/version"))
            except PveMcpError as exc:
                self._probe = Probe(error=exc)
        return self._probe

    async def api(self) -> ProxmoxClient:
        """The client, once the API has answered with this token; BlockedError by reach or auth otherwise."""
        probe = await self.probe()
        error = probe.error
        if error is not None and error.code is ErrorCode.PROXMOX_AUTH_FAILED:
            raise BlockedError("auth", f"the API refused the token: {error.message.strip()}", error.hint)
        if error is not None and error.status is None:
            raise BlockedError("reach", f"the API was not reached: {error.message}", error.hint)
        if error is not None:
            raise BlockedError("version", f"GET /version failed: {error.message.strip()}", error.hint)
        return self.client()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
