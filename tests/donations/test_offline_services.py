"""Recording one offline gift (donation, ledger, counters, audit) and paying grants from a project's fund."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.models import Channel, Donation, DonationStatus, PaymentMethod
from kyodo_fund.donations.offline import GrantRefused, OfflineGiftRefused, pay_grant, record_offline_donation
from kyodo_fund.ledger.models import LedgerGroup, LedgerGroupKind
from kyodo_fund.ledger.services import balance, org_grants, project_balance
from kyodo_fund.projects.models import today_in_tokyo
from tests.factories import make_offline_donation, make_org, make_project, make_user


@pytest.fixture
def admin(db_session):
    from kyodo_fund.accounts.models import UserRole

    return Actor(make_user(db_session, role=UserRole.ADMIN), ip="192.0.2.10")


@pytest.fixture
def project(db_session):
    return make_project(db_session, make_org(db_session))


def test_an_offline_gift_is_paid_booked_counted_and_audited(db_session, admin, project):
    day = today_in_tokyo() - timedelta(days=3)
    donation = make_offline_donation(db_session, project, actor=admin, received_on=day, amount_yen=10_000)

    assert (donation.status, donation.channel, donation.method) == (
        DonationStatus.PAID,
        Channel.OFFLINE,
        PaymentMethod.BANK_TRANSFER,
    )
    assert donation.received_on == day
    assert (donation.processor_fee_yen, donation.platform_fee_yen) == (0, 1_000)
    assert donation.recorded_by_id == admin.user.id
    group = db_session.scalar(select(LedgerGroup).where(LedgerGroup.donation_id == donation.id))
    assert (group.kind, group.source_ref) == (LedgerGroupKind.DONATION, f"offline:{donation.id}")
    assert sum(e.amount_yen for e in group.entries) == 0
    assert project_balance(db_session, project.id) == 9_000
    assert (project.raised_yen, project.donor_count) == (10_000, 1)
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "donations.offline_recorded"))
    assert entry.object_id == str(donation.id)
    assert entry.after["amount_yen"] == 10_000 and entry.actor_id == admin.user.id


def test_a_gift_without_project_goes_to_the_general_fund(db_session, admin):
    make_offline_donation(db_session, None, actor=admin, amount_yen=5_000, method="cash")
    assert project_balance(db_session, None) == 4_500


def test_the_same_donor_counts_once_and_each_anonymous_gift_counts(db_session, admin, project):
    make_offline_donation(db_session, project, actor=admin, email="same@example.jp", amount_yen=1_000)
    make_offline_donation(db_session, project, actor=admin, email="SAME@example.jp", amount_yen=2_000)
    assert (project.raised_yen, project.donor_count) == (3_000, 1)
    for _ in range(2):
        make_offline_donation(db_session, project, actor=admin, anonymous=True, donor_name="", email="", amount_yen=500)
    assert (project.raised_yen, project.donor_count) == (4_000, 3)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"received_on": today_in_tokyo() + timedelta(days=1)}, "received_on"),
        ({"amount_yen": 0}, "amount_yen"),
        ({"amount_yen": -100}, "amount_yen"),
        ({"amount_yen": 2_147_483_648}, "amount_yen"),
        ({"method": "card"}, "method"),
        ({"donor_name": "  "}, "donor_name"),
        ({"postal_code": "3808570"}, "postal_code"),
        ({"email": "not-an-address"}, "email"),
        ({"address": "長" * 301}, "address"),
    ],
)
def test_bad_gifts_are_refused_with_the_field_and_nothing_is_written(db_session, admin, project, fields, field):
    with pytest.raises(OfflineGiftRefused) as caught:
        make_offline_donation(db_session, project, actor=admin, **fields)
    assert [p.field for p in caught.value.problems] == [field]
    assert db_session.scalar(select(func.count()).select_from(Donation)) == 0
    assert db_session.scalar(select(func.count()).select_from(LedgerGroup)) == 0


@pytest.mark.parametrize("status", ["draft", "submitted", "approved", "reported", "rejected"])
def test_projects_that_do_not_take_gifts_are_refused(db_session, admin, status):
    project = make_project(db_session, make_org(db_session), status=status)
    with pytest.raises(OfflineGiftRefused) as caught:
        make_offline_donation(db_session, project, actor=admin)
    assert [p.field for p in caught.value.problems] == ["project"]


def test_a_closed_project_still_takes_a_late_transfer(db_session, admin):
    project = make_project(db_session, make_org(db_session), status="closed")
    make_offline_donation(db_session, project, actor=admin, amount_yen=3_000)
    assert project.raised_yen == 3_000


def test_an_anonymous_gift_needs_no_name_and_text_is_normalised(db_session, admin, project):
    donation = record_offline_donation(
        db_session,
        admin,
        received_on=today_in_tokyo(),
        amount_yen=700,
        method="cash",
        project=project,
        anonymous=True,
        postal_code="３８０－８５７０",
        email=" Box@Example.JP ",
        platform_fee_pct=10,
    )
    assert (donation.anonymous, donation.donor_name) == (True, "")
    assert (donation.donor_postal_code, donation.donor_email) == ("380-8570", "box@example.jp")


# --- grants -----------------------------------------------------------------------------------


def test_a_grant_within_the_balance_moves_money_to_the_organisation(db_session, admin, project):
    make_offline_donation(db_session, project, actor=admin, amount_yen=10_000)
    pay_grant(db_session, admin, project, amount_yen=9_000, paid_on=today_in_tokyo(), bank_reference="MUFG-1")
    assert project_balance(db_session, project.id) == 0
    assert balance(db_session, f"grants:paid:{project.organisation_id}") == -9_000
    [line] = org_grants(db_session, project.organisation_id)
    assert (line.project_id, line.amount_yen, line.bank_reference) == (project.id, 9_000, "MUFG-1")
    assert db_session.scalar(select(AuditEntry.id).where(AuditEntry.action == "ledger.grant")) is not None


def test_a_grant_beyond_the_balance_is_refused(db_session, admin, project):
    make_offline_donation(db_session, project, actor=admin, amount_yen=10_000)
    with pytest.raises(GrantRefused) as caught:
        pay_grant(db_session, admin, project, amount_yen=9_001, paid_on=today_in_tokyo(), bank_reference="MUFG-2")
    assert caught.value.field == "amount_yen" and "¥9,000" in caught.value.message
    assert project_balance(db_session, project.id) == 9_000


def test_a_bank_reference_is_recorded_once_and_future_dates_are_refused(db_session, admin, project):
    make_offline_donation(db_session, project, actor=admin, amount_yen=10_000)
    pay_grant(db_session, admin, project, amount_yen=1_000, paid_on=today_in_tokyo(), bank_reference="R-1")
    with pytest.raises(GrantRefused) as again:
        pay_grant(db_session, admin, project, amount_yen=1_000, paid_on=today_in_tokyo(), bank_reference="R-1")
    assert again.value.field == "bank_reference"
    tomorrow = today_in_tokyo() + timedelta(days=1)
    with pytest.raises(GrantRefused) as future:
        pay_grant(db_session, admin, project, amount_yen=1_000, paid_on=tomorrow, bank_reference="R-2")
    assert future.value.field == "paid_on"
    assert project_balance(db_session, project.id) == 8_000
