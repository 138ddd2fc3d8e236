from flask import current_app, render_template, request

from kyodo_fund.tax import bp, services
from kyodo_fund.tax.forms import SimulatorForm


@bp.get("/simulator")
def simulator():
    # A result is a link: the form travels in the query string. Without income it is a blank form.
    submitted = "total_income_yen" in request.args
    form = SimulatorForm(formdata=request.args if submitted else None)
    result = notes = None
    if submitted and form.validate():
        result = services.simulate(form.gifts(), form.donor(), current_app.config)
        notes = services.note_texts(result.notes, services.settings_from(current_app.config))
    if not submitted:
        form.marginal_rate_pct.data = str(current_app.config["ESTIMATOR_DEFAULT_MARGINAL_RATE_PCT"])
    return render_template("tax/simulator.html", form=form, result=result, notes=notes, submitted=submitted)
