"""``flask receipts annual`` (annual statements, preflight first) and ``flask receipts donor-list`` (寄附者名簿)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _
from tqdm import tqdm

from kyodo_fund.audit import SYSTEM
from kyodo_fund.extensions import db
from kyodo_fund.receipts import registers
from kyodo_fund.receipts.statements import issue_annual, preflight_annual

receipts_cli = AppGroup("receipts", help="Receipts: annual statements and donor registers.")


def _locale():
    # No request here, so the request-based locale selector cannot run: use the default locale.
    return force_locale(current_app.config["BABEL_DEFAULT_LOCALE"])


@receipts_cli.command("annual")
@click.option("--year", type=click.IntRange(2000, 2100), required=True, help="Calendar year the statements cover.")
@click.option("--dry-run", is_flag=True, help="Only the preflight report; issue nothing.")
@click.option("--donor", "donor_email", help="Only this donor (any receipt preference), by e-mail.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), help="Donors per batch (default STATEMENTS_BATCH_SIZE).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def annual(year: int, dry_run: bool, donor_email: str | None, batch_size: int | None, no_progress: bool) -> None:
    """Issue the annual statements for YEAR. Safe to rerun: donors whose gifts of YEAR are all on a statement are
    skipped; gifts recorded after a donor's statement get a supplement."""
    with _locale():
        plan = preflight_annual(db.session, year, donor_email=donor_email, batch_size=batch_size)
        db.session.rollback()
        click.echo(
            _(
                "%(year)s年分: 寄附者 %(donors)s 人（発行済み %(done)s 人）、"
                "発行予定 %(ready)s 件、発行できない寄附者 %(blocked)s 人",
                year=year,
                donors=len(plan.keys),
                done=plan.already_issued,
                ready=plan.ready,
                blocked=len(plan.blocked),
            )
        )
        if plan.blocked:
            click.echo(_("プレフライト: 次の寄附者には必要な情報が足りないため発行できません。"))
            for who, problems in plan.blocked.values():
                click.echo(f"  {who}: {'、'.join(problems)}")
        if dry_run:
            click.echo(_("--dry-run のため発行していません。"))
            return
        with tqdm(total=len(plan.keys), unit="donor", disable=no_progress or None, leave=False) as bar:
            result = issue_annual(db.session, plan, SYSTEM, batch_size=batch_size, on_donor=bar.update)
        click.echo(
            _(
                "発行 %(issued)s 件、発行済みのためスキップ %(skipped)s 人、"
                "情報不足 %(blocked)s 人、対象の寄附なし %(empty)s 人",
                **result.as_counts(),
            )
        )


@receipts_cli.command("donor-list")
@click.option("--org", "org_slug", required=True, help="The organisation's slug.")
@click.option("--fiscal-year", type=click.IntRange(2000, 2100), required=True, help="年度 (named by its first year).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="CSV file (default: stdout).")
def donor_list(org_slug: str, fiscal_year: int, output: Path | None) -> None:
    """Write the 寄附者名簿 of ORG for a fiscal year as CSV; for jorei_npo issuers also the municipal lists."""
    from kyodo_fund.orgs.services import get_by_slug

    with _locale():
        org = get_by_slug(db.session, org_slug)
        if org is None:
            raise click.ClickException(_("団体 %(slug)s が見つかりません。", slug=org_slug))
        data = registers.donor_register_csv(db.session, org, fiscal_year)
        registers.record_export(db.session, SYSTEM, org, fiscal_year, "cli")
        db.session.commit()
        if output is None:
            click.echo(data.decode("utf-8-sig"), nl=False)
        else:
            output.write_bytes(data)
            click.echo(_("%(path)s に書き出しました。", path=output), err=True)
        issuer = registers.register_issuer(db.session, current_app.config, org, date(fiscal_year, 12, 31))
        if not registers.needs_municipal_lists(issuer):
            click.echo(
                _(
                    "市町村別の寄附者名簿: 発行者（%(name)s）は条例指定NPO法人ではないため作成しません。",
                    name=issuer.name,
                ),
                err=True,
            )
            return
        folder = (output.parent if output else Path.cwd()) / f"municipal-{org.slug}-{fiscal_year}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in registers.municipal_list_csvs(db.session, org, fiscal_year).items():
            (folder / f"{name}.csv").write_bytes(content)
        click.echo(_("市町村別の寄附者名簿を %(path)s に書き出しました。", path=folder), err=True)
