from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry


def _object_ref(obj: Any) -> tuple[str, str | None]:
    if obj is None:
        return "none", None
    if isinstance(obj, tuple):
        return str(obj[0]), None if obj[1] is None else str(obj[1])
    return type(obj).__name__, None if getattr(obj, "id", None) is None else str(obj.id)


def _entry_fields(
    actor: Actor,
    action: str,
    obj: Any,
    *,
    before: dict | None = None,
    after: dict | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    object_type, object_id = _object_ref(obj)
    return {
        "actor_id": getattr(actor.user, "id", None),
        "actor_label": actor.label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "before": before,
        "after": after,
        "ip": actor.ip,
        "note": note,
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    obj: Any = None,
    *,
    before: dict | None = None,
    after: dict | None = None,
    note: str | None = None,
) -> AuditEntry:
    """Append one audit row. ``obj`` is a mapped object or a ``(type, id)`` pair."""
    entry = AuditEntry(**_entry_fields(actor, action, obj, before=before, after=after, note=note))
    session.add(entry)
    session.flush()
    return entry


def record_many(session: Session, actor: Actor, action: str, entries: list[tuple[Any, dict | None]]) -> None:
    """Append one audit row per ``(object, after)`` with a single multi-row INSERT, for batch runs that act on
    thousands of objects (the annual statements); each row says the same as ``record`` would."""
    rows = [_entry_fields(actor, action, obj, after=after) for obj, after in entries]
    if rows:
        session.execute(insert(AuditEntry), rows)


def search_entries(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    """A select over audit rows, newest first, with the given filters; the caller paginates."""
    stmt = select(AuditEntry).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if actor:
        stmt = stmt.where(AuditEntry.actor_label.contains(actor))
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    if since:
        stmt = stmt.where(AuditEntry.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEntry.occurred_at < until)
    return stmt
