"""The two certification tables: the legal status of an organisation and the status of each 認定/特例認定/指定 record.

Administrators record what official notices say. Organisations record what they did themselves: the 設立認証
application (``apply``; a later notice corrects it if needed) and the filing of a 認定 renewal. The daily job (the
``system`` role) only lets a 認定/特例認定 whose term is over lapse. Dates, numbers and which record kinds an action
fits are checked by ``services``; these tables say only which state may follow which, and who may move it.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.certification.models import LegalState, RecordStatus
from kyodo_fund.workflow import Transition, Workflow

L = LegalState
R = RecordStatus
MEMBERS = frozenset({"owner", "staff"})
ADMINS = frozenset({"admin"})
MEMBERS_OR_ADMINS = MEMBERS | ADMINS

LEGAL_TRANSITIONS = (
    Transition(L.NIN_I, "apply", L.APPLIED, MEMBERS_OR_ADMINS, _l("設立認証の申請を記録する")),
    Transition(L.REFUSED, "apply", L.APPLIED, MEMBERS_OR_ADMINS, _l("再申請を記録する")),
    Transition(
        L.APPLIED,
        "withdraw",
        L.NIN_I,
        MEMBERS_OR_ADMINS,
        _l("申請の取下げを記録する"),
        needs_reason=True,
        tone="secondary",
    ),
    Transition(L.APPLIED, "authorise", L.AUTHORISED, ADMINS, _l("認証の通知を記録する"), notify="cert_legal_changed"),
    Transition(
        L.APPLIED,
        "refuse",
        L.REFUSED,
        ADMINS,
        _l("不認証の通知を記録する"),
        needs_reason=True,
        notify="cert_legal_changed",
        tone="danger",
    ),
    Transition(L.AUTHORISED, "register", L.REGISTERED, ADMINS, _l("設立登記を記録する"), notify="cert_legal_changed"),
    Transition(
        L.AUTHORISED,
        "revoke_authorisation",
        L.AUTHORISATION_REVOKED,
        ADMINS,
        _l("認証取消を記録する"),
        needs_reason=True,
        notify="cert_legal_changed",
        tone="danger",
    ),
    Transition(
        L.REGISTERED,
        "revoke_authorisation",
        L.AUTHORISATION_REVOKED,
        ADMINS,
        _l("認証取消を記録する"),
        needs_reason=True,
        notify="cert_legal_changed",
        tone="danger",
    ),
    Transition(L.REGISTERED, "dissolve", L.DISSOLVED, ADMINS, _l("解散を記録する"), needs_reason=True, tone="danger"),
    Transition(L.REGISTERED, "merge", L.MERGED, ADMINS, _l("合併を記録する"), needs_reason=True, tone="danger"),
)

RECORD_TRANSITIONS = (
    Transition(R.ACTIVE, "file_renewal", R.RENEWAL_PENDING, MEMBERS_OR_ADMINS, _l("更新申請の提出を記録する")),
    Transition(
        R.RENEWAL_PENDING,
        "withdraw_renewal",
        R.ACTIVE,
        ADMINS,
        _l("更新申請の記録を取り消す"),
        needs_reason=True,
        tone="secondary",
    ),
    Transition(
        R.RENEWAL_PENDING, "grant_renewal", R.RENEWED, ADMINS, _l("更新の認定を記録する"), notify="cert_record_changed"
    ),
    Transition(
        R.RENEWAL_PENDING,
        "refuse_renewal",
        R.LAPSED,
        ADMINS,
        _l("更新の不認定を記録する"),
        needs_reason=True,
        notify="cert_record_changed",
        tone="danger",
    ),
    Transition(
        R.ACTIVE, "lapse", R.LAPSED, ADMINS | {"system"}, _l("有効期間の満了（失効）を記録する"), tone="secondary"
    ),
    Transition(
        R.ACTIVE,
        "revoke",
        R.REVOKED,
        ADMINS,
        _l("取消を記録する"),
        needs_reason=True,
        notify="cert_record_changed",
        tone="danger",
    ),
    Transition(
        R.RENEWAL_PENDING,
        "revoke",
        R.REVOKED,
        ADMINS,
        _l("取消を記録する"),
        needs_reason=True,
        notify="cert_record_changed",
        tone="danger",
    ),
    Transition(
        R.ACTIVE, "end", R.ENDED, ADMINS, _l("終了を記録する（解散・合併・取下げ）"), needs_reason=True, tone="danger"
    ),
    Transition(
        R.RENEWAL_PENDING,
        "end",
        R.ENDED,
        ADMINS,
        _l("終了を記録する（解散・合併・取下げ）"),
        needs_reason=True,
        tone="danger",
    ),
)


def roles_of(user: Any, obj: Any) -> set[str]:
    """Members get their member role (and nothing else, even if they are also staff); platform staff get
    ``admin`` / ``reviewer``; the job runner (no user) is ``system``."""
    if user is None:
        return {"system"}
    if not getattr(user, "is_authenticated", False):
        return set()
    membership = obj.organisation.membership_of(user.id)
    if membership is not None:
        return {membership.role.value}
    if user.role == UserRole.ADMIN:
        return {"admin"}
    if user.role == UserRole.REVIEWER:
        return {"reviewer"}
    return set()


def _member_recipients(session: Session, obj: Any) -> list[tuple[str, str]]:
    from kyodo_fund.orgs.workflow import member_recipients

    return member_recipients(session, obj.organisation)


LEGAL_WORKFLOW = Workflow(
    name="certification.legal", transitions=LEGAL_TRANSITIONS, roles_of=roles_of, recipients=_member_recipients
)
RECORD_WORKFLOW = Workflow(
    name="certification.record", transitions=RECORD_TRANSITIONS, roles_of=roles_of, recipients=_member_recipients
)

#: Actions that only make sense for some record kinds (the tables cannot say so).
RENEWAL_ACTIONS = frozenset({"file_renewal", "withdraw_renewal", "grant_renewal", "refuse_renewal"})
EXPIRING_ACTIONS = frozenset({"lapse"})
