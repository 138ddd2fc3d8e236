"""Recording legal-status steps and 認定/特例認定/指定 records, and the question the receipts ask: which
certification holds on a given day (``certification_on``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.certification import rules
from kyodo_fund.certification.models import (
    CertificationRecord,
    LegalState,
    LegalStatus,
    LegalStatusEvent,
    RecordKind,
    RecordStatus,
)
from kyodo_fund.certification.rules import CertificationSettings, CertificationState
from kyodo_fund.certification.workflow import (
    EXPIRING_ACTIONS,
    LEGAL_WORKFLOW,
    RECORD_WORKFLOW,
    RENEWAL_ACTIONS,
)
from kyodo_fund.orgs.data import MUNICIPALITY_BY_CODE, LegalForm
from kyodo_fund.orgs.models import Organisation
from kyodo_fund.workflow import Transition, apply_transition, available_transitions

#: The legal forms that have a legal status: NPO法人, and 任意団体 that may become one.
TRACKED_FORMS = {LegalForm.NPO_HOUJIN: LegalState.REGISTERED, LegalForm.NIN_I: LegalState.NIN_I}
#: Records still holding (or waiting for a decision); a second one of the same kind cannot be recorded.
OPEN_STATUSES = (RecordStatus.ACTIVE, RecordStatus.RENEWAL_PENDING)


class CertificationError(Exception):
    """A rule refused the change; ``field`` names the form field to attach the message to."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


def settings_from(config: Any | None = None) -> CertificationSettings:
    if config is None:
        from flask import current_app, has_app_context

        config = current_app.config if has_app_context() else {}
    return CertificationSettings.from_config(config)


# --- legal status --------------------------------------------------------------------------------------------


def legal_status_of(session: Session, org: Organisation) -> LegalStatus | None:
    """The stored status, or an unsaved default for an NPO法人 / 任意団体 nobody has recorded anything for yet."""
    stored = session.scalar(select(LegalStatus).where(LegalStatus.organisation_id == org.id))
    return stored if stored is not None else default_legal_status(org)


def default_legal_status(org: Organisation) -> LegalStatus | None:
    """What the legal form implies (registered NPO法人, or 任意団体); None for forms without a legal status."""
    if org.legal_form not in TRACKED_FORMS:
        return None
    return LegalStatus(organisation=org, organisation_id=org.id, status=TRACKED_FORMS[LegalForm(org.legal_form)])


def _ensure_legal_status(session: Session, org: Organisation) -> LegalStatus:
    status = legal_status_of(session, org)
    if status is None:
        raise CertificationError(_l("この法人格の団体には認証・登記の状態がありません。"))
    if status.id is None:
        session.add(status)
        session.flush()
    return status


def check_day(day: date | None, today: date, field: str = "effective_on") -> date:
    if day is None:
        raise CertificationError(_l("日付を入力してください。"), field)
    if day > today:
        raise CertificationError(_l("未来の日付は記録できません。"), field)
    return day


def transition_legal(
    session: Session,
    actor: Actor,
    org: Organisation,
    action: str,
    *,
    effective_on: date | None,
    today: date,
    notice_number: str = "",
    document_ref: str = "",
    note: str = "",
) -> LegalStatusEvent:
    """Move the legal status by ``action`` (an official notice, or the organisation's own application)."""
    status = _ensure_legal_status(session, org)
    day = check_day(effective_on, today)
    if action == "authorise" and status.application_received_on and day < status.application_received_on:
        raise CertificationError(_l("認証の通知日が申請の受理日より前になっています。"), "effective_on")
    if action == "register" and status.notice_received_on and day < status.notice_received_on:
        raise CertificationError(_l("登記日が認証の通知日より前になっています。"), "effective_on")
    before = status.status
    apply_transition(session, LEGAL_WORKFLOW, status, action, actor, reason=note)
    match action:
        case "apply":
            status.application_received_on, status.notice_received_on, status.ended_on = day, None, None
        case "withdraw":
            status.application_received_on = None
        case "authorise":
            status.notice_received_on = day
        case "register":
            status.established_on = day
        case _ if status.status in (
            LegalState.REFUSED,
            LegalState.AUTHORISATION_REVOKED,
            LegalState.DISSOLVED,
            LegalState.MERGED,
        ):
            status.ended_on = day
    return _append_event(session, actor, status, action, before, day, notice_number, document_ref, note)


def record_established_on(
    session: Session, actor: Actor, org: Organisation, established_on: date | None, *, today: date, note: str = ""
) -> LegalStatusEvent:
    """Set the 設立日 of an NPO法人 registered before the platform knew it (no state change)."""
    status = _ensure_legal_status(session, org)
    if status.status is not LegalState.REGISTERED:
        raise CertificationError(_l("設立日はNPO法人（登記済み）についてだけ記録できます。"))
    day = check_day(established_on, today)
    previous = status.established_on
    status.established_on = day
    record(
        session,
        actor,
        "certification.legal.record_established",
        status,
        before={"established_on": previous.isoformat() if previous else None},
        after={"established_on": day.isoformat()},
        note=note or None,
    )
    return _append_event(session, actor, status, "record_established", status.status, day, "", "", note)


def _append_event(
    session: Session,
    actor: Actor,
    status: LegalStatus,
    action: str,
    before: LegalState,
    day: date,
    notice_number: str,
    document_ref: str,
    note: str,
) -> LegalStatusEvent:
    event = LegalStatusEvent(
        legal_status_id=status.id,
        action=action,
        from_state=before,
        state=status.status,
        effective_on=day,
        notice_number=notice_number.strip(),
        document_ref=document_ref.strip(),
        note=(note or "").strip(),
        recorded_by_id=getattr(actor.user, "id", None),
    )
    session.add(event)
    session.flush()
    session.expire(status, ["events"])
    return event


def legal_actions(status: LegalStatus | None, user: Any) -> list[Transition]:
    return [] if status is None else available_transitions(LEGAL_WORKFLOW, status, user)


# --- 認定 / 特例認定 / 指定 records ------------------------------------------------------------------------------


def records_of(session: Session, organisation_id: int) -> list[CertificationRecord]:
    return list(
        session.scalars(
            select(CertificationRecord)
            .where(CertificationRecord.organisation_id == organisation_id)
            .order_by(CertificationRecord.granted_on.desc(), CertificationRecord.id.desc())
        )
    )


def record_certification(
    session: Session,
    actor: Actor,
    org: Organisation,
    *,
    kind: RecordKind | str,
    granted_on: date | None,
    today: date,
    notice_number: str = "",
    municipality_code: str | None = None,
    note: str = "",
) -> CertificationRecord:
    """Record a 認定/特例認定 notice or a 指定 (its effective date); a new 認定 ends an open 特例認定."""
    kind = RecordKind(kind)
    granted_on = check_day(granted_on, today, "granted_on")
    status = legal_status_of(session, org)
    if status is None or status.status is not LegalState.REGISTERED:
        raise CertificationError(_l("認定・指定を記録できるのは登記済みのNPO法人だけです。"), "kind")
    if kind is RecordKind.MUNI_DESIGNATION:
        if municipality_code not in MUNICIPALITY_BY_CODE:
            raise CertificationError(_l("指定した市町村を選んでください。"), "municipality_code")
    else:
        municipality_code = None
    existing = records_of(session, org.id)
    open_records = [r for r in existing if r.status in OPEN_STATUSES]
    if kind is RecordKind.TOKUREI_NINTEI and any(r.kind.is_certification for r in existing):
        raise CertificationError(_l("特例認定は、認定・特例認定を受けたことのない法人が一度だけ受けられます。"), "kind")
    if kind is RecordKind.NINTEI and any(r.kind is RecordKind.NINTEI for r in open_records):
        raise CertificationError(
            _l("有効な認定が既にあります。更新は「更新の認定を記録する」で記録してください。"), "kind"
        )
    if any(
        r.kind is kind and r.municipality_code == municipality_code for r in open_records if not r.kind.is_certification
    ):
        raise CertificationError(_l("有効な同じ指定が既にあります。"), "kind")
    if not (notice_number or "").strip() and kind.is_certification:
        raise CertificationError(_l("通知の番号を入力してください。"), "notice_number")

    valid_until = rules.certification_valid_until(kind.value, granted_on) if kind.is_certification else None
    new = CertificationRecord(
        organisation_id=org.id,
        organisation=org,
        kind=kind,
        municipality_code=municipality_code,
        notice_number=(notice_number or "").strip(),
        granted_on=granted_on,
        valid_until=valid_until,
        note=(note or "").strip(),
    )
    session.add(new)
    session.flush()
    record(session, actor, "certification.record.create", new, after=_record_facts(new), note=note or None)
    if kind is RecordKind.NINTEI:
        for tokurei in (r for r in open_records if r.kind is RecordKind.TOKUREI_NINTEI):
            # 特例認定 continues into 認定 (certification.md §4): the new term takes over from its first day.
            apply_transition(session, RECORD_WORKFLOW, tokurei, "end", actor, reason=str(_l("認定により終了")))
            tokurei.ended_on = granted_on
    return new


def _record_facts(r: CertificationRecord) -> dict[str, Any]:
    return {
        "kind": r.kind.value,
        "status": r.status.value,
        "notice_number": r.notice_number,
        "granted_on": r.granted_on.isoformat(),
        "valid_until": r.valid_until.isoformat() if r.valid_until else None,
        "municipality_code": r.municipality_code,
    }


def record_actions(record_: CertificationRecord, user: Any) -> list[Transition]:
    """The table's actions for this user, minus those that do not fit the record's kind."""
    actions = available_transitions(RECORD_WORKFLOW, record_, user)
    return [t for t in actions if _fits(record_, t.action)]


def _fits(record_: CertificationRecord, action: str) -> bool:
    if action in RENEWAL_ACTIONS:
        return record_.kind is RecordKind.NINTEI
    if action in EXPIRING_ACTIONS:
        return record_.kind.is_certification
    return True


def transition_record(
    session: Session,
    actor: Actor,
    record_: CertificationRecord,
    action: str,
    *,
    effective_on: date | None,
    today: date,
    note: str = "",
    notice_number: str = "",
    settings: CertificationSettings | None = None,
) -> CertificationRecord:
    """Apply ``action``; returns the record that holds afterwards (the new term after ``grant_renewal``)."""
    settings = settings or settings_from()
    if not _fits(record_, action):
        raise CertificationError(_l("この種類の記録には行えない操作です。"))
    day = check_day(effective_on, today)
    if action == "file_renewal":
        window = rules.renewal_window(record_.valid_until, settings)
        if day not in window:
            raise CertificationError(
                _l(
                    "更新申請は %(opens)s から %(closes)s までの間に提出するものです。",
                    opens=window.opens_on.isoformat(),
                    closes=window.closes_on.isoformat(),
                ),
                "effective_on",
            )
    if action == "lapse" and day <= record_.valid_until:
        raise CertificationError(_l("有効期間が満了していません。"), "effective_on")
    if action in ("grant_renewal", "refuse_renewal") and day < record_.renewal_filed_on:
        raise CertificationError(_l("決定日が更新申請日より前になっています。"), "effective_on")
    if action == "grant_renewal" and not notice_number.strip():
        raise CertificationError(_l("通知の番号を入力してください。"), "notice_number")

    apply_transition(session, RECORD_WORKFLOW, record_, action, actor, reason=note)
    match action:
        case "file_renewal":
            record_.renewal_filed_on = day
        case "withdraw_renewal":
            record_.renewal_filed_on = None
        case "refuse_renewal":
            record_.renewal_decided_on = day
        case "revoke":
            record_.revoked_on = record_.ended_on = day
        case "end":
            record_.ended_on = day
        case "grant_renewal":
            record_.renewal_decided_on = day
            starts_on, valid_until = rules.renewed_term(record_.valid_until)
            renewed = CertificationRecord(
                organisation_id=record_.organisation_id,
                organisation=record_.organisation,
                kind=RecordKind.NINTEI,
                notice_number=notice_number.strip(),
                granted_on=starts_on,
                valid_until=valid_until,
                previous_id=record_.id,
            )
            session.add(renewed)
            session.flush()
            record(session, actor, "certification.record.create", renewed, after=_record_facts(renewed))
            return renewed
    session.flush()
    return record_


def reapplication_barred_until(records: list[CertificationRecord]) -> date | None:
    """Through this day no new 認定/特例認定 application is possible (5 years after a revocation)."""
    bars = [rules.reapplication_barred_until(r.revoked_on) for r in records if r.kind.is_certification and r.revoked_on]
    return max(bars, default=None)


@dataclass(frozen=True)
class Holding:
    record: CertificationRecord
    state: CertificationState


def holding_on(records: list[CertificationRecord], on_date: date, settings: CertificationSettings) -> list[Holding]:
    """Every record in force on ``on_date``, 認定 before 特例認定 before 県指定 before 市町村指定."""
    order = list(RecordKind)
    held = []
    for r in records:
        if r.kind.is_certification:
            state = rules.certification_state_on(on_date, r, settings)
        elif r.granted_on <= on_date and (r.ended_on is None or on_date < r.ended_on):
            state = CertificationState.CERTIFIED
        else:
            continue
        if state in (CertificationState.CERTIFIED, CertificationState.RENEWAL_PENDING):
            held.append(Holding(r, state))
    return sorted(held, key=lambda h: (order.index(h.record.kind), h.state is not CertificationState.CERTIFIED))


def certification_on(
    session: Session, organisation_id: int, on_date: date, settings: CertificationSettings | None = None
) -> CertificationRecord | None:
    """The 認定 or 特例認定 — failing that the 県指定, then a 市町村指定 — in force on ``on_date``.

    A 認定 whose renewal was filed in the window and is undecided counts (認定(更新審査中)); a renewed term
    starts the day after the old expiry. ``settings`` default to the app's configuration.
    """
    held = holding_on(records_of(session, organisation_id), on_date, settings or settings_from())
    return held[0].record if held else None
