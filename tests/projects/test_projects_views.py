"""The member and staff pages end to end through the real forms, and report mail through SMTP."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from kyodo_fund.projects.models import ActivityReport, Project, ProjectStatus, ReportKind, today_in_tokyo
from tests.conftest import post_form
from tests.factories import make_org, make_project


def _get(db_session, slug) -> Project:
    return db_session.scalar(select(Project).where(Project.slug == slug))


def _flashes(client, url) -> str:
    soup = BeautifulSoup(client.get(url).get_data(as_text=True), "html.parser")
    return " ".join(p.get_text(" ", strip=True) for p in soup.select(".flash"))


def _project_form(**changes):
    today = today_in_tokyo()
    data = {
        "title": "子ども食堂2026",
        "slug": "kodomo-2026",
        "summary": "温かい食事と居場所",
        "body": "一行目\r\n二行目",
        "activity_category": "13",
        "municipality_code": "202011",
        "goal_yen": "３００,０００",
        "starts_on": (today + timedelta(days=1)).isoformat(),
        "ends_on": (today + timedelta(days=90)).isoformat(),
    }
    data.update(changes)
    return data


def test_a_member_plans_submits_and_staff_approve_and_publish(app, db_session, cast, sign_in):
    member = sign_in(cast.owner_a)
    response = post_form(member, f"/orgs/{cast.org_a.slug}/projects/new", _project_form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/projects/kodomo-2026/plan")
    project = _get(db_session, "kodomo-2026")
    assert (project.status, project.goal_yen, project.body) == (ProjectStatus.DRAFT, 300_000, "一行目\n二行目")
    assert [c.phase.value for c in project.phase_changes] == ["planning"]

    # Submitting without an outcome target is refused and says why.
    post_form(member, "/projects/kodomo-2026/transition", {"action": "submit"})
    assert "成果目標" in _flashes(member, "/projects/kodomo-2026/manage")
    assert _get(db_session, "kodomo-2026").status == ProjectStatus.DRAFT

    plan = "/projects/kodomo-2026/plan"
    due = (today_in_tokyo() + timedelta(days=90)).isoformat()
    target = {
        "form_name": "target",
        "target-indicator": "食事の提供",
        "target-target_value": "1200",
        "target-unit": "食",
        "target-due_on": due,
    }
    assert post_form(member, plan, target).status_code == 302
    partner = {
        "form_name": "partner",
        "partner-name": "長野市",
        "partner-partner_type": "municipality",
        "partner-role": "会場",
    }
    assert post_form(member, plan, partner).status_code == 302
    budget = {"form_name": "budget", "budget-item": "食材費", "budget-amount_yen": "120,000"}
    assert post_form(member, plan, budget).status_code == 302
    project = _get(db_session, "kodomo-2026")
    assert [(t.indicator, t.target_value) for t in project.targets] == [("食事の提供", 1200)]
    assert [p.role for p in project.partners] == ["会場"] and project.budget_lines[0].amount_yen == 120_000

    assert post_form(member, "/projects/kodomo-2026/transition", {"action": "submit"}).status_code == 302
    assert _get(db_session, "kodomo-2026").status == ProjectStatus.SUBMITTED

    reviewer = sign_in(cast.reviewer)
    queue = reviewer.get("/projects/review").get_data(as_text=True)
    assert "子ども食堂2026" in queue
    review = reviewer.get("/projects/kodomo-2026/review").get_data(as_text=True)
    assert 'value="approve"' in review and 'value="submit"' not in review
    response = post_form(reviewer, "/projects/kodomo-2026/transition", {"action": "approve"})
    assert response.headers["Location"].endswith("/projects/kodomo-2026/review")
    post_form(reviewer, "/projects/kodomo-2026/transition", {"action": "publish"})
    project = _get(db_session, "kodomo-2026")
    assert project.status == ProjectStatus.PUBLISHED and project.published_at is not None
    assert "子ども食堂2026" in sign_in(None).get("/projects/").get_data(as_text=True)


def test_request_info_shows_the_reason_and_the_member_resubmits(db_session, cast, sign_in, send_mail, mailbox):
    project = make_project(db_session, cast.org_a, status="submitted")
    reviewer = sign_in(cast.reviewer)
    post_form(reviewer, f"/projects/{project.slug}/transition", {"action": "request_info"})
    assert "理由" in _flashes(reviewer, f"/projects/{project.slug}/review")
    assert _get(db_session, project.slug).status == ProjectStatus.SUBMITTED

    post_form(
        reviewer,
        f"/projects/{project.slug}/transition",
        {"action": "request_info", "reason": "予算の内訳を教えてください"},
    )
    assert _get(db_session, project.slug).status == ProjectStatus.MORE_INFO_NEEDED
    send_mail()
    assert sorted(m["To"] for m in mailbox) == sorted([cast.owner_a.email, cast.staff_a.email])
    assert "予算の内訳を教えてください" in mailbox[0].get_body(("plain",)).get_content()

    member = sign_in(cast.staff_a)
    manage = member.get(f"/projects/{project.slug}/manage").get_data(as_text=True)
    assert "予算の内訳を教えてください" in manage and 'value="resubmit"' in manage
    post_form(member, f"/projects/{project.slug}/transition", {"action": "resubmit"})
    assert _get(db_session, project.slug).status == ProjectStatus.RESUBMITTED


@pytest.mark.parametrize("status", ["submitted", "approved", "published", "closed"])
def test_members_cannot_edit_once_submitted(db_session, cast, sign_in, status):
    project = make_project(db_session, cast.org_a, status=status)
    member = sign_in(cast.owner_a)
    response = post_form(member, f"/projects/{project.slug}/edit", _project_form(title="書き換え", slug=project.slug))
    assert response.status_code == 302 and response.headers["Location"].endswith("/manage")
    post_form(
        member, f"/projects/{project.slug}/plan", {"form_name": "budget", "budget-item": "x", "budget-amount_yen": "1"}
    )
    project = _get(db_session, project.slug)
    assert project.title != "書き換え" and project.budget_lines == []


def test_editing_a_draft_with_a_cover_image(app, db_session, cast, sign_in):
    project = make_project(db_session, cast.org_a, status="more_info_needed")
    member = sign_in(cast.owner_a)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    data = _project_form(title="直した事業", slug=project.slug, cover=(io.BytesIO(png), "photo.png"))
    response = post_form(member, f"/projects/{project.slug}/edit", data, content_type="multipart/form-data")
    assert response.status_code == 302
    project = _get(db_session, project.slug)
    assert project.title == "直した事業" and project.cover_type == "image/png"
    assert member.get(f"/projects/{project.slug}/cover").data == png

    # A file that only pretends to be an image is refused next to the field.
    fake = _project_form(slug=project.slug, cover=(io.BytesIO(b"<svg onload=alert(1)>"), "x.png"))
    page = post_form(member, f"/projects/{project.slug}/edit", fake, content_type="multipart/form-data")
    assert page.status_code == 200 and "PNGまたはJPEG" in page.get_data(as_text=True)
    assert _get(db_session, project.slug).cover_type == "image/png"


def test_form_errors_are_shown_in_japanese(db_session, cast, sign_in):
    member = sign_in(cast.owner_a)
    today = today_in_tokyo()
    data = _project_form(goal_yen="1.5", ends_on=(today - timedelta(days=1)).isoformat(), starts_on=today.isoformat())
    page = post_form(member, f"/orgs/{cast.org_a.slug}/projects/new", data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "整数" in html and "終了日は開始日と同じか" in html
    assert db_session.scalar(select(Project).where(Project.title == "子ども食堂2026")) is None


def test_an_organisation_that_is_not_approved_gets_an_explanation_not_a_form(db_session, cast, sign_in):
    org = make_org(db_session, owner=cast.owner_a, status="submitted")
    member = sign_in(cast.owner_a)
    html = member.get(f"/orgs/{org.slug}/projects/new").get_data(as_text=True)
    assert "承認された団体だけ" in html and 'name="title"' not in html
    post_form(member, f"/orgs/{org.slug}/projects/new", _project_form())
    assert db_session.scalar(select(Project).where(Project.organisation_id == org.id)) is None


def test_members_move_the_phase(db_session, cast, sign_in):
    project = make_project(db_session, cast.org_a, status="published")
    member = sign_in(cast.owner_a)
    post_form(member, f"/projects/{project.slug}/phase", {"phase": "implementation", "note": "開始"})
    assert _get(db_session, project.slug).phase.value == "implementation"
    timeline = sign_in(None).get(f"/projects/{project.slug}").get_data(as_text=True)
    assert "実施" in timeline and "開始" in timeline


def test_staff_set_tax_excluded(db_session, cast, sign_in):
    project = make_project(db_session, cast.org_a, status="submitted")
    post_form(sign_in(cast.admin), f"/projects/{project.slug}/flags", {"tax_excluded": "y"})
    assert _get(db_session, project.slug).tax_excluded is True


def test_review_queue_filters(db_session, cast, sign_in):
    make_project(db_session, cast.org_a, status="submitted", title="待ちの事業")
    make_project(db_session, cast.org_a, status="resubmitted", title="再申請の事業")
    make_project(db_session, cast.org_b, status="approved", title="承認済みの事業")
    reviewer = sign_in(cast.reviewer)

    def titles(query):
        soup = BeautifulSoup(reviewer.get(f"/projects/review{query}").get_data(as_text=True), "html.parser")
        return sorted(a.get_text() for a in soup.select("tbody th a"))

    assert titles("") == ["再申請の事業", "待ちの事業"]
    assert titles("?status=approved") == ["承認済みの事業"]
    assert titles("?q=再申請") == ["再申請の事業"]
    assert titles("?status=bogus") == ["再申請の事業", "待ちの事業"]


# --- reports ---------------------------------------------------------------------------------


def test_an_evaluation_report_publishes_mails_and_marks_the_project_reported(
    db_session, cast, sign_in, send_mail, mailbox
):
    ended = today_in_tokyo() - timedelta(days=1)
    targets = [
        {"indicator": "食事の提供", "target_value": 1200, "unit": "食", "due_on": ended},
        {"indicator": "ボランティア", "target_value": 30, "unit": "人", "due_on": ended},
    ]
    project = make_project(db_session, cast.org_a, status="closed", starts_on=ended, ends_on=ended, targets=targets)
    first, second = project.targets
    member = sign_in(cast.staff_a)
    url = f"/projects/{project.slug}/reports/new"

    # Every target needs its achieved value; nothing is saved until it has one.
    incomplete = {"kind": "evaluation", "title": "評価報告", "body": "本文", f"achieved_{first.id}": "1350"}
    page = post_form(member, url, incomplete)
    assert page.status_code == 200 and "達成値を入力してください" in page.get_data(as_text=True)
    assert db_session.scalar(select(ActivityReport)) is None

    evil = "<script>alert(1)</script>"
    complete = {**incomplete, "body": f"ありがとうございました。{evil}", f"achieved_{second.id}": "28"}
    response = post_form(member, url, complete)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/projects/{project.slug}#reports")

    project = _get(db_session, project.slug)
    assert project.status == ProjectStatus.REPORTED and project.reported_at is not None
    assert [t.achieved_value for t in project.targets] == [1350, 28]
    page = sign_in(None).get(f"/projects/{project.slug}").get_data(as_text=True)
    assert "評価報告" in page and "1,350 食" in page and evil not in page

    assert send_mail()["sent"] == 2
    assert sorted(m["To"] for m in mailbox) == sorted([cast.owner_a.email, cast.staff_a.email])
    body = mailbox[0].get_body(("plain",)).get_content()
    assert "ありがとうございました" in body and "食事の提供: 1,350 食" in body
    assert evil not in mailbox[0].get_body(("html",)).get_content()


def test_a_progress_report_on_a_published_project_keeps_it_published(db_session, cast, sign_in, send_mail, mailbox):
    project = make_project(db_session, cast.org_a, status="published")
    member = sign_in(cast.owner_a)
    post_form(
        member, f"/projects/{project.slug}/reports/new", {"kind": "progress", "title": "第1回", "body": "開催しました"}
    )
    assert _get(db_session, project.slug).status == ProjectStatus.PUBLISHED
    assert send_mail()["sent"] == 2 and "第1回" in mailbox[0].get_body(("plain",)).get_content()


def test_an_evaluation_report_waits_for_the_end_of_giving(db_session, cast, sign_in):
    project = make_project(db_session, cast.org_a, status="published")
    member = sign_in(cast.owner_a)
    data = {"kind": "evaluation", "title": "早すぎる評価", "body": "x", f"achieved_{project.targets[0].id}": "5"}
    page = post_form(member, f"/projects/{project.slug}/reports/new", data)
    assert page.status_code == 200 and "募集を終了した後" in page.get_data(as_text=True)
    assert db_session.scalar(select(ActivityReport)) is None


def test_reports_cannot_be_posted_before_publication(db_session, cast, sign_in):
    project = make_project(db_session, cast.org_a, status="approved")
    member = sign_in(cast.owner_a)
    response = post_form(
        member, f"/projects/{project.slug}/reports/new", {"kind": "progress", "title": "x", "body": "y"}
    )
    assert response.status_code == 302 and db_session.scalar(select(ActivityReport)) is None


def test_the_manage_page_lists_reports_and_the_overdue_flag(app, db_session, cast, sign_in):
    ended = today_in_tokyo() - timedelta(days=app.config["PROJECT_REPORT_DUE_DAYS"] + 1)
    project = make_project(db_session, cast.org_a, status="closed", starts_on=ended, ends_on=ended, targets=[])
    project.reports.append(
        ActivityReport(kind=ReportKind.PROGRESS, title="夏の活動", body="x", author_id=cast.owner_a.id)
    )
    html = sign_in(cast.owner_a).get(f"/projects/{project.slug}/manage").get_data(as_text=True)
    assert "夏の活動" in html and "期限超過" in html and 'value="report"' not in html
