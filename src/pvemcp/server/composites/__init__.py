"""Named handlers for tools that are more than one REST call, one module per area.

Each module exports `HANDLERS: dict[str, Handler]`; a ToolSpec names one with `handler="..."`.
"""

from __future__ import annotations

from pvemcp.server.call import Handler
from pvemcp.server.composites import (
    ceph,
    firewall,
    firewall_view,
    guest_answers,
    guests,
    health,
    monitoring,
    network,
    raw,
    remote,
    storage_admin,
    tasks,
)

# Checks run before confirmation, by handler name: a call that cannot succeed is refused before anyone is asked.
PRECHECKS: dict[str, Handler] = {**guest_answers.PRECHECKS}

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
    **health.HANDLERS,
    **guest_answers.HANDLERS,
    **firewall_view.HANDLERS,
}
