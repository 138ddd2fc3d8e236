"""Editing rules, the plan (targets, partners, budget), phases, cover images and donation counters."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.projects import covers, services
from kyodo_fund.projects.models import TOKYO, Project, ProjectPhase, ProjectStatus
from kyodo_fund.workflow import NotPermitted
from tests.factories import make_project

EDITABLE = {ProjectStatus.DRAFT, ProjectStatus.MORE_INFO_NEEDED}


def _data(project, **changes):
    values = {name: getattr(project, name) for name in services.PLAIN_FIELDS}
    values["slug"] = project.slug
    values.update(changes)
    return values


@pytest.mark.parametrize("status", list(ProjectStatus), ids=str)
def test_members_edit_only_in_draft_or_more_info_needed(db_session, cast, status):
    project = make_project(db_session, cast.org_a, status=status)
    owner = Actor(user=cast.owner_a)
    target = {"indicator": "参加者", "target_value": 10, "unit": "人", "due_on": project.ends_on}
    if status in EDITABLE:
        services.update_project(db_session, owner, project, _data(project, title="新しい名前"))
        services.add_target(db_session, owner, project, target)
        assert project.title == "新しい名前" and len(project.targets) == 2
    else:
        with pytest.raises(services.NotEditable):
            services.update_project(db_session, owner, project, _data(project, title="新しい名前"))
        with pytest.raises(services.NotEditable):
            services.add_target(db_session, owner, project, target)
        with pytest.raises(services.NotEditable):
            services.remove_plan_item(db_session, owner, project, "target", project.targets[0].id)
        assert project.title != "新しい名前" and len(project.targets) == 1


def test_update_reports_changed_fields_and_audits(db_session, cast):
    project = make_project(db_session, cast.org_a, status="draft")
    changed = services.update_project(db_session, Actor(user=cast.owner_a), project, _data(project, goal_yen=450_000))
    assert changed == ["goal_yen"]
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "projects.update"))
    assert entry.after == {"fields": ["goal_yen"]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": "review"}, "slug"),
        ({"slug": "日本語"}, "slug"),
        ({"activity_category": 21}, "activity_category"),
        ({"municipality_code": "131016"}, "municipality_code"),  # 千代田区: not in Nagano
        ({"goal_yen": 0}, "goal_yen"),
        ({"summary": "あ" * 201}, "summary"),
    ],
)
def test_invalid_values_are_refused_with_the_field(db_session, cast, changes, field):
    project = make_project(db_session, cast.org_a, status="draft")
    with pytest.raises(services.ProjectError) as caught:
        services.update_project(db_session, Actor(user=cast.owner_a), project, _data(project, **changes))
    assert caught.value.field == field


def test_the_end_may_not_precede_the_start(db_session, cast):
    project = make_project(db_session, cast.org_a, status="draft")
    with pytest.raises(services.ProjectError):
        services.update_project(
            db_session, Actor(user=cast.owner_a), project, _data(project, ends_on=project.starts_on - timedelta(days=1))
        )


def test_a_taken_slug_is_refused(db_session, cast):
    make_project(db_session, cast.org_b, slug="kodomo-shokudo")
    project = make_project(db_session, cast.org_a, status="draft")
    with pytest.raises(services.ProjectError, match="すでに使われています"):
        services.update_project(db_session, Actor(user=cast.owner_a), project, _data(project, slug="kodomo-shokudo"))


def test_targets_may_not_be_due_after_the_end(db_session, cast):
    project = make_project(db_session, cast.org_a, status="draft")
    late = {"indicator": "x", "target_value": 1, "unit": "回", "due_on": project.ends_on + timedelta(days=1)}
    with pytest.raises(services.ProjectError) as caught:
        services.add_target(db_session, Actor(user=cast.owner_a), project, late)
    assert caught.value.field == "due_on"


def test_plan_items_are_added_and_removed(db_session, cast):
    project = make_project(db_session, cast.org_a, status="draft")
    owner = Actor(user=cast.owner_a)
    partner = services.add_partner(
        db_session,
        owner,
        project,
        {"name": "長野市社会福祉協議会", "partner_type": "intermediary", "role": "ボランティア募集"},
    )
    line = services.add_budget_line(db_session, owner, project, {"item": "食材費", "amount_yen": 120_000})
    assert [p.name for p in project.partners] == ["長野市社会福祉協議会"]
    assert project.budget_lines[0].amount_yen == 120_000
    services.remove_plan_item(db_session, owner, project, "partner", partner.id)
    services.remove_plan_item(db_session, owner, project, "budget", line.id)
    assert project.partners == [] and project.budget_lines == []
    with pytest.raises(LookupError):
        services.remove_plan_item(db_session, owner, project, "budget", line.id)


def test_phase_changes_are_logged_for_the_timeline(db_session, cast, time_machine):
    time_machine.move_to("2026-04-01 09:00 +09:00", tick=False)
    project = make_project(db_session, cast.org_a, status="published")
    time_machine.move_to("2026-05-10 09:00 +09:00", tick=False)
    services.change_phase(db_session, Actor(user=cast.staff_a), project, ProjectPhase.IMPLEMENTATION, "開始しました")
    assert project.phase == ProjectPhase.IMPLEMENTATION
    change = project.phase_changes[-1]
    assert (change.previous_phase, change.phase, change.note) == (
        ProjectPhase.PLANNING,
        ProjectPhase.IMPLEMENTATION,
        "開始しました",
    )
    assert change.changed_at.astimezone(TOKYO).date().isoformat() == "2026-05-10"
    with pytest.raises(services.ProjectError):
        services.change_phase(db_session, Actor(user=cast.owner_a), project, ProjectPhase.IMPLEMENTATION)
    with pytest.raises(NotPermitted):
        services.change_phase(db_session, Actor(user=cast.reviewer), project, ProjectPhase.EVALUATION)
    assert len(project.phase_changes) == 2


def test_only_staff_set_tax_excluded(db_session, cast):
    project = make_project(db_session, cast.org_a, status="submitted")
    with pytest.raises(NotPermitted):
        services.set_tax_excluded(db_session, Actor(user=cast.owner_a), project, True)
    services.set_tax_excluded(db_session, Actor(user=cast.reviewer), project, True)
    assert project.tax_excluded is True
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "projects.tax_excluded"))
    assert (entry.before, entry.after, entry.actor_id) == (
        {"tax_excluded": False},
        {"tax_excluded": True},
        cast.reviewer.id,
    )


# --- cover images ----------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.mark.parametrize(("data", "content_type"), [(PNG, "image/png"), (JPEG, "image/jpeg")])
def test_covers_are_recognised_by_magic_bytes(db_session, cast, tmp_path, data, content_type):
    project = make_project(db_session, cast.org_a, status="draft")
    covers.set_cover(
        db_session, Actor(user=cast.owner_a), project, io.BytesIO(data), upload_dir=str(tmp_path), max_bytes=1024
    )
    assert project.cover_type == content_type
    assert covers.cover_path(str(tmp_path), project.cover_name).read_bytes() == data


@pytest.mark.parametrize(
    "data",
    [b"GIF89a" + b"\x00" * 10, b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", b"%PDF-1.7"],
)
def test_other_files_are_refused_whatever_their_name(db_session, cast, tmp_path, data):
    project = make_project(db_session, cast.org_a, status="draft")
    with pytest.raises(services.ProjectError):
        covers.set_cover(
            db_session, Actor(user=cast.owner_a), project, io.BytesIO(data), upload_dir=str(tmp_path), max_bytes=1024
        )
    assert project.cover_name is None
    assert not (tmp_path / "projects").exists() or not any((tmp_path / "projects").iterdir())


def test_covers_over_the_limit_are_refused(db_session, cast, tmp_path):
    project = make_project(db_session, cast.org_a, status="draft")
    with pytest.raises(services.ProjectError, match="大きすぎます"):
        covers.set_cover(
            db_session,
            Actor(user=cast.owner_a),
            project,
            io.BytesIO(PNG + b"\x00" * 1024),
            upload_dir=str(tmp_path),
            max_bytes=1024,
        )


def test_replacing_a_cover_hands_back_the_old_file_for_deletion(db_session, cast, tmp_path):
    project = make_project(db_session, cast.org_a, status="draft")
    owner = Actor(user=cast.owner_a)
    assert (
        covers.set_cover(db_session, owner, project, io.BytesIO(PNG), upload_dir=str(tmp_path), max_bytes=1024) is None
    )
    first = project.cover_name
    assert (
        covers.set_cover(db_session, owner, project, io.BytesIO(JPEG), upload_dir=str(tmp_path), max_bytes=1024)
        == first
    )
    second = project.cover_name
    assert second != first and project.cover_type == "image/jpeg"
    assert covers.remove_cover(db_session, owner, project) == second
    assert project.cover_name is None and project.cover_type is None


# --- donation counters -----------------------------------------------------------------------


def test_gifts_and_refunds_move_the_counters(db_session, cast):
    project = make_project(db_session, cast.org_a, status="published")
    services.apply_gift(db_session, project, 5_000, new_donor=True)
    services.apply_gift(db_session, project, 3_000, new_donor=True)
    services.apply_gift(db_session, project, 2_000, new_donor=False)  # the first donor again
    assert (project.raised_yen, project.donor_count) == (10_000, 2)
    services.apply_refund(db_session, project, 3_000, donor_gone=True)
    assert (project.raised_yen, project.donor_count) == (7_000, 1)
    row = db_session.execute(text("SELECT raised_yen, donor_count FROM projects WHERE id = :id"), {"id": project.id})
    assert tuple(row.one()) == (7_000, 1)


def test_counters_add_up_in_sql_not_from_a_stale_copy(db_session, cast):
    project = make_project(db_session, cast.org_a, status="published")
    # Another process gives meanwhile; our in-memory object still says 0.
    db_session.execute(
        text("UPDATE projects SET raised_yen = 1000, donor_count = 1 WHERE id = :id"), {"id": project.id}
    )
    services.apply_gift(db_session, project, 500, new_donor=True)
    assert (project.raised_yen, project.donor_count) == (1_500, 2)


def test_refunds_never_take_the_counters_below_zero(db_session, cast):
    project = make_project(db_session, cast.org_a, status="closed")
    services.apply_gift(db_session, project, 1_000, new_donor=True)
    with pytest.raises(services.CounterUnderflow):
        services.apply_refund(db_session, project, 1_001, donor_gone=False)
    services.apply_refund(db_session, project, 500, donor_gone=True)
    with pytest.raises(services.CounterUnderflow):
        services.apply_refund(db_session, project, 500, donor_gone=True)  # no donor left to go
    # The refused refund left the transaction usable and the counters consistent.
    assert (project.raised_yen, project.donor_count) == (500, 0)
    assert db_session.get(Project, project.id).status == ProjectStatus.CLOSED


@pytest.mark.parametrize("amount", [0, -100, True, 1.5])
def test_counter_amounts_are_positive_whole_yen(db_session, cast, amount):
    project = make_project(db_session, cast.org_a, status="published")
    with pytest.raises(ValueError):
        services.apply_gift(db_session, project, amount, new_donor=True)
    assert project.raised_yen == 0


def test_the_database_refuses_negative_counters_itself(db_session, cast):
    from sqlalchemy.exc import IntegrityError

    project = make_project(db_session, cast.org_a, status="published")
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(text("UPDATE projects SET donor_count = -1 WHERE id = :id"), {"id": project.id})
