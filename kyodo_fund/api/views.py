from flask import current_app, jsonify, request

from kyodo_fund.api import bp, params
from kyodo_fund.api.params import ParameterError
from kyodo_fund.extensions import limiter
from kyodo_fund.tax import services as tax_services
from kyodo_fund.tax.estimator import Donor, Gifts
from kyodo_fund.tax.kinds import CREDIT_ELIGIBLE, INCOME_DEDUCTIBLE, IssuerKind

MAX_MARGINAL_RATE_PCT = 45


@bp.get("/tax-estimate")
@limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])
def tax_estimate():
    """One gift to one recipient. ``income_tax_credit_yen`` is the 税額控除 the donor would get by choosing
    it instead of the 所得控除 (``income_deduction_yen``); without ``income_tax_yen`` it is computed without
    the 25%-of-income-tax cap (``income_tax_cap_applied`` false, and a note says so)."""
    args = request.args
    try:
        amount = params.whole_number(args, "amount_yen", required=True)
        recipient = params.choice(args, "recipient", IssuerKind)
        income = params.whole_number(args, "total_income_yen", required=True)
        income_tax = params.whole_number(args, "income_tax_yen", required=False)
        rate = params.whole_number(args, "marginal_rate_pct", required=False, maximum=MAX_MARGINAL_RATE_PCT)
        pref = params.boolean(args, "pref_designated", default=False)
        muni = params.boolean(args, "muni_designated", default=False)
        nagano = params.boolean(args, "nagano_resident", default=True)
    except ParameterError as exc:
        return exc.response()

    settings = tax_services.settings_from(current_app.config)
    rate = settings.default_marginal_rate_pct if rate is None else rate
    gifts = Gifts.single(recipient, amount, pref=pref, muni=muni)
    result = tax_services.simulate(gifts, Donor(income, income_tax, rate, nagano), current_app.config)

    notes = list(result.notes)
    if recipient == IssuerKind.PLAIN and (pref or muni):
        notes.append(tax_services.NOTE_DESIGNATION_IGNORED)
    if recipient == IssuerKind.JOREI_NPO and not (pref or muni):
        notes.append(tax_services.NOTE_JOREI_NOT_DESIGNATED)
    if "nagano_resident" not in args and (gifts.pref_designated_yen or gifts.muni_designated_yen):
        notes.append(tax_services.NOTE_ASSUMED_NAGANO)

    credit_eligible = recipient in CREDIT_ELIGIBLE
    return jsonify(
        amount_yen=amount,
        recipient=recipient.value,
        total_income_yen=income,
        income_tax_yen=income_tax,
        marginal_rate_pct=rate,
        income_deduction_yen=result.option_a.deduction_yen if recipient in INCOME_DEDUCTIBLE else 0,
        income_tax_credit_yen=result.option_b.credit_yen if credit_eligible else None,
        income_tax_cap_applied=credit_eligible and income_tax is not None,
        resident_tax_credit_yen={
            "prefecture": result.resident.prefecture_yen,
            "municipality": result.resident.municipality_yen,
            "total": result.resident.total_yen,
        },
        options={
            name: {
                "income_deduction_yen": option.deduction_yen,
                "income_tax_credit_yen": option.credit_yen,
                "saving_yen": option.saving_yen,
            }
            for name, option in (("A", result.option_a), ("B", result.option_b))
        },
        recommended=result.recommended,
        notes=tax_services.note_texts(notes, settings),
    )
