"""Append-only audit log: who did what to which object, before/after, from which IP, when.

Administrators browse and filter it (``/admin/audit``).
"""

from dataclasses import dataclass
from typing import Any

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (or None for the system / a job) and the request's IP."""

    user: Any = None
    ip: str | None = None
    #: True only for the scheduler's own actor; an anonymous web visitor is never the system.
    system: bool = False

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.email
        return "system" if self.system else "anonymous"


SYSTEM = Actor(system=True)

from kyodo_fund.audit import views  # noqa: E402,F401
