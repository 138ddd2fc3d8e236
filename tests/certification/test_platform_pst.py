"""The PST from platform data gives what the pure ``check_pst`` gives on the same gifts: the SQL summary
(``pst_for_organisation``) on everything but the per-donor lists, the detailed path (``pst_details_for_organisation``)
on everything; ``flask pst org`` prints them."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from kyodo_fund.certification.models import FiscalRevenue, LegalState, LegalStatus
from kyodo_fund.certification.platform_pst import (
    AGGREGATE_WORK_MEM,
    PST_STATUSES,
    StaleIdentities,
    execute_aggregate,
    pst_details_for_organisation,
    pst_for_organisation,
)
from kyodo_fund.certification.pst import FiscalRevenue as Figures
from kyodo_fund.certification.pst import Gift, Officer, PstSettings, check_pst
from kyodo_fund.donations.models import Channel, Donation, DonationStatus, PaymentMethod
from kyodo_fund.orgs.models import Officer as OrgOfficer
from kyodo_fund.orgs.models import OfficerTitle
from tests.conftest import requires_postgres
from tests.factories import make_project

D = date
DIRECT = {"PROGRAMME_RECIPIENT_MODEL": "direct"}
AS_OF = D(2026, 5, 1)


def config(app, **overrides):
    return {**app.config, **overrides}


def gifts_of(db_session, org_ids: set[int], project_orgs: dict[int, int], *, fund=None) -> list[Gift]:
    """What ``check_pst`` gets: the organisation's kept gifts in id order, net of refunds — of any date, since
    households are linked through every kept gift (gifts after the as-of date can only link, never count)."""
    rows = db_session.query(Donation).order_by(Donation.id).all()
    gifts = []
    for d in rows:
        if project_orgs.get(d.project_id) not in org_ids or d.status not in PST_STATUSES:
            continue
        if fund:
            gifts.append(Gift(d.received_on, d.amount_yen - d.refunded_yen, fund[0], fund[1], donor_is_nintei=True))
        else:
            gifts.append(
                Gift(
                    d.received_on,
                    d.amount_yen - d.refunded_yen,
                    d.donor_name,
                    d.donor_address,
                    d.donor_household,
                    d.anonymous,
                )
            )
    return gifts


def officers_of(org) -> list[Officer]:
    return [Officer(o.name, o.address, o.household_label) for o in org.officers]


def summary_view(result) -> dict:
    """``to_dict`` without what only the detailed form has: per-donor lists (names of counted units and excluded
    rows). Everything else — counts, average, verdicts, relative figures, exclusions per reason, warnings — stays."""
    data = result.to_dict()
    data.pop("excluded")
    data.pop("summary")
    for year in data["absolute"]["fiscal_years"]:
        year.pop("counted")
    return data


def assert_both_paths_match(db_session, org, as_of, expected, renewal=False, cfg=None):
    summary = pst_for_organisation(db_session, org, as_of, renewal, config=cfg)
    details = pst_details_for_organisation(db_session, org, as_of, renewal, config=cfg)
    assert summary.is_summary and not details.is_summary
    assert summary_view(summary) == summary_view(expected)
    assert details.to_dict() == expected.to_dict()
    return summary


@pytest.fixture
def worked(db_session, cast, give):
    """Org A (FY April–March) with the cases of certification.md §6 and the platform's own twists."""
    org = cast.org_a
    org.officers.append(
        OrgOfficer(name="佐藤 一郎", title=OfficerTitle.DIRECTOR, address="松本市丸の内3-3", household_label="佐藤家")
    )
    p1, p2 = make_project(db_session, org), make_project(db_session, org)
    other = make_project(db_session, cast.org_b)
    # P1: a household summed to ¥3,500 in FY2025, two spellings of one name (full-width space, NFKC).
    give(p1, D(2025, 5, 1), 2_000, "田中 太郎", "長野市1-1", household="田中家")
    give(p2, D(2025, 6, 1), 1_500, "田中　花子", "長野市1-1", household="田中家")
    give(p2, D(2025, 7, 1), 500, "田中　太郎", "長野市１－１")
    # P2: the officer's spouse, linked only through a gift before the judging period.
    give(p1, D(2023, 1, 5), 1_000, "佐藤 和子", "松本市丸の内3-3", household="佐藤家")
    give(p1, D(2025, 5, 1), 10_000, "佐藤 和子", "松本市丸の内3-3")
    # P3: no address; anonymous; an offline bank transfer.
    give(p1, D(2024, 8, 1), 10_000, "名無し", "")
    give(p1, D(2024, 8, 2), 20_000, "", "", anonymous=True)
    give(p2, D(2024, 9, 1), 5_000, "鈴木 次郎", "上田市2", channel=Channel.OFFLINE, method=PaymentMethod.BANK_TRANSFER)
    # P4: the fiscal-year split.
    give(p1, D(2025, 3, 20), 2_000, "高橋", "諏訪市3")
    give(p1, D(2025, 4, 5), 2_000, "高橋", "諏訪市3")
    # Refunds: a partial refund counts net, a full refund and a pending gift not at all.
    give(p1, D(2025, 10, 1), 5_000, "伊藤", "飯田市4", status=DonationStatus.PARTIALLY_REFUNDED, refunded_yen=2_500)
    give(p1, D(2025, 10, 2), 9_000, "渡辺", "伊那市5", status=DonationStatus.REFUNDED, refunded_yen=9_000)
    give(p1, D(2025, 10, 3), 9_000, "小林", "茅野市6", status=DonationStatus.PENDING)
    # After the as-of date, and another organisation's project: ignored.
    give(p1, D(2026, 5, 2), 50_000, "未来", "長野市9")
    give(other, D(2025, 5, 1), 50_000, "他団体の寄附者", "長野市8")
    for n in range(12):
        give(p2, D(2025, 11, 1) + timedelta(days=n), 3_000 + n, f"寄附者{n}", f"小諸市{n}")
    db_session.flush()
    return org, {p1.id: org.id, p2.id: org.id, other.id: cast.org_b.id}


def test_sql_pst_equals_the_pure_check_on_the_worked_examples(app, app_ctx, db_session, cast, worked):
    org, projects = worked
    expected = check_pst(
        gifts_of(db_session, {org.id}, projects),
        fy_end_month=3,
        as_of=AS_OF,
        officers=officers_of(org),
        settings=PstSettings.from_config(app.config),
    )
    result = assert_both_paths_match(db_session, org, AS_OF, expected, cfg=config(app, **DIRECT))
    counts = [fy["qualifying_donors"] for fy in result.to_dict()["absolute"]["fiscal_years"]]
    # FY2024: 鈴木 only (名無し lacks an address). FY2025: 田中 household, 伊藤 (net ¥2,500 is below) no,
    # 12 donors; 佐藤 (officer's household) no; 高橋 ¥2,000 in each year no.
    assert counts == [1, 13]
    assert {w["key"] for w in result.warnings} >= {"missing_address", "household_review"}
    tallies = {str(t.reason): (t.rows, t.amount_yen) for t in result.exclusion_summary}
    # 佐藤 和子 (officer's household, FY2025); 名無し; the anonymous box; 高橋 in both years, 田中 太郎's second
    # spelling merged with the first (counted), 伊藤 at ¥2,500 net.
    assert tallies == {
        "officer": (1, 10_000),
        "no_name_or_address": (1, 10_000),
        "anonymous": (1, 20_000),
        "below_threshold": (3, 2_000 + 2_000 + 2_500),
    }


def test_the_aggregate_runs_with_more_work_mem_and_gives_it_back(app, app_ctx, db_session, worked):
    requires_postgres(app)
    setting = select(func.current_setting("work_mem"))
    before = db_session.scalar(setting)
    assert execute_aggregate(db_session, setting) == [(AGGREGATE_WORK_MEM,)]
    pst_for_organisation(db_session, worked[0], AS_OF, config=config(app, **DIRECT))
    assert db_session.scalar(setting) == before != AGGREGATE_WORK_MEM


def test_with_revenue_and_establishment_mid_period(app, app_ctx, db_session, cast, worked):
    org, projects = worked
    db_session.add(LegalStatus(organisation_id=org.id, status=LegalState.REGISTERED, established_on=D(2024, 9, 1)))
    for fy_end in (D(2025, 3, 31), D(2026, 3, 31)):
        db_session.add(
            FiscalRevenue(
                organisation_id=org.id, fiscal_year_end=fy_end, total_revenue_yen=400_000, excluded_revenue_yen=0
            )
        )
    db_session.flush()
    expected = check_pst(
        gifts_of(db_session, {org.id}, projects),
        fy_end_month=3,
        as_of=AS_OF,
        officers=officers_of(org),
        revenue=[Figures(D(2025, 3, 31), 400_000), Figures(D(2026, 3, 31), 400_000)],
        established_on=D(2024, 9, 1),
        settings=PstSettings.from_config(app.config),
    )
    result = assert_both_paths_match(db_session, org, AS_OF, expected, cfg=config(app, **DIRECT))
    assert result.period.start == D(2024, 9, 1) and result.relative is not None


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("renewal", [False, True])
def test_random_gifts_give_the_same_result(app, app_ctx, db_session, cast, give, seed, renewal):
    rng = random.Random(seed)
    org = cast.org_a
    org.fiscal_year_end_month = rng.choice([3, 6, 12])
    org.officers.append(OrgOfficer(name="役員0", title=OfficerTitle.DIRECTOR, address="町0", household_label="家1"))
    project = make_project(db_session, org)
    names = [f"人{n}" for n in range(25)] + ["人 0", "人　1", ""]
    statuses = [DonationStatus.PAID] * 6 + [DonationStatus.PARTIALLY_REFUNDED, DonationStatus.REFUNDED]
    for _ in range(300):
        amount = rng.choice([500, 1_000, 2_000, 3_000, 5_000])
        status = rng.choice(statuses)
        give(
            project,
            D(2020, 1, 1) + timedelta(days=rng.randrange(0, 6 * 365)),
            amount,
            rng.choice(names),
            rng.choice(["町0", "町1", "町２", "", "町 3"]),
            household=rng.choice(["", "", "", "家1", "家2", "家 2"]),
            anonymous=rng.random() < 0.05,
            status=status,
            refunded_yen={DonationStatus.PARTIALLY_REFUNDED: amount // 2, DonationStatus.REFUNDED: amount}.get(
                status, 0
            ),
        )
    as_of = D(2025, 12, 15)
    expected = check_pst(
        gifts_of(db_session, {org.id}, {project.id: org.id}),
        fy_end_month=org.fiscal_year_end_month,
        as_of=as_of,
        officers=officers_of(org),
        renewal=renewal,
        settings=PstSettings.from_config(app.config),
    )
    result = assert_both_paths_match(db_session, org, as_of, expected, renewal, cfg=config(app, **DIRECT))
    assert result.absolute.total_qualifying_donors > 0


def test_gifts_routed_through_the_fund_are_one_donor(app, app_ctx, db_session, cast, worked):
    """A7: under the pass-through model the host fund is the organisation's one donor per fiscal year."""
    org, projects = worked
    result = pst_for_organisation(db_session, org, AS_OF, config=config(app, PROGRAMME_RECIPIENT_MODEL="fund"))
    fund = (app.config["RECEIPT_ISSUER"]["name"], app.config["RECEIPT_ISSUER"]["address"])
    expected = check_pst(
        gifts_of(db_session, {org.id}, projects, fund=fund),
        fy_end_month=3,
        as_of=AS_OF,
        officers=officers_of(org),
        settings=PstSettings.from_config(app.config),
    )
    assert result.to_dict() == expected.to_dict()
    data = result.to_dict()["absolute"]["fiscal_years"]
    assert [fy["counted"] for fy in data] == [
        [{"donors": [app.config["RECEIPT_ISSUER"]["name"]], "amount_yen": 10_000 + 20_000 + 5_000 + 2_000}],
        [
            {
                "donors": [app.config["RECEIPT_ISSUER"]["name"]],
                "amount_yen": 2_000 + 1_500 + 500 + 10_000 + 2_000 + 2_500 + 36_066,
            }
        ],
    ]


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_flask_pst_org_prints_json(app, db_session, cast, worked, runner, monkeypatch):
    org, _projects = worked
    db_session.commit()  # each command's app context closes the session: keep the data for the second one
    monkeypatch.setitem(app.config, "PROGRAMME_RECIPIENT_MODEL", "direct")
    result = runner.invoke(args=["pst", "org", org.slug, "--as-of", "2026-05-01", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["period"] == {"start": "2024-04-01", "end": "2026-03-31", "months": 24, "required_fiscal_years": 2}
    assert [fy["qualifying_donors"] for fy in data["absolute"]["fiscal_years"]] == [1, 13]
    renewal = runner.invoke(args=["pst", "org", org.slug, "--as-of", "2026-05-01", "--renewal"])
    assert renewal.exit_code == 0 and "実績判定期間: 2021-04-01〜2026-03-31（60か月）" in renewal.stdout


def test_flask_pst_org_refuses_an_unknown_slug(db_session, runner):
    result = runner.invoke(args=["pst", "org", "no-such-org", "--as-of", "2026-05-01"])
    assert result.exit_code == 2 and "no organisation" in result.stderr


def random_platform(db_session, cast, give, rng: random.Random, *, donors: int, small_org: bool, revenue: bool):
    """An organisation with a random mix of what the PST has to handle: households (one label spelled two ways),
    donors without an address or a name, anonymous gifts, names and addresses with full-width spaces and digits,
    refunds (partial, full) and pending gifts, officers with and without an address or a household label, and
    gifts before the period and after the as-of date."""
    org = cast.org_a
    org.fiscal_year_end_month = rng.choice([3, 6, 12])
    org.officers.extend(
        [
            OrgOfficer(name="人0", title=OfficerTitle.DIRECTOR, address="町0", household_label="家1"),
            OrgOfficer(name="人 3", title=OfficerTitle.AUDITOR, address=""),
            OrgOfficer(name="理事 外部", title=OfficerTitle.DIRECTOR, address="遠い町", household_label="家 4"),
        ]
    )
    projects = [make_project(db_session, org), make_project(db_session, org)]
    other = make_project(db_session, cast.org_b)
    statuses = [DonationStatus.PAID] * 8 + [
        DonationStatus.PARTIALLY_REFUNDED,
        DonationStatus.REFUNDED,
        DonationStatus.PENDING,
    ]
    for _ in range(donors * 10):
        k = rng.randrange(donors)
        name = rng.choice([f"人{k}", f"人 {k}", f"人　{k}"]) if rng.random() > 0.04 else ""
        address = rng.choice([f"町{k % 9}", f"町 {k % 9}", "町" + chr(0xFF10 + k % 9)]) if rng.random() > 0.06 else ""
        # Pairs of donors share a household (its label spelled two ways); now and then one links to 家1, the
        # household of officer 人0.
        household = rng.choice(["", f"家{k // 2 + 10}", f"家 {k // 2 + 10}"]) if k % 4 < 2 else ""
        if rng.random() < 0.01:
            household = "家1"
        amount = rng.choice([500, 800, 1_000, 2_000, 3_000, 5_000, 40_000])
        status = rng.choice(statuses)
        give(
            rng.choice(projects + [other] * (rng.random() < 0.05)),
            D(2021, 1, 1) + timedelta(days=rng.randrange(0, 5 * 365 + 180)),
            amount,
            name,
            address,
            household=household,
            anonymous=rng.random() < 0.06,
            status=status,
            refunded_yen={DonationStatus.PARTIALLY_REFUNDED: amount // 2, DonationStatus.REFUNDED: amount}.get(
                status, 0
            ),
        )
    # One large donor inside every possible period, so the 10 % limit bites.
    give(projects[0], D(2024, 1, 15), 900_000, "大口 寄附者", "本町1")
    if revenue:
        total = 2_000_000 if small_org else 90_000_000
        for year in range(2018, 2027):
            for month in (3, 6, 12):
                end = date(year, month, 30 if month == 6 else 31)
                if end.month == org.fiscal_year_end_month:
                    db_session.add(
                        FiscalRevenue(
                            organisation_id=org.id,
                            fiscal_year_end=end,
                            total_revenue_yen=total,
                            excluded_revenue_yen=total // 10,
                            subsidy_yen=total // 20,
                        )
                    )
    db_session.flush()
    return org, {p.id: org.id for p in projects} | {other.id: cast.org_b.id}


@pytest.mark.parametrize(
    ("seed", "household_sum", "revenue", "small_org", "renewal"),
    [
        (11, True, False, False, False),
        (12, False, False, False, True),
        (13, True, True, False, False),
        (14, False, True, False, True),
        (15, True, True, True, False),
        (16, False, True, True, True),
        (17, True, True, True, True),
    ],
)
def test_sql_summary_equals_the_python_reference_on_random_data(
    app, app_ctx, db_session, cast, give, seed, household_sum, revenue, small_org, renewal
):
    """The key equivalence: on random data the SQL summary and the pure check agree on every summary field."""
    rng = random.Random(seed)
    org, projects = random_platform(
        db_session, cast, give, rng, donors=120 if small_org else 40, small_org=small_org, revenue=revenue
    )
    cfg = config(app, PST_HOUSEHOLD_SUM=household_sum, PST_REL_INCLUDE_SUBSIDY=seed % 2 == 0, **DIRECT)
    as_of = D(2025, 12, 15)
    expected = check_pst(
        gifts_of(db_session, {org.id}, projects),
        fy_end_month=org.fiscal_year_end_month,
        as_of=as_of,
        officers=officers_of(org),
        renewal=renewal,
        revenue=[
            Figures(f.fiscal_year_end, f.total_revenue_yen, f.excluded_revenue_yen, f.subsidy_yen)
            for f in db_session.query(FiscalRevenue).filter_by(organisation_id=org.id)
        ]
        if revenue
        else None,
        settings=PstSettings.from_config(cfg),
    )
    result = assert_both_paths_match(db_session, org, as_of, expected, renewal, cfg=cfg)
    # The data really exercises what it is meant to.
    reasons = {str(t.reason) for t in result.exclusion_summary}
    assert reasons == {"officer", "anonymous", "no_name_or_address", "below_threshold"}
    assert {w["key"] for w in result.warnings} >= {"missing_address", "household_review"}
    assert result.absolute.total_qualifying_donors > 0
    if revenue:
        assert result.relative is not None and result.relative.small_organisation is small_org
        assert result.relative.excess_yen > 0


def test_stale_identities_are_refused_not_misjudged(app, app_ctx, db_session, cast, worked):
    """Gifts written around the ORM without an identity would silently count as "no name or address"."""
    org, _projects = worked
    db_session.execute(
        Donation.__table__.update().where(Donation.__table__.c.donor_name == "鈴木 次郎").values(pst_identity_id=None)
    )
    with pytest.raises(StaleIdentities, match="flask pst reindex"):
        pst_for_organisation(db_session, org, AS_OF, config=config(app, **DIRECT))


@pytest.mark.parametrize("read_all_from", [1, 1_000])  # identities read all at once, or looked up by key
def test_flask_pst_reindex_restores_identities_and_units(
    app, db_session, cast, worked, runner, monkeypatch, read_all_from
):
    from kyodo_fund.certification import identities

    monkeypatch.setattr(identities, "_READ_ALL_FROM", read_all_from)
    org, _projects = worked
    table = Donation.__table__
    before = dict(db_session.execute(select(table.c.id, table.c.pst_identity_id)).all())
    db_session.execute(table.update().values(pst_identity_id=None))
    db_session.commit()
    result = runner.invoke(args=["pst", "reindex", "--org", org.slug])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    after = dict(db_session.execute(select(table.c.id, table.c.pst_identity_id)).all())
    org_gifts = {d.id for d in db_session.query(Donation).all() if d.project.organisation_id == org.id}
    assert {k: v for k, v in after.items() if k in org_gifts} == {k: v for k, v in before.items() if k in org_gifts}
    assert all(after[k] is None for k in after if k not in org_gifts)  # only the one organisation
    assert runner.invoke(args=["pst", "reindex"]).exit_code == 0
    db_session.expire_all()
    assert dict(db_session.execute(select(table.c.id, table.c.pst_identity_id)).all()) == before
