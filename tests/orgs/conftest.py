"""Fixtures for the organisations tests: signed-in clients, a small real PDF, the org factory."""

from __future__ import annotations

import io

import pytest

from tests.conftest import login


@pytest.fixture
def sign_in(app, db_session):
    """``sign_in(user)`` → a test client logged in through the real login form."""

    def _sign_in(user):
        db_session.commit()  # the login request runs in its own request context
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return _sign_in


@pytest.fixture
def pdf_bytes() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.drawString(72, 800, "Articles of association (test)")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
