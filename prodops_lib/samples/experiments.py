"""Sample A/B tests with planted effects, one file per kind of input the kit accepts.

* ``checkout_redesign.parquet``: unit-level, binary + heavy-tailed revenue + ratio metric +
  guardrail + a pre-period covariate (CUPED), a few missing values and units seen in both
  arms.  True relative lift +10% on conversion and on revenue per user.
* ``search_ranking.csv``: three arms, a +1% relative lift that ~4,000 users per arm cannot
  detect (the right call is "keep running").
* ``onboarding_checklist.csv``: a planted 52/48 sample-ratio mismatch.
* ``fake_door_ai_summary.csv``: arm-level counts for a fake-door test against a 3% target.
* ``search_ranking_pre.parquet``: the four weeks before the search ranking test, one row per user
  and active day (searches, result clicks, clicked), for its design (own seed): about 460 new
  searchers a day, each returning on a day with their own probability.
* ``dashboard_aggregates.csv``: sufficient statistics (n, sum, sum of squares) of a mean metric
  with no true effect, at a sample large enough to have detected about 5% (the right call is
  "don't ship: no detectable effect", with the effect the sample could have detected).

Every true value is returned for ``truth.json``; conversion and revenue come from a
user-level propensity p_i = 0.9 * Beta(a, b) (mean 0.1), which the treatment multiplies
by 1.1, so the population lift is exactly +10% and pre-period spend, drawn from the same
propensity, correlates ~0.65 with revenue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

from ._common import random_times, rounded, write_csv, write_text

SEED = 20261001
PLATFORMS = (("web", 0.55), ("ios", 0.25), ("android", 0.20))
COUNTRIES = (("US", 0.35), ("DE", 0.12), ("GB", 0.12), ("FR", 0.08), ("BR", 0.08),
             ("IN", 0.10), ("other", 0.15))
PLANS = (("free", 0.6), ("pro", 0.3), ("enterprise", 0.1))

# checkout_redesign generating parameters
CHECKOUT_BASE_RATE = 0.10
CHECKOUT_LIFT = 0.10
CHECKOUT_MEAN_ORDER_VALUE = 60.0
PROPENSITY_CONCENTRATION = 0.5  # a + b of the Beta; small = users differ a lot
USER_SIGMA, ORDER_SIGMA = 0.6, 0.45  # log-scale spread of order values: between / within user
PRE_PERIOD_WINDOWS = 6  # pre-period = 6 experiment-length windows
EXTRA_ORDERS_RATE, SESSIONS_RATE = 0.25, 3.0
PAGE_LOAD_MEDIAN_MS, PAGE_LOAD_SIGMA = 800.0, 0.35
N_MISSING_REVENUE, N_USERS_IN_BOTH = 12, 8


def _categorical(rng: np.random.Generator, options: tuple[tuple[str, float], ...],
                 size: int) -> np.ndarray:
    names = [name for name, _ in options]
    weights = np.array([w for _, w in options])
    return np.asarray(names, dtype=object)[rng.choice(len(names), size=size, p=weights / weights.sum())]


def _units(rng: np.random.Generator, prefix: str, size: int, start: str, end: str) -> pd.DataFrame:
    """User ids, exposure timestamps and segment columns shared by the unit-level files."""
    first_exposure = random_times(rng, pd.Timestamp(start), pd.Timestamp(end), size)
    return pd.DataFrame({
        "user_id": [f"{prefix}{i:06d}" for i in rng.permutation(size) + 1],
        "first_exposure": first_exposure.strftime("%Y-%m-%dT%H:%M:%S"),
        "platform": _categorical(rng, PLATFORMS, size),
        "country": _categorical(rng, COUNTRIES, size),
        "plan": _categorical(rng, PLANS, size),
    })


def _expected_min_poisson(rate_a: float, rate_b: float) -> float:
    """E[min(A, B)] for independent Poisson A, B: sum over k >= 1 of P(A >= k) P(B >= k)."""
    k = np.arange(1, 200)
    return float(np.sum(stats.poisson.sf(k - 1, rate_a) * stats.poisson.sf(k - 1, rate_b)))


def _checkout(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    n_users = 24_000
    units = _units(rng, "c", n_users, "2026-10-01", "2026-10-29")
    variant = np.where(rng.random(n_users) < 0.5, "control", "treatment")
    a = PROPENSITY_CONCENTRATION * CHECKOUT_BASE_RATE / 0.9
    propensity = 0.9 * rng.beta(a, PROPENSITY_CONCENTRATION - a, n_users)
    log_value = (np.log(CHECKOUT_MEAN_ORDER_VALUE) - (USER_SIGMA**2 + ORDER_SIGMA**2) / 2
                 + USER_SIGMA * rng.standard_normal(n_users))
    rate = propensity * np.where(variant == "treatment", 1 + CHECKOUT_LIFT, 1.0)
    converted = (rng.random(n_users) < rate).astype(int)
    revenue = np.where(converted == 1,
                       np.exp(log_value + ORDER_SIGMA * rng.standard_normal(n_users)), 0.0)
    pre_orders = rng.binomial(PRE_PERIOD_WINDOWS, propensity)
    owner = np.repeat(np.arange(n_users), pre_orders)
    pre_amounts = np.exp(log_value[owner] + ORDER_SIGMA * rng.standard_normal(owner.size))
    pre_revenue = np.bincount(owner, weights=pre_amounts, minlength=n_users)
    sessions = 1 + rng.poisson(SESSIONS_RATE, n_users)
    orders = converted * np.minimum(1 + rng.poisson(EXTRA_ORDERS_RATE, n_users), sessions)
    page_load = PAGE_LOAD_MEDIAN_MS * np.exp(PAGE_LOAD_SIGMA * rng.standard_normal(n_users))
    frame = units.assign(variant=variant, converted=converted, revenue=np.round(revenue, 2),
                         pre_revenue=np.round(pre_revenue, 2), sessions=sessions, orders=orders,
                         page_load_ms=np.round(page_load, 1))
    missing = rng.choice(n_users, N_MISSING_REVENUE, replace=False)
    frame.loc[missing, "revenue"] = np.nan
    # The same users reached both arms (a broken assignment cache): a second row in the other arm.
    twins = frame.iloc[np.sort(rng.choice(np.flatnonzero(~np.isin(np.arange(n_users), missing)),
                                          N_USERS_IN_BOTH, replace=False))].copy()
    twins["variant"] = np.where(twins["variant"] == "control", "treatment", "control")
    frame = pd.concat([frame, twins], ignore_index=True).sort_values(
        ["first_exposure", "user_id", "variant"], kind="stable", ignore_index=True)
    frame = frame[["user_id", "variant", "first_exposure", "platform", "country", "plan",
                   "converted", "revenue", "sessions", "orders", "page_load_ms", "pre_revenue"]]
    orders_per_converter = 1 + _expected_min_poisson(EXTRA_ORDERS_RATE, SESSIONS_RATE)
    base_rpu = CHECKOUT_BASE_RATE * CHECKOUT_MEAN_ORDER_VALUE
    treat_rate = CHECKOUT_BASE_RATE * (1 + CHECKOUT_LIFT)
    single = frame[~frame["user_id"].duplicated(keep=False)]
    truth = {
        "file": "experiments/checkout_redesign.parquet", "theme": "Billing & invoicing",
        "variants": ["control", "treatment"], "control": "control",
        "rows": len(frame), "distinct_users": int(frame["user_id"].nunique()),
        "units_per_variant": {k: int(v) for k, v in frame["variant"].value_counts().sort_index().items()},
        "users_in_both_variants": N_USERS_IN_BOTH, "rows_with_missing_revenue": N_MISSING_REVENUE,
        "srm_planted": False,
        "true": {
            "converted": {"control": CHECKOUT_BASE_RATE, "treatment": rounded(treat_rate),
                          "relative_lift": CHECKOUT_LIFT},
            "revenue": {"control": base_rpu, "treatment": rounded(base_rpu * (1 + CHECKOUT_LIFT)),
                        "relative_lift": CHECKOUT_LIFT,
                        "mean_per_converter": CHECKOUT_MEAN_ORDER_VALUE},
            "orders_per_session": {
                "control": rounded(CHECKOUT_BASE_RATE * orders_per_converter / (1 + SESSIONS_RATE)),
                "treatment": rounded(treat_rate * orders_per_converter / (1 + SESSIONS_RATE)),
                "relative_lift": CHECKOUT_LIFT},
            "page_load_ms": {"control": rounded(PAGE_LOAD_MEDIAN_MS * np.exp(PAGE_LOAD_SIGMA**2 / 2)),
                             "relative_lift": 0.0, "direction": "decrease is good"},
        },
        "sample_correlation_pre_revenue_revenue": rounded(
            single[["pre_revenue", "revenue"]].dropna().corr().iloc[0, 1], 4),
        "expected_decision": "ship: conversion up ~10%, guardrail flat",
    }
    return frame, truth


def _search(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    per_arm, base, lifts = 4_000, 0.30, {"control": 0.0, "variant_a": 0.01, "variant_b": 0.0}
    variant = np.repeat(list(lifts), per_arm)
    units = _units(rng, "s", variant.size, "2026-10-06", "2026-11-01")
    rate = base * (1 + np.array([lifts[v] for v in variant]))
    clicked = (rng.random(variant.size) < rate).astype(int)
    search_rate = rng.gamma(2.0, 1.25, variant.size)  # mean 2.5 searches per user-window
    searches = 1 + rng.poisson(search_rate)
    pre_searches = rng.poisson(2 * search_rate)
    result_clicks = clicked * (1 + rng.poisson(0.6, variant.size))
    frame = units.assign(variant=variant, clicked=clicked, searches=searches,
                         result_clicks=result_clicks, pre_searches=pre_searches)
    frame = frame.iloc[rng.permutation(len(frame))].sort_values(
        "first_exposure", kind="stable", ignore_index=True)
    frame = frame[["user_id", "variant", "first_exposure", "platform", "country", "plan",
                   "clicked", "searches", "result_clicks", "pre_searches"]]
    # users per arm to detect +1% relative at alpha 0.05 two-sided, power 0.8
    delta = base * 0.01
    p_bar = base * 1.005
    needed = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 * 2 * p_bar * (1 - p_bar) / delta**2
    truth = {
        "file": "experiments/search_ranking.csv", "theme": "Search",
        "variants": list(lifts), "control": "control", "rows": len(frame),
        "units_per_variant": {v: per_arm for v in lifts}, "srm_planted": False,
        "true": {
            "clicked": {v: rounded(base * (1 + lift)) for v, lift in lifts.items()},
            "clicked_relative_lift": dict(lifts),
            "clicks_per_search": {v: rounded(base * (1 + lift) * 1.6 / 3.5) for v, lift in lifts.items()},
        },
        "users_per_arm_needed_for_variant_a": int(np.ceil(needed)),
        "expected_decision": "keep running: variant_a's +1% is far below what 4,000 users per arm can detect",
    }
    return frame, truth


SEARCH_PRE_SEED = 20261207
SEARCH_PRE_START, SEARCH_PRE_DAYS, SEARCH_NEW_PER_DAY = "2026-09-08", 28, 460


def _search_pre_period() -> tuple[pd.DataFrame, dict]:
    """Daily rows per searcher before the search ranking test: users arrive at a Poisson rate, come
    back on a later day with their own probability, search ``1 + Poisson(λ)`` times when active and
    click each search's results with their own probability; the same user-level rates in both
    halves of the window are what the design's variance reduction measures. The rates are set so
    a user's window reads like the test's own data (``_search``): about 30% of users click a
    result and about 0.137 clicks per search, so the plan and the test agree on the baseline."""
    rng = np.random.default_rng(SEARCH_PRE_SEED)
    arrivals = rng.poisson(SEARCH_NEW_PER_DAY, SEARCH_PRE_DAYS)
    arrival = np.repeat(np.arange(SEARCH_PRE_DAYS), arrivals)
    users = arrival.size
    comeback = rng.beta(1.0, 9.0, users)  # mean 0.1: the chance of searching again on a later day
    intensity = rng.gamma(2.0, 0.4, users)
    click_rate = rng.beta(0.4, 2.5, users)  # mean 0.138 per search, most users rarely click
    day = np.arange(SEARCH_PRE_DAYS)
    active = (day == arrival[:, None]) | ((day > arrival[:, None]) & (rng.random((users, SEARCH_PRE_DAYS))
                                                                      < comeback[:, None]))
    user, day_index = np.nonzero(active)
    searches = 1 + rng.poisson(intensity[user])
    result_clicks = rng.binomial(searches, click_rate[user])
    ids = np.array([f"s{i:06d}" for i in rng.permutation(users) + 20_001])
    frame = pd.DataFrame({
        "user_id": ids[user],
        "date": (pd.Timestamp(SEARCH_PRE_START) + pd.to_timedelta(day_index, unit="D")).strftime("%Y-%m-%d"),
        "searches": searches, "result_clicks": result_clicks, "clicked": (result_clicks > 0).astype(int),
    }).sort_values(["date", "user_id"], ignore_index=True)
    truth = {
        "file": "experiments/search_ranking_pre.parquet", "rows": len(frame), "users": int(users),
        "window": [SEARCH_PRE_START, str((pd.Timestamp(SEARCH_PRE_START)
                                          + pd.Timedelta(days=SEARCH_PRE_DAYS - 1)).date())],
        "new_users_per_day": SEARCH_NEW_PER_DAY, "comeback_beta": [1.0, 9.0], "searches_gamma": [2.0, 0.4],
        "click_rate_beta": [0.4, 2.5],
        "note": "users differ in how often they come back and click, so a user's first-half activity "
                "predicts the second half: CUPED and regression adjustment remove a real share of the variance",
    }
    return frame, truth


def _onboarding(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    counts = {"control": 5_200, "treatment": 4_800}
    rates = {"control": 0.40, "treatment": 0.42}
    days_p = {"control": 0.30, "treatment": 0.32}
    variant = np.repeat(list(counts), list(counts.values()))
    units = _units(rng, "o", variant.size, "2026-10-01", "2026-10-22")
    activated = (rng.random(variant.size) < np.array([rates[v] for v in variant])).astype(int)
    days = rng.binomial(7, np.array([days_p[v] for v in variant]))
    frame = units.assign(variant=variant, activated=activated, days_active_first_week=days)
    frame = frame.iloc[rng.permutation(len(frame))].sort_values(
        "first_exposure", kind="stable", ignore_index=True)
    frame = frame[["user_id", "variant", "first_exposure", "platform", "country", "plan",
                   "activated", "days_active_first_week"]]
    srm = stats.chisquare(list(counts.values()))
    truth = {
        "file": "experiments/onboarding_checklist.csv", "theme": "Onboarding",
        "variants": list(counts), "control": "control", "rows": len(frame),
        "intended_split": {"control": 0.5, "treatment": 0.5},
        "units_per_variant": counts, "srm_planted": True,
        "srm_chi_square": rounded(srm.statistic), "srm_p_value": float(f"{srm.pvalue:.6g}"),
        "true": {"activated": rates,
                 "days_active_first_week": {v: rounded(7 * p) for v, p in days_p.items()}},
        "expected_decision": "investigate: sample ratio mismatch (52/48 vs intended 50/50)",
    }
    return frame, truth


def _fake_door() -> tuple[pd.DataFrame, dict]:
    frame = pd.DataFrame({"variant": ["control", "fake_door"],
                          "exposures": [3_000, 3_000], "clicks": [63, 126]})
    truth = {
        "file": "experiments/fake_door_ai_summary.csv", "theme": "Reporting & dashboards",
        "variants": ["control", "fake_door"], "control": "control",
        "true": {"click_through": {"control": 0.021, "fake_door": 0.042}},
        "target_click_through": 0.03,
        "expected_decision": "build: fake-door click-through 4.2% clears the 3% target",
    }
    return frame, truth


def _dashboard(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    means, shape, n = {"control": 12.0, "treatment": 12.0}, 1.5, {"control": 5_000, "treatment": 5_000}
    rows, sample_means = [], {}
    for arm, mean in means.items():
        # whole hundredths of a minute, summed as integers so the sums are exact
        hundredths = np.round(rng.gamma(shape, mean / shape, n[arm]) * 100).astype(np.int64)
        total, total_sq = int(hundredths.sum()), int((hundredths**2).sum())
        rows.append({"variant": arm, "n": n[arm], "sum": f"{total // 100}.{total % 100:02d}",
                     "sum_sq": f"{total_sq // 10_000}.{total_sq % 10_000:04d}"})
        sample_means[arm] = rounded(total / 100 / n[arm])
    truth = {
        "file": "experiments/dashboard_aggregates.csv", "theme": "Reporting & dashboards",
        "metric": "minutes_in_dashboard", "variants": list(means), "control": "control",
        "true": {"minutes_in_dashboard": dict(means) | {"relative_lift": 0.0,
                                                        "distribution": "gamma(shape=1.5)"}},
        "sample_means": sample_means,
        # sd = mean / sqrt(shape); two-sided 5% test at 80% power: (1.96 + 0.84) * sd * sqrt(2 / n) / mean
        "detectable_relative_lift": rounded((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / np.sqrt(shape)
                                            * np.sqrt(2 / n["control"])),
        "expected_decision": "don't ship: no detectable effect; the sample could have detected about 4.6%",
    }
    return pd.DataFrame(rows), truth


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Parquet without pandas metadata, so the bytes depend only on the data and pyarrow."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if "first_exposure" in frame:
        frame = frame.assign(first_exposure=pd.to_datetime(frame["first_exposure"]).astype("datetime64[s]"))
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd", compression_level=9)
    return path


REGISTRY_YAML = """\
# The sample experiments: where each file is, its theme and the metrics to read.
experiments:
  - name: checkout_redesign
    file: checkout_redesign.parquet
    theme: Billing & invoicing
    control: control
    window: [2026-10-01, 2026-10-28]
    primary: {name: converted, kind: proportion}
    secondary:
      - {name: revenue, kind: mean, covariate: pre_revenue}
      - {name: orders_per_session, kind: ratio, numerator: orders, denominator: sessions}
    guardrails:
      - {name: page_load_ms, kind: mean, direction: decrease_is_good}
  - name: search_ranking
    file: search_ranking.csv
    theme: Search
    control: control
    window: [2026-10-06, 2026-10-31]
    primary: {name: clicked, kind: proportion}
    secondary:
      - {name: clicks_per_search, kind: ratio, numerator: result_clicks, denominator: searches}
  - name: onboarding_checklist
    file: onboarding_checklist.csv
    theme: Onboarding
    control: control
    window: [2026-10-01, 2026-10-21]
    expected_split: {control: 0.5, treatment: 0.5}
    primary: {name: activated, kind: proportion}
    secondary:
      - {name: days_active_first_week, kind: mean}
  - name: fake_door_ai_summary
    file: fake_door_ai_summary.csv
    theme: Reporting & dashboards
    control: control
    kind: fake_door
    exposures: exposures
    clicks: clicks
    target_click_through: 0.03
  - name: dashboard_aggregates
    file: dashboard_aggregates.csv
    theme: Reporting & dashboards
    control: control
    kind: aggregates
    metric: minutes_in_dashboard
"""


def write_experiments(out_dir: Path) -> tuple[list[Path], dict]:
    """Write ``out_dir/experiments/*`` and return the files and their truth."""
    rng = np.random.default_rng(SEED)
    folder = out_dir / "experiments"
    checkout, checkout_truth = _checkout(rng)
    search, search_truth = _search(rng)
    onboarding, onboarding_truth = _onboarding(rng)
    fake_door, fake_door_truth = _fake_door()
    dashboard, dashboard_truth = _dashboard(rng)
    search_pre, search_pre_truth = _search_pre_period()
    files = [
        _write_parquet(checkout, folder / "checkout_redesign.parquet"),
        write_csv(search, folder / "search_ranking.csv"),
        _write_parquet(search_pre, folder / "search_ranking_pre.parquet"),
        write_csv(onboarding, folder / "onboarding_checklist.csv"),
        write_csv(fake_door, folder / "fake_door_ai_summary.csv"),
        write_csv(dashboard, folder / "dashboard_aggregates.csv"),
        write_text(REGISTRY_YAML, folder / "experiments.yaml"),
    ]
    truth = {"checkout_redesign": checkout_truth, "search_ranking": {**search_truth, "pre_period": search_pre_truth},
             "onboarding_checklist": onboarding_truth, "fake_door_ai_summary": fake_door_truth,
             "dashboard_aggregates": dashboard_truth}
    return files, truth
