"""Screening of organisations: the one table every status change goes through.

draft → submitted → under_review → approved / rejected, with a loop through more_info_needed →
resubmitted, and suspension of approved organisations by administrators.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.accounts.models import User, UserRole
from kyodo_fund.db import utcnow
from kyodo_fund.orgs.models import Membership, Organisation, OrgStatus
from kyodo_fund.workflow import Transition, Workflow

S = OrgStatus
MEMBERS = frozenset({"owner", "staff"})
REVIEWERS = frozenset({"reviewer", "admin"})
ADMINS = frozenset({"admin"})

TRANSITIONS = (
    Transition(S.DRAFT, "submit", S.SUBMITTED, MEMBERS, _l("審査を申請する")),
    Transition(S.SUBMITTED, "start_review", S.UNDER_REVIEW, REVIEWERS, _l("審査を開始する")),
    Transition(
        S.UNDER_REVIEW,
        "request_info",
        S.MORE_INFO_NEEDED,
        REVIEWERS,
        _l("追加情報を依頼する"),
        needs_reason=True,
        notify="org_request_info",
        tone="secondary",
    ),
    Transition(S.MORE_INFO_NEEDED, "resubmit", S.RESUBMITTED, MEMBERS, _l("再申請する")),
    Transition(S.RESUBMITTED, "start_review", S.UNDER_REVIEW, REVIEWERS, _l("審査を開始する")),
    Transition(S.UNDER_REVIEW, "approve", S.APPROVED, REVIEWERS, _l("承認する"), notify="org_approve"),
    Transition(
        S.UNDER_REVIEW,
        "reject",
        S.REJECTED,
        REVIEWERS,
        _l("却下する"),
        needs_reason=True,
        notify="org_reject",
        tone="danger",
    ),
    Transition(
        S.APPROVED,
        "suspend",
        S.SUSPENDED,
        ADMINS,
        _l("掲載を停止する"),
        needs_reason=True,
        notify="org_suspend",
        tone="danger",
    ),
    Transition(S.SUSPENDED, "reinstate", S.APPROVED, ADMINS, _l("停止を解除する"), notify="org_reinstate"),
)


def roles_of(user: Any, org: Organisation) -> set[str]:
    """``{"owner"}`` / ``{"staff"}`` for members, ``{"reviewer"}`` / ``{"admin"}`` by platform role.

    Staff who belong to the organisation keep only their member role: nobody screens their own group.
    Every workflow about an organisation's things (projects, certification) uses this rule.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    membership = org.membership_of(user.id)
    if membership is not None:
        return {membership.role.value}
    if user.role == UserRole.ADMIN:
        return {"admin"}
    if user.role == UserRole.REVIEWER:
        return {"reviewer"}
    return set()


def member_recipients(session: Session, org: Organisation) -> list[tuple[str, str]]:
    return members_of(session, org.id)


def members_of(session: Session, organisation_id: int) -> list[tuple[str, str]]:
    """(e-mail, locale) of the organisation's active members: who its notifications go to."""
    rows = session.execute(
        select(User.email, User.locale)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id, User.is_active_account.is_(True))
        .order_by(User.id)
    )
    return [(email, locale) for email, locale in rows]


def _mark_submitted(_session: Session, org: Organisation, _actor: Any) -> None:
    org.submitted_at = org.submitted_at or utcnow()


def _mark_approved(_session: Session, org: Organisation, _actor: Any) -> None:
    org.approved_at = org.approved_at or utcnow()


WORKFLOW = Workflow(
    name="orgs",
    transitions=TRANSITIONS,
    roles_of=roles_of,
    recipients=member_recipients,
    on_enter={S.SUBMITTED: _mark_submitted, S.APPROVED: _mark_approved},
)
