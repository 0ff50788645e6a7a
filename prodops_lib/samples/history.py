"""A year of past experiments with planted true effects: the history an experiment program
starts from (``experiments/history.csv``, one row per experiment, in the shape a team would
import its past results: relative effect and standard error of the primary metric).

Each experiment's true relative lift is drawn from its metric's planted distribution of true
effects, ``θ ~ Normal(mean, sd)`` (:data:`METRICS`); its estimate is ``θ + Normal(0, s)`` with
``s`` the relative standard error its sample size gives (two arms of ``units`` each); it
shipped when the estimate was more than 1.96 standard errors above 0, as a team deciding on
significance would. So the shipped estimates overstate their true lifts (the winner's curse),
and the truth says by how much. A separate seed keeps the other sample files unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._common import PRODUCT_THEMES, write_csv
from ._organisation import TEAMS

HISTORY_SEED = 20251001
HISTORY_MONTHS = tuple(str(month) for month in pd.period_range("2025-10", "2026-09", freq="M"))
PER_MONTH = 4
# metric: planted mean and sd of true relative lifts, the metric's baseline and how a unit varies
METRICS = {
    "converted": {"mean": 0.004, "sd": 0.015, "baseline_rate": 0.10},
    "revenue": {"mean": 0.006, "sd": 0.025, "coefficient_of_variation": 3.0},
    "activated": {"mean": 0.002, "sd": 0.012, "baseline_rate": 0.40},
}
METRIC_CYCLE = ("converted", "revenue", "converted", "activated")  # per month, in order
# what a team would have called its tests, by product theme (a seventh test of a theme is a "v2")
IDEAS = {
    "Billing & invoicing": ("invoice_pdf_redesign", "payment_retry_email", "annual_plan_discount",
                            "card_update_prompt", "pricing_calculator", "plan_comparison_table"),
    "Integrations": ("slack_integration_prompt", "zapier_templates", "integrations_gallery", "api_key_onboarding",
                     "csv_import_preview", "webhook_setup_guide"),
    "Mobile app": ("mobile_push_reminders", "mobile_quick_actions", "mobile_offline_mode",
                   "mobile_onboarding_carousel", "mobile_home_widget", "mobile_dark_mode"),
    "Onboarding": ("onboarding_tooltips", "onboarding_video", "guided_first_report", "team_invite_flow",
                   "signup_social_login", "empty_state_copy"),
    "Performance & reliability": ("faster_first_load", "lazy_chart_loading", "search_index_cache",
                                  "image_compression", "retry_on_timeout", "prefetch_dashboards"),
    "Permissions & admin": ("sso_setup_wizard", "permission_presets", "admin_audit_log", "role_templates",
                            "bulk_user_import", "seat_management_page"),
    "Reporting & dashboards": ("dashboard_templates", "report_scheduling", "chart_tooltips",
                               "dashboard_sharing_links", "report_comments", "alert_thresholds"),
    "Search": ("search_autocomplete", "search_typo_tolerance", "search_filters_sidebar", "recent_searches",
               "saved_filters", "search_result_previews"),
}


def _relative_se(metric: str, units: int) -> float:
    """Standard error of a relative lift between two arms of ``units`` each (delta method)."""
    spec = METRICS[metric]
    if "baseline_rate" in spec:
        rate = spec["baseline_rate"]
        return float(np.sqrt(2 * (1 - rate) / (units * rate)))
    return float(spec["coefficient_of_variation"] * np.sqrt(2 / units))


def _idea(theme: str, used: dict[str, int]) -> str:
    ideas = IDEAS[theme]
    count = used[theme] = used.get(theme, 0) + 1
    name = ideas[(count - 1) % len(ideas)]
    return name if count <= len(ideas) else f"{name}_v{(count - 1) // len(ideas) + 1}"


def history(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """The past experiments and their truth (planted distributions and true lifts)."""
    rows, true_effects = [], {}
    themes = list(PRODUCT_THEMES)
    used: dict[str, int] = {}
    teams = [team for team, _, _ in TEAMS]
    for month in HISTORY_MONTHS:
        for index in range(PER_MONTH):
            metric = METRIC_CYCLE[index]
            start = pd.Timestamp(f"{month}-01") - pd.Timedelta(days=int(rng.integers(14, 35)))
            end = pd.Timestamp(f"{month}-01") + pd.Timedelta(days=int(rng.integers(0, 27)))
            units = int(rng.integers(8_000, 200_000))
            truth = float(rng.normal(METRICS[metric]["mean"], METRICS[metric]["sd"]))
            se = _relative_se(metric, units)
            estimate = truth + float(rng.normal(0.0, se))
            theme = themes[int(rng.integers(len(themes)))]
            name = _idea(theme, used)
            rows.append({
                "experiment": name, "period": month, "start_date": start.date().isoformat(),
                "end_date": end.date().isoformat(), "theme": theme,
                "team": teams[int(rng.integers(len(teams)))], "metric": metric, "variant": "treatment",
                "scale": "relative", "effect": round(estimate, 6), "standard_error": round(se, 6),
                "units_control": units, "units_variant": units,
                "decision": "ship" if estimate > 1.96 * se else "don't ship",
            })
            true_effects[name] = round(truth, 6)
    frame = pd.DataFrame(rows)
    truth = {"planted": {metric: {"mean": spec["mean"], "sd": spec["sd"]} for metric, spec in METRICS.items()},
             "true_effects": true_effects,
             "shipped": int((frame["decision"] == "ship").sum()), "experiments": len(frame)}
    return frame, truth


def write_history(out_dir: Path) -> tuple[list[Path], dict]:
    """Write ``out_dir/experiments/history.csv`` and return it with its truth."""
    frame, truth = history(np.random.default_rng(HISTORY_SEED))
    return [write_csv(frame, Path(out_dir) / "experiments" / "history.csv")], truth
