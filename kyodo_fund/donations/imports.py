"""CSV import of offline gifts. ``plan_import`` reads and checks every row and writes nothing (the dry run and the
preview); ``apply_import`` books the plan's new rows in the caller's transaction, all or nothing.

The file is UTF-8 (a BOM is fine) with the header ``HEADER`` exactly. Row numbers are the ones a spreadsheet
shows: the header is 1行目, the first data row 2行目; blank rows are skipped but keep their number.

A row's key is the SHA-256 of its normalised values plus its occurrence index among identical rows of the same
file: importing a file twice adds nothing the second time, while two identical gifts in one file both count.
A corrected row is a different row: fix a wrong import by hand, not by importing the fixed file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.donations.models import Donation, DonationImport, PaymentMethod
from kyodo_fund.donations.offline import (
    OfflineGift,
    book_offline_gift,
    gift_problems,
    project_problem,
)
from kyodo_fund.projects.models import Project, today_in_tokyo

HEADER = (
    "received_on",
    "amount_yen",
    "donor_name",
    "donor_kana",
    "postal_code",
    "address",
    "email",
    "household",
    "anonymous",
    "method",
    "project",
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DIGITS = re.compile(r"^[0-9]+$")
#: How many keys one ``IN (...)`` asks for (SQLite limits bound parameters).
_KEY_CHUNK = 500


@dataclass(frozen=True)
class RowError:
    row: int
    message: str
    column: str | None = None

    def __str__(self) -> str:
        text = f"{self.column}: {self.message}" if self.column else self.message
        return _("%(row)d行目（見出しを1行目とする）: %(message)s", row=self.row, message=text)


@dataclass
class ImportRow:
    row: int
    gift: OfflineGift
    key: str
    #: False when an earlier import already booked this row.
    is_new: bool = True


@dataclass
class ImportPlan:
    filename: str
    sha256: str
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def new_rows(self) -> list[ImportRow]:
        return [r for r in self.rows if r.is_new]

    @property
    def already_imported(self) -> int:
        return sum(1 for r in self.rows if not r.is_new)

    @property
    def new_amount_yen(self) -> int:
        return sum(r.gift.amount_yen for r in self.new_rows)

    def totals_by_project(self) -> list[tuple[Project | None, int, int]]:
        """``(project or None for the general fund, count, amount)`` of the new rows, general fund first."""
        totals: dict[int | None, list] = {}
        for r in self.new_rows:
            key = r.gift.project.id if r.gift.project is not None else None
            entry = totals.setdefault(key, [r.gift.project, 0, 0])
            entry[1] += 1
            entry[2] += r.gift.amount_yen
        return sorted((tuple(v) for v in totals.values()), key=lambda t: (t[0] is not None, t[0] and t[0].slug))


def plan_import(session: Session, data: bytes, *, filename: str, today: date | None = None) -> ImportPlan:
    """Check every row of the file and find which rows are new; reads the database, writes nothing."""
    today = today or today_in_tokyo()
    plan = ImportPlan(filename=filename, sha256=hashlib.sha256(data).hexdigest())
    records = _read_records(data, plan.errors)
    if not plan.ok:
        return plan
    slugs = {raw["project"].strip() for _number, raw in records} - {""}
    projects = {p.slug: p for p in session.scalars(select(Project).where(Project.slug.in_(slugs)))} if slugs else {}

    seen: Counter[str] = Counter()
    for number, raw in records:
        gift = _parse_row(number, raw, projects, today, plan.errors)
        if gift is None:
            continue
        normal = _normal_form(gift)
        plan.rows.append(ImportRow(row=number, gift=gift, key=_row_key(normal, seen[normal])))
        seen[normal] += 1

    existing = _existing_keys(session, [r.key for r in plan.rows])
    for r in plan.rows:
        r.is_new = r.key not in existing
        # A project that has finished since an earlier import must not block re-reading that file.
        if r.is_new and (problem := project_problem(r.gift.project)) is not None:
            plan.errors.append(RowError(r.row, problem.message, problem.field))
    plan.errors.sort(key=lambda e: e.row)
    return plan


def apply_import(
    session: Session,
    actor: Actor,
    plan: ImportPlan,
    *,
    platform_fee_pct: int | float,
    on_row: Callable[[], object] | None = None,
    note: str | None = None,
) -> DonationImport:
    """Book the plan's new rows and record the batch; the caller commits once (or rolls everything back)."""
    if not plan.ok:
        raise ValueError("the import plan has errors; nothing may be imported")
    batch = DonationImport(
        filename=plan.filename[:255],
        sha256=plan.sha256,
        rows_total=len(plan.rows),
        rows_imported=0,
        imported_by_id=getattr(actor.user, "id", None),
    )
    session.add(batch)
    session.flush()
    for r in plan.new_rows:
        book_offline_gift(
            session, actor, r.gift, platform_fee_pct=platform_fee_pct, import_batch_id=batch.id, import_row_key=r.key
        )
        batch.rows_imported += 1
        if on_row is not None:
            on_row()
    session.flush()
    after = {
        "filename": batch.filename,
        "sha256": batch.sha256,
        "rows_total": batch.rows_total,
        "rows_imported": batch.rows_imported,
        "rows_already_imported": plan.already_imported,
        "amount_yen": plan.new_amount_yen,
    }
    record(session, actor, "donations.imported", batch, after=after, note=note)
    return batch


# --- reading the file ------------------------------------------------------------------------


def _read_records(data: bytes, errors: list[RowError]) -> list[tuple[int, dict[str, str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        errors.append(
            RowError(line, _("文字コードが UTF-8 ではありません（Excel では「CSV UTF-8」で保存してください）。"))
        )
        return []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    number = 0  # the last row read
    try:
        header = next(reader, None)
        if header is None or tuple(header) != HEADER:
            errors.append(RowError(1, _("見出し行は「%(expected)s」にしてください。", expected=",".join(HEADER))))
            return []
        number = 1
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(HEADER):
                errors.append(
                    RowError(number, _("列が%(want)d個ではありません（%(got)d個）。", want=len(HEADER), got=len(cells)))
                )
                continue
            records.append((number, dict(zip(HEADER, cells, strict=True))))
    except csv.Error as exc:
        errors.append(RowError(number + 1, _("CSV として読めません: %(error)s", error=exc)))
    if not records and not errors:
        errors.append(RowError(2, _("データ行がありません。")))
    return records


def _parse_row(
    number: int, raw: dict[str, str], projects: dict[str, Project], today: date, errors: list[RowError]
) -> OfflineGift | None:
    found: list[RowError] = []

    def refuse(column: str, message: str) -> None:
        found.append(RowError(number, message, column))

    received_on = _parse_date(raw["received_on"].strip(), refuse)
    amount = _parse_amount(raw["amount_yen"].strip(), refuse)
    anonymous = raw["anonymous"].strip().casefold()
    if anonymous not in ("true", "false"):
        refuse("anonymous", _("true か false にしてください: %(value)s", value=raw["anonymous"]))
    method = raw["method"].strip()
    if method not in ("bank_transfer", "cash", "other"):
        refuse("method", _("bank_transfer, cash, other のいずれかにしてください: %(value)s", value=raw["method"]))
    slug = raw["project"].strip()
    project = projects.get(slug) if slug else None
    if slug and project is None:
        refuse("project", _("事業「%(slug)s」が見つかりません。", slug=slug))
    if found:
        errors.extend(found)
        return None
    gift = OfflineGift(
        received_on=received_on,
        amount_yen=amount,
        method=PaymentMethod(method),
        project=project,
        donor_name=raw["donor_name"],
        donor_kana=raw["donor_kana"],
        postal_code=raw["postal_code"],
        address=raw["address"],
        email=raw["email"],
        household=raw["household"],
        anonymous=anonymous == "true",
    ).normalised()
    problems = gift_problems(gift, today)
    errors.extend(RowError(number, p.message, p.field) for p in problems)
    return None if problems else gift


def _parse_date(text: str, refuse: Callable[[str, str], None]) -> date | None:
    try:
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    refuse("received_on", _("日付は YYYY-MM-DD の形にしてください: %(value)s", value=text))
    return None


def _parse_amount(text: str, refuse: Callable[[str, str], None]) -> int | None:
    if _DIGITS.match(text):
        amount = int(text)
        if amount == 0:
            refuse("amount_yen", _("0円は取り込めません。"))
            return None
        return amount
    if not text:
        message = _("金額が空です。")
    elif text.startswith("-"):
        message = _("負の金額は取り込めません: %(value)s", value=text)
    elif "," in text:
        message = _("桁区切りのカンマは使えません: %(value)s", value=text)
    elif "." in text:
        message = _("小数は使えません: %(value)s", value=text)
    elif "e" in text.casefold():
        message = _("指数表記は使えません: %(value)s", value=text)
    else:
        message = _("金額は半角数字だけの整数にしてください: %(value)s", value=text)
    refuse("amount_yen", message)
    return None


# --- row keys ----------------------------------------------------------------------------------


def _normal_form(gift: OfflineGift) -> str:
    values = [
        gift.received_on.isoformat(),
        gift.amount_yen,
        gift.donor_name,
        gift.donor_kana,
        gift.postal_code,
        gift.address,
        gift.email,
        gift.household,
        gift.anonymous,
        gift.method.value,
        gift.project.slug if gift.project is not None else "",
    ]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _row_key(normal: str, occurrence: int) -> str:
    return hashlib.sha256(f"{normal}#{occurrence}".encode()).hexdigest()


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[start : start + _KEY_CHUNK]
        found.update(session.scalars(select(Donation.import_row_key).where(Donation.import_row_key.in_(chunk))))
    return found


# --- the uploaded file between the web preview and the confirmation ------------------------------

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: Uploads nobody confirmed are removed after this long.
STASH_MAX_AGE_SECONDS = 24 * 3600


def stash_upload(folder: Path, data: bytes) -> str:
    """Keep an uploaded file on the server under a random name until the administrator confirms it."""
    folder.mkdir(parents=True, exist_ok=True)
    _drop_stale(folder)
    token = secrets.token_hex(16)
    (folder / f"{token}.csv").write_bytes(data)
    return token


def load_stash(folder: Path, token: str) -> bytes | None:
    path = _stash_path(folder, token)
    return path.read_bytes() if path is not None and path.is_file() else None


def drop_stash(folder: Path, token: str) -> None:
    path = _stash_path(folder, token)
    if path is not None:
        path.unlink(missing_ok=True)


def _stash_path(folder: Path, token: str) -> Path | None:
    # The token comes back from the browser: only our own hex names, never a path.
    return folder / f"{token}.csv" if _TOKEN.match(token or "") else None


def _drop_stale(folder: Path) -> None:
    limit = time.time() - STASH_MAX_AGE_SECONDS
    for path in folder.glob("*.csv"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:
            pass
