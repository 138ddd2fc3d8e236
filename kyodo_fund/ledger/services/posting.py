"""``post_group``, the one function that writes to the ledger, and the ledger's errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.db import utcnow
from kyodo_fund.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup, account_spec
from kyodo_fund.ledger.models import LedgerGroupKind as Kind


class LedgerError(ValueError):
    """A posting the ledger refuses; nothing was written."""


class UnbalancedGroup(LedgerError):
    """Lines that do not sum to zero, a zero line, or an amount that is not an integer."""


class DonationNotPosted(LedgerError):
    """A refund or dispute for a donation that has no donation group."""


class ExceedsRemaining(LedgerError):
    """A refund or dispute larger than what is left of the gift."""


class DisputeOpen(LedgerError):
    """The gift is under an open dispute; Stripe allows neither refunds nor a second dispute."""


class DisputeNotFound(LedgerError):
    pass


class DisputeAlreadyClosed(LedgerError):
    """The dispute was already closed the other way (won vs lost)."""


class InsufficientBalance(LedgerError):
    def __init__(self, account_key: str, available_yen: int, requested_yen: int) -> None:
        super().__init__(f"{account_key}: ¥{available_yen:,} available, ¥{requested_yen:,} requested")
        self.account_key = account_key
        self.available_yen = available_yen
        self.requested_yen = requested_yen


Line = tuple[str, int]


def is_yen(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def require_yen(name: str, value: object, *, minimum: int) -> None:
    if not is_yen(value) or value < minimum:
        raise LedgerError(f"{name} must be an integer ≥ {minimum}: {value!r}")


def post_group(
    session: Session,
    kind: Kind | str,
    source_ref: str,
    lines: Sequence[Line],
    *,
    donation_id: int | None = None,
    occurred_at: datetime | None = None,
    memo: str | None = None,
    actor: Actor | None = None,
) -> LedgerGroup | None:
    """Append one balanced group. Returns None, posting nothing, if ``(source_ref, kind)`` exists."""
    kind = Kind(kind)
    if not source_ref or len(source_ref) > 255:
        raise LedgerError(f"source_ref must be 1–255 characters: {source_ref!r}")
    lines = list(lines)
    if len(lines) < 2:
        raise UnbalancedGroup("a group needs at least two lines")
    for key, amount in lines:
        if not is_yen(amount) or amount == 0:
            raise UnbalancedGroup(f"{key}: amount must be a non-zero integer, got {amount!r}")
    if sum(amount for _, amount in lines) != 0:
        raise UnbalancedGroup(f"lines sum to {sum(a for _, a in lines)}, not 0")
    if group_exists(session, source_ref, kind):
        return None
    accounts = _accounts_for(session, {key for key, _ in lines})
    group = LedgerGroup(
        kind=kind,
        source_ref=source_ref,
        donation_id=donation_id,
        occurred_at=occurred_at or utcnow(),
        memo=memo,
        created_by_id=getattr(actor.user, "id", None) if actor else None,
        entries=[LedgerEntry(account=accounts[key], amount_yen=amount) for key, amount in lines],
    )
    try:
        # A concurrent poster of the same event blocks on the unique index and lands here once
        # the winner commits; the savepoint keeps the caller's transaction usable.
        with session.begin_nested():
            session.add(group)
    except IntegrityError:
        if group_exists(session, source_ref, kind):
            return None
        raise
    return group


def group_exists(session: Session, source_ref: str, kind: Kind) -> bool:
    stmt = select(LedgerGroup.id).where(LedgerGroup.source_ref == source_ref, LedgerGroup.kind == kind)
    return session.scalar(stmt) is not None


def _accounts_for(session: Session, keys: Iterable[str]) -> dict[str, LedgerAccount]:
    keys = set(keys)
    specs = {key: account_spec(key) for key in keys}
    found = {a.key: a for a in session.scalars(select(LedgerAccount).where(LedgerAccount.key.in_(keys)))}
    # Sorted, so two sessions creating the same new accounts take the index locks in one order.
    for key in sorted(keys - found.keys()):
        kind, label = specs[key]
        account = LedgerAccount(key=key, kind=kind, label=label)
        try:
            with session.begin_nested():
                session.add(account)
        except IntegrityError:
            account = session.scalars(select(LedgerAccount).where(LedgerAccount.key == key)).one()
        found[key] = account
    return found


def nonzero(*lines: Line) -> list[Line]:
    return [(key, amount) for key, amount in lines if amount != 0]
