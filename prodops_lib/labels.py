"""What a product manager reads as a table's column header: one place for every report.

Result files keep the machine names (``rel_ci_low``, ``gap_pp``); a table on a page shows the
label here, with its unit, so "demand_items_share" never reaches a PM. A name that is not listed
is made readable all the same (underscores to spaces, a capital first, "pp" as a unit), so no
snake_case header is ever shown; listing it here gives it a better label.
"""

from __future__ import annotations

import math
import re

__all__ = ["COLUMN_LABELS", "column_label", "count_of", "engine_name", "estimate_format", "metric_words", "money", "money_digits",
           "money_text", "number_text", "p_equals", "p_value_text", "ratio_text", "readable_name", "step_decimals"]

COLUMN_LABELS: dict[str, str] = {
    # experiments
    "metric": "Metric", "role": "Role", "variant": "Variant", "control": "Control",
    "rel_effect": "Change vs control", "rel_ci_low": "Change, low end (95%)", "rel_ci_high": "Change, high end (95%)",
    "rel_range": "Change, range (95%)",
    "abs_effect": "Difference vs control", "abs_ci_low": "Difference, low end (95%)",
    "abs_ci_high": "Difference, high end (95%)",
    "mean_control": "Control average", "mean_variant": "Variant average",
    "n_control": "Control units", "n_variant": "Variant units", "units": "Units",
    "p_value": "p-value", "p_value_adjusted": "p-value (adjusted for several metrics)",
    "significant": "Clear result", "chance_to_beat_control": "Chance to beat control", "method": "Method",
    "segment": "Segment", "segment_column": "Segmented by", "exploratory": "Exploratory only",
    "click_through": "Click-through", "ci_low": "Low end (95%)", "ci_high": "High end (95%)",
    "clicks": "Clicks", "exposures": "Exposures", "control_click_through": "Control click-through",
    "target_rate": "Target click-through", "p_value_above_target": "p-value (above target)",
    "p_value_vs_control": "p-value (vs control)", "method_vs_control": "Method (vs control)",
    "verdict": "Verdict", "days_to_go": "Days still needed", "primary_metric": "Primary metric",
    "decision": "Decision", "decided": "Decided", "investigate": "To investigate", "keep_running": "Keep running",
    "baseline": "Baseline", "sd": "Standard deviation per unit", "planned_effect": "Planned effect (relative)",
    "n_per_variant": "Units per variant", "n_per_variant_unadjusted": "Units per variant without adjustment",
    "n_per_variant_sequential": "Units per variant, looked at daily", "days": "Days",
    "days_sequential": "Days, looked at daily", "cuped_reduction": "Variance removed by CUPED", "cuped_with": "CUPED measured with",
    "regression_reduction": "Variance removed by regression", "reduction_used": "Variance removed (planned)",
    "weeks": "Weeks", "units_per_variant": "Units per variant", "mde": "Detectable change (read at the end)",
    "mde_sequential": "Detectable change (looked at daily)", "mde_in_weeks": "Detectable in the planned weeks",
    "click_through_low": "Click-through, low end (95%)", "click_through_high": "Click-through, high end (95%)",
    "gap_now_pp": "Gap now (pp)", "win_rate": "Win rate", "wins": "Wins", "experiments": "Experiments", "name": "Name", "betas": "Beta releases",
    "readiness": "Readiness", "change_vs_comparable": "Change vs comparable users",
    "change_vs_comparable_low": "Change, low end (95%)", "change_vs_comparable_high": "Change, high end (95%)",
    # experiments: effect by days since exposure (novelty and primacy)
    "day": "Exposure day", "days_exposed": "Days exposed by the end", "scale": "Effect measured as",
    "effect": "Effect (lift or difference)", "effect_ci_low": "Effect, low end (95%)",
    "effect_ci_high": "Effect, high end (95%)", "trend_line": "Trend line",
    "fitted_value": "Value the trend is fitted to (log ratio or difference)",
    "fitted_se": "Fitted value, standard error", "change_per_day": "Change of the effect per day exposed",
    "change_ci_low": "Change per day, low end (95%)", "change_ci_high": "Change per day, high end (95%)",
    "slope_per_day": "Trend slope (fitted scale)", "slope_se": "Trend slope, standard error",
    "slope_ci_low": "Trend slope, low end (95%)", "slope_ci_high": "Trend slope, high end (95%)",
    "slope_p_value": "p-value of the trend", "cohorts": "Exposure days (cohorts)",
    "correction": "Correction for several variants",
    "slope_p_value_adjusted": "p-value of the trend (adjusted for several variants)",
    # beta releases
    "comparison": "Compared with", "comparison_units": "Comparison units", "beta_units": "Beta units",
    "weeks_since_entry": "Weeks since entry", "mean_uses": "Uses per unit", "using_share": "Share using it that week",
    "activated_units": "Units that activated", "retained_share": "Used it that week (of those who had used it)",
    "weeks_since_first_use": "Weeks since first use",
    "share_of_beta_units": "Share of beta units", "blocks": "Blocks general availability",
    "difference": "Difference", "average_rating": "Average stars (of 5)",
    "average_nps": "Average recommend score (0–10)",
    # the experiment program
    "experiment": "Experiment", "outcome": "Outcome", "month": "Month", "started": "Started",
    "concluded": "Concluded", "open": "Open at the month's end", "ab_tests": "A/B tests",
    "fake_doors": "Fake doors", "with_dates": "With both dates", "median_days": "Median (days)",
    "longest_days": "Longest (days)", "improved": "Improved clearly", "worsened": "Worsened clearly",
    "moved_share": "Moved clearly (share)", "n_shipped": "Shipped tests", "corrected": "Corrected sum",
    "corrected_low": "Corrected sum, low end (95%)", "corrected_high": "Corrected sum, high end (95%)",
    "as_measured": "Sum as measured", "prior": "Prior", "n_experiments": "Experiments it is learned from",
    "typical_true_lift": "Typical true lift", "spread_of_true_lifts": "Spread of true lifts (sd)",
    "measured_lift": "Measured lift", "chance_not_real": "Chance it is no real improvement",
    "holds_up_across_stream": "Holds up across the stream", "level_allowed": "Level the stream allowed",
    "clear_across_stream": "Clear across the stream",
    "primary_p_value": "p-value (primary metric, before correcting for several metrics)",
    # feedback
    "theme": "Theme", "themes": "Themes", "issue": "Issue", "issues": "Issues", "issue_id": "Issue number",
    "product_theme": "Product theme", "items": "Items", "customers": "Customers",
    "item_share": "Share of all feedback", "customer_share": "Share of all customers", "share": "Share",
    "product_item_share": "Share of feedback on product themes",
    "product_customer_share": "Share of customers (product themes)", "typical_quote": "Typical quote", "trend": "Trend", "label": "Name",
    "count_this_period": "Items this month", "count_before": "Items in the earlier months (together)",
    "share_this_period": "Share of all feedback this month", "share_before": "Share of all feedback before", "share_ratio": "Share, now / before",
    "q_growth": "Chance the growth is noise (q-value)", "q_decline": "Chance the decline is noise (q-value)",
    "q_value": "Chance the change is noise (q-value)",
    "level": "Level", "size": "Items", "coherence": "Coherence", "split_from": "Split from", "group": "Group",
    "groups": "Groups", "silhouette": "Silhouette", "chosen": "Chosen", "texts": "Texts",
    "computed": "Computed", "from_cache": "From cache", "dimensions": "Dimensions", "seconds": "Seconds",
    "customer": "Customer",
    # allocation
    "team": "Team", "effort": "Effort", "target_share": "Planned share", "actual_share": "Actual share",
    "deviation_pp": "Gap to plan (pp)", "status": "Status", "previous_share": "Share last month",
    "change_pp": "Change (pp)", "rolling_share": "Share, last 3 months", "slope_pp_per_month": "Trend (pp per month)",
    "mean_themes_worked": "Themes per person (average)", "mean_effective_themes": "Effective themes per person",
    "person_months": "Person-months", "key": "Key", "summary": "Title", "how": "How", "action": "What to do",
    # review
    "demand_items_share": "Share of feedback on product themes",
    "demand_customers_share": "Share of customers asking (product themes)",
    "demand_arr_share": "Share of revenue asking (product themes)", "effort_share": "Share of product-theme effort",
    "gap_pp": "Gap, demand − effort (pp)", "gap_slope_pp_per_month": "Gap trend (pp per month)",
    "abs_gap_slope_pp_per_month": "Change in gap size (pp per month)", "share_of_all_effort": "Share of all effort",
    "months": "Months", "measure": "Measure", "input": "Input",
    # data quality and run details
    "source": "Source", "reason": "Reason", "rows": "Rows", "rows_read": "Rows read", "rows_dropped": "Rows dropped",
    "example": "Example", "parameter": "Parameter", "value": "Value", "path": "File", "kind": "Kind",
}

_UNITS = {"pp": "(pp)", "pct": "(%)", "usd": "(USD)", "eur": "(EUR)"}


def column_label(name: object, level: float = 0.95) -> str:
    """The label of a column name: listed in :data:`COLUMN_LABELS`, else made readable. An
    interval's bound names its confidence ``level`` ("Change, low end (90%)")."""
    text = str(name)
    if text in COLUMN_LABELS:
        return COLUMN_LABELS[text].replace("(95%)", f"({level:.0%})")
    if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", text):
        return text  # a data value (a month, a theme, a team) or already readable
    return readable_name(" ".join(_UNITS.get(word, word) for word in text.split("_")))


def readable_name(name: object) -> str:
    """A machine name as a PM reads it: ``onboarding_checklist`` → ``Onboarding checklist``."""
    text = " ".join(str(name).replace("_", " ").split())
    return text[:1].upper() + text[1:]


def metric_words(name: object) -> str:
    """A metric's machine name as words, as reports name a metric without a label
    ("minutes_in_dashboard" → "minutes in dashboard")."""
    return " ".join(str(name).replace("_", " ").split())


def count_of(number: int | float, noun: str, plural: str | None = None) -> str:
    """``"1 experiment"``, ``"3 experiments"``, ``"1,200 rows"``: a count with its noun in the
    right number, instead of "experiment(s)". ``plural`` for the irregular ones ("people")."""
    many = plural or (noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s")
    return f"{number:,.0f} {noun if number == 1 else many}"


def interval_format(low: float, high: float) -> str:
    """A signed fixed-point format for an estimate and its interval, with the decimals that give
    the interval's width two significant digits, so all three numbers show the same decimals:
    ``+.2f`` for 0.380 to 0.587 (``+0.38 to +0.59``), ``+.0f`` for 120 to 480."""
    width = abs(high - low)
    if not math.isfinite(width) or width == 0:
        return "+.3g"
    return f"+.{max(0, 1 - math.floor(math.log10(width)))}f"


def money(value: float, currency: str | None, number: str = ",.0f") -> str:
    """An amount with its currency as an English reader expects it: ``$1,250``, ``€0.43``,
    ``CHF 1,250`` (a code without a symbol of its own is written before the amount, spaced),
    ``-£12``; ``number`` formats the amount, and a leading ``+`` signs it (``+$0.43``). Without a
    currency, the number alone."""
    if currency is None or not math.isfinite(value):
        return f"{value:{number}}"
    from babel.numbers import get_currency_symbol

    symbol = get_currency_symbol(currency, locale="en_US")
    amount = f"{abs(value):{number.removeprefix('+')}}"
    shown = float(amount.replace(",", "")) != 0  # a value that rounds to zero takes no sign
    sign = "-" if value < 0 and shown else ("+" if number.startswith("+") and shown else "")
    return f"{sign}{symbol}{' ' if symbol[-1].isalpha() else ''}{amount}"


def money_digits(currency: str | None, default: int = 2) -> int:
    """The decimals an amount of ``currency`` is written with (2 for EUR, 0 for JPY)."""
    if currency is None:
        return default
    from babel.numbers import get_currency_precision

    return get_currency_precision(currency)


def money_text(value: float, currency: str | None, significant: int = 3) -> str:
    """An amount with the currency's decimals, or ``significant`` digits below one unit:
    ``$44.01``, and ``$0.00320`` rather than a ``$0.00`` that hides a 41% difference from ``$0.00452``."""
    decimals = money_digits(currency)
    if math.isfinite(value) and 0 < abs(value) < 1:
        decimals = max(decimals, significant - 1 - math.floor(math.log10(abs(value))))
    return money(value, currency, f",.{decimals}f")


def step_decimals(step: float, currency: str | None = None) -> int:
    """The decimals that tell apart values ``step`` apart (axis ticks): 0 for 250, 1 for 0.5,
    2 for 0.25; an amount of money below one unit takes at least its currency's decimals
    (``$0.50``, not ``$0.5``)."""
    if not (math.isfinite(step) and step > 0):
        return 0
    decimals = max(0, -math.floor(math.log10(step)))
    while decimals < 12 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    return max(decimals, money_digits(currency)) if decimals and currency else decimals


_ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Spark", "postgres": "Postgres", "trino": "Trino",
                 "bigquery": "BigQuery", "snowflake": "Snowflake", "databricks": "Databricks", "redshift": "Redshift",
                 "tsql": "SQL Server", "mysql": "MySQL", "oracle": "Oracle", "sql": "the warehouse"}


def engine_name(dialect: str) -> str:
    """A query engine as its users name it: ``postgres`` → ``Postgres``, ``bigquery`` → ``BigQuery``."""
    return _ENGINE_NAMES.get(dialect, dialect[:1].upper() + dialect[1:])


def estimate_format(estimate) -> str:
    """:func:`interval_format` of an estimate with ``ci_low`` and ``ci_high``: the one format of
    the estimate and of every figure shown beside it."""
    return interval_format(estimate.ci_low, estimate.ci_high)


def number_text(value: float, decimals: int = 1) -> str:
    """An amount such as effort with thousands separators and at most ``decimals`` decimals, none
    when they are zeros: ``1,679``, ``620.5`` (never ``1,679.0``)."""
    text = f"{value:,.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text


def p_value_text(p: float, floor: float = 0.001) -> str:
    """A p-value as every page writes it: two significant digits in fixed point (``0.038``,
    ``0.18``), and ``<0.001`` below ``floor`` instead of ``6.3e-05`` or a ``0.0000`` that reads as
    impossible. A table that compares p-values with tiny levels passes a lower ``floor``."""
    if not math.isfinite(p):
        return "—"
    if p < floor:
        return f"<{floor:.{max(0, -math.floor(math.log10(floor)))}f}"
    if p <= 0:
        return "0"
    decimals = max(2, 1 - math.floor(math.log10(p)))
    text = f"{p:.{decimals}f}"
    shown = float(text)
    leading = shown / 10 ** math.floor(math.log10(shown))  # 5 for 0.05, 1 for 0.01
    if shown > p and (math.isclose(leading, 1) or math.isclose(leading, 5)):
        # rounded up onto a level such as 0.05, 0.01 or 0.001 that p is below ("p = 0.050" beside
        # "clear"): one more digit, cut rather than rounded (0.0496, 0.00999)
        decimals += 1
        text = f"{math.floor(p * 10**decimals) / 10**decimals:.{decimals}f}"
    return text


def p_equals(p: float, floor: float = 0.001) -> str:
    """:func:`p_value_text` in a sentence: ``p = 0.038``, ``p < 0.001``; ``no p-value`` when
    there is none."""
    if not math.isfinite(p):
        return "no p-value"
    text = p_value_text(p, floor)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def ratio_text(ratio: float) -> str:
    """A growth multiple as a PM reads it: ``55.6×``; ``new`` when there was nothing before
    (an infinite ratio), never ``inf``."""
    if ratio != ratio:  # NaN: nothing now and nothing before
        return "—"
    return "new (none before)" if ratio == float("inf") else f"{ratio:.1f}×"
