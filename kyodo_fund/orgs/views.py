"""Pages of the organisations domain. Access: public (directory, profile), members (manage, edit,
officers, documents, members), staff (review queue, review). Anything else answers 404."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from kyodo_fund.authz import found_or_404, staff_required
from kyodo_fund.extensions import db
from kyodo_fund.orgs import bp
from kyodo_fund.orgs.data import ACTIVITY_CATEGORIES, CATEGORY_LABELS, MUNICIPALITY_BY_CODE, municipality_choices
from kyodo_fund.orgs.documents import document_path, store_document
from kyodo_fund.orgs.forms import DocumentForm, InviteForm, OfficerForm, OrgForm
from kyodo_fund.orgs.members import (
    InvitationExpired,
    InvitationNotFound,
    accept_invitation,
    find_invitation,
    invite_member,
    pending_invitations,
    remove_member,
)
from kyodo_fund.orgs.models import DOCUMENT_STATES, DocumentKind, MemberRole, Membership, Organisation, OrgStatus
from kyodo_fund.orgs.services import (
    AWAITING_REVIEW,
    Incomplete,
    NotEditable,
    OrgError,
    add_officer,
    count_by_status,
    directory_query,
    get_by_slug,
    missing_for_submission,
    orgs_of_user,
    register_org,
    remove_officer,
    review_queue_query,
    screening_history,
    transition_org,
    update_org,
)
from kyodo_fund.orgs.workflow import WORKFLOW
from kyodo_fund.pagecache import cached_for_anonymous
from kyodo_fund.web import current_actor, paginate
from kyodo_fund.workflow import InvalidTransition, NotPermitted, ReasonRequired, available_transitions


@bp.app_template_global("orgs_url")
def orgs_url(endpoint: str, **values: Any) -> str:
    """Absolute URL on ``PUBLIC_BASE_URL`` for mails: never built from the request's Host header."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def _org_or_404(slug: str) -> Organisation:
    return found_or_404(get_by_slug(db.session, slug))


def _member_org(slug: str, *, owner: bool = False) -> tuple[Organisation, Membership]:
    org = _org_or_404(slug)
    membership = org.membership_of(current_user.id)
    found_or_404(membership, membership is not None and (not owner or membership.role == MemberRole.OWNER))
    return org, membership


def _form_error(form: Any, exc: OrgError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def _flash_errors(form: Any) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "error")


# --- public --------------------------------------------------------------------------------


@bp.get("/")
@cached_for_anonymous
def directory():
    text = request.args.get("q", "").strip()[:100]
    category = request.args.get("category", type=int)
    category = category if category in CATEGORY_LABELS else None
    municipality = request.args.get("municipality", "")
    municipality = municipality if municipality in MUNICIPALITY_BY_CODE else None
    page = paginate(db.session, directory_query(text=text, category=category, municipality_code=municipality))
    return render_template(
        "orgs/directory.html",
        page=page,
        q=text,
        category=category,
        municipality=municipality,
        categories=ACTIVITY_CATEGORIES,
        municipalities=municipality_choices(),
    )


@bp.get("/<slug>")
def profile(slug: str) -> str:
    org = _org_or_404(slug)
    # Only approved organisations are public; members see everything else on their manage page.
    found_or_404(org, org.status == OrgStatus.APPROVED)
    return render_template("orgs/profile.html", org=org)


# --- registering and managing (members) ----------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Response | str:
    form = OrgForm()
    if form.validate_on_submit():
        try:
            org = register_org(db.session, current_actor(), form.to_data())
        except OrgError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            db.session.commit()
            flash(_("団体を下書きとして登録しました。続けて役員を登録してください。"), "success")
            return redirect(url_for("orgs.officers", slug=org.slug))
    return render_template("orgs/form.html", form=form, org=None)


@bp.get("/mine")
@login_required
def mine() -> str:
    return render_template("orgs/mine.html", rows=orgs_of_user(db.session, current_user.id))


@bp.get("/<slug>/manage")
@login_required
def manage(slug: str) -> str:
    org, membership = _member_org(slug)
    return render_template(
        "orgs/manage.html",
        org=org,
        membership=membership,
        missing=missing_for_submission(org) if org.is_editable else [],
        transitions=available_transitions(WORKFLOW, org, current_user),
        invitations=pending_invitations(org) if membership.role == MemberRole.OWNER else [],
        invite_form=InviteForm(),
        document_form=DocumentForm(),
        can_upload=org.status in DOCUMENT_STATES,
    )


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str) -> Response | str:
    org, _membership = _member_org(slug)
    if not org.is_editable:
        flash(_("審査中または審査済みの団体情報は変更できません。"), "error")
        return redirect(url_for("orgs.manage", slug=org.slug))
    form = OrgForm.from_org(org)
    if form.validate_on_submit():
        try:
            update_org(db.session, current_actor(), org, form.to_data())
        except OrgError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            db.session.commit()
            flash(_("団体情報を保存しました。"), "success")
            return redirect(url_for("orgs.manage", slug=org.slug))
    return render_template("orgs/form.html", form=form, org=org)


@bp.route("/<slug>/officers", methods=["GET", "POST"])
@login_required
def officers(slug: str) -> Response | str:
    org, _membership = _member_org(slug)
    form = OfficerForm()
    if org.is_editable and form.validate_on_submit():
        add_officer(db.session, current_actor(), org, form.data)
        db.session.commit()
        flash(_("役員を追加しました。"), "success")
        return redirect(url_for("orgs.officers", slug=org.slug))
    if request.method == "POST" and not org.is_editable:
        flash(_("審査中または審査済みの団体情報は変更できません。"), "error")
    return render_template("orgs/officers.html", org=org, form=form)


@bp.post("/<slug>/officers/<int:officer_id>/remove", endpoint="remove_officer")
@login_required
def remove_officer_view(slug: str, officer_id: int) -> Response:
    org, _membership = _member_org(slug)
    try:
        remove_officer(db.session, current_actor(), org, officer_id)
    except LookupError:
        found_or_404(None)
    except NotEditable as exc:
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("役員を削除しました。"), "success")
    return redirect(url_for("orgs.officers", slug=org.slug))


@bp.post("/<slug>/documents")
@login_required
def upload_document(slug: str) -> Response:
    org, _membership = _member_org(slug)
    form = DocumentForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for("orgs.manage", slug=org.slug, _anchor="documents"))
    upload = form.file.data
    try:
        store_document(
            db.session,
            current_actor(),
            org,
            kind=DocumentKind(form.kind.data),
            filename=upload.filename or "",
            stream=upload.stream,
            upload_dir=current_app.config["UPLOAD_DIR"],
            max_bytes=current_app.config["DOCUMENT_MAX_BYTES"],
        )
    except OrgError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("書類をアップロードしました。"), "success")
    return redirect(url_for("orgs.manage", slug=org.slug, _anchor="documents"))


@bp.get("/<slug>/documents/<int:document_id>")
@login_required
def download_document(slug: str, document_id: int) -> Response:
    org = _org_or_404(slug)
    found_or_404(org, current_user.is_staff or org.membership_of(current_user.id) is not None)
    doc = found_or_404(next((d for d in org.documents if d.id == document_id), None))
    path = document_path(current_app.config["UPLOAD_DIR"], doc)
    found_or_404(path, path.is_file())
    response = send_file(
        path, mimetype="application/pdf", as_attachment=True, download_name=doc.original_filename, max_age=0
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<slug>/transition")
@login_required
def transition(slug: str) -> Response:
    org = _org_or_404(slug)
    is_member = org.membership_of(current_user.id) is not None
    found_or_404(org, is_member or current_user.is_staff)
    back = url_for("orgs.manage" if is_member else "orgs.review", slug=org.slug)
    action = request.form.get("action", "")
    try:
        done = transition_org(db.session, current_actor(), org, action, request.form.get("reason"))
    except NotPermitted:
        db.session.rollback()
        found_or_404(None)
    except InvalidTransition:
        db.session.rollback()
        flash(_("この操作は現在の状態では行えません。"), "error")
    except ReasonRequired:
        db.session.rollback()
        flash(_("理由・コメントを入力してください。"), "error")
    except Incomplete as exc:
        db.session.rollback()
        flash(f"{exc.message} {'、'.join(str(m) for m in exc.missing)}", "error")
    else:
        db.session.commit()
        flash(_("「%(label)s」を行いました。", label=done.label), "success")
    return redirect(back)


# --- members and invitations ---------------------------------------------------------------


@bp.post("/<slug>/invite")
@login_required
def invite(slug: str) -> Response:
    org, _membership = _member_org(slug, owner=True)
    form = InviteForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for("orgs.manage", slug=org.slug, _anchor="members"))
    try:
        invite_member(
            db.session,
            current_actor(),
            org,
            email=form.email.data,
            role=MemberRole(form.role.data),
            valid_hours=current_app.config["INVITE_TOKEN_HOURS"],
        )
    except OrgError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("%(email)s に招待メールを送りました。", email=form.email.data), "success")
    return redirect(url_for("orgs.manage", slug=org.slug, _anchor="members"))


@bp.post("/<slug>/members/<int:membership_id>/remove", endpoint="remove_member")
@login_required
def remove_member_view(slug: str, membership_id: int) -> Response:
    org, _membership = _member_org(slug, owner=True)
    try:
        remove_member(db.session, current_actor(), org, membership_id)
    except LookupError:
        found_or_404(None)
    except OrgError as exc:
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("メンバーを削除しました。"), "success")
    return redirect(url_for("orgs.manage", slug=org.slug, _anchor="members"))


@bp.route("/invitations/<token>", methods=["GET", "POST"], endpoint="accept_invitation")
@login_required
def accept_invitation_view(token: str) -> Response | tuple[str, int] | str:
    try:
        invitation = find_invitation(db.session, token, current_user)
    except InvitationNotFound:
        found_or_404(None)
    except InvitationExpired:
        return render_template("orgs/invitation_expired.html"), 410
    if request.method == "POST":
        accept_invitation(db.session, current_actor(), token)
        db.session.commit()
        flash(_("%(name)s のメンバーになりました。", name=invitation.organisation.name), "success")
        return redirect(url_for("orgs.manage", slug=invitation.organisation.slug))
    return render_template("orgs/invitation.html", invitation=invitation)


# --- screening (staff) ---------------------------------------------------------------------


@bp.get("/review")
@staff_required
def review_queue() -> str:
    raw = request.args.get("status", "")
    if raw == "all":
        statuses: tuple[OrgStatus, ...] = tuple(OrgStatus)
    elif raw in {s.value for s in OrgStatus}:
        statuses = (OrgStatus(raw),)
    else:
        statuses = AWAITING_REVIEW
    text = request.args.get("q", "").strip()[:100]
    page = paginate(db.session, review_queue_query(statuses=statuses, text=text))
    return render_template(
        "orgs/review_queue.html", page=page, status=raw, q=text, counts=count_by_status(db.session), statuses=OrgStatus
    )


@bp.get("/<slug>/review")
@staff_required
def review(slug: str) -> str:
    org = _org_or_404(slug)
    return render_template(
        "orgs/review.html",
        org=org,
        missing=missing_for_submission(org),
        transitions=available_transitions(WORKFLOW, org, current_user),
        history=screening_history(db.session, org),
    )
