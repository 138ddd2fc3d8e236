"""The administrator's form for one offline gift."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.donations.models import Channel, Donation, PaymentMethod
from kyodo_fund.ledger.services import project_balance
from kyodo_fund.projects.models import Project, today_in_tokyo
from tests.donations.offline_support import sign_in, token_of
from tests.factories import make_org, make_project, make_user

URL = "/admin/donations/offline/new"


@pytest.fixture
def project(db_session):
    return make_project(db_session, make_org(db_session), slug="kodomo-shokudo", title="子ども食堂")


@pytest.fixture
def admin_client(app, db_session, project):
    return sign_in(app, db_session, make_user(db_session, role=UserRole.ADMIN))


def form(**values):
    data = {
        "received_on": (today_in_tokyo() - timedelta(days=2)).isoformat(),
        "amount_yen": "12,000",
        "method": "bank_transfer",
        "project": "kodomo-shokudo",
        "donor_name": "振込 一郎",
        "donor_kana": "フリコミ イチロウ",
        "postal_code": "390-0001",
        "address": "長野県松本市1-1",
        "email": "ichiro@example.jp",
        "household": "",
        "receipt_preference": "per_donation",
    }
    data.update(values)
    return data


def post(client, **values):
    return client.post(URL, data={"csrf_token": token_of(client, URL), **form(**values)})


def test_the_form_shows_receiving_projects_and_the_purpose_notice(admin_client, db_session):
    make_project(db_session, make_org(db_session), slug="draft-one", status="draft")
    db_session.commit()
    page = admin_client.get(URL).get_data(as_text=True)
    assert "子ども食堂" in page and "draft-one" not in page
    assert "purpose-notice" in page and page.index("purpose-notice") < page.index("記録する</button>")


def test_recording_a_gift_books_it_and_redirects_to_the_offline_list(admin_client, db_session, project):
    response = post(admin_client)
    assert response.status_code == 302 and "channel=offline" in response.headers["Location"]
    donation = db_session.scalar(select(Donation))
    assert (donation.amount_yen, donation.channel, donation.method) == (
        12_000,
        Channel.OFFLINE,
        PaymentMethod.BANK_TRANSFER,
    )
    assert donation.project_id == project.id and donation.donor_name == "振込 一郎"
    assert project_balance(db_session, project.id) == 10_800
    listing = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "振込 一郎" in listing and "¥12,000" in listing


def test_the_general_fund_is_the_empty_choice(admin_client, db_session):
    assert post(admin_client, project="", method="cash").status_code == 302
    assert db_session.scalar(select(Donation.project_id)) is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"received_on": (today_in_tokyo() + timedelta(days=1)).isoformat()}, "受領日が未来の日付です"),
        ({"donor_name": ""}, "寄附者の氏名・名称を入力してください"),
        ({"amount_yen": "12.5"}, "金額は円単位の整数で入力してください"),
        ({"amount_yen": "0"}, "1円以上の金額を入力してください"),
        ({"postal_code": "123"}, "郵便番号は 123-4567 の形にしてください"),
        ({"email": "x@"}, "メールアドレスの形式が正しくありません"),
        ({"project": "not-offered"}, "選択肢が正しくありません"),
    ],
)
def test_bad_input_re_renders_with_the_error_and_writes_nothing(admin_client, db_session, project, values, expected):
    response = post(admin_client, **values)
    assert response.status_code == 200
    assert expected in response.get_data(as_text=True)
    assert db_session.scalar(select(Donation.id)) is None
    assert db_session.get(Project, project.id).raised_yen == 0


def test_an_anonymous_gift_without_a_name_is_accepted(admin_client, db_session):
    assert post(admin_client, donor_name="", email="", anonymous="y", method="cash").status_code == 302
    assert db_session.scalar(select(Donation.anonymous)) is True
