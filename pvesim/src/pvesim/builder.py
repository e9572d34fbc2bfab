"""Build a deterministic cluster from a seed: nodes, guests, storages, content, pools, users.

Every choice comes from one ``random.Random(seed)`` consumed in a fixed order, so the
same knobs always give the same cluster. Past tasks are seeded by ``history``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from .content import seed_content
from .history import seed_history
from .state.access import BUILTIN_ROLES
from .state.cluster import ClusterState
from .state.metrics import GIB, MIB
from .state.network import seed_networks
from .state.records import Acl, Guest, GuestConfig, GuestProfile, GuestType, Node, Pool, Storage, Token, User
from .state.scheduler import seed_runs
from .state.seeds import seed_access, seed_admin, seed_backups, seed_firewall, seed_ha

QEMU_NAMES = (
    ("web-01", "prod;web"),
    ("web-02", "prod;web"),
    ("db-01", "db;prod"),
    ("db-02", "db;prod"),
    ("app-01", "prod"),
    ("cache-01", "prod"),
    ("mail-01", ""),
    ("ci-runner-01", "ci"),
    ("monitor-01", "infra"),
)
QEMU_ROLES = (("web", "prod;web"), ("app", "prod"), ("db", "db;prod"), ("worker", ""), ("build", "ci"))
LXC_NAMES = (
    ("ct-dns", "dns;infra"),
    ("ct-proxy", "infra"),
    ("ct-ntp", "infra"),
    ("ct-monitor", "infra"),
    ("ct-log", ""),
    ("ct-redis", "prod"),
)
LXC_ROLES = (("ct-web", "prod;web"), ("ct-dns", "dns;infra"), ("ct-log", ""), ("ct-redis", "prod"))
TEMPLATE_NAME = "tpl-debian-13"
HARDWARE = (
    ("AMD EPYC 7302P 16-Core Processor", 1, 16, 32, "3000.000"),
    ("Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz", 2, 16, 64, "2400.000"),
    ("AMD Ryzen 9 7950X 16-Core Processor", 1, 16, 32, "4500.000"),
    ("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", 2, 32, 128, "2000.000"),
)
ADDRESS_BLOCKS = ("192.0.2", "198.51.100", "203.0.113")
DAY = 86_400
# The sandbox's published credentials: a fixed, well-known secret that guards nothing real.
DEFAULT_SECRET = "5e1f3b5c-0d7a-4c2e-9f4b-8a6d2c1e7b90"  # noqa: S105
DEFAULT_TOKEN = "root@pam!pvemcp"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Spec:
    """The knobs of a simulated cluster."""

    nodes: int = 3
    guests: int = 16
    seed: int = 0
    token_id: str = DEFAULT_TOKEN
    token_secret: str = DEFAULT_SECRET


def build(spec: Spec, now: float) -> ClusterState:
    if not 1 <= spec.nodes <= 240 * len(ADDRESS_BLOCKS):
        raise ValueError("nodes must be between 1 and 720")
    if spec.guests < 0:
        raise ValueError("guests must not be negative")
    rng = random.Random(spec.seed)
    nodes = {node.name: node for node in (_node(rng, i, now) for i in range(spec.nodes))}
    state = ClusterState(
        cluster_name="sim-cluster" if spec.nodes > 1 else "",
        local_node="pve1",
        nodes=nodes,
        guests={},
        storages={},
        volumes={},
        pools={"production": Pool("production", "Customer-facing services")},
        roles=dict(BUILTIN_ROLES),
    )
    _guests(state, rng, spec.guests, now)
    _storages(state, rng, now)
    owner = spec.token_id.split("!", 1)[0]
    state.users[owner] = User(owner, comment="Superuser" if owner == "root@pam" else "")
    state.tokens[spec.token_id] = Token(spec.token_id, spec.token_secret, privsep=0, comment="pvemcp")
    state.acls.append(Acl("/", owner, "user", "Administrator"))
    seed_access(state, now)
    seed_firewall(state)
    return state


def _node(rng: random.Random, i: int, now: float) -> Node:
    model, sockets, cores, cpus, mhz = rng.choice(HARDWARE)
    block, host = ADDRESS_BLOCKS[i // 240], 10 + i % 240
    return Node(
        name=f"pve{i + 1}",
        nodeid=i + 1,
        ip=f"{block}.{host}",
        boot_time=now - rng.uniform(5, 60) * DAY,
        cpu_model=model,
        sockets=sockets,
        cores=cores,
        cpus=cpus,
        mhz=mhz,
        mem_total=rng.choice((128, 256, 384)) * GIB - rng.randrange(1, 4) * 256 * MIB,
        swap_total=8 * GIB,
        rootfs_total=100_861_726_720,
        ssl_fingerprint=":".join(f"{rng.randrange(256):02X}" for _ in range(32)),
        cpu_base=rng.uniform(0.02, 0.25),
        mem_frac=rng.uniform(0.35, 0.7),
        rootfs_frac=rng.uniform(0.08, 0.3),
        phase=rng.uniform(0, 6.28),
        next_pid=rng.randrange(0x4000, 0x9000),
    )


def _names(kind: GuestType, count: int) -> list[tuple[str, str]]:
    fixed, roles = (QEMU_NAMES, QEMU_ROLES) if kind == "qemu" else (LXC_NAMES, LXC_ROLES)
    names = list(fixed[:count])
    seen = {role: 1 for role, _ in roles}
    while len(names) < count:
        role, tags = roles[len(names) % len(roles)]
        seen[role] += 1
        names.append((f"{role}-{seen[role]:03d}", tags))
    return names


def _guests(state: ClusterState, rng: random.Random, total: int, now: float) -> None:
    nqemu = (total * 10 + 8) // 16
    nlxc = total - nqemu
    node_list = list(state.nodes.values())
    qemu_names = _names("qemu", nqemu)
    if nqemu >= 2:
        qemu_names[-1] = (TEMPLATE_NAME, "")
    for i, (name, tags) in enumerate(qemu_names):
        template = nqemu >= 2 and i == nqemu - 1
        status = "stopped" if template or i % 8 in (3, 7) else "running"
        node = node_list[i % len(node_list)]
        _add_guest(state, rng, node, 100 + i, "qemu", name, tags, status, template, now)
        if i == 5 and status == "running":
            state.guests[100 + i].paused = True
    first_ct = max(200, -(-(100 + nqemu) // 100) * 100)
    for j, (name, tags) in enumerate(_names("lxc", nlxc)):
        status = "stopped" if j % 3 == 2 else "running"
        node = node_list[(j + 1) % len(node_list)]
        _add_guest(state, rng, node, first_ct + j, "lxc", name, tags, status, False, now)


def _mac(rng: random.Random) -> str:
    return "BC:24:11:" + ":".join(f"{rng.randrange(256):02X}" for _ in range(3))


def _add_guest(
    state: ClusterState,
    rng: random.Random,
    node: Node,
    vmid: int,
    kind: GuestType,
    name: str,
    tags: str,
    status: str,
    template: bool,
    now: float,
) -> None:
    cores = rng.choice((1, 2, 2, 4, 4, 8)) if kind == "qemu" else rng.choice((1, 1, 2, 4))
    memory = rng.choice((1024, 2048, 4096, 4096, 8192, 16384)) if kind == "qemu" else rng.choice((256, 512, 1024))
    disk = rng.choice((16, 32, 32, 64, 128)) if kind == "qemu" else rng.choice((4, 8, 8, 16))
    mac = _mac(rng)
    onboot = status == "running" and rng.random() < 0.85
    ctime = int(node.boot_time - rng.uniform(10, 400) * DAY)
    config: dict[str, str | int | float] = {}
    if kind == "qemu":
        prefix = "base" if template else "vm"
        config.update(
            agent="1",
            boot="order=scsi0;ide2;net0",
            cores=cores,
            cpu="x86-64-v2-AES",
            ide2="none,media=cdrom",
            memory=str(memory),
            meta=f"creation-qemu=10.1.2,ctime={ctime}",
            name=name,
            net0=f"virtio={mac},bridge=vmbr0,firewall=1",
            numa=0,
            ostype="l26",
            scsi0=f"local-lvm:{prefix}-{vmid}-disk-0,iothread=1,size={disk}G",
            scsihw="virtio-scsi-single",
            smbios1=f"uuid={uuid.UUID(int=rng.getrandbits(128), version=4)}",
            sockets=1,
            vmgenid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        )
        if template:  # a cloud-init template, as most are
            config.update(template=1, ciuser="debian", ipconfig0="ip=dhcp")
    else:
        config.update(
            arch="amd64",
            cores=cores,
            features="nesting=1",
            hostname=name,
            memory=memory,
            net0=f"name=eth0,bridge=vmbr0,firewall=1,hwaddr={mac},ip=dhcp,ip6=auto,type=veth",
            ostype="debian",
            rootfs=f"local-lvm:vm-{vmid}-disk-0,size={disk}G",
            swap=512,
            unprivileged=1,
        )
    if onboot:
        config["onboot"] = 1
    if tags:
        config["tags"] = tags
    profile = GuestProfile.draw(rng)
    guest = Guest(vmid, kind, node.name, GuestConfig(dict(sorted(config.items()))), profile, status)
    if status == "running":
        since_boot = rng.uniform(30, 600) if onboot else rng.uniform(0.5, 4) * DAY
        guest.started_at = min(node.boot_time + since_boot, now - 60)
        guest.pid = node.new_pid()
    if "prod" in tags.split(";"):
        guest.pool = "production"
    state.guests[vmid] = guest


def _storages(state: ClusterState, rng: random.Random, now: float) -> None:
    local = Storage("local", "dir", ("backup", "iso", "vztmpl"), False, {"path": "/var/lib/vz"}, 0)
    lvm = Storage("local-lvm", "lvmthin", ("images", "rootdir"), False, {"thinpool": "data", "vgname": "pve"}, 0)
    nfs = Storage(
        "nfs-backup",
        "nfs",
        ("backup",),
        True,
        {
            "export": "/export/pve-backup",
            "options": "vers=4.2",
            "path": "/mnt/pve/nfs-backup",
            "prune-backups": "keep-daily=7,keep-weekly=4",
            "server": "192.0.2.200",
        },
        4 * 1024 * GIB,
    )
    for storage in (local, lvm, nfs):
        state.storages[storage.storage] = storage
    state.pools["production"].storages.append("nfs-backup")
    seed_content(state, rng, now)
    seed_history(state, rng, now)
    seed_admin(state)
    seed_runs(state, now)
    seed_ha(state)
    state.networks = seed_networks((node.name, node.ip) for node in state.nodes.values())
    seed_backups(state)
