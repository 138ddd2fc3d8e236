"""Recording legal steps, records, filings and revenue; what ``certification_on`` answers for receipts."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AppendOnlyError
from kyodo_fund.certification.filings import filings_of, record_filing, record_revenue
from kyodo_fund.certification.models import (
    CertificationRecord,
    FiscalRevenue,
    LegalState,
    LegalStatusEvent,
    RecordKind,
    RecordStatus,
    ReminderSent,
)
from kyodo_fund.certification.rules import CertificationSettings
from kyodo_fund.certification.services import (
    CertificationError,
    certification_on,
    legal_status_of,
    reapplication_barred_until,
    record_certification,
    record_established_on,
    records_of,
    transition_legal,
    transition_record,
)
from kyodo_fund.orgs.data import LegalForm
from kyodo_fund.workflow import NotPermitted
from tests.factories import make_org

D = date
TODAY = D(2026, 12, 1)
SAITAMA = CertificationSettings()
TOKYO = CertificationSettings(renewal_open="expiry_minus_6m")


@pytest.fixture
def admin(cast):
    return Actor(user=cast.admin, ip="127.0.0.1")


@pytest.fixture
def owner(cast):
    return Actor(user=cast.owner_a, ip="127.0.0.1")


@pytest.fixture
def group(db_session, cast):
    """A 任意団体 of owner A on its way to becoming an NPO法人."""
    org = make_org(db_session, owner=cast.owner_a, legal_form=LegalForm.NIN_I, corporate_number=None)
    return org


def test_default_status_follows_the_legal_form_and_is_not_stored(db_session, cast, group):
    assert legal_status_of(db_session, cast.org_a).status is LegalState.REGISTERED
    assert legal_status_of(db_session, group).status is LegalState.NIN_I
    assert legal_status_of(db_session, group).id is None
    other = make_org(db_session, legal_form=LegalForm.IPPAN_SHADAN)
    assert legal_status_of(db_session, other) is None


def test_the_road_to_npo_houjin_keeps_dates_and_history(app_ctx, db_session, cast, group, owner, admin):
    transition_legal(
        db_session, owner, group, "apply", effective_on=D(2026, 4, 1), today=TODAY, document_ref="申請書控"
    )
    transition_legal(
        db_session, admin, group, "authorise", effective_on=D(2026, 6, 10), today=TODAY, notice_number="8県協第12号"
    )
    transition_legal(db_session, admin, group, "register", effective_on=D(2026, 6, 20), today=TODAY)
    status = legal_status_of(db_session, group)
    assert status.status is LegalState.REGISTERED
    assert (status.application_received_on, status.notice_received_on, status.established_on) == (
        D(2026, 4, 1),
        D(2026, 6, 10),
        D(2026, 6, 20),
    )
    events = db_session.scalars(
        select(LegalStatusEvent).where(LegalStatusEvent.legal_status_id == status.id).order_by(LegalStatusEvent.id)
    ).all()
    assert [(e.action, e.from_state, e.state, e.effective_on) for e in events] == [
        ("apply", LegalState.NIN_I, LegalState.APPLIED, D(2026, 4, 1)),
        ("authorise", LegalState.APPLIED, LegalState.AUTHORISED, D(2026, 6, 10)),
        ("register", LegalState.AUTHORISED, LegalState.REGISTERED, D(2026, 6, 20)),
    ]
    assert events[0].recorded_by_id == cast.owner_a.id and events[0].document_ref == "申請書控"
    assert events[1].notice_number == "8県協第12号" and events[1].recorded_by_id == cast.admin.id


def test_history_is_append_only(app_ctx, db_session, cast, group, owner):
    event = transition_legal(db_session, owner, group, "apply", effective_on=D(2026, 4, 1), today=TODAY)
    event.note = "書き換え"
    with pytest.raises(AppendOnlyError):
        db_session.flush()


@pytest.mark.parametrize(
    ("steps", "action", "day", "message"),
    [
        ([], "apply", D(2026, 12, 2), "未来の日付"),
        ([], "apply", None, "日付を入力"),
        ([("apply", D(2026, 4, 1))], "authorise", D(2026, 3, 31), "受理日より前"),
        ([("apply", D(2026, 4, 1)), ("authorise", D(2026, 6, 10))], "register", D(2026, 6, 9), "通知日より前"),
    ],
)
def test_dates_must_make_sense(app_ctx, db_session, group, admin, steps, action, day, message):
    for step, on in steps:
        transition_legal(db_session, admin, group, step, effective_on=on, today=TODAY)
    with pytest.raises(CertificationError, match=message):
        transition_legal(db_session, admin, group, action, effective_on=day, today=TODAY)


def test_members_cannot_record_notices(app_ctx, db_session, group, owner):
    transition_legal(db_session, owner, group, "apply", effective_on=D(2026, 4, 1), today=TODAY)
    with pytest.raises(NotPermitted):
        transition_legal(db_session, owner, group, "authorise", effective_on=D(2026, 6, 1), today=TODAY)


def test_establishment_date_of_an_existing_npo(app_ctx, db_session, cast, admin):
    event = record_established_on(db_session, admin, cast.org_a, D(2015, 10, 1), today=TODAY, note="登記事項証明書")
    assert legal_status_of(db_session, cast.org_a).established_on == D(2015, 10, 1)
    assert (event.action, event.state) == ("record_established", LegalState.REGISTERED)


def test_nintei_validity_is_computed_and_a_new_nintei_ends_the_tokurei(app_ctx, db_session, cast, admin):
    tokurei = record_certification(
        db_session, admin, cast.org_a, kind="tokurei_nintei", granted_on=D(2023, 4, 1), today=TODAY, notice_number="1"
    )
    assert tokurei.valid_until == D(2026, 3, 31)
    nintei = record_certification(
        db_session, admin, cast.org_a, kind="nintei", granted_on=D(2025, 9, 16), today=TODAY, notice_number="2"
    )
    assert nintei.valid_until == D(2030, 9, 15)
    assert (tokurei.status, tokurei.ended_on) == (RecordStatus.ENDED, D(2025, 9, 16))
    assert certification_on(db_session, cast.org_a.id, D(2025, 9, 15), SAITAMA) == tokurei
    assert certification_on(db_session, cast.org_a.id, D(2025, 9, 16), SAITAMA) == nintei


@pytest.mark.parametrize(
    ("kind", "existing", "fields", "message"),
    [
        ("tokurei_nintei", "nintei", {}, "一度だけ"),
        ("nintei", "nintei", {}, "有効な認定が既に"),
        ("muni_designation", None, {"municipality_code": "131016"}, "市町村を選んで"),
        ("pref_designation", "pref_designation", {}, "同じ指定"),
        ("nintei", None, {"notice_number": ""}, "通知の番号"),
    ],
)
def test_records_that_cannot_be(app_ctx, db_session, cast, admin, kind, existing, fields, message):
    if existing:
        record_certification(
            db_session, admin, cast.org_a, kind=existing, granted_on=D(2024, 4, 1), today=TODAY, notice_number="1"
        )
    values = {"notice_number": "9", **fields}
    with pytest.raises(CertificationError, match=message):
        record_certification(db_session, admin, cast.org_a, kind=kind, granted_on=D(2025, 4, 1), today=TODAY, **values)


def test_only_a_registered_npo_is_certified(app_ctx, db_session, admin, group):
    with pytest.raises(CertificationError, match="登記済みのNPO法人"):
        record_certification(db_session, admin, group, kind="nintei", granted_on=D(2025, 4, 1), today=TODAY)


def _nintei(db_session, admin, org, granted_on=D(2021, 7, 1)):
    return record_certification(
        db_session, admin, org, kind="nintei", granted_on=granted_on, today=TODAY, notice_number="3県協第7号"
    )


def test_renewal_granted_after_expiry_keeps_the_certification_without_a_gap(app_ctx, db_session, cast, admin, owner):
    old = _nintei(db_session, admin, cast.org_a)  # valid until 2026-06-30; Saitama window 2026-01-01…2026-03-30
    transition_record(db_session, owner, old, "file_renewal", effective_on=D(2026, 2, 1), today=TODAY, settings=SAITAMA)
    assert old.status is RecordStatus.RENEWAL_PENDING
    new = transition_record(
        db_session, admin, old, "grant_renewal", effective_on=D(2026, 8, 20), today=TODAY, notice_number="8県協第3号"
    )
    assert (new.granted_on, new.valid_until, new.previous_id) == (D(2026, 7, 1), D(2031, 6, 30), old.id)
    assert (old.status, old.renewal_decided_on) == (RecordStatus.RENEWED, D(2026, 8, 20))
    on = {day: certification_on(db_session, cast.org_a.id, day, SAITAMA) for day in (D(2026, 6, 30), D(2026, 7, 1))}
    assert on == {D(2026, 6, 30): old, D(2026, 7, 1): new}


def test_pending_renewal_counts_until_it_is_refused(app_ctx, db_session, cast, admin, owner):
    old = _nintei(db_session, admin, cast.org_a)
    transition_record(
        db_session, owner, old, "file_renewal", effective_on=D(2026, 3, 30), today=TODAY, settings=SAITAMA
    )
    assert certification_on(db_session, cast.org_a.id, D(2026, 8, 1), SAITAMA) == old  # 認定(更新審査中)
    transition_record(db_session, admin, old, "refuse_renewal", effective_on=D(2026, 9, 1), today=TODAY, note="不認定")
    assert old.status is RecordStatus.LAPSED
    assert certification_on(db_session, cast.org_a.id, D(2026, 8, 31), SAITAMA) == old
    assert certification_on(db_session, cast.org_a.id, D(2026, 9, 1), SAITAMA) is None


@pytest.mark.parametrize(
    ("settings", "day", "ok"),
    [
        (SAITAMA, D(2025, 12, 31), False),
        (SAITAMA, D(2026, 1, 1), True),
        (TOKYO, D(2025, 12, 30), True),
        (SAITAMA, D(2026, 3, 30), True),  # 2026-06-30 − 3 months
        (SAITAMA, D(2026, 3, 31), False),
    ],
)
def test_renewal_must_be_filed_in_the_window(app_ctx, db_session, cast, admin, settings, day, ok):
    record = _nintei(db_session, admin, cast.org_a, granted_on=D(2021, 7, 1))
    if ok:
        transition_record(db_session, admin, record, "file_renewal", effective_on=day, today=TODAY, settings=settings)
        assert record.renewal_filed_on == day
    else:
        with pytest.raises(CertificationError, match="更新申請は"):
            transition_record(
                db_session, admin, record, "file_renewal", effective_on=day, today=TODAY, settings=settings
            )


def test_tokurei_cannot_be_renewed_and_lapse_waits_for_expiry(app_ctx, db_session, cast, admin):
    tokurei = record_certification(
        db_session, admin, cast.org_a, kind="tokurei_nintei", granted_on=D(2023, 4, 1), today=TODAY, notice_number="1"
    )
    with pytest.raises(CertificationError, match="この種類"):
        transition_record(db_session, admin, tokurei, "file_renewal", effective_on=D(2025, 10, 1), today=TODAY)
    with pytest.raises(CertificationError, match="満了していません"):
        transition_record(db_session, admin, tokurei, "lapse", effective_on=D(2026, 3, 31), today=TODAY)
    transition_record(db_session, admin, tokurei, "lapse", effective_on=D(2026, 4, 1), today=TODAY)
    assert tokurei.status is RecordStatus.LAPSED


def test_revocation_ends_the_record_and_bars_reapplication_for_five_years(app_ctx, db_session, cast, admin):
    record = _nintei(db_session, admin, cast.org_a)
    transition_record(db_session, admin, record, "revoke", effective_on=D(2026, 3, 1), today=TODAY, note="67条")
    assert (record.status, record.revoked_on, record.ended_on) == (RecordStatus.REVOKED, D(2026, 3, 1), D(2026, 3, 1))
    assert certification_on(db_session, cast.org_a.id, D(2026, 2, 28), SAITAMA) == record
    assert certification_on(db_session, cast.org_a.id, D(2026, 3, 1), SAITAMA) is None
    assert reapplication_barred_until(records_of(db_session, cast.org_a.id)) == D(2031, 2, 28)


def test_designations_back_up_when_no_certification_holds(app_ctx, db_session, cast, admin):
    pref = record_certification(
        db_session, admin, cast.org_a, kind="pref_designation", granted_on=D(2022, 4, 1), today=TODAY
    )
    muni = record_certification(
        db_session,
        admin,
        cast.org_a,
        kind="muni_designation",
        granted_on=D(2022, 4, 1),
        today=TODAY,
        municipality_code="202029",
    )
    assert certification_on(db_session, cast.org_a.id, D(2022, 3, 31), SAITAMA) is None
    assert certification_on(db_session, cast.org_a.id, D(2024, 1, 1), SAITAMA) == pref
    nintei = _nintei(db_session, admin, cast.org_a, granted_on=D(2024, 6, 1))
    assert certification_on(db_session, cast.org_a.id, D(2024, 6, 1), SAITAMA) == nintei
    transition_record(db_session, admin, pref, "end", effective_on=D(2025, 1, 1), today=TODAY, note="取下げ")
    assert certification_on(db_session, cast.org_a.id, D(2031, 1, 1), SAITAMA) == muni
    assert muni.kind is RecordKind.MUNI_DESIGNATION


def test_records_are_checked_by_the_database_too(db_session, cast):
    db_session.add(
        CertificationRecord(organisation_id=cast.org_a.id, kind="nintei", granted_on=D(2024, 1, 1), valid_until=None)
    )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_filing_is_recorded_once_per_year_and_can_be_corrected(app_ctx, db_session, cast, owner):
    record_filing(db_session, owner, cast.org_a, fiscal_year_end=D(2026, 3, 31), filed_on=D(2026, 7, 2), today=TODAY)
    record_filing(db_session, owner, cast.org_a, fiscal_year_end=D(2026, 3, 31), filed_on=D(2026, 6, 30), today=TODAY)
    assert filings_of(db_session, cast.org_a.id) == {D(2026, 3, 31): D(2026, 6, 30)}


@pytest.mark.parametrize(
    ("fy_end", "filed_on", "message"),
    [
        (D(2026, 2, 28), D(2026, 5, 1), "末日"),
        (D(2026, 3, 30), D(2026, 5, 1), "末日"),
        (D(2026, 3, 31), D(2026, 3, 31), "終わってから"),
        (D(2026, 3, 31), D(2026, 12, 2), "未来"),
    ],
)
def test_filing_dates_are_checked(app_ctx, db_session, cast, owner, fy_end, filed_on, message):
    with pytest.raises(CertificationError, match=message):
        record_filing(db_session, owner, cast.org_a, fiscal_year_end=fy_end, filed_on=filed_on, today=TODAY)


def test_revenue_figures(app_ctx, db_session, cast, owner):
    row = record_revenue(
        db_session,
        owner,
        cast.org_a,
        fiscal_year_end=D(2026, 3, 31),
        total_revenue_yen=5_000_000,
        excluded_revenue_yen=1_000_000,
    )
    assert (row.total_revenue_yen, row.excluded_revenue_yen, row.subsidy_yen) == (5_000_000, 1_000_000, None)
    with pytest.raises(CertificationError, match="総収入金額を超えて"):
        record_revenue(
            db_session, owner, cast.org_a, fiscal_year_end=D(2026, 3, 31), total_revenue_yen=1, excluded_revenue_yen=2
        )
    with pytest.raises(CertificationError, match="内数"):
        record_revenue(
            db_session,
            owner,
            cast.org_a,
            fiscal_year_end=D(2026, 3, 31),
            total_revenue_yen=10,
            excluded_revenue_yen=2,
            subsidy_yen=3,
        )


def test_revenue_and_reminders_are_constrained_in_the_database(db_session, cast):
    db_session.add(
        FiscalRevenue(
            organisation_id=cast.org_a.id, fiscal_year_end=D(2026, 3, 31), total_revenue_yen=1, excluded_revenue_yen=2
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
    for _ in range(2):
        db_session.add(ReminderSent(organisation_id=cast.org_a.id, key="expiry:1:2026-05-01", sent_on=D(2026, 5, 1)))
    with pytest.raises(IntegrityError):
        db_session.flush()
