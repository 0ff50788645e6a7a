"""Amounts of money as a PM reads them: the currency's symbol (CLDR's, through Babel) or its
code, and the currency's own decimals; a currency parameter that is not an ISO 4217 code is one
line that names the key."""

from __future__ import annotations

import pytest

from prodops_lib import allocation, params
from prodops_lib.charts import MoneyFormatter
from prodops_lib.experiments import MetricSpec, analyse_experiment
from prodops_lib.experiments.report import results_block
from prodops_lib.io import DropLog
from prodops_lib.labels import money, money_digits, money_text
from prodops_lib.params import ParameterError, parse_currency

from .conftest import ROOT
from .experiments.conftest import make_units


@pytest.mark.parametrize(("value", "currency", "number", "expected"), [
    (1250, "USD", ",.0f", "$1,250"),
    (0.43, "EUR", "+,.2f", "+€0.43"),
    (-0.43, "EUR", "+,.2f", "-€0.43"),
    (-12, "GBP", ",.0f", "-£12"),
    (1250, "CHF", ",.0f", "CHF 1,250"),   # no symbol of its own: the code, spaced
    (5, "CAD", ",.2f", "CA$5.00"),
    (1234, "JPY", ",.0f", "¥1,234"),
    (-0.001, "USD", "+,.2f", "$0.00"),    # rounds to zero: no sign on a zero
    (3, None, ",.2f", "3.00"),
])
def test_an_amount_is_written_with_its_currency(value, currency, number, expected):
    assert money(value, currency, number) == expected


@pytest.mark.parametrize(("value", "currency", "expected"), [
    (0.0032, "USD", "$0.00320"),  # three significant digits below one unit: not a $0.00 beside $0.00452
    (0.00452, "USD", "$0.00452"),
    (44.01, "USD", "$44.01"),
    (1234.5, "EUR", "€1,234.50"),
    (12, "JPY", "¥12"),
    (0, "USD", "$0.00"),
])
def test_an_average_keeps_the_digits_that_tell_it_apart(value, currency, expected):
    assert money_text(value, currency) == expected


@pytest.mark.parametrize(("ticks", "currency", "signed", "expected"), [
    ([-0.002, -0.001, 0, 0.001, 0.002], "USD", True, ["-$0.002", "-$0.001", "$0.000", "+$0.001", "+$0.002"]),
    ([-1, -0.5, 0, 0.5], "USD", True, ["-$1.00", "-$0.50", "$0.00", "+$0.50"]),
    ([0, 0.25, 0.5], "EUR", False, ["€0.00", "€0.25", "€0.50"]),
    ([0, 0.5, 1.0, 1.5], "JPY", False, ["¥0.0", "¥0.5", "¥1.0", "¥1.5"]),
    ([0, 100_000, 200_000], "USD", False, ["$0", "$100,000", "$200,000"]),
])
def test_axis_ticks_take_the_decimals_their_step_needs(ticks, currency, signed, expected):
    assert MoneyFormatter(currency, signed=signed).format_ticks(ticks) == expected


def test_a_currency_has_its_own_decimals():
    assert (money_digits("EUR"), money_digits("JPY"), money_digits("BHD"), money_digits(None)) == (2, 0, 3, 2)


def test_a_currency_code_is_checked_and_normalised():
    assert parse_currency(" eur ") == "EUR"
    with pytest.raises(ValueError, match="'XXX' is not an ISO 4217 currency code"):
        parse_currency("XXX")  # ISO's code for "no currency" would show as ¤
    with pytest.raises(ValueError, match=r"^currency: 'EUX' is not an ISO 4217 currency code; write it as e\.g\. USD"):
        parse_currency("EUX")


def test_a_proportion_has_no_currency():
    with pytest.raises(ValueError, match="metric 'converted': a proportion is a share of units, not an amount of money"):
        MetricSpec(name="converted", kind="proportion", currency="USD")
    with pytest.raises(ValueError, match=r"metric 'revenue': currency: 'dollars' is not an ISO 4217"):
        MetricSpec(name="revenue", currency="dollars")


def test_an_allocation_writes_its_cost_in_the_currency_given():
    def capitalisable_card(overrides):
        settings = params.load(ROOT / "parameters" / "resource_allocation.yaml", allocation.AllocationParams,
                               overrides={"period": "2026-10", **overrides})
        result = allocation.run_allocation(settings, DropLog())
        return result, next(card for card in result.kpis() if card.label == "Capitalisable")

    priced, card = capitalisable_card({"currency": "eur"})
    plain, plain_card = capitalisable_card({"currency": None})
    total = priced.cost.total_cost
    assert priced.cost.currency == "EUR" and total == plain.cost.total_cost
    assert card.detail == f"of €{total:,.0f} loaded cost" and plain_card.detail == f"of {total:,.0f} loaded cost"
    with pytest.raises(ParameterError, match=r"resource_allocation\.yaml.*currency: 'euro' is not an ISO 4217"):
        capitalisable_card({"currency": "euro"})


def test_an_experiment_shows_the_averages_of_a_money_metric_in_its_currency():
    from prodops_lib.experiments import ExperimentSpec

    units = make_units(n=3_000)
    spec = ExperimentSpec(name="checkout", unit="user_id", variant_column="variant", control="control",
                          metrics=[MetricSpec(name="converted", kind="proportion", role="primary"),
                                   MetricSpec(name="revenue", currency="USD")])
    analysis = analyse_experiment(units, spec)
    html = str(results_block(analysis))
    control_revenue = units.loc[units["variant"] == "control", "revenue"].mean()
    control_rate = units.loc[units["variant"] == "control", "converted"].mean()
    assert f"${control_revenue:,.2f}" in html  # the same mean as pandas', in dollars
    assert f"{control_rate:.2%}" in html and f"${control_rate:.2f}" not in html  # a rate stays a rate
