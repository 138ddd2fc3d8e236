"""Members of an organisation: e-mailed invitations, accepting them, removing staff.

An invitation is bound to an e-mail address: only the signed-in account with that address may
accept it, so a forwarded or leaked link does not let someone else join.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.accounts.models import User
from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.db import utcnow
from kyodo_fund.notifications.services import queue_email
from kyodo_fund.orgs.models import MemberRole, Membership, Organisation, OrgInvitation
from kyodo_fund.orgs.services import OrgError
from kyodo_fund.workflow import NotPermitted


class InvitationNotFound(Exception):
    """Unknown, already used, or addressed to someone else: the page answers 404."""


class InvitationExpired(Exception):
    pass


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_owner(actor: Actor, org: Organisation) -> None:
    membership = org.membership_of(getattr(actor.user, "id", None))
    if membership is None or membership.role != MemberRole.OWNER:
        raise NotPermitted("only an owner manages members")


def invite_member(
    session: Session, actor: Actor, org: Organisation, *, email: str, role: MemberRole, valid_hours: int
) -> OrgInvitation:
    """Store a new invitation and queue its e-mail; an older pending one to the same address is replaced."""
    _require_owner(actor, org)
    email = email.strip().lower()
    already = session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id == org.id, User.email == email)
    )
    if already is not None:
        raise OrgError(_l("この方はすでにメンバーです。"), "email")
    for old in [i for i in org.invitations if i.email == email and i.accepted_at is None]:
        org.invitations.remove(old)
    token = secrets.token_urlsafe(32)
    invitation = OrgInvitation(
        email=email,
        role=role,
        token_hash=_hash(token),
        expires_at=utcnow() + timedelta(hours=valid_hours),
        invited_by_id=actor.user.id,
    )
    org.invitations.append(invitation)
    session.flush()
    record(session, actor, "orgs.member_invited", org, after={"email": email, "role": role.value})
    queue_email(
        session,
        "org_invitation",
        to=email,
        locale=getattr(actor.user, "locale", "ja"),
        context={"org": org, "invitation": invitation, "token": token, "inviter": actor.user},
    )
    return invitation


def find_invitation(session: Session, token: str, user: User) -> OrgInvitation:
    """The pending invitation for ``token`` addressed to ``user``; raises when it cannot be used."""
    invitation = session.scalar(select(OrgInvitation).where(OrgInvitation.token_hash == _hash(token)))
    if invitation is None or invitation.accepted_at is not None:
        raise InvitationNotFound()
    if invitation.email != user.email.strip().lower():
        raise InvitationNotFound()
    if invitation.expires_at <= utcnow():
        raise InvitationExpired()
    return invitation


def accept_invitation(session: Session, actor: Actor, token: str) -> Membership:
    invitation = find_invitation(session, token, actor.user)
    org = invitation.organisation
    invitation.accepted_at = utcnow()
    membership = org.membership_of(actor.user.id)
    if membership is None:
        membership = Membership(user_id=actor.user.id, role=invitation.role)
        org.memberships.append(membership)
    session.flush()
    record(session, actor, "orgs.member_joined", org, after={"user_id": actor.user.id, "role": membership.role.value})
    return membership


def remove_member(session: Session, actor: Actor, org: Organisation, membership_id: int) -> None:
    """Owners remove staff; owners themselves are never removed here, so a group keeps its owner."""
    _require_owner(actor, org)
    membership = next((m for m in org.memberships if m.id == membership_id), None)
    if membership is None:
        raise LookupError(membership_id)
    if membership.role == MemberRole.OWNER:
        raise OrgError(_l("管理者は削除できません。"))
    user_id = membership.user_id
    org.memberships.remove(membership)
    session.flush()
    record(session, actor, "orgs.member_removed", org, before={"user_id": user_id, "role": "staff"})


def pending_invitations(org: Organisation) -> list[OrgInvitation]:
    now = utcnow()
    return [i for i in org.invitations if i.accepted_at is None and i.expires_at > now]
