"""Synthetic experiments with a known truth, shared by the experiment tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodops_lib.experiments import ExperimentSpec, MetricSpec

TRUTH = {
    "conversion": {"control": 0.10, "B": 0.12, "C": 0.10},
    "revenue_mean": {"control": 50.0, "B": 50.0, "C": 51.0},
    "revenue_sd": 10.0,
    "revenue_rho": 0.7,
    "order_rate": {"control": 0.05, "B": 0.05, "C": 0.05},
}


def make_units(n: int = 30_000, seed: int = 7, shares: dict[str, float] | None = None, days: int = 14) -> pd.DataFrame:
    """Unit-level data: conversion (B +2 points), revenue (C +1.0, covariate with ρ = 0.7),
    orders per session (no effect), a timestamp over ``days`` days and a country segment."""
    rng = np.random.default_rng(seed)
    shares = shares or {"control": 1 / 3, "B": 1 / 3, "C": 1 / 3}
    variant = rng.choice(list(shares), size=n, p=list(shares.values()))
    pick = lambda table: np.vectorize(table.get)(variant)  # noqa: E731
    z_pre, noise = rng.normal(size=n), rng.normal(size=n)
    rho, sd = TRUTH["revenue_rho"], TRUTH["revenue_sd"]
    sessions = rng.poisson(3.0, n)
    return pd.DataFrame({
        "user_id": rng.permutation(n) + 1000,
        "variant": variant,
        "converted": (rng.random(n) < pick(TRUTH["conversion"])).astype(int),
        "revenue": pick(TRUTH["revenue_mean"]) + sd * (rho * z_pre + np.sqrt(1 - rho**2) * noise),
        "pre_revenue": 40.0 + sd * z_pre,
        "orders": rng.binomial(sessions, pick(TRUTH["order_rate"])),
        "sessions": sessions,
        "exposed_at": pd.Timestamp("2026-09-01") + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s"),
        "country": rng.choice(["US", "DE", "FR", "BR", "JP"], size=n, p=[0.4, 0.25, 0.15, 0.12, 0.08]),
    })


def make_spec(**overrides) -> ExperimentSpec:
    metrics = [
        MetricSpec("converted", kind="proportion", role="primary"),
        MetricSpec("revenue", covariate="pre_revenue"),
        MetricSpec("orders_per_session", kind="ratio", numerator="orders", denominator="sessions",
                   role="guardrail", non_inferiority_margin=0.10),
    ]
    settings = {"name": "checkout", "unit": "user_id", "metrics": metrics}
    settings.update(overrides)
    return ExperimentSpec(**settings)


@pytest.fixture(scope="session")
def units() -> pd.DataFrame:
    return make_units()


@pytest.fixture(scope="session")
def spec() -> ExperimentSpec:
    return make_spec()
