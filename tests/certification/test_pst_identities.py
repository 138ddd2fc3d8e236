"""Every write path gives a gift its PST donor identity (the flush hook in ``certification.identities``), and the
household units follow label changes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit import Actor
from kyodo_fund.certification.identities import relink_units
from kyodo_fund.certification.models import PstDonorIdentity, PstHouseholdLabel
from kyodo_fund.donations.imports import apply_import, plan_import
from kyodo_fund.donations.models import Donation, DonationStatus
from kyodo_fund.donations.offline import record_offline_donation
from kyodo_fund.projects.models import today_in_tokyo
from tests.donations.giving_support import donation_by_session, give, pay_and_return
from tests.donations.offline_support import csv_bytes, row
from tests.factories import make_donation, make_org, make_project, make_user


def identity_of(session, donation) -> PstDonorIdentity | None:
    session.expire(donation, ["pst_identity_id"])
    return session.get(PstDonorIdentity, donation.pst_identity_id) if donation.pst_identity_id else None


def unit_of(session, identity_id: int) -> int:
    identity = session.get(PstDonorIdentity, identity_id)
    session.refresh(identity)
    return identity.unit_id or identity.id


@pytest.fixture
def project(db_session):
    return make_project(db_session, make_org(db_session))


@pytest.fixture
def admin(db_session):
    return Actor(make_user(db_session, role=UserRole.ADMIN))


def test_online_checkout_and_fulfilment_assign_the_identity(app, app_gateway, client, db_session, stripe_standin):
    project = make_project(db_session, make_org(db_session))
    db_session.commit()
    checkout_url = give(client, project, name="信州　花子", address="長野県長野市大字南長野字幅下６９２-２").headers[
        "Location"
    ]
    pay_and_return(client, stripe_standin, checkout_url)
    db_session.expire_all()
    donation = donation_by_session(db_session, checkout_url)
    assert donation.status == DonationStatus.PAID
    identity = identity_of(db_session, donation)
    assert (identity.organisation_id, identity.name_key, identity.address_key) == (
        project.organisation_id,
        "信州花子",
        "長野県長野市大字南長野字幅下692-2",
    )


def test_offline_entry_assigns_identities_and_leaves_anonymous_gifts_without(db_session, project, admin):
    def record(**fields):
        return record_offline_donation(
            db_session,
            admin,
            received_on=today_in_tokyo() - timedelta(days=1),
            amount_yen=5_000,
            method="bank_transfer",
            project=project,
            platform_fee_pct=10,
            **fields,
        )

    named = record(donor_name="佐藤 一郎", address="松本市1-1")
    same = record(donor_name="佐藤　一郎", address="松本市１－１")
    anonymous = record(donor_name="佐藤 一郎", address="松本市1-1", anonymous=True)
    no_address = record(donor_name="佐藤 一郎")
    db_session.flush()
    assert identity_of(db_session, named).id == identity_of(db_session, same).id
    assert identity_of(db_session, anonymous) is None and identity_of(db_session, no_address) is None


def test_import_assigns_identities(db_session, admin):
    org = make_org(db_session)
    make_project(db_session, org, slug="kodomo-shokudo")
    data = csv_bytes(
        row(project="kodomo-shokudo", donor_name="寄附 花子", address="長野市1"),
        row(project="kodomo-shokudo", donor_name="寄附　花子", address="長野市１", amount_yen="3000"),
        row(project="kodomo-shokudo", donor_name="別の 人", address="長野市2", household="花子家"),
    )
    plan = plan_import(db_session, data, filename="gifts.csv")
    assert plan.ok, [str(e) for e in plan.errors]
    batch = apply_import(db_session, admin, plan, platform_fee_pct=10)
    db_session.flush()
    gifts = db_session.scalars(select(Donation).where(Donation.import_batch_id == batch.id).order_by(Donation.id)).all()
    identities = [identity_of(db_session, g) for g in gifts]
    assert identities[0].id == identities[1].id != identities[2].id
    assert all(i.organisation_id == org.id for i in identities)
    label = db_session.scalar(select(PstHouseholdLabel).where(PstHouseholdLabel.organisation_id == org.id))
    assert (label.label_key, label.unit_id) == ("花子家", identities[2].id)


def test_admin_corrections_move_the_gift_to_the_right_identity(db_session, project):
    donation = make_donation(db_session, project, donor_name="高橋 一", donor_address="諏訪市3")
    first = identity_of(db_session, donation)
    donation.donor_address = "諏訪市４"
    db_session.flush()
    moved = identity_of(db_session, donation)
    assert moved.id != first.id and moved.address_key == "諏訪市4"
    donation.anonymous = True
    db_session.flush()
    assert identity_of(db_session, donation) is None
    donation.anonymous = False
    other_org = make_project(db_session, make_org(db_session))
    donation.project_id = other_org.id
    db_session.flush()
    assert identity_of(db_session, donation).organisation_id == other_org.organisation_id


def test_units_follow_label_changes_and_kept_status(db_session, project):
    a = make_donation(db_session, project, donor_name="田中 太郎", donor_address="長野市1", donor_household="田中家")
    b = make_donation(
        db_session,
        project,
        donor_name="田中 花子",
        donor_address="長野市1",
        donor_household="田中 家",
        status=DonationStatus.PENDING,
    )
    ia, ib = a.pst_identity_id, b.pst_identity_id
    assert ia and ib and unit_of(db_session, ia) != unit_of(db_session, ib)  # a pending gift links nobody
    b.status = DonationStatus.PAID
    db_session.flush()
    assert unit_of(db_session, ia) == unit_of(db_session, ib) == min(ia, ib)
    b.donor_household = "花子の家"
    db_session.flush()
    assert unit_of(db_session, ia) != unit_of(db_session, ib)
    labels = dict(
        db_session.execute(
            select(PstHouseholdLabel.label_key, PstHouseholdLabel.unit_id).where(
                PstHouseholdLabel.organisation_id == project.organisation_id
            )
        ).all()
    )
    assert labels == {"田中家": ia, "花子の家": ib}
    b.status = DonationStatus.REFUNDED
    b.refunded_yen = b.amount_yen
    db_session.flush()
    assert set(
        db_session.scalars(
            select(PstHouseholdLabel.label_key).where(PstHouseholdLabel.organisation_id == project.organisation_id)
        )
    ) == {"田中家"}
    # Nothing left to change: a second relink updates nothing.
    assert relink_units(db_session, project.organisation_id) == 0


def stored_years(session, organisation_id: int) -> dict:
    from kyodo_fund.certification.models import PstIdentityYear

    rows = session.scalars(select(PstIdentityYear).where(PstIdentityYear.organisation_id == organisation_id))
    return {(r.identity_id, r.fiscal_year_end): (r.amount_yen, r.gifts) for r in rows}


def recomputed_years(session, organisation_id: int) -> dict:
    """The year totals from scratch, gift by gift: what the flush hook must have kept."""
    from kyodo_fund.certification.dates import fiscal_year_end_for
    from kyodo_fund.orgs.models import Organisation

    session.expire_all()
    month = session.get(Organisation, organisation_id).fiscal_year_end_month or 3
    totals: dict = {}
    for d in session.scalars(select(Donation)):
        kept = d.status in (DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED)
        if d.project is None or d.project.organisation_id != organisation_id or not kept or d.pst_identity_id is None:
            continue
        key = (d.pst_identity_id, fiscal_year_end_for(d.received_on, month))
        amount, gifts = totals.get(key, (0, 0))
        totals[key] = (amount + d.amount_yen - d.refunded_yen, gifts + 1)
    return totals


def test_year_totals_follow_every_change_of_a_gift_and_of_the_fiscal_year(db_session, project):
    org_id = project.organisation_id
    other = make_project(db_session, make_org(db_session))
    today = today_in_tokyo()

    def check() -> None:
        db_session.flush()
        assert stored_years(db_session, org_id) == recomputed_years(db_session, org_id)
        assert stored_years(db_session, other.organisation_id) == recomputed_years(db_session, other.organisation_id)

    a = make_donation(db_session, project, donor_name="北沢 一", donor_address="上田市1", amount_yen=5_000)
    b = make_donation(db_session, project, donor_name="北沢 一", donor_address="上田市１", amount_yen=2_000)
    c = make_donation(db_session, project, donor_name="南 二", donor_address="飯田市2", status=DonationStatus.PENDING)
    check()
    assert stored_years(db_session, org_id)[a.pst_identity_id, recomputed_key(a, db_session)] == (7_000, 2)
    b.refunded_yen, b.status = 500, DonationStatus.PARTIALLY_REFUNDED  # partial refund: net counts
    check()
    c.status, c.received_on = DonationStatus.PAID, today  # paid later
    check()
    a.received_on = today - timedelta(days=400)  # moved into an earlier fiscal year
    check()
    b.status, b.refunded_yen = DonationStatus.REFUNDED, b.amount_yen  # fully refunded: leaves the totals
    check()
    a.donor_name = "北澤 一"  # a correction: another identity
    check()
    c.anonymous = True  # no identity any more
    check()
    a.project_id = other.id  # to another organisation's project
    check()
    db_session.delete(a)
    check()
    # 決算月 changes: every stored year of the organisation is regrouped (the gift below was in FY ending in March).
    make_donation(db_session, project, donor_name="東 三", donor_address="松本市3", received_on=date(2026, 11, 1))
    check()
    assert {fy for _i, fy in stored_years(db_session, org_id)} == {date(2027, 3, 31)}
    project.organisation.fiscal_year_end_month = 12
    check()
    assert all(fy.month == 12 for _i, fy in stored_years(db_session, org_id))


def recomputed_key(donation, session):
    from kyodo_fund.certification.dates import fiscal_year_end_for

    return fiscal_year_end_for(donation.received_on, donation.project.organisation.fiscal_year_end_month or 3)
