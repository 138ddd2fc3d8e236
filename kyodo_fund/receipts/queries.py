"""Read-only selects for the receipt pages; the views paginate them."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Select, func, or_, select

from kyodo_fund.donations.models import Donation
from kyodo_fund.receipts.models import Receipt, ReceiptHold, ReceiptKind, ReceiptStatus

FILTERS = ("q", "status", "kind", "year")


def admin_receipts(filters: Mapping[str, str]) -> Select:
    """Newest first; ``q`` matches the number, the recipient's e-mail or the donor's name on the gift."""
    stmt = select(Receipt).outerjoin(Donation, Donation.id == Receipt.donation_id)
    if q := filters.get("q", "").strip()[:100]:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Receipt.display_number).like(like),
                func.lower(Receipt.recipient_email).like(like),
                func.lower(Donation.donor_name).like(like),
            )
        )
    if (status := filters.get("status")) in {s.value for s in ReceiptStatus}:
        stmt = stmt.where(Receipt.status == ReceiptStatus(status))
    if (kind := filters.get("kind")) in {k.value for k in ReceiptKind}:
        stmt = stmt.where(Receipt.kind == ReceiptKind(kind))
    if (year := filters.get("year", "")).isdigit():
        stmt = stmt.where(Receipt.year == int(year))
    return stmt.order_by(Receipt.issued_at.desc(), Receipt.id.desc())


def needs_data() -> Select:
    """The gifts waiting for missing mandatory data (R1), most recently checked first."""
    return (
        select(ReceiptHold, Donation)
        .join(Donation, Donation.id == ReceiptHold.donation_id)
        .order_by(ReceiptHold.checked_at.desc(), ReceiptHold.donation_id.desc())
    )


def receipts_of_user(user_id: int) -> Select:
    return select(Receipt).where(Receipt.user_id == user_id).order_by(Receipt.issued_at.desc(), Receipt.id.desc())
