"""Experiments by product theme: what was decided, what won, what is still running."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from prodops_lib.experiments.decision import DECIDED, WINS

BETA = "beta release"  # the kind a beta release's summary.json names


@dataclass(frozen=True)
class ExperimentsByTheme:
    """``experiments``: one row per experiment (theme, decision, primary lift and interval);
    ``by_theme``: per theme the number of experiments, decided ones, wins (an A/B test to ship, a
    fake door above its target: build) and the win rate among decided ones; ``running``: experiments that need more data, with days to go;
    ``unthemed``: experiments whose theme is not in the taxonomy."""

    experiments: pd.DataFrame
    by_theme: pd.DataFrame
    running: pd.DataFrame
    unthemed: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.experiments.copy()

    @property
    def ab_tests(self) -> pd.DataFrame:
        """A/B tests: judged by the primary metric's lift against control."""
        return self.experiments[~self.experiments["kind"].isin(["fake door", BETA])].reset_index(drop=True)

    @property
    def betas(self) -> pd.DataFrame:
        """Beta releases: not randomised, judged on readiness against comparable non-beta units."""
        return self.experiments[self.experiments["kind"] == BETA].reset_index(drop=True)

    @property
    def fake_doors(self) -> pd.DataFrame:
        """Fake doors: judged by click-through against a target, so never set beside A/B lifts."""
        return self.experiments[self.experiments["kind"] == "fake door"].reset_index(drop=True)


def experiments_by_theme(experiments: pd.DataFrame, product_themes: list[str]) -> ExperimentsByTheme:
    """Group the period's experiment summaries by theme (rows as :mod:`.inputs` reads them, each
    with its ``kind``: A/B test, fake door or beta release)."""
    table = experiments.copy()
    known = table["theme"].isin(product_themes)
    unthemed = table[~known].reset_index(drop=True)
    table.loc[~known, "theme"] = "(no theme)"
    rows = []
    for theme, everything in table.groupby("theme", sort=True):
        group = everything[everything["kind"] != BETA]  # a beta is no experiment's win or loss
        decided = group["decision"].isin(DECIDED)
        wins = int(group["decision"].isin(WINS).sum())
        rows.append({
            "theme": theme, "experiments": len(group), "decided": int(decided.sum()), "wins": wins,
            "win_rate": wins / int(decided.sum()) if decided.any() else float("nan"),
            "keep_running": int((group["decision"] == "keep running").sum()),
            "investigate": int((group["decision"] == "investigate").sum()),
            "betas": int((everything["kind"] == BETA).sum()),
        })
    by_theme = pd.DataFrame(rows, columns=["theme", "experiments", "decided", "wins", "win_rate",
                                           "keep_running", "investigate", "betas"])
    running = table[table["decision"] == "keep running"][["name", "theme", "primary_metric", "days_to_go"]]
    ordered = table.sort_values(["theme", "name"], ignore_index=True)
    return ExperimentsByTheme(ordered, by_theme, running.reset_index(drop=True), unthemed)
