"""What users install: server.json agrees with pyproject and pvemcp's settings; built packages hold what they must,
for pvemcp and for the simulator it depends on, pvesim.

The checks on built packages run inside `make dist`, which sets PVEMCP_DIST_DIR to the fresh dist/; elsewhere
they skip, since building needs the network.
"""

from __future__ import annotations

import email
import email.message
import json
import os
import re
import tarfile
import tomllib
import zipfile
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from packaging.requirements import Requirement

from pvemcp import __version__
from pvemcp.catalog.spec import Module, Tier
from pvemcp.config import ConfigError, load_config
from pvemcp.config.table import BY_NAME
from pvesim import __version__ as pvesim_version

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "src" / "pvemcp"
SIM_ROOT = ROOT / "pvesim"
DIST_DIR = os.environ.get("PVEMCP_DIST_DIR", "")
REGISTRY_DESCRIPTION_MAX = 100  # the MCP Registry refuses longer descriptions
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$")  # the registry's reverse-DNS server name
# Nothing private, generated or foreign may ship: virtualenvs, caches, the test suite and its fixtures, the
# reference API schema, config files, keys and audit logs.
FORBIDDEN_DIRS = {".venv", ".git", "tests", "shared", "pve-api", "__pycache__", ".pvemcp", ".vscode"}
FORBIDDEN_DIRS |= {".mypy_cache", ".ruff_cache", ".pytest_cache", "bench", "docs"}
FORBIDDEN_NAMES = ["*.pyc", "*.pem", "*.key", "*.crt", "id_rsa*", "id_ed25519*", "*_ed25519*", "known_hosts"]
FORBIDDEN_NAMES += [".env", "*.jsonl", "config.toml", ".mcp.json", "endpoints.json", "*.sqlite"]
MAX_UNPACKED_BYTES = 5_000_000  # a copied data set would blow well past this

needs_dist = pytest.mark.skipif(not DIST_DIR, reason="checks the packages `make dist` builds (PVEMCP_DIST_DIR)")


def project(root: Path = ROOT) -> dict[str, Any]:
    with (root / "pyproject.toml").open("rb") as handle:
        table: dict[str, Any] = tomllib.load(handle)["project"]
    return table


def server() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "server.json").read_text())
    return document


def pypi_package() -> dict[str, Any]:
    packages: list[dict[str, Any]] = [p for p in server()["packages"] if p["registryType"] == "pypi"]
    assert len(packages) == 1, "server.json must list the PyPI package exactly once"
    return packages[0]


def environment() -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in pypi_package()["environmentVariables"]}


# server.json, kept in step


def test_server_json_names_this_version_of_the_pypi_package() -> None:
    document, package = server(), pypi_package()
    assert document["$schema"].startswith("https://static.modelcontextprotocol.io/schemas/")
    assert document["version"] == __version__
    assert package["identifier"] == project()["name"]
    assert package["version"] == __version__
    assert package["registryBaseUrl"] == "https://pypi.org"
    assert package["transport"] == {"type": "stdio"}
    # The client runs `pvemcp run`: the bare command only prints help.
    assert [arg["value"] for arg in package["packageArguments"]] == ["run"]


def test_server_json_description_is_pyprojects_and_fits_the_registry() -> None:
    description = server()["description"]
    assert description == project()["description"]
    assert 0 < len(description) <= REGISTRY_DESCRIPTION_MAX


def test_server_name_owner_is_one_placeholder_used_everywhere() -> None:
    """The registry name's owner appears in the repository URLs and the README's ownership marker; all agree."""
    name = server()["name"]
    assert NAME_PATTERN.match(name), name
    namespace, _, server_name = name.partition("/")
    assert server_name == project()["name"]
    assert namespace.startswith("io.github.")
    owner = namespace.removeprefix("io.github.")
    repository = f"https://github.com/{owner}/{server_name}"
    assert server()["repository"] == {"url": repository, "source": "github"}
    assert project()["urls"]["Source"] == repository
    # PyPI ownership proof for the registry: this exact line in the package description (the README).
    assert f"mcp-name: {name}" in (ROOT / "README.md").read_text()


def test_server_json_variables_are_pvemcp_settings() -> None:
    variables = [var["name"] for var in pypi_package()["environmentVariables"]]
    assert len(variables) == len(set(variables))
    unknown = [name for name in variables if name not in BY_NAME]
    assert not unknown, f"server.json names variables pvemcp does not read: {unknown}"
    for name in variables:
        assert environment()[name].get("description"), f"{name} needs a description"


def test_secret_settings_and_only_they_are_marked_secret() -> None:
    for name, var in environment().items():
        assert var.get("isSecret", False) is BY_NAME[name].secret, name
    assert environment()["PROXMOX_TOKEN_SECRET"]["isSecret"] is True


@pytest.fixture(autouse=True)
def _no_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_config also reads the process environment: a developer's PROXMOX_* must not leak into these checks."""
    for name in BY_NAME:
        monkeypatch.delenv(name, raising=False)


def test_choices_and_defaults_are_pvemcps(tmp_path: Path) -> None:
    variables = environment()
    assert variables["PVE_ACCESS_TIER"]["choices"] == Tier.labels()
    assert variables["PVE_MODULE_MODE"]["choices"] == [module.value for module in Module]
    config = load_config(required_settings(tmp_path))
    assert variables["PVE_ACCESS_TIER"]["default"] == config.policy.tier.label
    assert variables["PVE_MODULE_MODE"]["default"] == config.policy.module.value
    assert config.target is not None
    assert config.target.base_url.endswith(":" + variables["PROXMOX_PORT"]["default"])
    assert variables["PROXMOX_ALLOW_INSECURE_TLS"]["default"] == str(config.target.tls.insecure).lower()


def required_settings(tmp_path: Path) -> dict[str, str]:
    """Values for exactly the variables server.json marks required, in an environment with no config file."""
    values = {"PROXMOX_HOST": "pve1.example.lan", "PROXMOX_TOKEN_SECRET": "0f0e0d0c-0b0a-0908-0706-050403020100"}
    isolated = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    isolated["XDG_STATE_HOME"] = str(tmp_path / "state")
    required = [name for name, var in environment().items() if var.get("isRequired")]
    return isolated | {name: values.get(name, "mcp") for name in required}


def test_the_required_variables_are_enough_and_each_is_needed(tmp_path: Path) -> None:
    environ = required_settings(tmp_path)
    assert load_config(environ).target is not None
    required = [name for name, var in environment().items() if var.get("isRequired")]
    core = {"PROXMOX_HOST", "PROXMOX_USER", "PROXMOX_REALM", "PROXMOX_TOKEN_NAME", "PROXMOX_TOKEN_SECRET"}
    assert set(required) == core
    for name in required:
        with pytest.raises(ConfigError) as raised:
            load_config({k: v for k, v in environ.items() if k != name})
        assert any(name in problem for problem in raised.value.problems), (name, raised.value.problems)


# The built packages (make dist)


def built(suffix: str, name: str = "pvemcp", version: str = __version__) -> Path:
    found = sorted(Path(DIST_DIR).glob(f"{name}-*{suffix}"))
    assert [path.name for path in found] == [f"{name}-{version}{suffix}"], found
    return found[0]


def source_files(package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Every file of the package in the working tree, relative to its src/: all of it must ship."""
    files = {p for p in package_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    return {p.relative_to(package_dir.parent).as_posix() for p in files if p.suffix in {".py", ".typed", ".html"}}


def forbidden(names: list[str]) -> list[str]:
    def bad(name: str) -> bool:
        path = PurePosixPath(name)
        return bool(FORBIDDEN_DIRS & set(path.parts[:-1])) or any(fnmatch(path.name, p) for p in FORBIDDEN_NAMES)

    return [name for name in names if bad(name)]


@needs_dist
def test_sdist_holds_what_a_build_needs_and_nothing_private() -> None:
    with tarfile.open(built(".tar.gz")) as archive:
        members = [m for m in archive.getmembers() if m.isfile()]
    root = f"pvemcp-{__version__}/"
    assert all(m.name.startswith(root) for m in members)
    names = [m.name.removeprefix(root) for m in members]
    assert {"PKG-INFO", "pyproject.toml", "README.md"} <= set(names)
    missing = sorted(source_files() - {n.removeprefix("src/") for n in names if n.startswith("src/")})
    assert not missing, f"the sdist lacks: {missing}"
    assert not forbidden(names), f"the sdist must not hold: {forbidden(names)}"
    assert sum(m.size for m in members) < MAX_UNPACKED_BYTES


@needs_dist
def test_wheel_holds_the_typed_package_and_its_command() -> None:
    with zipfile.ZipFile(built("-py3-none-any.whl")) as archive:
        names = archive.namelist()
        info = f"pvemcp-{__version__}.dist-info/"
        metadata = email.message_from_bytes(archive.read(info + "METADATA"))
        entry_points = archive.read(info + "entry_points.txt").decode()
        unpacked = sum(item.file_size for item in archive.infolist())
    assert "pvemcp/py.typed" in names
    missing = sorted(source_files() - set(names))
    assert not missing, f"the wheel lacks: {missing}"
    assert all(name.startswith(("pvemcp/", info)) for name in names)
    assert not [name for name in names if name.startswith("pvemcp/sim/")], "the simulator ships as pvesim"
    assert not forbidden(names), f"the wheel must not hold: {forbidden(names)}"
    assert unpacked < MAX_UNPACKED_BYTES
    assert re.search(r"^pvemcp = pvemcp\.cli\.main:main$", entry_points, re.MULTILINE)
    check_metadata(metadata)


def check_metadata(metadata: email.message.Message) -> None:
    assert metadata["Name"] == "pvemcp"
    assert metadata["Version"] == __version__
    assert metadata["Summary"] == project()["description"]
    assert metadata["License-Expression"] == project()["license"]
    assert metadata["Requires-Python"] == project()["requires-python"]
    runtime = {str(Requirement(r)) for r in metadata.get_all("Requires-Dist", []) if "extra ==" not in r}
    assert runtime == {str(Requirement(r)) for r in project()["dependencies"]}
    assert f"mcp-name: {server()['name']}" in str(metadata.get_payload())


# pvesim, the simulated cluster, built beside pvemcp


@needs_dist
def test_pvesim_sdist_holds_what_a_build_needs_and_no_tests() -> None:
    with tarfile.open(built(".tar.gz", "pvesim", pvesim_version)) as archive:
        members = [m for m in archive.getmembers() if m.isfile()]
    root = f"pvesim-{pvesim_version}/"
    assert all(m.name.startswith(root) for m in members)
    names = [m.name.removeprefix(root) for m in members]
    assert {"PKG-INFO", "pyproject.toml", "README.md", "LICENSE", "ENDPOINTS.md"} <= set(names)
    sources = source_files(SIM_ROOT / "src" / "pvesim")
    missing = sorted(sources - {n.removeprefix("src/") for n in names if n.startswith("src/")})
    assert not missing, f"the sdist lacks: {missing}"
    assert not forbidden(names), f"the sdist must not hold: {forbidden(names)}"
    assert sum(m.size for m in members) < MAX_UNPACKED_BYTES


@needs_dist
def test_pvesim_wheel_holds_the_typed_package_its_command_and_its_readme() -> None:
    with zipfile.ZipFile(built("-py3-none-any.whl", "pvesim", pvesim_version)) as archive:
        names = archive.namelist()
        info = f"pvesim-{pvesim_version}.dist-info/"
        metadata = email.message_from_bytes(archive.read(info + "METADATA"))
        entry_points = archive.read(info + "entry_points.txt").decode()
    assert "pvesim/py.typed" in names
    assert "pvesim/__main__.py" in names
    missing = sorted(source_files(SIM_ROOT / "src" / "pvesim") - set(names))
    assert not missing, f"the wheel lacks: {missing}"
    assert all(name.startswith(("pvesim/", info)) for name in names)
    assert not forbidden(names), f"the wheel must not hold: {forbidden(names)}"
    assert re.search(r"^pvesim = pvesim\.cli:main$", entry_points, re.MULTILINE)
    sim = project(SIM_ROOT)
    assert metadata["Name"] == "pvesim"
    assert metadata["Version"] == pvesim_version
    assert metadata["Summary"] == sim["description"]
    assert metadata["License-Expression"] == sim["license"]
    runtime = {str(Requirement(r)) for r in metadata.get_all("Requires-Dist", []) if "extra ==" not in r}
    assert runtime == {str(Requirement(r)) for r in sim["dependencies"]}
    assert metadata["Description-Content-Type"] == "text/markdown"
    body = metadata.get_payload(decode=True)  # the README as UTF-8 bytes: "…" and the like survive
    assert isinstance(body, bytes) and body.decode().strip() == (SIM_ROOT / "README.md").read_text().strip()


def test_pvemcp_depends_on_exactly_this_pvesim() -> None:
    pinned = [Requirement(r) for r in project()["dependencies"] if Requirement(r).name == "pvesim"]
    assert [str(r.specifier) for r in pinned] == [f"=={pvesim_version}"]
    assert project(SIM_ROOT)["name"] == "pvesim"
