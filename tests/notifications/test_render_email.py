"""``render_email`` renders every mail exactly as Flask's ``render_template`` inside ``force_locale`` does.

The reference below is the way mails used to be rendered, kept here so the fast path is checked against it for every
template directory, in both languages, including the HTML autoescaping of translated strings and their arguments
(the names contain ``<`` and ``&``) and the lazy labels that read the forced locale.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
from flask import render_template, render_template_string
from flask_babel import force_locale, get_locale, gettext
from jinja2 import meta

from kyodo_fund.certification.models import LegalState, RecordKind, RecordStatus
from kyodo_fund.certification.workflow import LEGAL_TRANSITIONS, RECORD_TRANSITIONS
from kyodo_fund.donations.models import DonationKind, ReceiptPreference
from kyodo_fund.notifications.services import render_email
from kyodo_fund.orgs.models import MemberRole
from kyodo_fund.projects.models import ReportKind

EMAILS = Path(__file__).resolve().parents[2] / "templates" / "emails"
LOCALES = ("ja", "en")

ORG = NS(name="NPO法人 <あずみ野> & 仲間", slug="azumino")
DEADLINE = NS(
    due_on=date(2026, 6, 30),
    opens_on=date(2026, 1, 1),
    fiscal_year_end=date(2026, 3, 31),
    record_kind=RecordKind.NINTEI,
)
RECORD = NS(organisation=ORG, kind=RecordKind.TOKUREI_NINTEI, granted_on=date(2023, 4, 1), status=RecordStatus.RENEWED)
LEGAL = NS(organisation=ORG, status=LegalState.REGISTERED)
USER = NS(display_name="山田 <花子>")
PROJECT = NS(
    title="森の<学校>",
    slug="mori",
    organisation=ORG,
    targets=[
        NS(indicator="参加者", achieved_value=1234, target_value=2000, unit="人"),
        NS(indicator="植樹", achieved_value=None, target_value=500, unit="本"),
    ],
)
PROJECT_OBJ = NS(
    title=PROJECT.title, slug="mori", organisation=ORG, starts_on=date(2026, 4, 1), ends_on=date(2026, 9, 30)
)
DONATION = NS(
    public_id="D-7F3K",
    donor_name="寄附 太郎",
    amount_yen=12000,
    received_on=date(2026, 5, 3),
    kind=DonationKind.MONTHLY,
    receipt_preference=ReceiptPreference.PER_DONATION,
    recurring=True,
)
REASON = "書類が足りません。\n<定款> & 役員名簿を添付してください。"

#: Per template directory, the contexts to render: each names every variable the templates read, and the list takes
#: the branches that change which messages are translated.
CONTEXTS: dict[str, list[dict]] = {
    "cert_annual_overdue": [{"org": ORG, "deadline": DEADLINE}],
    "cert_designation_recheck": [{"org": ORG, "deadline": DEADLINE}],
    "cert_expiry": [
        {"org": ORG, "deadline": DEADLINE},
        {"org": ORG, "deadline": NS(due_on=date(2026, 6, 30), record_kind=RecordKind.TOKUREI_NINTEI)},
    ],
    "cert_legal_changed": [
        {"obj": LEGAL, "transition": next(t for t in LEGAL_TRANSITIONS if t.notify), "reason": REASON},
    ],
    "cert_record_changed": [
        {"obj": RECORD, "transition": next(t for t in RECORD_TRANSITIONS if t.notify), "reason": None},
    ],
    "cert_renewal_window_closing": [{"org": ORG, "deadline": DEADLINE}],
    "cert_renewal_window_open": [{"org": ORG, "deadline": DEADLINE}],
    "confirm_email": [{"user": USER, "link": "https://example.jp/confirm?t=a&b=<c>", "hours": 24}],
    "donation_dispute_alert": [
        {"donation": DONATION, "dispute": NS(amount_yen=12000, reason="fraudulent", id="dp_123")},
    ],
    "donation_failed": [{"donation": DONATION, "project": PROJECT}],
    "donation_payment_failed": [
        {"recurring": NS(donor_name=None, donor_email="a@example.jp"), "amount_yen": 3000},
    ],
    "donation_thanks": [
        {"donation": DONATION, "project": PROJECT},
        {
            "donation": NS(
                donor_name="寄附 花子",
                amount_yen=5000,
                received_on=date(2026, 5, 4),
                kind=DonationKind.ONE_OFF,
                receipt_preference=ReceiptPreference.ANNUAL,
            ),
            "project": None,
        },
    ],
    "org_approve": [{"obj": ORG, "reason": REASON}],
    "org_invitation": [
        {
            "org": ORG,
            "inviter": USER,
            "invitation": NS(
                role=MemberRole.STAFF, email="b@example.jp", expires_at=datetime(2026, 5, 10, 3, 0, tzinfo=UTC)
            ),
            "token": "tok-123",
        },
    ],
    "org_reinstate": [{"obj": ORG, "reason": REASON}],
    "org_reject": [{"obj": ORG, "reason": REASON}],
    "org_request_info": [{"obj": ORG, "reason": REASON}],
    "org_suspend": [{"obj": ORG, "reason": REASON}],
    "password_changed": [{"user": USER, "forgot_url": "https://example.jp/forgot"}],
    "project_approve": [{"obj": PROJECT_OBJ, "reason": REASON}],
    "project_publish": [{"obj": PROJECT_OBJ}],
    "project_reject": [{"obj": PROJECT_OBJ, "reason": REASON}],
    "project_report": [
        {
            "project": PROJECT,
            "report": NS(kind=ReportKind.PROGRESS, title="春の<報告>", body="植樹しました。\n& 観察会", values=[1]),
        },
    ],
    "project_request_info": [{"obj": PROJECT_OBJ, "reason": REASON}],
    "receipt_issued": [
        {
            "donor_name": "寄附 <太郎>",
            "number": "S-2026-000001",
            "statement": True,
            "reissue": False,
            "replaces": None,
            "amount_yen": 36000,
            "issuer_name": "公益財団法人 長野県みらい基金",
            "period_year": 2025,
            "verify_url": "https://example.jp/receipts/verify/abc?x=1&y=2",
        },
        {
            "donor_name": "寄附 太郎",
            "number": "R-2026-000002",
            "statement": False,
            "reissue": True,
            "replaces": "R-2026-000001",
            "amount_yen": 10000,
            "issuer_name": "NPO法人 <あずみ野> & 仲間",
            "period_year": None,
            "verify_url": "https://example.jp/receipts/verify/def",
        },
    ],
    "receipt_voided": [{"issuer_name": "NPO法人 <あずみ野> & 仲間", "number": "R-2026-000001"}],
    "reset_password": [{"user": USER, "link": "https://example.jp/reset?t=x", "minutes": 30}],
    "signup_existing": [
        {"user": USER, "login_url": "https://example.jp/login", "forgot_url": "https://example.jp/forgot"},
    ],
}

CASES = [
    pytest.param(template, index, locale, id=f"{template}-{index}-{locale}")
    for template in sorted(p.name for p in EMAILS.iterdir() if p.is_dir())
    for index in range(len(CONTEXTS.get(template, [None])))
    for locale in LOCALES
]


def reference(template: str, context: dict, locale: str) -> tuple[str, str, str | None]:
    """Flask's way: ``render_template`` for each part, inside ``force_locale``."""
    with force_locale(locale):
        subject = render_template(f"emails/{template}/subject.txt", **context).strip()
        text = render_template(f"emails/{template}/body.txt", **context)
        html = None
        if (EMAILS / template / "body.html").exists():
            html = render_template(f"emails/{template}/body.html", **context)
    return " ".join(subject.split()), text, html


def rendered(template: str, context: dict, locale: str) -> tuple[str, str, str | None]:
    email = render_email(template, to="a@example.jp", context=context, locale=locale)
    return email.subject, email.body_text, email.body_html


@pytest.mark.parametrize(("template", "index", "locale"), CASES)
def test_every_mail_renders_as_render_template_does(app, app_ctx, template, index, locale):
    assert template in CONTEXTS, f"add a representative context for emails/{template}/ to CONTEXTS"
    context = CONTEXTS[template][index]
    # Variables the context lacks would render empty both ways and prove nothing.
    for part in (EMAILS / template).iterdir():
        needed = meta.find_undeclared_variables(app.jinja_env.parse(part.read_text(encoding="utf-8")))
        assert needed - set(app.jinja_env.globals) <= set(context), part.name

    assert rendered(template, context, locale) == reference(template, context, locale)


def test_languages_differ_and_html_is_escaped(app_ctx):
    """Guards the comparison above against passing vacuously (both untranslated, or both unescaped)."""
    context = CONTEXTS["receipt_issued"][1]
    ja = render_email("receipt_issued", to="a@example.jp", context=context, locale="ja")
    en = render_email("receipt_issued", to="a@example.jp", context=context, locale="en")
    assert ja.subject == "【信州協働ファンド】領収書の再発行（R-2026-000002）"
    assert en.subject == "[Shinshu Collaboration Fund] Reissued receipt (R-2026-000002)"
    assert "NPO法人 &lt;あずみ野&gt; &amp; 仲間" in ja.body_html
    assert "NPO法人 <あずみ野> & 仲間" in ja.body_text


def test_alternating_locales_do_not_leak(app, app_ctx):
    context = CONTEXTS["cert_record_changed"][0]
    expected = {locale: reference("cert_record_changed", context, locale) for locale in LOCALES}
    with force_locale("en"):
        for locale in ("ja", "en", "ja", "ja", "en"):
            assert rendered("cert_record_changed", context, locale) == expected[locale]
            # The surrounding locale, Flask-Babel's gettext and the app's own templates are untouched.
            assert str(get_locale()) == "en"
            assert gettext("金額") == "Amount"
            assert render_template_string("{{ _('金額') }} {{ current_locale() }}") == "Amount en"
    assert str(get_locale()) == "ja"
    assert render_template_string("{{ _('金額') }}") == "金額"


def test_without_a_request_context(app):
    """Batch jobs and CLI commands render with only the app context."""
    context = CONTEXTS["signup_existing"][0]
    with app.app_context():
        for locale in LOCALES:
            assert rendered("signup_existing", context, locale) == reference("signup_existing", context, locale)


def test_a_missing_body_html_makes_a_text_only_mail_but_a_missing_include_is_an_error(app, app_ctx, mail_templates):
    from jinja2 import TemplateNotFound

    mail_templates(
        {
            "test_text_only/subject.txt": "件名",
            "test_text_only/body.txt": "本文",
            "test_broken/subject.txt": "件名",
            "test_broken/body.txt": "本文",
            "test_broken/body.html": "<p>{% include 'emails/no_such_part.html' %}</p>",
        }
    )
    assert render_email("test_text_only", to="a@example.jp").body_html is None
    with pytest.raises(TemplateNotFound):
        render_email("test_broken", to="a@example.jp")
