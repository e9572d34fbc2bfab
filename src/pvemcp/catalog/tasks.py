"""Proxmox tasks: the record of every long-running action, its status and its log."""

from pvemcp.catalog.spec import NODE, NODE_FOR_TASK, UPID, Param, Tier, ToolSpec

TOOLS = (
    ToolSpec(
        name="pve_list_tasks",
        category="tasks",
        tier=Tier.READ_ONLY,
        title="List a node's tasks",
        description="Recent tasks on a node, newest first: type, guest, user, start and end time, final status.",
        method="GET",
        path="/nodes/{node}/tasks",
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
        ),
    ),
    ToolSpec(
        name="pve_get_task_status",
        category="tasks",
        tier=Tier.READ_ONLY,
        title="Task status",
        description="Whether a task is still running and, once stopped, its exit status (OK or the error).",
        method="GET",
        path="/nodes/{node}/tasks/{upid}/status",
        params=(NODE_FOR_TASK, UPID),
    ),
    ToolSpec(
        name="pve_get_task_log",
        category="tasks",
        tier=Tier.READ_ONLY,
        title="Task log",
        description="A task's log lines (n, t); page with start and limit. Read it to see why a task failed.",
        method="GET",
        path="/nodes/{node}/tasks/{upid}/log",
        params=(
            NODE_FOR_TASK,
            UPID,
            Param("start", "integer", "First line to return (0-based).", minimum=0),
            Param("limit", "integer", "Maximum number of lines (default 50).", minimum=1, maximum=5000),
        ),
    ),
)
