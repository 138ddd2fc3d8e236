"""Benchmark of the annual statements run (``flask receipts annual``'s service: preflight, then issue).

Seeds N donors with monthly gifts of the previous year into a fresh database, then, in a fresh child process
(so its peak RSS is the run's own), times

* the baseline: N bare one-page PDFs with ``render_plain_page`` (same library and font),
* ``render_receipt`` alone on N statement snapshots (no database), for the breakdown,
* the service: ``preflight_annual`` + ``issue_annual`` — numbering, rendering (``STATEMENTS_RENDER_WORKERS``
  worker processes), storing, e-mail queueing, one commit per ``STATEMENTS_COMMIT_EVERY`` donors,

and reports statements per second, the ratio service ÷ baseline (target ≥ 0.7) and peak memory (target ≤ 300 MB).

    .venv/bin/python bench/bench_statements.py                       # 2,000 donors, SQLite file (~1–2 min)
    .venv/bin/python bench/bench_statements.py --donors 100000       # the full run
    .venv/bin/python bench/bench_statements.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/kf_bench
    .venv/bin/python bench/bench_statements.py --record              # also append the result to bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from samples import statement_maker

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHUNK = 10_000
TARGET_RATIO = 0.7
TARGET_MB = 300


def make_app(url: str):
    from kyodo_fund.factory import create_app

    return create_app("testing", overrides={"DATABASE_URL": url, "MAIL_SEND_AFTER_COMMIT": False})


def seed(url: str, donors: int, gifts: int, year: int) -> float:
    """A fresh schema and ``donors`` × ``gifts`` paid annual-preference gifts, bulk-inserted in chunks."""
    from sqlalchemy import insert, text

    import kyodo_fund.models  # noqa: F401
    from kyodo_fund.db import Base
    from kyodo_fund.donations.models import Donation
    from kyodo_fund.extensions import db

    started = time.perf_counter()
    app = make_app(url)
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        rows: list[dict] = []
        for donor in range(donors):
            for n in range(gifts):
                month = 1 + n % 12
                rows.append(
                    {
                        "public_id": uuid.uuid4().hex,
                        "amount_yen": 1_000 * (1 + donor % 5),
                        "status": "paid",
                        "receipt_preference": "annual",
                        "kind": "monthly",
                        "channel": "online",
                        "method": "card",
                        "donor_name": f"寄附 太郎{donor}",
                        "donor_address": f"長野県松本市丸の内{donor % 50 + 1}-{donor % 7 + 1}",
                        "donor_postal_code": "390-0873",
                        "donor_email": f"donor{donor:07d}@example.jp",
                        "paid_at": datetime(year, month, 1 + n // 12 % 28, 3, 0, tzinfo=UTC),
                        "received_on": date(year, month, 1 + n // 12 % 28),
                    }
                )
                if len(rows) >= CHUNK:
                    db.session.execute(insert(Donation), rows)
                    db.session.commit()
                    rows.clear()
        if rows:
            db.session.execute(insert(Donation), rows)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # A year's gifts arrive over a year and autovacuum keeps their statistics; a bulk load measured at once
            # has none yet, and the planner, taking the table for a few hundred rows, scanned all of it per batch.
            with db.engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
    app.extensions["kyodo_db_engine"].dispose()
    return time.perf_counter() - started


def measure(url: str, donors: int, year: int, batch_size: int) -> dict:
    """Runs in the child process: baseline, render-only breakdown, then the service."""
    from kyodo_fund.audit import SYSTEM
    from kyodo_fund.extensions import db
    from kyodo_fund.receipts.pdf import render_plain_page, render_receipt
    from kyodo_fund.receipts.statements import issue_annual, preflight_annual

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    app = make_app(url)
    with app.app_context():
        for n in range(20):  # warm both up: font metrics, caches, first-use imports
            render_plain_page(f"warm-up {n}")
        started = time.perf_counter()
        for n in range(donors):
            render_plain_page(f"寄附金受領証明書 S-{year + 1}-{n:06d} 寄附 太郎{n} 様 ¥36,000-")
        plain_seconds = time.perf_counter() - started
        # The service draws on STATEMENTS_RENDER_WORKERS processes; the same pool drawing bare pages shows what
        # the ratio would be against a baseline given the same cores.
        workers = int(app.config.get("STATEMENTS_RENDER_WORKERS", 0) or 0)
        plain_parallel = None
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
                list(pool.map(render_plain_page, [f"warm-up {n}" for n in range(20)]))
                started = time.perf_counter()
                texts = (f"寄附金受領証明書 S-{year + 1}-{n:06d} 寄附 太郎{n} 様 ¥36,000-" for n in range(donors))
                for _ in pool.map(render_plain_page, texts, chunksize=64):
                    pass
                plain_parallel = donors / (time.perf_counter() - started)

        make = statement_maker(app.config, year)
        sample = min(donors, 1_000)
        started = time.perf_counter()
        for n in range(-20, sample):
            if n == 0:
                started = time.perf_counter()
            snapshot = make(n + 1)
            render_receipt(snapshot)
        render_rate = sample / (time.perf_counter() - started)

        started = time.perf_counter()
        plan = preflight_annual(db.session, year, batch_size=batch_size)
        db.session.rollback()
        preflight_seconds = time.perf_counter() - started
        result = issue_annual(db.session, plan, SYSTEM, batch_size=batch_size)
        service_seconds = time.perf_counter() - started
    app.extensions["kyodo_db_engine"].dispose()
    return {
        "plain_per_second": donors / plain_seconds,
        "plain_parallel_per_second": plain_parallel,
        "workers": workers,
        "render_receipt_per_second": render_rate,
        "statements_per_second": result.issued / service_seconds,
        "issued": result.issued,
        "preflight_seconds": preflight_seconds,
        "service_seconds": service_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def report(args: argparse.Namespace, seconds_seeding: float, m: dict, command: str) -> str:
    ratio = m["statements_per_second"] / m["plain_per_second"]
    pipeline = m["statements_per_second"] / m["render_receipt_per_second"]
    verdict_ratio = "met" if ratio >= TARGET_RATIO else "MISSED"
    verdict_mem = "met" if m["peak_rss_mb"] <= TARGET_MB else "MISSED"
    return "\n".join(
        [
            f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {args.donors:,} donors × {args.gifts} gifts, "
            f"{'PostgreSQL' if args.database_url else 'SQLite file'}",
            "",
            f"`{command}`",
            "",
            f"{os.cpu_count()} cores, Python {platform.python_version()}; load average before / after: "
            f"{m['load_before']} / {m['load_after']} (the run's own workers count in the second).",
            "",
            "| measure | value |",
            "|---|---|",
            f"| statements issued | {m['issued']:,} |",
            f"| seeding (not timed below) | {seconds_seeding:.1f} s |",
            f"| preflight pass | {m['preflight_seconds']:.1f} s |",
            f"| service total (preflight + issue) | {m['service_seconds']:.1f} s |",
            f"| statements / s (service) | {m['statements_per_second']:.1f} |",
            f"| bare one-page PDFs / s (`render_plain_page`) | {m['plain_per_second']:.1f} |",
            f"| statement PDFs / s (`render_receipt` alone, no DB) | {m['render_receipt_per_second']:.1f} |",
            f"| **ratio service ÷ bare page** (target ≥ {TARGET_RATIO}) | **{ratio:.2f}** — {verdict_ratio} |",
            *(
                [
                    f"| bare one-page PDFs / s on the service's {m['workers']} worker processes "
                    f"| {m['plain_parallel_per_second']:.1f} |",
                    f"| ratio service ÷ bare pages on the same cores | "
                    f"{m['statements_per_second'] / m['plain_parallel_per_second']:.2f} |",
                ]
                if m.get("plain_parallel_per_second")
                else []
            ),
            f"| ratio service ÷ `render_receipt` alone | {pipeline:.2f} |",
            f"| **peak RSS of the run** (target ≤ {TARGET_MB} MB) | **{m['peak_rss_mb']:.0f} MB** — {verdict_mem} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--donors", type=int, default=2_000)
    parser.add_argument("--gifts", type=int, default=12, help="gifts per donor (monthly giving: 12)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--record", action="store_true", help="append the result to bench/RESULTS.md")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure_only:
        print(json.dumps(measure(args.database_url, args.donors, args.year, args.batch_size)))
        return

    command = "bench/bench_statements.py " + shlex.join(sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/statements.sqlite3"
        print(f"seeding {args.donors:,} donors × {args.gifts} gifts …", file=sys.stderr)
        seconds_seeding = seed(url, args.donors, args.gifts, args.year)
        print("measuring in a fresh process …", file=sys.stderr)
        child = [sys.executable, __file__, "--measure-only", "--database-url", url]
        child += ["--donors", str(args.donors), "--year", str(args.year), "--batch-size", str(args.batch_size)]
        out = subprocess.run(child, check=True, capture_output=True, text=True)
        measured = json.loads(out.stdout.strip().splitlines()[-1])
    text = report(args, seconds_seeding, measured, command)
    print(text)
    if args.record:
        results = ROOT / "bench" / "RESULTS.md"
        if not results.exists():
            results.write_text("# Benchmark results\n")
        content = results.read_text()
        heading = "\n## bench_statements.py — annual statements\n"
        if heading not in content:
            content = content.rstrip("\n") + "\n" + heading
        # Newest result at the end of this benchmark's own section, before the next benchmark's heading.
        start = content.index(heading) + len(heading)
        end = content.find("\n## ", start)
        end = len(content) if end == -1 else end
        earlier = content[start:end].strip("\n")
        section = "\n" + (earlier + "\n\n" if earlier else "") + text + "\n"
        results.write_text(content[:start] + section + content[end:])


if __name__ == "__main__":
    main()
