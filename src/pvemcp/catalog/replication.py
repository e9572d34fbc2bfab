"""Storage replication: jobs that copy a guest's disks to another node on a schedule (ZFS), their
state and logs, and running one now. The job list is pve_list_cluster_replication (cluster.py).

Running a job now is read-execute: it does what the schedule would do a little later, changes no
configuration and loses nothing, like starting a backup.
"""

from types import MappingProxyType

from pvemcp.catalog.spec import NODE, Module, Param, Rest, Tier, ToolSpec, reader, writer

read = reader("replication", Module.ADVANCED)
write = writer("replication", Module.ADVANCED)

JOB = Param("id", "string", "Job ID '<vmid>-<n>', e.g. 100-0.", required=True)
JOB_NODE = Param("node", "string", "The node the guest runs on (the job's source), e.g. pve1.", required=True)
SETTINGS = (
    Param("schedule", "string", "When to sync, a calendar event, e.g. */15 (default), */5, 22:30.", free_text=True),
    Param("rate", "number", "Bandwidth limit in MB/s.", minimum=1),
    Param("comment", "string", "Free-text comment.", free_text=True),
    Param("disable", "boolean", "true: keep the job but stop syncing."),
)

TOOLS = (
    read(
        "pve_get_replication_job",
        "Replication job",
        "One replication job's configuration: guest, source and target node, schedule, rate, comment.",
        "/cluster/replication/{id}",
        JOB,
    ),
    read(
        "pve_list_node_replication",
        "Replication state on a node",
        "The state of the replication jobs of the guests on one node: last_sync, next_sync, duration,"
        " fail_count and the last error. The first place to look when replicas fall behind.",
        "/nodes/{node}/replication",
        NODE,
        Param("guest", "integer", "Only this guest's jobs.", minimum=100),
    ),
    read(
        "pve_get_replication_status",
        "Replication job state",
        "One job's state on its source node: last_sync, last_try, next_sync, duration, fail_count, error.",
        "/nodes/{node}/replication/{id}/status",
        JOB_NODE,
        JOB,
    ),
    read(
        "pve_get_replication_log",
        "Replication job log",
        "The log of a job's last run, line by line (snapshots, sync, errors).",
        "/nodes/{node}/replication/{id}/log",
        JOB_NODE,
        JOB,
        Param("start", "integer", "First line (0-based).", minimum=0),
        Param("limit", "integer", "How many lines; default 50.", minimum=0),
    ),
    write(
        "pve_create_replication_job",
        "Create replication job",
        "Replicate a guest's disks to another node on a schedule (needs ZFS storage on both). The first"
        " sync starts within a minute.",
        "POST",
        "/cluster/replication",
        Param("id", "string", "New job ID '<vmid>-<n>': the guest and a free number, e.g. 100-0.", required=True),
        Param("target", "string", "Node to replicate to, e.g. pve2.", required=True),
        *SETTINGS,
        fixed=MappingProxyType({"type": "local"}),
    ),
    write(
        "pve_update_replication_job",
        "Change replication job",
        "Change a replication job's schedule, rate limit or comment, or disable and enable it.",
        "PUT",
        "/cluster/replication/{id}",
        JOB,
        *SETTINGS,
        Param("delete", "string", "Settings to reset, comma-separated, e.g. rate,comment."),
        at_least_one=("schedule", "rate", "comment", "disable", "delete"),
    ),
    write(
        "pve_delete_replication_job",
        "Delete replication job",
        "Remove a replication job. Proxmox marks it and removes it (and, unless keep, the replicated"
        " disks on the target) within a minute; force drops the job at once without any cleanup.",
        "DELETE",
        "/cluster/replication/{id}",
        JOB,
        Param("keep", "boolean", "Keep the replicated data on the target."),
        Param("force", "boolean", "Drop the job entry at once, without cleanup."),
        confirm=True,
    ),
    ToolSpec(
        name="pve_run_replication_now",
        category="replication",
        tier=Tier.READ_EXECUTE,
        module=Module.ADVANCED,
        title="Run replication now",
        description=(
            "Sync a replication job now instead of waiting for its schedule; it runs within a minute. Check"
            " the result with pve_get_replication_status or pve_get_replication_log."
        ),
        target=Rest("POST", "/nodes/{node}/replication/{id}/schedule_now"),
        params=(JOB_NODE, JOB),
    ),
)
