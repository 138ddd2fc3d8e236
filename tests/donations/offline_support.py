"""Helpers shared by the offline-gift, import, grant and dashboard tests: CSV files and signed-in clients."""

from __future__ import annotations

import io
from datetime import timedelta

from kyodo_fund.donations.imports import HEADER
from kyodo_fund.projects.models import today_in_tokyo
from tests.conftest import login

HEADER_LINE = ",".join(HEADER)


def yesterday() -> str:
    return (today_in_tokyo() - timedelta(days=1)).isoformat()


def row(**values: object) -> str:
    """One CSV data line: a valid named ¥10,000 bank transfer to the general fund unless overridden."""
    defaults = {
        "received_on": yesterday(),
        "amount_yen": "10000",
        "donor_name": "寄附 花子",
        "donor_kana": "キフ ハナコ",
        "postal_code": "380-8570",
        "address": "長野県長野市大字南長野1",
        "email": "hanako@example.jp",
        "household": "",
        "anonymous": "false",
        "method": "bank_transfer",
        "project": "",
    }
    defaults.update({k: str(v) for k, v in values.items()})
    assert set(defaults) == set(HEADER), "unknown column"
    return ",".join(_quote(defaults[c]) for c in HEADER)


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(ch in value for ch in ',"\n') else value


def csv_bytes(*lines: str, header: str = HEADER_LINE, bom: bool = False) -> bytes:
    text = "\r\n".join([header, *lines]) + "\r\n"
    return ("\ufeff" + text if bom else text).encode("utf-8")


def sign_in(app, db_session, user):
    """A test client signed in through the real login form (the login runs in its own request)."""
    db_session.commit()
    client = app.test_client()
    response = login(client, user.email)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def token_of(client, url: str) -> str:
    from tests.conftest import csrf_from

    return csrf_from(client.get(url).get_data(as_text=True))


def upload(client, data: bytes, filename: str = "gifts.csv"):
    """Step 1 of the web import: the file, as a browser posts it."""
    url = "/admin/donations/import"
    payload = {"csrf_token": token_of(client, url), "step": "upload", "csv_file": (io.BytesIO(data), filename)}
    return client.post(url, data=payload, content_type="multipart/form-data")
