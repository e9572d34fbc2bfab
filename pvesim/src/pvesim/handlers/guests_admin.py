"""Guest lifecycle: create (or restore), destroy, clone and migrate QEMU VMs and LXC containers.

Like PVE, checks that need no lock fail the request; the rest fail the task. A created or
cloned guest exists at once with a 'create'/'clone' lock that its task lifts when done.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ApiError, fail, param_error
from ..params import Param
from ..routes import Call, Route
from ..state.guest_disks import (
    DISK_KEY,
    disks,
    find_volume,
    free_volumes,
    is_cdrom,
    move_volumes,
    new_disk,
    new_uuid,
    profile_for,
    split_prop,
    storage_for,
    with_mac,
)
from ..state.metrics import GIB, parse_size
from ..state.records import Guest, GuestConfig, GuestType, Task, Volume
from .guest_options import (
    CLONE_LXC,
    CLONE_QEMU,
    CREATE_LXC,
    CREATE_QEMU,
    DELETE_LXC,
    DELETE_QEMU,
    MIGRATE_LXC,
    MIGRATE_QEMU,
)
from .migration import ha_migrate

KindHandler = Callable[[Call, GuestType], object]
NOUN: dict[GuestType, str] = {"qemu": "VM", "lxc": "CT"}
CREATE_ONLY = ("start", "pool", "storage", "archive", "bwlimit", "ha-managed", "import-working-storage")
NOT_CONFIG = frozenset((*CREATE_ONLY, "node", "vmid", "live-restore", "unique", "force", "restore"))
NOT_CONFIG_LXC = NOT_CONFIG | {"ostemplate", "password", "ssh-public-keys", "ignore-unpack-errors"}
OSTYPES = ("debian", "ubuntu", "alpine", "centos", "fedora")


def fork(c: Call, kind: str, vmid: int, action: Callable[[Task], str | None]) -> str:
    """Start a worker for the guest, serialised with its other tasks like PVE's config lock.
    A check that fails inside the worker ends the task with PVE's message."""

    def guarded(task: Task) -> str | None:
        try:
            return action(task)
        except ApiError as error:
            return error.message.strip()

    return c.ctx.runner.start(c.node, kind, str(vmid), c.ctx.user, action=guarded, lock=f"vm/{vmid}").upid


def still(c: Call, guest: Guest) -> str | None:
    """A task's error when its guest vanished or moved while it waited."""
    if c.state.guests.get(guest.vmid) is not guest:
        where = "qemu-server" if guest.type == "qemu" else "lxc"
        return f"Configuration file 'nodes/{guest.node}/{where}/{guest.vmid}.conf' does not exist"
    return None


def check_unused(c: Call, vmid: int, emsg: str) -> None:
    other = c.state.guests.get(vmid)
    if other is not None:
        raise fail(f"{emsg} {NOUN[other.type]} {vmid} already exists on node '{other.node}'")


def check_pool(c: Call) -> str | None:
    pool = c.opt_text("pool")
    if pool is not None and pool not in c.state.pools:
        raise param_error({"pool": f"pool '{pool}' does not exist"})
    return pool


def boot_now(c: Call, guest: Guest, at: float) -> None:
    guest.status = "running"
    guest.started_at = at
    guest.pid = c.state.nodes[guest.node].new_pid()


def _config_from(c: Call, kind: GuestType, skip: frozenset[str]) -> dict[str, str | int | float]:
    return {k: v for k, v in c.params.items() if k not in skip}


def _qemu_defaults(vmid: int, config: dict[str, str | int | float], now: float) -> None:
    """What qm create adds: a boot order (first disk, CD-ROMs, NICs), smbios uuid, vmgenid, meta."""
    if "boot" not in config:
        drives = [k for k in sorted(config) if DISK_KEY.match(k)]
        order = [k for k in drives if not is_cdrom(k, config[k])][:1]
        order += [k for k in drives if is_cdrom(k, config[k])] + [k for k in sorted(config) if k.startswith("net")]
        if order:
            config["boot"] = "order=" + ";".join(order)
    config.setdefault("smbios1", f"uuid={new_uuid(vmid, 'smbios')}")
    config.setdefault("vmgenid", new_uuid(vmid, "vmgenid"))
    config["meta"] = f"creation-qemu=10.1.2,ctime={int(now)}"


def create(c: Call, kind: GuestType) -> object:
    restoring = c.opt_text("archive") is not None if kind == "qemu" else c.flag("restore")
    if restoring:
        return restore(c, kind)
    node, vmid = c.text("node"), c.integer("vmid")
    emsg = f"unable to create {NOUN[kind]} {vmid} -"
    pool = check_pool(c)
    config = _config_from(c, kind, NOT_CONFIG if kind == "qemu" else NOT_CONFIG_LXC)
    if kind == "lxc":
        template = c.text("ostemplate")
        storage = c.state.storages.get(template.split(":", 1)[0])
        if storage is None or find_volume(c.state, template, node) is None:
            raise fail(f"volume '{template}' does not exist")
        config.setdefault("rootfs", f"{c.opt_text('storage') or 'local'}:4")
        config.setdefault("ostype", next((os for os in OSTYPES if f"vztmpl/{os}" in template), "unmanaged"))
        config.setdefault("arch", "amd64")
    check_unused(c, vmid, emsg)
    try:
        for key in sorted(config):
            if key.startswith("net"):
                config[key] = with_mac(kind, vmid, key, str(config[key]))
            elif DISK_KEY.match(key):
                config[key] = new_disk(c.state, key, str(config[key]), node, vmid, kind)
    except ApiError:
        drop_volumes(c, vmid)  # PVE frees the disks it allocated before the failure
        raise
    if kind == "qemu":
        _qemu_defaults(vmid, config, c.now)
    guest = Guest(vmid, kind, node, GuestConfig(dict(sorted(config.items()))), profile_for(vmid), lock="create")
    guest.pool = pool
    c.state.guests[vmid] = guest
    start = c.flag("start")

    def done(task: Task) -> str | None:
        if (gone := still(c, guest)) is not None:
            return gone
        guest.lock = None
        if start:
            boot_now(c, guest, task.end_at)
        return None

    return fork(c, "qmcreate" if kind == "qemu" else "vzcreate", vmid, done)


def restore(c: Call, kind: GuestType) -> object:
    """A backup archive becomes the guest: its config as backed up, disks allocated anew."""
    node, vmid = c.text("node"), c.integer("vmid")
    archive = c.text("archive" if kind == "qemu" else "ostemplate")
    emsg = f"unable to restore {NOUN[kind]} {vmid} -"
    volume = _backup(c, archive, node)
    record = c.state.backup.archives.get(archive)
    if (record.kind if record else volume.subtype or kind) != kind:
        raise fail(f"{emsg} archive '{archive}' holds a {'container' if kind == 'qemu' else 'VM'}, not a {NOUN[kind]}")
    pool = check_pool(c)
    old = c.state.guests.get(vmid)
    if old is not None:
        if not c.flag("force"):
            check_unused(c, vmid, emsg)
        if old.running:
            raise fail(f"{emsg} {'vm' if kind == 'qemu' else 'container'} is running")
    name_key = "name" if kind == "qemu" else "hostname"
    config = dict(record.config) if record else {name_key: volume.notes or f"restored-{vmid}"}
    config = {k: v for k, v in config.items() if k not in ("parent", "lock")}
    config.update(_config_from(c, kind, NOT_CONFIG if kind == "qemu" else NOT_CONFIG_LXC))
    target = c.opt_text("storage")
    unique = c.flag("unique")
    start = c.flag("start")

    def done(task: Task) -> str | None:
        current = c.state.guests.get(vmid)
        if current is not None:
            if current is not old or current.running:
                return f"{emsg} {NOUN[kind]} {vmid} already exists on node '{current.node}'"
            free_volumes(c.state, current, unreferenced=True)
        for key, volid, opts in list(disks(config)):
            storeid = target or volid.split(":", 1)[0]
            size = f"{_gib(opts.get('size', '8G')):g}"
            config[key] = new_disk(c.state, key, f"{storeid}:{size},{_opts(opts)}", node, vmid, kind)
        for key in [k for k in config if k.startswith("net")]:
            if unique:
                config[key] = with_mac(kind, vmid, key, _strip_mac(kind, str(config[key])))
        guest = Guest(vmid, kind, node, GuestConfig(dict(sorted(config.items()))), profile_for(vmid))
        guest.pool = pool
        c.state.guests[vmid] = guest
        if start:
            boot_now(c, guest, task.end_at)
        return None

    return fork(c, "qmrestore" if kind == "qemu" else "vzrestore", vmid, done)


def drop_volumes(c: Call, vmid: int) -> None:
    for volumes in c.state.volumes.values():
        volumes[:] = [v for v in volumes if v.vmid != vmid or v.content not in ("images", "rootdir")]


def _backup(c: Call, archive: str, node: str) -> Volume:
    volume = find_volume(c.state, archive, node)
    if volume is None or volume.content != "backup":
        raise fail(f"volume '{archive}' does not exist")
    return volume


def _gib(size: str) -> float:
    return parse_size(size) / GIB


def is_local(c: Call, volid: str) -> bool:
    storage = c.state.storages.get(volid.split(":", 1)[0])
    return storage is None or not storage.shared


def _strip_mac(kind: GuestType, value: str) -> str:
    head, opts = split_prop(value)
    if kind == "qemu":
        model = head.split("=", 1)[0] or next(iter(opts), "virtio")
        opts.pop(model, None)
        return ",".join([model, *(f"{k}={v}" for k, v in opts.items())])
    opts.pop("hwaddr", None)
    return ",".join(f"{k}={v}" for k, v in opts.items())


def destroy(c: Call, kind: GuestType) -> object:
    guest = c.guest(kind)
    vmid, noun = guest.vmid, NOUN[kind]
    purge = c.flag("purge")
    if str(guest.config.get("protection", 0)) == "1":
        raise fail(f"can't remove {noun} {vmid} - protection mode enabled")
    if guest.hastate is not None and not purge:
        raise fail(f"unable to remove {noun} {vmid} - used in HA resources and purge parameter not set.")
    jobs = c.state.admin.jobs_of(vmid)
    if jobs and not purge:
        raise fail(f"There is a replication job '{jobs[0].id}' for guest '{vmid}' - Please remove that first.")
    force = kind == "lxc" and c.flag("force")
    if guest.running and not force:
        raise fail(f"VM {vmid} is running - destroy failed" if kind == "qemu" else running_ct(vmid))
    unreferenced = c.flag("destroy-unreferenced-disks")

    def done(task: Task) -> str | None:
        if (gone := still(c, guest)) is not None:
            return gone
        if guest.running and not force:
            return f"VM {vmid} is running - destroy failed" if kind == "qemu" else running_ct(vmid)
        free_volumes(c.state, guest, unreferenced=unreferenced)
        del c.state.guests[vmid]
        c.ctx.rendered.pop(vmid, None)
        if purge:
            purge_references(c, vmid)
        return None

    return fork(c, "qmdestroy" if kind == "qemu" else "vzdestroy", vmid, done)


def purge_references(c: Call, vmid: int) -> None:
    """purge=1: the guest leaves replication and backup jobs; a job left with no guests goes too."""
    for replication in c.state.admin.jobs_of(vmid):
        del c.state.admin.replication[replication.id]
    for job_id, job in list(c.state.backup.jobs.items()):
        for key in ("vmid", "exclude"):
            if key in job:
                job[key] = ",".join(v for v in str(job[key]).split(",") if v and v != str(vmid))
        if not (job.get("vmid") or job.get("exclude") or str(job.get("all", 0)) == "1" or job.get("pool")):
            del c.state.backup.jobs[job_id]


def running_ct(vmid: int) -> str:
    return f"unable to destroy CT {vmid} - container is running"


def clone(c: Call, kind: GuestType) -> object:
    source = c.guest(kind)
    newid, node = c.integer("newid"), source.node
    target = c.opt_text("target") or node
    if target not in c.state.nodes:
        raise fail(f"no such cluster node '{target}'")
    storeid = c.opt_text("storage")
    full = c.flag("full") if "full" in c.params else not source.template
    if storeid is not None and not full:
        raise fail("parameter 'storage' not allowed for linked clones")
    snapname = c.opt_text("snapname")
    snapshots = c.state.admin.of(source).snapshots
    if snapname is not None and snapname not in snapshots:
        raise fail(f"snapshot '{snapname}' does not exist")
    if target != node and any(is_local(c, volid) for _, volid, _ in disks(source.config)):
        raise fail(f"can't clone VM to node '{target}' (VM uses local storage)")
    if not full and not source.template:
        key = next((k for k, _, _ in disks(source.config)), "rootfs")
        raise fail(f"Linked clone feature is not supported for drive '{key}'")
    if kind == "qemu" and newid in c.state.guests:
        raise fail(f"unable to create VM {newid}: config file already exists")
    check_unused(c, newid, f"unable to create CT {newid} -")
    pool = check_pool(c)
    base = snapshots[snapname].config if snapname else source.config.as_dict()
    config = {k: v for k, v in base.items() if k not in ("parent", "lock", "template") and not k.startswith("unused")}
    name_key = "name" if kind == "qemu" else "hostname"
    config[name_key] = c.opt_text(name_key) or (
        f"Copy-of-VM-{source.name}" if kind == "qemu" else str(config.get("hostname", source.name))
    )
    if c.opt_text("description") is not None:
        config["description"] = c.text("description")
    for key in [k for k in config if k.startswith("net")]:
        config[key] = with_mac(kind, newid, key, _strip_mac(kind, str(config[key])))
    if kind == "qemu":
        config["smbios1"] = f"uuid={new_uuid(newid, 'smbios')}"
        config["vmgenid"] = new_uuid(newid, "vmgenid")
    clone_disks = list(disks(config))
    for _, volid, _ in clone_disks:
        storage_for(c.state, storeid or volid.split(":", 1)[0], target, kind)
    guest = Guest(newid, kind, target, GuestConfig(dict(sorted(config.items()))), profile_for(newid), lock="clone")
    guest.pool = pool
    c.state.guests[newid] = guest

    def done(task: Task) -> str | None:
        if c.state.guests.get(newid) is not guest:
            return f"unable to create VM {newid}: config file already exists"
        for key, volid, opts in clone_disks:
            size_gib = _gib(opts.get("size", "0"))
            dest = storeid or volid.split(":", 1)[0]
            guest.config[key] = new_disk(c.state, key, f"{dest}:{size_gib:g},{_opts(opts)}", target, newid, kind)
        guest.lock = None
        return None

    return fork(c, "qmclone" if kind == "qemu" else "vzclone", source.vmid, done)


def _opts(opts: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in opts.items() if k != "size")


def migrate(c: Call, kind: GuestType) -> object:
    guest = c.guest(kind)
    vmid, source, target = guest.vmid, guest.node, c.text("target")
    if target == source:
        raise param_error({"target": "target is local node."})
    node = c.state.nodes.get(target)
    if node is None:
        raise fail(f"no such cluster node '{target}'")
    online, restart = c.flag("online"), c.flag("restart")
    if guest.running:
        if kind == "qemu" and not online:
            raise fail("can't migrate running VM without --online")
        if kind == "lxc" and not (online or restart):
            raise fail("can't migrate running container without --online or --restart")
    mapping = _storage_map(c.opt_text("targetstorage" if kind == "qemu" else "target-storage"))
    for storeid in set(mapping.values()):
        storage_for(c.state, storeid, target, kind)
    if guest.hastate not in (None, "ignored"):
        return ha_migrate(c, guest, target)
    was_running = guest.running
    guest.lock = "migrate"

    def done(task: Task) -> str | None:
        if (gone := still(c, guest)) is not None:
            return gone
        guest.lock = None
        if guest.running and kind == "lxc" and online and not restart:
            return "lxc live migration is currently not implemented"
        local = [volid for _, volid, _ in disks(guest.config) if is_local(c, volid)]
        if guest.running and kind == "qemu" and local and not c.flag("with-local-disks"):
            return "can't live migrate attached local disks without with-local-disks option"
        if not node.online:
            return f"migration aborted: node '{target}' is not online"
        move_volumes(c.state, guest, target, mapping)
        guest.node = target
        if was_running and guest.running:
            guest.pid = node.new_pid()
        return None

    return fork(c, "qmigrate" if kind == "qemu" else "vzmigrate", vmid, done)


def _storage_map(text_value: str | None) -> dict[str, str]:
    """storage-pair-list: 'dest' maps every storage, 'src:dest,...' one by one ('1' keeps them)."""
    if not text_value or text_value == "1":
        return {}
    mapping: dict[str, str] = {}
    for item in text_value.replace(";", ",").split(","):
        src, sep, dest = item.partition(":")
        mapping[src if sep else ""] = dest if sep else src
    return mapping


def pair(method: str, path: str, handler: KindHandler, qemu: tuple[Param, ...], lxc: tuple[Param, ...]) -> list[Route]:
    """The QEMU and the LXC route of one endpoint ('{kind}' in the path), each with its parameters."""

    def bind(kind: GuestType) -> Route:
        params = qemu if kind == "qemu" else lxc
        return Route(method, path.replace("{kind}", kind), params, lambda c: handler(c, kind))

    return [bind("qemu"), bind("lxc")]


ROUTES: tuple[Route, ...] = (
    *pair("POST", "/nodes/{node}/{kind}", create, CREATE_QEMU, CREATE_LXC),
    *pair("DELETE", "/nodes/{node}/{kind}/{vmid}", destroy, DELETE_QEMU, DELETE_LXC),
    *pair("POST", "/nodes/{node}/{kind}/{vmid}/clone", clone, CLONE_QEMU, CLONE_LXC),
    *pair("POST", "/nodes/{node}/{kind}/{vmid}/migrate", migrate, MIGRATE_QEMU, MIGRATE_LXC),
)
