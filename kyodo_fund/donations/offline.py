"""Money that moves outside Stripe: gifts the fund receives by bank transfer, in cash or otherwise (recorded by an
administrator one at a time, or in bulk by ``imports``), and grants the fund pays to organisations by bank
transfer. Both go through the ledger; the checks here are shared by the admin form and the CSV import.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.donations.models import (
    Channel,
    Donation,
    DonationKind,
    DonationStatus,
    PaymentMethod,
    ReceiptPreference,
)
from kyodo_fund.ledger.models import LedgerGroup
from kyodo_fund.ledger.services import BANK_DEPOSITS, InsufficientBalance, post_donation, post_grant
from kyodo_fund.money import format_yen, percent_of
from kyodo_fund.projects.models import Project, ProjectStatus, today_in_tokyo
from kyodo_fund.projects.services import apply_gift

JST = ZoneInfo("Asia/Tokyo")

OFFLINE_METHODS = (PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH, PaymentMethod.OTHER)
#: Open projects, and closed ones: a bank transfer may arrive after the end date.
RECEIVING_STATES = frozenset({ProjectStatus.PUBLISHED, ProjectStatus.CLOSED})
#: What an INTEGER column holds on every backend; anything above is a typo, not a gift.
MAX_AMOUNT_YEN = 2_147_483_647
POSTAL_RE = re.compile(r"^\d{3}-\d{4}$")
#: The donor columns' sizes (``DonorDetailsMixin``), checked up front: PostgreSQL would refuse longer text.
MAX_LENGTHS = {"donor_name": 100, "donor_kana": 100, "address": 300, "email": 254, "household": 100}
#: Gifts whose donor is counted in ``Project.donor_count`` (refunded donors were taken out again).
COUNTED_STATES = (DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED, DonationStatus.DISPUTED)


@dataclass(frozen=True)
class Problem:
    #: The field's name, which is also the CSV column's name.
    field: str
    message: str


class OfflineGiftRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class OfflineGift:
    """One gift as the administrator or the CSV file gives it; field names are the CSV columns."""

    received_on: date
    amount_yen: int
    method: PaymentMethod
    project: Project | None = None
    donor_name: str = ""
    donor_kana: str = ""
    postal_code: str = ""
    address: str = ""
    email: str = ""
    household: str = ""
    anonymous: bool = False
    receipt_preference: ReceiptPreference = ReceiptPreference.PER_DONATION

    def normalised(self) -> OfflineGift:
        """NFKC and trimmed text (half-width kana, full-width digits and stray spaces are the usual noise)."""
        text = {f.name: _clean(getattr(self, f.name)) for f in fields(self) if f.name in MAX_LENGTHS}
        text["email"] = text["email"].lower()
        return replace(self, postal_code=_clean(self.postal_code), **text)


def _clean(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def gift_problems(gift: OfflineGift, today: date) -> list[Problem]:
    """Everything wrong with a (normalised) gift that can be told without the database."""
    problems = []
    if gift.received_on > today:
        problems.append(Problem("received_on", _("受領日が未来の日付です: %(day)s", day=gift.received_on.isoformat())))
    amount = gift.amount_yen
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        problems.append(Problem("amount_yen", _("金額は1円以上の整数にしてください。")))
    elif amount > MAX_AMOUNT_YEN:
        problems.append(
            Problem("amount_yen", _("金額が上限（%(max)s）を超えています。", max=format_yen(MAX_AMOUNT_YEN)))
        )
    if gift.method not in OFFLINE_METHODS:
        allowed = ", ".join(m.value for m in OFFLINE_METHODS)
        problems.append(Problem("method", _("受領方法は %(allowed)s のいずれかにしてください。", allowed=allowed)))
    if not gift.donor_name and not gift.anonymous:
        problems.append(Problem("donor_name", _("寄附者の氏名・名称を入力してください（匿名の寄附を除く）。")))
    for name, limit in MAX_LENGTHS.items():
        if len(getattr(gift, name)) > limit:
            problems.append(Problem(name, _("%(max)d文字以内にしてください。", max=limit)))
    if gift.postal_code and not POSTAL_RE.match(gift.postal_code):
        problems.append(Problem("postal_code", _("郵便番号は 123-4567 の形にしてください。")))
    if gift.email and len(gift.email) <= MAX_LENGTHS["email"]:
        try:
            validate_email(gift.email, check_deliverability=False)
        except EmailNotValidError:
            problems.append(Problem("email", _("メールアドレスの形式が正しくありません。")))
    return problems


def project_problem(project: Project | None) -> Problem | None:
    if project is not None and project.status not in RECEIVING_STATES:
        return Problem(
            "project",
            _(
                "事業「%(slug)s」は寄附を受け付けていません（%(status)s）。",
                slug=project.slug,
                status=project.status.label,
            ),
        )
    return None


def noon_in_tokyo(day: date) -> datetime:
    """Noon JST, so that UTC and the Japanese calendar agree on the day (the ledger books grants the same way)."""
    return datetime.combine(day, time(12), tzinfo=JST)


def record_offline_donation(
    session: Session,
    actor: Actor,
    *,
    received_on: date,
    amount_yen: int,
    method: PaymentMethod | str,
    project: Project | None = None,
    donor_name: str = "",
    donor_kana: str = "",
    postal_code: str = "",
    address: str = "",
    email: str = "",
    household: str = "",
    anonymous: bool = False,
    receipt_preference: ReceiptPreference | str = ReceiptPreference.PER_DONATION,
    platform_fee_pct: int | float,
    today: date | None = None,
) -> Donation:
    """Record a gift received outside Stripe: a paid donation, its ledger group and the project's counters.

    Raises ``OfflineGiftRefused`` with every problem found; nothing is written then.
    """
    try:
        method = PaymentMethod(method)
    except ValueError:
        method = None  # reported below like any other problem
    gift = OfflineGift(
        received_on=received_on,
        amount_yen=amount_yen,
        method=method,
        project=project,
        donor_name=donor_name,
        donor_kana=donor_kana,
        postal_code=postal_code,
        address=address,
        email=email,
        household=household,
        anonymous=bool(anonymous),
        receipt_preference=ReceiptPreference(receipt_preference),
    ).normalised()
    problems = gift_problems(gift, today or today_in_tokyo())
    if (problem := project_problem(project)) is not None:
        problems.append(problem)
    if problems:
        raise OfflineGiftRefused(problems)
    donation = book_offline_gift(session, actor, gift, platform_fee_pct=platform_fee_pct)
    after = {
        "public_id": donation.public_id,
        "amount_yen": donation.amount_yen,
        "received_on": gift.received_on.isoformat(),
        "method": gift.method.value,
        "project": project.slug if project else None,
        "anonymous": gift.anonymous,
    }
    record(session, actor, "donations.offline_recorded", donation, after=after)
    return donation


def book_offline_gift(
    session: Session,
    actor: Actor,
    gift: OfflineGift,
    *,
    platform_fee_pct: int | float,
    import_batch_id: int | None = None,
    import_row_key: str | None = None,
) -> Donation:
    """Write a checked gift: the donation, its ledger group (no processor fee) and the project's counters."""
    paid_at = noon_in_tokyo(gift.received_on)
    project_id = gift.project.id if gift.project is not None else None
    donation = Donation(
        public_id=secrets.token_hex(16),
        project_id=project_id,
        kind=DonationKind.ONE_OFF,
        channel=Channel.OFFLINE,
        method=gift.method,
        status=DonationStatus.PAID,
        amount_yen=gift.amount_yen,
        refunded_yen=0,
        processor_fee_yen=0,
        platform_fee_yen=percent_of(gift.amount_yen, platform_fee_pct),
        receipt_preference=gift.receipt_preference,
        anonymous=gift.anonymous,
        donor_name=gift.donor_name,
        donor_kana=gift.donor_kana,
        donor_postal_code=gift.postal_code,
        donor_address=gift.address,
        donor_email=gift.email,
        donor_household=gift.household,
        paid_at=paid_at,
        received_on=gift.received_on,
        import_batch_id=import_batch_id,
        import_row_key=import_row_key,
        recorded_by_id=getattr(actor.user, "id", None),
    )
    session.add(donation)
    session.flush()
    post_donation(
        session,
        source_ref=f"offline:{donation.id}",
        project_id=project_id,
        gross_yen=gift.amount_yen,
        processor_fee_yen=0,
        platform_fee_pct=platform_fee_pct,
        donation_id=donation.id,
        # Bank transfers and cash never pass through Stripe; stripe:clearing must keep matching its balance.
        received_into=BANK_DEPOSITS,
        occurred_at=paid_at,
        actor=actor,
    )
    if gift.project is not None:
        apply_gift(session, gift.project, gift.amount_yen, new_donor=_is_new_donor(session, donation))
    return donation


def _is_new_donor(session: Session, donation: Donation) -> bool:
    """Whether the project has no other counted gift from this donor (by e-mail, else by name and address).

    An anonymous gift cannot be matched to anybody, so it counts as one more donor.
    """
    if donation.anonymous:
        return True
    if donation.donor_email:
        # Online gifts keep the e-mail as typed; ours is lower-cased already.
        same_donor = func.lower(Donation.donor_email) == donation.donor_email
    else:
        same_donor = and_(Donation.donor_name == donation.donor_name, Donation.donor_address == donation.donor_address)
    stmt = select(Donation.id).where(
        Donation.project_id == donation.project_id,
        Donation.id != donation.id,
        Donation.status.in_(COUNTED_STATES),
        Donation.anonymous.is_(False),
        same_donor,
    )
    return session.scalar(stmt.limit(1)) is None


# --- grants ----------------------------------------------------------------------------------


class GrantRefused(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def pay_grant(
    session: Session,
    actor: Actor,
    project: Project,
    *,
    amount_yen: int,
    paid_on: date,
    bank_reference: str,
    memo: str = "",
    today: date | None = None,
) -> LedgerGroup:
    """Record a bank transfer from the project's fund to its organisation (the ledger audits it as ``ledger.grant``).

    Raises ``GrantRefused`` for a future date, an amount above the fund's balance or a bank reference already
    recorded for this project.
    """
    if paid_on > (today or today_in_tokyo()):
        raise GrantRefused("paid_on", _("支払日が未来の日付です。"))
    try:
        group = post_grant(
            session,
            project_id=project.id,
            org_id=project.organisation_id,
            amount_yen=amount_yen,
            paid_on=paid_on,
            bank_reference=bank_reference,
            actor=actor,
            memo=memo.strip() or None,
        )
    except InsufficientBalance as exc:
        raise GrantRefused(
            "amount_yen",
            _("助成額が事業の残高（%(available)s）を超えています。", available=format_yen(exc.available_yen)),
        ) from exc
    if group is None:
        raise GrantRefused("bank_reference", _("この振込の参照番号は、この事業の助成として記録済みです。"))
    return group
