"""The administrators' web import: upload → report or preview (nothing written) → confirm → result."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.donations.models import Donation, DonationImport
from tests.donations.offline_support import csv_bytes, row, sign_in, token_of, upload
from tests.factories import make_org, make_project, make_user

URL = "/admin/donations/import"


@pytest.fixture
def admin_client(app, db_session):
    make_project(db_session, make_org(db_session), slug="kodomo-shokudo", title="子ども食堂")
    return sign_in(app, db_session, make_user(db_session, role=UserRole.ADMIN))


@pytest.fixture(autouse=True)
def no_pending_uploads(app):
    # Uploads other tests left waiting for confirmation share the folder.
    for path in stashed(app):
        path.unlink()


def donations(session) -> int:
    return session.scalar(select(func.count()).select_from(Donation))


def stashed(app) -> list:
    from pathlib import Path

    folder = Path(app.config["UPLOAD_DIR"]) / "donation_imports"
    return sorted(folder.glob("*.csv")) if folder.exists() else []


def step(client, name: str, token: str | None):
    data = {"csrf_token": token_of(client, URL), "step": name}
    if token is not None:
        data["token"] = token
    return client.post(URL, data=data)


def pending_token(client) -> str:
    with client.session_transaction() as session:
        return session["donation_import"]["token"]


def test_upload_previews_then_confirm_imports_and_shows_the_result(app, admin_client, db_session):
    data = csv_bytes(row(project="kodomo-shokudo"), row(amount_yen=2500))
    preview = upload(admin_client, data)
    page = preview.get_data(as_text=True)

    assert preview.status_code == 200
    assert "取り込みの確認" in page and "2件を取り込む" in page and "子ども食堂" in page and "¥12,500" in page
    assert donations(db_session) == 0
    assert len(stashed(app)) == 1

    done = step(admin_client, "confirm", pending_token(admin_client))
    assert done.status_code == 302 and "done=" in done.headers["Location"]
    result = admin_client.get(done.headers["Location"]).get_data(as_text=True)
    assert "取り込みました" in result and "gifts.csv" in result
    assert donations(db_session) == 2
    assert stashed(app) == []
    with admin_client.session_transaction() as session:
        assert "donation_import" not in session


def test_an_invalid_file_shows_every_row_numbered_error_and_keeps_nothing(app, admin_client, db_session):
    response = upload(admin_client, csv_bytes(row(), row(amount_yen="12.5"), row(project="nope")))
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "2件のエラーがあります。何も取り込んでいません。" in page
    assert "3行目（見出しを1行目とする）: amount_yen: 小数は使えません: 12.5" in page
    assert "4行目（見出しを1行目とする）: project: 事業「nope」が見つかりません。" in page
    assert "取り込む</button>" not in page
    assert stashed(app) == [] and donations(db_session) == 0


def test_confirm_needs_the_token_of_this_browsers_upload(app, admin_client, db_session):
    upload(admin_client, csv_bytes(row()))
    wrong = step(admin_client, "confirm", "0" * 32)
    assert wrong.status_code == 302
    assert donations(db_session) == 0
    # A path instead of a token is never read from disk.
    step(admin_client, "confirm", "../../etc/passwd")
    assert donations(db_session) == 0
    assert step(admin_client, "confirm", pending_token(admin_client)).status_code == 302
    assert donations(db_session) == 1


def test_cancel_drops_the_upload(app, admin_client, db_session):
    upload(admin_client, csv_bytes(row()))
    token = pending_token(admin_client)
    assert step(admin_client, "cancel", token).status_code == 302
    assert stashed(app) == []
    assert step(admin_client, "confirm", token).status_code == 302
    assert donations(db_session) == 0


def test_confirming_twice_or_re_uploading_the_same_file_adds_nothing(app, admin_client, db_session):
    data = csv_bytes(row(), row(amount_yen=1))
    upload(admin_client, data)
    token = pending_token(admin_client)
    step(admin_client, "confirm", token)
    step(admin_client, "confirm", token)  # a double click or a replayed POST
    assert donations(db_session) == 2

    again = upload(admin_client, data).get_data(as_text=True)
    assert "取り込み済みのため追加しない行" in again and "取り込む</button>" not in again
    step(admin_client, "confirm", pending_token(admin_client))
    assert donations(db_session) == 2
    assert [b.rows_imported for b in db_session.scalars(select(DonationImport).order_by(DonationImport.id))] == [2, 0]


def test_a_second_upload_replaces_the_first_pending_one(app, admin_client, db_session):
    upload(admin_client, csv_bytes(row()))
    upload(admin_client, csv_bytes(row(amount_yen=7), row(amount_yen=8)))
    assert len(stashed(app)) == 1
    step(admin_client, "confirm", pending_token(admin_client))
    assert sorted(d.amount_yen for d in db_session.scalars(select(Donation))) == [7, 8]


def test_a_post_without_a_file_shows_the_form_error(admin_client):
    response = admin_client.post(URL, data={"csrf_token": token_of(admin_client, URL), "step": "upload"})
    assert response.status_code == 200
    assert "ファイルを選んでください。" in response.get_data(as_text=True)


def test_a_token_that_is_not_ascii_is_just_refused(admin_client, db_session):
    upload(admin_client, csv_bytes(row()))
    assert step(admin_client, "confirm", "寄附寄附").status_code == 302
    assert donations(db_session) == 0


def test_files_too_big_for_a_web_request_are_sent_to_the_cli(app, admin_client, db_session, monkeypatch):
    from kyodo_fund.donations import admin_views

    monkeypatch.setattr(admin_views, "WEB_MAX_ROWS", 2)
    page = upload(admin_client, csv_bytes(row(), row(amount_yen=2), row(amount_yen=3))).get_data(as_text=True)
    assert "flask donations import" in page and "取り込みの確認" not in page
    assert stashed(app) == []
