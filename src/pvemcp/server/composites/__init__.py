"""Named handlers for tools that are more than one REST call, one module per area.

Each module exports `HANDLERS: dict[str, Handler]`; a ToolSpec names one with `handler="..."`.
"""

from __future__ import annotations

from pvemcp.server.call import Handler
from pvemcp.server.composites import (
    ceph,
    firewall,
    guests,
    monitoring,
    network,
    raw,
    remote,
    storage_admin,
    tasks,
)

HANDLERS: dict[str, Handler] = {
    **guests.HANDLERS,
    **network.HANDLERS,
    **firewall.HANDLERS,
    **monitoring.HANDLERS,
    **tasks.HANDLERS,
    **remote.HANDLERS,
    **ceph.HANDLERS,
    **raw.HANDLERS,
    **storage_admin.HANDLERS,
}
