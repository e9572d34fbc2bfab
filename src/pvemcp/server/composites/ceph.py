"""Composite handlers for Ceph tools."""

from __future__ import annotations

from typing import Any

from pvemcp.server.call import Call, Handler


async def ceph_health(call: Call) -> Any:
    """Only the health part of `ceph status`: the overall state and one line per check, worst first."""
    status = await call.client.get("/cluster/ceph/status")
    health = status.get("health", {}) if isinstance(status, dict) else {}
    checks = health.get("checks") or {}
    order = {"HEALTH_ERR": 0, "HEALTH_WARN": 1}
    rows = [
        {
            "check": name,
            "severity": check.get("severity"),
            "message": (check.get("summary") or {}).get("message"),
            "count": (check.get("summary") or {}).get("count"),
            "muted": bool(check.get("muted")),
        }
        for name, check in checks.items()
        if isinstance(check, dict)
    ]
    rows.sort(key=lambda row: (order.get(str(row["severity"]), 2), row["check"]))
    return {"status": health.get("status"), "checks": rows}


HANDLERS: dict[str, Handler] = {"ceph_health": ceph_health}
