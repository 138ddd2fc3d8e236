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
