"""Fixtures for the receipts tests: the issuer configured per test, gifts, signed-in clients, PDF text."""

from __future__ import annotations

import copy
import io
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from tests.conftest import login
from tests.factories import make_donation, make_org, make_project

PDFTOTEXT = "/usr/bin/pdftotext" if os.path.exists("/usr/bin/pdftotext") else shutil.which("pdftotext")

#: The issuer configuration of each kind, complete enough to issue (receipts-and-tax.md §1).
ISSUERS = {
    "nintei_npo": {
        "kind": "nintei_npo",
        "name": "特定非営利活動法人 信州みどりの会",
        "address": "長野県長野市大字南長野字幅下692-2",
        "representative": "理事長 山田太郎",
        "certification_number": "長野県指令5地域第123号",
        "certified_on": "2023-04-01",
        "certification_expires_on": "2028-03-31",
    },
    "koeki_cert": {
        "kind": "koeki_cert",
        "name": "公益財団法人長野県みらい基金",
        "address": "長野県長野市大字南長野字幅下692-2",
        "tax_credit_cert_number": "府益第456号",
        "tax_credit_cert_date": "2024-06-01",
    },
    "koeki": {"kind": "koeki", "name": "公益財団法人長野県みらい基金", "address": "長野県長野市大字南長野字幅下692-2"},
    "jorei_npo": {
        "kind": "jorei_npo",
        "name": "特定非営利活動法人 信州みどりの会",
        "address": "長野県長野市大字南長野字幅下692-2",
        "pref_designated_from": "2020-10-19",
    },
    "plain": {"kind": "plain", "name": "信州ボランティアの会", "address": "長野県松本市丸の内3-7"},
}


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes) -> str:
    """All text of a PDF with whitespace removed; pdftotext's too when it is installed (both must agree)."""
    text = squeeze("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    if PDFTOTEXT:
        out = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
        poppler = squeeze(out.stdout.decode("utf-8"))
        return text + "\n" + poppler
    return text


@pytest.fixture
def configure_issuer(app):
    """``configure_issuer("koeki_cert", **changes)`` sets RECEIPT_ISSUER for this test only."""
    original = copy.deepcopy(app.config["RECEIPT_ISSUER"])

    def _configure(kind: str = "koeki", **changes):
        app.config["RECEIPT_ISSUER"] = {**ISSUERS[kind], "receipt_date_basis": "settlement", **changes}
        return app.config["RECEIPT_ISSUER"]

    yield _configure
    app.config["RECEIPT_ISSUER"] = original


@pytest.fixture
def project(db_session):
    return make_project(db_session, make_org(db_session), title="信州の森づくりプロジェクト", activity_category=7)


@pytest.fixture
def gift(db_session, project):
    """``gift(**fields)``: a paid per-donation gift to ``project`` (``project=None`` for the general pool)."""

    def _gift(**fields):
        target = fields.pop("project", project)
        paid_at = fields.pop("paid_at", datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
        fields.setdefault("donor_name", "信濃 花子")
        fields.setdefault("donor_address", "長野県松本市丸の内3-7")
        fields.setdefault("donor_postal_code", "390-0873")
        return make_donation(
            db_session,
            target,
            paid_at=paid_at,
            received_on=fields.pop("received_on", paid_at.date() if paid_at else None),
            **fields,
        )

    return _gift


@pytest.fixture
def sign_in(app, db_session):
    """``sign_in(user)`` → a test client logged in through the real login form."""

    def _sign_in(user):
        db_session.commit()
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return client

    return _sign_in
