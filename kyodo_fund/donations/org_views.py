"""The organisation's donation dashboard: gifts received per project, the 寄附者名簿 view of each gift (name,
address, amount, date; anonymous gifts show amount and date only), grants received and fund balances.
Members of the organisation and staff see it; the CSV export is for members and administrators."""

from __future__ import annotations

from flask import Response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kyodo_fund.audit.services import record
from kyodo_fund.authz import found_or_404
from kyodo_fund.donations import bp, listings
from kyodo_fund.extensions import db
from kyodo_fund.ledger.services import org_grants
from kyodo_fund.orgs.models import Organisation
from kyodo_fund.orgs.services import get_by_slug
from kyodo_fund.projects.models import today_in_tokyo
from kyodo_fund.web import current_actor, paginate

#: The register is kept 5 years after the fiscal year (receipts-and-tax.md §8): offer those and the current one.
FISCAL_YEARS_SHOWN = 6
#: Most Japanese organisations close their books in March.
DEFAULT_YEAR_END_MONTH = 3


def _org_for(org_slug: str, *, export: bool = False) -> Organisation:
    org = found_or_404(get_by_slug(db.session, org_slug))
    member = org.membership_of(current_user.id) is not None
    # Reviewers screen; they read the dashboard but do not take donors' data away.
    staff = current_user.is_admin if export else current_user.is_staff
    return found_or_404(org, member or staff)


def _period(org: Organisation) -> tuple[int | None, list[int], tuple]:
    end_month = org.fiscal_year_end_month or DEFAULT_YEAR_END_MONTH
    current = listings.fiscal_year_of(today_in_tokyo(), end_month)
    years = list(range(current, current - FISCAL_YEARS_SHOWN, -1))
    fy = request.args.get("fy", type=int)
    if fy not in years:
        return None, years, (None, None)
    return fy, years, listings.fiscal_year_range(fy, end_month)


@bp.get("/orgs/<org_slug>/donations")
@login_required
def org_index(org_slug: str) -> str:
    org = _org_for(org_slug)
    fy, years, (since, until) = _period(org)
    project_slug = request.args.get("project", "").strip()[:60]
    summaries = listings.project_summaries(db.session, org.id, since=since, until=until)
    page = paginate(db.session, listings.org_donations(org.id, project_slug=project_slug, since=since, until=until))
    grants = org_grants(db.session, org.id)
    ids = [*(d.project_id for d in page.items), *(g.project_id for g in grants)]
    return render_template(
        "donations/org/index.html",
        org=org,
        fy=fy,
        years=years,
        since=since,
        until=until,
        project_slug=project_slug,
        summaries=summaries,
        page=page,
        projects=listings.projects_by_id(db.session, ids),
        grants=grants,
        can_export=org.membership_of(current_user.id) is not None or current_user.is_admin,
        **listings.LABELS,
    )


#: The 寄附者名簿 columns (氏名, 住所, 寄附金額, 受入年月日) and what helps reconcile them.
ORG_EXPORT_HEADER = (
    _l("受入年月日"),
    _l("寄附金額"),
    _l("返金額"),
    _l("氏名"),
    _l("郵便番号"),
    _l("住所"),
    _l("事業"),
    _l("受付方法"),
    _l("状態"),
)


@bp.get("/orgs/<org_slug>/donations/export.csv")
@login_required
def org_export(org_slug: str) -> Response:
    org = _org_for(org_slug, export=True)
    fy, _years, (since, until) = _period(org)
    project_slug = request.args.get("project", "").strip()[:60]
    donations = list(
        db.session.scalars(listings.org_donations(org.id, project_slug=project_slug, since=since, until=until))
    )
    projects = listings.projects_by_id(db.session, (d.project_id for d in donations))
    rows = (
        (
            d.received_on.isoformat() if d.received_on else "",
            d.amount_yen,
            d.refunded_yen,
            "" if d.anonymous else d.donor_name,
            "" if d.anonymous else d.donor_postal_code,
            "" if d.anonymous else d.donor_address,
            projects[d.project_id].title,
            listings.METHOD_LABELS[d.method],
            listings.STATUS_LABELS[d.status],
        )
        for d in donations
    )
    body = listings.to_csv(ORG_EXPORT_HEADER, rows)
    after = {"fiscal_year": fy, "project": project_slug or None, "rows": len(donations)}
    record(db.session, current_actor(), "donations.org_exported", org, after=after)
    db.session.commit()
    suffix = f"-{fy}" if fy else ""
    return listings.csv_response(body, f"donor-register-{org.slug}{suffix}.csv")
