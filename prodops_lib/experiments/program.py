"""The experiment program: what many past experiments together say about the next one.

Input: a frame of past results, one row per experiment × metric, with ``experiment``,
``metric``, ``effect`` (the relative lift as the A/B report measures it, a fraction: 0.02 is
+2%; the same units as ``ExperimentSpec.prior_mean``/``prior_sd``) and ``standard_error`` (of
``effect``); ``shipped`` (bool) for the cumulative
impact, ``decision`` for declared wins, and a time column for the online FDR stream.

**Learned prior** (normal hierarchical / random-effects model). True effects
``θ_i ~ N(μ, τ²)``, estimates ``y_i ~ N(θ_i, s_i²)``, so marginally ``y_i ~ N(μ, s_i² + τ²)``.
``τ²`` by Paule–Mandel (default: the ``τ²`` where the generalised Q statistic
``Σ w_i (y_i - μ̂)² = k - 1`` with ``w_i = 1/(s_i² + τ²)``) or DerSimonian–Laird (one
moment step), both computed by ``statsmodels.stats.meta_analysis.combine_effects``;
``μ̂ = Σ w_i y_i / Σ w_i``. References: DerSimonian & Laird (1986), *Controlled Clinical
Trials* 7:177; Paule & Mandel (1982), *J. Res. NBS* 87:377; Veroniki et al. (2016),
*Res. Synth. Methods* 7:55 (recommends Paule–Mandel). With fewer than ``min_experiments``
experiments on a metric the prior falls back to the kit's default (``ExperimentSpec``:
mean 0, flat), because ``τ²`` from a handful of experiments is mostly noise.

**Shrinkage** (empirical Bayes, Efron & Morris 1975; Gelman et al., *BDA* §5.5): the posterior
of ``θ_i`` given ``y_i`` and the fitted prior is normal with mean
``μ̂ + (1 - B_i)(y_i - μ̂)``, ``B_i = s_i²/(s_i² + τ̂²)``, and variance ``s_i² τ̂²/(s_i² + τ̂²)``.

**Cumulative impact** of shipped experiments: naive ``Σ y_i`` vs shrunk ``Σ E[θ_i|y_i]``.
Shipping selects high estimates, so ``E[y_i | shipped] > E[θ_i | shipped]`` (the winner's
curse); shrinkage removes that bias. Interval of the shrunk sum:
``± z·sqrt(Σ v_i + (Σ B_i)² Var(μ̂))`` (the posterior variances plus the shared
uncertainty of ``μ̂``, which enters each shrunk effect with weight ``B_i``; the uncertainty of
``τ̂²`` is not propagated). Naive interval: ``± z·sqrt(Σ s_i²)``.

**False wins** (local false discovery rate, Efron 2010, *Large-Scale Inference* ch. 5): for a
declared win on a higher-is-better metric, ``P(θ_i ≤ 0 | y_i) = Φ(-m_i / sqrt(v_i))`` under the
fitted prior (``m_i``, ``v_i``: posterior mean and variance; ``P(θ_i ≥ 0 | y_i)`` when lower is
better); its average over
the declared wins is the expected share of wins that are not real improvements.

**Online FDR** across the stream of experiments in time order: LORD++ (Javanmard & Montanari
2018; Ramdas et al. 2017) from the ``online-fdr`` package, on two-sided normal p-values
``2Φ(-|y_i|/s_i)``. Each experiment is tested at the level its predecessors' outcomes allow,
so the false discovery rate of the whole stream stays at most ``alpha`` at every point.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from online_fdr.p_values import LordPlusPlus
from scipy.special import ndtr, ndtri
from statsmodels.stats.meta_analysis import combine_effects

from ..display import safe_text
from ..io import InputError
from ..labels import count_of, metric_words

__all__ = [
    "CumulativeImpact",
    "LearnedPrior",
    "cumulative_impact",
    "expected_false_wins",
    "fit_prior",
    "fit_priors",
    "learned_prior",
    "online_fdr",
    "shrink_effects",
]

METHODS = {"pm": "Paule–Mandel", "dl": "DerSimonian–Laird"}
DEFAULT_PRIOR_MEAN = 0.0  # ExperimentSpec.prior_mean's default; its prior_sd default is flat (None)


class _OneRowResult:
    """A result of one row: ``.to_frame()``, and its :meth:`describe` sentence in a notebook."""

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])

    def _repr_html_(self) -> str:
        return f"<p>{safe_text(self.describe())}</p>"


@dataclass(frozen=True)
class LearnedPrior(_OneRowResult):
    """Distribution of true relative lifts on one metric, learned from past experiments."""

    metric: str
    mean: float
    sd: float | None  # None: the flat default prior (fell back)
    mean_standard_error: float | None
    n_experiments: int
    method: str
    fell_back: bool

    min_experiments: int = 10  # what learning it needed

    @property
    def spread_is_noise(self) -> bool:
        """Fell back with enough experiments: their lifts vary no more than their noise explains."""
        return self.fell_back and self.n_experiments >= self.min_experiments

    def text(self, label: str | None = None) -> str:
        """The prior in words, the metric named ``label`` (default: its name in words): "a normal
        prior on the relative lift learned from 24 past experiments on conversion (mean +1.2%,
        sd 2.0%, Paule–Mandel)", or why it is flat."""
        label = label or metric_words(self.metric)
        past = count_of(self.n_experiments, "past experiment")
        if not self.fell_back:
            return (f"a normal prior on the relative lift learned from {past} on {label} (mean {self.mean:+.1%}, "
                    f"sd {self.sd:.1%}, {METHODS[self.method]})")
        if self.spread_is_noise:
            return (f"a flat prior: the {past} on {label} differ no more than their own noise explains, so no spread "
                    "of true lifts could be learned from them")
        measured = "no past experiment measured" if self.n_experiments == 0 else f"only {past} measured"
        return f"a flat prior: {measured} {label} ({self.min_experiments} needed)"

    def describe(self) -> str:
        return f"Prior on {metric_words(self.metric)}: {self.text()}."


@dataclass(frozen=True)
class CumulativeImpact(_OneRowResult):
    """Summed lift of the shipped experiments on one metric, naive and shrunk."""

    metric: str
    n_shipped: int
    naive: float
    naive_low: float
    naive_high: float
    shrunk: float
    shrunk_low: float
    shrunk_high: float

    def describe(self) -> str:
        return (f"The {self.n_shipped} shipped experiments on {self.metric} add up to {self.naive:+.2%} as "
                f"measured, but {self.shrunk:+.2%} ({self.shrunk_low:+.2%} to {self.shrunk_high:+.2%}) after "
                "shrinkage: experiments were shipped because their estimate was high, and part of a high "
                "estimate is luck that does not repeat (the winner's curse).")


def _require(results: pd.DataFrame, columns: list[str]) -> None:
    if not isinstance(results, pd.DataFrame):
        raise InputError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise InputError(f"results is missing column(s) {missing}: pass one row per experiment × metric "
                         "with experiment, metric, effect and standard_error")
    if not (results["standard_error"].astype(float) > 0).all():
        raise InputError("results: every standard_error must be positive; drop rows without one")


def fit_prior(effect, standard_error, *, metric: str = "", method: str = "pm",
              min_experiments: int = 10) -> LearnedPrior:
    """Fit ``θ ~ N(μ, τ²)`` to estimates and standard errors (see the module docstring)."""
    if method not in METHODS:
        raise InputError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if min_experiments < 2:
        raise InputError(f"min_experiments must be at least 2, got {min_experiments}")
    effect = np.asarray(effect, dtype=float)
    variance = np.asarray(standard_error, dtype=float) ** 2
    k = len(effect)
    if k < min_experiments:
        return LearnedPrior(metric, DEFAULT_PRIOR_MEAN, None, None, k, method, True, min_experiments)
    fit = combine_effects(effect, variance, method_re=method)
    if not fit.tau2 > 0:
        # the past lifts vary no more than their noise explains: a prior of spread 0 would pull
        # every result onto the mean whatever its data says, so the default stands
        return LearnedPrior(metric, DEFAULT_PRIOR_MEAN, None, None, k, method, True, min_experiments)
    return LearnedPrior(metric, float(fit.mean_effect_re), float(np.sqrt(fit.tau2)),
                        float(fit.sd_eff_w_re), k, method, False, min_experiments)


def fit_priors(results: pd.DataFrame, *, method: str = "pm", min_experiments: int = 10) -> dict[str, LearnedPrior]:
    """One learned prior per metric in ``results``."""
    _require(results, ["metric", "effect", "standard_error"])
    return {str(metric): fit_prior(rows["effect"], rows["standard_error"], metric=str(metric), method=method,
                                   min_experiments=min_experiments)
            for metric, rows in results.groupby("metric", sort=True)}


def learned_prior(results: pd.DataFrame, metric: str, *, method: str = "pm",
                  min_experiments: int = 10) -> tuple[float, float | None]:
    """``(prior_mean, prior_sd)`` on the relative lift of ``metric``, as ``ExperimentSpec`` takes them.

    ``prior_sd`` is None (a flat prior, the spec's default) when fewer than ``min_experiments``
    past experiments measured the metric.
    """
    _require(results, ["metric", "effect", "standard_error"])
    rows = results[results["metric"] == metric]
    prior = fit_prior(rows["effect"], rows["standard_error"], metric=metric, method=method,
                      min_experiments=min_experiments)
    return prior.mean, prior.sd


def _posterior(effect: np.ndarray, standard_error: np.ndarray, prior: LearnedPrior):
    """Posterior mean, variance and shrinkage factor B of each true effect under ``prior``."""
    variance = standard_error**2
    if prior.sd is None:  # flat prior: the estimate stands
        return effect, variance, np.zeros_like(effect)
    shrinkage = variance / (variance + prior.sd**2)
    return prior.mean + (1 - shrinkage) * (effect - prior.mean), variance * (1 - shrinkage), shrinkage


def shrink_effects(results: pd.DataFrame, priors: dict[str, LearnedPrior] | None = None, *,
                   method: str = "pm", min_experiments: int = 10) -> pd.DataFrame:
    """``results`` with ``shrunk_effect``, ``shrunk_sd``, ``shrinkage`` (B) and ``prior_sd`` added."""
    _require(results, ["metric", "effect", "standard_error"])
    priors = fit_priors(results, method=method, min_experiments=min_experiments) if priors is None else priors
    missing = sorted(set(results["metric"].astype(str)) - set(priors))
    if missing:
        raise InputError(f"priors: no prior for metric(s) {missing}; fit them with fit_priors(results)")
    out = results.copy()
    for metric, rows in results.groupby("metric", sort=False):
        prior = priors[str(metric)]
        mean, variance, shrinkage = _posterior(rows["effect"].to_numpy(float), rows["standard_error"].to_numpy(float), prior)
        out.loc[rows.index, "shrunk_effect"] = mean
        out.loc[rows.index, "shrunk_sd"] = np.sqrt(variance)
        out.loc[rows.index, "shrinkage"] = shrinkage
        out.loc[rows.index, "prior_sd"] = np.nan if prior.sd is None else prior.sd
    return out


def cumulative_impact(results: pd.DataFrame, metric: str, *, method: str = "pm", min_experiments: int = 10,
                      alpha: float = 0.05) -> CumulativeImpact:
    """Sum of the shipped experiments' lifts on ``metric``, naive and shrunk, with intervals.

    The prior is fitted on every experiment of the metric (shipped or not): fitting it on the
    shipped ones only would learn the selected, inflated distribution.
    """
    _require(results, ["metric", "effect", "standard_error", "shipped"])
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    rows = results[results["metric"] == metric]
    prior = fit_prior(rows["effect"], rows["standard_error"], metric=metric, method=method,
                      min_experiments=min_experiments)
    shipped = rows[rows["shipped"].astype(bool)]
    effect, se = shipped["effect"].to_numpy(float), shipped["standard_error"].to_numpy(float)
    mean, variance, shrinkage = _posterior(effect, se, prior)
    z = float(ndtri(1 - alpha / 2))
    naive_half = z * np.sqrt(np.sum(se**2))
    mean_variance = 0.0 if prior.mean_standard_error is None else prior.mean_standard_error**2
    shrunk_half = z * np.sqrt(np.sum(variance) + np.sum(shrinkage) ** 2 * mean_variance)
    naive, shrunk = float(effect.sum()), float(mean.sum())
    return CumulativeImpact(metric, len(shipped), naive, naive - naive_half, naive + naive_half,
                            shrunk, shrunk - shrunk_half, shrunk + shrunk_half)


def expected_false_wins(results: pd.DataFrame, metric: str, *, wins: str = "ship", direction: str = "increase",
                        method: str = "pm", min_experiments: int = 10, counted: str | None = None) -> pd.DataFrame:
    """Local FDR of each declared win on ``metric`` (rows with ``decision == wins``; with
    ``counted``, a boolean column, only the wins where it is true, while the prior is still
    fitted on every row of the metric).

    ``local_fdr`` is ``P(θ ≤ 0 | y)`` (``P(θ ≥ 0 | y)`` for ``direction="decrease"``); its mean is
    the expected share of false wins. Under the flat fallback prior it is the one-sided p-value.
    """
    _require(results, ["metric", "effect", "standard_error", "decision"])
    if direction not in ("increase", "decrease"):
        raise InputError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    rows = results[results["metric"] == metric]
    prior = fit_prior(rows["effect"], rows["standard_error"], metric=metric, method=method,
                      min_experiments=min_experiments)
    won = rows[(rows["decision"] == wins) & (rows[counted].astype(bool) if counted else True)].copy()
    mean, variance, _ = _posterior(won["effect"].to_numpy(float), won["standard_error"].to_numpy(float), prior)
    with np.errstate(divide="ignore"):
        sign = 1.0 if direction == "increase" else -1.0
        won["local_fdr"] = ndtr(-sign * mean / np.sqrt(variance))
    return won


def online_fdr(results: pd.DataFrame, *, order_by: str, alpha: float = 0.05,
               initial_wealth: float | None = None) -> pd.DataFrame:
    """LORD++ across experiments in ``order_by`` order: ``p_value``, ``test_level``, ``discovery`` added.

    ``p_value`` is each row's own where the frame has one (the report's test), else the two-sided
    normal p-value of ``effect / standard_error``.

    ``initial_wealth`` defaults to ``alpha/2`` (must be below ``alpha``). Pass one row per
    experiment (e.g. the primary metric's rows), so each experiment is one hypothesis.
    """
    _require(results, ["effect", "standard_error", order_by])
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    wealth = alpha / 2 if initial_wealth is None else initial_wealth
    if not 0 < wealth < alpha:
        raise InputError(f"initial_wealth must be between 0 and alpha={alpha}, got {wealth}")
    stream = results.sort_values(order_by, kind="stable").copy()
    normal = 2 * ndtr(-np.abs(stream["effect"].to_numpy(float) / stream["standard_error"].to_numpy(float)))
    saved = pd.to_numeric(stream["p_value"], errors="coerce") if "p_value" in stream else pd.Series(np.nan, stream.index)
    stream["p_value"] = saved.where(saved.notna(), normal)
    procedure = LordPlusPlus(alpha=alpha, wealth=wealth)
    discoveries, levels = [], []
    for p_value in stream["p_value"]:
        discoveries.append(bool(procedure.test_one(float(p_value))))
        levels.append(float(procedure.alpha))
    stream["test_level"] = levels
    stream["discovery"] = discoveries
    return stream
