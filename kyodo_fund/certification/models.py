"""Legal status (設立認証 → NPO法人 …) with its append-only history, 認定/特例認定 and 県/市町村指定 records,
事業報告書 filings, the revenue figures the relative PST needs, and the reminders already sent."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyodo_fund.audit.models import AppendOnlyError
from kyodo_fund.db import Base, StrEnumType, utcnow

if TYPE_CHECKING:
    from kyodo_fund.orgs.models import Organisation


class LegalState(enum.StrEnum):
    NIN_I = "nin_i"
    APPLIED = "applied"
    AUTHORISED = "authorised"
    REGISTERED = "registered"
    REFUSED = "refused"
    AUTHORISATION_REVOKED = "authorisation_revoked"
    DISSOLVED = "dissolved"
    MERGED = "merged"

    @property
    def label(self) -> str:
        return LEGAL_STATE_LABELS[self]


LEGAL_STATE_LABELS = {
    LegalState.NIN_I: _l("任意団体"),
    LegalState.APPLIED: _l("設立認証申請中"),
    LegalState.AUTHORISED: _l("認証（登記前）"),
    LegalState.REGISTERED: _l("NPO法人"),
    LegalState.REFUSED: _l("不認証"),
    LegalState.AUTHORISATION_REVOKED: _l("認証取消"),
    LegalState.DISSOLVED: _l("解散"),
    LegalState.MERGED: _l("合併"),
}


class RecordKind(enum.StrEnum):
    #: Same values as ``rules.CertificationKind`` so the rules accept a record as it is.
    NINTEI = "nintei"
    TOKUREI_NINTEI = "tokurei_nintei"
    PREF_DESIGNATION = "pref_designation"
    MUNI_DESIGNATION = "muni_designation"

    @property
    def label(self) -> str:
        return RECORD_KIND_LABELS[self]

    @property
    def is_certification(self) -> bool:
        return self in (RecordKind.NINTEI, RecordKind.TOKUREI_NINTEI)


RECORD_KIND_LABELS = {
    RecordKind.NINTEI: _l("認定"),
    RecordKind.TOKUREI_NINTEI: _l("特例認定"),
    RecordKind.PREF_DESIGNATION: _l("県指定（条例指定）"),
    RecordKind.MUNI_DESIGNATION: _l("市町村指定（条例指定）"),
}


class RecordStatus(enum.StrEnum):
    ACTIVE = "active"
    #: 認定(更新審査中): filed in the window and undecided; receipts keep the 認定 wording.
    RENEWAL_PENDING = "renewal_pending"
    #: The renewal was granted: a new record (``previous_id`` = this one) starts the day after this one's expiry.
    RENEWED = "renewed"
    LAPSED = "lapsed"
    REVOKED = "revoked"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return RECORD_STATUS_LABELS[self]


RECORD_STATUS_LABELS = {
    RecordStatus.ACTIVE: _l("有効"),
    RecordStatus.RENEWAL_PENDING: _l("更新審査中"),
    RecordStatus.RENEWED: _l("更新済み"),
    RecordStatus.LAPSED: _l("失効"),
    RecordStatus.REVOKED: _l("取消"),
    RecordStatus.ENDED: _l("終了"),
}


class LegalStatus(Base):
    """The current legal state of one organisation (NPO法人, or a 任意団体 on its way there)."""

    __tablename__ = "cert_legal_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), unique=True)
    status: Mapped[LegalState] = mapped_column(StrEnumType(LegalState), index=True)
    #: 申請書の受理日: the establishment timeline counts from it.
    application_received_on: Mapped[date | None] = mapped_column(Date)
    #: The day the 認証 notice arrived: registration is due two weeks later.
    notice_received_on: Mapped[date | None] = mapped_column(Date)
    #: 設立日 = the day the 設立登記 was filed; the NPO法人 exists from then.
    established_on: Mapped[date | None] = mapped_column(Date)
    #: 不認証, 認証取消, 解散 or 合併 took effect.
    ended_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    events: Mapped[list[LegalStatusEvent]] = relationship(
        order_by=lambda: (LegalStatusEvent.effective_on, LegalStatusEvent.id), passive_deletes=True
    )


class LegalStatusEvent(Base):
    """One recorded step of the legal status, from an official notice or the organisation's own report.

    Append-only: a mistake is corrected by a later event, never by editing this one.
    """

    __tablename__ = "cert_legal_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_status_id: Mapped[int] = mapped_column(ForeignKey("cert_legal_statuses.id", ondelete="CASCADE"), index=True)
    #: The workflow action, or ``record_established`` for a correction of the 設立日 alone.
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[LegalState | None] = mapped_column(StrEnumType(LegalState))
    state: Mapped[LegalState] = mapped_column(StrEnumType(LegalState))
    #: The day the step took effect (received, notified, registered …), not the day it was typed in.
    effective_on: Mapped[date] = mapped_column(Date)
    #: 指令番号 / 文書番号 of the notice, if any.
    notice_number: Mapped[str] = mapped_column(String(60), default="")
    #: Where the paper lives: a file number, or the name of a document uploaded to the organisation.
    document_ref: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(LegalStatusEvent, "before_update")
@event.listens_for(LegalStatusEvent, "before_delete")
def _refuse_change(_mapper, _conn, target):
    raise AppendOnlyError(f"legal status event {target.id} is append-only")


class CertificationRecord(Base):
    """One 認定, 特例認定 or 条例指定 term; implements ``rules.CertificationRecord``.

    A renewal is a new record whose ``previous_id`` is the renewed one, so each term keeps its own dates.
    """

    __tablename__ = "cert_records"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'muni_designation') = (municipality_code IS NOT NULL)", name="municipality_only_for_muni"
        ),
        CheckConstraint(
            "kind NOT IN ('nintei', 'tokurei_nintei') OR valid_until IS NOT NULL", name="certification_has_validity"
        ),
        CheckConstraint("valid_until IS NULL OR valid_until >= granted_on", name="validity_after_grant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RecordKind] = mapped_column(StrEnumType(RecordKind))
    #: 全国地方公共団体コード of the designating municipality (市町村指定 only).
    municipality_code: Mapped[str | None] = mapped_column(String(6))
    notice_number: Mapped[str] = mapped_column(String(60), default="")
    #: First day of the term (認定日, or the 指定's effective date).
    granted_on: Mapped[date] = mapped_column(Date)
    #: Last day of the term (rules.certification_valid_until); NULL for designations (re-checked every 5 years).
    valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[RecordStatus] = mapped_column(StrEnumType(RecordStatus), default=RecordStatus.ACTIVE, index=True)
    renewal_filed_on: Mapped[date | None] = mapped_column(Date)
    renewal_decided_on: Mapped[date | None] = mapped_column(Date)
    revoked_on: Mapped[date | None] = mapped_column(Date)
    #: First day the record no longer holds for a reason other than expiry (revocation, dissolution, merger).
    ended_on: Mapped[date | None] = mapped_column(Date)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("cert_records.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class AnnualFiling(Base):
    """The 事業報告書等 of one fiscal year reached the 所轄庁 on ``filed_on``; the due date is computed by the rules."""

    __tablename__ = "cert_annual_filings"
    __table_args__ = (UniqueConstraint("organisation_id", "fiscal_year_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    fiscal_year_end: Mapped[date] = mapped_column(Date)
    filed_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FiscalRevenue(Base):
    """The organisation's own revenue figures for one fiscal year: the relative PST's denominator."""

    __tablename__ = "cert_fiscal_revenues"
    __table_args__ = (
        UniqueConstraint("organisation_id", "fiscal_year_end"),
        CheckConstraint("total_revenue_yen >= 0", name="total_nonnegative"),
        CheckConstraint(
            "excluded_revenue_yen >= 0 AND excluded_revenue_yen <= total_revenue_yen", name="excluded_within_total"
        ),
        CheckConstraint(
            "subsidy_yen IS NULL OR (subsidy_yen >= 0 AND subsidy_yen <= excluded_revenue_yen)",
            name="subsidy_within_excluded",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    fiscal_year_end: Mapped[date] = mapped_column(Date)
    #: 総収入金額, gifts included.
    total_revenue_yen: Mapped[int] = mapped_column(Integer)
    #: 国の補助金等 and the other items taken out of the denominator (B2).
    excluded_revenue_yen: Mapped[int] = mapped_column(Integer, default=0)
    #: The 国の補助金等 part of ``excluded_revenue_yen`` (B4); NULL = not broken down.
    subsidy_yen: Mapped[int | None] = mapped_column(Integer)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReminderSent(Base):
    """A reminder already sent: the unique key makes a second (or concurrent) run of the job send nothing."""

    __tablename__ = "cert_reminders_sent"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    #: ``<reminder kind>:<object>:<trigger date>``, e.g. ``renewal_window_open:12:2026-07-01``.
    key: Mapped[str] = mapped_column(String(120))
    sent_on: Mapped[date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class PstDonorIdentity(Base):
    """One donor of an organisation as the PST sees them: normalised name + address (``pst.normalise``), assigned to
    each of its gifts on write (``identities``) so the platform PST groups integers instead of text.

    ``unit_id`` is the household unit (A1): the id of the unit's representative identity (its smallest id), NULL on
    the representative itself and on a donor who is their own unit, so a unit is ``COALESCE(unit_id, id)``.
    """

    __tablename__ = "pst_donor_identities"
    __table_args__ = (UniqueConstraint("organisation_id", "name_key", "address_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name_key: Mapped[str] = mapped_column(Text)
    address_key: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(Integer)


class PstHouseholdLabel(Base):
    """A normalised household label (``donor_household``) of an organisation's kept gifts and the unit it joins, so
    an officer's label finds their household without reading the gifts (kept by ``identities.relink_units``)."""

    __tablename__ = "pst_household_labels"
    __table_args__ = (UniqueConstraint("organisation_id", "label_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    label_key: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int] = mapped_column(Integer)


class PstIdentityYear(Base):
    """What one identity's kept gifts add up to in one of the organisation's fiscal years (net of refunds), kept by
    the same flush hook as the identities. The platform PST reads these instead of every gift: a donor giving
    monthly is one row per year here, twelve in ``donations``. ``gifts`` counts the gifts in the row, which goes
    when it drops to zero."""

    __tablename__ = "pst_identity_years"
    __table_args__ = (Index("ix_pst_identity_years_organisation_year", "organisation_id", "fiscal_year_end"),)

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("pst_donor_identities.id", ondelete="CASCADE"), primary_key=True
    )
    #: The last day of the fiscal year, for the organisation's 決算月 when the gift was written.
    fiscal_year_end: Mapped[date] = mapped_column(Date, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    amount_yen: Mapped[int] = mapped_column(BigInteger, default=0)
    gifts: Mapped[int] = mapped_column(Integer, default=0)
