"""Ceph reads (PVE::API2::Ceph and PVE::API2::Cluster::Ceph): status, OSD tree, pools, monitors, flags.

Every route first runs PVE's check_ceph_inited on the node that would run the command (the path's
node, or the node answering for /cluster/ceph), so a node without Ceph answers in PVE's words.
"""

from __future__ import annotations

from ..errors import fail
from ..params import NODE
from ..routes import Call, Route
from ..state.ceph import BASE_FLAGS, FLAGS, FSID, OSD_BYTES, VERSION, VERSION_TEXT, CephState, Osd

PG_BYTES_SEC = (1_284_096, 3_911_680, 41, 187)  # read, write bytes/s and ops/s: a quiet, steady cluster


def _ceph(c: Call, node: str | None = None) -> CephState:
    ceph = c.state.ceph
    problem = ceph.error(node or c.state.local_node)
    if problem is not None:
        raise fail(problem)
    return ceph


def _osd_used(ceph: CephState, osds: list[Osd]) -> int:
    active = [osd for osd in osds if osd.up and osd.inside]
    return ceph.raw_used() // max(1, len(active))


def status(c: Call) -> object:
    """`ceph status --format json` as PVE passes it on (Ceph's own true/false included)."""
    node = c.opt_text("node")
    ceph = _ceph(c, node)
    state = c.state
    overall, checks = ceph.health(state.nodes)
    osds = ceph.osds(state.nodes)
    hosts, quorum = ceph.hosts(state.nodes), ceph.quorum(state.nodes)
    total = OSD_BYTES * len(osds)
    used = min(total, ceph.raw_used())
    pgs = sum(pool.pg_num for pool in ceph.pools)
    degraded = any(not osd.up for osd in osds)
    pg_state = "active+undersized+degraded" if degraded else "active+clean"
    now = int(c.now)
    return {
        "fsid": FSID,
        "health": {
            "status": overall,
            "checks": {
                name: {
                    "severity": check.severity,
                    "summary": {"message": check.message, "count": check.count},
                    "muted": False,
                }
                for name, check in checks.items()
            },
            "mutes": [],
        },
        "election_epoch": 12 + 2 * (len(hosts) - len(quorum)),
        "quorum": [hosts.index(name) for name in quorum],
        "quorum_names": quorum,
        "quorum_age": 86_400,
        "monmap": {"epoch": 3, "min_mon_release_name": "squid", "num_mons": len(hosts)},
        "osdmap": {
            "epoch": 120 + len(ceph.down) + len(ceph.out),
            "num_osds": len(osds),
            "num_up_osds": sum(osd.up for osd in osds),
            "osd_up_since": now - 86_400,
            "num_in_osds": sum(osd.inside for osd in osds),
            "osd_in_since": now - 86_400,
            "num_remapped_pgs": 0,
        },
        "pgmap": {
            "pgs_by_state": [{"state_name": pg_state, "count": pgs}],
            "num_pgs": pgs,
            "num_pools": len(ceph.pools),
            "num_objects": sum(pool.objects for pool in ceph.pools),
            "data_bytes": sum(pool.stored for pool in ceph.pools),
            "bytes_used": used,
            "bytes_avail": total - used,
            "bytes_total": total,
            "read_bytes_sec": PG_BYTES_SEC[0],
            "write_bytes_sec": PG_BYTES_SEC[1],
            "read_op_per_sec": PG_BYTES_SEC[2],
            "write_op_per_sec": PG_BYTES_SEC[3],
        },
        "fsmap": {"epoch": 1, "by_rank": [], "up:standby": 0},
        "mgrmap": {
            "available": bool(quorum),
            "num_standbys": max(0, len(quorum) - 1),
            "modules": ["iostat", "nfs", "restful"],
            "services": {},
        },
        "servicemap": {"epoch": 5, "modified": "2025-11-20T09:12:44.000000+0000", "services": {}},
        "progress_events": {},
    }


def osd_index(c: Call) -> object:
    """The CRUSH tree: root 'default', one host per Ceph node, its OSDs as leaves; and the OSD map flags."""
    ceph = _ceph(c, c.text("node"))
    osds = ceph.osds(c.state.nodes)
    used = _osd_used(ceph, osds)
    hosts: list[dict[str, object]] = []
    for index, host in enumerate(ceph.hosts(c.state.nodes)):
        children = [_osd(osd, used if osd.up and osd.inside else 0) for osd in osds if osd.host == host]
        hosts.append(
            {"id": -3 - 2 * index, "name": host, "type": "host", "leaf": 0, "version": VERSION, "children": children}
        )
    root = {"id": -1, "name": "default", "type": "root", "leaf": 0, "children": hosts}
    return {"root": root, "flags": ",".join((*sorted(ceph.flags), *BASE_FLAGS))}


def _osd(osd: Osd, used: int) -> dict[str, object]:
    return {
        "id": osd.id,
        "name": f"osd.{osd.id}",
        "type": "osd",
        "host": osd.host,
        "status": "up" if osd.up else "down",
        "in": int(osd.inside),
        "crush_weight": 0.87329,
        "reweight": 1 if osd.inside else 0,
        "device_class": "ssd",
        "osdtype": "bluestore",
        "blfsdev": "/dev/nvme0n1" if osd.id % 2 == 0 else "/dev/nvme1n1",
        "total_space": OSD_BYTES,
        "bytes_used": used,
        "percent_used": round(used * 100 / OSD_BYTES, 2),
        "commit_latency_ms": 1 if osd.up else 0,
        "apply_latency_ms": 1 if osd.up else 0,
        "leaf": 1,
        "ceph_version": VERSION_TEXT,
        "ceph_version_short": VERSION,
    }


def pool_index(c: Call) -> object:
    """lspools: each pool's settings and usage, as `ceph df` and the autoscaler report them."""
    ceph = _ceph(c, c.text("node"))
    osds = [osd for osd in ceph.osds(c.state.nodes) if osd.up and osd.inside]
    avail = max(0, OSD_BYTES * len(osds) - ceph.raw_used())
    pools: list[dict[str, object]] = []
    for pool in ceph.pools:
        used = pool.stored * pool.size
        max_avail = avail // pool.size
        pools.append(
            {
                "pool": pool.id,
                "pool_name": pool.name,
                "type": "replicated",
                "size": pool.size,
                "min_size": pool.min_size,
                "pg_num": pool.pg_num,
                "pg_num_min": 1 if pool.name == ".mgr" else 32,
                "pg_num_final": pool.pg_num,
                "pg_autoscale_mode": pool.autoscale,
                "crush_rule": 0,
                "crush_rule_name": "replicated_rule",
                "bytes_used": used,
                "percent_used": round(used / (used + max_avail), 6) if used + max_avail else 0.0,
                "application_metadata": {pool.application: {}},
                "autoscale_status": {
                    "pool_name": pool.name,
                    "pg_num_target": pool.pg_num,
                    "actual_raw_used": float(used),
                    "raw_used_rate": float(pool.size),
                    "would_adjust": False,
                },
            }
        )
    return pools


def mon_index(c: Call) -> object:
    """Every monitor of the cluster (one per Ceph node), wherever the list is asked for."""
    ceph = _ceph(c, c.text("node"))
    quorum = ceph.quorum(c.state.nodes)
    mons: list[dict[str, object]] = []
    for rank, host in enumerate(ceph.hosts(c.state.nodes)):
        node = c.state.nodes[host]
        mon: dict[str, object] = {"name": host, "rank": rank, "addr": f"{node.ip}:6789/0", "service": 1}
        if host in quorum:
            mon |= {"quorum": 1, "state": "running", "ceph_version": VERSION_TEXT, "ceph_version_short": VERSION}
        else:
            mon["state"] = "stopped"
        mons.append(mon)
    return mons


def flags(c: Call) -> object:
    ceph = _ceph(c)
    return [{"name": name, "description": text, "value": int(name in ceph.flags)} for name, text in FLAGS.items()]


ROUTES = (
    Route("GET", "/cluster/ceph/status", (), status),
    Route("GET", "/cluster/ceph/flags", (), flags),
    Route("GET", "/nodes/{node}/ceph/status", (NODE,), status),
    Route("GET", "/nodes/{node}/ceph/osd", (NODE,), osd_index),
    Route("GET", "/nodes/{node}/ceph/pool", (NODE,), pool_index),
    Route("GET", "/nodes/{node}/ceph/mon", (NODE,), mon_index),
)
