"""Project pages: the public list and page, the organisation's editing and management pages, and
the staff review pages. Non-public projects answer 404 to everyone but members and staff."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from kyodo_fund.authz import admin_required, found_or_404, staff_required
from kyodo_fund.extensions import db
from kyodo_fund.orgs.models import Organisation, OrgStatus
from kyodo_fund.pagecache import cached_for_anonymous
from kyodo_fund.projects import bp, covers, queries, reports, services
from kyodo_fund.projects.forms import (
    BudgetLineForm,
    FlagsForm,
    PartnerForm,
    PhaseForm,
    ProjectForm,
    SearchForm,
    TargetForm,
    report_form,
)
from kyodo_fund.projects.models import Project, ProjectStatus, today_in_tokyo
from kyodo_fund.projects.services import Incomplete, ProjectError
from kyodo_fund.projects.workflow import WORKFLOW
from kyodo_fund.web import current_actor, paginate
from kyodo_fund.workflow import InvalidTransition, NotPermitted, ReasonRequired, available_transitions

# --- access --------------------------------------------------------------------------------


def _user() -> Any:
    return current_user._get_current_object() if current_user.is_authenticated else None


def _is_staff() -> bool:
    return current_user.is_authenticated and current_user.is_staff


def _is_member(project: Project) -> bool:
    return services.is_member(db.session, _user(), project.organisation_id)


def _visible(project: Project | None) -> Project:
    project = found_or_404(project)
    if not (project.is_public or _is_staff() or _is_member(project)):
        abort(404)
    return project


def _member_project(slug: str) -> Project:
    project = found_or_404(services.get_by_slug(db.session, slug))
    return found_or_404(project, _is_member(project))


def _member_org(org_slug: str) -> Organisation:
    org = found_or_404(db.session.scalar(select(Organisation).where(Organisation.slug == org_slug)))
    return found_or_404(org, services.is_member(db.session, _user(), org.id))


def _attach(form: Any, exc: ProjectError) -> None:
    """Show a domain refusal next to its field, or at the top of the page."""
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, str(exc.message)]
    else:
        flash(str(exc.message), "error")


# --- public --------------------------------------------------------------------------------


@bp.get("/projects/")
@cached_for_anonymous
def index():
    from kyodo_fund.orgs.data import CATEGORY_LABELS, MUNICIPALITY_BY_CODE

    form = SearchForm(formdata=request.args)
    form.validate()
    category = int(form.category.data) if (form.category.data or "").isdigit() else None
    stmt = queries.public_list_query(
        text=(form.q.data or "").strip() if not form.q.errors else "",
        category=category if category in CATEGORY_LABELS else None,
        municipality_code=form.municipality.data if form.municipality.data in MUNICIPALITY_BY_CODE else None,
        status=form.status.data if form.status.data in queries.PUBLIC_STATUS_FILTERS else "published",
        sort=form.sort.data if form.sort.data in queries.SORTS else "new",
    )
    page = paginate(db.session, stmt)
    return render_template("projects/index.html", form=form, page=page, today=today_in_tokyo())


@bp.get("/projects/<slug>")
def show(slug: str):
    from kyodo_fund.donations.services import named_supporters

    project = _visible(queries.load_full(db.session, slug))
    return render_template(
        "projects/show.html",
        project=project,
        supporters=named_supporters(db.session, project.id) if project.is_public else [],
        is_member=_is_member(project),
        today=today_in_tokyo(),
        due_days=current_app.config["PROJECT_REPORT_DUE_DAYS"],
    )


@bp.get("/projects/<slug>/cover")
def cover(slug: str):
    project = _visible(services.get_by_slug(db.session, slug))
    if not project.cover_name:
        abort(404)
    path = covers.cover_path(current_app.config["UPLOAD_DIR"], project.cover_name)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=project.cover_type, max_age=3600, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    if not project.is_public:
        response.cache_control.private = True
        response.cache_control.public = False
    return response


# --- the organisation's pages ----------------------------------------------------------------


@bp.get("/orgs/<org_slug>/projects")
@login_required
def org_projects(org_slug: str):
    org = _member_org(org_slug)
    return render_template("projects/org_projects.html", org=org, projects=queries.org_projects(db.session, org.id))


def _save_cover(project: Project, form: ProjectForm) -> str | None:
    """Returns the stored name of a cover file the commit makes unused."""
    if form.cover.data:
        return covers.set_cover(
            db.session,
            current_actor(),
            project,
            form.cover.data.stream,
            upload_dir=current_app.config["UPLOAD_DIR"],
            max_bytes=current_app.config["PROJECT_COVER_MAX_BYTES"],
        )
    if form.remove_cover.data:
        return covers.remove_cover(db.session, current_actor(), project)
    return None


@bp.route("/orgs/<org_slug>/projects/new", methods=["GET", "POST"])
@login_required
def new(org_slug: str):
    org = _member_org(org_slug)
    if org.status != OrgStatus.APPROVED:
        return render_template("projects/form.html", form=None, org=org, project=None)
    form = ProjectForm()
    if form.validate_on_submit():
        try:
            project = services.create_project(db.session, current_actor(), org, form.values())
            _save_cover(project, form)
        except ProjectError as exc:
            db.session.rollback()
            _attach(form, exc)
        else:
            db.session.commit()
            flash(_("下書きを保存しました。続けて成果目標・連携団体・予算を登録してください。"))
            return redirect(url_for("projects.plan", slug=project.slug))
    return render_template("projects/form.html", form=form, org=org, project=None)


@bp.route("/projects/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    project = _member_project(slug)
    if not project.is_editable:
        flash(str(services.NotEditable().message), "error")
        return redirect(url_for("projects.manage", slug=project.slug))
    form = ProjectForm(obj=project)
    if form.validate_on_submit():
        try:
            services.update_project(db.session, current_actor(), project, form.values())
            unused = _save_cover(project, form)
        except ProjectError as exc:
            db.session.rollback()
            _attach(form, exc)
        else:
            db.session.commit()
            covers.discard_cover_file(current_app.config["UPLOAD_DIR"], unused)
            flash(_("保存しました。"))
            return redirect(url_for("projects.manage", slug=project.slug))
    return render_template("projects/form.html", form=form, org=project.organisation, project=project)


PLAN_FORMS = {
    "target": (TargetForm, services.add_target),
    "partner": (PartnerForm, services.add_partner),
    "budget": (BudgetLineForm, services.add_budget_line),
}


@bp.route("/projects/<slug>/plan", methods=["GET", "POST"])
@login_required
def plan(slug: str):
    """Outcome targets, partners and budget on one page: one add form each, a remove button per row."""
    project = _member_project(slug)
    which = request.form.get("form_name") if request.method == "POST" else None
    # Only the submitted form reads the request, so the other two render empty and without errors.
    forms = {name: cls(prefix=name, formdata=None) for name, (cls, _add) in PLAN_FORMS.items()}
    if which in PLAN_FORMS:
        form = forms[which] = PLAN_FORMS[which][0](prefix=which)
        if not project.is_editable:
            flash(str(services.NotEditable().message), "error")
        elif form.validate_on_submit():
            try:
                PLAN_FORMS[which][1](db.session, current_actor(), project, form.data)
            except ProjectError as exc:
                db.session.rollback()
                _attach(form, exc)
            else:
                db.session.commit()
                flash(_("追加しました。"))
                return redirect(url_for("projects.plan", slug=project.slug, _anchor=which))
    return render_template("projects/plan.html", project=project, forms=forms)


@bp.post("/projects/<slug>/plan/<kind>/<int:item_id>/delete")
@login_required
def remove_plan_item(slug: str, kind: str, item_id: int):
    project = _member_project(slug)
    if kind not in services.PLAN_COLLECTIONS:
        abort(404)
    try:
        services.remove_plan_item(db.session, current_actor(), project, kind, item_id)
    except LookupError:
        abort(404)
    except ProjectError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("削除しました。"))
    return redirect(url_for("projects.plan", slug=project.slug, _anchor=kind))


@bp.get("/projects/<slug>/manage")
@login_required
def manage(slug: str):
    project = _member_project(slug)
    config = current_app.config
    missing = (
        services.missing_for_submission(db.session, project, config, new=project.status == ProjectStatus.DRAFT)
        if project.is_editable
        else []
    )
    transitions = [t for t in available_transitions(WORKFLOW, project, current_user) if t.action != "report"]
    phase_form = PhaseForm(formdata=None, phase=project.phase.value)
    return render_template(
        "projects/manage.html",
        project=project,
        missing=missing,
        transitions=transitions,
        phase_form=phase_form,
        history=queries.status_history(db.session, project),
        can_report=any(reports.can_post(project, kind) for kind in reports.REPORT_STATES),
        report_due_on=project.report_due_on(config["PROJECT_REPORT_DUE_DAYS"]),
        today=today_in_tokyo(),
    )


@bp.post("/projects/<slug>/transition")
@login_required
def transition(slug: str):
    project = found_or_404(services.get_by_slug(db.session, slug))
    member = _is_member(project)
    found_or_404(project, member or _is_staff())
    back = url_for("projects.manage" if member else "projects.review", slug=project.slug)
    action = request.form.get("action", "")
    try:
        done = services.transition_project(
            db.session, current_actor(), project, action, current_app.config, reason=request.form.get("reason")
        )
    except Incomplete as exc:
        db.session.rollback()
        flash(" ".join([str(exc.message), *(f"・{m}" for m in exc.missing)]), "error")
    except ReasonRequired:
        db.session.rollback()
        flash(_("理由・コメントを入力してください。"), "error")
    except (InvalidTransition, NotPermitted):
        db.session.rollback()
        flash(_("この操作は、いまの状態ではできません。"), "error")
    except ProjectError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("「%(label)s」を行いました。", label=done.label))
    return redirect(back)


@bp.post("/projects/<slug>/phase")
@login_required
def phase(slug: str):
    project = _member_project(slug)
    form = PhaseForm()
    if not form.validate_on_submit():
        flash(_("段階を一覧から選んでください。"), "error")
        return redirect(url_for("projects.manage", slug=project.slug))
    try:
        services.change_phase(db.session, current_actor(), project, form.phase.data, form.note.data or "")
    except ProjectError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("段階を「%(phase)s」に変更しました。", phase=project.phase.label))
    return redirect(url_for("projects.manage", slug=project.slug))


@bp.route("/projects/<slug>/reports/new", methods=["GET", "POST"])
@login_required
def new_report(slug: str):
    project = _member_project(slug)
    if not any(reports.can_post(project, kind) for kind in reports.REPORT_STATES):
        flash(_("報告は事業の公開後に投稿できます。"), "error")
        return redirect(url_for("projects.manage", slug=project.slug))
    form = report_form(project.targets)
    if form.validate_on_submit():
        try:
            reports.post_report(
                db.session,
                current_actor(),
                project,
                kind=form.kind.data,
                title=form.title.data,
                body=form.body.data,
                achieved=form.achieved(),
            )
        except ProjectError as exc:
            db.session.rollback()
            _attach(form, exc)
        else:
            db.session.commit()
            flash(_("報告を公開し、お知らせメールを送りました。"))
            return redirect(url_for("projects.show", slug=project.slug, _anchor="reports"))
    return render_template("projects/report_form.html", project=project, form=form)


# --- staff -----------------------------------------------------------------------------------

#: States whose project a reviewer checks against the submission rules.
SCREENED_STATES = frozenset({ProjectStatus.SUBMITTED, ProjectStatus.RESUBMITTED})
REVIEW_FILTERS = {"awaiting": queries.AWAITING_REVIEW, **{s.value: (s,) for s in ProjectStatus}}


@bp.get("/projects/review")
@staff_required
def review_queue():
    status = request.args.get("status", "awaiting")
    status = status if status in REVIEW_FILTERS else "awaiting"
    text = request.args.get("q", "").strip()[:100]
    page = paginate(db.session, queries.review_queue_query(statuses=REVIEW_FILTERS[status], text=text))
    return render_template("projects/review_queue.html", page=page, status=status, q=text, statuses=ProjectStatus)


@bp.get("/projects/<slug>/review")
@staff_required
def review(slug: str):
    project = found_or_404(services.get_by_slug(db.session, slug))
    config = current_app.config
    return render_template(
        "projects/review.html",
        project=project,
        missing=services.missing_for_submission(db.session, project, config, new=False)
        if project.status in SCREENED_STATES
        else [],
        transitions=available_transitions(WORKFLOW, project, current_user),
        flags_form=FlagsForm(formdata=None, tax_excluded=project.tax_excluded),
        history=queries.status_history(db.session, project),
        overdue=services.overdue_report_projects(db.session, project.organisation_id, config),
        today=today_in_tokyo(),
        due_days=config["PROJECT_REPORT_DUE_DAYS"],
    )


@bp.post("/projects/<slug>/flags")
@admin_required  # reviewers screen but never change settings that reach receipts
def flags(slug: str):
    project = found_or_404(services.get_by_slug(db.session, slug))
    form = FlagsForm()
    if form.validate_on_submit():
        services.set_tax_excluded(db.session, current_actor(), project, form.tax_excluded.data)
        db.session.commit()
        flash(_("設定を保存しました。"))
    return redirect(url_for("projects.review", slug=project.slug))
