from sqlalchemy import func, select

from kyodo_fund.accounts.models import User
from kyodo_fund.orgs.models import Organisation, OrgStatus
from kyodo_fund.projects.models import Project, ProjectStatus


def test_demo_seeds_every_kind_of_user_and_is_idempotent(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "admin@demo.kyodo.test" in first.output and "demo-pass-1234" in first.output
    counts = (
        db_session.scalar(select(func.count(User.id))),
        db_session.scalar(select(func.count(Organisation.id))),
        db_session.scalar(select(func.count(Project.id))),
    )
    statuses = sorted(s.value for s in db_session.scalars(select(Organisation.status)))
    assert statuses == ["approved", "approved", "draft", "submitted"]
    assert {p.status for p in db_session.scalars(select(Project))} == {ProjectStatus.PUBLISHED}
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    assert counts == (
        db_session.scalar(select(func.count(User.id))),
        db_session.scalar(select(func.count(Organisation.id))),
        db_session.scalar(select(func.count(Project.id))),
    )
    assert db_session.scalar(select(Organisation).where(Organisation.status == OrgStatus.SUBMITTED)) is not None
    kodomo = db_session.scalar(select(Project).where(Project.slug == "kodomo-shokudo-2026"))
    assert (kodomo.raised_yen, kodomo.donor_count) == (45_000, 3), "the gifts move the progress bar once"
    from kyodo_fund.certification.services import records_of
    from kyodo_fund.ledger.services import project_balance

    assert project_balance(db_session, kodomo.id) == 45_000 - 4_500
    npo = db_session.scalar(select(Organisation).where(Organisation.slug == "shinano-kodomo"))
    [record] = records_of(db_session, npo.id)
    assert record.kind.value == "nintei" and record.valid_until.isoformat() == "2027-03-31"


def test_demo_refuses_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0 and "production" in result.output


def test_demo_gives_the_annual_statements_run_something_to_issue(app, db_session):
    """``flask receipts annual --year <last year>`` on demo data issues statements (the issue's try-out)."""
    from kyodo_fund.donations.models import Donation, ReceiptPreference
    from kyodo_fund.projects.models import today_in_tokyo
    from kyodo_fund.receipts.models import Receipt, ReceiptKind

    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert runner.invoke(args=["demo"]).exit_code == 0  # idempotent: the gifts are not recorded twice
    annual = select(func.count(Donation.id)).where(Donation.receipt_preference == ReceiptPreference.ANNUAL)
    assert db_session.scalar(annual) == 14
    last_year = str(today_in_tokyo().year - 1)
    result = runner.invoke(args=["receipts", "annual", "--year", last_year, "--no-progress"])
    assert result.exit_code == 0, result.output
    statements = db_session.scalars(select(Receipt).where(Receipt.kind == ReceiptKind.ANNUAL_STATEMENT)).all()
    assert sorted((s.recipient_email, s.amount_yen) for s in statements) == [
        ("chikuma.yoriko@example.jp", 36_000),
        ("kiso.bunta@example.jp", 20_000),
    ]
