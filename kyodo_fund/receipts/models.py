"""Receipts as issued: the number, the frozen snapshot, the PDF, and which gifts each document covers.

A row is never changed after issue except for its void fields and delivery time (receipts-and-tax.md §4);
corrections are new rows (a replacement, a reissue copy, a replacement statement) that point back.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyodo_fund.db import Base, StrEnumType, utcnow


class ReceiptKind(enum.StrEnum):
    ORIGINAL = "original"  #: the first receipt of one gift
    REPLACEMENT = "replacement"  #: new number for the net amount after a partial refund; replaces a voided one
    REISSUE = "reissue"  #: 再発行: a copy of a lost document, same number with -R1, -R2 …
    ANNUAL_STATEMENT = "annual_statement"  #: one donor's year of gifts on one document (S- numbers)

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self])


KIND_LABELS = {
    ReceiptKind.ORIGINAL: _l("領収書"),
    ReceiptKind.REPLACEMENT: _l("差替え"),
    ReceiptKind.REISSUE: _l("再発行"),
    ReceiptKind.ANNUAL_STATEMENT: _l("年間まとめ"),
}


class ReceiptStatus(enum.StrEnum):
    VALID = "valid"
    VOIDED = "voided"


class DocType(enum.StrEnum):
    """The counter a number comes from: ``R`` receipts (originals, replacements), ``S`` annual statements."""

    RECEIPT = "R"
    STATEMENT = "S"


class ReceiptCounter(Base):
    """One gapless counter per (issuer, document type, calendar year of issue in JST).

    Incremented with ``UPDATE … RETURNING`` inside the transaction that inserts the receipt, so a rollback
    gives the number back; a database sequence would leave a gap (receipts-and-tax.md §3).
    """

    __tablename__ = "receipt_counters"
    __table_args__ = (CheckConstraint("value >= 0", name="value_non_negative"),)

    issuer_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    doc_type: Mapped[DocType] = mapped_column(StrEnumType(DocType, length=1), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The last number handed out; 0 before the first.
    value: Mapped[int] = mapped_column(Integer, default=0)


class Receipt(Base):
    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("issuer_key", "doc_type", "year", "number", "reissue_seq"),
        # A gift gets exactly one original receipt, whatever runs concurrently (payments.md W9).
        Index(
            "uq_receipts_original_donation",
            "donation_id",
            unique=True,
            sqlite_where=text("kind = 'original'"),
            postgresql_where=text("kind = 'original'"),
        ),
        Index("ix_receipts_statement_donor", "issuer_key", "period_year", "donor_key"),
        # "Has this donor a statement for the year?", per batch of an annual run, whatever the issuer: without it
        # each batch scanned every statement issued so far.
        Index("ix_receipts_donor_period", "donor_key", "period_year"),
        Index("ix_receipts_kind_status", "kind", "status"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("reissue_seq >= 0", name="reissue_seq_non_negative"),
        CheckConstraint("amount_yen > 0", name="amount_positive"),
        CheckConstraint("(kind = 'reissue') = (reissue_seq > 0)", name="reissue_seq_only_on_reissues"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "fund" for the host fund; "org:<id>" once direct programmes issue their own.
    issuer_key: Mapped[str] = mapped_column(String(40))
    doc_type: Mapped[DocType] = mapped_column(StrEnumType(DocType, length=1))
    #: Calendar year (JST) of the counter the number came from.
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    #: 0 for everything but reissue copies, which share the number and add ``-R<seq>``.
    reissue_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: What is printed: R-2026-000123, S-2027-000001, R-2026-000123-R1.
    display_number: Mapped[str] = mapped_column(String(30), index=True)
    kind: Mapped[ReceiptKind] = mapped_column(StrEnumType(ReceiptKind))
    status: Mapped[ReceiptStatus] = mapped_column(StrEnumType(ReceiptStatus), default=ReceiptStatus.VALID)
    #: The gift of a per-donation document; NULL on annual statements (see ``ReceiptedGift``).
    donation_id: Mapped[int | None] = mapped_column(ForeignKey("donations.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: Donor identity: ``u:<user id>`` or ``e:<normalised e-mail>``; a statement is one per key per year.
    donor_key: Mapped[str] = mapped_column(String(300), default="")
    #: The calendar year an annual statement covers.
    period_year: Mapped[int | None] = mapped_column(Integer)
    #: Set on first statements only: (issuer, year, donor, document group); unique, so a rerun or a second
    #: process can never issue the same statement twice.
    statement_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    recipient_email: Mapped[str] = mapped_column(String(254), default="")
    #: The total printed (net of refunds already made when it was issued).
    amount_yen: Mapped[int] = mapped_column(Integer)
    #: 発行日 as printed (a reissue keeps the original's).
    issued_on: Mapped[date] = mapped_column(Date)
    #: ``ReceiptSnapshot.to_dict()``: exactly what was printed; the PDF re-renders from it byte for byte.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The PDF as issued (deferred: lists never load it).
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: Random, public: the QR code's /receipts/verify/<code>.
    verification_code: Mapped[str] = mapped_column(String(40), unique=True)
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), index=True)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    reissue_of_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: When the last e-mail with the PDF was queued in the outbox (the outbox records delivery).
    emailed_at: Mapped[datetime | None]

    replaces: Mapped[Receipt | None] = relationship(foreign_keys=[replaces_id], remote_side=[id])
    replaced_by: Mapped[Receipt | None] = relationship(foreign_keys=[replaced_by_id], remote_side=[id])
    reissue_of: Mapped[Receipt | None] = relationship(foreign_keys=[reissue_of_id], remote_side=[id])
    gifts: Mapped[list[ReceiptedGift]] = relationship(
        back_populates="receipt", cascade="all, delete-orphan", order_by="(ReceiptedGift.received_on, ReceiptedGift.id)"
    )

    @property
    def is_valid(self) -> bool:
        return self.status == ReceiptStatus.VALID

    @property
    def pdf_filename(self) -> str:
        return self.filename_for(self.display_number)

    @staticmethod
    def filename_for(display_number: str) -> str:
        return f"{display_number}.pdf"


class ReceiptedGift(Base):
    """Which gifts a document covers and for how much. At most one row per gift is in force, whether the
    document is a per-donation receipt or an annual statement: a gift is receipted once, never both."""

    __tablename__ = "receipted_gifts"
    __table_args__ = (
        Index(
            "uq_receipted_gifts_in_force_donation",
            "donation_id",
            unique=True,
            sqlite_where=text("in_force"),
            postgresql_where=text("in_force"),
        ),
        CheckConstraint("amount_yen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id", ondelete="CASCADE"), index=True)
    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id", ondelete="RESTRICT"), index=True)
    amount_yen: Mapped[int] = mapped_column(Integer)
    received_on: Mapped[date] = mapped_column(Date)
    #: False once the document is voided; the history stays.
    in_force: Mapped[bool] = mapped_column(default=True)

    receipt: Mapped[Receipt] = relationship(back_populates="gifts")


class ReceiptHold(Base):
    """A gift that cannot be receipted yet because mandatory data is missing (R1): the "needs data" list.

    Written by the issuing job and the annual preflight, deleted when the document is finally issued.
    """

    __tablename__ = "receipt_holds"

    donation_id: Mapped[int] = mapped_column(ForeignKey("donations.id", ondelete="CASCADE"), primary_key=True)
    #: The Japanese list from ``validate_snapshot``.
    problems: Mapped[list[str]] = mapped_column(JSON)
    #: "receipt" (per-donation) or "statement:<year>".
    context: Mapped[str] = mapped_column(String(30), default="receipt")
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
