"""Proxmox tasks: the record of every long-running action, its status and its log."""

from pvemcp.catalog.spec import NODE, NODE_FOR_TASK, UPID, WAIT_DEFAULT, WAIT_MAX, Param, Rest, Tier, ToolSpec

TOOLS = (
    ToolSpec(
        name="pve_list_tasks",
        category="tasks",
        tier=Tier.READ_ONLY,
        title="List a node's tasks",
        description="Recent tasks on a node, newest first: type, guest, user, start and end time, final status.",
        target=Rest("GET", "/nodes/{node}/tasks"),
        params=(
            NODE,
            Param("limit", "integer", "Maximum number of tasks (default 50).", minimum=1, maximum=500),
            Param("start", "integer", "Skip this many tasks (paging).", minimum=0),
            Param("vmid", "integer", "Only tasks for this guest.", minimum=100),
            Param("typefilter", "string", "Only this task type, e.g. qmstart or vzdump."),
            Param("errors", "boolean", "Only tasks that failed."),
            Param(
                "source",
                "string",
                "archive (finished, default), active (running) or all.",
                enum=("archive", "active", "all"),
            ),
            Param("since", "integer", "Only tasks started since this Unix time."),
            Param("until", "integer", "Only tasks started until this Unix time."),
        ),
        differs="Also filters by guest, type, errors, time and source, and pages with start.",
    ),
    ToolSpec(
        name="pve_get_task_status",
        category="tasks",
        tier=Tier.READ_ONLY,
        title="Task status",
        description="Whether a task is still running and, once stopped, its exit status (OK or the error).",
        target=Rest("GET", "/nodes/{node}/tasks/{upid}/status"),
        params=(NODE_FOR_TASK, UPID),
    ),
    ToolSpec(
        name="pve_wait_task",
        category="tasks",
        tier=Tier.READ_ONLY,
        title="Wait for a task",
        description=(
            "Wait until a task ends or timeout passes; returns task {status, exitstatus, duration_s}."
            " A failed task is an error with its log tail. The task goes on if the wait stops."
        ),
        target=Rest("GET", "/nodes/{node}/tasks/{upid}/status"),
        params=(
            NODE_FOR_TASK,
            UPID,
            Param(
                "timeout",
                "integer",
                f"Seconds to wait (default {WAIT_DEFAULT}; 0: status now).",
                minimum=0,
                maximum=WAIT_MAX,
                local=True,
            ),
        ),
        handler="wait_task",
        differs="New: nandi cannot wait for a task.",
    ),
    ToolSpec(
        name="pve_get_task_log",
        category="tasks",
        tier=Tier.READ_ONLY,
        title="Task log",
        description="A task's log lines (n, t); page with start and limit. Read it to see why a task failed.",
        target=Rest("GET", "/nodes/{node}/tasks/{upid}/log"),
        params=(
            NODE_FOR_TASK,
            UPID,
            Param("start", "integer", "First line to return (0-based).", minimum=0),
            Param("limit", "integer", "Maximum number of lines (default 50).", minimum=1, maximum=5000),
        ),
        handler="task_log",
    ),
    ToolSpec(
        name="pve_list_cluster_tasks",
        category="tasks",
        tier=Tier.READ_ONLY,
        title="List cluster tasks",
        description="Recent and running tasks of all nodes, newest first. A node's full history: pve_list_tasks.",
        target=Rest("GET", "/cluster/tasks"),
        paged=True,
        differs="New: nandi lists tasks one node at a time.",
    ),
    ToolSpec(
        name="pve_stop_task",
        category="tasks",
        tier=Tier.FULL,
        title="Stop task",
        description="Abort a running task, e.g. a backup or migration; it ends as interrupted. Finished tasks stay.",
        target=Rest("DELETE", "/nodes/{node}/tasks/{upid}"),
        params=(NODE_FOR_TASK, UPID),
        destructive=True,
        confirm=True,
        idempotent=True,
        differs="node is optional: it is read from the UPID.",
    ),
)
