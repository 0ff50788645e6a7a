"""The readiness verdict, in plain words, with its reasons.

Rules, in order (the first that applies sets the verdict), worded like the A/B decision
(:mod:`prodops_lib.experiments.decision`):

1. **fix first** when beta users raised a blocking issue (an issue, not praise, raised by at
   least ``blocking_share`` of beta units: :mod:`prodops_lib.beta.feedback`), or when the
   metric got clearly worse (the whole interval on the bad side).
2. **extend the beta** when the impact cannot be trusted yet (parallel trends doubtful), when
   fewer than ``min_activation`` of beta units activated, or when the interval still includes
   no effect.
3. otherwise **go to general availability**: a clear improvement, enough adoption, nothing
   blocking.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

from prodops_lib.labels import count_of

from .adoption import Adoption
from .feedback import BetaFeedback
from .impact import BetaImpact

__all__ = ["Readiness", "decide_readiness", "feedback_reasons"]

TOP_ISSUES = 3  # issues named among the reasons besides the blocking ones

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


def feedback_reasons(feedback: BetaFeedback | None) -> list[str]:
    """What the feedback adds to the reasons: every blocking issue and the largest others, or
    why blocking issues were not checked."""
    if feedback is None:
        return ["No feedback source was given: blocking issues were not checked."]
    if not feedback.grouped:
        return [f"Only {count_of(feedback.texts, 'feedback text')} from beta users after entry, fewer than the "
                f"{feedback.texts_needed} needed to group them into issues: blocking issues were not checked."]
    issues = feedback.issues
    problems = issues[~issues["praise"] & (issues["issue_id"] >= 0)]
    named = pd.concat([problems[problems["blocks"]], problems[~problems["blocks"]].head(TOP_ISSUES)])
    reasons = [f"Feedback: {row.issue!r} raised by {count_of(int(row.beta_units), 'beta unit')} "
               f"({row.share_of_beta_units:.0%}){', which blocks general availability' if row.blocks else ''}."
               for row in named.itertuples()]
    if not len(named):
        reasons.append("Feedback: beta users raised no problem, only praise.")
    if not feedback.scored:
        reasons.append("The feedback carries no score, so praise cannot be told from complaints: an issue raised by "
                       f"{feedback.blocking_share:.0%} of beta units blocks even if it is a compliment.")
    return reasons


def decide_readiness(impact: BetaImpact, adoption: Adoption, feedback: BetaFeedback | None = None, *,
                     min_activation: float = 0.30) -> Readiness:
    """Apply the rules in the module docstring."""
    sign = 1.0 if impact.direction == "increase" else -1.0
    low, high = sorted((sign * impact.adjusted.ci_low, sign * impact.adjusted.ci_high))
    blocking = feedback.blocking if feedback is not None else pd.DataFrame()
    effect = f"{impact.label} {impact.effect_text()}"
    activation = (f"{adoption.activation_share:.0%} of beta units activated the feature "
                  f"({adoption.activated_units:,} of {adoption.beta_units:,})")
    reasons = [f"Impact on {effect}, against comparable units outside the beta, before and after entry.",
               *impact.summary_sentences(), activation + ".", *feedback_reasons(feedback)]

    def verdict(kind: Verdict, headline: str) -> Readiness:
        return Readiness(kind, headline, reasons)

    if len(blocking):
        first = blocking.iloc[0]
        return verdict("fix first", f"Fix first: {first['share_of_beta_units']:.0%} of beta units raised "
                       f"{first['issue']!r}, which blocks general availability.")
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
    checked = feedback is not None and feedback.grouped
    return verdict("go to general availability", f"Go to general availability: {effect}, {activation}, "
                   + ("and no blocking issue was raised." if checked else
                      "but beta users' feedback was not grouped, so blocking issues were not checked."))
