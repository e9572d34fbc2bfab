"""Ready-made workflows (MCP prompts), each using the cluster-wide tools instead of per-node loops.

A prompt is offered only when every tool it names is exposed by the current policy; with none
offered, the server does not advertise the prompts capability at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import mcp_types as types
from mcp.shared.exceptions import MCPError

from pvemcp.server.inventory import Inventory


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    title: str
    description: str
    tools: tuple[str, ...]
    text: str
    argument: tuple[str, str] | None = None  # (name, description) of the one required argument
    # The same workflow on the consolidated surface: the operations it reaches, and its text.
    answers: tuple[str, ...] = ()
    consolidated: str = ""


RECIPES = (
    Recipe(
        "cluster-health",
        "Cluster health check",
        "Quorum, node health, storage pressure and recent failed tasks, summarised with what to fix first.",
        ("pve_get_cluster_status", "pve_list_cluster_resources", "pve_list_cluster_tasks"),
        "Check the health of my Proxmox VE cluster.\n"
        "1. pve_get_cluster_status: is the cluster quorate, are all nodes online?\n"
        "2. pve_list_cluster_resources with type=node: CPU, memory and disk use per node.\n"
        "3. pve_list_cluster_resources with type=storage: flag storages above 80% use or not available.\n"
        "4. pve_list_cluster_tasks: failed tasks (status other than OK) of the last day.\n"
        "Answer with a short verdict, then a table of problems ordered by urgency, each with the next step.",
        answers=("pve_cluster_health",),
        consolidated="Check the health of my Proxmox VE cluster.\n"
        "Call pve_health once; look closer only at findings whose severity is critical or warning, with the call"
        " each finding names in `next`.\n"
        "Answer with a short verdict, then a table of problems ordered by urgency, each with the next step.",
    ),
    Recipe(
        "guest-inventory",
        "Guest inventory",
        "Every VM and container in one table: node, state, CPU, memory, disk, tags.",
        ("pve_list_cluster_resources",),
        "Build an inventory of every guest in my Proxmox VE cluster.\n"
        "Call pve_list_cluster_resources once with type=vm and fields=[vmid,name,type,node,status,maxcpu,maxmem,"
        "maxdisk,tags,template] (follow next_cursor if present).\n"
        "Answer with one table sorted by node then vmid (memory and disk in GiB), then totals per node and per "
        "state. Mention templates separately.",
        answers=("pve_list_cluster_resources",),
        consolidated="Build an inventory of every guest in my Proxmox VE cluster.\n"
        "Call pve_inventory once with action=resources, type=vm and fields=[vmid,name,type,node,status,maxcpu,"
        "mem,maxmem,maxdisk,tags,template] (follow next_cursor if present).\n"
        "Answer with one table sorted by node then vmid, then totals per node and per state. Mention templates"
        " separately.",
    ),
    Recipe(
        "backup-audit",
        "Backup audit",
        "Which guests no backup job covers, what the jobs do, and whether recent backups failed.",
        ("pve_list_backup_jobs", "pve_list_cluster_backup_info", "pve_list_cluster_tasks"),
        "Audit the backups of my Proxmox VE cluster.\n"
        "1. pve_list_cluster_backup_info: guests that no backup job covers.\n"
        "2. pve_list_backup_jobs: schedule, storage, mode, selection and retention of each job.\n"
        "3. pve_list_cluster_tasks: recent vzdump tasks and their status.\n"
        "Answer with the unprotected guests first, then failed or missing runs, then job settings that look "
        "risky (no retention, stop mode on production guests, one storage for everything).",
        answers=("pve_list_cluster_backup_info", "pve_list_backup_jobs", "pve_list_cluster_tasks"),
        consolidated="Audit the backups of my Proxmox VE cluster.\n"
        "1. pve_inventory action=not_backed_up: guests that no backup job covers.\n"
        "2. pve_backup action=jobs: schedule, storage, mode, selection and retention of each job.\n"
        "3. pve_task action=recent: recent vzdump tasks and their exit status.\n"
        "Answer with the unprotected guests first, then failed or missing runs, then job settings that look "
        "risky (no retention, stop mode on production guests, one storage for everything).",
    ),
    Recipe(
        "troubleshoot-guest",
        "Troubleshoot a guest",
        "Diagnose one VM or container: state, configuration, recent tasks and their logs.",
        ("pve_list_cluster_resources", "pve_list_tasks", "pve_get_task_log"),
        "Troubleshoot guest {vmid} on my Proxmox VE cluster.\n"
        "1. pve_list_cluster_resources with type=vm: find vmid {vmid}, its type (qemu or lxc), node and state.\n"
        "2. Its status and configuration: pve_get_qemu_status/pve_get_qemu_config or "
        "pve_get_lxc_status/pve_get_lxc_config.\n"
        "3. pve_list_tasks on its node with vmid={vmid}: recent tasks; read pve_get_task_log of any that failed.\n"
        "Explain what is wrong in plain words, the evidence, and the safest fix. Do not change anything "
        "without asking me first.",
        argument=("vmid", "The guest's VMID, e.g. 100."),
        answers=("pve_diagnose_guest",),
        consolidated="Troubleshoot guest {vmid} on my Proxmox VE cluster.\n"
        "Call pve_guest with action=diagnose and vmid={vmid}: its state, node pressure, recent tasks and their"
        " errors, config problems. Follow a finding's `next` only where the evidence is not clear yet.\n"
        "Explain what is wrong in plain words, the evidence, and the safest fix. Do not change anything "
        "without asking me first.",
    ),
)


class Prompts:
    """The prompts one inventory supports, with their listing built once."""

    def __init__(self, inventory: Inventory) -> None:
        self.consolidated = inventory.policy.mode == "consolidated"
        self.recipes = {
            r.name: r
            for r in RECIPES
            if all(inventory.get(tool) for tool in (r.answers if self.consolidated else r.tools))
        }
        self.listing = [
            types.Prompt(
                name=r.name,
                title=r.title,
                description=r.description,
                arguments=[types.PromptArgument(name=r.argument[0], description=r.argument[1], required=True)]
                if r.argument
                else None,
            )
            for r in self.recipes.values()
        ]

    def get(self, name: str, arguments: Mapping[str, str] | None) -> types.GetPromptResult:
        recipe = self.recipes.get(name)
        if recipe is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {name}")
        values: dict[str, str] = {}
        if recipe.argument:
            key = recipe.argument[0]
            value = (arguments or {}).get(key, "").strip()
            if not value.isdigit() or int(value) < 100:
                raise MCPError(types.INVALID_PARAMS, f"Prompt {name} needs {key}: a VMID of 100 or more.")
            values[key] = value
        text = (recipe.consolidated if self.consolidated else recipe.text).format(**values)
        return types.GetPromptResult(
            description=recipe.description,
            messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
        )
