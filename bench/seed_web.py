"""Seed a fresh PostgreSQL database for the donation-scheme web benchmark (bench/bench_web.py).

Drops and re-creates the database, builds the schema from the models (``Base.metadata.create_all``)
and bulk-loads with COPY: users, approved organisations, PUBLISHED projects (each with an outcome
target, a partner, two budget lines and its first phase row) and PAID card donations spread unevenly
over the projects. The projects' ``raised_yen`` / ``donor_count`` are then set from the donations in one
UPDATE (donors counted by e-mail, as ``donations.offline._is_new_donor`` does), and everything is
VACUUM ANALYZEd.

    .venv/bin/python bench/seed_web.py                      # 10,000 projects, 1,000,000 donations
    .venv/bin/python bench/seed_web.py --projects 10 --donations 1000 --database-url ...
"""

from __future__ import annotations

import argparse
import enum
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy import Table, create_engine, text  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kyodo_bench"
NULL = r"\N"
#: Rows per COPY write; keeps memory flat whatever the donation count.
CHUNK = 20_000

SURNAMES = [
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("丸山", "マルヤマ"), ("宮沢", "ミヤザワ"), ("小松", "コマツ"), ("滝沢", "タキザワ"), ("柳沢", "ヤナギサワ"),
    ("清水", "シミズ"), ("竹内", "タケウチ"), ("北原", "キタハラ"), ("百瀬", "モモセ"), ("降旗", "フリハタ"),
]  # fmt: skip
GIVEN_NAMES = [
    ("太郎", "タロウ"), ("花子", "ハナコ"), ("健一", "ケンイチ"), ("美咲", "ミサキ"), ("大輔", "ダイスケ"),
    ("陽子", "ヨウコ"), ("翔太", "ショウタ"), ("由美", "ユミ"), ("誠", "マコト"), ("恵子", "ケイコ"),
    ("拓也", "タクヤ"), ("裕子", "ユウコ"), ("直樹", "ナオキ"), ("真由美", "マユミ"), ("浩二", "コウジ"),
    ("千尋", "チヒロ"), ("修", "オサム"), ("明美", "アケミ"), ("亮", "リョウ"), ("智子", "トモコ"),
]  # fmt: skip
THEMES = [
    ("子ども食堂", "地域の子どもに温かい食事と居場所を届けます。"),
    ("里山保全", "荒れた里山を手入れし、散策路と炭焼き小屋を再生します。"),
    ("高齢者の見守り", "一人暮らしの高齢者を訪ね、買い物と通院を手伝います。"),
    ("空き家再生", "空き家を改修して、移住者と学生の交流拠点にします。"),
    ("防災訓練", "地区ごとの避難訓練と、要支援者の名簿づくりを進めます。"),
    ("学習支援", "放課後に中学生の学習を大学生ボランティアが支えます。"),
    ("在来種の保存", "信州の伝統野菜の種を守り、学校給食に届けます。"),
    ("山岳遭難防止", "登山者に安全登山の講習を開き、装備を貸し出します。"),
    ("多文化共生", "外国にルーツのある家族に日本語教室と生活相談を開きます。"),
    ("障がい者の就労", "農福連携でりんご畑の作業を仕事にします。"),
]
AMOUNTS_YEN = [1_000, 2_000, 3_000, 5_000, 10_000, 30_000, 50_000, 100_000]
AMOUNT_WEIGHTS = [10, 10, 30, 25, 18, 4, 2, 1]
#: Zipf-like exponent of the donations-per-project skew (a few projects raise most of the money).
PROJECT_SKEW = 0.8


# --- COPY plumbing ------------------------------------------------------------------------------


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"})


def _cell(value: object) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    value = str(value)
    if "\\" in value or "\n" in value or "\t" in value or "\r" in value:
        value = value.translate(_COPY_ESCAPES)
    return value


def _missing_defaults(table: Table, given: Sequence[str], now: datetime) -> dict[str, str]:
    """Values for NOT NULL columns the caller left out: COPY never runs the models' Python defaults.

    Other helpers add columns to the models; a scalar or ``utcnow`` default keeps this script working,
    anything else stops it with a clear message.
    """
    extra: dict[str, str] = {}
    for column in table.columns:
        if column.name in given or column.nullable or column.server_default is not None:
            continue
        if column.primary_key and column.autoincrement in (True, "auto") and column.type.python_type is int:
            continue
        default = column.default
        if default is not None and default.is_scalar:
            extra[column.name] = _cell(default.arg)
        elif default is not None and default.is_callable and default.arg.__name__ in ("utcnow", "<lambda>"):
            extra[column.name] = _cell(now)
        else:
            raise SystemExit(f"seed_web.py: {table.name}.{column.name} is NOT NULL without a usable default; add it")
    return extra


def copy_rows(
    conn: psycopg.Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]], now: datetime
) -> int:
    """COPY ``rows`` (already in column order) into ``table``; returns the row count."""
    extra = _missing_defaults(table, columns, now)
    names = [*columns, *extra]
    tail = "".join("\t" + v for v in extra.values())
    count = 0
    buffer: list[str] = []
    with conn.cursor() as cur, cur.copy(f'COPY "{table.name}" ({", ".join(names)}) FROM STDIN') as copy:
        for row in rows:
            buffer.append("\t".join(map(_cell, row)) + tail + "\n")
            if len(buffer) >= CHUNK:
                copy.write("".join(buffer))
                count += len(buffer)
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
            count += len(buffer)
    return count


# --- database -----------------------------------------------------------------------------------


def libpq_url(url: str | URL) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        raise SystemExit("seed_web.py needs a PostgreSQL URL (postgresql+psycopg://...)")
    with psycopg.connect(libpq_url(target.set(database="postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target.database}"')


def build_schema(url: str) -> None:
    import kyodo_fund.models  # noqa: F401  (fills Base.metadata)
    from kyodo_fund.db import Base

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()


def _tables() -> dict[str, Table]:
    import kyodo_fund.models  # noqa: F401
    from kyodo_fund.db import Base

    return Base.metadata.tables


# --- the data -----------------------------------------------------------------------------------


class Sizes:
    def __init__(self, projects: int, donations: int, orgs: int, registered: int, donors: int) -> None:
        self.projects = projects
        self.donations = donations
        self.orgs = max(1, min(orgs, projects))
        #: Donors with an account (user rows); the others gave as guests.
        self.registered = registered
        #: Distinct donor identities (e-mail addresses) the donations are drawn from.
        self.donors = max(1, donors, registered)


def _person(k: int) -> tuple[str, str]:
    surname, surname_kana = SURNAMES[k % len(SURNAMES)]
    given, given_kana = GIVEN_NAMES[(k // len(SURNAMES)) % len(GIVEN_NAMES)]
    return f"{surname} {given}", f"{surname_kana} {given_kana}"


def _address(municipalities: Sequence, k: int) -> tuple[str, str, str]:
    m = municipalities[k % len(municipalities)]
    postal = f"3{80 + k % 20:02d}-{k % 10_000:04d}"
    address = f"長野県{m.district}{m.name}{k % 97 + 1}-{k % 13 + 1}-{k % 7 + 1}"
    return postal, address, f"0{260 + k % 10}-{k % 900 + 100}-{k % 9000 + 1000}"


def _donor(k: int, sizes: Sizes, municipalities: Sequence) -> tuple:
    """(user_id or None, name, kana, postal, address, email, phone) of donor identity ``k``."""
    name, kana = _person(k)
    postal, address, phone = _address(municipalities, k * 7 + 3)
    if k < sizes.registered:
        return sizes.orgs + 1 + k, name, kana, postal, address, f"donor{k}@example.jp", phone
    return None, name, kana, postal, address, f"guest{k}@example.net", phone


def seed(url: str, sizes: Sizes, *, rng_seed: int = 20250401, log: Callable[[str], None] = print) -> dict[str, int]:
    from kyodo_fund.accounts.services import hash_password
    from kyodo_fund.orgs.corporate_number import with_check_digit
    from kyodo_fund.orgs.data import MUNICIPALITIES

    rng = random.Random(rng_seed)
    tables = _tables()
    now = datetime.now(UTC).replace(microsecond=0)
    today = (now + timedelta(hours=9)).date()  # Asia/Tokyo has no DST
    password_hash = hash_password("bench password not secret")  # one slow hash, shared
    counts: dict[str, int] = {}

    with psycopg.connect(libpq_url(url)) as conn:
        # The rows are generated consistent, so the per-row FK trigger checks are skipped (superuser only).
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")

        def load(name: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
            started = time.perf_counter()
            counts[name] = copy_rows(conn, tables[name], columns, rows, now)
            log(f"  {name:<24} {counts[name]:>10,} rows  {time.perf_counter() - started:6.1f} s")

        user_cols = ["id", "email", "password_hash", "role", "email_confirmed_at", "is_active_account",
                     "session_version", "locale", "name", "name_kana", "postal_code", "address", "phone",
                     "created_at", "updated_at"]  # fmt: skip

        def users() -> Iterable[tuple]:
            for i in range(sizes.orgs):  # one owner per organisation
                name, kana = _person(i + 11)
                yield (i + 1, f"owner{i}@example.org", password_hash, "donor", now, True, 1, "ja", name, kana,
                       "", "", "", now, now)  # fmt: skip
            for k in range(sizes.registered):
                _uid, name, kana, postal, address, email, phone = _donor(k, sizes, MUNICIPALITIES)
                yield (sizes.orgs + 1 + k, email, password_hash, "donor", now, True, 1, "ja", name, kana, postal,
                       address, phone, now, now)  # fmt: skip

        load("users", user_cols, users())

        org_cols = ["id", "slug", "name", "name_kana", "legal_form", "corporate_number", "representative_name",
                    "postal_code", "address", "municipality_code", "description", "website", "email", "phone",
                    "fiscal_year_end_month", "status", "submitted_at", "approved_at", "created_at",
                    "updated_at"]  # fmt: skip
        org_muni = [MUNICIPALITIES[rng.randrange(len(MUNICIPALITIES))] for _ in range(sizes.orgs)]

        def orgs() -> Iterable[tuple]:
            for i in range(sizes.orgs):
                m = org_muni[i]
                rep, _kana = _person(i + 5)
                approved = now - timedelta(days=400 + i % 300)
                yield (i + 1, f"bench-org-{i + 1}", f"NPO法人{m.name}まちづくりの会{i + 1}", "マチヅクリノカイ",
                       "npo_houjin", with_check_digit(f"{7_000_000_000 + i:012d}"), rep, "380-8570",
                       f"長野県{m.district}{m.name}{i % 50 + 1}-1", m.code,
                       "信州の地域課題に住民と行政が協働して取り組んでいます。", "https://example.org/",
                       f"org{i + 1}@example.org", "026-232-0111", 3, "approved", approved - timedelta(days=20),
                       approved, approved - timedelta(days=30), approved)  # fmt: skip

        load("organisations", org_cols, orgs())
        load("org_activity_categories", ["organisation_id", "category"],
             ((i + 1, c) for i in range(sizes.orgs) for c in sorted({i % 20 + 1, 13})))  # fmt: skip
        strengths = ("地域の見守り", "イベント運営")
        load("org_strengths", ["organisation_id", "tag", "position"],
             ((i + 1, t, n) for i in range(sizes.orgs) for n, t in enumerate(strengths)))  # fmt: skip
        load("memberships", ["id", "organisation_id", "user_id", "role", "created_at"],
             ((i + 1, i + 1, i + 1, "owner", now) for i in range(sizes.orgs)))  # fmt: skip
        load("org_officers", ["id", "organisation_id", "name", "title", "address", "household_label", "is_paid",
                              "created_at"],
             ((i + 1, i + 1, _person(i + 5)[0], "chair", "長野県長野市1-1", "", False, now)
              for i in range(sizes.orgs)))  # fmt: skip

        # Projects: published 5–365 days ago, still open for 1–180 more days.
        published = [now - timedelta(days=rng.uniform(5, 365)) for _ in range(sizes.projects)]
        project_cols = ["id", "slug", "organisation_id", "title", "summary", "body", "activity_category",
                        "municipality_code", "goal_yen", "starts_on", "ends_on", "status", "phase", "tax_excluded",
                        "raised_yen", "donor_count", "submitted_at", "approved_at", "published_at",
                        "created_by_id", "created_at", "updated_at"]  # fmt: skip
        goals = [300_000, 500_000, 1_000_000, 2_000_000, 5_000_000]
        ends = [today + timedelta(days=rng.randint(1, 180)) for _ in range(sizes.projects)]

        def projects() -> Iterable[tuple]:
            for i in range(sizes.projects):
                org = i % sizes.orgs
                theme, summary = THEMES[i % len(THEMES)]
                m = org_muni[org]
                body = f"{summary}\n{m.name}の住民、行政、企業と協働して進めます。\n" * 4
                pub = published[i]
                yield (i + 1, f"bench-project-{i + 1}", org + 1, f"{m.name}の{theme}プロジェクト（第{i + 1}期）",
                       summary, body, (i * 7) % 20 + 1, m.code, goals[i % len(goals)],
                       (pub + timedelta(hours=9)).date(), ends[i], "published", "implementation", False, 0, 0,
                       pub - timedelta(days=30), pub - timedelta(days=3), pub, org + 1, pub - timedelta(days=40),
                       pub)  # fmt: skip

        load("projects", project_cols, projects())
        load("project_outcome_targets", ["id", "project_id", "indicator", "target_value", "unit", "due_on"],
             ((i + 1, i + 1, "参加者数", 100 + i % 900, "人", ends[i]) for i in range(sizes.projects)))  # fmt: skip
        load("project_partners", ["id", "project_id", "name", "partner_type", "role"],
             ((i + 1, i + 1, f"{org_muni[i % sizes.orgs].name}役場", "municipality", "会場の提供と広報")
              for i in range(sizes.projects)))  # fmt: skip
        load("project_budget_lines", ["id", "project_id", "item", "amount_yen"],
             ((2 * i + n + 1, i + 1, item, amount) for i in range(sizes.projects)
              for n, (item, amount) in enumerate((("会場費・備品", 120_000), ("講師謝金", 80_000)))))  # fmt: skip
        load("project_phase_changes", ["id", "project_id", "phase", "previous_phase", "changed_at", "note"],
             ((i + 1, i + 1, "implementation", None, published[i], "") for i in range(sizes.projects)))  # fmt: skip

        # Donations: a skewed choice of project, a preset-like amount, a donor drawn from the identity pool.
        started = time.perf_counter()
        ranks = list(range(sizes.projects))
        rng.shuffle(ranks)  # the most funded projects are scattered, not the first ids
        weights = [1.0 / (r + 1) ** PROJECT_SKEW for r in ranks]
        project_of = rng.choices(range(sizes.projects), weights=weights, k=sizes.donations)
        amount_of = rng.choices(AMOUNTS_YEN, weights=AMOUNT_WEIGHTS, k=sizes.donations)
        donor_of = [rng.randrange(sizes.donors) for _ in range(sizes.donations)]
        log(f"  (drew {sizes.donations:,} donations in {time.perf_counter() - started:.1f} s)")
        donation_cols = ["id", "public_id", "project_id", "user_id", "kind", "channel", "method", "status",
                         "amount_yen", "refunded_yen", "processor_fee_yen", "platform_fee_yen", "receipt_preference",
                         "public_name_opt_in", "anonymous", "message", "idempotency_key",
                         "stripe_checkout_session_id", "stripe_payment_intent_id", "stripe_charge_id", "paid_at",
                         "received_on", "receipt_needs_review", "donor_name", "donor_kana", "donor_postal_code",
                         "donor_address", "donor_email", "donor_phone", "donor_household", "created_at",
                         "updated_at"]  # fmt: skip
        now_ts = now.timestamp()
        pub_ts = [p.timestamp() for p in published]
        donor_cache: dict[int, tuple] = {}

        def donations() -> Iterable[tuple]:
            for i in range(sizes.donations):
                p = project_of[i]
                amount = amount_of[i]
                k = donor_of[i]
                donor = donor_cache.get(k)
                if donor is None:
                    donor = donor_cache[k] = _donor(k, sizes, MUNICIPALITIES)
                paid = datetime.fromtimestamp(pub_ts[p] + rng.random() * (now_ts - pub_ts[p]), UTC)
                created = paid - timedelta(minutes=3)
                yield (i + 1, f"{rng.getrandbits(128):032x}", p + 1, donor[0], "one_off", "online", "card", "paid",
                       amount, 0, (amount * 36 + 500) // 1000, amount // 10,
                       "annual" if k % 3 == 0 else "per_donation", k % 4 == 0, False, "", f"bench-{i + 1:012d}",
                       f"cs_test_bench{i + 1:012d}", f"pi_bench{i + 1:012d}", f"ch_bench{i + 1:012d}", paid,
                       (paid + timedelta(hours=9)).date(), False, donor[1], donor[2], donor[3], donor[4], donor[5],
                       donor[6], "", created, paid)  # fmt: skip

        load("donations", donation_cols, donations())

        started = time.perf_counter()
        for name in ("users", "organisations", "memberships", "org_officers", "projects", "project_outcome_targets",
                     "project_partners", "project_budget_lines", "project_phase_changes", "donations"):  # fmt: skip
            conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({table}, 'id'), (SELECT max(id) FROM {ident}))").format(
                    table=sql.Literal(name), ident=sql.Identifier(name)
                )
            )
        # The counters as the services keep them: counted gifts' sum, distinct donors by e-mail.
        conn.execute(
            """
            UPDATE projects AS p SET raised_yen = s.raised, donor_count = s.donors
            FROM (SELECT project_id, sum(amount_yen - refunded_yen) AS raised,
                         count(DISTINCT lower(donor_email)) AS donors
                  FROM donations WHERE status IN ('paid', 'partially_refunded', 'disputed') AND project_id IS NOT NULL
                  GROUP BY project_id) AS s
            WHERE p.id = s.project_id
            """
        )
        log(f"  counters and sequences      {time.perf_counter() - started:6.1f} s")
        conn.commit()

    started = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    log(f"  VACUUM ANALYZE              {time.perf_counter() - started:6.1f} s")
    return counts


def seed_note(url: str) -> str:
    """What ``seed_database`` recorded on the database: when, how big, how long."""
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = current_database()").fetchone()  # fmt: skip
    return (row[0] if row else None) or ""


def check(url: str) -> dict[str, int]:
    """Figures that must hold after seeding (printed, and checked by bench_web.py)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT (SELECT count(*) FROM projects WHERE status = 'published'),
                       (SELECT count(*) FROM donations WHERE status = 'paid'),
                       (SELECT coalesce(sum(raised_yen), 0) FROM projects),
                       (SELECT coalesce(sum(amount_yen), 0) FROM donations WHERE status = 'paid'),
                       (SELECT count(*) FROM organisations WHERE status = 'approved')
                """
            )
        ).one()
    engine.dispose()
    return {"projects": row[0], "donations": row[1], "raised_yen": row[2], "donated_yen": row[3], "orgs": row[4]}


def seed_database(url: str, sizes: Sizes, *, log: Callable[[str], None] = print) -> dict[str, int]:
    """Drop/create the database, build the schema, load it; returns the figures of ``check``."""
    started = time.perf_counter()
    recreate_database(url)
    build_schema(url)
    log(f"  schema                      {time.perf_counter() - started:6.1f} s")
    seed(url, sizes, log=log)
    figures = check(url)
    if figures["raised_yen"] != figures["donated_yen"]:
        raise SystemExit(f"counters do not match the donations: {figures}")
    seconds = time.perf_counter() - started
    log(f"  total                       {seconds:6.1f} s")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        # bench_web.py prints this next to its figures.
        note = (
            f"seed_web.py {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {sizes.projects} projects, "
            f"{sizes.donations} donations, {seconds:.0f} s"
        )
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(make_url(url).database), sql.Literal(note))
        )
    return figures


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"dropped and re-created (default {DEFAULT_URL})")
    parser.add_argument("--projects", type=int, default=10_000, help="published projects (default 10,000)")
    parser.add_argument("--donations", type=int, default=1_000_000, help="paid donations (default 1,000,000)")
    parser.add_argument("--orgs", type=int, default=500, help="approved organisations (default 500)")
    parser.add_argument("--registered-donors", type=int, default=30_000, help="donors with an account (30,000)")
    parser.add_argument("--donors", type=int, default=200_000, help="distinct donor e-mails (default 200,000)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = Sizes(args.projects, args.donations, args.orgs, args.registered_donors, args.donors)
    print(f"seeding {make_url(args.database_url).render_as_string()}: {sizes.projects:,} projects, "
          f"{sizes.donations:,} donations, {sizes.orgs:,} organisations")  # fmt: skip
    figures = seed_database(args.database_url, sizes)
    print("check: " + ", ".join(f"{k}={v:,}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
