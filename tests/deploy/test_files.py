"""deploy/'s files, checked without building anything: the Containerfile keeps its promises, the build context
stays small, the HEALTHCHECK script knocks where pvemcp listens, the systemd unit passes systemd's own checks
and, with the example env file, makes a configuration pvemcp accepts, and the nginx example is valid nginx.

systemd-analyze (Debian package systemd) and nginx (package nginx) are run when installed; skipped otherwise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

import pvemcp
from pvemcp.catalog.spec import Tier
from pvemcp.config.table import BY_NAME
from pvemcp.http.settings import load_http_config
from pvemcp.http.tokens import entry_toml, new_token
from tests.httpserver import spawn_http

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "pvemcp.service"
NGINX_DIR = DEPLOY / "nginx"


def instructions(containerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    lines = [line for line in containerfile.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage(containerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(containerfile)
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            found |= dict(item.split("=", 1) for item in rest.split())
    return found


def test_the_containerfile_builds_in_one_stage_and_runs_in_another_unprivileged() -> None:
    path = DEPLOY / "Containerfile"
    steps = instructions(path)
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build"), froms
    assert not any(word == "ADD" for word, _ in steps), "COPY only: nothing fetched from a URL at build time"
    final = final_stage(path)
    copies = [rest for word, rest in final if word == "COPY"]
    assert "--from=build /opt/pvemcp/venv /opt/pvemcp/venv" in copies, "the runtime gets the built venv"
    assert not any(rest.startswith(("src", "pvesim", ".")) for rest in copies), "no sources in the runtime"
    users = [rest for word, rest in final if word == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), f"a numeric non-root USER: {users}"
    env = env_of(final)
    volumes = [rest for word, rest in final if word == "VOLUME"]
    assert volumes == ['["/var/lib/pvemcp"]']
    for name in ("HOME", "PVE_AUDIT_LOG", "XDG_STATE_HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR"):
        assert env[name].startswith("/var/lib/pvemcp"), f"{name} writes outside the volume"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["MCP_HOST"] == "0.0.0.0"
    exposed = [rest for word, rest in final if word == "EXPOSE"]
    assert exposed == [env["MCP_PORT"]]
    healthcheck = next(rest for word, rest in final if word == "HEALTHCHECK")
    assert "CMD [" in healthcheck and "python" in healthcheck and "curl" not in healthcheck
    entrypoint = next(rest for word, rest in final if word == "ENTRYPOINT")
    assert entrypoint.endswith('"run", "--transport", "http"]'), entrypoint
    labels = " ".join(rest for word, rest in final if word == "LABEL")
    for key in ("title", "description", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert 'org.opencontainers.image.licenses="MIT"' in labels, "the license pyproject.toml declares"
    assert ("ARG", f"VERSION={pvemcp.__version__}") in final, "the version label follows the package"


def copied_from_context(containerfile: Path) -> set[str]:
    """The sources of the COPY instructions that read the build context (not --from another stage)."""
    sources: set[str] = set()
    for word, rest in instructions(containerfile):
        words = rest.split()
        if word == "COPY" and not any(w.startswith("--from") for w in words):
            sources |= {w.rstrip("/") for w in words[:-1] if not w.startswith("--")}
    return sources


def test_the_build_context_holds_only_what_the_containerfile_copies() -> None:
    """.dockerignore leaves everything out but what is named: no .venv, dist, .git, tests or docs."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "everything is left out unless named"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    sources = copied_from_context(DEPLOY / "Containerfile")
    assert sources <= allowed, f"the Containerfile copies what the context leaves out: {sources - allowed}"
    assert not allowed & {".venv", "dist", ".git", "tests", "docs", "bench"}


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(DEPLOY / "healthcheck.py")]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_the_healthcheck_passes_on_a_serving_pvemcp_and_fails_without_one() -> None:
    with spawn_http({}) as served:
        assert healthcheck({"MCP_HOST": "127.0.0.1", "MCP_PORT": str(served.port)}).returncode == 0
        assert healthcheck({"MCP_HOST": "0.0.0.0", "MCP_PORT": str(served.port)}).returncode == 0, "wildcard"
        port = served.port
    down = healthcheck({"MCP_HOST": "127.0.0.1", "MCP_PORT": str(port)})
    assert down.returncode == 1 and "unhealthy" in down.stderr


# -- the systemd unit -----------------------------------------------------------------------------------------


def unit_settings(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, in order: a unit may repeat a key."""
    found, section = [], ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            found.append((section, key, value))
    return found


def test_the_unit_asks_for_the_sandbox_it_documents() -> None:
    service: dict[str, list[str]] = {}
    for section, key, value in unit_settings(UNIT):
        if section == "Service":
            service.setdefault(key, []).append(value)
    expected = {
        "DynamicUser": "yes",
        "StateDirectory": "pvemcp",
        "ConfigurationDirectory": "pvemcp",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "MemoryDenyWriteExecute": "yes",
        "LockPersonality": "yes",
        "RestrictNamespaces": "yes",
        "RestrictRealtime": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "UMask": "0077",
        "Restart": "on-failure",
        "ExecStart": "/opt/pvemcp/venv/bin/pvemcp run --transport http",
        "EnvironmentFile": "-/etc/pvemcp/pvemcp.env",
    }
    for key, value in expected.items():
        assert service.get(key) == [value], f"{key}={service.get(key)}"
    assert "@system-service" in service["SystemCallFilter"]
    assert "PVE_AUDIT_LOG=%S/pvemcp/audit.jsonl" in service["Environment"]
    assert "PROXMOX_TOKEN_SECRET_FILE=%d/proxmox-token-secret" in service["Environment"]
    assert not any(value.startswith("PROXMOX_TOKEN_SECRET=") for value in service["Environment"])


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return found


def test_systemd_finds_nothing_wrong_with_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` reports unknown keys and bad values (and exits 0 all the same: its output is
    the verdict). The unit's program is not installed here, so its ExecStart points at /bin/true."""
    analyze = systemd_analyze()
    copy = tmp_path / "pvemcp.service"
    copy.write_text(UNIT.read_text().replace("ExecStart=/opt/pvemcp/venv/bin/pvemcp", "ExecStart=/bin/true"))
    verified = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and verified.stdout + verified.stderr == "", verified.stdout + verified.stderr


def test_systemd_rates_the_units_exposure_low() -> None:
    """`systemd-analyze security`: 1.2 of 10 with systemd 252 ("OK"); what is left open is the network."""
    analyze = systemd_analyze()
    argv = [analyze, "security", "--offline=true", "--threshold=15", str(UNIT)]
    rated = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert rated.returncode == 0, rated.stdout[-2000:] + rated.stderr


def env_file(path: Path, *, uncomment: bool = False) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if uncomment and re.match(r"^#[A-Z][A-Z0-9_]*=", line):
            line = line[1:]
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key] = value
    return found


def test_the_unit_and_the_example_env_file_make_a_configuration_pvemcp_accepts(tmp_path: Path) -> None:
    """Every variable of the example is a setting, and with the unit's own Environment= (its %-specifiers as
    systemd fills them) and the two credentials in place, pvemcp starts from them: replicas' lines too."""
    example = env_file(DEPLOY / "pvemcp.env.example", uncomment=True)
    assert not set(example) - set(BY_NAME), f"not settings: {set(example) - set(BY_NAME)}"
    credentials, state, cache = tmp_path / "credentials", tmp_path / "state", tmp_path / "cache"
    credentials.mkdir()
    (credentials / "proxmox-token-secret").write_text("0a1b2c3d-0000-4000-8000-00000000cafe\n")
    (credentials / "tokens.toml").write_text(entry_toml("claude", new_token(), Tier.READ_EXECUTE))
    specifiers = {"%d": str(credentials), "%S": str(state), "%C": str(cache)}
    unit_env = {}
    for section, key, value in unit_settings(UNIT):
        if section == "Service" and key == "Environment":
            name, _, text = value.partition("=")
            for specifier, meaning in specifiers.items():
                text = text.replace(specifier, meaning)
            unit_env[name] = text
    example["MCP_STATE_KEY"] = new_token()
    config = load_http_config({**example, **unit_env})
    assert config.http is not None and config.http.trusted_proxies
    assert str(config.audit_path) == f"{state}/pvemcp/audit.jsonl"


# -- nginx --------------------------------------------------------------------------------------------------


def single_host_upstreams() -> str:
    """The upstreams file docs/deploy.md gives for one pvemcp on the nginx host (its only nginx block)."""
    blocks = re.findall(r"```nginx\n(.*?)```", (ROOT / "docs" / "deploy.md").read_text(), re.DOTALL)
    assert len(blocks) == 1, "docs/deploy.md shows one nginx block: the single-host upstreams"
    return str(blocks[0])


@pytest.mark.parametrize("upstreams", ["three replicas", "one pvemcp"])
def test_the_nginx_example_is_valid_nginx_installed_as_documented(tmp_path: Path, upstreams: str) -> None:
    """deploy/nginx/ laid out as docs/deploy.md says, under a temporary prefix standing for /etc/nginx: the
    site in conf.d/, which nginx.conf includes whole as Debian's does, the rules it includes in pvemcp/; the
    TLS paths at a throwaway certificate; checked by `nginx -t` as this user. The upstreams are the example's
    three replicas, or the one-pvemcp file docs/deploy.md gives."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).is_file():
        pytest.skip("nginx is not installed (Debian package nginx)")
    cert = trustme.CA().issue_cert("pvemcp.example.org")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "pvemcp").mkdir()
    shutil.copy(NGINX_DIR / "pvemcp-proxy.conf", tmp_path / "pvemcp" / "pvemcp-proxy.conf")
    chosen = (
        (NGINX_DIR / "pvemcp-upstreams.conf").read_text() if upstreams == "three replicas" else single_host_upstreams()
    )
    (tmp_path / "pvemcp" / "pvemcp-upstreams.conf").write_text(chosen)
    site = (NGINX_DIR / "pvemcp.conf").read_text().replace("/etc/nginx/", f"{tmp_path}/")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {tmp_path}/cert.pem;", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {tmp_path}/key.pem;", site)
    assert "/etc/" not in site, "every included path was rewritten"
    (tmp_path / "conf.d" / "pvemcp.conf").write_text(site)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = " ".join(f"{kind}_temp_path {tmp_path}/{kind};" for kind in kinds)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; {temp} include {tmp_path}/conf.d/*.conf; }}\n"
    )
    argv = [nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    argv += ["-e", str(tmp_path / "error.log")]
    checked = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr


def directives(text: str) -> list[str]:
    """The lines of an nginx file without comments."""
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def test_the_proxy_rules_stream_and_never_replay_a_tool_call() -> None:
    """SSE passes unbuffered over HTTP/1.1 keep-alive; a request body fits MCP_MAX_BODY_SIZE_BYTES; and a POST
    that reached a replica is never sent to another one (a tool call must not run twice)."""
    text = (NGINX_DIR / "pvemcp-proxy.conf").read_text()
    rules = directives(text)
    for rule in ("proxy_buffering off;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";'):
        assert rule in rules, rule
    body = next(rule for rule in rules if rule.startswith("client_max_body_size"))
    limit = BY_NAME["MCP_MAX_BODY_SIZE_BYTES"].default
    assert isinstance(limit, int) and body == f"client_max_body_size {limit // 1024}k;"
    assert any(rule.startswith("proxy_set_header X-Forwarded-For") for rule in rules)
    server_level = directives(text.split("location", 1)[0])  # a location may say otherwise, for its own reason
    retries = [rule for rule in server_level if rule.startswith("proxy_next_upstream")]
    assert retries and all("non_idempotent" not in rule for rule in retries), retries
