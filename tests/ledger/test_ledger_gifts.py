"""Donations, refunds and disputes with the worked numbers of payments.md §6 and §9."""

from __future__ import annotations

from datetime import date

import pytest

from kyodo_fund.audit import Actor
from kyodo_fund.ledger.services import (
    BANK_DEPOSITS,
    DisputeAlreadyClosed,
    DisputeNotFound,
    DisputeOpen,
    DonationNotPosted,
    ExceedsRemaining,
    LedgerError,
    balances,
    natural_balance,
    post_dispute_hold,
    post_dispute_release,
    post_dispute_reverse,
    post_donation,
    post_grant,
    post_refund,
    project_balance,
    refunded_yen,
)
from tests.factories import make_user


def donate(session, donation_id=1, *, gross=10_000, fee=360, project_id=7, pct=10):
    return post_donation(
        session,
        source_ref=f"ch_{donation_id}",
        project_id=project_id,
        gross_yen=gross,
        processor_fee_yen=fee,
        platform_fee_pct=pct,
        donation_id=donation_id,
    )


def lines(group) -> list[tuple[str, int]]:
    return sorted((entry.account.key, entry.amount_yen) for entry in group.entries)


def book(session) -> dict[str, int]:
    """Every account with a non-zero raw balance (debit positive)."""
    return {key: amount for key, amount in balances(session, "").items() if amount}


def refund(session, amount, ref, donation_id=1):
    return post_refund(session, source_ref=ref, donation_id=donation_id, refund_yen=amount)


# --- donations ---------------------------------------------------------------------------------


def test_card_gift_books_gross_fees_and_grantable_share(db_session):
    group = donate(db_session)

    assert group.kind == "donation" and group.donation_id == 1 and group.source_ref == "ch_1"
    assert lines(group) == [
        ("fees:platform", -1_000),
        ("fees:processor", 360),
        ("fund:project:7", -9_000),
        ("stripe:clearing", -360),
        ("stripe:clearing", 10_000),
    ]
    assert project_balance(db_session, 7) == 9_000
    assert natural_balance(db_session, "fees:platform") == 1_000
    assert book(db_session) == {
        "stripe:clearing": 9_640,
        "fees:processor": 360,
        "fees:platform": -1_000,
        "fund:project:7": -9_000,
    }


def test_undesignated_offline_gift_goes_to_the_general_fund_without_fee_lines(db_session):
    group = donate(db_session, project_id=None, fee=0)

    assert lines(group) == [("fees:platform", -1_000), ("fund:general", -9_000), ("stripe:clearing", 10_000)]
    assert project_balance(db_session, None) == 9_000


def test_bank_transfer_gift_and_its_refund_stay_out_of_stripe_clearing(db_session):
    group = post_donation(
        db_session,
        source_ref="offline:1",
        project_id=7,
        gross_yen=10_000,
        processor_fee_yen=0,
        platform_fee_pct=10,
        donation_id=1,
        received_into=BANK_DEPOSITS,
    )
    assert lines(group) == [("bank:deposits", 10_000), ("fees:platform", -1_000), ("fund:project:7", -9_000)]

    back = refund(db_session, 4_000, "offline:1:refund:4000")

    assert lines(back) == [("bank:deposits", -4_000), ("fees:platform", 400), ("fund:project:7", 3_600)]
    assert refunded_yen(db_session, 1) == 4_000
    assert "stripe:clearing" not in book(db_session)
    with pytest.raises(LedgerError):
        post_donation(
            db_session,
            source_ref="offline:2",
            project_id=7,
            gross_yen=1_000,
            processor_fee_yen=0,
            platform_fee_pct=10,
            donation_id=2,
            received_into="fees:platform",
        )


def test_platform_fee_is_floored_and_the_rest_is_grantable(db_session):
    donate(db_session, gross=1_009, fee=36)
    assert natural_balance(db_session, "fees:platform") == 100
    assert project_balance(db_session, 7) == 909


def test_fractional_platform_rate(db_session):
    donate(db_session, gross=10_000, fee=360, pct=7.5)
    assert natural_balance(db_session, "fees:platform") == 750
    assert project_balance(db_session, 7) == 9_250


@pytest.mark.parametrize(
    "fields",
    [
        {"gross": 0},
        {"gross": 1_000.0},
        {"gross": True},
        {"fee": -1},
        {"fee": 10_001},
        {"pct": 100},
        {"pct": -1},
        {"pct": True},
    ],
)
def test_donation_refuses_impossible_amounts(db_session, fields):
    with pytest.raises(LedgerError):
        donate(db_session, **fields)
    assert book(db_session) == {}


def test_donation_webhook_replay_posts_once(db_session):
    assert donate(db_session) is not None
    assert donate(db_session) is None
    assert project_balance(db_session, 7) == 9_000


# --- refunds -----------------------------------------------------------------------------------


def test_refunds_of_3000_then_7000(db_session):
    donate(db_session)

    first = refund(db_session, 3_000, "ch_1:refunded:3000")
    assert lines(first) == [
        ("fees:platform", 300),
        ("fees:processor", -108),
        ("fund:project:7", 2_700),
        ("refunds:loss", 108),
        ("stripe:clearing", -3_000),
    ]
    assert project_balance(db_session, 7) == 6_300
    assert refunded_yen(db_session, 1) == 3_000

    second = refund(db_session, 10_000 - refunded_yen(db_session, 1), "ch_1:refunded:10000")
    assert lines(second) == [
        ("fees:platform", 700),
        ("fees:processor", -252),
        ("fund:project:7", 6_300),
        ("refunds:loss", 252),
        ("stripe:clearing", -7_000),
    ]
    # Everything is undone except the fee Stripe kept, which the fund bears.
    assert book(db_session) == {"stripe:clearing": -360, "refunds:loss": 360}
    assert project_balance(db_session, 7) == 0
    assert refund(db_session, 7_000, "ch_1:refunded:10000") is None
    with pytest.raises(ExceedsRemaining):
        refund(db_session, 1, "ch_1:refunded:10001")


def test_uneven_refund_deltas_still_end_exactly_at_zero(db_session):
    donate(db_session, gross=1_001, fee=37)
    for n, amount in enumerate((333, 333, 1, 334), start=1):
        refund(db_session, amount, f"re_{n}")
        assert project_balance(db_session, 7) >= 0
    assert book(db_session) == {"stripe:clearing": -37, "refunds:loss": 37}


def test_refund_needs_the_donation_group(db_session):
    with pytest.raises(DonationNotPosted):
        refund(db_session, 1_000, "re_x", donation_id=99)


def test_only_the_fund_bears_processor_fees(db_session):
    donate(db_session)
    with pytest.raises(LedgerError, match="only 'fund'"):
        post_refund(db_session, source_ref="re_1", donation_id=1, refund_yen=1_000, fee_borne_by="project")


@pytest.mark.parametrize(("granted", "project_gives_back"), [(9_000, 0), (5_000, 4_000)])
def test_refund_after_a_grant_takes_only_what_the_project_still_holds(db_session, granted, project_gives_back):
    donate(db_session)
    admin = Actor(make_user(db_session))
    post_grant(
        db_session,
        project_id=7,
        org_id=3,
        amount_yen=granted,
        paid_on=date(2025, 4, 1),
        bank_reference="B1",
        actor=admin,
    )

    group = refund(db_session, 10_000, "re_1")

    shortfall = 9_000 - project_gives_back
    expected = [
        ("fees:platform", 1_000),
        ("fees:processor", -360),
        ("fund:project:7", project_gives_back),
        ("refunds:loss", 360 + shortfall),
        ("stripe:clearing", -10_000),
    ]
    assert lines(group) == [line for line in expected if line[1]]
    assert project_balance(db_session, 7) == 0
    assert natural_balance(db_session, "refunds:loss") == 360 + shortfall


# --- disputes ----------------------------------------------------------------------------------


def test_dispute_won_restores_every_balance(db_session):
    donate(db_session)
    before = book(db_session)

    hold = post_dispute_hold(db_session, dispute_ref="dp_1", donation_id=1, amount_yen=10_000)
    assert lines(hold) == [("disputes:held", -10_000), ("fees:platform", 1_000), ("fund:project:7", 9_000)]
    assert project_balance(db_session, 7) == 0
    assert natural_balance(db_session, "disputes:held") == 10_000
    with pytest.raises(DisputeOpen):
        refund(db_session, 1_000, "re_1")
    with pytest.raises(DisputeOpen):
        post_dispute_hold(db_session, dispute_ref="dp_2", donation_id=1, amount_yen=1_000)

    release = post_dispute_release(db_session, dispute_ref="dp_1")
    assert lines(release) == [("disputes:held", 10_000), ("fees:platform", -1_000), ("fund:project:7", -9_000)]
    assert book(db_session) == before
    assert post_dispute_release(db_session, dispute_ref="dp_1") is None
    with pytest.raises(DisputeAlreadyClosed):
        post_dispute_reverse(db_session, dispute_ref="dp_1", dispute_fee_yen=1_500)


def test_dispute_won_but_stripe_kept_its_fee(db_session):
    donate(db_session)
    before = book(db_session)
    post_dispute_hold(db_session, dispute_ref="dp_1", donation_id=1, amount_yen=10_000)

    release = post_dispute_release(db_session, dispute_ref="dp_1", dispute_fee_yen=1_500)

    assert ("fees:dispute", 1_500) in lines(release) and ("stripe:clearing", -1_500) in lines(release)
    assert book(db_session) == {**before, "stripe:clearing": 9_640 - 1_500, "fees:dispute": 1_500}
    assert project_balance(db_session, 7) == 9_000


def test_dispute_lost_reverses_the_gift_and_books_the_dispute_fee(db_session):
    donate(db_session)
    post_dispute_hold(db_session, dispute_ref="dp_1", donation_id=1, amount_yen=10_000)

    reverse = post_dispute_reverse(db_session, dispute_ref="dp_1", dispute_fee_yen=1_500)

    assert lines(reverse) == [
        ("disputes:held", 10_000),
        ("fees:dispute", 1_500),
        ("fees:processor", -360),
        ("refunds:loss", 360),
        ("stripe:clearing", -10_000),
        ("stripe:clearing", -1_500),
    ]
    assert book(db_session) == {"stripe:clearing": -1_860, "refunds:loss": 360, "fees:dispute": 1_500}
    assert post_dispute_reverse(db_session, dispute_ref="dp_1", dispute_fee_yen=1_500) is None
    with pytest.raises(DisputeAlreadyClosed):
        post_dispute_release(db_session, dispute_ref="dp_1")
    with pytest.raises(ExceedsRemaining):
        refund(db_session, 1, "re_1")


def test_partial_refund_then_lost_dispute_of_the_rest_ends_like_a_full_refund(db_session):
    donate(db_session)
    refund(db_session, 3_000, "re_1")
    with pytest.raises(ExceedsRemaining):
        post_dispute_hold(db_session, dispute_ref="dp_1", donation_id=1, amount_yen=7_001)
    post_dispute_hold(db_session, dispute_ref="dp_1", donation_id=1, amount_yen=7_000)
    post_dispute_reverse(db_session, dispute_ref="dp_1", dispute_fee_yen=0)

    assert book(db_session) == {"stripe:clearing": -360, "refunds:loss": 360}


def test_refund_after_a_won_dispute(db_session):
    donate(db_session)
    post_dispute_hold(db_session, dispute_ref="dp_1", donation_id=1, amount_yen=4_000)
    post_dispute_release(db_session, dispute_ref="dp_1")
    refund(db_session, 10_000, "re_1")

    assert book(db_session) == {"stripe:clearing": -360, "refunds:loss": 360}


def test_closing_an_unknown_dispute(db_session):
    with pytest.raises(DisputeNotFound):
        post_dispute_release(db_session, dispute_ref="dp_none")
    with pytest.raises(DisputeNotFound):
        post_dispute_reverse(db_session, dispute_ref="dp_none", dispute_fee_yen=1_500)
