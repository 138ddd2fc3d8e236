"""``flask pst check`` (CSV files, see ``pst_files``) and ``flask pst org <slug>`` (platform data): the PST."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _

from kyodo_fund.certification.pst import PstSettings, check_pst
from kyodo_fund.certification.pst_files import PstFileError, read_donations, read_officers, read_revenue
from kyodo_fund.certification.pst_result import EXCLUSION_LABELS, PstResult
from kyodo_fund.money import format_yen

pst_cli = AppGroup("pst", help="Public support test (PST) for 認定NPO法人 applications.")

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_DAY = click.DateTime(formats=["%Y-%m-%d"])


@pst_cli.command("check")
@click.option("--donations", "donations_path", type=_FILE, required=True, help="D.csv")
@click.option("--officers", "officers_path", type=_FILE, required=True, help="O.csv")
@click.option("--fiscal-year-end-month", type=click.IntRange(1, 12), required=True)
@click.option("--as-of", type=_DAY, required=True, help="YYYY-MM-DD; fiscal years ending before it are closed.")
@click.option("--renewal", is_flag=True, help="Renewal: the last 5 closed fiscal years instead of 2.")
@click.option("--revenue", "revenue_path", type=_FILE, help="R.csv; enables the relative standard.")
@click.option("--established-on", type=_DAY, help="YYYY-MM-DD; the first fiscal year starts on this day.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(
    donations_path: Path,
    officers_path: Path,
    fiscal_year_end_month: int,
    as_of: datetime,
    renewal: bool,
    revenue_path: Path | None,
    established_on: datetime | None,
    as_json: bool,
) -> None:
    """Check D.csv (donations) and O.csv (officers); exit 2 with row-numbered errors if a file is invalid."""
    paths = {"gifts": donations_path, "officers": officers_path, "revenue": revenue_path}
    # No request here, so the app's request-based locale selector cannot run: use the default locale.
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        result, errors = _run(paths, fiscal_year_end_month, as_of.date(), renewal, established_on)
        output = (
            "" if errors else json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if as_json else summary(result)
        )
    if errors:
        for line in errors:
            click.echo(line, err=True)
        raise SystemExit(2)
    click.echo(output)


def _run(
    paths: dict[str, Path | None], fy_end_month: int, as_of: date, renewal: bool, established_on: datetime | None
) -> tuple[PstResult | None, list[str]]:
    readers = {"gifts": read_donations, "officers": read_officers, "revenue": read_revenue}
    inputs, errors = {}, []
    for key, path in paths.items():
        if path is None:
            continue
        try:
            inputs[key] = readers[key](path, filename=path.name)
        except PstFileError as exc:
            errors.extend(exc.lines())
    if errors:
        return None, errors
    try:
        result = check_pst(
            inputs["gifts"],
            officers=inputs["officers"],
            fy_end_month=fy_end_month,
            as_of=as_of,
            renewal=renewal,
            revenue=inputs.get("revenue"),
            established_on=established_on.date() if established_on else None,
            settings=PstSettings.from_config(current_app.config),
        )
    except ValueError as exc:
        return None, [str(exc)]
    return result, []


def _verdict(passes: bool) -> str:
    return _("適合") if passes else _("不適合")


def summary(result: PstResult) -> str:
    """A readable Japanese summary of ``result``."""
    period = result.period
    lines = [
        _(
            "実績判定期間: %(start)s〜%(end)s（%(months)dか月）",
            start=period.start,
            end=period.end,
            months=period.months,
        ),
        _("絶対値基準（年平均100人以上）:"),
    ]
    for fy in result.absolute.fiscal_years:
        lines.append(
            _(
                "  %(start)s〜%(end)s: %(count)d人",
                start=fy.fiscal_year.start,
                end=fy.fiscal_year.end,
                count=fy.qualifying_donors,
            )
        )
    average = result.absolute.annual_average
    lines.append(
        _("  年平均 %(average).2f人 → %(verdict)s", average=float(average), verdict=_verdict(result.absolute.passes))
    )
    relative = result.relative
    if relative is None:
        lines.append(_("相対値基準: 収入データがないため判定していません"))
    else:
        lines.append(
            _(
                "相対値基準（5分の1以上）: %(num)s ÷ %(den)s = %(pct)s → %(verdict)s",
                num=format_yen(relative.numerator_yen),
                den=format_yen(relative.denominator_yen),
                pct="—" if relative.ratio is None else f"{relative.ratio:.2%}",
                verdict=_verdict(relative.passes),
            )
        )
        if relative.small_organisation:
            lines.append(_("  小規模法人の特例を適用しました"))
    tallies = result.exclusion_summary
    if tallies:
        lines.append(_("除外:"))
        lines.extend(f"  {EXCLUSION_LABELS[t.reason]}: {t.rows}件（{format_yen(t.amount_yen)}）" for t in tallies)
    if result.warnings:
        lines.append(_("注意:"))
        lines.extend(f"  - {w['message']}" for w in result.warnings)
    lines.append(_("総合: %(verdict)s", verdict=_verdict(result.passes)))
    return "\n".join(str(line) for line in lines)


@pst_cli.command("org")
@click.argument("org_slug")
@click.option("--as-of", type=_DAY, required=True, help="YYYY-MM-DD; fiscal years ending before it are closed.")
@click.option("--renewal", is_flag=True, help="Renewal: the last 5 closed fiscal years instead of 2.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON, with every counted and excluded donor."
)
def org(org_slug: str, as_of: datetime, renewal: bool, as_json: bool) -> None:
    """Judge the PST of a registered organisation from the platform's donations, officers and revenue figures.

    A subcommand rather than ``flask pst <slug>``: a group taking a free argument would swallow ``check``. The
    text summary comes from the SQL summary; ``--json`` lists every donor, so it takes the slower detailed path.
    """
    from kyodo_fund.certification.platform_pst import pst_details_for_organisation, pst_for_organisation
    from kyodo_fund.extensions import db
    from kyodo_fund.orgs.services import get_by_slug

    organisation = get_by_slug(db.session, org_slug)
    if organisation is None:
        click.echo(f"no organisation with slug {org_slug!r}", err=True)
        raise SystemExit(2)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            judge = pst_details_for_organisation if as_json else pst_for_organisation
            result = judge(db.session, organisation, as_of.date(), renewal)
        except ValueError as exc:
            click.echo(str(exc), err=True)
            raise SystemExit(2) from None
        output = json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if as_json else summary(result)
    click.echo(output)


@pst_cli.command("reindex")
@click.option("--org", "org_slug", help="Only this organisation (default: every organisation).")
def reindex_command(org_slug: str | None) -> None:
    """Recompute the PST donor identity of every gift and the household units (after bulk loads or as a repair)."""
    from kyodo_fund.certification.identities import reindex
    from kyodo_fund.extensions import db
    from kyodo_fund.orgs.services import get_by_slug

    organisation_id = None
    if org_slug is not None:
        organisation = get_by_slug(db.session, org_slug)
        if organisation is None:
            click.echo(f"no organisation with slug {org_slug!r}", err=True)
            raise SystemExit(2)
        organisation_id = organisation.id
    counts = reindex(db.session, organisation_id)
    db.session.commit()
    click.echo(
        f"{counts['donations']} donations checked, {counts['reassigned']} identities changed, "
        f"{counts['units_changed']} household units changed"
    )
