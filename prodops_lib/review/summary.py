"""The review's executive summary: at most five sentences from the numbers, largest risk first."""

from __future__ import annotations

import pandas as pd

from prodops_lib.labels import count_of, readable_name
from prodops_lib.review.changes import Changes
from prodops_lib.review.demand_supply import DemandSupply
from prodops_lib.review.experiments import ExperimentsByTheme

# The bundle's labels for a theme's demand and effort (the denominator named, as on every card).
_BASIS_WORDS = {"items": "of feedback on product themes", "customers": "of customers asking about product themes",
                "arr": "of the revenue asking about product themes"}
EFFORT_WORDS = "of product-theme effort"


def executive_summary(
    demand_supply: DemandSupply,
    experiments: ExperimentsByTheme,
    changes: Changes,
    problems: list[str],
    *,
    unclassified_share: float | None = None,
    effort_note: str = "",
) -> list[tuple[str, str]]:
    """Up to five ``(tone, sentence)`` pairs ordered by risk: untrustworthy experiments and
    missing inputs (or too little effort to judge, ``effort_note``), then the most under-served
    theme, then the most over-served, then emerging demand and unclassified effort, then
    decisions."""
    risks: list[tuple[int, str, str]] = [(1, "warning", effort_note)] if effort_note else []
    investigate = experiments.experiments[experiments.experiments["decision"] == "investigate"]
    if len(investigate):
        names = ", ".join(map(readable_name, investigate["name"]))
        verb = "cannot be trusted yet and needs" if len(investigate) == 1 else "cannot be trusted yet and need"
        risks.append((0, "bad", f"{count_of(len(investigate), 'experiment')} {verb} investigation: {names}."))
    if problems:
        verb = "is" if len(problems) == 1 else "are"
        risks.append((1, "bad", f"{count_of(len(problems), 'input')} of this review {verb} missing or failed, so parts of it "
                                "are blank (see Data quality)."))
    words = _BASIS_WORDS[demand_supply.basis]
    under = demand_supply.most("under-served")
    if under is not None:
        risks.append((2, "bad", f"{under['theme']} is the most under-served theme: {_pct(under[f'demand_{demand_supply.basis}_share'])} "
                                f"{words} but {_pct(under['effort_share'])} {EFFORT_WORDS} ({under['gap_pp']:+.0f} pp)."))
    over = demand_supply.most("over-served")
    if over is not None:
        risks.append((3, "warning", f"{over['theme']} gets the most effort relative to demand: {_pct(over['effort_share'])} {EFFORT_WORDS} "
                                    f"against {_pct(over[f'demand_{demand_supply.basis}_share'])} {words} ({over['gap_pp']:+.0f} pp)."))
    if len(changes.emerging):
        themes = ", ".join(_theme_names(changes.emerging))
        risks.append((4, "warning", f"Emerging in feedback this month: {themes}."))
    if unclassified_share is not None and unclassified_share >= 0.10:
        risks.append((5, "warning", f"{_pct(unclassified_share)} of engineering effort could not be classified into a theme."))
    decided = changes.decisions[changes.decisions["change"] == "decided"] if len(changes.decisions) else changes.decisions
    running = experiments.running
    if len(decided) or len(running):
        shipped = int((decided["current"] == "ship").sum()) if len(decided) else 0
        built = int((decided["current"] == "build").sum()) if len(decided) else 0
        wins = [f"{shipped} to ship"] + ([f"{count_of(built, 'fake door')} showing enough demand to build"] if built else [])
        sentence = f"{count_of(len(decided), 'experiment')} reached a decision ({', '.join(wins)})"
        sentence += f"; {len(running)} still {'needs' if len(running) == 1 else 'need'} more data." if len(running) else "."
        risks.append((6, "neutral", sentence))
    if not risks:
        risks.append((9, "good", "Demand and engineering effort are balanced across product themes and no experiment needs attention."))
    return [(tone, text) for _, tone, text in sorted(risks, key=lambda r: r[0])[:5]]


def _pct(share: float) -> str:
    return "n/a" if pd.isna(share) else f"{100 * share:.0f}%"


def _theme_names(rows: pd.DataFrame) -> list[str]:
    """Product themes first ("Integrations"), each with its most specific emerging feedback
    theme as an example; feedback themes outside the taxonomy by their own label."""
    level = rows["level"] if "level" in rows.columns else pd.Series("theme", index=rows.index)
    products = rows[level == "product theme"]
    themes = rows[level != "product theme"]
    names = []
    for product in products["product_theme"].astype(str):
        examples = themes[themes["product_theme"] == product]["label"].astype(str).tolist()
        names.append(f"{product} (led by '{examples[0]}')" if examples else product)
    covered = set(products["product_theme"].astype(str))
    for _, row in themes.iterrows():
        if str(row["product_theme"]) not in covered:
            theme = row["product_theme"]
            names.append(f"'{row['label']}'" + (f" ({theme})" if isinstance(theme, str) and theme != "unmapped" else ""))
    return names
