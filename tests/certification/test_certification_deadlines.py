"""The staff list of deadlines: which organisations show up, sorting, pagination and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from bs4 import BeautifulSoup

from kyodo_fund.certification.deadlines import load_facts, reminders_of
from kyodo_fund.certification.models import (
    AnnualFiling,
    CertificationRecord,
    LegalState,
    LegalStatus,
    RecordKind,
)
from kyodo_fund.certification.rules import CertificationSettings
from kyodo_fund.orgs.data import LegalForm
from tests.factories import make_org

D = date


@pytest.fixture
def landscape(db_session, cast):
    """On 2026-06-10: A holds a 認定 expiring 2026-06-30 whose renewal window closed unused, its FY2025 report is
    due 2026-06-30; B is 県指定 since 2022-04-01 (re-check window 2026-07-01…2026-09-01); a group applied on
    2026-04-01; a company (一般社団法人) has nothing to track."""
    a, b = cast.org_a, cast.org_b
    db_session.add(LegalStatus(organisation_id=a.id, status=LegalState.REGISTERED, established_on=D(2020, 10, 1)))
    for year in range(2021, 2026):
        db_session.add(AnnualFiling(organisation_id=a.id, fiscal_year_end=D(year, 3, 31), filed_on=D(year, 6, 1)))
    db_session.add(
        CertificationRecord(
            organisation_id=a.id, kind=RecordKind.NINTEI, granted_on=D(2021, 7, 1), valid_until=D(2026, 6, 30)
        )
    )
    db_session.add(LegalStatus(organisation_id=b.id, status=LegalState.REGISTERED))
    db_session.add(AnnualFiling(organisation_id=b.id, fiscal_year_end=D(2026, 3, 31), filed_on=D(2026, 5, 1)))
    db_session.add(
        CertificationRecord(organisation_id=b.id, kind=RecordKind.PREF_DESIGNATION, granted_on=D(2022, 4, 1))
    )
    group = make_org(db_session, slug="kumo", name="くもの会", legal_form=LegalForm.NIN_I, corporate_number=None)
    db_session.add(
        LegalStatus(organisation_id=group.id, status=LegalState.APPLIED, application_received_on=D(2026, 4, 1))
    )
    make_org(db_session, slug="shadan", name="一般社団", legal_form=LegalForm.IPPAN_SHADAN)
    db_session.flush()
    return a, b, group


def _rows(response) -> list[list[str]]:
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in soup.select("main tbody tr")]


def test_the_list_shows_overdue_and_upcoming_deadlines(cast, sign_in, landscape, june_2026):
    rows = _rows(sign_in(cast.reviewer).get("/admin/certification/deadlines"))
    summary = [(r[0], r[3], r[4]) for r in rows]
    assert summary == [
        ("NPO法人あさま", "2026-03-30", "期限超過"),  # renewal window, never used
        ("くもの会", "2026-04-08", "期限超過"),
        ("くもの会", "2026-06-15", "予定"),
        ("NPO法人あさま", "2026-06-30", "予定"),  # FY2025 report (kind sorts annual_report before expiry)
        ("NPO法人あさま", "2026-06-30", "予定"),
        ("NPO法人びわこ", "2026-09-01", "予定"),
    ]
    assert "県指定の再確認の申請期間" in rows[-1][1] and rows[-1][2] == "2026-07-01"
    near = _rows(sign_in(cast.admin).get("/admin/certification/deadlines?within=30"))
    assert [r[3] for r in near] == ["2026-03-30", "2026-04-08", "2026-06-15", "2026-06-30", "2026-06-30"]


def test_sorting_filtering_and_pages(app, cast, sign_in, landscape, june_2026, monkeypatch):
    client = sign_in(cast.admin)
    by_org = _rows(client.get("/admin/certification/deadlines?sort=org&dir=desc"))
    assert [r[0] for r in by_org][:2] == ["くもの会", "くもの会"] and by_org[-1][0] == "NPO法人あさま"
    expiry = _rows(client.get("/admin/certification/deadlines?kind=expiry"))
    assert [(r[0], r[3]) for r in expiry] == [("NPO法人あさま", "2026-06-30")]
    monkeypatch.setitem(app.config, "PAGE_SIZE", 4)
    second = client.get("/admin/certification/deadlines?page=2")
    assert [r[3] for r in _rows(second)] == ["2026-06-30", "2026-09-01"]
    assert "2 / 2 ページ（全6件）" in second.get_data(as_text=True)


def test_csv_export_has_every_row_and_is_safe_for_spreadsheets(db_session, cast, sign_in, landscape, june_2026):
    cast.org_b.name = "=HYPERLINK(1)"
    response = sign_in(cast.admin).get("/admin/certification/deadlines?format=csv&page=2")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=certification-deadlines-2026-06-10.csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["団体名", "URL用の英字名", "期限の種類", "開始日", "期限", "状況", "残り日数"]
    assert len(rows) == 7
    assert rows[1][1:] == ["npo-a", "認定の更新申請期間", "2026-01-01", "2026-03-30", "期限超過", "-72"]
    assert rows[-1][0] == "'=HYPERLINK(1)"


def test_reminders_follow_both_renewal_conventions(db_session, cast):
    record = CertificationRecord(
        organisation_id=cast.org_a.id, kind=RecordKind.NINTEI, granted_on=D(2012, 9, 16), valid_until=D(2017, 9, 15)
    )
    db_session.add(
        LegalStatus(organisation_id=cast.org_a.id, status=LegalState.REGISTERED, established_on=D(2010, 1, 1))
    )
    db_session.add(record)
    db_session.flush()
    facts = load_facts(db_session, [cast.org_a])[0]
    facts.filings = {D(y, 3, 31): D(y, 5, 1) for y in range(2010, 2018)}
    tokyo = CertificationSettings(renewal_open="expiry_minus_6m")
    saitama = CertificationSettings()
    keys = {
        (name, day): [r.key for r in reminders_of(facts, day, s, expiry_days=60, catch_up_days=0)]
        for name, s in (("tokyo", tokyo), ("saitama", saitama))
        for day in (D(2017, 3, 15), D(2017, 3, 16), D(2017, 5, 16), D(2017, 7, 17))
    }
    assert keys[("tokyo", D(2017, 3, 15))] == [f"renewal_window_open:{record.id}:2017-03-15"]
    assert keys[("saitama", D(2017, 3, 16))] == [f"renewal_window_open:{record.id}:2017-03-16"]
    assert keys[("tokyo", D(2017, 5, 16))] == [f"renewal_window_closing:{record.id}:2017-05-16"]  # 30 days before 06-15
    assert keys[("saitama", D(2017, 7, 17))] == [f"expiry:{record.id}:2017-07-17"]  # 60 days before 09-15
    assert keys[("tokyo", D(2017, 3, 16))] == []
