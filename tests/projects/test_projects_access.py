"""Who gets what from every project endpoint: anonymous, a donor, a member of the project's
organisation (A), a member of another organisation (B), a reviewer, an administrator."""

from __future__ import annotations

import io

import pytest

from kyodo_fund.audit import Actor
from kyodo_fund.projects import covers
from kyodo_fund.projects.models import Project, ProjectStatus
from tests.conftest import post_form
from tests.factories import make_project

VISITORS = ("anon", "donor", "member_a", "member_b", "reviewer", "admin")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _user(cast, visitor):
    return {
        "anon": None,
        "donor": cast.donor,
        "member_a": cast.owner_a,
        "member_b": cast.member_b,
        "reviewer": cast.reviewer,
        "admin": cast.admin,
    }[visitor]


def _expect(anon, donor, member_a, member_b, reviewer, admin):
    return dict(zip(VISITORS, (anon, donor, member_a, member_b, reviewer, admin), strict=True))


PUBLIC = _expect(200, 200, 200, 200, 200, 200)
NON_PUBLIC = _expect(404, 404, 200, 404, 200, 200)
MEMBERS_ONLY = _expect(302, 404, 200, 404, 404, 404)
MEMBERS_ONLY_POST = _expect(302, 404, 302, 404, 404, 404)
STAFF_ONLY = _expect(302, 404, 404, 404, 200, 200)

#: (name, project status, method, URL template, expected status per visitor)
CASES = [
    ("index", "published", "GET", "/projects/", PUBLIC),
    ("show published", "published", "GET", "/projects/{slug}", PUBLIC),
    ("show closed", "closed", "GET", "/projects/{slug}", PUBLIC),
    ("show draft", "draft", "GET", "/projects/{slug}", NON_PUBLIC),
    ("show submitted", "submitted", "GET", "/projects/{slug}", NON_PUBLIC),
    ("show approved", "approved", "GET", "/projects/{slug}", NON_PUBLIC),
    ("show rejected", "rejected", "GET", "/projects/{slug}", NON_PUBLIC),
    ("cover published", "published", "GET", "/projects/{slug}/cover", PUBLIC),
    ("cover draft", "draft", "GET", "/projects/{slug}/cover", NON_PUBLIC),
    ("org projects", "draft", "GET", "/orgs/{org}/projects", MEMBERS_ONLY),
    ("new", "draft", "GET", "/orgs/{org}/projects/new", MEMBERS_ONLY),
    ("edit", "draft", "GET", "/projects/{slug}/edit", MEMBERS_ONLY),
    ("plan", "draft", "GET", "/projects/{slug}/plan", MEMBERS_ONLY),
    ("manage", "submitted", "GET", "/projects/{slug}/manage", MEMBERS_ONLY),
    ("new report", "published", "GET", "/projects/{slug}/reports/new", MEMBERS_ONLY),
    ("review queue", "submitted", "GET", "/projects/review", STAFF_ONLY),
    ("review", "submitted", "GET", "/projects/{slug}/review", STAFF_ONLY),
    ("transition", "submitted", "POST", "/projects/{slug}/transition", _expect(302, 404, 302, 404, 302, 302)),
    ("phase", "published", "POST", "/projects/{slug}/phase", MEMBERS_ONLY_POST),
    ("remove plan item", "draft", "POST", "/projects/{slug}/plan/target/{target}/delete", MEMBERS_ONLY_POST),
    ("flags", "submitted", "POST", "/projects/{slug}/flags", _expect(302, 404, 404, 404, 404, 302)),
]


@pytest.mark.parametrize(("name", "status", "method", "url", "expected"), CASES, ids=[c[0] for c in CASES])
def test_access(app, db_session, cast, sign_in, tmp_path, name, status, method, url, expected):
    project = make_project(db_session, cast.org_a, status=status)
    covers.set_cover(
        db_session,
        Actor(user=cast.owner_a),
        _editable(project),
        io.BytesIO(PNG),
        upload_dir=app.config["UPLOAD_DIR"],
        max_bytes=1024,
    )
    project.status = ProjectStatus(status)
    path = url.format(slug=project.slug, org=cast.org_a.slug, target=project.targets[0].id)
    got = {}
    for visitor in VISITORS:
        client = sign_in(_user(cast, visitor))
        if method == "GET":
            got[visitor] = client.get(path).status_code
        else:
            got[visitor] = post_form(client, path, {"action": "noop", "phase": "evaluation"}).status_code
    assert got == expected


def _editable(project: Project) -> Project:
    # Covers are set while editable; the case's status is put back right after.
    project.status = ProjectStatus.DRAFT
    return project


def test_refused_visitors_change_nothing(db_session, cast, sign_in):
    project = make_project(db_session, cast.org_a, status="submitted")
    for user in (cast.donor, cast.member_b):
        client = sign_in(user)
        assert post_form(client, f"/projects/{project.slug}/transition", {"action": "approve"}).status_code == 404
        assert post_form(client, f"/projects/{project.slug}/flags", {"tax_excluded": "y"}).status_code == 404
    project = db_session.get(Project, project.id)
    assert project.status == ProjectStatus.SUBMITTED and project.tax_excluded is False


def test_a_member_of_another_organisation_cannot_create_projects_for_it(db_session, cast, sign_in):
    client = sign_in(cast.member_b)
    response = post_form(client, f"/orgs/{cast.org_a.slug}/projects/new", {"title": "乗っ取り"})
    assert response.status_code == 404
    assert db_session.query(Project).filter_by(title="乗っ取り").count() == 0


def test_the_cover_is_served_as_an_image_with_nosniff(app, db_session, cast, client):
    project = make_project(db_session, cast.org_a, status="draft")
    covers.set_cover(
        db_session,
        Actor(user=cast.owner_a),
        project,
        io.BytesIO(PNG),
        upload_dir=app.config["UPLOAD_DIR"],
        max_bytes=1024,
    )
    project.status = ProjectStatus.PUBLISHED
    db_session.commit()
    response = client.get(f"/projects/{project.slug}/cover")
    assert response.status_code == 200 and response.data == PNG
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "filename" not in response.headers.get("Content-Disposition", "")


def test_no_cover_answers_404(db_session, cast, client):
    project = make_project(db_session, cast.org_a, status="published")
    db_session.commit()
    assert client.get(f"/projects/{project.slug}/cover").status_code == 404
