"""PST from platform data: ``pst_for_organisation`` against one bare SQL aggregate over the same donations.

Creates a fresh PostgreSQL database, seeds ONE organisation (FY April–March, registered 2015, three officers,
revenue figures) with N donations to its projects in the two closed fiscal years before the as-of date
(2026-05-01), COPYs them in, assigns the PST donor identities and household units (``identities.reindex``, what
``flask pst reindex`` runs: COPY bypasses the ORM hook), VACUUM ANALYZEs — all untimed — then times, best of
``--rounds`` each and in the same run:

* ``bare``: ``SELECT sum(amount_yen), count(*)`` over the organisation's kept donations up to the as-of date
  (the same WHERE as the PST query: join to the organisation's projects, status, date);
* ``pst``: ``pst_for_organisation(..., PROGRAMME_RECIPIENT_MODEL="direct")``: the summary judged in SQL over the
  integer identities — everything up to the ``PstResult``;
* for information: the detailed path with per-donor lists (``pst_details_for_organisation``), and the
  pass-through (``"fund"``) mode.

Donor mix: ``--donors`` identities (default N / 20), 8 % in two-person households sharing a label, 3 % without
an address, 2 % anonymous gifts, 5 % partly refunded, 1 % written with a full-width space (NFKC merges them).
The ratio ``pst / bare`` is reported against the target (≤ 3×) and written, with the command line, to its
section of bench/RESULTS.md. The database is dropped at the end unless ``--keep``.

    .venv/bin/python bench/bench_pst.py                          # 200,000 donations
    .venv/bin/python bench/bench_pst.py --donations 1000000      # the full run
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for entry in (str(ROOT), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import psycopg  # noqa: E402
from seed_web import build_schema, copy_rows, libpq_url  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

AS_OF = date(2026, 5, 1)
PERIOD_START, PERIOD_END = date(2024, 4, 1), date(2026, 3, 31)
TARGET_RATIO = 3.0
SECTION = "## PST from platform data (bench/bench_pst.py)"
SURNAMES = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "丸山",
    "宮沢",
    "小松",
    "滝沢",
    "清水",
]
GIVEN = ["太郎", "花子", "健一", "美咲", "大輔", "陽子", "翔太", "由美", "誠", "恵子", "拓也", "裕子", "直樹", "千尋"]
AMOUNTS = [1_000, 2_000, 3_000, 5_000, 10_000, 30_000]
WEIGHTS = [15, 15, 35, 20, 12, 3]


def default_url() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/kf_bench_pst_{os.getpid()}"


def create_database(url: str) -> None:
    target = make_url(url)
    with psycopg.connect(libpq_url(target.set(database="postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target.database}"')


def drop_database(url: str) -> None:
    target = make_url(url)
    with psycopg.connect(libpq_url(target.set(database="postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


def donor_identity(k: int, donors: int) -> tuple[str, str, str]:
    """(name, address, household label) of donor ``k``; the rules of the module docstring, deterministic."""
    name = f"{SURNAMES[k % len(SURNAMES)]} {GIVEN[(k // len(SURNAMES)) % len(GIVEN)]}{k // 196}"
    address = f"長野県長野市{k % 97 + 1}-{k % 13 + 1}-{k}"
    household = ""
    if k % 100 < 8:  # pairs k, k+1 with k even share a household (spouses at one address)
        pair = k - (k % 2)
        household = f"世帯{pair}"
        address = f"長野県長野市{pair % 97 + 1}-{pair % 13 + 1}-{pair}"
    if k % 100 == 50:
        name = name.replace(" ", "　")  # the same person typed with a full-width space elsewhere
    if k % 100 in (60, 61, 62):
        address = ""
    return name, address, household


def seed(url: str, donations: int, donors: int, *, log: Callable[[str], None]) -> dict[str, int]:
    import kyodo_fund.models  # noqa: F401
    from kyodo_fund.db import Base

    tables = Base.metadata.tables
    now = datetime.now(UTC)
    rng = random.Random(20260501)
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn:
        copy_rows(
            conn,
            tables["organisations"],
            ["id", "slug", "name", "legal_form", "status", "fiscal_year_end_month", "created_at", "updated_at"],
            [(1, "bench-npo", "ベンチマークNPO", "npo_houjin", "approved", 3, now, now)],
            now,
        )
        copy_rows(
            conn,
            tables["org_officers"],
            ["organisation_id", "name", "title", "address", "household_label", "created_at"],
            [
                (1, "佐藤 太郎0", "chair", "長野県長野市1-1-0", "世帯0", now),
                (1, "鈴木 太郎0", "director", "長野県長野市2-2-1", "", now),
                (1, "監事 次郎", "auditor", "", "", now),
            ],
            now,
        )
        copy_rows(
            conn,
            tables["projects"],
            [
                "id",
                "organisation_id",
                "slug",
                "title",
                "activity_category",
                "municipality_code",
                "goal_yen",
                "starts_on",
                "ends_on",
                "status",
                "phase",
                "created_at",
                "updated_at",
            ],
            [
                (
                    p,
                    1,
                    f"bench-{p}",
                    f"事業{p}",
                    13,
                    "202011",
                    1_000_000,
                    PERIOD_START,
                    PERIOD_END,
                    "closed",
                    "planning",
                    now,
                    now,
                )
                for p in range(1, 6)
            ],
            now,
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('projects', 'id'), 5)")
        copy_rows(
            conn,
            tables["cert_legal_statuses"],
            ["organisation_id", "status", "established_on", "updated_at"],
            [(1, "registered", date(2015, 4, 1), now)],
            now,
        )
        copy_rows(
            conn,
            tables["cert_fiscal_revenues"],
            ["organisation_id", "fiscal_year_end", "total_revenue_yen", "excluded_revenue_yen", "recorded_at"],
            [(1, date(2025, 3, 31), 40_000_000, 5_000_000, now), (1, date(2026, 3, 31), 45_000_000, 5_000_000, now)],
            now,
        )
        span = (PERIOD_END - PERIOD_START).days + 1

        def rows() -> Iterable[tuple]:
            for n in range(donations):
                k = rng.randrange(donors)
                name, address, household = donor_identity(k, donors)
                amount = rng.choices(AMOUNTS, WEIGHTS)[0]
                anonymous = rng.random() < 0.02
                partly = rng.random() < 0.05
                status = "partially_refunded" if partly else "paid"
                yield (
                    uuid.UUID(int=rng.getrandbits(128)).hex,
                    1 + n % 5,
                    "online" if n % 10 else "offline",
                    status,
                    amount,
                    amount // 2 if partly else 0,
                    PERIOD_START + timedelta(days=rng.randrange(span)),
                    "" if anonymous else name,
                    "" if anonymous else address,
                    household,
                    anonymous,
                    f"donor{k}@example.jp",
                    now,
                    now,
                )

        copied = copy_rows(
            conn,
            tables["donations"],
            [
                "public_id",
                "project_id",
                "channel",
                "status",
                "amount_yen",
                "refunded_yen",
                "received_on",
                "donor_name",
                "donor_address",
                "donor_household",
                "anonymous",
                "donor_email",
                "created_at",
                "updated_at",
            ],
            rows(),
            now,
        )
        conn.commit()
    log(f"copied {copied:,} donations from {donors:,} donors in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    counts = reindex_identities(url)
    log(f"assigned identities ({counts}) in {time.perf_counter() - started:.1f}s")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"donations": copied, "donors": donors}


def reindex_identities(url: str) -> dict[str, int]:
    from kyodo_fund.certification.identities import reindex

    engine = create_engine(url)
    with Session(engine) as session:
        counts = reindex(session, 1)
        session.commit()
    engine.dispose()
    return counts


def best_of(rounds: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure(url: str, rounds: int, *, log: Callable[[str], None]) -> dict[str, object]:
    from kyodo_fund.certification.platform_pst import (
        PST_STATUSES,
        pst_details_for_organisation,
        pst_for_organisation,
    )
    from kyodo_fund.donations.models import Donation
    from kyodo_fund.factory import create_app
    from kyodo_fund.orgs.models import Organisation
    from kyodo_fund.projects.models import Project

    app = create_app("testing", overrides={"DATABASE_URL": url})
    engine = create_engine(url)
    bare_stmt = (
        select(func.sum(Donation.amount_yen), func.count())
        .select_from(Donation)
        .join(Project, (Project.id == Donation.project_id) & (Project.organisation_id == 1))
        .where(Donation.status.in_(PST_STATUSES), Donation.received_on <= AS_OF)
    )
    with app.app_context(), Session(engine) as session:
        org = session.get(Organisation, 1)
        direct = {**app.config, "PROGRAMME_RECIPIENT_MODEL": "direct"}
        fund = {**app.config, "PROGRAMME_RECIPIENT_MODEL": "fund"}
        # Warm both paths (plans, caches, the org's officers) before timing either.
        session.execute(bare_stmt).one()
        pst_for_organisation(session, org, AS_OF, config=direct)
        bare, (total, count) = best_of(rounds, lambda: session.execute(bare_stmt).one())
        pst, result = best_of(rounds, lambda: pst_for_organisation(session, org, AS_OF, config=direct))
        details, detailed = best_of(
            min(rounds, 2), lambda: pst_details_for_organisation(session, org, AS_OF, config=direct)
        )
        fund_mode, _ = best_of(rounds, lambda: pst_for_organisation(session, org, AS_OF, config=fund))
    engine.dispose()
    app.extensions["kyodo_db_engine"].dispose()
    counts = [c.qualifying_donors for c in result.absolute.fiscal_years]
    # The summary and the detailed path must agree on everything the summary holds.
    same = [c.qualifying_donors for c in detailed.absolute.fiscal_years] == counts and (
        result.exclusion_summary,
        result.warnings,
        result.relative,
    ) == (detailed.exclusion_summary, detailed.warnings, detailed.relative)
    log(f"bare aggregate {bare * 1000:.1f} ms (sum ¥{total:,}, {count:,} rows)")
    log(f"pst_for_organisation {pst * 1000:.1f} ms → qualifying donors per FY {counts}, passes={result.passes}")
    log(f"pst_details_for_organisation {details * 1000:.1f} ms (same summary: {same})")
    log(f"pass-through mode {fund_mode * 1000:.1f} ms")
    return {
        "bare": bare,
        "pst": pst,
        "details": details,
        "fund": fund_mode,
        "rows": count,
        "counts": counts,
        "passes": result.passes,
        "same": same,
    }


def write_results(path: Path, text: str) -> None:
    """Replace this benchmark's section of RESULTS.md (others keep theirs); re-read right before writing."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(current)
    updated = pattern.sub(lambda _m: text, current) if found else current.rstrip("\n") + "\n\n" + text
    path.write_text(updated, encoding="utf-8")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def report(args: argparse.Namespace, sizes: dict[str, int], numbers: dict[str, object], command: str) -> str:
    ratio = numbers["pst"] / numbers["bare"]
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    fund_ratio = numbers["fund"] / numbers["bare"]
    details_ratio = numbers["details"] / numbers["bare"]
    machine = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    load = "load average {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())
    return f"""{SECTION}

Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}, PostgreSQL at {make_url(args.database_url).host}),
{load} at the end, best of {args.rounds} each, same run:

    {command}

| what | time |
|---|---|
| bare `SELECT sum(amount_yen), count(*)` over the same {numbers["rows"]:,} donations | {ms(numbers["bare"])} |
| `pst_for_organisation` (direct: the summary, judged in SQL) | {ms(numbers["pst"])} |
| `pst_details_for_organisation` (per-donor lists; not the target) | {ms(numbers["details"])} ({details_ratio:.1f}×) |
| `pst_for_organisation` (pass-through: the fund is one donor) | {ms(numbers["fund"])} ({fund_ratio:.1f}×) |

Ratio pst / bare = **{ratio:.1f}×** — {verdict} the target (≤ {TARGET_RATIO:.0f}×).
{sizes["donations"]:,} donations from {sizes["donors"]:,} donors to one organisation over FY2024–FY2025;
qualifying donors per FY {numbers["counts"]}, PST passes: {numbers["passes"]}; summary and detailed path agree:
{numbers["same"]}.
"""  # noqa: S608 - Markdown quoting a statement, not SQL


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--donations", type=int, default=200_000)
    parser.add_argument("--donors", type=int, default=0, help="distinct donors (default: donations / 20)")
    parser.add_argument("--database-url", default=default_url(), help="a database this script creates and drops")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    donors = args.donors or max(1, args.donations // 20)
    command = "python bench/bench_pst.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    create_database(args.database_url)
    try:
        build_schema(args.database_url)
        sizes = seed(args.database_url, args.donations, donors, log=print)
        numbers = measure(args.database_url, args.rounds, log=print)
    finally:
        if not args.keep:
            drop_database(args.database_url)
    text = report(args, sizes, numbers, command.strip())
    print(text)
    if not args.no_write:
        write_results(HERE / "RESULTS.md", text)


if __name__ == "__main__":
    main()
