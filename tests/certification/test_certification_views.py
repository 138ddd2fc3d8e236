"""The members' status page and the staff page: what they show and what they record."""

from __future__ import annotations

import re
from datetime import date

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from kyodo_fund.audit import Actor
from kyodo_fund.certification.models import (
    AnnualFiling,
    CertificationRecord,
    FiscalRevenue,
    LegalState,
    LegalStatus,
    RecordStatus,
)
from kyodo_fund.certification.services import record_certification
from tests.conftest import csrf_from
from tests.factories import make_project

D = date


def _post(client, url, data):
    token = csrf_from(client.get("/").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def _soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _text(response) -> str:
    return " ".join(_soup(response).get_text(" ").split())


def _registered(db_session, org, established_on=D(2020, 10, 1)):
    status = LegalStatus(organisation_id=org.id, status=LegalState.REGISTERED, established_on=established_on)
    db_session.add(status)
    db_session.flush()
    return status


def test_applied_group_sees_the_statutory_timeline_and_the_next_deadline(db_session, cast, sign_in, june_2026):
    db_session.add(
        LegalStatus(organisation_id=cast.org_a.id, status=LegalState.APPLIED, application_received_on=D(2026, 4, 1))
    )
    response = sign_in(cast.owner_a).get("/orgs/npo-a/status")
    assert response.status_code == 200
    text = _text(response)
    for expected in ("申請の受理: 2026-04-01", "補正期限: 2026-04-08", "縦覧（公衆の閲覧）の終了: 2026-04-15"):
        assert expected in text
    next_box = _soup(response).select_one(".cert-next")
    assert "2026-06-15" in next_box.get_text() and "あと5日" in next_box.get_text()
    # Members may withdraw their own application but not record the prefecture's decision.
    buttons = {b["value"] for b in _soup(response).select("form.cert-step button[name=action]")}
    assert buttons == {"withdraw"}


def test_registered_npo_sees_filings_alerts_and_eligibility(db_session, cast, sign_in, june_2026):
    _registered(db_session, cast.org_a, D(2020, 10, 1))
    # FY2021 late, FY2022 unfiled for more than 3 years, FY2023–FY2025 on time.
    for fy_end, filed_on in {
        D(2021, 3, 31): D(2021, 7, 15),
        D(2023, 3, 31): D(2023, 6, 1),
        D(2024, 3, 31): D(2024, 6, 1),
        D(2025, 3, 31): D(2025, 6, 30),
    }.items():
        db_session.add(AnnualFiling(organisation_id=cast.org_a.id, fiscal_year_end=fy_end, filed_on=filed_on))
    response = sign_in(cast.owner_a).get("/orgs/npo-a/status")
    soup = _soup(response)
    rows = [[td.get_text(strip=True) for td in tr.select("td")] for tr in soup.select("#filings tbody tr")]
    assert rows[0] == ["2026-03-31", "2026-06-30", "—", "提出期限前"]
    assert ["2025-03-31", "2025-06-30", "2025-06-30", "期限内に提出"] in rows
    assert ["2022-03-31", "2022-06-30", "—", "3年以上未提出：認証取消対象"] in rows
    assert ["2021-03-31", "2021-06-30", "2021-07-15", "期限後に提出"] in rows
    assert len(soup.select("#filings tr.cert-late")) == 2
    text = _text(response)
    assert "認証取消の対象になります" in text
    # The judging period (FY2024, FY2025) is clean, so only age and history decide.
    assert "いま認定・特例認定を申請しても認められません" not in text
    assert "特例認定 いまは申請できません：設立から5年以上たっています" in text
    assert "認定 日付の要件は満たしています" in text


def test_a_late_report_in_the_judging_period_blocks_an_application(db_session, cast, sign_in, june_2026):
    _registered(db_session, cast.org_a, D(2022, 10, 1))
    db_session.add(AnnualFiling(organisation_id=cast.org_a.id, fiscal_year_end=D(2025, 3, 31), filed_on=D(2025, 7, 1)))
    text = _text(sign_in(cast.owner_a).get("/orgs/npo-a/status"))
    assert "いま認定・特例認定を申請しても認められません" in text
    assert "実績判定期間に期限後に提出した（又は未提出の）事業報告書等があります" in text


def test_members_record_a_filing_and_revenue(db_session, cast, sign_in, june_2026):
    _registered(db_session, cast.org_a)
    client = sign_in(cast.staff_a)
    response = _post(
        client, "/orgs/npo-a/status/filings", {"filing-fiscal_year_end": "2026-03-31", "filing-filed_on": "2026-06-05"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/orgs/npo-a/status#filings")
    filing = db_session.scalar(select(AnnualFiling).where(AnnualFiling.organisation_id == cast.org_a.id))
    assert (filing.fiscal_year_end, filing.filed_on, filing.recorded_by_id) == (
        D(2026, 3, 31),
        D(2026, 6, 5),
        cast.staff_a.id,
    )
    bad = _post(
        client,
        "/orgs/npo-a/status/revenue",
        {
            "revenue-fiscal_year_end": "2026-03-31",
            "revenue-total_revenue_yen": "100",
            "revenue-excluded_revenue_yen": "200",
        },
    )
    assert bad.status_code == 200
    error = _soup(bad).select_one("#revenue-excluded_revenue_yen-error")
    # staff_a reads English (User.locale), so the error comes from the English catalogue.
    assert error is not None and "exceeds the total revenue" in error.get_text()
    assert db_session.scalar(select(FiscalRevenue)) is None


def test_the_pst_chart_is_plain_svg_with_a_table_equivalent(db_session, cast, sign_in, june_2026, give):
    _registered(db_session, cast.org_a)
    project = make_project(db_session, cast.org_a)
    give(project, D(2024, 5, 1), 3_000, "山田花子", "長野市1")
    give(project, D(2025, 5, 1), 1_000, "山田花子", "長野市1")
    response = sign_in(cast.owner_a).get("/orgs/npo-a/status")
    html = response.get_data(as_text=True)
    soup = _soup(response)
    svg = soup.select_one("#pst svg[role=img]")
    assert svg is not None and svg.select_one("title").get_text() and svg.select_one("desc").get_text()
    assert len(svg.select("rect.pst-bar")) == 2  # FY2024 and FY2025
    table = soup.select_one("#pst table")
    assert [td.get_text(strip=True) for td in table.select("tbody tr td")][:3] == ["2024-04-01〜2025-03-31", "12", "1"]
    # The CSP forbids inline script and inline style.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html
    assert "基金」1者からの寄附として数えます" in _text(response)


def test_owner_files_a_renewal_and_staff_see_it(db_session, cast, sign_in, time_machine):
    time_machine.move_to("2026-02-01 09:00 +09:00", tick=False)
    _registered(db_session, cast.org_a)
    record = record_certification(
        db_session,
        Actor(cast.admin),
        cast.org_a,
        kind="nintei",
        granted_on=D(2021, 7, 1),
        today=D(2026, 2, 1),
        notice_number="3県協第7号",
    )
    client = sign_in(cast.owner_a)
    page = client.get("/orgs/npo-a/status")
    assert "認定の更新申請期間" in _text(page) and "2026-03-30" in _soup(page).select_one(".cert-next").get_text()
    response = _post(
        client,
        "/orgs/npo-a/status/step",
        {"step": f"r{record.id}", "action": "file_renewal", f"r{record.id}-effective_on": "2026-01-20"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    db_session.expire_all()
    assert db_session.get(CertificationRecord, record.id).status is RecordStatus.RENEWAL_PENDING
    staff_page = sign_in(cast.reviewer).get("/admin/orgs/npo-a/certification")
    assert "更新審査中" in _text(staff_page)


def test_a_bad_step_shows_its_error_next_to_its_own_form(db_session, cast, sign_in, june_2026):
    db_session.add(LegalStatus(organisation_id=cast.org_a.id, status=LegalState.NIN_I))
    response = _post(
        sign_in(cast.owner_a),
        "/orgs/npo-a/status/step",
        {"step": "legal", "action": "apply", "legal-effective_on": "2026-07-01"},
    )
    assert response.status_code == 200
    assert "未来の日付は記録できません" in _soup(response).select_one("#legal-effective_on-error").get_text()


def test_admin_records_a_certification_notice(db_session, cast, sign_in, june_2026):
    _registered(db_session, cast.org_a)
    client = sign_in(cast.admin)
    response = _post(
        client,
        "/admin/orgs/npo-a/certification",
        {"op": "record", "new-kind": "nintei", "new-granted_on": "2026-05-01", "new-notice_number": "8県協第1号"},
    )
    assert response.status_code == 302
    record = db_session.scalar(select(CertificationRecord).where(CertificationRecord.organisation_id == cast.org_a.id))
    assert (record.valid_until, record.notice_number) == (D(2031, 4, 30), "8県協第1号")
    page = client.get("/admin/orgs/npo-a/certification")
    assert "2031-04-30" in _text(page)
    # The admin now sees the record's steps: revoke needs a reason.
    no_reason = _post(
        client,
        "/admin/orgs/npo-a/certification",
        {"step": f"r{record.id}", "action": "revoke", f"r{record.id}-effective_on": "2026-06-01"},
    )
    assert no_reason.status_code == 200
    assert "理由を入力してください" in _soup(no_reason).select_one(f"#r{record.id}-note-error").get_text()


def test_reviewers_read_the_staff_page_without_any_form(db_session, cast, sign_in, june_2026):
    _registered(db_session, cast.org_a)
    page = sign_in(cast.reviewer).get("/admin/orgs/npo-a/certification")
    assert page.status_code == 200
    assert _soup(page).select("main form") == []
    assert "閲覧のみです" in _text(page)


@pytest.mark.parametrize(("visitor", "shown"), [("reviewer", True), ("admin", True)])
def test_dashboard_links_the_deadlines(cast, sign_in, visitor, shown):
    page = sign_in(cast.user(visitor)).get("/admin/")
    assert (_soup(page).select_one('a[href="/admin/certification/deadlines"]') is not None) is shown


def test_other_legal_forms_have_no_legal_status(db_session, cast, sign_in, june_2026):
    from kyodo_fund.orgs.data import LegalForm

    cast.org_a.legal_form = LegalForm.IPPAN_SHADAN
    response = sign_in(cast.owner_a).get("/orgs/npo-a/status")
    assert response.status_code == 200
    assert "NPO法による認証・認定の手続きはありません" in _text(response)
    assert _soup(response).select("main form") == []


def test_a_new_group_can_record_its_application_itself(db_session, cast, sign_in, june_2026):
    from kyodo_fund.orgs.data import LegalForm

    cast.org_a.legal_form, cast.org_a.corporate_number = LegalForm.NIN_I, None
    client = sign_in(cast.owner_a)
    page = client.get("/orgs/npo-a/status")
    assert {b["value"] for b in _soup(page).select("form.cert-step button[name=action]")} == {"apply"}
    response = _post(
        client, "/orgs/npo-a/status/step", {"step": "legal", "action": "apply", "legal-effective_on": "2026-06-01"}
    )
    assert response.status_code == 302
    status = db_session.scalar(select(LegalStatus).where(LegalStatus.organisation_id == cast.org_a.id))
    assert (status.status, status.application_received_on) == (LegalState.APPLIED, D(2026, 6, 1))
    text = _text(client.get("/orgs/npo-a/status"))
    assert "縦覧（公衆の閲覧）の終了: 2026-06-15" in text and "設立認証申請中" in text


def test_a_record_of_another_organisation_answers_404(db_session, cast, sign_in, june_2026):
    other = CertificationRecord(
        organisation_id=cast.org_b.id, kind="nintei", granted_on=D(2021, 7, 1), valid_until=D(2026, 6, 30)
    )
    db_session.add(other)
    db_session.flush()
    response = _post(
        sign_in(cast.owner_a),
        "/orgs/npo-a/status/step",
        {"step": f"r{other.id}", "action": "file_renewal", f"r{other.id}-effective_on": "2026-01-10"},
    )
    assert response.status_code == 404
    bad_prefix = _post(sign_in(cast.owner_a), "/orgs/npo-a/status/step", {"step": "x1", "action": "apply"})
    assert bad_prefix.status_code == 404
    db_session.expire_all()
    assert db_session.get(CertificationRecord, other.id).status is RecordStatus.ACTIVE
