"""The administrators' donation list (filters, totals, what reviewers see), its audited CSV export and the
ledger balances page."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.models import Channel, Donation, DonationStatus, PaymentMethod
from kyodo_fund.donations.offline import pay_grant
from tests.donations.offline_support import sign_in
from tests.factories import make_offline_donation, make_org, make_project, make_user


@pytest.fixture
def data(db_session):
    org = make_org(db_session, name="信州こども応援団")
    project = make_project(db_session, org, slug="kodomo-shokudo", title="子ども食堂")
    other = make_project(db_session, org, slug="yuki-kaki", title="雪かき支援")
    make_offline_donation(db_session, project, received_on=date(2025, 4, 10), amount_yen=10_000, donor_name="春山 一郎")
    make_offline_donation(db_session, other, received_on=date(2025, 6, 1), amount_yen=3_000, donor_name="夏川 二郎")
    make_offline_donation(db_session, None, received_on=date(2025, 8, 1), amount_yen=2_000, donor_name="秋野 三郎")
    online = Donation(
        public_id="d" * 32,
        project_id=project.id,
        channel=Channel.ONLINE,
        method=PaymentMethod.CARD,
        status=DonationStatus.PAID,
        amount_yen=5_000,
        received_on=date(2025, 9, 1),
        donor_name='=HYPERLINK("http://evil")',
        donor_email="fuyu@example.jp",
    )
    db_session.add(online)
    db_session.flush()
    return {"project": project, "other": other, "org": org}


@pytest.fixture
def admin(db_session):
    return make_user(db_session, "kanri@example.jp", role=UserRole.ADMIN)


@pytest.fixture
def reviewer(db_session):
    return make_user(db_session, "shinsa@example.jp", role=UserRole.REVIEWER)


def test_the_list_filters_and_totals(app, db_session, data, admin):
    client = sign_in(app, db_session, admin)
    everything = client.get("/admin/donations/").get_data(as_text=True)
    assert all(name in everything for name in ("春山 一郎", "夏川 二郎", "秋野 三郎", "fuyu@example.jp"))
    assert "¥20,000" in everything  # total of the four gifts

    offline = client.get("/admin/donations/?channel=offline&project=kodomo-shokudo").get_data(as_text=True)
    assert "春山 一郎" in offline and "夏川 二郎" not in offline and "fuyu@example.jp" not in offline
    general = client.get("/admin/donations/?project=_general").get_data(as_text=True)
    assert "秋野 三郎" in general and "春山 一郎" not in general
    dated = client.get("/admin/donations/?since=2025-05-01&until=2025-08-31").get_data(as_text=True)
    assert "夏川 二郎" in dated and "秋野 三郎" in dated and "春山 一郎" not in dated
    searched = client.get("/admin/donations/?q=FUYU@").get_data(as_text=True)
    assert "fuyu@example.jp" in searched and "春山 一郎" not in searched
    nonsense = client.get("/admin/donations/?status=bogus&since=yesterday")
    assert nonsense.status_code == 200 and "春山 一郎" in nonsense.get_data(as_text=True)


def test_admins_see_the_buttons_reviewers_do_not(app, db_session, data, admin, reviewer):
    admin_page = sign_in(app, db_session, admin).get("/admin/donations/").get_data(as_text=True)
    reviewer_page = sign_in(app, db_session, reviewer).get("/admin/donations/").get_data(as_text=True)
    for link in ("/admin/donations/import", "/admin/donations/offline/new", "/admin/donations/export.csv"):
        assert link in admin_page
        assert link not in reviewer_page
    assert "春山 一郎" in reviewer_page
    grants = sign_in(app, db_session, reviewer).get("/admin/projects/kodomo-shokudo/grants").get_data(as_text=True)
    assert "/grants/new" not in grants


def test_the_refund_link_appears_only_when_the_online_helpers_page_exists(app, db_session, data, admin):
    page = sign_in(app, db_session, admin).get("/admin/donations/").get_data(as_text=True)
    has_refund = "donations.admin_refund" in app.view_functions
    assert (f"/{'d' * 32}" in page) == has_refund


def test_the_export_is_the_filtered_list_and_is_audited(app, db_session, data, admin):
    client = sign_in(app, db_session, admin)
    response = client.get("/admin/donations/export.csv?channel=offline")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert sorted(r["donor_name"] for r in rows) == ["夏川 二郎", "春山 一郎", "秋野 三郎"]
    assert {r["project"] for r in rows} == {"kodomo-shokudo", "yuki-kaki", ""}
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "donations.exported"))
    assert entry.actor_id == admin.id and entry.after == {"filters": {"channel": "offline"}, "rows": 3}


def test_the_export_defuses_spreadsheet_formulas(app, db_session, data, admin):
    response = sign_in(app, db_session, admin).get("/admin/donations/export.csv?channel=online")
    [only] = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert only["donor_name"] == '\'=HYPERLINK("http://evil")'


def test_the_ledger_page_shows_funds_fees_and_grants(app, db_session, data, admin, reviewer):
    pay_grant(
        db_session, Actor(admin), data["project"], amount_yen=4_000, paid_on=date(2025, 5, 1), bank_reference="B-1"
    )
    page = sign_in(app, db_session, reviewer).get("/admin/ledger").get_data(as_text=True)
    # Only the offline gifts were posted (the hand-made online row has no ledger group).
    assert "¥5,000" in page  # 子ども食堂: 9,000 − 4,000 granted
    assert "¥7,700" in page  # all project funds: 5,000 + 2,700 (雪かき支援)
    assert "¥1,800" in page  # the general fund
    assert "¥4,000" in page and "信州こども応援団" in page  # granted to the organisation
    assert "¥1,500" in page  # platform fees: 1,000 + 300 + 200
    assert "子ども食堂" in page and "/admin/projects/kodomo-shokudo/grants" in page
