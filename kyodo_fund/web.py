"""Small helpers views share: the acting user, pagination, the commit at the edge."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor


def current_actor() -> Actor:
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return Actor(user=user, ip=request.remote_addr)


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(session: Session, stmt: Any, *, per_page: int | None = None) -> Page:
    """Paginate a select by ``?page=``: one COUNT and one page query, whatever the table size."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total)
