"""Build deploy/Containerfile with podman and run what it built, on this machine, and say why not where it can't.

The base image comes from PVEMCP_IMAGE_BASE when set, else from the registry (python:3.11-slim-bookworm), else,
where no registry can be reached, it is built here from Debian's packages with debootstrap: python3 and its
venv module on bookworm, trusting the CA certificates this machine trusts (so pip reaches PyPI through the
same TLS proxy as the host does). Whatever this module builds or pulls, it removes again.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
REGISTRY_BASE = "docker.io/library/python:3.11-slim-bookworm"
DEBIAN_MIRROR = os.environ.get("PVEMCP_DEBIAN_MIRROR", "http://deb.debian.org/debian")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PYTHON = "/opt/pvemcp/venv/bin/python"


class UnavailableError(Exception):
    """This machine cannot do it; the message says why (the test skips with it)."""


def podman() -> str:
    found = shutil.which("podman")
    if found is None:
        raise UnavailableError("podman is not installed (Debian packages podman, runc; .ci/run installs them)")
    return found


def run(argv: Sequence[str], *, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} … exited {result.returncode}:\n{tail(result.stderr)}")
    return result


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def image_exists(name: str) -> bool:
    return run([podman(), "image", "exists", name], check=False).returncode == 0


def remove_image(name: str) -> None:
    run([podman(), "rmi", "--force", name], check=False)


@contextmanager
def base_image(work: Path) -> Iterator[str]:
    """A base image for the Containerfile's PYTHON_IMAGE; removed afterwards when this made or pulled it."""
    given = os.environ.get("PVEMCP_IMAGE_BASE")
    if given:
        yield given
        return
    had = image_exists(REGISTRY_BASE)
    if had or run([podman(), "pull", "--quiet", REGISTRY_BASE], timeout=300, check=False).returncode == 0:
        try:
            yield REGISTRY_BASE
        finally:
            if not had:
                remove_image(REGISTRY_BASE)
        return
    name = f"localhost/pvemcp-test-base:{secrets.token_hex(4)}"
    debian_base(work / "rootfs", name)
    try:
        yield name
    finally:
        remove_image(name)


def debian_base(rootfs: Path, name: str) -> None:
    """Debian bookworm with python3 and python3-venv, from the Debian mirror, imported as image `name`."""
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).is_file():
        raise UnavailableError(
            f"no registry reachable for {REGISTRY_BASE} and debootstrap is not installed to build a base from"
            " Debian's packages (Debian package debootstrap)"
        )
    if os.geteuid() != 0:
        raise UnavailableError(f"no registry reachable for {REGISTRY_BASE}; debootstrap needs root to build a base")
    packages = "python3,python3-venv,ca-certificates"
    argv = [debootstrap, "--variant=minbase", f"--include={packages}", "bookworm", str(rootfs), DEBIAN_MIRROR]
    result = run(argv, timeout=900, check=False)
    if result.returncode != 0:
        output = tail(result.stdout + result.stderr)
        raise UnavailableError(f"debootstrap could not build a Debian base here:\n{output}")
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        shutil.rmtree(rootfs / leftover, ignore_errors=True)
    if HOST_CA_BUNDLE.is_file():
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
    archive = rootfs.parent / "rootfs.tar"
    run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."], timeout=300)
    shutil.rmtree(rootfs)
    changes = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 'CMD ["python3"]']
    run([podman(), "import", *(f"--change={c}" for c in changes), str(archive), name], timeout=300)
    archive.unlink()


def build(base: str, tag: str, log: Path) -> None:
    """deploy/Containerfile from the repository's root; --format docker keeps the HEALTHCHECK."""
    argv = [podman(), "build", "--isolation", "chroot", "--format", "docker", "--layers=false", "--pull=never"]
    argv += ["--file", str(CONTAINERFILE), "--build-arg", f"PYTHON_IMAGE={base}", "--tag", tag, str(ROOT)]
    result = run(argv, timeout=1800, check=False)
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"podman build failed (log: {log}):\n{tail(result.stdout + result.stderr)}")


def run_options(image: str) -> list[str]:
    """The fewest `podman run` options under which a container starts here.

    Where the runtime may not raise a resource limit past this process's own (a container or VM without
    CAP_SYS_RESOURCE), podman's defaults fail: the limits are then given as they are here. crun also refuses a
    cgroup v2 hierarchy that holds controllers beside v1 ones (hybrid), which runc accepts.
    """
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text()) if Path("/proc/sys/kernel/pid_max").exists() else 0
    if nproc == resource.RLIM_INFINITY or (pid_max and nproc > pid_max):
        nproc = pid_max or 32768
    limits = ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]
    candidates: list[list[str]] = [[], limits]
    if shutil.which("runc"):
        candidates.append(["--runtime", "runc", *limits])
    failures = []
    for options in candidates:
        argv = [podman(), "run", "--rm", *options, "--entrypoint", PYTHON, image, "-c", "pass"]
        result = run(argv, timeout=120, check=False)
        if result.returncode == 0:
            return options
        failures.append(f"{' '.join(options) or '(no options)'}: {tail(result.stderr, 2)}")
    raise UnavailableError("podman cannot start a container here; tried:\n" + "\n".join(failures))


@dataclass(frozen=True, slots=True)
class Container:
    """A running container: its name, the URL of /mcp on this machine, and the token it requires."""

    name: str
    url: str
    token: str
    options: tuple[str, ...]

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")

    def exec(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run([podman(), "exec", self.name, *argv], timeout=timeout, check=False)


@contextmanager
def serve(image: str, options: Sequence[str], port: int, env: dict[str, str]) -> Iterator[Container]:
    """The image as documented: read-only root (not even a tmpfs), a volume for its state, the MCP token from a
    configuration file mounted read-only (a secret by file), `--sandbox` for the simulated cluster."""
    suffix = secrets.token_hex(4)
    name, volume = f"pvemcp-test-{suffix}", f"pvemcp-test-{suffix}"
    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="pvemcp-image-") as secret_dir:
        config = Path(secret_dir) / "pvemcp.toml"
        config.write_text(f'mcp_auth_token = "{token}"\n')
        if os.geteuid() == 0:
            os.chown(config, 10001, 10001)
            config.chmod(0o600)
        else:  # rootless: the container's user is a mapped ID that cannot own this file
            config.chmod(0o644)
            Path(secret_dir).chmod(0o755)
        argv = [podman(), "run", "--detach", "--name", name, *options, "--read-only", "--read-only-tmpfs=false"]
        argv += ["--volume", f"{volume}:/var/lib/pvemcp", "--publish", f"127.0.0.1:{port}:3000"]
        argv += ["--volume", f"{config}:/run/secrets/pvemcp.toml:ro", "--env", "PVEMCP_CONFIG=/run/secrets/pvemcp.toml"]
        for key, value in env.items():
            argv += ["--env", f"{key}={value}"]
        try:
            run([*argv, image, "--sandbox"], timeout=120)
            yield Container(name, f"http://127.0.0.1:{port}/mcp", token, tuple(options))
        finally:
            run([podman(), "rm", "--force", "--volumes", "--time", "10", name], timeout=60, check=False)
            run([podman(), "volume", "rm", "--force", volume], timeout=60, check=False)


def logs(name: str) -> str:
    result = run([podman(), "logs", name], check=False)
    return result.stdout + result.stderr
