"""Tax-benefit estimator (information only): pure functions over integer yen, rounding down.

Formulas F1–F5 and the corporate limits come from receipts-and-tax.md §9–§10. Nothing here reads Flask or
the database; the rates and orders that are assumptions come in through ``EstimatorSettings``.
Notes are returned as codes (``NOTE_*``); ``kyodo_fund.tax.services`` turns them into sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kyodo_fund.tax.kinds import IssuerKind

# Statutory ratios (所得税法78条, 措置法41条の18の2/3, 地方税法37条の2/314条の7), in percent.
INCOME_CAP_PCT = 40
CREDIT_RATE_PCT = 40
CREDIT_TAX_CAP_PCT = 25
RESIDENT_INCOME_CAP_PCT = 30

#: Bucket names that ``floor_order`` arranges (F3).
DEDUCTION_ONLY = "deduction_only"
FLOOR_BUCKETS = frozenset({DEDUCTION_ONLY, IssuerKind.NINTEI_NPO.value, IssuerKind.KOEKI_CERT.value})

NOTE_ESTIMATE_ONLY = "estimate_only"
NOTE_BELOW_FLOOR = "below_floor"
NOTE_INCOME_CAP = "income_cap"
NOTE_CREDIT_CAPPED = "credit_capped"
NOTE_NO_TAX_CAP = "no_tax_cap"
NOTE_CHOOSE_ONE = "choose_one"
NOTE_PLAIN_IGNORED = "plain_ignored"
NOTE_RESIDENT_NEXT_YEAR = "resident_next_year"
NOTE_NOT_IN_NAGANO = "not_in_nagano"


@dataclass(frozen=True)
class EstimatorSettings:
    """Defaults mirror ``config/default.py`` (``ESTIMATOR_*``)."""

    floor_yen: int = 2_000
    floor_order: tuple[str, ...] = (DEDUCTION_ONLY, IssuerKind.NINTEI_NPO.value, IssuerKind.KOEKI_CERT.value)
    #: Resident-tax credit rates in basis points (1/10,000), so 4% is 400 and the maths stays integer.
    prefecture_rate_bp: int = 400
    municipality_rate_bp: int = 600
    default_marginal_rate_pct: int = 10

    def __post_init__(self) -> None:
        if sorted(self.floor_order) != sorted(FLOOR_BUCKETS):
            raise ValueError(f"floor_order must arrange exactly {sorted(FLOOR_BUCKETS)}")
        if min(self.floor_yen, self.prefecture_rate_bp, self.municipality_rate_bp) < 0:
            raise ValueError("estimator settings must not be negative")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EstimatorSettings:
        rates = config.get("ESTIMATOR_RESIDENT_RATES", {"prefecture": 0.04, "municipality": 0.06})
        return cls(
            floor_yen=int(config.get("ESTIMATOR_FLOOR_YEN", 2_000)),
            floor_order=tuple(config.get("ESTIMATOR_FLOOR_ORDER", cls.floor_order)),
            prefecture_rate_bp=rate_to_basis_points(rates["prefecture"]),
            municipality_rate_bp=rate_to_basis_points(rates["municipality"]),
            default_marginal_rate_pct=int(config.get("ESTIMATOR_DEFAULT_MARGINAL_RATE_PCT", 10)),
        )


def rate_to_basis_points(rate: float | int | str) -> int:
    """``0.04`` → ``400``. Refuses rates finer than a basis point instead of rounding them silently."""
    scaled = float(rate) * 10_000
    points = round(scaled)
    if abs(scaled - points) > 1e-6 or points < 0:
        raise ValueError(f"rate {rate!r} is not a whole number of basis points")
    return points


@dataclass(frozen=True)
class Gifts:
    """A year's gifts by issuer kind. ``*_designated_yen`` are the parts of those gifts whose issuer is
    designated (条例指定) by the prefecture / by the donor's own municipality."""

    nintei_npo_yen: int = 0
    koeki_cert_yen: int = 0
    koeki_yen: int = 0
    jorei_npo_yen: int = 0
    plain_yen: int = 0
    pref_designated_yen: int = 0
    muni_designated_yen: int = 0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            _require_yen(name, value)
        designable = self.deductible_yen + self.jorei_npo_yen
        if max(self.pref_designated_yen, self.muni_designated_yen) > designable:
            raise ValueError("designated gifts cannot exceed the gifts to issuers that can be designated")

    @property
    def deductible_yen(self) -> int:
        return self.nintei_npo_yen + self.koeki_cert_yen + self.koeki_yen

    @classmethod
    def single(cls, kind: IssuerKind, amount_yen: int, *, pref: bool = False, muni: bool = False) -> Gifts:
        """One gift to one issuer, the designation flags applying to it (ignored for ``plain``)."""
        designable = kind != IssuerKind.PLAIN
        return cls(
            **{f"{kind.value}_yen": amount_yen},
            pref_designated_yen=amount_yen if pref and designable else 0,
            muni_designated_yen=amount_yen if muni and designable else 0,
        )


@dataclass(frozen=True)
class Donor:
    total_income_yen: int  #: 総所得金額等
    income_tax_yen: int | None = None  #: 所得税額; None: the 25% cap cannot be applied
    marginal_rate_pct: int = 10
    #: Lives in Nagano on 1 January of the year after the gifts (F5).
    lives_in_nagano: bool = True

    def __post_init__(self) -> None:
        _require_yen("total_income_yen", self.total_income_yen)
        if self.income_tax_yen is not None:
            _require_yen("income_tax_yen", self.income_tax_yen)
        if not 0 <= self.marginal_rate_pct <= 100:
            raise ValueError("marginal_rate_pct must be between 0 and 100")


@dataclass(frozen=True)
class IncomeTaxOption:
    deduction_yen: int  #: 所得控除 (寄附金控除) amount
    deduction_saving_yen: int  #: deduction × marginal rate, rounded down
    nintei_credit_yen: int = 0  #: 認定NPO法人等寄附金特別控除
    koeki_credit_yen: int = 0  #: 公益社団法人等寄附金特別控除

    @property
    def credit_yen(self) -> int:
        return self.nintei_credit_yen + self.koeki_credit_yen

    @property
    def saving_yen(self) -> int:
        return self.deduction_saving_yen + self.credit_yen


@dataclass(frozen=True)
class ResidentCredit:
    prefecture_yen: int = 0
    municipality_yen: int = 0

    @property
    def total_yen(self) -> int:
        return self.prefecture_yen + self.municipality_yen


@dataclass(frozen=True)
class Estimate:
    option_a: IncomeTaxOption  #: everything as 所得控除
    option_b: IncomeTaxOption  #: 税額控除 where eligible, 所得控除 for the rest
    credit_eligible: bool
    resident: ResidentCredit
    #: "A", "B", or None when neither option saves anything.
    recommended: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _require_yen(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative int of yen")


def _pct(amount: int, pct: int) -> int:
    return amount * pct // 100


def _floor100(amount: int) -> int:
    return amount // 100 * 100


def income_deduction(deductible_yen: int, total_income_yen: int, settings: EstimatorSettings) -> int:
    """F1: max(0, min(E, ⌊0.4·I⌋) − 2,000)."""
    return max(0, min(deductible_yen, _pct(total_income_yen, INCOME_CAP_PCT)) - settings.floor_yen)


def allocate_floor_and_cap(buckets: Mapping[str, int], cap_yen: int, settings: EstimatorSettings) -> dict[str, int]:
    """F3: the 40%-of-income cap and the ¥2,000 floor are consumed bucket by bucket in ``floor_order``.

    Returns each bucket's base (what is left of it after the cap and the floor).
    """
    remaining_cap, remaining_floor = cap_yen, settings.floor_yen
    bases: dict[str, int] = {}
    for name in settings.floor_order:
        used = min(buckets.get(name, 0), remaining_cap)
        remaining_cap -= used
        absorbed = min(used, remaining_floor)
        remaining_floor -= absorbed
        bases[name] = used - absorbed
    return bases


def credit_option(gifts: Gifts, donor: Donor, settings: EstimatorSettings) -> IncomeTaxOption:
    """F2 + F3: option B. Credits are rounded down to ¥100 after the 25%-of-income-tax cap, which is
    shared in ``floor_order`` (認定NPO等 before 公益社団法人等 by default, as 措置法 applies them)."""
    bases = allocate_floor_and_cap(
        {
            DEDUCTION_ONLY: gifts.koeki_yen,
            IssuerKind.NINTEI_NPO.value: gifts.nintei_npo_yen,
            IssuerKind.KOEKI_CERT.value: gifts.koeki_cert_yen,
        },
        _pct(donor.total_income_yen, INCOME_CAP_PCT),
        settings,
    )
    tax_cap = None if donor.income_tax_yen is None else _pct(donor.income_tax_yen, CREDIT_TAX_CAP_PCT)
    credits: dict[str, int] = {}
    for name in settings.floor_order:
        if name == DEDUCTION_ONLY:
            continue
        credit = _pct(bases[name], CREDIT_RATE_PCT)
        if tax_cap is not None:
            credit = min(credit, tax_cap)
        credits[name] = _floor100(credit)
        if tax_cap is not None:
            tax_cap -= credits[name]
    deduction = bases[DEDUCTION_ONLY]
    return IncomeTaxOption(
        deduction_yen=deduction,
        deduction_saving_yen=_pct(deduction, donor.marginal_rate_pct),
        nintei_credit_yen=credits[IssuerKind.NINTEI_NPO.value],
        koeki_credit_yen=credits[IssuerKind.KOEKI_CERT.value],
    )


def deduction_option(gifts: Gifts, donor: Donor, settings: EstimatorSettings) -> IncomeTaxOption:
    """Option A: every deductible gift as 所得控除."""
    deduction = income_deduction(gifts.deductible_yen, donor.total_income_yen, settings)
    return IncomeTaxOption(deduction_yen=deduction, deduction_saving_yen=_pct(deduction, donor.marginal_rate_pct))


def resident_tax_credit(gifts: Gifts, donor: Donor, settings: EstimatorSettings) -> ResidentCredit:
    """F5: each part max(0, min(P, ⌊0.3·I⌋) − 2,000) × rate, only for a Nagano resident on 1 January."""
    if not donor.lives_in_nagano:
        return ResidentCredit()
    cap = _pct(donor.total_income_yen, RESIDENT_INCOME_CAP_PCT)

    def part(designated_yen: int, rate_bp: int) -> int:
        return max(0, min(designated_yen, cap) - settings.floor_yen) * rate_bp // 10_000

    return ResidentCredit(
        prefecture_yen=part(gifts.pref_designated_yen, settings.prefecture_rate_bp),
        municipality_yen=part(gifts.muni_designated_yen, settings.municipality_rate_bp),
    )


def estimate(gifts: Gifts, donor: Donor, settings: EstimatorSettings | None = None) -> Estimate:
    """F4: options A and B side by side, the larger recommended, plus the resident-tax credit."""
    settings = settings or EstimatorSettings()
    option_a = deduction_option(gifts, donor, settings)
    credit_eligible = gifts.nintei_npo_yen + gifts.koeki_cert_yen > 0
    option_b = credit_option(gifts, donor, settings) if credit_eligible else option_a
    resident = resident_tax_credit(gifts, donor, settings)
    recommended = None
    if max(option_a.saving_yen, option_b.saving_yen) > 0:
        recommended = "B" if option_b.saving_yen > option_a.saving_yen else "A"
    return Estimate(
        option_a=option_a,
        option_b=option_b,
        credit_eligible=credit_eligible,
        resident=resident,
        recommended=recommended,
        notes=_notes(gifts, donor, settings, option_b, resident, credit_eligible),
    )


def _notes(
    gifts: Gifts,
    donor: Donor,
    settings: EstimatorSettings,
    option_b: IncomeTaxOption,
    resident: ResidentCredit,
    credit_eligible: bool,
) -> tuple[str, ...]:
    notes = [NOTE_ESTIMATE_ONLY]
    if 0 < gifts.deductible_yen <= settings.floor_yen:
        notes.append(NOTE_BELOW_FLOOR)
    if gifts.deductible_yen > _pct(donor.total_income_yen, INCOME_CAP_PCT):
        notes.append(NOTE_INCOME_CAP)
    if credit_eligible:
        notes.append(NOTE_CHOOSE_ONE)
        if donor.income_tax_yen is None:
            notes.append(NOTE_NO_TAX_CAP)
        else:
            uncapped = credit_option(gifts, Donor(donor.total_income_yen, None, donor.marginal_rate_pct), settings)
            if uncapped.credit_yen > option_b.credit_yen:
                notes.append(NOTE_CREDIT_CAPPED)
    if gifts.plain_yen:
        notes.append(NOTE_PLAIN_IGNORED)
    if gifts.pref_designated_yen or gifts.muni_designated_yen:
        notes.append(NOTE_RESIDENT_NEXT_YEAR if donor.lives_in_nagano else NOTE_NOT_IN_NAGANO)
    return tuple(notes)


# --- Corporate donors (§10): 損金算入限度額, information only ---------------------------------


@dataclass(frozen=True)
class CorporateLimits:
    general_yen: int  #: 一般寄附金の損金算入限度額 (一般枠)
    special_yen: int  #: 特定公益増進法人等の特別損金算入限度額 (特別枠)


@dataclass(frozen=True)
class CorporateResult:
    limits: CorporateLimits
    deductible_yen: int
    non_deductible_yen: int


def corporate_limits(capital_yen: int | None, months: int, income_yen: int) -> CorporateLimits:
    """一般枠 = (資本金等 × months/12 × 0.25% + 所得 × 2.5%) × 1/4; 特別枠 = (… × 0.375% + 所得 × 6.25%) × 1/2.

    ``capital_yen=None`` is a corporation without 資本金等 (所得 × 1.25% and × 6.25%). A loss counts as 0.
    """
    if capital_yen is not None:
        _require_yen("capital_yen", capital_yen)
    if not 1 <= months <= 12:
        raise ValueError("months must be 1–12")
    income = max(0, income_yen)
    if capital_yen is None:
        return CorporateLimits(general_yen=income * 125 // 10_000, special_yen=income * 625 // 10_000)
    # Single integer divisions over a common denominator keep the result exact before the floor.
    general = (capital_yen * months * 25 + income * 3_000) // 480_000
    special = (capital_yen * months * 375 + income * 75_000) // 2_400_000
    return CorporateLimits(general_yen=general, special_yen=special)


def corporate_deductible(
    limits: CorporateLimits, *, special_gifts_yen: int = 0, general_gifts_yen: int = 0, public_gifts_yen: int = 0
) -> CorporateResult:
    """Gifts to 認定NPO等/特定公益増進法人 use 特別枠 first and spill into 一般枠; gifts to 国・地方公共団体
    are deductible in full."""
    for name, value in (("special", special_gifts_yen), ("general", general_gifts_yen), ("public", public_gifts_yen)):
        _require_yen(name, value)
    special = min(special_gifts_yen, limits.special_yen)
    general = min(general_gifts_yen + special_gifts_yen - special, limits.general_yen)
    deductible = public_gifts_yen + special + general
    total = special_gifts_yen + general_gifts_yen + public_gifts_yen
    return CorporateResult(limits=limits, deductible_yen=deductible, non_deductible_yen=total - deductible)
