"""The readiness verdict, in plain words, with its reasons.

Rules, in order (the first that applies sets the verdict), worded like the A/B decision
(:mod:`prodops_lib.experiments.decision`):

1. **fix first** when beta users raised a blocking issue: a feedback theme marked blocking, or
   raised by at least ``blocking_share`` of beta units; or when the metric got clearly worse
   (the whole interval on the bad side).
2. **extend the beta** when the impact cannot be trusted yet (parallel trends doubtful), when
   fewer than ``min_activation`` of beta units activated, or when the interval still includes
   no effect.
3. otherwise **go to general availability**: a clear improvement, enough adoption, nothing
   blocking.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from prodops_lib.io import SQL, Column, DropLog, Schema, load_table
from prodops_lib.labels import count_of

from .adoption import Adoption
from .impact import BetaImpact

__all__ = ["Readiness", "blocking_issues", "decide_readiness", "load_feedback_themes"]

Verdict = Literal["go to general availability", "fix first", "extend the beta"]


@dataclass(frozen=True)
class Readiness:
    """What to do with the beta, the one-line headline, and every reason behind it."""

    verdict: Verdict
    headline: str
    reasons: list[str]

    def to_dict(self) -> dict:
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"verdict": self.verdict, "reason": self.reasons})


def load_feedback_themes(source: str | Path | SQL | pd.DataFrame, *, log: DropLog | None = None) -> pd.DataFrame:
    """Beta users' feedback themes: theme, beta_units (units that raised it) and, optionally,
    blocking (true for an issue that must be fixed before general availability)."""
    schema = Schema(Column("theme", nullable=False), Column("beta_units", "int", nullable=False, minimum=0),
                    Column("blocking", "bool", required=False))
    frame = load_table(source, schema, log=log, label=None if not isinstance(source, pd.DataFrame) else "feedback themes")
    if "blocking" not in frame:
        frame["blocking"] = False
    return frame.assign(blocking=frame["blocking"].fillna(False).astype(bool))


def blocking_issues(themes: pd.DataFrame, beta_units: int, *, blocking_share: float = 0.10) -> pd.DataFrame:
    """The themes with the share of beta units that raised each; ``blocks`` marks those marked
    blocking or raised by at least ``blocking_share`` of beta units. Largest first."""
    share = themes["beta_units"] / beta_units
    return (themes.assign(share_of_beta_units=share, blocks=themes["blocking"] | (share >= blocking_share))
            .sort_values("beta_units", ascending=False, ignore_index=True))


def decide_readiness(impact: BetaImpact, adoption: Adoption, themes: pd.DataFrame | None = None, *,
                     min_activation: float = 0.30, blocking_share: float = 0.10) -> Readiness:
    """Apply the rules in the module docstring."""
    sign = 1.0 if impact.direction == "increase" else -1.0
    low, high = sorted((sign * impact.adjusted.ci_low, sign * impact.adjusted.ci_high))
    issues = (blocking_issues(themes, adoption.beta_units, blocking_share=blocking_share)
              if themes is not None and len(themes) else None)
    blocking = issues[issues["blocks"]] if issues is not None else pd.DataFrame()
    effect = f"{impact.label} {impact.effect_text()}"
    activation = (f"{adoption.activation_share:.0%} of beta units activated the feature "
                  f"({adoption.activated_units:,} of {adoption.beta_units:,})")
    reasons = [f"Impact on {effect}, against comparable units outside the beta, before and after entry.",
               impact.pre_trend_sentence, impact.naive_sentence, activation + "."]
    if issues is None:
        reasons.append("No feedback themes were given: blocking issues were not checked.")
    else:
        reasons += [f"Feedback: {row.theme!r} raised by {count_of(int(row.beta_units), 'beta unit')} "
                    f"({row.share_of_beta_units:.0%}){', blocking' if row.blocks else ''}." for row in issues.itertuples()]

    def verdict(kind: Verdict, headline: str) -> Readiness:
        return Readiness(kind, headline, reasons)

    if len(blocking):
        first = blocking.iloc[0]
        return verdict("fix first", f"Fix first: {first['share_of_beta_units']:.0%} of beta units raised "
                       f"{first['theme']!r}, which blocks general availability.")
    if high < 0:
        return verdict("fix first", f"Fix first: {impact.label} got worse in the beta: {impact.effect_text()}.")
    if impact.parallel_trends_doubtful:
        return verdict("extend the beta", "Extend the beta: the impact cannot be read yet, because beta units were "
                       "already drifting away from comparable units before entry.")
    if adoption.activation_share < min_activation:
        return verdict("extend the beta", f"Extend the beta: only {activation}, below the {min_activation:.0%} "
                       "needed for general availability.")
    if low <= 0:
        return verdict("extend the beta", f"Extend the beta: no clear effect on {effect} yet.")
    return verdict("go to general availability", f"Go to general availability: {effect}, {activation}, "
                   "and no blocking issue was raised.")
