"""The engineering organisation of the sample: teams, people, targets and theme rules.

Kept apart from ``allocation.py`` (which generates the work and its effort) because these
are the slowly changing inputs an allocation report is configured with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _jira_text as text
from ._common import SAMPLE_MONTHS, THEMES, UNCLASSIFIED

TEAMS = (("Growth", 9, 11_500), ("Payments", 8, 12_000), ("Mobile", 9, 12_500),
         ("Platform", 9, 13_000), ("Insights", 5, 11_000))
TEAM_MIX = {
    "Onboarding": {"Growth": 1.0}, "Billing & invoicing": {"Payments": 1.0},
    "Reporting & dashboards": {"Insights": 1.0}, "Integrations": {"Platform": 0.6, "Insights": 0.4},
    "Performance & reliability": {"Platform": 1.0}, "Mobile app": {"Mobile": 0.9, "Platform": 0.1},
    "Search": {"Growth": 0.6, "Insights": 0.4}, "Permissions & admin": {"Payments": 0.5, "Platform": 0.5},
}
EXTRA_COMPONENTS = {"Mobile app": ("Android",)}
MOVES = (("Growth", "Mobile", "2026-08-01"), ("Platform", "Insights", "2026-07-01"))

KTLO_SUMMARY_PATTERN = r"(?i)\b(on-call|incident|postmortem)\b"
TECH_DEBT_SUMMARY_PATTERN = r"(?i)\b(upgrade|refactor|deprecated)\b"


def people_table(rng: np.random.Generator) -> pd.DataFrame:
    """people.csv: one row per person and team spell; two people move team mid-year."""
    rows, order = [], rng.permutation(len(text.FIRST_NAMES))
    position = 0
    for team, size, cost in TEAMS:
        for _ in range(size):
            name = f"{text.FIRST_NAMES[order[position]]} {text.LAST_NAMES[order[-position - 1]]}"
            fte = 0.5 if position == 17 else (0.8 if position % 13 == 5 else 1.0)
            monthly = round(fte * cost * rng.uniform(0.85, 1.2), -2)
            rows.append({"person": name, "team": team, "fte": fte, "monthly_cost": monthly,
                         "effective_from": "2026-01-01"})
            position += 1
    people = pd.DataFrame(rows)
    for old, new, date in MOVES:
        mover = people[people["team"] == old].iloc[0]
        people.loc[len(people)] = {"person": mover["person"], "team": new, "fte": mover["fte"],
                                   "monthly_cost": round(mover["monthly_cost"] * 1.05, -2),
                                   "effective_from": date}
    return people


def monthly_rosters(people: pd.DataFrame) -> dict[str, dict[str, list[str]]]:
    """Month -> team -> people in that team on the month's first day."""
    rosters = {}
    for month in SAMPLE_MONTHS:
        current = (people[people["effective_from"] <= f"{month}-01"]
                   .sort_values("effective_from", kind="stable").groupby("person").tail(1))
        rosters[month] = {team: sorted(current.loc[current["team"] == team, "person"])
                          for team, _, _ in TEAMS}
    return rosters


def team_mix(weights: dict[str, float]) -> dict[str, float]:
    """Relative weight of each team in the work of a theme (or pair of themes)."""
    mixes = [TEAM_MIX[theme] for theme in weights if theme in TEAM_MIX]
    if not mixes:  # KTLO, tech debt and unclassified work is spread over every team
        return {team: float(size) for team, size, _ in TEAMS}
    combined: dict[str, float] = {}
    for mix in mixes:
        for team, share in mix.items():
            combined[team] = combined.get(team, 0.0) + share
    return combined


def rules_yaml(epic_rule_key: str) -> str:
    """theme_rules.yaml: ordered rules, written as text so the comments stay with them."""
    def flow(values: tuple[str, ...] | list[str]) -> str:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    lines = [
        "# Ordered rules that assign a Jira work item to a theme (prodops allocation).",
        "# - Rules are tried top to bottom on the item's own fields; the first match decides.",
        "# - If the item's labels match label rules of two or more themes, its effort is split",
        "#   equally between them (an item labelled billing + integrations counts half to each).",
        "# - `epics` matches the epic's own key and every item whose Epic Link is that key.",
        "# - An item that no label, component or epics rule matches inherits the theme of its",
        "#   Parent (sub-tasks) or its Epic Link (stories, tasks); the project, summary and",
        "#   issue-type rules apply only to items that inherit nothing.",
        "# - Items nothing matches are the `unclassified` theme.",
        f'unclassified: "{UNCLASSIFIED}"',
        'inherit_from: [parent, epic]',
        "split_multiple_label_matches: true",
        "rules:",
    ]
    lines += [f'  - {{theme: "{t.name}", labels: {flow([t.label])}}}' for t in THEMES]
    lines += [f'  - {{theme: "{t.name}", components: {flow((t.component, *EXTRA_COMPONENTS.get(t.name, ())))}}}'
              for t in THEMES]
    lines += [
        f'  - {{theme: "Performance & reliability", epics: {flow([epic_rule_key])}}}',
        '  - {theme: "Mobile app", projects: ["MOB"]}',
        f"  - {{theme: \"Maintenance (KTLO)\", summary: '{KTLO_SUMMARY_PATTERN}'}}",
        f"  - {{theme: \"Tech debt\", summary: '{TECH_DEBT_SUMMARY_PATTERN}'}}",
        '  - {theme: "Maintenance (KTLO)", issue_types: ["Bug"]}',
        "# Themes whose effort may be capitalised as software development.",
        f"capitalizable: {flow([t.name for t in THEMES if t.category == 'roadmap'])}",
        "categories:",
    ]
    lines += [f'  "{t.name}": {t.category}' for t in THEMES]
    return "\n".join(lines) + "\n"


def targets_table() -> pd.DataFrame:
    """targets.csv: org-wide shares (team empty, summing to 1) plus two teams' own targets."""
    org = {"Onboarding": 0.10, "Billing & invoicing": 0.10, "Reporting & dashboards": 0.15,
           "Integrations": 0.10, "Performance & reliability": 0.10, "Mobile app": 0.10,
           "Search": 0.08, "Permissions & admin": 0.07, "Maintenance (KTLO)": 0.12, "Tech debt": 0.08}
    team = {("Mobile app", "Mobile"): 0.70, ("Maintenance (KTLO)", "Mobile"): 0.15,
            ("Tech debt", "Mobile"): 0.15, ("Reporting & dashboards", "Insights"): 0.60,
            ("Search", "Insights"): 0.20, ("Integrations", "Insights"): 0.20}
    rows = [{"theme": theme, "team": "", "target_share": share} for theme, share in org.items()]
    rows += [{"theme": theme, "team": name, "target_share": share} for (theme, name), share in team.items()]
    return pd.DataFrame(rows)
