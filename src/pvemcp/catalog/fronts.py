"""The consolidated surface: about twenty tools named for what an admin asks, each a front over catalog operations.

A front's `action` picks one catalog operation; guest actions pick the VM or container operation from the
vmid (or `type` when creating), metrics from `timeframe`. The operation then runs exactly as when called by
its own name: same validation, scope, confirmation, preview, task waiting and audit (server/fronts.py). Every
catalog tool is reachable here; `CANONICAL` says where (tests/test_fronts.py calls each both ways).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pvemcp.catalog.health import HEALTH_SHAPE
from pvemcp.catalog.monitoring import TIMEFRAMES


@dataclass(frozen=True, slots=True)
class Action:
    """One action of a front: a catalog operation, or one per guest type or timeframe."""

    name: str
    ops: Mapping[str, str]  # variant ("" alone; "qemu"/"lxc"; a timeframe; "qemu/week") -> catalog tool name
    by: tuple[str, ...] = ()  # what picks the variant: "type" (the vmid's guest, or the type argument), "timeframe"


@dataclass(frozen=True, slots=True)
class Front:
    name: str
    title: str
    description: str
    actions: tuple[Action, ...]
    shared: tuple[str, ...] = ()  # parameters most actions take, declared in the schema; the rest pass through
    default: str | None = None  # the action taken when none is named
    output_schema: Mapping[str, Any] | None = None  # a front for one question answers in one shape
    meta: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)


def one(name: str, op: str) -> Action:
    return Action(name, MappingProxyType({"": op}))


def typed(name: str, qemu: str, lxc: str) -> Action:
    return Action(name, MappingProxyType({"qemu": qemu, "lxc": lxc}), ("type",))


def metrics(subject: str) -> Action:
    if subject == "node":
        return Action("metrics", {t: f"pve_get_node_metrics_{t}" for t in TIMEFRAMES}, ("timeframe",))
    ops = {f"{k}/{t}": f"pve_get_{k}_metrics_{t}" for k in ("qemu", "lxc") for t in TIMEFRAMES}
    return Action("metrics", MappingProxyType(ops), ("type", "timeframe"))


FRONTS: tuple[Front, ...] = (
    Front(
        "pve_inventory",
        "Find what is on the cluster",
        "Start here: what exists and where. resources: every guest, node and storage in one call (type narrows);"
        " cluster_status: quorum and members.",
        (
            one("resources", "pve_list_cluster_resources"),
            one("nodes", "pve_list_nodes"),
            one("vms", "listVMs"),
            one("containers", "listContainers"),
            one("templates", "pve_list_qemu_templates"),
            one("pools", "pve_list_pools"),
            one("pool", "pve_get_pool"),
            one("next_vmid", "pve_get_next_vmid"),
            one("not_backed_up", "pve_list_cluster_backup_info"),
            one("usage", "pve_get_cluster_metrics_overview"),
            one("cluster_status", "pve_get_cluster_status"),
            one("cluster_options", "pve_get_cluster_options"),
        ),
        default="resources",
    ),
    Front(
        "pve_health",
        "Is the cluster healthy",
        "Quorum, nodes, Ceph, HA, replication, failed tasks, full storage, subscriptions and certificates in one"
        " call: findings worst first, each naming the call to look closer.",
        (one("check", "pve_cluster_health"),),
        default="check",
        output_schema=HEALTH_SHAPE,
    ),
    Front(
        "pve_guest",
        "Look at a VM or container",
        "Reads about one guest (VM or container: the vmid says which). diagnose: why it is down or slow, in one"
        " call. preflight: whether and how it can migrate. metrics: chart=true adds a PNG chart. Its firewall:"
        " pve_firewall action guest.",
        (
            typed("status", "pve_get_qemu_status", "pve_get_lxc_status"),
            typed("config", "pve_get_qemu_config", "pve_get_lxc_config"),
            typed("pending", "pve_get_qemu_pending_config", "pve_get_lxc_pending_config"),
            typed("snapshots", "pve_list_qemu_snapshots", "pve_list_lxc_snapshots"),
            metrics("guest"),
            one("diagnose", "pve_diagnose_guest"),
            one("preflight", "pve_migration_preflight"),
            one("agent_info", "pve_get_qemu_agent_info"),
            one("agent_network", "pve_get_qemu_agent_network"),
            one("agent_os", "pve_get_qemu_agent_osinfo"),
            one("agent_fs", "pve_get_qemu_agent_fsinfo"),
            one("agent_users", "pve_get_qemu_agent_users"),
            one("agent_time", "pve_get_qemu_agent_time"),
            one("file_read", "pve_qemu_agent_file_read"),
            one("exec_status", "pve_get_qemu_guest_exec_status"),
            one("cloudinit", "pve_get_qemu_cloudinit"),
            one("cloudinit_dump", "pve_get_qemu_cloudinit_dump"),
        ),
        shared=("vmid", "node"),
        default="status",
    ),
    Front(
        "pve_guest_power",
        "Start, stop or restart a guest",
        "Power a VM or container (the vmid says which). stop, reset and suspend cut the guest off at once;"
        " shutdown asks it to.",
        (
            typed("start", "pve_start_qemu_vm", "pve_start_lxc_container"),
            typed("shutdown", "pve_shutdown_qemu_vm", "pve_shutdown_lxc_container"),
            typed("stop", "pve_stop_qemu_vm", "pve_stop_lxc_container"),
            typed("reboot", "pve_reboot_qemu_vm", "pve_reboot_lxc_container"),
            one("reset", "pve_reset_qemu_vm"),
            typed("suspend", "pve_suspend_qemu_vm", "pve_suspend_lxc_container"),
            typed("resume", "pve_resume_qemu_vm", "pve_resume_lxc_container"),
        ),
        shared=("vmid", "node"),
    ),
    Front(
        "pve_snapshot",
        "Take, roll back or delete a snapshot",
        "Snapshots of a VM or container (the vmid says which); list them with pve_guest action snapshots.",
        (
            typed("create", "pve_qemu_create_snapshot", "pve_lxc_create_snapshot"),
            typed("rollback", "pve_qemu_rollback_snapshot", "pve_lxc_rollback_snapshot"),
            typed("delete", "pve_qemu_delete_snapshot", "pve_lxc_delete_snapshot"),
        ),
        shared=("vmid", "node", "snapname"),
    ),
    Front(
        "pve_guest_lifecycle",
        "Create, clone, migrate, change or delete a guest",
        "create needs type (qemu: VM, lxc: container); the others take the vmid. migrate checks first"
        " (pve_guest action preflight shows the same): an HA-managed guest moves with pve_ha action migrate.",
        (
            typed("create", "pve_qemu_create", "pve_lxc_create"),
            typed("clone", "pve_qemu_clone", "pve_lxc_clone"),
            typed("migrate", "pve_qemu_migrate", "pve_lxc_migrate"),
            typed("configure", "pve_qemu_update_config", "pve_lxc_update_config"),
            one("resize_disk", "pve_qemu_resize_disk"),
            one("move_disk", "pve_qemu_move_disk"),
            one("unlink_disk", "pve_qemu_unlink_disk"),
            one("template", "pve_create_qemu_template"),
            one("cloudinit_set", "pve_set_qemu_cloudinit"),
            one("cloudinit_regenerate", "pve_regenerate_qemu_cloudinit"),
            one("exec", "pve_exec_qemu_guest_command"),
            one("agent_ping", "pve_qemu_agent_ping"),
            typed("delete", "pve_qemu_delete", "pve_lxc_delete"),
        ),
        shared=("vmid", "node"),
    ),
    Front(
        "pve_backup",
        "Back up and restore guests",
        "run: back up now; restore: a backup archive into a guest (type qemu or lxc); backups: archives on a"
        " storage; jobs: scheduled backups.",
        (
            one("backups", "pve_list_backups"),
            one("run", "pve_run_backup"),
            typed("restore", "pve_restore_qemu_backup", "pve_restore_lxc_backup"),
            one("jobs", "pve_list_backup_jobs"),
            one("job", "pve_get_backup_job"),
            one("create_job", "pve_create_backup_job"),
            one("update_job", "pve_update_backup_job"),
            one("delete_job", "pve_delete_backup_job"),
        ),
    ),
    Front(
        "pve_storage",
        "Storage: space, contents and settings",
        "capacity: every storage's use, the largest consumers per guest and the growth trend, in one call.",
        (
            one("capacity", "pve_storage_capacity"),
            one("list", "pve_list_storage"),
            one("node_list", "pve_list_node_storage"),
            one("status", "pve_get_storage_status"),
            one("content", "pve_list_storage_content"),
            one("isos", "pve_list_iso_images"),
            one("templates", "pve_list_storage_templates"),
            one("config", "pve_get_storage_config"),
            one("prune_plan", "pve_plan_backup_prune"),
            one("prune", "pve_prune_backups"),
            one("download", "pve_download_url_to_storage"),
            one("delete_volume", "pve_delete_storage_volume"),
            one("create", "pve_create_storage"),
            one("update", "pve_update_storage"),
            one("delete", "pve_delete_storage"),
        ),
        shared=("storage", "node"),
        default="capacity",
    ),
    Front(
        "pve_node",
        "A node: status, logs, services, network, disks",
        "Reads and administration of one node. metrics: chart=true adds a PNG chart.",
        (
            one("status", "pve_get_node_status"),
            metrics("node"),
            one("vms", "pve_list_qemu_vms"),
            one("containers", "pve_list_lxc_containers"),
            one("version", "pve_get_node_version"),
            one("syslog", "pve_get_node_syslog"),
            one("journal", "pve_get_node_journal"),
            one("services", "pve_list_node_services"),
            one("service", "pve_get_node_service_state"),
            one("service_start", "pve_start_node_service"),
            one("service_restart", "pve_restart_node_service"),
            one("service_stop", "pve_stop_node_service"),
            one("networks", "pve_list_networks"),
            one("bridges", "pve_list_node_bridges"),
            one("bonds", "pve_list_node_bonds"),
            one("nics", "pve_list_node_physical_nics"),
            one("network", "pve_get_network"),
            one("network_create", "pve_create_network"),
            one("network_update", "pve_update_network"),
            one("network_delete", "pve_delete_network"),
            one("network_apply", "pve_apply_network_changes"),
            one("network_revert", "pve_revert_network_changes"),
            one("dns", "pve_get_node_dns"),
            one("time", "pve_get_node_time"),
            one("updates", "pve_list_node_updates"),
            one("updates_refresh", "pve_refresh_node_updates"),
            one("disks", "pve_list_node_disks"),
            one("smart", "pve_get_node_disk_smart"),
            one("certificates", "pve_get_node_certificates"),
            one("subscription", "pve_get_node_subscription"),
            one("config", "pve_get_node_config"),
        ),
        shared=("node",),
        default="status",
    ),
    Front(
        "pve_task",
        "Follow Proxmox tasks",
        "Tasks are Proxmox's background jobs, named by UPID. recent: the cluster's latest tasks; list: one node's,"
        " filterable (errors, vmid, since).",
        (
            one("recent", "pve_list_cluster_tasks"),
            one("cluster_log", "pve_get_cluster_log"),
            one("list", "pve_list_tasks"),
            one("status", "pve_get_task_status"),
            one("wait", "pve_wait_task"),
            one("log", "pve_get_task_log"),
            one("stop", "pve_stop_task"),
        ),
        shared=("upid", "node"),
        default="recent",
    ),
    Front(
        "pve_ha",
        "High availability",
        "HA-managed guests (sid vm:<vmid> or ct:<vmid>) move with migrate or relocate here, not by migrating the"
        " guest.",
        (
            one("status", "pve_get_cluster_ha_status"),
            one("resources", "pve_list_ha_resources"),
            one("resource", "pve_get_ha_resource"),
            one("rules", "pve_list_ha_rules"),
            one("rule", "pve_get_ha_rule"),
            one("add", "pve_create_ha_resource"),
            one("update", "pve_update_ha_resource"),
            one("remove", "pve_delete_ha_resource"),
            one("migrate", "pve_migrate_ha_resource"),
            one("relocate", "pve_relocate_ha_resource"),
        ),
        shared=("sid",),
        default="status",
    ),
    Front(
        "pve_replication",
        "Storage replication jobs",
        "Jobs are named <vmid>-<n>.",
        (
            one("jobs", "pve_list_cluster_replication"),
            one("job", "pve_get_replication_job"),
            one("node_jobs", "pve_list_node_replication"),
            one("status", "pve_get_replication_status"),
            one("log", "pve_get_replication_log"),
            one("run_now", "pve_run_replication_now"),
            one("create", "pve_create_replication_job"),
            one("update", "pve_update_replication_job"),
            one("delete", "pve_delete_replication_job"),
        ),
        shared=("id", "node"),
        default="jobs",
    ),
    Front(
        "pve_ceph",
        "Ceph",
        "health: the short answer; status: the full report.",
        (
            one("health", "pve_get_ceph_health"),
            one("status", "pve_get_ceph_status"),
            one("osds", "pve_list_ceph_osds"),
            one("pools", "pve_list_ceph_pools"),
            one("monitors", "pve_list_ceph_monitors"),
            one("flags", "pve_get_ceph_flags"),
        ),
        shared=("node",),
        default="health",
    ),
    Front(
        "pve_sdn",
        "Software-defined networking",
        "Changes stay pending until apply.",
        (
            one("zones", "pve_list_sdn_zones"),
            one("vnets", "pve_list_sdn_vnets"),
            one("vnet", "pve_get_sdn_vnet"),
            one("subnets", "pve_list_sdn_subnets"),
            one("controllers", "pve_list_sdn_controllers"),
            one("create_vnet", "pve_create_sdn_vnet"),
            one("delete_vnet", "pve_delete_sdn_vnet"),
            one("create_subnet", "pve_create_sdn_subnet"),
            one("delete_subnet", "pve_delete_sdn_subnet"),
            one("apply", "pve_apply_sdn_changes"),
        ),
        shared=("vnet",),
        default="vnets",
    ),
    Front(
        "pve_firewall",
        "Firewall",
        "guest: the effective firewall of a VM or container (on or not, policies, rules with groups expanded)."
        " Datacenter and node rules govern the hosts' own traffic.",
        (
            one("guest", "pve_guest_firewall"),
            one("guest_rules", "pve_list_guest_firewall_rules"),
            one("guest_options", "pve_get_guest_firewall_options"),
            one("guest_options_set", "pve_update_guest_firewall_options"),
            one("guest_rule_add", "pve_create_guest_firewall_rule"),
            one("guest_rule_update", "pve_update_guest_firewall_rule"),
            one("guest_rule_delete", "pve_delete_guest_firewall_rule"),
            one("rules", "pve_list_cluster_firewall_rules"),
            one("options", "pve_get_cluster_firewall_options"),
            one("options_set", "pve_update_cluster_firewall_options"),
            one("rule_add", "pve_create_cluster_firewall_rule"),
            one("rule_update", "pve_update_cluster_firewall_rule"),
            one("rule_delete", "pve_delete_cluster_firewall_rule"),
            one("node_rules", "pve_list_node_firewall_rules"),
            one("node_options", "pve_get_node_firewall_options"),
            one("groups", "pve_list_cluster_firewall_groups"),
            one("group", "pve_list_cluster_firewall_group_rules"),
            one("aliases", "pve_list_cluster_firewall_aliases"),
            one("alias_add", "pve_create_cluster_firewall_alias"),
            one("alias_delete", "pve_delete_cluster_firewall_alias"),
            one("ipsets", "pve_list_cluster_firewall_ipsets"),
            one("ipset", "pve_list_cluster_firewall_ipset_entries"),
            one("ipset_add", "pve_add_cluster_firewall_ipset_entry"),
            one("ipset_remove", "pve_delete_cluster_firewall_ipset_entry"),
        ),
        shared=("vmid",),
        default="guest",
    ),
    Front(
        "pve_access",
        "Users, tokens and permissions",
        "permissions: what a user or token may do where.",
        (
            one("users", "pve_list_users"),
            one("groups", "pve_list_groups"),
            one("roles", "pve_list_roles"),
            one("acls", "pve_list_acls"),
            one("domains", "pve_list_domains"),
            one("tokens", "pve_list_api_tokens"),
            one("permissions", "pve_get_permissions"),
            one("user_create", "pve_create_user"),
            one("user_update", "pve_update_user"),
            one("user_delete", "pve_delete_user"),
            one("acl_update", "pve_update_acl"),
            one("token_create", "pve_create_api_token"),
            one("token_delete", "pve_delete_api_token"),
        ),
        shared=("userid",),
    ),
    Front(
        "pve_pool",
        "Resource pools",
        "Pools group guests and storage for permissions.",
        (
            one("create", "pve_create_pool"),
            one("update", "pve_update_pool"),
            one("delete", "pve_delete_pool"),
        ),
        shared=("poolid",),
    ),
    Front(
        "pve_ssh",
        "Commands on nodes and in containers over SSH",
        "diagnose: an allow-listed read-only check in a container; batch: checks on a node; exec: any command.",
        (
            one("batch", "pve_ssh_batch_diagnostics"),
            one("diagnose", "pve_run_remote_diagnostic"),
            one("docker_ps", "pve_docker_ps_in_container"),
            one("docker_logs", "pve_docker_logs_in_container"),
            one("exec", "pve_exec_in_container"),
        ),
        shared=("node",),
    ),
    Front(
        "pve_api",
        "Call any Proxmox API path",
        "For what no other tool covers. get reads; call sends any method.",
        (one("get", "pve_api_get"), one("call", "pve_api_call")),
        shared=("path",),
        default="get",
    ),
)

# Catalog tools listed as they are in consolidated mode too: each is already one tool for one purpose. The
# mapping holds the parameter descriptions that say it in this surface's words.
STANDALONE: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"pve_preview": {"tool": "The tool to preview, e.g. pve_guest_lifecycle (with its action in arguments)."}}
)

# Operations for the cluster app alone (MCP Apps, server/apps.py): listed, in either mode, only to clients that
# render apps and with visibility ["app"], which keeps them out of the model's list. On no front.
APP_ONLY: frozenset[str] = frozenset({"pve_cluster_view"})

BY_FRONT: dict[str, Front] = {front.name: front for front in FRONTS}


def _canonical() -> dict[str, tuple[str, str, Mapping[str, str]]]:
    """Each catalog operation's place on the consolidated surface: front, action and the variant's selectors."""
    where: dict[str, tuple[str, str, Mapping[str, str]]] = {}
    for front in FRONTS:
        for action in front.actions:
            for variant, op in action.ops.items():
                picks = dict(zip(action.by, variant.split("/"), strict=False)) if variant else {}
                where.setdefault(op, (front.name, action.name, MappingProxyType(picks)))
    return where


CANONICAL = _canonical()
