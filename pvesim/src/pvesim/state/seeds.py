"""What a fresh cluster holds beyond its nodes, guests and storage contents: people and ACLs,
a replication job, the nightly backup job, a firewall and an HA-managed VM, all without randomness,
so other seeded data stays the same whatever is added here."""

from __future__ import annotations

from .access import Group
from .admin import ReplicationJob
from .backup import Archive
from .cluster import ClusterState
from .firewall import Alias, IPSet, IPSetEntry, Rule, verify_rule
from .ha import HaRule, sid_of
from .records import Acl, Guest, Token, User


def seed_access(state: ClusterState, now: float) -> None:
    """A few people, groups, tokens and ACL entries, as a small team's cluster has them (no randomness)."""
    access = state.access
    for groupid, comment in (
        ("admins", "Cluster administrators"),
        ("operators", "Day-to-day VM operations"),
        ("auditors", "Read-only monitoring"),
    ):
        access.groups[groupid] = Group(groupid, comment)
    people = (
        ("alice@pve", "Alice", "Martin", "admins", 1, 0, ""),
        ("bob@pve", "Bob", "Keller", "operators", 1, 0, ""),
        ("carol@pve", "Carol", "Nguyen", "auditors", 1, 0, "Monitoring service account"),
        ("dave@pve", "Dave", "Okafor", "operators", 0, int(now) - 30 * 86_400, "Left the team"),
    )
    for userid, first, last, group, enable, expire, comment in people:
        if userid in state.users:  # the simulator's own token owner keeps its record
            continue
        email = f"{first.lower()}@example.com"
        state.users[userid] = User(userid, enable, expire, comment, email=email, firstname=first, lastname=last)
        access.groups[group].members.append(userid)
    for full_id, comment in (("alice@pve!automation", "CI pipeline"), ("carol@pve!grafana", "Dashboards")):
        state.tokens.setdefault(
            full_id, Token(full_id, access.new_secret(state.cluster_name, full_id), privsep=1, comment=comment)
        )
    state.acls.extend(
        [
            Acl("/", "admins", "group", "Administrator"),
            Acl("/", "auditors", "group", "PVEAuditor"),
            Acl("/vms", "operators", "group", "PVEVMUser"),
            Acl("/pool/production", "bob@pve", "user", "PVEVMAdmin"),
            Acl("/storage/local", "bob@pve", "user", "PVEDatastoreUser", propagate=0),
            Acl("/", "carol@pve!grafana", "token", "PVEAuditor"),
            Acl("/vms", "alice@pve!automation", "token", "PVEVMAdmin"),
        ]
    )


def seed_admin(state: ClusterState) -> None:
    """One replication job, as a small cluster often has: the first VM to the next node."""
    nodes = list(state.nodes)
    first = next((g for g in sorted(state.guests.values(), key=lambda g: g.vmid) if not g.template), None)
    if first is None or len(nodes) < 2:
        return
    target = nodes[(nodes.index(first.node) + 1) % len(nodes)]
    job = ReplicationJob(first.vmid, 0, target, first.node, comment="nightly standby copy")
    state.admin.replication[job.id] = job


def seed_backups(state: ClusterState) -> None:
    """The nightly job whose archives and logs the content seeding created, and what they hold."""
    backups = state.backup
    vmids: set[int] = set()
    for volumes in state.volumes.values():
        for volume in volumes:
            guest = state.guests.get(volume.vmid or 0)
            if volume.content == "backup" and guest is not None:
                backups.archives[volume.volid] = Archive(guest.type, guest.config.as_dict())
                vmids.add(guest.vmid)
    job_id = backups.new_job_id()
    backups.jobs[job_id] = {
        "id": job_id,
        "type": "vzdump",
        "schedule": "01:00",
        "storage": "nfs-backup",
        "vmid": ",".join(str(v) for v in sorted(vmids)),
        "mode": "snapshot",
        "compress": "zstd",
        "enabled": 1,
        "mailnotification": "failure",
        "notes-template": "{{guestname}}",
        "comment": "nightly",
    }


def _rule(kind: str, action: str, comment: str, **extra: str | int) -> Rule:
    return {"type": kind, "action": action, "enable": 1, "comment": comment, **extra}


def seed_firewall(state: ClusterState) -> None:
    """A firewall as a small production cluster has it; no randomness, so other seeded data is unaffected."""
    fw = state.firewall
    block = ".".join(next(iter(state.nodes.values())).ip.split(".")[:3]) if state.nodes else "192.0.2"
    fw.options.update(enable=1, policy_in="DROP", policy_out="ACCEPT", log_ratelimit="enable=1,burst=5,rate=1/second")
    for alias in (
        Alias("mgmt_net", f"{block}.0/24", "Management network"),
        Alias("backup_server", "192.0.2.200", "NFS backup target"),
        Alias("monitoring", "198.51.100.10", "Prometheus scraper"),
    ):
        fw.aliases[alias.name.lower()] = alias
    fw.ipsets["management"] = IPSet(
        "management", "Hosts allowed to reach the GUI and SSH", [IPSetEntry(f"{block}.0/24", "Admin LAN")]
    )
    fw.ipsets["blocklist"] = IPSet(
        "blocklist", "Addresses dropped everywhere", [IPSetEntry("203.0.113.66"), IPSetEntry("203.0.113.99")]
    )
    fw.group_comments["webserver"] = "HTTP and HTTPS from anywhere"
    fw.groups["webserver"] = [
        _rule("in", "ACCEPT", "Web traffic", macro="HTTPS"),
        _rule("in", "ACCEPT", "", macro="HTTP"),
    ]
    fw.rules.extend(
        [
            _rule("in", "DROP", "Known bad actors", source="+blocklist", log="info"),
            _rule("in", "ACCEPT", "GUI and API", source="+management", proto="tcp", dport="8006"),
            _rule("in", "ACCEPT", "SSH from management", source="+management", macro="SSH"),
            _rule("in", "ACCEPT", "Node exporter", source="monitoring", proto="tcp", dport="9100"),
            _rule("in", "ACCEPT", "Ping", macro="Ping"),
        ]
    )
    for guest in sorted(state.guests.values(), key=lambda g: g.vmid):
        tags = str(guest.config.get("tags", "")).split(";")
        rules = [_rule("in", "ACCEPT", "SSH from management", source="+management", macro="SSH")]
        if "web" in tags:
            rules.insert(0, _rule("group", "webserver", "Public web"))
        if "db" in tags:
            rules.append(_rule("in", "ACCEPT", "PostgreSQL from app tier", source="mgmt_net", macro="PostgreSQL"))
        if "dns" in tags:
            rules.append(_rule("in", "ACCEPT", "DNS", macro="DNS"))
        for rule in rules:
            verify_rule(rule, fw, "vm")
        fw.rules_of(guest.vmid, guest).extend(rules)
        if "web" in tags or "db" in tags:  # the public-facing and data tiers have their firewall switched on
            options = fw.options_of(guest.vmid, guest)
            options["enable"] = 1
            if "db" in tags:
                options["log_level_in"] = "info"
    for rule in fw.rules:
        verify_rule(rule, fw, "cluster")
    for name in state.nodes:
        fw.node_options[name] = {"enable": 1, "log_level_in": "nolog", "nf_conntrack_max": 262144}
        fw.node_rules[name] = [
            _rule(
                "in", "ACCEPT", "Corosync from the cluster network", source="mgmt_net", proto="udp", dport="5405:5412"
            ),
            _rule(
                "in",
                "ACCEPT",
                "Ceph and migration from the cluster network",
                source="mgmt_net",
                proto="tcp",
                dport="60000:60050",
            ),
        ]
        for rule in fw.node_rules[name]:
            verify_rule(rule, fw, "host")


def seed_ha(state: ClusterState) -> None:
    """One HA-managed VM on the second node, kept there by a node-affinity rule, as a small cluster has."""
    nodes = list(state.nodes)
    candidates = [g for g in managed_candidates(state) if len(nodes) > 1 and g.node == nodes[1]]
    if not candidates:
        return
    guest = candidates[-1]
    guest.hastate = "started"
    state.ha.of(guest).comment = "front end"
    preferred = f"{nodes[1]}:2,{nodes[0]}:1"
    rule = HaRule("keep-web", "node-affinity", (sid_of(guest),), nodes=preferred, comment="prefer its home node")
    state.ha.rules[rule.rule] = rule


def managed_candidates(state: ClusterState) -> list[Guest]:
    """Running QEMU VMs, by VMID: what an admin would put under HA."""
    guests = (g for g in state.guests.values() if g.type == "qemu" and g.running and not g.template)
    return sorted(guests, key=lambda g: g.vmid)
