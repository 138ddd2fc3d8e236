"""Donations, monthly giving, Stripe event dedupe and offline import batches."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyodo_fund.db import Base, StrEnumType, TimestampMixin, utcnow

if TYPE_CHECKING:
    from kyodo_fund.accounts.models import User
    from kyodo_fund.projects.models import Project


class DonationStatus(enum.StrEnum):
    PENDING = "pending"  # checkout started, or konbini/bank transfer awaiting payment
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"  # checkout session expired or abandoned
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"  # receipt frozen until the dispute closes
    DISPUTE_LOST = "dispute_lost"  # the card issuer took the money back; the receipt is voided

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def counts_as_gift(self) -> bool:
        """Money the fund holds or may still keep: what project counters and totals include."""
        return self in COUNTED_STATUSES


#: Statuses whose gifts count in a project's raised total and donor count.
COUNTED_STATUSES = frozenset({DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED, DonationStatus.DISPUTED})


_STATUS_LABELS = {
    DonationStatus.PENDING: _l("お手続き中"),
    DonationStatus.PAID: _l("完了"),
    DonationStatus.FAILED: _l("お支払いできませんでした"),
    DonationStatus.EXPIRED: _l("期限切れ"),
    DonationStatus.PARTIALLY_REFUNDED: _l("一部返金"),
    DonationStatus.REFUNDED: _l("返金済み"),
    DonationStatus.DISPUTED: _l("カード会社で確認中"),
    DonationStatus.DISPUTE_LOST: _l("カード会社により取消"),
}


class DonationKind(enum.StrEnum):
    ONE_OFF = "one_off"
    MONTHLY = "monthly"  # one instalment of a RecurringDonation


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    KONBINI = "konbini"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    OTHER = "other"


class Channel(enum.StrEnum):
    ONLINE = "online"  # through Stripe
    OFFLINE = "offline"  # recorded or imported by an administrator


class ReceiptPreference(enum.StrEnum):
    PER_DONATION = "per_donation"
    ANNUAL = "annual"


class RecurringStatus(enum.StrEnum):
    INCOMPLETE = "incomplete"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        return {
            RecurringStatus.INCOMPLETE: _l("お手続き中"),
            RecurringStatus.ACTIVE: _l("継続中"),
            RecurringStatus.PAST_DUE: _l("お支払いが確認できていません"),
            RecurringStatus.CANCELED: _l("停止済み"),
        }[self]


class DonorDetailsMixin:
    """What a receipt and the 寄附者名簿 need about the donor, as given at the time of the gift."""

    donor_name: Mapped[str] = mapped_column(String(100), default="")
    donor_kana: Mapped[str] = mapped_column(String(100), default="")
    donor_postal_code: Mapped[str] = mapped_column(String(8), default="")
    donor_address: Mapped[str] = mapped_column(String(300), default="")
    donor_email: Mapped[str] = mapped_column(String(254), default="", index=True)
    donor_phone: Mapped[str] = mapped_column(String(20), default="")
    #: Any label shared by donors of one household (生計を一にする), for the PST.
    donor_household: Mapped[str] = mapped_column(String(100), default="")


class RecurringDonation(DonorDetailsMixin, TimestampMixin, Base):
    """A monthly gift: one Stripe subscription; each paid invoice becomes a Donation."""

    __tablename__ = "recurring_donations"
    __table_args__ = (CheckConstraint("amount_yen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    amount_yen: Mapped[int] = mapped_column(Integer)
    status: Mapped[RecurringStatus] = mapped_column(StrEnumType(RecurringStatus), default=RecurringStatus.INCOMPLETE)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    #: ``created`` of the newest Stripe subscription event applied; older events are ignored (O2).
    last_event_created: Mapped[int] = mapped_column(BigInteger, default=0)
    current_period_end_at: Mapped[datetime | None]
    #: The donor (or an administrator) stopped it; Stripe ends it when the paid period is over.
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    canceled_at: Mapped[datetime | None]
    receipt_preference: Mapped[ReceiptPreference] = mapped_column(
        StrEnumType(ReceiptPreference), default=ReceiptPreference.ANNUAL
    )
    public_name_opt_in: Mapped[bool] = mapped_column(default=False)
    message: Mapped[str] = mapped_column(Text, default="")

    project: Mapped[Project | None] = relationship()


class Donation(DonorDetailsMixin, TimestampMixin, Base):
    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint("amount_yen > 0", name="amount_positive"),
        CheckConstraint("refunded_yen >= 0 AND refunded_yen <= amount_yen", name="refund_within_amount"),
        CheckConstraint("processor_fee_yen >= 0", name="processor_fee_nonnegative"),
        CheckConstraint("platform_fee_yen >= 0", name="platform_fee_nonnegative"),
        Index("ix_donations_project_status", "project_id", "status"),
        Index("ix_donations_received_on", "received_on"),
        # The project page's "named supporters": newest opted-in gifts of one project, read in order.
        Index(
            "ix_donations_named_supporters",
            "project_id",
            "paid_at",
            postgresql_where=text("public_name_opt_in AND NOT anonymous"),
            sqlite_where=text("public_name_opt_in AND NOT anonymous"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unguessable id used in URLs (success page, donor dashboard).
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: None = the fund's general pool (no project designated).
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    recurring_id: Mapped[int | None] = mapped_column(ForeignKey("recurring_donations.id"), index=True)
    kind: Mapped[DonationKind] = mapped_column(StrEnumType(DonationKind), default=DonationKind.ONE_OFF)
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel), default=Channel.ONLINE)
    method: Mapped[PaymentMethod] = mapped_column(StrEnumType(PaymentMethod), default=PaymentMethod.CARD)
    status: Mapped[DonationStatus] = mapped_column(StrEnumType(DonationStatus), default=DonationStatus.PENDING)
    #: Gross amount given; receipts always show this, fees never reduce it.
    amount_yen: Mapped[int] = mapped_column(Integer)
    #: Cumulative refunded amount (Stripe's charge.amount_refunded is cumulative too).
    refunded_yen: Mapped[int] = mapped_column(Integer, default=0)
    processor_fee_yen: Mapped[int] = mapped_column(Integer, default=0)
    platform_fee_yen: Mapped[int] = mapped_column(Integer, default=0)
    receipt_preference: Mapped[ReceiptPreference] = mapped_column(
        StrEnumType(ReceiptPreference), default=ReceiptPreference.PER_DONATION
    )
    #: The donor agreed to be listed by name among the project's supporters.
    public_name_opt_in: Mapped[bool] = mapped_column(default=False)
    #: Given without identity (collection box, anonymous transfer): excluded from the PST.
    anonymous: Mapped[bool] = mapped_column(default=False)
    message: Mapped[str] = mapped_column(Text, default="")

    #: Idempotency-Key of the Stripe call that created the checkout session (reused on retry).
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: Each monthly instalment is keyed by its invoice (W9 business-key guard).
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)

    paid_at: Mapped[datetime | None]
    #: The date the money was received, in Asia/Tokyo (payment date for online gifts).
    received_on: Mapped[date | None] = mapped_column(Date)
    #: A refund or dispute changed what the issued receipt says: the receipts job voids/reissues it.
    receipt_needs_review: Mapped[bool] = mapped_column(default=False)

    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("donation_imports.id"), index=True)
    #: Hash of an imported row's content, so importing the same file twice adds nothing.
    import_row_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The donor as the PST identifies them (``certification.identities`` sets it on every flush); NULL = the gift
    #: cannot be attributed (anonymous, no name or address, no project).
    pst_identity_id: Mapped[int | None] = mapped_column(ForeignKey("pst_donor_identities.id"), index=True)

    recurring: Mapped[RecurringDonation | None] = relationship()
    project: Mapped[Project | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    @property
    def net_amount_yen(self) -> int:
        return self.amount_yen - self.refunded_yen

    @property
    def refundable_yen(self) -> int:
        return self.amount_yen - self.refunded_yen if self.status in REFUNDABLE_STATUSES else 0

    @property
    def receipt_frozen(self) -> bool:
        """Under an open dispute: no receipt is sent or listed in statements (payments.md DS1)."""
        return self.status == DonationStatus.DISPUTED


REFUNDABLE_STATUSES = frozenset({DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED})


class StripeEvent(Base):
    """Every webhook event id seen, inserted in the same transaction as its effects (W6)."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    #: Stripe's ``created`` (unix seconds).
    created: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: "webhook" or "reconciliation".
    source: Mapped[str] = mapped_column(String(20), default="webhook")


class DonationImport(Base):
    __tablename__ = "donation_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
