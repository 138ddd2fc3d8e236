"""Turning gifts into ``ReceiptSnapshot``s: donor, purpose, issuer wording, verification link, tax estimate.

Everything printed is fixed Japanese (a legal document), so nothing here goes through Babel.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from flask_babel import force_locale

from kyodo_fund.money import format_yen
from kyodo_fund.receipts.issuers import Issuer, designations_on, gift_date, issuer_kind_on, issuer_snapshot
from kyodo_fund.receipts.snapshot import (
    Designation,
    DocumentKind,
    DonorSnapshot,
    ReceiptFlags,
    ReceiptLine,
    ReceiptSnapshot,
)
from kyodo_fund.tax import estimator
from kyodo_fund.tax.estimator import Donor, EstimatorSettings, Gifts
from kyodo_fund.tax.kinds import IssuerKind

#: Printed in place of the number while a draft is validated, before a number is taken (R1).
DRAFT_NUMBER = {"R": "R-0000-000000", "S": "S-0000-000000"}
DRAFT_CODE = "draft"


#: Upper-case letters and digits without 0/O, 1/I/L: someone may type the code from paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 26  # 31**26 ≈ 2**128


#: Random bytes below this many map evenly onto the alphabet (8 × 31 = 248); the rest are drawn again.
_UNBIASED_BELOW = 256 - 256 % len(CODE_ALPHABET)
#: A random byte → its character (``bytes.translate``); the biased bytes are deleted instead.
_BYTE_TO_CHAR = bytes(ord(CODE_ALPHABET[b % len(CODE_ALPHABET)]) for b in range(256))
_BIASED = bytes(range(_UNBIASED_BELOW, 256))


def new_verification_code() -> str:
    """Uniform over the alphabet like ``secrets.choice`` per character, from one ``token_bytes`` call mapped in one
    ``translate`` (bytes of 248 and up are dropped and drawn again): an annual run makes a hundred thousand codes,
    and 26 ``choice`` calls cost ten times as much."""
    code = b""
    while len(code) < CODE_LENGTH:
        code += secrets.token_bytes(40).translate(_BYTE_TO_CHAR, _BIASED)
    return code[:CODE_LENGTH].decode("ascii")


def verification_url(config: Mapping[str, Any], code: str) -> str:
    return f"{config['PUBLIC_BASE_URL'].rstrip('/')}/receipts/verify/{code}"


def normalise_email(email: str | None) -> str:
    return (email or "").strip().lower()


def donor_key(user_id: int | None, email: str | None) -> str:
    """A donor's identity for statements: the account if there is one, else the e-mail address."""
    return f"u:{user_id}" if user_id is not None else f"e:{normalise_email(email)}"


def donor_snapshot(donation: Any, user: Any = None) -> DonorSnapshot:
    """Name and address as given with the gift; the donor's profile fills what the gift left empty."""
    name = (donation.donor_name or "").strip() or (getattr(user, "name", "") or "").strip()
    if (donation.donor_address or "").strip():
        address, postal = donation.donor_address, donation.donor_postal_code
    else:
        address, postal = getattr(user, "address", "") or "", getattr(user, "postal_code", "") or ""
    return DonorSnapshot(name=name, address=address.strip(), postal_code=(postal or "").strip())


def purpose_of(issuer: Issuer, project: Any) -> str:
    """但し書き: the project's name, or the fund itself for undesignated gifts."""
    return project.title if project is not None else issuer.name


def activity_of(project: Any) -> str:
    """The 特定非営利活動 of the project, always in Japanese whatever the locale of the request issuing it."""
    if project is None:
        return ""
    from kyodo_fund.orgs.data import CATEGORY_LABELS

    with force_locale("ja"):
        return str(CATEGORY_LABELS.get(project.activity_category, ""))


class GiftLine(NamedTuple):
    """One gift as a document line, with what decides its wording.

    A named tuple rather than a frozen dataclass: an annual run builds a dozen per donor and the preflight hands
    them to the issue pass through a pickle; a tuple is built and unpickled in a third of the time."""

    donation_id: int
    received_on: date
    amount_yen: int
    purpose: str
    activity: str
    kind: IssuerKind
    designations: tuple[Designation, ...]

    @property
    def group(self) -> str:
        return wording_group(self.kind, self.designations)


def wording_group(kind: IssuerKind, designations: tuple[Designation, ...]) -> str:
    """Gifts printed on one document must share the wording: kind and designations."""
    return ":".join([kind.value, *(d.body for d in designations)])


@dataclass(frozen=True)
class Wording:
    """What a gift's line says besides its date and amount: the same for every gift of one day to one project
    through one issuer, so a batch run works it out once per (issuer, project, day)."""

    kind: IssuerKind
    designations: tuple[Designation, ...]
    purpose: str
    activity: str


def gift_wording(issuer: Issuer, project: Any, day: date | None) -> Wording:
    kind = issuer_kind_on(issuer, day or date.min, project)
    designations = designations_on(issuer, day) if day and kind != IssuerKind.PLAIN else ()
    return Wording(kind, designations, purpose_of(issuer, project), activity_of(project))


def line_of(donation_id: int, day: date | None, amount_yen: int, wording: Wording) -> GiftLine:
    return GiftLine(
        donation_id=donation_id,
        received_on=day,
        amount_yen=amount_yen,
        purpose=wording.purpose,
        activity=wording.activity,
        kind=wording.kind,
        designations=wording.designations,
    )


def gift_line(issuer: Issuer, donation: Any, project: Any, amount_yen: int) -> GiftLine:
    day = gift_date(issuer, donation)
    return line_of(donation.id, day, amount_yen, gift_wording(issuer, project, day))


def receipt_snapshot(
    issuer: Issuer,
    line: GiftLine,
    donor: DonorSnapshot,
    *,
    number: str,
    issued_on: date,
    code: str,
    url: str,
) -> ReceiptSnapshot:
    return ReceiptSnapshot(
        number=number,
        document_kind=DocumentKind.RECEIPT,
        issued_on=issued_on,
        issuer=issuer_snapshot(issuer, line.kind, line.designations),
        donor=donor,
        lines=(ReceiptLine(line.received_on, line.amount_yen, line.purpose, line.activity),),
        total_yen=line.amount_yen,
        verification_code=code,
        verification_url=url,
    )


def statement_snapshot(
    issuer: Issuer,
    lines: Sequence[GiftLine],
    donor: DonorSnapshot,
    *,
    year: int,
    number: str,
    issued_on: date,
    code: str,
    url: str,
    settings: EstimatorSettings,
    flags: ReceiptFlags | None = None,
) -> ReceiptSnapshot:
    kind, designations = lines[0].kind, lines[0].designations
    ordered = sorted(lines, key=lambda g: (g.received_on, g.donation_id))
    total = sum(g.amount_yen for g in ordered)
    return ReceiptSnapshot(
        number=number,
        document_kind=DocumentKind.ANNUAL_STATEMENT,
        issued_on=issued_on,
        issuer=issuer_snapshot(issuer, kind, designations),
        donor=donor,
        lines=tuple(_receipt_line(g.received_on, g.amount_yen, g.purpose, g.activity) for g in ordered),
        total_yen=total,
        verification_code=code,
        verification_url=url,
        flags=flags or ReceiptFlags(),
        period_from=date(year, 1, 1),
        period_to=date(year, 12, 31),
        tax_estimate_text=tax_estimate_text(kind, designations, total, settings),
    )


#: A printed line, shared by the snapshots that print the same one (a snapshot is immutable): monthly donors' gifts
#: fall on the same days for the same amounts, and one object, not a dozen a statement, also pickles once per chunk
#: handed to the drawing workers.
_receipt_line = functools.lru_cache(maxsize=8192)(ReceiptLine)


@functools.lru_cache(maxsize=4096)
def tax_estimate_text(
    kind: IssuerKind, designations: tuple[Designation, ...], total_yen: int, settings: EstimatorSettings
) -> str:
    """推計: what the year's total on this document may save, from the estimator (receipts-and-tax.md §9).

    The donor's income is unknown here, so the 40%/30%-of-income caps and the 25%-of-tax cap are assumed not
    to bind, and the income-tax saving uses the default marginal rate. Never printed on a 領収書 (plain).

    Remembered: a pure function of hashable values, and many donors give the same yearly total.
    """
    if kind == IssuerKind.PLAIN:
        return ""
    pref = total_yen if any(d.body.endswith(("県", "都", "道", "府")) for d in designations) else 0
    muni = total_yen if any(not d.body.endswith(("県", "都", "道", "府")) for d in designations) else 0
    gifts = Gifts(**{f"{kind.value}_yen": total_yen}, pref_designated_yen=pref, muni_designated_yen=muni)
    # A very large income makes every income cap non-binding: the estimate is an upper bound.
    donor = Donor(total_income_yen=10**12, income_tax_yen=None, marginal_rate_pct=settings.default_marginal_rate_pct)
    result = estimator.estimate(gifts, donor, settings)
    rate = settings.default_marginal_rate_pct
    parts = [f"推計（目安）：この書類の合計{format_yen(total_yen)}について"]
    if kind in (IssuerKind.NINTEI_NPO, IssuerKind.KOEKI_CERT, IssuerKind.KOEKI):
        a = result.option_a
        parts.append(
            f"所得控除を選ぶ場合の寄附金控除額は{format_yen(a.deduction_yen)}"
            f"（所得税率{rate}%なら軽減額は約{format_yen(a.deduction_saving_yen)}）"
        )
    if kind in (IssuerKind.NINTEI_NPO, IssuerKind.KOEKI_CERT):
        parts.append(f"税額控除を選ぶ場合の控除額は約{format_yen(result.option_b.credit_yen)}")
    if result.resident.total_yen:
        parts.append(f"翌年1月1日に長野県内にお住まいなら住民税の控除は約{format_yen(result.resident.total_yen)}")
    if len(parts) == 1:
        parts.append(f"控除の対象は{format_yen(settings.floor_yen)}を超える部分のため、控除額は¥0")
    return "、".join(parts) + "です。総所得金額等・所得税額による上限は考慮していません。"
