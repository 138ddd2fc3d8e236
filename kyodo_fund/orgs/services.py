"""Registering and editing organisations, officers, screening, and the directory queries."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.audit.services import record
from kyodo_fund.orgs import corporate_number
from kyodo_fund.orgs.data import MUNICIPALITY_BY_CODE, LegalForm
from kyodo_fund.orgs.models import (
    ORG_FIELD_LABELS,
    MemberRole,
    Membership,
    Officer,
    OfficerTitle,
    OrgActivityCategory,
    Organisation,
    OrgStatus,
    OrgStrength,
)
from kyodo_fund.orgs.workflow import WORKFLOW
from kyodo_fund.workflow import Transition, apply_transition


class OrgError(Exception):
    """A domain rule refused the change; ``field`` names the form field to attach it to, if any."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotEditable(OrgError):
    def __init__(self) -> None:
        super().__init__(_l("審査中または審査済みの団体情報は変更できません。"))


class Incomplete(OrgError):
    """Submission refused; ``missing`` lists what to fill in, in form order."""

    def __init__(self, missing: list[Any]) -> None:
        super().__init__(_l("審査を申請する前に、次の項目を入力してください。"))
        self.missing = missing


# --- slugs and free tags -------------------------------------------------------------------

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,58}[a-z0-9])$")
#: Path segments under /orgs/ that are pages, not organisations.
RESERVED_SLUGS = frozenset({"new", "mine", "review", "invitations", "admin", "static"})
#: ``org-<id>`` is what we generate when the user leaves the slug empty.
GENERATED_SLUG_RE = re.compile(r"^org-\d+$")

STRENGTH_SPLIT_RE = re.compile(r"[,、，\n]+")
MAX_STRENGTHS = 20
MAX_STRENGTH_LENGTH = 40


def slug_problem(slug: str) -> Any | None:
    if not SLUG_RE.match(slug) or "--" in slug:
        return _l("半角英小文字・数字・ハイフンで3〜60文字にしてください（先頭と末尾は英数字）。")
    if slug in RESERVED_SLUGS or GENERATED_SLUG_RE.match(slug):
        return _l("この英字名は使えません。別の名前にしてください。")
    return None


def parse_strengths(text: str) -> list[str]:
    """Split "子ども食堂、見守り, IT支援" into tags, dropping blanks and duplicates (order kept)."""
    tags: list[str] = []
    seen: set[str] = set()
    for raw in STRENGTH_SPLIT_RE.split(text or ""):
        tag = " ".join(raw.split())
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags


def strengths_problem(tags: list[str]) -> Any | None:
    if len(tags) > MAX_STRENGTHS:
        return _l("強みは%(n)s個までにしてください。", n=MAX_STRENGTHS)
    if any(len(t) > MAX_STRENGTH_LENGTH for t in tags):
        return _l("強みは1つあたり%(n)s文字以内にしてください。", n=MAX_STRENGTH_LENGTH)
    return None


# --- registering and editing ---------------------------------------------------------------

#: Columns copied as they are from the form data.
PLAIN_FIELDS = (
    "name",
    "name_kana",
    "legal_form",
    "representative_name",
    "postal_code",
    "municipality_code",
    "address",
    "description",
    "website",
    "email",
    "phone",
    "fiscal_year_end_month",
)


def get_by_slug(session: Session, slug: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.slug == slug))


def register_org(session: Session, actor: Actor, data: dict[str, Any]) -> Organisation:
    """Create a draft organisation owned by the acting user."""
    if actor.user is None:
        raise ValueError("an organisation is registered by a signed-in user")
    # A unique placeholder until the id is known and ``org-<id>`` can be used.
    org = Organisation(slug=f"tmp-{uuid.uuid4().hex}", status=OrgStatus.DRAFT, name=data["name"])
    _apply(session, org, data)
    org.memberships.append(Membership(user_id=actor.user.id, role=MemberRole.OWNER))
    session.add(org)
    session.flush()
    if org.slug.startswith("tmp-"):
        org.slug = f"org-{org.id}"
        session.flush()
    record(session, actor, "orgs.register", org, after={"name": org.name, "slug": org.slug})
    return org


def update_org(session: Session, actor: Actor, org: Organisation, data: dict[str, Any]) -> list[str]:
    """Apply the edit form; returns the names of the fields that changed."""
    if not org.is_editable:
        raise NotEditable()
    before = _snapshot(org)
    _apply(session, org, data)
    session.flush()
    changed = [k for k, v in _snapshot(org).items() if before[k] != v]
    if changed:
        record(session, actor, "orgs.update", org, after={"fields": changed})
    return changed


def _snapshot(org: Organisation) -> dict[str, Any]:
    values = {f: getattr(org, f) for f in (*PLAIN_FIELDS, "slug", "corporate_number")}
    values["activity_categories"] = sorted(org.activity_categories)
    values["strengths"] = list(org.strengths)
    return values


def _apply(session: Session, org: Organisation, data: dict[str, Any]) -> None:
    slug = (data.get("slug") or "").strip().lower()
    if slug and slug != org.slug:
        if problem := slug_problem(slug):
            raise OrgError(problem, "slug")
        taken = session.scalar(select(Organisation.id).where(Organisation.slug == slug, Organisation.id != org.id))
        if taken is not None:
            raise OrgError(_l("この英字名はすでに使われています。"), "slug")
        org.slug = slug
    number = corporate_number.normalise(data.get("corporate_number") or "") or None
    if number is not None and not corporate_number.is_valid(number):
        raise OrgError(_l("法人番号が正しくありません（13桁、先頭はチェックデジット）。"), "corporate_number")
    code = data.get("municipality_code") or None
    if code is not None and code not in MUNICIPALITY_BY_CODE:
        raise OrgError(_l("長野県内の市町村を選んでください。"), "municipality_code")
    website = (data.get("website") or "").strip()
    if website and (urlsplit(website).scheme not in ("http", "https") or not urlsplit(website).netloc):
        raise OrgError(_l("http:// または https:// で始まるURLを入力してください。"), "website")
    tags = parse_strengths(data.get("strengths") or "")
    if problem := strengths_problem(tags):
        raise OrgError(problem, "strengths")
    for name in PLAIN_FIELDS:
        if name in data:
            value = data[name]
            setattr(org, name, value.strip() if isinstance(value, str) else value)
    org.legal_form = LegalForm(data["legal_form"])
    org.municipality_code = code
    org.corporate_number = number
    _set_categories(org, data.get("activity_categories") or [])
    _set_strengths(org, tags)


def _set_categories(org: Organisation, numbers: list[int]) -> None:
    # Diff instead of replacing the list, so an unchanged (org, category) row is never deleted
    # and re-inserted with the same primary key in one flush.
    wanted = {int(n) for n in numbers}
    for link in list(org.category_links):
        if link.category not in wanted:
            org.category_links.remove(link)
    have = {link.category for link in org.category_links}
    for n in sorted(wanted - have):
        org.category_links.append(OrgActivityCategory(category=n))


def _set_strengths(org: Organisation, tags: list[str]) -> None:
    by_tag = {link.tag: link for link in org.strength_links}
    for link in list(org.strength_links):
        if link.tag not in tags:
            org.strength_links.remove(link)
    for position, tag in enumerate(tags):
        if tag in by_tag:
            by_tag[tag].position = position
        else:
            org.strength_links.append(OrgStrength(tag=tag, position=position))


# --- officers (役員名簿) --------------------------------------------------------------------


def add_officer(session: Session, actor: Actor, org: Organisation, data: dict[str, Any]) -> Officer:
    if not org.is_editable:
        raise NotEditable()
    officer = Officer(
        organisation_id=org.id,
        name=data["name"].strip(),
        title=OfficerTitle(data["title"]),
        address=data["address"].strip(),
        household_label=(data.get("household_label") or "").strip(),
        is_paid=bool(data.get("is_paid")),
    )
    org.officers.append(officer)
    session.flush()
    # Names and addresses stay out of the audit log; the id is enough to follow up.
    record(session, actor, "orgs.officer_added", org, after={"officer_id": officer.id, "title": officer.title.value})
    return officer


def remove_officer(session: Session, actor: Actor, org: Organisation, officer_id: int) -> None:
    if not org.is_editable:
        raise NotEditable()
    officer = next((o for o in org.officers if o.id == officer_id), None)
    if officer is None:
        raise LookupError(officer_id)
    org.officers.remove(officer)
    session.flush()
    record(session, actor, "orgs.officer_removed", org, before={"officer_id": officer_id})


# --- screening -----------------------------------------------------------------------------

SUBMIT_ACTIONS = frozenset({"submit", "resubmit"})
#: Fields a submission needs, in form order; the 法人番号 is checked separately (depends on legal form).
_REQUIRED_FIELDS = (
    "name",
    "name_kana",
    "corporate_number",
    "representative_name",
    "postal_code",
    "municipality_code",
    "address",
    "description",
    "email",
    "fiscal_year_end_month",
)


def missing_for_submission(org: Organisation) -> list[Any]:
    """What still has to be filled in before screening, as labels in form order (empty: complete)."""
    missing: list[Any] = []
    for name in _REQUIRED_FIELDS:
        if name == "corporate_number":
            needed = org.legal_form is not None and LegalForm(org.legal_form).requires_corporate_number
            if needed and not (org.corporate_number and corporate_number.is_valid(org.corporate_number)):
                missing.append(ORG_FIELD_LABELS[name])
        elif not getattr(org, name):
            missing.append(ORG_FIELD_LABELS[name])
    if not org.activity_categories:
        missing.append(_l("活動分野（1つ以上）"))
    if not org.strengths:
        missing.append(_l("団体の強み・得意なこと（1つ以上）"))
    if not org.officers:
        missing.append(_l("役員（1名以上）"))
    return missing


def transition_org(
    session: Session, actor: Actor, org: Organisation, action: str, reason: str | None = None
) -> Transition:
    """Apply a screening action; submitting needs a complete organisation."""
    transition = WORKFLOW.find(org.status, action)
    allowed = transition is not None and WORKFLOW.roles_of(actor.user, org) & transition.who
    # Only someone allowed to submit learns what is missing; everything else is the engine's call.
    if allowed and action in SUBMIT_ACTIONS and (missing := missing_for_submission(org)):
        raise Incomplete(missing)
    return apply_transition(session, WORKFLOW, org, action, actor, reason=reason)


# --- lists ---------------------------------------------------------------------------------


def orgs_of_user(session: Session, user_id: int) -> list[tuple[Organisation, MemberRole]]:
    rows = session.execute(
        select(Organisation, Membership.role)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.user_id == user_id)
        .order_by(Organisation.name)
    )
    return [(org, role) for org, role in rows]


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_filter(stmt: Select, text: str) -> Select:
    """Every word (up to 5) must appear in the name, kana, description or a strength tag."""
    for word in text.split()[:5]:
        pattern = _like(word)
        stmt = stmt.where(
            or_(
                Organisation.name.ilike(pattern, escape="\\"),
                Organisation.name_kana.ilike(pattern, escape="\\"),
                Organisation.description.ilike(pattern, escape="\\"),
                exists().where(
                    OrgStrength.organisation_id == Organisation.id, OrgStrength.tag.ilike(pattern, escape="\\")
                ),
            )
        )
    return stmt


def directory_query(*, text: str = "", category: int | None = None, municipality_code: str | None = None) -> Select:
    """Approved organisations only, by name kana; the view paginates."""
    stmt = select(Organisation).where(Organisation.status == OrgStatus.APPROVED)
    if text:
        stmt = _text_filter(stmt, text)
    if category:
        stmt = stmt.where(
            exists().where(
                OrgActivityCategory.organisation_id == Organisation.id, OrgActivityCategory.category == category
            )
        )
    if municipality_code:
        stmt = stmt.where(Organisation.municipality_code == municipality_code)
    return stmt.order_by(Organisation.name_kana, Organisation.id)


#: The review queue's default: everything waiting for a reviewer's move.
AWAITING_REVIEW = (OrgStatus.SUBMITTED, OrgStatus.RESUBMITTED, OrgStatus.UNDER_REVIEW)


def review_queue_query(*, statuses: tuple[OrgStatus, ...] = AWAITING_REVIEW, text: str = "") -> Select:
    """Oldest submission first (drafts, never submitted, last)."""
    stmt = select(Organisation).where(Organisation.status.in_(statuses))
    if text:
        stmt = _text_filter(stmt, text)
    # NULL submitted_at (drafts) last on both SQLite and PostgreSQL.
    return stmt.order_by(Organisation.submitted_at.is_(None), Organisation.submitted_at, Organisation.id)


def count_by_status(session: Session) -> dict[OrgStatus, int]:
    rows = session.execute(select(Organisation.status, func.count()).group_by(Organisation.status))
    return {status: n for status, n in rows}


def screening_history(session: Session, org: Organisation, limit: int = 50) -> list[AuditEntry]:
    """The organisation's audit trail (registration, edits, screening decisions), newest first."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "Organisation", AuditEntry.object_id == str(org.id))
            .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )
