"""The organisation's donation dashboard: per-project figures, the donor register (anonymous gifts show amount
and date only), fiscal years, grants received, and the audited CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.listings import fiscal_year_of, fiscal_year_range
from kyodo_fund.donations.offline import pay_grant
from tests.donations.offline_support import sign_in
from tests.factories import make_offline_donation, make_org, make_project, make_user


@pytest.fixture
def org_a(db_session):
    member = make_user(db_session, "member-a@example.jp")
    org = make_org(db_session, owner=member, slug="org-a", fiscal_year_end_month=3)
    project = make_project(db_session, org, slug="kodomo-shokudo", title="子ども食堂")
    make_offline_donation(
        db_session, project, received_on=date(2025, 3, 31), amount_yen=8_000, donor_name="前年 度子", address="飯田市1"
    )
    make_offline_donation(
        db_session, project, received_on=date(2025, 4, 1), amount_yen=10_000, donor_name="信州 花子", address="長野市2"
    )
    make_offline_donation(
        db_session,
        project,
        received_on=date(2025, 5, 5),
        amount_yen=700,
        anonymous=True,
        donor_name="箱の寄附者",
        address="秘密の住所",
        email="",
    )
    other_org = make_org(db_session, slug="org-b")
    make_offline_donation(db_session, make_project(db_session, other_org, slug="betsu"), donor_name="他団体 太郎")
    pay_grant(db_session, Actor(), project, amount_yen=9_000, paid_on=date(2025, 4, 20), bank_reference="G-77")
    return {"org": org, "member": member, "project": project}


def test_members_see_figures_register_and_grants(app, db_session, org_a):
    page = sign_in(app, db_session, org_a["member"]).get("/orgs/org-a/donations").get_data(as_text=True)
    assert "子ども食堂" in page
    assert "¥18,700" in page  # gross of the three gifts
    assert "信州 花子" in page and "長野市2" in page and "前年 度子" in page
    assert "箱の寄附者" not in page and "秘密の住所" not in page and "¥700" in page
    assert "他団体 太郎" not in page
    assert "G-77" in page and "¥9,000" in page
    # 18,700 − 10 % platform fee (800 + 1,000 + 70) − 9,000 granted
    assert "¥7,830" in page


def test_a_fiscal_year_selects_the_register_of_that_year(app, db_session, org_a):
    page = sign_in(app, db_session, org_a["member"]).get("/orgs/org-a/donations?fy=2025").get_data(as_text=True)
    assert "2025-04-01 〜 2026-03-31" in page
    assert "信州 花子" in page and "前年 度子" not in page


def test_the_csv_is_the_donor_register_and_is_audited(app, db_session, org_a):
    client = sign_in(app, db_session, org_a["member"])
    response = client.get("/orgs/org-a/donations/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [(r["受入年月日"], r["寄附金額"], r["氏名"], r["住所"]) for r in rows] == [
        ("2025-03-31", "8000", "前年 度子", "飯田市1"),
        ("2025-04-01", "10000", "信州 花子", "長野市2"),
        ("2025-05-05", "700", "", ""),
    ]
    assert {r["事業"] for r in rows} == {"子ども食堂"}
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "donations.org_exported"))
    assert (entry.actor_id, entry.object_type, entry.object_id) == (
        org_a["member"].id,
        "Organisation",
        str(org_a["org"].id),
    )
    assert entry.after["rows"] == 3


def test_the_csv_follows_the_fiscal_year(app, db_session, org_a):
    response = sign_in(app, db_session, org_a["member"]).get("/orgs/org-a/donations/export.csv?fy=2024")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["氏名"] for r in rows] == ["前年 度子"]
    assert "2024" in response.headers["Content-Disposition"]


def test_members_of_another_organisation_get_404(app, db_session, org_a):
    outsider = make_user(db_session, "member-b@example.jp")
    make_org(db_session, owner=outsider, slug="org-c")
    client = sign_in(app, db_session, outsider)
    assert client.get("/orgs/org-a/donations").status_code == 404
    assert client.get("/orgs/org-a/donations/export.csv").status_code == 404
    assert client.get("/orgs/org-c/donations").status_code == 200


@pytest.mark.parametrize(
    ("end_month", "day", "fy", "first", "last"),
    [
        (3, date(2026, 3, 31), 2025, date(2025, 4, 1), date(2026, 3, 31)),
        (3, date(2026, 4, 1), 2026, date(2026, 4, 1), date(2027, 3, 31)),
        (12, date(2025, 12, 31), 2025, date(2025, 1, 1), date(2025, 12, 31)),
        (6, date(2025, 6, 30), 2024, date(2024, 7, 1), date(2025, 6, 30)),
    ],
)
def test_fiscal_years(end_month, day, fy, first, last):
    assert fiscal_year_of(day, end_month) == fy
    assert fiscal_year_range(fy, end_month) == (first, last)
