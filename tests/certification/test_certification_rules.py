"""Every deadline example of certification.md §2–§5, both renewal conventions and both first-day conventions."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kyodo_fund.certification import rules
from kyodo_fund.certification.rules import (
    AnnualReportState,
    CertificationKind,
    CertificationSettings,
    CertificationState,
    CertificationTerm,
)

D = date
TOKYO = CertificationSettings(renewal_open="expiry_minus_6m")
SAITAMA = CertificationSettings(renewal_open="day_after_expiry_minus_6m")


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2026, 8, 31), -6, D(2026, 2, 28)),
        (D(2024, 8, 31), -6, D(2024, 2, 29)),
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2026, 11, 15), 3, D(2027, 2, 15)),
        (D(2026, 3, 31), -12, D(2025, 3, 31)),
    ],
)
def test_month_arithmetic_clamps_to_month_end(day, months, expected):
    assert rules.add_months(day, months) == expected


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (D(2025, 4, 1), D(2026, 3, 31), 12),
        (D(2024, 10, 1), D(2025, 3, 31), 6),
        (D(2024, 10, 15), D(2025, 3, 31), 6),  # 5 months 17 days: the part month counts
        (D(2024, 1, 31), D(2024, 2, 29), 1),  # no 31 February: the month ends at the month end
        (D(2025, 3, 31), D(2025, 3, 31), 1),
    ],
)
def test_count_months(start, end, months):
    assert rules.count_months(start, end) == months


def test_establishment_worked_example():
    t = rules.establishment_timeline(D(2026, 4, 1), D(2026, 6, 10))
    assert (t.correction_due_on, t.inspection_ends_on, t.decision_due_on) == (
        D(2026, 4, 8),
        D(2026, 4, 15),
        D(2026, 6, 15),
    )
    assert (t.registration_due_on, t.revocation_alert_on) == (D(2026, 6, 24), D(2026, 12, 10))


def test_first_day_counts_shortens_event_periods_by_one_day():
    t = rules.establishment_timeline(D(2026, 4, 1), D(2026, 6, 10), CertificationSettings(first_day_counts=True))
    assert (t.correction_due_on, t.inspection_ends_on) == (D(2026, 4, 7), D(2026, 4, 14))
    # The decision period begins the day after 縦覧 ends, a whole day, so it is 縦覧 end + 2 months either way.
    assert t.decision_due_on == D(2026, 6, 14)
    assert (t.registration_due_on, t.revocation_alert_on) == (D(2026, 6, 23), D(2026, 12, 9))


def test_first_day_counts_is_read_from_config():
    assert CertificationSettings.from_config({"DEADLINES_FIRST_DAY_COUNTS": True}).first_day_counts is True
    assert CertificationSettings.from_config({}) == CertificationSettings()


def test_timeline_without_notice_has_no_registration_dates():
    t = rules.establishment_timeline(D(2026, 4, 1))
    assert t.registration_due_on is None and t.revocation_alert_on is None


@pytest.mark.parametrize(
    ("received", "inspection_ends"),
    [(D(2021, 6, 9), D(2021, 6, 23)), (D(2021, 6, 8), D(2021, 7, 8)), (D(2016, 3, 1), D(2016, 5, 1))],
)
def test_inspection_length_follows_the_application_date(received, inspection_ends):
    assert rules.establishment_timeline(received).inspection_ends_on == inspection_ends


@pytest.mark.parametrize(
    ("fy_end", "due"),
    [(D(2026, 3, 31), D(2026, 6, 30)), (D(2026, 12, 31), D(2027, 3, 31)), (D(2025, 11, 30), D(2026, 2, 28))],
)
def test_annual_report_due(fy_end, due):
    assert rules.annual_report_due(fy_end) == due


def test_annual_report_reminders_and_revocation_alert():
    s = rules.annual_report_schedule(D(2026, 3, 31))
    assert s.reminders_on == (D(2026, 7, 30), D(2026, 8, 30))
    assert s.revocation_alert_on == D(2029, 6, 30)


@pytest.mark.parametrize(
    ("filed", "as_of", "state"),
    [
        (D(2026, 6, 30), D(2026, 7, 1), AnnualReportState.FILED_ON_TIME),
        (D(2026, 7, 1), D(2026, 7, 2), AnnualReportState.FILED_LATE),
        (None, D(2026, 6, 30), AnnualReportState.NOT_DUE),
        (None, D(2026, 7, 1), AnnualReportState.OVERDUE),
        (None, D(2029, 6, 29), AnnualReportState.OVERDUE),
        (None, D(2029, 6, 30), AnnualReportState.REVOCATION_RISK),
        (D(2027, 1, 1), D(2026, 12, 1), AnnualReportState.OVERDUE),  # filing after as_of is not yet known
    ],
)
def test_annual_report_state(filed, as_of, state):
    assert rules.annual_report_state(D(2026, 3, 31), filed, as_of) is state


def test_late_report_in_judging_period_blocks_the_application():
    period = rules.judging_period(3, D(2026, 5, 1))  # FY2024 and FY2025
    filings = {D(2025, 3, 31): D(2025, 7, 15), D(2026, 3, 31): None}
    late = rules.late_annual_reports(filings, period, D(2026, 5, 1))
    assert late == [D(2025, 3, 31)]  # FY2025's report is not due yet
    result = rules.application_eligibility(
        "nintei", established_on=D(2015, 4, 1), applied_on=D(2026, 5, 1), late_report_fiscal_year_ends=late
    )
    assert result.reasons == ("late_annual_report",) and not result.eligible
    on_time = {D(2025, 3, 31): D(2025, 6, 30), D(2026, 3, 31): None}
    assert rules.late_annual_reports(on_time, period, D(2026, 5, 1)) == []


@pytest.mark.parametrize(
    ("kind", "granted", "until"),
    [
        (CertificationKind.NINTEI, D(2012, 9, 16), D(2017, 9, 15)),
        (CertificationKind.TOKUREI_NINTEI, D(2012, 9, 16), D(2015, 9, 15)),
        ("nintei", D(2020, 3, 1), D(2025, 2, 28)),
    ],
)
def test_validity(kind, granted, until):
    assert rules.certification_valid_until(kind, granted) == until


@pytest.mark.parametrize(
    ("settings", "valid_until", "opens", "closes"),
    [
        (TOKYO, D(2017, 9, 15), D(2017, 3, 15), D(2017, 6, 15)),
        (SAITAMA, D(2017, 12, 31), D(2017, 7, 1), D(2017, 9, 30)),
        (SAITAMA, D(2017, 9, 15), D(2017, 3, 16), D(2017, 6, 15)),
        (TOKYO, D(2017, 12, 31), D(2017, 6, 30), D(2017, 9, 30)),
    ],
)
def test_renewal_window_both_conventions(settings, valid_until, opens, closes):
    window = rules.renewal_window(valid_until, settings)
    assert (window.opens_on, window.closes_on) == (opens, closes)


def test_renewal_convention_is_read_from_config_and_default_is_saitama():
    assert CertificationSettings.from_config({"CERTIFICATION_RENEWAL_OPEN": "expiry_minus_6m"}) == TOKYO
    assert CertificationSettings() == SAITAMA
    with pytest.raises(ValueError):
        CertificationSettings(renewal_open="whenever")


def test_renewal_reminders():
    reminders = rules.renewal_reminders(D(2017, 12, 31))
    assert [(r.on, r.key) for r in reminders] == [
        (D(2017, 7, 1), "renewal_window_open"),
        (D(2017, 8, 31), "renewal_window_closing"),
    ]


def test_renewed_term_starts_the_day_after_expiry():
    assert rules.renewed_term(D(2017, 9, 15)) == (D(2017, 9, 16), D(2022, 9, 15))


NINTEI = CertificationTerm("nintei", D(2012, 9, 16), D(2017, 9, 15))


@pytest.mark.parametrize(
    ("record", "day", "state"),
    [
        (NINTEI, D(2012, 9, 15), CertificationState.NOT_YET),
        (NINTEI, D(2012, 9, 16), CertificationState.CERTIFIED),
        (NINTEI, D(2017, 9, 15), CertificationState.CERTIFIED),
        (NINTEI, D(2017, 9, 16), CertificationState.LAPSED),
        # Filed in the Saitama-convention window (2017-03-16…2017-06-15), undecided at expiry: still effective.
        (
            CertificationTerm("nintei", D(2012, 9, 16), D(2017, 9, 15), renewal_filed_on=D(2017, 5, 1)),
            D(2017, 11, 1),
            CertificationState.RENEWAL_PENDING,
        ),
        (
            CertificationTerm(
                "nintei", D(2012, 9, 16), D(2017, 9, 15), D(2017, 5, 1), renewal_decided_on=D(2017, 11, 1)
            ),
            D(2017, 11, 1),
            CertificationState.LAPSED,
        ),
        # Filed after the window closed: no grace.
        (
            CertificationTerm("nintei", D(2012, 9, 16), D(2017, 9, 15), renewal_filed_on=D(2017, 6, 16)),
            D(2017, 9, 16),
            CertificationState.LAPSED,
        ),
        # 特例認定 cannot be renewed.
        (
            CertificationTerm("tokurei_nintei", D(2014, 9, 16), D(2017, 9, 15), renewal_filed_on=D(2017, 5, 1)),
            D(2017, 9, 16),
            CertificationState.LAPSED,
        ),
        (
            CertificationTerm("nintei", D(2012, 9, 16), D(2017, 9, 15), ended_on=D(2016, 7, 1)),
            D(2016, 7, 1),
            CertificationState.ENDED,
        ),
    ],
)
def test_certification_state(record, day, state):
    assert rules.certification_state_on(day, record) is state
    assert rules.is_certified_on(day, record) is (
        state in (CertificationState.CERTIFIED, CertificationState.RENEWAL_PENDING)
    )


def test_pending_renewal_depends_on_the_window_convention():
    # 2017-03-15 is inside Tokyo's window but one day before Saitama's.
    record = CertificationTerm("nintei", D(2012, 9, 16), D(2017, 9, 15), renewal_filed_on=D(2017, 3, 15))
    assert rules.is_certified_on(D(2017, 10, 1), record, TOKYO)
    assert not rules.is_certified_on(D(2017, 10, 1), record, SAITAMA)


def test_five_year_bar_after_revocation():
    assert rules.reapplication_barred_until(D(2026, 7, 1)) == D(2031, 6, 30)
    kw = {"established_on": D(2010, 4, 1), "revoked_on": D(2026, 7, 1)}
    assert rules.application_eligibility("nintei", applied_on=D(2031, 6, 30), **kw).reasons == ("revocation_bar",)
    assert rules.application_eligibility("nintei", applied_on=D(2031, 7, 1), **kw).eligible


@pytest.mark.parametrize(
    ("applied", "previously", "reasons"),
    [
        (D(2021, 4, 1), False, ("too_young",)),
        (D(2021, 4, 2), False, ()),
        (D(2025, 3, 31), False, ()),
        (D(2025, 4, 1), False, ("too_old_for_tokurei",)),
        (D(2023, 4, 1), True, ("previously_certified",)),
    ],
)
def test_tokurei_eligibility(applied, previously, reasons):
    result = rules.application_eligibility(
        "tokurei_nintei", established_on=D(2020, 4, 1), applied_on=applied, previously_certified=previously
    )
    assert result.reasons == reasons and result.eligible is (not reasons)


def test_nintei_has_no_upper_age_limit():
    assert rules.application_eligibility("nintei", established_on=D(2000, 4, 1), applied_on=D(2026, 4, 1)).eligible


def test_designation_recheck_worked_example():
    recheck = rules.designation_recheck(D(2022, 4, 1))
    assert (recheck.recheck_on, recheck.window_opens_on, recheck.window_closes_on) == (
        D(2027, 4, 1),
        D(2026, 7, 1),
        D(2026, 9, 1),
    )
    assert rules.designation_recheck(D(2022, 4, 1), 2).recheck_on == D(2032, 4, 1)
    assert rules.next_designation_recheck(D(2022, 4, 1), D(2027, 4, 2)).recheck_on == D(2032, 4, 1)
    assert rules.next_designation_recheck(D(2022, 4, 1), D(2027, 4, 1)).recheck_on == D(2027, 4, 1)


@pytest.mark.parametrize(
    ("month", "as_of", "renewal", "start", "end", "months"),
    [
        (3, D(2026, 5, 1), False, D(2024, 4, 1), D(2026, 3, 31), 24),
        (3, D(2026, 3, 31), False, D(2023, 4, 1), D(2025, 3, 31), 24),  # FY ending today is still open
        (3, D(2026, 5, 1), True, D(2021, 4, 1), D(2026, 3, 31), 60),
        (12, D(2026, 1, 1), False, D(2024, 1, 1), D(2025, 12, 31), 24),
        (2, D(2025, 3, 1), False, D(2023, 3, 1), D(2025, 2, 28), 24),
    ],
)
def test_judging_period(month, as_of, renewal, start, end, months):
    period = rules.judging_period(month, as_of, renewal=renewal)
    assert (period.start, period.end, period.months) == (start, end, months)
    assert len(period.fiscal_years) == (5 if renewal else 2) == period.required_years


def test_judging_period_with_a_short_first_fiscal_year():  # P7
    period = rules.judging_period(3, D(2026, 5, 1), established_on=D(2024, 10, 1))
    assert [(fy.start, fy.end, fy.months) for fy in period.fiscal_years] == [
        (D(2024, 10, 1), D(2025, 3, 31), 6),
        (D(2025, 4, 1), D(2026, 3, 31), 12),
    ]
    assert period.months == 18


def test_judging_period_for_a_young_renewal_keeps_the_years_that_exist():
    period = rules.judging_period(3, D(2026, 5, 1), renewal=True, established_on=D(2023, 6, 15))
    assert [fy.start for fy in period.fiscal_years] == [D(2023, 6, 15), D(2024, 4, 1), D(2025, 4, 1)]
    assert period.months == 10 + 12 + 12


def test_judging_period_needs_a_closed_fiscal_year():
    with pytest.raises(ValueError, match="事業年度"):
        rules.judging_period(3, D(2026, 3, 1), established_on=D(2025, 5, 1))


@given(st.dates(date(2001, 1, 1), date(2099, 12, 31)), st.integers(1, 12), st.booleans())
def test_judging_period_fiscal_years_are_contiguous_and_closed(as_of, month, renewal):
    period = rules.judging_period(month, as_of, renewal=renewal)
    assert period.end < as_of
    assert rules.add_months(period.end, 12) >= as_of  # the latest closed year, not an older one
    for earlier, later in zip(period.fiscal_years, period.fiscal_years[1:], strict=False):
        assert (later.start - earlier.end).days == 1
    assert all(fy.months == 12 and fy.end.month == month for fy in period.fiscal_years)
