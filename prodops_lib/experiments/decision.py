"""The decision, in plain words, with its reasons.

Rules, in order (the first that applies sets the verdict):

1. **investigate** when the data cannot be trusted: sample ratio mismatch, or more units
   than ``max_crossover_share`` seen in several variants. The headline says so first.
2. **investigate** when a guardrail is significantly worse in any variant.
3. **ship** the variant with the largest significant improvement of the primary metric
   (adjusted p-value), when every guardrail is non-inferior (or shows no harm); if a guardrail
   is still inconclusive, **keep running**.
4. **don't ship** when every variant made the primary metric significantly worse.
5. **keep running** when nothing is significant and the sample is below what the planned
   ``mde`` needs, with the days still needed at the current traffic.
6. otherwise **don't ship**: no detectable effect, stating the smallest effect the sample
   could have detected, so a flat result is not mistaken for proof of no effect.

A one-sided primary test looks only in the metric's good direction (the spec refuses the other
side), so it can declare a win and never a significant loss: rule 4 cannot fire, and a drop
reads as "no detectable effect". The reasons say so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

from prodops_lib.labels import count_of, p_equals

from .power import SamplePower
from .segments import EXPLORATORY_WARNING
from .spec import ExperimentSpec
from .srm import SrmResult

__all__ = ["DECIDED", "NOTICEABLE_REDUCTION", "WINS", "Decision", "decide", "describe_effect", "interval_text"]

# The verdicts that end an experiment, A/B tests' and fake doors' (build / don't build), and the
# ones that count as a win: what the review's and the program's win rates are read from.
DECIDED = ("ship", "don't ship", "build", "don't build")
WINS = ("ship", "build")

Verdict = Literal["ship", "don't ship", "keep running", "investigate"]


@dataclass(frozen=True)
class Decision:
    """What to do, the one-line headline, and every reason behind it."""

    verdict: Verdict
    headline: str
    reasons: list[str]
    variant: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# the least share of the variance a covariate must remove to be said to reduce the noise (it reads 1%)
NOTICEABLE_REDUCTION = 0.005


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def interval_text(low: float, high: float, level: float, number: str = "+.1%") -> str:
    """``95% CI +2.0% to +6.3%``; a one-sided interval, open on one side, reads ``95% CI +2.0% or
    more`` or ``95% CI up to +6.3%``."""
    if math.isinf(high) and not math.isinf(low):
        return f"{level:.0%} CI {low:{number}} or more"
    if math.isinf(low) and not math.isinf(high):
        return f"{level:.0%} CI up to {high:{number}}"
    return f"{level:.0%} CI {low:{number}} to {high:{number}}"


def describe_effect(row: Mapping, level: float) -> str:
    """``+4.1% (95% CI +2.0% to +6.3%)``, or the absolute effect when the lift is n/a."""
    if _present(row["rel_effect"]):
        return f"{row['rel_effect']:+.1%} ({interval_text(row['rel_ci_low'], row['rel_ci_high'], level)})"
    return (f"{row['abs_effect']:+.4g} ({interval_text(row['abs_ci_low'], row['abs_ci_high'], level, '+.4g')}; "
            f"relative lift n/a: {row['rel_na_reason']})")


def _goodness(row: Mapping) -> float:
    """The effect signed so that positive is good."""
    sign = 1.0 if row["direction"] == "increase" else -1.0
    return sign * float(row["rel_effect"] if _present(row["rel_effect"]) else row["abs_effect"])


_GUARDRAIL_WORDS = {"non-inferior": "holds: no loss beyond the margin", "breached": "got worse",
                    "inconclusive": "not yet shown to stay within the margin", "no detectable harm": "no detectable harm"}


def _weighed(row: Mapping, spec: ExperimentSpec) -> str:
    """Why a chance to beat control may disagree with the clear/not clear beside it: a prior (learned
    from past experiments, or set) pulls the lift towards it; said when it moves the lift by 0.5
    points or more."""
    if row.get("posterior_scale") != "relative" or not _present(row.get("posterior_mean")) \
            or abs(row["posterior_mean"] - row["rel_effect"]) < 0.005:
        return ""
    source = "past experiments on this metric pull" if spec.prior == "learned" else "the prior set in the parameters pulls"
    return f", once {source} the {row['rel_effect']:+.1%} towards about {row['posterior_mean']:+.1%}"


def _effect_reasons(records: list[dict], spec: ExperimentSpec) -> list[str]:
    level = 1 - spec.alpha
    reasons = []
    for row in (row for row in records if row["role"] != "guardrail"):
        # the correction's name and level are in the report's Method section, not in a reason
        corrected = "" if row["adjustment"] == "none" else ", corrected for testing several metrics and variants"
        clear = "a clear difference" if row["significant"] else "no clear difference"
        reasons.append(
            f"{row['role'].capitalize()} metric {spec.metric_label(row['metric'])}: {row['variant']} against {row['control']} "
            f"{describe_effect(row, level)}, {clear} ({p_equals(row['p_value_adjusted'])}{corrected}); "
            f"{row['chance_to_beat_control']:.0%} chance to beat control{_weighed(row, spec)}."
        )
    for row in (row for row in records if row["role"] == "guardrail"):
        margin = f" (margin {row['non_inferiority_margin']:.1%})" if _present(row["non_inferiority_margin"]) else ""
        reasons.append(f"Guardrail {spec.metric_label(row['metric'])}{margin}: {row['variant']} {describe_effect(row, level)} "
                       f"— {_GUARDRAIL_WORDS.get(row['guardrail_status'], row['guardrail_status'])}.")
    return reasons


def decide(
    results: pd.DataFrame,
    spec: ExperimentSpec,
    srm: SrmResult,
    power: SamplePower | None = None,
    crossover_alarm: str | None = None,
    has_segments: bool = False,
) -> Decision:
    """Apply the rules in the module docstring to the results table."""
    level = 1 - spec.alpha
    primary = spec.primary_metric
    # rows as dicts; through one object array, several times faster than DataFrame.to_dict
    records = [dict(zip(results.columns, row, strict=True)) for row in results.to_numpy(dtype=object)]
    rows = [row for row in records if row["metric"] == primary.name]
    guardrails = [row for row in records if row["role"] == "guardrail"]
    reasons = [srm.message()] + ([crossover_alarm] if crossover_alarm else []) + _effect_reasons(records, spec)
    if power is not None:
        reasons.append(power.message())
    reduction = [row["cuped_variance_reduction"] for row in rows if _present(row["cuped_variance_reduction"])]
    if reduction:
        covariates = primary.covariate or ", ".join(primary.regression_covariates)
        if np.mean(reduction) >= NOTICEABLE_REDUCTION:
            reasons.append(f"Taking each unit's pre-experiment {covariates} into account removed "
                           f"{np.mean(reduction):.0%} of the noise in {primary.display_name}.")
        else:  # covariates unrelated to the metric cost a little precision (the slopes are estimated)
            reasons.append(f"Taking each unit's pre-experiment {covariates} into account did not reduce the noise "
                           f"in {primary.display_name}.")
    if primary.alternative != "two-sided":
        side = "up" if primary.direction == "increase" else "down"
        reasons.append(f"The test of {primary.display_name} is one-sided: it can show that {primary.display_name} went {side}, "
                       "not that it got worse; a change the other way reads as no detectable effect.")
    if has_segments:
        reasons.append(EXPLORATORY_WARNING)

    def verdict(kind: Verdict, headline: str, variant: str | None = None) -> Decision:
        return Decision(verdict=kind, headline=headline, reasons=reasons, variant=variant)

    if srm.mismatch:
        return verdict("investigate", srm.message())  # it says that the result cannot be trusted
    if crossover_alarm:
        return verdict("investigate", f"This result cannot be trusted: {crossover_alarm}.")
    breached = [row for row in guardrails if row["guardrail_status"] == "breached"]
    if breached:
        first = breached[0]
        return verdict("investigate", f"Investigate before shipping: guardrail {spec.metric_label(first['metric'])} got worse in "
                       f"{first['variant']}: {describe_effect(first, level)}.")
    winners = [row for row in rows if row["significant"] and _goodness(row) > 0]
    if winners:
        best = max(winners, key=_goodness)
        pending = [row["metric"] for row in guardrails
                   if row["variant"] == best["variant"] and row["guardrail_status"] == "inconclusive"]
        change = f"{primary.display_name} {describe_effect(best, level)}"
        if pending:
            return verdict("keep running", f"Keep running: {best['variant']} improves {change}, but guardrail "
                           f"{', '.join(pending)} is not yet shown to stay within its margin.", best["variant"])
        held = ", and no guardrail got worse" if guardrails else ""
        return verdict("ship", f"Ship {best['variant']}: {change}{held}.", best["variant"])
    losers = [row for row in rows if row["significant"] and _goodness(row) < 0]
    if rows and len(losers) == len(rows):
        effects = "; ".join(f"{row['variant']} {describe_effect(row, level)}" for row in losers)
        return verdict("don't ship", f"Don't ship: {primary.display_name} got worse ({effects}).")
    effects = "; ".join(f"{row['variant']} {describe_effect(row, level)}" for row in rows)
    if primary.alternative != "two-sided" and rows and all(_goodness(row) < 0 for row in rows):
        # a one-sided test cannot call a loss; "no detectable effect" would read as underpowered
        return verdict("don't ship", f"Don't ship: {primary.display_name} did not improve ({effects}); it moved the "
                       "other way, which a one-sided test cannot call a loss.")
    if power is not None and power.required_n is not None and power.n_per_variant < power.required_n:
        unknown = (f"no exposure time in {spec.timestamp_column!r} could be read" if spec.timestamp_column
                   else "no timestamp_column or start_date")
        wait = (f"about {count_of(power.more_days, 'more day')} at the current traffic" if power.more_days is not None
                else f"the remaining time is unknown ({unknown})")
        return verdict("keep running", f"Keep running: no detectable effect on {primary.display_name} yet ({effects}); "
                       f"{power.n_per_variant:,} of the {power.required_n:,} units per variant needed to detect a "
                       f"{power.target_mde:.1%} change, {wait}.")
    detectable = power is not None and math.isfinite(power.mde_now)
    mde = f" The smallest effect this sample could detect was {power.mde_now:.1%}." if detectable else ""
    return verdict("don't ship", f"Don't ship: no detectable effect on {primary.display_name} ({effects}).{mde}")
