"""Deterministic sample data with known truth for every prodops analysis.

``write_sample_data(out_dir)`` writes ``experiments/``, ``beta/``, ``allocation/``, ``feedback/``,
``taxonomy.yaml``, ``truth/*.csv`` and ``truth.json``.  Every random draw comes from
``numpy.random.default_rng`` with a fixed seed per analysis, floats are written with a
fixed format and nothing depends on the clock, so two runs give byte-identical files
(the committed ``data/sample/`` is checked against a fresh run in the tests).

What is planted, so the reports can be checked against it:
* beta: an opt-in beta with staggered entry, beta units more engaged before entry, and a true
  effect (+0.6 sessions per week once ramped up) far smaller than the naive difference;
* experiments: +10% conversion and revenue per user (checkout), an underpowered +1%
  (search), a 52/48 sample-ratio mismatch (onboarding), a fake door above its target, and a year of past experiments with planted true lifts;
* allocation and feedback share one taxonomy; "Reporting & dashboards" has ~23% of the
  feedback demand but ~5% of engineering effort (under-served) and "Mobile app" ~4% of
  demand but ~23% of effort (over-served);
* feedback: Integrations (a Slack outage) triples in 2026-10, Onboarding halves;
* hostile HTML/JavaScript and personal data in ~1% of every free-text file.
"""

from __future__ import annotations

from pathlib import Path

from ._common import (
    EMERGING,
    FADING,
    INJECTED_GLOBAL,
    OVER_SERVED,
    PRODUCT_THEMES,
    REPORT_PERIOD,
    SAMPLE_MONTHS,
    THEMES,
    UNDER_SERVED,
    write_json,
    write_text,
)
from .allocation import write_allocation
from .beta import write_beta
from .experiments import write_experiments
from .feedback import write_feedback
from .history import write_history

__all__ = ["write_sample_data"]


def _taxonomy_yaml() -> str:
    lines = ["# Product themes shared by allocation, feedback and experiments.",
             "# keywords seed the feedback theme mapping; category is roadmap, ktlo or tech_debt.",
             "themes:"]
    for theme in THEMES:
        if theme.category == "roadmap":
            keywords = ", ".join(f'"{k}"' for k in theme.keywords)
            lines.append(f'  - {{name: "{theme.name}", category: {theme.category}, keywords: [{keywords}]}}')
    lines.append("# Allocation-only themes: engineering work that is not product demand.")
    lines.append("allocation_only_themes:")
    for theme in THEMES:
        if theme.category != "roadmap":
            keywords = ", ".join(f'"{k}"' for k in theme.keywords)
            lines.append(f'  - {{name: "{theme.name}", category: {theme.category}, keywords: [{keywords}]}}')
    return "\n".join(lines) + "\n"


def _review_truth(allocation: dict, feedback: dict) -> dict:
    """Demand (feedback) against supply (effort) per product theme, for the report period."""
    demand = feedback["demand"]["share_of_taxonomy_themes_by_month"]
    demand_all = feedback["demand"]["share_by_month"]
    effort = allocation["effort"]["share_by_month"]
    effort_product = allocation["effort"]["share_of_product_effort_by_month"]
    return {
        "period": REPORT_PERIOD,
        "under_served": UNDER_SERVED, "over_served": OVER_SERVED,
        "emerging_demand": EMERGING, "fading_demand": FADING,
        "by_month": {month: {theme: {
            "demand_share_of_mapped_feedback": demand[month][theme],
            "demand_share_of_all_feedback": demand_all[month][theme],
            "effort_share_of_all_effort": effort[month][theme],
            "effort_share_of_product_effort": effort_product[month][theme],
        } for theme in PRODUCT_THEMES} for month in SAMPLE_MONTHS},
    }


def write_sample_data(out_dir: Path) -> list[Path]:
    """Write the sample inputs and their truth under ``out_dir``; return the files, sorted.

    Running it twice gives byte-identical files (fixed seeds, fixed float formats,
    ``\\n`` line ends, no timestamps of "now").
    """
    out_dir = Path(out_dir)
    experiment_files, experiments = write_experiments(out_dir)
    history_files, history = write_history(out_dir)
    beta_files, beta = write_beta(out_dir)
    allocation_files, allocation = write_allocation(out_dir)
    feedback_files, feedback = write_feedback(out_dir)
    hostile = allocation.pop("hostile_text") | feedback.pop("hostile_text") | beta["feedback"].pop("hostile_text")
    truth = {
        "description": "Planted truth of data/sample, written by prodops_lib.samples.write_sample_data.",
        "months": list(SAMPLE_MONTHS), "report_period": REPORT_PERIOD,
        "taxonomy": [{"name": t.name, "category": t.category, "keywords": list(t.keywords),
                      "jira_label": t.label, "jira_component": t.component} for t in THEMES],
        "review": _review_truth(allocation, feedback),
        "experiments": experiments, "experiment_history": history, "beta": beta, "allocation": allocation, "feedback": feedback,
        "hostile_text": {"injected_global": INJECTED_GLOBAL, "files": hostile},
    }
    files = [*experiment_files, *history_files, *beta_files, *allocation_files, *feedback_files,
             write_text(_taxonomy_yaml(), out_dir / "taxonomy.yaml"),
             write_json(truth, out_dir / "truth.json")]
    return sorted(files)
