"""The public list (search, filters, sorting, pagination, constant SQL) and the project page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from kyodo_fund.audit import Actor
from kyodo_fund.projects import services
from kyodo_fund.projects.models import (
    ActivityReport,
    PartnerType,
    ProjectPartner,
    ProjectPhase,
    ReportKind,
    ReportValue,
    today_in_tokyo,
)
from tests.factories import make_org, make_project, make_user


def _titles(response) -> list[str]:
    assert response.status_code == 200
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [a.get_text(strip=True) for a in soup.select(".project-card-title a")]


@pytest.fixture
def listed(db_session, cast):
    today = today_in_tokyo()
    make_project(
        db_session,
        cast.org_a,
        title="子ども食堂を開く",
        summary="週1回の食堂",
        activity_category=13,
        municipality_code="202029",  # 松本市
        goal_yen=100_000,
        raised_yen=90_000,
        ends_on=today + timedelta(days=30),
    )
    make_project(
        db_session,
        cast.org_a,
        title="里山の保全",
        summary="間伐と子どもの自然体験",
        activity_category=7,
        goal_yen=1_000_000,
        raised_yen=100_000,
        ends_on=today + timedelta(days=5),
    )
    make_project(
        db_session,
        cast.org_b,
        title="100%の笑顔プロジェクト",
        summary="見守り",
        activity_category=1,
        goal_yen=50_000,
        raised_yen=50_000,
        ends_on=today + timedelta(days=90),
    )
    make_project(db_session, cast.org_b, status="closed", title="終わった事業", activity_category=13)
    make_project(db_session, cast.org_b, status="reported", title="報告済みの事業", activity_category=13)
    make_project(db_session, cast.org_a, status="approved", title="公開前の事業", activity_category=13)
    make_project(db_session, cast.org_a, status="draft", title="下書きの事業", activity_category=13)
    db_session.commit()


def test_the_list_shows_published_projects_by_default(client, listed):
    assert sorted(_titles(client.get("/projects/"))) == sorted(
        ["子ども食堂を開く", "里山の保全", "100%の笑顔プロジェクト"]
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=子ども", ["子ども食堂を開く", "里山の保全"]),  # title or summary
        ("?q=子ども 食堂", ["子ども食堂を開く"]),  # every word
        ("?q=100%25", ["100%の笑顔プロジェクト"]),  # a literal %, not a wildcard
        ("?q=%25", ["100%の笑顔プロジェクト"]),
        ("?q=下書き", []),
        ("?category=13", ["子ども食堂を開く"]),
        ("?municipality=202029", ["子ども食堂を開く"]),
        ("?status=closed", ["終わった事業", "報告済みの事業"]),
        ("?status=all&category=13", ["子ども食堂を開く", "終わった事業", "報告済みの事業"]),
        ("?status=secret", ["子ども食堂を開く", "里山の保全", "100%の笑顔プロジェクト"]),
        ("?category=x&municipality=<script>", ["子ども食堂を開く", "里山の保全", "100%の笑顔プロジェクト"]),
    ],
)
def test_search_and_filters(client, listed, query, expected):
    assert sorted(_titles(client.get(f"/projects/{query}"))) == sorted(expected)


def test_sorting(client, listed):
    assert _titles(client.get("/projects/?sort=ending")) == ["里山の保全", "子ども食堂を開く", "100%の笑顔プロジェクト"]
    # 100% > 90% > 10%
    assert _titles(client.get("/projects/?sort=funded")) == ["100%の笑顔プロジェクト", "子ども食堂を開く", "里山の保全"]


def test_newest_first_by_default(db_session, cast, client):
    from kyodo_fund.db import utcnow

    now = utcnow()
    for days, title in ((3, "古い"), (1, "新しい"), (2, "中くらい")):
        make_project(db_session, cast.org_a, title=title, published_at=now - timedelta(days=days))
    db_session.commit()
    assert _titles(client.get("/projects/")) == ["新しい", "中くらい", "古い"]


def test_pagination(app, db_session, cast, client, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    for i in range(5):
        make_project(db_session, cast.org_a, title=f"事業{i}", ends_on=today_in_tokyo() + timedelta(days=10 + i))
    db_session.commit()
    pages = [_titles(client.get(f"/projects/?sort=ending&page={n}")) for n in (1, 2, 3)]
    assert pages == [["事業0", "事業1"], ["事業2", "事業3"], ["事業4"]]
    html = client.get("/projects/?sort=ending&page=2").get_data(as_text=True)
    assert "2 / 3 ページ（全5件）" in html and 'rel="next"' in html and 'rel="prev"' in html


def test_cards_show_progress_as_an_element_and_as_text(db_session, cast, client):
    make_project(db_session, cast.org_a, goal_yen=200_000, raised_yen=250_000, donor_count=12, ends_on=today_in_tokyo())
    db_session.commit()
    soup = BeautifulSoup(client.get("/projects/").get_data(as_text=True), "html.parser")
    bar = soup.select_one("progress.funding-bar")
    # The element cannot show more than full; the text tells the truth.
    assert (bar["max"], bar["value"]) == ("200000", "200000")
    facts = soup.select_one(".funding-facts").get_text(" ", strip=True)
    assert "¥250,000" in facts and "125%" in facts and "寄附者 12人" in facts and "残り1日" in facts
    assert soup.find(attrs={"style": True}) is None  # the CSP forbids inline styles


# --- a constant number of SQL statements -----------------------------------------------------


def _seed_published(db_session, n):
    for _ in range(n):
        org = make_org(db_session, owner=make_user(db_session))
        make_project(db_session, org, raised_yen=1000, donor_count=1)
    db_session.commit()


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_the_list_issues_the_same_number_of_queries_for_3_and_30_projects(
    db_session, cast, sign_in, count_queries, signed_in
):
    client = sign_in(cast.donor if signed_in else None)
    counts = []
    for added, total in ((3, 3), (27, 30)):
        _seed_published(db_session, added)
        db_session.expunge_all()  # the request must load everything itself, as in production
        with count_queries() as counter:
            response = client.get("/projects/?page=1")
        assert len(_titles(response)) == min(total, 20)
        assert "全30件" in response.get_data(as_text=True) or total == 3
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_the_project_page_issues_the_same_number_of_queries_for_1_and_20_items(db_session, cast, count_queries, client):
    def seed(project, n):
        for i in range(n):
            project.partners.append(ProjectPartner(name=f"協力{i}", partner_type=PartnerType.COMPANY, role="物資"))
            report = ActivityReport(
                kind=ReportKind.EVALUATION, title=f"報告{i}", body="本文", author_id=cast.owner_a.id
            )
            project.reports.append(report)
        db_session.flush()
        for report in project.reports:
            for t in project.targets:
                if not any(v.target_id == t.id for v in report.values):
                    report.values.append(ReportValue(target_id=t.id, achieved_value=5))
        db_session.commit()

    counts = []
    for n in (1, 20):
        targets = [
            {"indicator": f"指標{i}", "target_value": 10, "unit": "人", "due_on": today_in_tokyo()} for i in range(n)
        ]
        project = make_project(db_session, cast.org_a, ends_on=today_in_tokyo(), targets=targets)
        seed(project, n)
        db_session.expunge_all()
        with count_queries() as counter:
            response = client.get(f"/projects/{project.slug}")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('class="card report"') == n
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


# --- the project page ------------------------------------------------------------------------


def test_script_in_title_and_body_is_escaped(db_session, cast, client):
    evil = "<script>alert('x')</script>"
    project = make_project(
        db_session, cast.org_a, title=f"事業{evil}", summary=evil, body=f"一行目\n{evil}<img src=x onerror=alert(1)>"
    )
    project.partners.append(ProjectPartner(name=evil, partner_type=PartnerType.COMPANY, role=evil))
    db_session.commit()
    for url in ("/projects/", f"/projects/{project.slug}"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html


def test_the_page_shows_plan_partners_timeline_and_reports(db_session, cast, client, time_machine):
    time_machine.move_to("2026-04-01 10:00 +09:00", tick=False)
    project = make_project(db_session, cast.org_a, status="closed", ends_on=today_in_tokyo())
    project.partners.append(ProjectPartner(name="長野市", partner_type=PartnerType.MUNICIPALITY, role="会場の提供"))
    time_machine.move_to("2026-05-02 10:00 +09:00", tick=False)
    services.change_phase(db_session, Actor(user=cast.owner_a), project, ProjectPhase.EVALUATION)
    project.targets[0].achieved_value = 1350
    project.reports.append(
        ActivityReport(kind=ReportKind.PROGRESS, title="中間報告です", body="順調", author_id=cast.owner_a.id)
    )
    db_session.commit()

    soup = BeautifulSoup(client.get(f"/projects/{project.slug}").get_data(as_text=True), "html.parser")
    partner_rows = [row.get_text(" ", strip=True) for row in soup.select("#partners-heading + .table-wrap tbody tr")]
    assert partner_rows[0].startswith(cast.org_a.name) and "実施主体" in partner_rows[0]
    assert "長野市 市町村 会場の提供" in partner_rows[1]
    timeline = soup.select_one("#timeline-heading + ol").get_text(" ", strip=True)
    assert "2026-04-01 企画" in timeline and "2026-05-02 評価" in timeline
    targets = soup.select_one("#targets-heading + .table-wrap").get_text(" ", strip=True)
    assert "1,200 食" in targets and "1,350 食" in targets
    assert "中間報告です" in soup.select_one("#reports").get_text()
    assert soup.select_one(".banner-unpublished") is None
    assert not soup.select('a[href*="donat"]')  # no donations blueprint yet: no 寄附する button


@pytest.mark.parametrize("who", ["owner_a", "staff_a", "reviewer", "admin"])
def test_unpublished_projects_are_shown_to_members_and_staff_with_a_banner(db_session, cast, sign_in, who):
    project = make_project(db_session, cast.org_a, status="submitted")
    response = sign_in(getattr(cast, who)).get(f"/projects/{project.slug}")
    assert response.status_code == 200
    assert (
        "未公開" in BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one(".banner-unpublished").text
    )


def test_an_overdue_report_is_flagged_on_the_page(app, db_session, cast, client):
    ended = today_in_tokyo() - timedelta(days=app.config["PROJECT_REPORT_DUE_DAYS"] + 1)
    project = make_project(db_session, cast.org_a, status="closed", starts_on=ended, ends_on=ended, targets=[])
    db_session.commit()
    assert "評価報告の期限" in client.get(f"/projects/{project.slug}").get_data(as_text=True)
