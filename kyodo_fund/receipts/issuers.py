"""Who issues a receipt and which wording it may carry on a given gift date (receipts-and-tax.md R2–R6).

The host fund is configuration (``RECEIPT_ISSUER``). With ``PROGRAMME_RECIPIENT_MODEL = "fund"`` (the default)
it issues every receipt: every gift is its revenue (payments.md §10). With ``"direct"`` the organisation behind
a gift's project receives and receipts it itself; its wording then comes from the certification records in force
on the gift date (``certification.services.holding_on``: 認定/特例認定, else 県/市町村の条例指定), and gifts
to the general pool stay with the fund. The model is one switch for the whole platform: there is no per-programme
record yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from kyodo_fund.receipts.snapshot import Designation, IssuerSnapshot
from kyodo_fund.tax.kinds import IssuerKind

TOKYO = ZoneInfo("Asia/Tokyo")
FUND_KEY = "fund"
#: R3: a 税額控除に係る証明書 counts for gifts within five years of its date.
CERTIFICATE_YEARS = 5
DATE_BASES = ("settlement", "deposit")
RECIPIENT_MODELS = ("fund", "direct")


class IssuerConfigError(RuntimeError):
    """The configured issuer or programme model cannot issue receipts as configured."""


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@dataclass(frozen=True)
class Issuer:
    """An issuing entity with the dates that decide its wording. Built from ``RECEIPT_ISSUER``."""

    key: str
    kind: IssuerKind  #: the best kind it can have; ``issuer_kind_on`` lowers it per gift date
    name: str
    address: str
    representative: str = ""
    main_purpose: str = ""
    tax_credit_cert_number: str = ""
    tax_credit_cert_on: date | None = None
    tax_credit_cert_authority: str = ""
    #: 条例指定 (designating body, effective date): 長野県 from ``pref_designated_from`` and any others.
    designations: tuple[Designation, ...] = ()
    certification_number: str = ""
    certified_on: date | None = None
    certification_expires_on: date | None = None
    certifying_authority: str = ""
    provisional: bool = False
    #: R2: a renewal applied for in time keeps the 認定 wording after the expiry date.
    renewal_pending: bool = False
    receipt_date_basis: str = "settlement"

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], key: str = FUND_KEY) -> Issuer:
        designations = [Designation(d["body"], _day(d["effective_on"])) for d in raw.get("designations") or ()]
        if pref_from := _day(raw.get("pref_designated_from")):
            designations.insert(0, Designation("長野県", pref_from))
        basis = raw.get("receipt_date_basis") or "settlement"
        if basis not in DATE_BASES:
            raise IssuerConfigError(f"receipt_date_basis must be one of {DATE_BASES}, not {basis!r}")
        return cls(
            key=key,
            kind=IssuerKind(raw["kind"]),
            name=raw["name"],
            address=raw.get("address") or "",
            representative=raw.get("representative") or "",
            main_purpose=raw.get("main_purpose") or "",
            tax_credit_cert_number=raw.get("tax_credit_cert_number") or "",
            tax_credit_cert_on=_day(raw.get("tax_credit_cert_date")),
            tax_credit_cert_authority=raw.get("tax_credit_cert_authority") or "",
            designations=tuple(designations),
            certification_number=raw.get("certification_number") or "",
            certified_on=_day(raw.get("certified_on")),
            certification_expires_on=_day(raw.get("certification_expires_on")),
            certifying_authority=raw.get("certifying_authority") or "",
            provisional=bool(raw.get("provisional")),
            renewal_pending=bool(raw.get("renewal_pending")),
            receipt_date_basis=basis,
        )


def fund_issuer(config: Mapping[str, Any]) -> Issuer:
    return Issuer.from_config(config["RECEIPT_ISSUER"], FUND_KEY)


def issuer_for(session: Session, config: Mapping[str, Any], donation: Any, project: Any = None) -> Issuer:
    """The entity that received ``donation`` and receipts it (``project``: the gift's project, if loaded)."""
    model = config.get("PROGRAMME_RECIPIENT_MODEL", "fund")
    if model not in RECIPIENT_MODELS:
        raise IssuerConfigError(f"PROGRAMME_RECIPIENT_MODEL must be one of {RECIPIENT_MODELS}, not {model!r}")
    fund = fund_issuer(config)
    if fund.receipt_date_basis != "settlement":
        # The 入金日 basis needs the payout arrival date of each gift, which donations do not record yet.
        raise IssuerConfigError("receipt_date_basis 'deposit' is not implemented: gifts carry no payout date")
    if model == "fund" or donation.project_id is None:
        return fund
    if project is None:
        from kyodo_fund.projects.models import Project

        project = session.get(Project, donation.project_id)
    return organisation_issuer(
        session, config, project.organisation, gift_date(fund, donation) or datetime.now(TOKYO).date()
    )


def organisation_issuer(session: Session, config: Mapping[str, Any], org: Any, on_date: date) -> Issuer:
    """A direct programme's organisation as issuer, with the certification records in force on ``on_date``."""
    from kyodo_fund.certification.models import RecordKind
    from kyodo_fund.certification.rules import CertificationState
    from kyodo_fund.certification.services import holding_on, records_of, settings_from
    from kyodo_fund.orgs.data import MUNICIPALITY_BY_CODE, LegalForm

    held = holding_on(records_of(session, org.id), on_date, settings_from(config))
    certification = next((h for h in held if h.record.kind.is_certification), None)
    designations = tuple(
        Designation(
            "長野県"
            if h.record.kind == RecordKind.PREF_DESIGNATION
            else getattr(MUNICIPALITY_BY_CODE.get(h.record.municipality_code or ""), "name", ""),
            h.record.granted_on,
        )
        for h in held
        if not h.record.kind.is_certification
    )
    fields: dict[str, Any] = {}
    if certification is not None:
        kind = IssuerKind.NINTEI_NPO
        fields = {
            "certification_number": certification.record.notice_number,
            "certified_on": certification.record.granted_on,
            "certification_expires_on": certification.record.valid_until,
            "renewal_pending": certification.state == CertificationState.RENEWAL_PENDING,
            "provisional": certification.record.kind == RecordKind.TOKUREI_NINTEI,
        }
    elif designations:
        kind = IssuerKind.JOREI_NPO
    elif org.legal_form in (LegalForm.KOEKI_SHADAN, LegalForm.KOEKI_ZAIDAN):
        kind = IssuerKind.KOEKI  # whether it holds a 税額控除 certificate is not recorded: 所得控除 only
    else:
        kind = IssuerKind.PLAIN
    return Issuer(
        key=f"org:{org.id}",
        kind=kind,
        name=org.name,
        address=org.address,
        representative=org.representative_name,
        designations=designations,
        **fields,
    )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def designations_on(issuer: Issuer, gift_date: date) -> tuple[Designation, ...]:
    """R4: only designations already effective on the gift date."""
    return tuple(d for d in issuer.designations if d.effective_on and d.effective_on <= gift_date)


def issuer_kind_on(issuer: Issuer, gift_date: date, project: Any = None) -> IssuerKind:
    """The wording a document for a gift of ``gift_date`` to ``project`` may carry (R2–R5)."""
    if project is not None and getattr(project, "tax_excluded", False):
        return IssuerKind.PLAIN  # R5: the gift brings the donor a special benefit, or funds an investment
    kind = issuer.kind
    if kind in (IssuerKind.KOEKI_CERT, IssuerKind.KOEKI):
        cert_on = issuer.tax_credit_cert_on
        if issuer.tax_credit_cert_number and cert_on and cert_on <= gift_date < _add_years(cert_on, CERTIFICATE_YEARS):
            return IssuerKind.KOEKI_CERT
        return IssuerKind.KOEKI  # R3
    if kind == IssuerKind.NINTEI_NPO:
        start, end = issuer.certified_on, issuer.certification_expires_on
        if start and start <= gift_date and (end is None or gift_date <= end or issuer.renewal_pending):
            return IssuerKind.NINTEI_NPO  # R2
    if kind in (IssuerKind.NINTEI_NPO, IssuerKind.JOREI_NPO) and designations_on(issuer, gift_date):
        return IssuerKind.JOREI_NPO
    return IssuerKind.PLAIN


def issuer_snapshot(issuer: Issuer, kind: IssuerKind, designations: tuple[Designation, ...]) -> IssuerSnapshot:
    """What the document prints about the issuer, for the kind that applies."""
    fields: dict[str, Any] = {
        "kind": kind,
        "name": issuer.name,
        "address": issuer.address,
        "representative": issuer.representative,
    }
    if kind in (IssuerKind.KOEKI, IssuerKind.KOEKI_CERT):
        fields["main_purpose"] = issuer.main_purpose
    if kind == IssuerKind.KOEKI_CERT:
        fields |= {
            "tax_credit_cert_number": issuer.tax_credit_cert_number,
            "tax_credit_cert_on": issuer.tax_credit_cert_on,
            "tax_credit_cert_authority": issuer.tax_credit_cert_authority,
        }
    if kind == IssuerKind.NINTEI_NPO:
        fields |= {
            "certification_number": issuer.certification_number,
            "certified_on": issuer.certified_on,
            "certification_expires_on": issuer.certification_expires_on,
            "certifying_authority": issuer.certifying_authority,
            "provisional": issuer.provisional,
        }
    if kind != IssuerKind.PLAIN:
        fields["designations"] = designations
    return IssuerSnapshot(**fields)


def gift_date(issuer: Issuer | None, donation: Any) -> date | None:
    """受領年月日 on the issuer's date basis: the settlement's date in Asia/Tokyo (§2), the only basis
    ``issuer_for`` accepts (so ``issuer`` may be None where it has not been looked up yet)."""
    if donation.paid_at is not None:
        return donation.paid_at.astimezone(TOKYO).date()
    return donation.received_on  # offline gifts: the day the money arrived


def gift_date_between(start: date, end: date) -> Any:
    """SQL condition: the gift's 受領年月日 (as ``gift_date`` computes it) lies in [start, end]."""
    from sqlalchemy import and_, or_

    from kyodo_fund.donations.models import Donation

    first = datetime.combine(start, time(), TOKYO)
    after = datetime.combine(end + timedelta(days=1), time(), TOKYO)
    return or_(
        and_(Donation.paid_at >= first, Donation.paid_at < after),
        and_(Donation.paid_at.is_(None), Donation.received_on >= start, Donation.received_on <= end),
    )
