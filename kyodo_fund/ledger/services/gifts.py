"""Gifts and what can undo them: donations, refund deltas, dispute hold / release / reverse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session, selectinload

from kyodo_fund.audit import Actor
from kyodo_fund.ledger.models import (
    CASH_ACCOUNTS,
    DISPUTES_HELD,
    FEES_DISPUTE,
    FEES_PLATFORM,
    FEES_PROCESSOR,
    REFUNDS_LOSS,
    STRIPE_CLEARING,
    LedgerAccount,
    LedgerEntry,
    LedgerGroup,
    fund_key,
)
from kyodo_fund.ledger.models import LedgerGroupKind as Kind
from kyodo_fund.ledger.services.balances import lock_available
from kyodo_fund.ledger.services.posting import (
    DisputeAlreadyClosed,
    DisputeNotFound,
    DisputeOpen,
    DonationNotPosted,
    ExceedsRemaining,
    LedgerError,
    group_exists,
    nonzero,
    post_group,
    require_yen,
)
from kyodo_fund.money import percent_of


def post_donation(
    session: Session,
    *,
    source_ref: str,
    project_id: int | None,
    gross_yen: int,
    processor_fee_yen: int,
    platform_fee_pct: int | float,
    donation_id: int,
    received_into: str = STRIPE_CLEARING,
    occurred_at: datetime | None = None,
    memo: str | None = None,
    actor: Actor | None = None,
) -> LedgerGroup | None:
    """Book a paid gift: gross in, Stripe's fee, the platform fee, the rest to the project's fund.

    Gifts received outside Stripe pass ``received_into=BANK_DEPOSITS`` (and no processor fee), so
    ``stripe:clearing`` keeps matching Stripe's balance.
    """
    if received_into not in CASH_ACCOUNTS:
        raise LedgerError(f"received_into must be one of {CASH_ACCOUNTS}: {received_into!r}")
    require_yen("gross_yen", gross_yen, minimum=1)
    require_yen("processor_fee_yen", processor_fee_yen, minimum=0)
    require_yen("donation_id", donation_id, minimum=1)
    if processor_fee_yen > gross_yen:
        raise LedgerError("processor fee exceeds the gift")
    if isinstance(platform_fee_pct, bool) or not 0 <= platform_fee_pct < 100:
        raise LedgerError(f"platform_fee_pct must be in [0, 100): {platform_fee_pct!r}")
    posted_as = session.scalar(
        select(LedgerGroup.source_ref).where(LedgerGroup.kind == Kind.DONATION, LedgerGroup.donation_id == donation_id)
    )
    if posted_as is not None and posted_as != source_ref:
        raise LedgerError(f"donation {donation_id} was already posted as {posted_as!r}")
    platform_yen = percent_of(gross_yen, platform_fee_pct)
    lines = nonzero(
        (received_into, gross_yen),
        (FEES_PROCESSOR, processor_fee_yen),
        (received_into, -processor_fee_yen),
        (FEES_PLATFORM, -platform_yen),
        (fund_key(project_id), -(gross_yen - platform_yen)),
    )
    return post_group(
        session,
        Kind.DONATION,
        source_ref,
        lines,
        donation_id=donation_id,
        occurred_at=occurred_at,
        memo=memo,
        actor=actor,
    )


@dataclass(frozen=True)
class _Gift:
    fund_key: str
    #: The account the gift arrived in; refunds and lost disputes leave from it.
    cash_key: str
    gross_yen: int
    net_yen: int
    processor_fee_yen: int
    #: Refunded plus disputed (open or lost) gross so far.
    reversed_yen: int
    #: Processor fee already moved to refunds:loss.
    fee_kept_yen: int
    open_dispute_yen: int

    def project_share(self, reversed_yen: int) -> int:
        return self.net_yen * reversed_yen // self.gross_yen

    def fee_share(self, reversed_yen: int) -> int:
        return self.processor_fee_yen * reversed_yen // self.gross_yen


def _load_gift(session: Session, donation_id: int) -> _Gift:
    """Lock the gift's donation group and read its terms and what has been reversed so far."""
    locked = select(LedgerGroup.id).where(LedgerGroup.kind == Kind.DONATION, LedgerGroup.donation_id == donation_id)
    group_id = session.scalar(locked.with_for_update())
    if group_id is None:
        raise DonationNotPosted(f"donation {donation_id} has no ledger group")
    lines = session.execute(
        select(LedgerAccount.key, LedgerEntry.amount_yen)
        .join(LedgerEntry.account)
        .where(LedgerEntry.group_id == group_id)
    ).all()
    fund = next(key for key, _ in lines if key.startswith("fund:"))
    cash = next(key for key, amount in lines if key in CASH_ACCOUNTS and amount > 0)
    net = -sum(a for k, a in lines if k == fund)
    platform = -sum(a for k, a in lines if k == FEES_PLATFORM)
    fee = sum(a for k, a in lines if k == FEES_PROCESSOR)

    key, kind = LedgerAccount.key, LedgerGroup.kind
    refunded, disputed, fee_kept, open_held = session.execute(
        select(
            _total_credit(and_(kind == Kind.REFUND, key == cash)),
            _total_credit(and_(kind.in_([Kind.DISPUTE_HOLD, Kind.DISPUTE_RELEASE]), key == DISPUTES_HELD)),
            _total_credit(and_(kind != Kind.DONATION, key == FEES_PROCESSOR)),
            _total_credit(key == DISPUTES_HELD),
        )
        .select_from(LedgerEntry)
        .join(LedgerEntry.group)
        .join(LedgerEntry.account)
        .where(LedgerGroup.donation_id == donation_id)
    ).one()
    return _Gift(fund, cash, net + platform, net, fee, int(refunded) + int(disputed), int(fee_kept), int(open_held))


def _total_credit(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, -LedgerEntry.amount_yen), else_=0)), 0)


def _give_back(session: Session, gift: _Gift, amount_yen: int) -> tuple[int, int, int]:
    """``(project, platform, fund shortfall)`` that reverse ``amount_yen`` more of the gift."""
    require_yen("amount", amount_yen, minimum=1)
    if gift.open_dispute_yen:
        raise DisputeOpen(f"¥{gift.open_dispute_yen:,} of the gift is under an open dispute")
    remaining = gift.gross_yen - gift.reversed_yen
    if amount_yen > remaining:
        raise ExceedsRemaining(f"¥{amount_yen:,} requested, ¥{remaining:,} left of the gift")
    due = gift.project_share(gift.reversed_yen + amount_yen) - gift.project_share(gift.reversed_yen)
    project = min(due, max(lock_available(session, gift.fund_key), 0))
    return project, amount_yen - due, due - project


def post_refund(
    session: Session,
    *,
    source_ref: str,
    donation_id: int,
    refund_yen: int,
    fee_borne_by: str = "fund",
    occurred_at: datetime | None = None,
    memo: str | None = None,
    actor: Actor | None = None,
) -> LedgerGroup | None:
    """Book one refund delta (payments.md RF2: new cumulative ``amount_refunded`` − ``refunded_yen``).

    Use a ``source_ref`` that names the delta, e.g. the refund id or ``<charge id>:refunded:<cumulative>``,
    so two webhooks reporting the same refund collide on the business key.
    """
    if fee_borne_by != "fund":
        raise LedgerError(f"refund fee_borne_by={fee_borne_by!r} is not implemented; only 'fund'")
    gift = _load_gift(session, donation_id)
    if group_exists(session, source_ref, Kind.REFUND):
        return None
    project, platform, shortfall = _give_back(session, gift, refund_yen)
    after = gift.reversed_yen + refund_yen
    fee_kept = gift.fee_share(after) - gift.fee_kept_yen
    lines = nonzero(
        (gift.cash_key, -refund_yen),
        (gift.fund_key, project),
        (FEES_PLATFORM, platform),
        (FEES_PROCESSOR, -fee_kept),
        (REFUNDS_LOSS, fee_kept + shortfall),
    )
    return post_group(
        session,
        Kind.REFUND,
        source_ref,
        lines,
        donation_id=donation_id,
        occurred_at=occurred_at,
        memo=memo,
        actor=actor,
    )


def refunded_yen(session: Session, donation_id: int) -> int:
    """Gross refunded so far, to turn Stripe's cumulative ``amount_refunded`` into a delta."""
    stmt = (
        select(func.coalesce(func.sum(LedgerEntry.amount_yen), 0))
        .join(LedgerEntry.group)
        .join(LedgerEntry.account)
        .where(LedgerGroup.donation_id == donation_id, LedgerGroup.kind == Kind.REFUND)
        .where(LedgerAccount.key.in_(CASH_ACCOUNTS))
    )
    return -int(session.scalar(stmt))


def post_dispute_hold(
    session: Session,
    *,
    dispute_ref: str,
    donation_id: int,
    amount_yen: int,
    occurred_at: datetime | None = None,
    memo: str | None = None,
    actor: Actor | None = None,
) -> LedgerGroup | None:
    """``charge.dispute.created``: move the disputed share of the fund and of the platform fee to ``disputes:held``."""
    gift = _load_gift(session, donation_id)
    if group_exists(session, dispute_ref, Kind.DISPUTE_HOLD):
        return None
    project, platform, shortfall = _give_back(session, gift, amount_yen)
    lines = nonzero(
        (DISPUTES_HELD, -amount_yen), (gift.fund_key, project), (FEES_PLATFORM, platform), (REFUNDS_LOSS, shortfall)
    )
    return post_group(
        session,
        Kind.DISPUTE_HOLD,
        dispute_ref,
        lines,
        donation_id=donation_id,
        occurred_at=occurred_at,
        memo=memo,
        actor=actor,
    )


def _open_hold(session: Session, dispute_ref: str, closing: Kind) -> tuple[LedgerGroup, _Gift] | None:
    hold = session.scalar(
        select(LedgerGroup)
        .where(LedgerGroup.source_ref == dispute_ref, LedgerGroup.kind == Kind.DISPUTE_HOLD)
        .options(selectinload(LedgerGroup.entries).joinedload(LedgerEntry.account))
    )
    if hold is None:
        raise DisputeNotFound(dispute_ref)
    gift = _load_gift(session, hold.donation_id)
    closed = set(
        session.scalars(
            select(LedgerGroup.kind).where(
                LedgerGroup.source_ref == dispute_ref,
                LedgerGroup.kind.in_([Kind.DISPUTE_RELEASE, Kind.DISPUTE_REVERSE]),
            )
        )
    )
    if closing in closed:
        return None
    if closed:
        raise DisputeAlreadyClosed(f"{dispute_ref} was already closed as {closed.pop().value}")
    return hold, gift


def post_dispute_release(
    session: Session,
    *,
    dispute_ref: str,
    dispute_fee_yen: int = 0,
    occurred_at: datetime | None = None,
    memo: str | None = None,
    actor: Actor | None = None,
) -> LedgerGroup | None:
    """``charge.dispute.closed`` with status ``won``: undo the hold exactly.

    Pass ``dispute_fee_yen`` if Stripe kept its dispute fee although the dispute was won.
    """
    require_yen("dispute_fee_yen", dispute_fee_yen, minimum=0)
    found = _open_hold(session, dispute_ref, Kind.DISPUTE_RELEASE)
    if found is None:
        return None
    hold, gift = found
    lines = [(entry.account.key, -entry.amount_yen) for entry in hold.entries]
    lines += nonzero((FEES_DISPUTE, dispute_fee_yen), (gift.cash_key, -dispute_fee_yen))
    return post_group(
        session,
        Kind.DISPUTE_RELEASE,
        dispute_ref,
        lines,
        donation_id=hold.donation_id,
        occurred_at=occurred_at,
        memo=memo,
        actor=actor,
    )


def post_dispute_reverse(
    session: Session,
    *,
    dispute_ref: str,
    dispute_fee_yen: int,
    occurred_at: datetime | None = None,
    memo: str | None = None,
    actor: Actor | None = None,
) -> LedgerGroup | None:
    """``charge.dispute.closed`` with status ``lost``: the held money leaves Stripe for good; Stripe's fee on it
    and the dispute fee are the fund's loss."""
    require_yen("dispute_fee_yen", dispute_fee_yen, minimum=0)
    found = _open_hold(session, dispute_ref, Kind.DISPUTE_REVERSE)
    if found is None:
        return None
    hold, gift = found
    held = -sum(e.amount_yen for e in hold.entries if e.account.key == DISPUTES_HELD)
    fee_kept = gift.fee_share(gift.reversed_yen) - gift.fee_kept_yen
    lines = nonzero(
        (DISPUTES_HELD, held),
        (gift.cash_key, -held),
        (FEES_PROCESSOR, -fee_kept),
        (REFUNDS_LOSS, fee_kept),
        (FEES_DISPUTE, dispute_fee_yen),
        (gift.cash_key, -dispute_fee_yen),
    )
    return post_group(
        session,
        Kind.DISPUTE_REVERSE,
        dispute_ref,
        lines,
        donation_id=hold.donation_id,
        occurred_at=occurred_at,
        memo=memo,
        actor=actor,
    )
