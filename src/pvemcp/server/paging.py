"""Results that fit an assistant's context: projection, pages and a byte budget.

Paged tools return `{items, count, total, next_cursor?}`. A page ends at `limit` items or when the next
item would push the answer past the budget (PVE_RESULT_MAX_BYTES), whichever comes first; the cursor
names the offset and the query it belongs to, so a page is one upstream request and walking the cursor
returns every item exactly once. `fields` naming a key no item has is refused, with the keys there are.
Anything else that is too big is cut and says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pvemcp.catalog.spec import PAGING, ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError

PAGING_ARGS = frozenset(p.name for p in PAGING)
ENVELOPE_RESERVE = 400  # bytes kept free for count, total, cursor and the note


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _query_tag(spec: ToolSpec, args: Mapping[str, Any]) -> str:
    query = {k: v for k, v in sorted(args.items()) if k not in PAGING_ARGS | {"confirm"}}
    digest = hashlib.sha256(json.dumps([spec.name, query], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:10]


def _offset(spec: ToolSpec, args: Mapping[str, Any]) -> int:
    cursor = args.get("cursor")
    if not cursor:
        return 0
    offset, _, tag = str(cursor).partition(".")
    if not offset.isdigit() or tag != _query_tag(spec, args):
        raise ToolCallError(
            ErrorCode.TOOL_INPUT_REJECTED,
            f"cursor {str(cursor)[:40]!r} does not belong to this query.",
            "Pass next_cursor exactly as the previous page returned it, with the same other arguments.",
        )
    return int(offset)


def _sort_key(key: str) -> Any:
    def by(item: Any) -> tuple[int, Any]:
        value = item.get(key) if isinstance(item, dict) else None
        return (0, value) if isinstance(value, int | float) else (1, str(value))

    return by


def check_fields(items: list[Any], fields: list[str] | None) -> None:
    """Refuse keys no item has: dropping them silently reads as "these items have no such value"."""
    if not fields:
        return
    present = {key for item in items if isinstance(item, dict) for key in item}
    unknown = [name for name in dict.fromkeys(fields) if name not in present]
    if not present or not unknown:
        return  # an empty page has no keys to check against
    valid = sorted(present)
    raise ToolCallError(
        ErrorCode.TOOL_INPUT_REJECTED,
        f"fields names keys no item has: {', '.join(unknown)}.",
        f"Pass only keys the items have: {', '.join(valid)}; or leave fields out for all of them.",
        details={"unknown_fields": unknown, "valid_fields": valid},
    )


def project(items: list[Any], fields: list[str] | None) -> list[Any]:
    if not fields:
        return items
    wanted = tuple(fields)
    return [{k: item[k] for k in wanted if k in item} if isinstance(item, dict) else item for item in items]


def page(spec: ToolSpec, args: Mapping[str, Any], items: list[Any], max_bytes: int) -> dict[str, Any]:
    """One page of a list result, within `limit` and the byte budget."""
    check_fields(items, args.get("fields"))
    if spec.page_key:
        items = sorted(items, key=_sort_key(spec.page_key))
    start = _offset(spec, args)
    limit = args.get("limit")
    end_limit = len(items) if limit is None else min(len(items), start + int(limit))
    chosen = project(items[start:end_limit], args.get("fields"))
    budget = max_bytes - ENVELOPE_RESERVE
    used, kept = 0, 0
    for item in chosen:
        used += _size(item) + 1
        if used > budget and kept > 0:
            break
        kept += 1
    result: dict[str, Any] = {"items": chosen[:kept], "count": kept, "total": len(items)}
    after = start + kept
    if after < len(items):
        result["next_cursor"] = f"{after}.{_query_tag(spec, args)}"
        if kept < len(chosen):
            result["note"] = (
                f"Cut at {max_bytes:,} bytes: {kept} of {len(items) - start} remaining items. Call again with"
                " cursor=next_cursor for more, or ask for fewer keys with fields."
            )
    return result


def fit(payload: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Keep any other result within the budget, saying what was cut."""
    if _size(payload) <= max_bytes:
        return payload
    items = payload.get("items")
    if isinstance(items, list):
        budget, used, kept = max_bytes - ENVELOPE_RESERVE, 0, 0
        for item in items:
            used += _size(item) + 1
            if used > budget:
                break
            kept += 1
        return {
            **payload,
            "items": items[:kept],
            "count": kept,
            "total": len(items),
            "truncated": True,
            "note": f"Cut at {max_bytes:,} bytes: {kept} of {len(items)} items. Narrow the query to see the rest.",
        }
    trimmed: dict[str, Any] = {}
    used = ENVELOPE_RESERVE
    omitted: list[str] = []
    for key, value in payload.items():
        size = _size({key: value})
        if used + size > max_bytes:
            omitted.append(key)
            continue
        trimmed[key] = value
        used += size
    trimmed["truncated"] = True
    trimmed["note"] = f"Cut at {max_bytes:,} bytes; left out: {', '.join(omitted)}."
    return trimmed
