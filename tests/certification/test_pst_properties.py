"""Properties of the PST that must hold for any data, checked with hypothesis."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from kyodo_fund.certification.dates import add_months
from kyodo_fund.certification.pst import Gift, Officer, PstSettings, check_pst, group_gifts, judge_pst
from kyodo_fund.certification.rules import judging_period

AS_OF = date(2026, 5, 1)
START, END = date(2021, 4, 1), date(2026, 3, 31)  # the five fiscal years of a renewal
NAMES = ["田中", "佐藤", "鈴木", "高橋", "伊藤"]
ADDRESSES = ["長野市1", "松本市2", ""]  # "" = no address
LABELS = ["", "", "h1", "h2", "h3"]

identities = st.tuples(st.sampled_from(NAMES), st.sampled_from(ADDRESSES))
gifts_strategy = st.builds(
    lambda who, day, amount, label, anonymous: Gift(day, amount, who[0], who[1], label, anonymous),
    identities,
    st.dates(START, END),
    st.integers(1, 6_000),
    st.sampled_from(LABELS),
    st.sampled_from([False] * 9 + [True]),
)
officers_strategy = st.lists(
    st.builds(Officer, st.sampled_from(NAMES), st.sampled_from(ADDRESSES), st.sampled_from(LABELS)), max_size=2
)
pst_settings = st.builds(
    PstSettings, household_sum=st.booleans(), officer_basis=st.sampled_from(["any_time_in_fy", "judging_date"])
)


def run(gifts, officers, cfg):
    return check_pst(gifts, fy_end_month=3, as_of=AS_OF, officers=officers, renewal=True, settings=cfg)


def counts(result) -> list[int]:
    return [fy.qualifying_donors for fy in result.absolute.fiscal_years]


@st.composite
def structure_preserving_gift(draw, gifts):
    """A gift that changes nobody's household: from a donor already present under a label they already used,
    from a new donor without a label, or one that cannot be attributed (anonymous, no address)."""
    day, amount = draw(st.dates(START, END)), draw(st.integers(1, 6_000))
    kind = draw(st.sampled_from(["existing", "new", "anonymous", "no_address"]))
    if kind == "existing" and gifts:
        model = draw(st.sampled_from(gifts))
        return replace(model, received_on=day, amount_yen=amount)
    if kind == "anonymous":
        return Gift(day, amount, draw(st.sampled_from(NAMES)), "長野市1", draw(st.sampled_from(LABELS)), True)
    if kind == "no_address":
        return Gift(day, amount, draw(st.sampled_from(NAMES)), "", draw(st.sampled_from(LABELS)))
    return Gift(day, amount, "新しい寄附者", "新しい住所")


@settings(max_examples=150, deadline=None)
@given(st.data(), st.lists(gifts_strategy, max_size=25), officers_strategy, pst_settings)
def test_adding_a_gift_never_lowers_any_fiscal_years_count(data, gifts, officers, cfg):
    extra = data.draw(structure_preserving_gift(gifts))
    before, after = counts(run(gifts, officers, cfg)), counts(run([*gifts, extra], officers, cfg))
    assert all(b <= a for b, a in zip(before, after, strict=True))
    assert sum(after) - sum(before) <= 1


def test_a_gift_that_links_two_households_may_lower_the_count():
    # Documented consequence of households being connected groups: one more gift can merge two units.
    day = date(2025, 6, 1)
    gifts = [Gift(day, 5_000, "田中", "長野市1", "h1"), Gift(day, 5_000, "佐藤", "松本市2", "h2")]
    linking = Gift(day, 1, "田中", "長野市1", "h2")
    assert counts(run(gifts, [], PstSettings()))[-1] == 2
    assert counts(run([*gifts, linking], [], PstSettings()))[-1] == 1


@settings(max_examples=150, deadline=None)
@given(st.lists(gifts_strategy, max_size=25), officers_strategy, pst_settings, st.permutations(["甲", "乙", "丙"]))
def test_renaming_household_labels_consistently_changes_nothing(gifts, officers, cfg, new_names):
    rename = dict(zip(["h1", "h2", "h3"], (f"世帯{n}" for n in new_names), strict=True))
    rename[""] = ""
    renamed_gifts = [replace(g, household=rename[g.household]) for g in gifts]
    renamed_officers = [replace(o, household=rename[o.household]) for o in officers]
    assert run(gifts, officers, cfg).to_dict() == run(renamed_gifts, renamed_officers, cfg).to_dict()


@settings(max_examples=150, deadline=None)
@given(st.data(), st.lists(gifts_strategy, min_size=1, max_size=25), officers_strategy, pst_settings)
def test_moving_a_gift_across_a_fiscal_year_boundary_changes_only_those_two_years(data, gifts, officers, cfg):
    period = judging_period(3, AS_OF, renewal=True)
    index = data.draw(st.integers(0, len(gifts) - 1))
    gift = gifts[index]
    source = next(i for i, fy in enumerate(period.fiscal_years) if gift.received_on in fy)
    choices = [i for i in (source - 1, source + 1) if 0 <= i < len(period.fiscal_years)]
    target = data.draw(st.sampled_from(choices))
    target_fy = period.fiscal_years[target]
    moved = replace(gift, received_on=data.draw(st.dates(target_fy.start, target_fy.end)))
    before = counts(run(gifts, officers, cfg))
    after = counts(run([*gifts[:index], moved, *gifts[index + 1 :]], officers, cfg))
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if i not in (source, target):
            assert b == a


@settings(max_examples=100, deadline=None)
@given(st.lists(gifts_strategy, max_size=25), officers_strategy, pst_settings, st.randoms(use_true_random=False))
def test_judging_does_not_depend_on_row_order_or_row_splits(gifts, officers, cfg, rnd):
    # A SQL aggregation may return rows in any order, and a donor's year split over several rows.
    period = judging_period(3, AS_OF, renewal=True)
    grouped = group_gifts(gifts, period)
    shuffled = []
    for row in grouped:
        if row.amount_yen > 1 and rnd.random() < 0.5:
            part = rnd.randint(1, row.amount_yen - 1)
            shuffled += [row._replace(amount_yen=part), row._replace(amount_yen=row.amount_yen - part)]
        else:
            shuffled.append(row)
    rnd.shuffle(shuffled)
    expected = judge_pst(grouped, period=period, as_of=AS_OF, officers=officers, settings=cfg).to_dict()
    actual = judge_pst(shuffled, period=period, as_of=AS_OF, officers=officers, settings=cfg).to_dict()
    assert actual["absolute"] == expected["absolute"]
    assert actual["warnings"] == expected["warnings"]


def test_period_boundaries_used_by_the_properties():
    period = judging_period(3, AS_OF, renewal=True)
    assert (period.start, period.end) == (START, END)
    assert add_months(START, 60) == date(2026, 4, 1)
