"""Annual statements (年間まとめの寄附金受領証明書): one per donor per issuer per calendar year (§7).

Two passes over the donors, in batches so memory stays flat at any size: ``preflight_annual`` finds who cannot
be issued (missing address …) without writing anything; ``issue_annual`` then issues them and commits every
``STATEMENTS_COMMIT_EVERY`` donors. The issue pass takes the drafts the preflight loaded and checked (kept in a
temporary file, not in memory), so it prints what the preflight report vouched for, and loads again only the donors
whose gifts changed in between (a refund, a gift recorded meanwhile). Only gifts not yet receipted are drawn, a
donor with nothing left is skipped, and ``Receipt.statement_key`` is unique, so a rerun after a crash, or two runs
at once, never issue one twice. A gift of the year recorded after the donor's statement gets a supplement (追加分)
on the next run.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import IO, Any

from flask import current_app
from flask_babel import force_locale, get_locale
from sqlalchemy import and_, delete, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.accounts.models import User
from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record_many
from kyodo_fund.db import utcnow
from kyodo_fund.donations.models import Donation, ReceiptPreference
from kyodo_fund.jobs.workers import fewer_collections
from kyodo_fund.notifications.services import render_email, store_emails
from kyodo_fund.receipts import build
from kyodo_fund.receipts.issuers import Issuer, gift_date, gift_date_between, issuer_for
from kyodo_fund.receipts.models import DocType, Receipt, ReceiptedGift, ReceiptHold, ReceiptKind
from kyodo_fund.receipts.numbering import display_number, take_numbers
from kyodo_fund.receipts.rendering import Pending, Renderer, pdf_renderer
from kyodo_fund.receipts.services import (
    RECEIPT_EMAIL,
    RECEIPTABLE_STATUSES,
    printed_fields,
    receipt_attachment,
    receipt_email_context,
    receipt_mail_key,
    today_in_tokyo,
)
from kyodo_fund.receipts.snapshot import DonorSnapshot, ReceiptFlags, ReceiptSnapshot, validate_snapshot
from kyodo_fund.tax.estimator import EstimatorSettings

#: Columns of a gift the statements need; plain rows, not ORM objects, so big runs stay light.
_GIFT_COLUMNS = (
    Donation.id,
    Donation.user_id,
    Donation.donor_email,
    Donation.donor_name,
    Donation.donor_address,
    Donation.donor_postal_code,
    Donation.paid_at,
    Donation.received_on,
    Donation.amount_yen,
    Donation.refunded_yen,
    Donation.project_id,
)


@dataclass(frozen=True)
class Draft:
    """One statement to issue: a donor's gifts of the year that share one wording."""

    donor_key: str
    issuer: Issuer
    group: str
    lines: tuple[build.GiftLine, ...]
    donor: DonorSnapshot
    user_id: int | None
    email: str
    #: The language of the e-mail: the account's, Japanese for guests.
    locale: str = "ja"
    #: The donor's statement for the year and wording exists already: this one covers gifts recorded after it.
    supplement: bool = False

    @property
    def donation_ids(self) -> list[int]:
        return [line.donation_id for line in self.lines]


@dataclass
class Preflight:
    year: int
    donor_email: str | None
    #: Every donor with gifts for the year, as sorted ``donor_key``s.
    keys: list[str]
    #: Guests: normalised e-mail → the spellings stored on their gifts (the index lookup needs those).
    raw_emails: dict[str, list[str]]
    #: Donors that cannot be issued: key → (who, the Japanese problems).
    blocked: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    already_issued: int = 0
    ready: int = 0  #: statements the issue pass would create
    #: Donors per batch: the issue pass takes the batches the preflight checked, in the same order.
    batch_size: int = 500
    #: Each batch as the preflight loaded it (see ``_Checked.loaded``), one pickle after the other in a temporary
    #: file, so the issue pass neither loads the gifts again nor holds a year of drafts in memory.
    spool: IO[bytes] | None = field(default=None, repr=False, compare=False)

    def loaded_batches(self) -> Iterator[tuple[set[str], dict[str, list[Draft]]]] | None:
        """The batches the preflight loaded, once; None if there are none to take."""
        spool, self.spool = self.spool, None
        if spool is None:
            return None
        return _read_spool(spool, len(self.keys), self.batch_size)


@dataclass
class AnnualResult:
    issued: int = 0  #: statements created by this run
    skipped: int = 0  #: donors who already had a statement for the year
    blocked: int = 0
    empty: int = 0  #: donors whose gifts were all receipted otherwise

    def as_counts(self) -> dict[str, int]:
        return {"issued": self.issued, "skipped": self.skipped, "blocked": self.blocked, "empty": self.empty}


def _in_year(year: int) -> Any:
    return gift_date_between(date(year, 1, 1), date(year, 12, 31))


def _donor_filter(session: Session, donor_email: str | None) -> list[Any]:
    if donor_email is None:
        return [Donation.receipt_preference == ReceiptPreference.ANNUAL]
    email = build.normalise_email(donor_email)
    user_ids = select(User.id).where(User.email == email)
    return [or_(Donation.user_id.in_(user_ids), and_(Donation.user_id.is_(None), Donation.donor_email.ilike(email)))]


def _base_filters(session: Session, year: int, donor_email: str | None) -> list[Any]:
    return [
        Donation.status.in_(RECEIPTABLE_STATUSES),
        Donation.anonymous.is_(False),
        _in_year(year),
        *_donor_filter(session, donor_email),
    ]


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _read_spool(spool: IO[bytes], donors: int, batch_size: int) -> Iterator[tuple[set[str], dict[str, list[Draft]]]]:
    # The spool holds what this process's own preflight wrote (in a file only it can open), never outside input.
    with spool:
        spool.seek(0)
        for _ in range(0, donors, batch_size):
            yield pickle.load(spool)  # noqa: S301


def _settings(config: Mapping[str, Any]) -> EstimatorSettings:
    return EstimatorSettings.from_config(config)


def find_donors(
    session: Session, year: int, *, donor_email: str | None = None
) -> tuple[list[str], dict[str, list[str]]]:
    filters = _base_filters(session, year, donor_email)
    user_ids = session.scalars(select(Donation.user_id).where(*filters, Donation.user_id.is_not(None)).distinct())
    keys = {build.donor_key(user_id, None) for user_id in user_ids}
    raw_emails: dict[str, list[str]] = defaultdict(list)
    for raw in session.scalars(select(Donation.donor_email).where(*filters, Donation.user_id.is_(None)).distinct()):
        if build.normalise_email(raw):
            raw_emails[build.normalise_email(raw)].append(raw)
    keys.update(build.donor_key(None, email) for email in raw_emails)
    return sorted(keys), dict(raw_emails)


def _issued(session: Session, year: int, keys: Sequence[str]) -> tuple[set[str], set[str]]:
    """Donors with any statement for ``year``, and the statement keys (year, donor, wording) those hold."""
    # Looked up by (donor_key, period_year) only, the kind checked here: with ``kind`` in the WHERE clause SQLite
    # preferred the kind index and read every statement issued so far, once per batch.
    rows = session.execute(
        select(Receipt.donor_key, Receipt.kind, Receipt.statement_key).where(
            Receipt.donor_key.in_(keys), Receipt.period_year == year
        )
    )
    donors, statement_keys = set(), set()
    for donor_key, kind, statement_key in rows:
        if kind == ReceiptKind.ANNUAL_STATEMENT:
            donors.add(donor_key)
            if statement_key:
                statement_keys.add(statement_key)
    return donors, statement_keys


def _statement_key(year: int, draft: Draft) -> str:
    """Unique per statement, so that two runs never issue one twice: (year, donor, wording) for the first; a
    supplement adds its first gift, which no other statement can cover (a gift is receipted once)."""
    first = f"{year}|{draft.donor_key}|{draft.group}"
    return f"{first}|+{min(draft.donation_ids)}" if draft.supplement else first


def _batch(session: Session, plan: Preflight, batch: Sequence[str], cache: dict) -> tuple[set[str], dict]:
    """The donors of ``batch`` with a statement already, and every donor's drafts of gifts not yet receipted.
    A donor with a statement gets drafts only for gifts recorded after it: those are supplements where the
    statement of that wording exists, first statements for a wording the donor had no statement for yet."""
    done, issued_keys = _issued(session, plan.year, batch)
    drafts = _drafts_of_batch(session, plan, batch, cache)
    for key in done & drafts.keys():
        drafts[key] = [replace(d, supplement=_statement_key(plan.year, d) in issued_keys) for d in drafts[key]]
    return done, drafts


def _unreceipted(session: Session, plan: Preflight) -> list[Any]:
    """The gifts a statement of ``plan`` covers: the year's receiptable gifts with something left after refunds
    and no receipt yet."""
    return [
        *_base_filters(session, plan.year, plan.donor_email),
        Donation.amount_yen > Donation.refunded_yen,
        ~exists().where(ReceiptedGift.donation_id == Donation.id),
    ]


def _gifts_of(session: Session, plan: Preflight, keys: Sequence[str], *columns: Any, lock: bool = False):
    """(donor key, row) for the unreceipted gifts of the donors ``keys``, each donor's in id order, streamed.

    Two lookups, each through its own index (accounts by user id, guests by e-mail), not one OR: for the guests'
    side the planner took "user_id IS NULL", which is every guest gift, once per batch, so a run's cost grew with
    the square of its donors. ``lock`` share-locks the rows where the database can (PostgreSQL)."""
    user_ids = [int(k[2:]) for k in keys if k.startswith("u:")]
    raws = [raw for k in keys if k.startswith("e:") for raw in plan.raw_emails.get(k[2:], ())]
    needed = [c for c in (Donation.user_id, Donation.donor_email) if not any(c is given for given in columns)]
    base = select(*columns, *needed).where(*_unreceipted(session, plan))
    base = base.order_by(Donation.id)
    base = base.with_for_update(read=True, of=Donation) if lock else base.execution_options(yield_per=1000)
    if user_ids:
        for row in session.execute(base.where(Donation.user_id.in_(user_ids))):
            yield f"u:{row.user_id}", row
    if raws:
        guest_keys = {raw: build.donor_key(None, raw) for raw in raws}
        for row in session.execute(base.where(Donation.donor_email.in_(raws))):
            if row.user_id is None:  # a gift made signed in belongs to the account, whatever the address
                yield guest_keys[row.donor_email], row


def _drafts_of_batch(session: Session, plan: Preflight, keys: Sequence[str], cache: dict) -> dict[str, list[Draft]]:
    """Load the unreceipted gifts of a batch of donors and turn them into drafts, streaming the rows."""
    # (gift date, row) per donor: the date is worked out once per gift, not again for sorting and for the line.
    rows_by_key: dict[str, list[tuple[date | None, Any]]] = defaultdict(list)
    for key, row in _gifts_of(session, plan, keys, *_GIFT_COLUMNS):
        rows_by_key[key].append((gift_date(None, row), row))
    user_ids = [int(k[2:]) for k in keys if k.startswith("u:")]
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    config = current_app.config
    drafts: dict[str, list[Draft]] = {}
    for key, dated in rows_by_key.items():
        drafts[key] = _drafts_for(session, config, key, dated, users.get(dated[0][1].user_id), cache)
    return drafts


def _project(session: Session, cache: dict, project_id: int | None) -> Any:
    if project_id is None:
        return None
    if ("project", project_id) not in cache:
        from kyodo_fund.projects.models import Project

        cache["project", project_id] = session.get(Project, project_id)
    return cache["project", project_id]


def _issuer(
    session: Session, config: Mapping[str, Any], cache: dict, row: Any, day: date | None, project: Any
) -> Issuer:
    """The gift's issuer, looked up once per run for the fund and once per (organisation, day) otherwise."""
    direct = project is not None and config.get("PROGRAMME_RECIPIENT_MODEL", "fund") == "direct"
    key = ("issuer", project.organisation_id, day) if direct else ("issuer",)
    if key not in cache:
        cache[key] = issuer_for(session, config, row, project)
    return cache[key]


def _line(
    session: Session, config: Mapping[str, Any], cache: dict, day: date | None, row: Any
) -> tuple[Issuer, str, build.GiftLine]:
    """The gift's issuer, the statement it goes on (issuer and wording) and its line."""
    project = _project(session, cache, row.project_id)
    issuer = _issuer(session, config, cache, row, day, project)
    key = ("wording", issuer.key, row.project_id, day)
    known = cache.get(key)
    if known is None:
        wording = build.gift_wording(issuer, project, day)
        # One statement per issuer and wording: a direct programme's gifts are that organisation's to receipt.
        known = cache[key] = (wording, f"{issuer.key}|{build.wording_group(wording.kind, wording.designations)}")
    wording, group = known
    return issuer, group, build.line_of(row.id, day, row.amount_yen - row.refunded_yen, wording)


def _drafts_for(
    session: Session, config: Mapping[str, Any], key: str, dated: list[tuple[date | None, Any]], user: Any, cache: dict
) -> list[Draft]:
    newest_first = [row for _, row in sorted(dated, key=lambda d: (d[0] or date.min, d[1].id), reverse=True)]
    # The most recent gift that gave an address speaks for the donor; the profile fills the rest.
    with_address = next((r for r in newest_first if (r.donor_address or "").strip()), newest_first[0])
    donor = build.donor_snapshot(with_address, user)
    if not donor.name:
        named = next((r for r in newest_first if (r.donor_name or "").strip()), None)
        donor = DonorSnapshot(named.donor_name.strip(), donor.address, donor.postal_code) if named else donor
    email = next((r.donor_email for r in newest_first if r.donor_email), "") or getattr(user, "email", "")
    locale = getattr(user, "locale", None) or "ja"
    issuers: dict[str, Issuer] = {}
    groups: dict[str, list[build.GiftLine]] = defaultdict(list)
    for day, row in dated:
        issuer, group, line = _line(session, config, cache, day, row)
        issuers[group] = issuer
        groups[group].append(line)
    user_id = dated[0][1].user_id
    return [
        Draft(key, issuers[group], group, tuple(lines), donor, user_id, email, locale)
        for group, lines in sorted(groups.items())
    ]


def _label(draft: Draft) -> str:
    return f"{draft.donor.name or '（氏名なし）'} <{draft.email or draft.donor_key}>"


def _snapshot(plan: Preflight, draft: Draft, settings: EstimatorSettings, **fields: Any):
    flags = ReceiptFlags(supplement=True) if draft.supplement else None
    return build.statement_snapshot(
        draft.issuer, draft.lines, draft.donor, year=plan.year, settings=settings, flags=flags, **fields
    )


@dataclass
class _Checked:
    """What the preflight found in one batch of donors."""

    already_issued: int = 0
    ready: int = 0
    blocked: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: The batch as loaded, pickled where it was loaded (possibly a worker): the donors with a statement already,
    #: and every donor's drafts. The issue pass issues these, checking each group's gifts as they then stand.
    loaded: bytes = b""


def _check_batch(session: Session, plan: Preflight, batch: Sequence[str], today: date, cache: dict) -> _Checked:
    settings = _settings(current_app.config)
    draft_fields = {"number": build.DRAFT_NUMBER["S"], "issued_on": today, "code": "draft", "url": "draft"}
    checked = _Checked()
    done, drafts_by_key = _batch(session, plan, batch, cache)
    checked.already_issued = len(done - drafts_by_key.keys())
    for key, drafts in drafts_by_key.items():
        problems = [p for d in drafts for p in validate_snapshot(_snapshot(plan, d, settings, **draft_fields))]
        if problems:
            checked.blocked[key] = (_label(drafts[0]), list(dict.fromkeys(problems)))
        else:
            checked.ready += len(drafts)
    checked.loaded = pickle.dumps((done, drafts_by_key), protocol=pickle.HIGHEST_PROTOCOL)
    return checked


def _check_in_worker(
    year: int, donor_email: str | None, batch: list[str], raw_emails: dict[str, list[str]], today: date, locale: str
) -> _Checked:
    """``_check_batch`` in a read-only worker (``jobs.workers``), in the caller's language."""
    from kyodo_fund.extensions import db

    plan = Preflight(year=year, donor_email=donor_email, keys=batch, raw_emails=raw_emails)
    with force_locale(locale):
        return _check_batch(db.session, plan, batch, today, {})


def _checked_batches(session: Session, plan: Preflight, size: int) -> Iterator[_Checked]:
    """Each batch's findings, in the donors' order: on read-only workers when the run is big enough to repay
    starting them (``STATEMENTS_PREFLIGHT_WORKERS`` from ``STATEMENTS_PREFLIGHT_POOL_FROM`` donors), else here."""
    config, today = current_app.config, today_in_tokyo()
    batches = list(_chunks(plan.keys, size))
    workers = int(config.get("STATEMENTS_PREFLIGHT_WORKERS", 0) or 0)
    if workers < 2 or len(plan.keys) < int(config.get("STATEMENTS_PREFLIGHT_POOL_FROM", 20_000)):
        cache: dict = {}
        for batch in batches:
            yield _check_batch(session, plan, batch, today, cache)
        return
    from kyodo_fund.jobs.workers import in_app, read_only_pool

    locale = str(get_locale() or config["BABEL_DEFAULT_LOCALE"])
    with read_only_pool(current_app._get_current_object(), min(workers, len(batches))) as pool:
        pending = deque(
            pool.submit(
                in_app,
                _check_in_worker,
                plan.year,
                plan.donor_email,
                list(batch),
                {k[2:]: plan.raw_emails[k[2:]] for k in batch if k.startswith("e:")},
                today,
                locale,
            )
            for batch in batches
        )
        while pending:
            # Let go of each batch once taken: its loaded drafts go to the spool, and a run has hundreds of batches.
            yield pending.popleft().result()


def preflight_annual(
    session: Session, year: int, *, donor_email: str | None = None, batch_size: int | None = None
) -> Preflight:
    """Who would get a statement, who already has one, and who cannot get one yet. Writes nothing.

    The batches may be checked by read-only worker processes (``_checked_batches``): they see committed data only,
    which is all an annual run reads (the caller commits before it)."""
    keys, raw_emails = find_donors(session, year, donor_email=donor_email)
    size = batch_size or current_app.config["STATEMENTS_BATCH_SIZE"]
    plan = Preflight(year=year, donor_email=donor_email, keys=keys, raw_emails=raw_emails, batch_size=size)
    spool = tempfile.TemporaryFile()  # noqa: SIM115 -- handed to the plan; the issue pass reads and closes it
    with fewer_collections():
        for checked in _checked_batches(session, plan, size):
            plan.already_issued += checked.already_issued
            plan.ready += checked.ready
            plan.blocked.update(checked.blocked)
            spool.write(checked.loaded)
    plan.spool = spool
    return plan


@dataclass(frozen=True)
class Numbered:
    """A draft with its number taken (in the caller's transaction) and the snapshot to print."""

    draft: Draft
    number: int
    issued_on: date
    snapshot: ReceiptSnapshot


def _numbered(plan: Preflight, draft: Draft, settings: EstimatorSettings, issued_on: date, number: int) -> Numbered:
    code = build.new_verification_code()
    shown = display_number(DocType.STATEMENT, issued_on.year, number)
    url = build.verification_url(current_app.config, code)
    snapshot = _snapshot(plan, draft, settings, number=shown, issued_on=issued_on, code=code, url=url)
    return Numbered(draft, number, issued_on, snapshot)


def _take_blocks(session: Session, drafts: Sequence[Draft], issued_on: date) -> list[int]:
    """The numbers of ``drafts`` in their order, with one counter ``UPDATE`` per issuer (a block, gapless like
    taking them one by one)."""
    per_issuer: dict[str, int] = defaultdict(int)
    for draft in drafts:
        per_issuer[draft.issuer.key] += 1
    blocks = {
        key: iter(take_numbers(session, key, DocType.STATEMENT, issued_on.year, count))
        for key, count in per_issuer.items()
    }
    return [next(blocks[draft.issuer.key]) for draft in drafts]


@dataclass(frozen=True)
class _Guess:
    """A statement numbered and drawn before its group's transaction took the numbers (see ``_Pipeline``)."""

    numbered: Numbered
    pdf: Pending


def _guess_ahead(
    plan: Preflight,
    drafts: Sequence[Draft],
    settings: EstimatorSettings,
    renderer: Renderer,
    issued_on: date,
    last: Mapping[str, int],
) -> dict[tuple[str, str], _Guess]:
    """Start drawing ``drafts`` with the numbers they get if nobody else takes one first: each issuer's counter
    continues from ``last``. Drafts of an issuer whose counter is unknown wait for their real numbers."""
    following = dict(last)
    numbered = []
    for draft in drafts:
        if draft.issuer.key not in following:
            continue
        following[draft.issuer.key] += 1
        numbered.append(_numbered(plan, draft, settings, issued_on, following[draft.issuer.key]))
    pdfs = renderer.submit([n.snapshot for n in numbered])
    return {(n.draft.donor_key, n.draft.group): _Guess(n, pdf) for n, pdf in zip(numbered, pdfs, strict=True)}


def _statement_row(plan: Preflight, n: Numbered, actor: Actor, pdf: bytes, emailed_at: Any) -> dict[str, Any]:
    """The ``receipts`` row of a statement: what ``services._store`` writes for a single document."""
    draft = n.draft
    return {
        **printed_fields(n.snapshot, actor),
        "issuer_key": draft.issuer.key,
        "doc_type": DocType.STATEMENT,
        "year": n.issued_on.year,
        "number": n.number,
        "kind": ReceiptKind.ANNUAL_STATEMENT,
        "user_id": draft.user_id,
        "donor_key": draft.donor_key,
        "period_year": plan.year,
        "statement_key": _statement_key(plan.year, draft),
        "recipient_email": draft.email,
        "pdf": pdf,
        "emailed_at": emailed_at,
    }


#: One unit of the issue pass: a donor key, its drafts, and whether the donor is blocked (gifts go on hold).
_Item = tuple[str, list[Draft], bool]


def _as_they_stand(
    session: Session, plan: Preflight, items: Sequence[_Item], cache: dict, counts: AnnualResult
) -> list[_Item]:
    """The group's drafts checked against its donors' gifts as they stand in this transaction, and reloaded for any
    donor whose gifts changed since they were loaded.

    Drafts are loaded ahead, by the preflight (and the groups drawn ahead): a gift refunded, receipted on its own
    or recorded in between must not be printed as it was, nor left off. The gifts are read with a share lock where
    the database has one (PostgreSQL), so a refund waits for this group's commit and then finds the statement to
    correct; SQLite's write lock already keeps other writers out until then. A donor left with nothing to issue
    is counted in ``counts``: skipped if another run issued their statement meanwhile, else empty.
    """
    keys = [key for key, _, _ in items]
    if not keys:
        return list(items)
    now: dict[str, dict[int, int]] = defaultdict(dict)
    net = (Donation.amount_yen - Donation.refunded_yen).label("net")
    for key, row in _gifts_of(session, plan, keys, Donation.id, net, lock=True):
        now[key][row.id] = row.net
    changed = [
        key
        for key, drafts, _ in items
        if now.get(key, {}) != {line.donation_id: line.amount_yen for d in drafts for line in d.lines}
    ]
    if not changed:
        return list(items)
    done, fresh = _batch(session, plan, changed, cache)
    for key, _, blocked in items:
        if key in changed and not fresh.get(key) and not blocked:  # a held donor is counted as blocked already
            if key in done:
                counts.skipped += 1
            else:
                counts.empty += 1
    return [(key, fresh.get(key, []) if key in changed else drafts, blocked) for key, drafts, blocked in items]


def _issue_group(
    session: Session,
    plan: Preflight,
    items: Sequence[_Item],
    actor: Actor,
    settings: EstimatorSettings,
    renderer: Renderer,
    pipeline: _Pipeline | None,
    cache: dict,
    counts: AnnualResult,
) -> None:
    """Issue a group of donors in the caller's transaction: numbers first, in donor order; while the workers draw
    the PDFs (and, once the numbers are known, the next group's) this process renders the e-mails; then one
    multi-row INSERT each for the statements (with their PDFs, so no committed statement ever lacks one), their
    gifts, the audit rows and the e-mails. Row for row the same as issuing the documents one at a time. What it
    did goes into ``counts``, which the caller adds up once the group is committed."""
    from kyodo_fund.receipts.services import hold_for_missing_data

    items = _as_they_stand(session, plan, items, cache, counts)
    for key, drafts, blocked in items:
        if blocked:
            ids = [i for d in drafts for i in d.donation_ids]
            hold_for_missing_data(session, ids, plan.blocked[key][1], f"statement:{plan.year}")
    drafts = [d for _, drafts, blocked in items if not blocked for d in drafts]
    if not drafts:
        return
    issued_on = today_in_tokyo()
    numbered: list[Numbered] = []
    pdfs: list[Pending | None] = []
    last: dict[str, int] = {}
    for draft, number in zip(drafts, _take_blocks(session, drafts, issued_on), strict=True):
        guess = pipeline.guesses.pop((draft.donor_key, draft.group), None) if pipeline else None
        # A guess drawn with another number, date or content (someone took a number in between, midnight passed,
        # the group was redone after a collision, a gift changed) is thrown away: what is stored always carries
        # the real number and the gifts as they stand.
        if guess is not None and (guess.numbered.number, guess.numbered.issued_on, guess.numbered.draft) == (
            number,
            issued_on,
            draft,
        ):
            numbered.append(guess.numbered)
            pdfs.append(guess.pdf)
        else:
            numbered.append(_numbered(plan, draft, settings, issued_on, number))
            pdfs.append(None)
        last[draft.issuer.key] = number
    todo = [index for index, pdf in enumerate(pdfs) if pdf is None]
    for index, pdf in zip(todo, renderer.submit([numbered[i].snapshot for i in todo]), strict=True):
        pdfs[index] = pdf
    if pipeline:
        pipeline.look_ahead(issued_on, last)
    emails = [
        render_email(
            RECEIPT_EMAIL,
            to=n.draft.email,
            locale=n.draft.locale,
            context=receipt_email_context(n.snapshot, ReceiptKind.ANNUAL_STATEMENT, plan.year),
        )
        if n.draft.email
        else None
        for n in numbered
    ]
    now = utcnow()
    rows = [
        _statement_row(plan, n, actor, pdf.result(), now if email else None)
        for n, pdf, email in zip(numbered, pdfs, emails, strict=True)
    ]
    # Core inserts of the tables, not the ORM's bulk mode, which costs a mapper pass per row (a statement has a
    # dozen gifts); no ORM object of these rows exists in the session to keep in step.
    receipts = Receipt.__table__
    ids = list(session.scalars(insert(receipts).returning(receipts.c.id, sort_by_parameter_order=True), rows))
    session.execute(
        insert(ReceiptedGift.__table__),
        [
            {
                "receipt_id": receipt_id,
                "donation_id": g.donation_id,
                "amount_yen": g.amount_yen,
                "received_on": g.received_on,
            }
            for receipt_id, n in zip(ids, numbered, strict=True)
            for g in sorted(n.draft.lines, key=lambda g: (g.received_on, g.donation_id))
        ],
    )
    # No ReceiptHold of these gifts is loaded (their donors are not blocked), so the identity map need not be
    # searched: with many statements per transaction that search grows with every statement.
    session.execute(
        delete(ReceiptHold)
        .where(ReceiptHold.donation_id.in_([i for d in drafts for i in d.donation_ids]))
        .execution_options(synchronize_session=False)
    )
    record_many(
        session,
        actor,
        "receipts.issue",
        [
            (
                ("Receipt", receipt_id),
                {
                    "number": n.snapshot.number,
                    "amount_yen": n.snapshot.total_yen,
                    "year": plan.year,
                    "gifts": len(n.draft.lines),
                },
            )
            for receipt_id, n in zip(ids, numbered, strict=True)
        ],
    )
    store_emails(
        session,
        [
            replace(
                email,
                dedupe_key=receipt_mail_key(receipt_id),
                attachments=(receipt_attachment(receipt_id, n.snapshot.number),),
            )
            for receipt_id, n, email in zip(ids, numbered, emails, strict=True)
            if email is not None
        ],
    )
    counts.issued += len(numbered)


class _Pipeline:
    """Keeps the workers drawing while this process stores a group: as soon as a group has its numbers, the
    following ``depth`` groups are loaded and drawn ahead with the numbers that would follow (``_guess_ahead``);
    each group's own transaction later takes the real numbers and keeps a drawing only where they agree.

    More than one group ahead because this process and the workers share the cores: with one, this process often
    waited for a group's PDFs while the workers, given the next group only now, had started late.
    """

    def __init__(self, groups: Iterator[list[_Item]], make_guesses: Callable[..., dict], depth: int) -> None:
        self._groups = groups
        self._make_guesses = make_guesses
        self._depth = max(1, depth)
        #: Groups loaded and (as far as their issuers' counters are known) being drawn, in order.
        self._ahead: deque[tuple[list[_Item], dict[tuple[str, str], _Guess]]] = deque()
        #: Per issuer, the last number the groups in ``_ahead`` were drawn with.
        self._last_guessed: dict[str, int] = {}
        self._exhausted = False
        self.guesses: dict[tuple[str, str], _Guess] = {}

    def _next_group(self) -> list[_Item] | None:
        group = None if self._exhausted else next(self._groups, None)
        self._exhausted = group is None
        return group

    def advance(self) -> list[_Item] | None:
        """The group to issue now, or None when done."""
        if self._ahead:
            group, self.guesses = self._ahead.popleft()
            return group
        self.guesses = {}  # reached without a look-ahead (the groups before numbered nothing): drawn when numbered
        return self._next_group()

    def look_ahead(self, issued_on: date, last: Mapping[str, int]) -> None:
        """Called by a group once it holds its numbers (``last`` per issuer): load and start drawing the groups
        after it, up to ``depth``. Called again while a collided group is redone donor by donor, it finds them
        loaded already."""
        # Groups already ahead were drawn on from the guessed numbers; without any, from the real ones.
        following = {**last, **self._last_guessed} if self._ahead else dict(last)
        while len(self._ahead) < self._depth:
            group = self._next_group()
            if group is None:
                break
            drafts = [d for _, drafts, held in group if not held for d in drafts]
            guesses = self._make_guesses(drafts, issued_on, following) if drafts else {}
            for guess in guesses.values():
                key = guess.numbered.draft.issuer.key
                following[key] = max(following[key], guess.numbered.number)
            self._ahead.append((group, guesses))
        self._last_guessed = following


def issue_annual(
    session: Session,
    plan: Preflight,
    actor: Actor,
    *,
    batch_size: int | None = None,
    on_donor: Callable[[int], Any] | None = None,
) -> AnnualResult:
    """Issue every ready statement of ``plan``, committing every ``STATEMENTS_COMMIT_EVERY`` donors.

    A crash loses at most the group in progress: its numbers go back with the rollback (no gap), and the rerun
    skips every donor who already has a statement for the year. A group that collides with another run
    (``IntegrityError``) is rolled back and redone donor by donor, so only the colliding donor is skipped.
    """
    config = current_app.config
    settings, cache, result = _settings(config), {}, AnnualResult()
    every = max(1, int(config.get("STATEMENTS_COMMIT_EVERY", 50)))
    workers = int(config.get("STATEMENTS_RENDER_WORKERS", 0) or 0)
    if plan.ready < int(config.get("STATEMENTS_RENDER_POOL_FROM", 100)):
        workers = 0  # a handful of statements: starting worker processes would cost more than it saves
    size = batch_size or config["STATEMENTS_BATCH_SIZE"]
    with fewer_collections(), pdf_renderer(workers) as renderer:
        groups = _groups(session, plan, size, every, cache, result, on_donor)
        pipeline = None
        if renderer.parallel:
            pipeline = _Pipeline(
                groups,
                lambda drafts, issued_on, last: _guess_ahead(plan, drafts, settings, renderer, issued_on, last),
                int(config.get("STATEMENTS_DRAW_AHEAD", 3)),
            )
            groups = iter(pipeline.advance, None)
        for group in groups:
            _commit_group(session, plan, group, actor, settings, renderer, pipeline, result, on_donor, cache)
    return result


def _groups(
    session: Session,
    plan: Preflight,
    batch_size: int,
    every: int,
    cache: dict,
    result: AnnualResult,
    on_donor: Callable[[int], Any] | None,
) -> Iterator[list[_Item]]:
    """The donors to issue (or hold), in groups of ``every``, a batch at a time as the preflight loaded it (or
    loading it now, for a plan without its batches); donors with nothing to do are counted on the way."""
    loaded = plan.loaded_batches()
    if loaded is not None:
        batch_size = plan.batch_size
    try:
        for batch in _chunks(plan.keys, batch_size):
            done, drafts_by_key = next(loaded) if loaded is not None else _batch(session, plan, batch, cache)
            items: list[_Item] = []
            for key in batch:
                drafts = drafts_by_key.get(key, [])
                if key in done and not drafts:
                    result.skipped += 1
                elif key in plan.blocked:
                    result.blocked += 1
                    items.append((key, drafts, True))
                    continue
                elif not drafts:
                    result.empty += 1
                else:
                    items.append((key, drafts, False))
                    continue
                if on_donor:
                    on_donor(1)
            for start in range(0, len(items), every):
                yield items[start : start + every]
    finally:
        if loaded is not None:
            loaded.close()  # closes the spool's file


def _commit_group(
    session: Session,
    plan: Preflight,
    group: Sequence[_Item],
    actor: Actor,
    settings: EstimatorSettings,
    renderer: Renderer,
    pipeline: _Pipeline | None,
    result: AnnualResult,
    on_donor: Callable[[int], Any] | None,
    cache: dict,
) -> None:
    counts = AnnualResult()  # added to ``result`` only once committed: a group redone must not count twice
    try:
        _issue_group(session, plan, group, actor, settings, renderer, pipeline, cache, counts)
        session.commit()
    except IntegrityError:  # another run issued one of these donors first: redo them one at a time
        session.rollback()
        if len(group) == 1:
            result.skipped += 1
            if on_donor:
                on_donor(1)
            return
        for item in group:
            _commit_group(session, plan, [item], actor, settings, renderer, pipeline, result, on_donor, cache)
        return
    result.issued += counts.issued
    result.skipped += counts.skipped
    result.empty += counts.empty
    if on_donor:
        on_donor(len(group))
