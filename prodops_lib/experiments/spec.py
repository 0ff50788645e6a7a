"""What an experiment is: its variants, its metrics and the rules for reading them.

Both classes are frozen dataclasses whose fields use only types the YAML loader in
:mod:`prodops_lib.params` understands (``str``, ``float``, ``X | None``, ``Literal``, ``list``,
``dict[str, float]``, ``datetime.date``), so ``parameters/<experiment>.yaml`` maps onto them
key for key. Cross-field rules are checked on construction; each failure is one line that
names the field and says how to fix it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, fields
from typing import Literal, get_args

from prodops_lib.labels import metric_words
from prodops_lib.params import parse_currency

__all__ = ["ExperimentSpec", "MetricSpec"]

MetricKind = Literal["mean", "proportion", "ratio", "quantile"]
Direction = Literal["increase", "decrease"]
Role = Literal["primary", "secondary", "guardrail"]
Correction = Literal["holm", "bonferroni", "holm_sidak", "hochberg", "fdr_bh", "fdr_by", "none"]
Alternative = Literal["two-sided", "greater", "less"]
Test = Literal["auto", "z_continuity", "fisher", "barnard", "boschloo"]
RelativeInterval = Literal["log", "linear"]
SrmMethod = Literal["chi_square", "exact"]
MissingPolicy = Literal["error", "drop", "zero"]
CupedSlope = Literal["within", "pooled"]
PriorSource = Literal["fixed", "learned"]


def _check_choice(where: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{where}: {name} {value!r} is not one of {', '.join(map(repr, choices))}")


def _check_share(where: str, name: str, value: float | None) -> None:
    if value is not None and not 0.0 < value < 1.0:
        raise ValueError(f"{where}: {name} must be between 0 and 1 (exclusive), got {value!r}")


@dataclass(frozen=True)
class MetricSpec:
    """One metric of an experiment.

    ``kind``: ``mean`` (any number per unit), ``proportion`` (0/1 per unit), ``ratio``
    (``numerator`` / ``denominator`` summed over units, e.g. orders per session, analysed by the
    delta method) or ``quantile`` (the ``quantile`` of the unit values, e.g. 0.9 for p90,
    analysed by a seeded bootstrap). ``column`` defaults to ``name``.

    ``direction`` says which way is good; ``role`` decides how the metric enters the decision
    (one ``primary``; ``guardrail`` metrics are non-inferiority tests against their relative
    ``non_inferiority_margin``, e.g. 0.02 = "may not get more than 2% worse").
    ``covariate`` names a pre-period column for CUPED; ``cuped_slope`` is ``within`` (default: the
    slope within arms, pooled over the two arms) or ``pooled`` (the slope over all units of the two
    arms, ignoring arms, as some engines compute it). ``covariates`` (numeric columns: pre-period
    metrics, or a CUPAC prediction from a model trained on pre-period data) and
    ``categorical_covariates`` (e.g. country, one indicator per level) ask for regression
    adjustment instead (:mod:`.regression`); not together with ``covariate``. ``winsorize_lower``/``winsorize_upper``
    are percentiles (0.99 caps values above the pooled 99th percentile), computed over all
    units or over non-zero units only (``winsorize_scope``). ``missing`` says what a missing
    value means: ``error`` (default), ``drop`` the unit from this metric, or ``zero``; drops
    and fills are counted in the analysis, never silent.

    ``maturity_days`` (e.g. 7 for day-7 retention) counts a unit for this metric only once it
    has been exposed that many days: units first exposed after the analysis end day minus
    ``maturity_days`` (end day: the experiment's ``end_date``, else the last exposure day) are
    dropped from it, with their count and reason, because their outcome cannot be known yet
    and counting them biases the rate towards 0. It needs the experiment's ``timestamp_column``.

    ``label`` is how the report names the metric to a reader ("Checkout conversion"); without
    it, the name with spaces for underscores ("orders per session"). ``results.csv`` keeps ``name``.
    ``currency`` (an ISO 4217 code, ``USD``) says a mean, ratio or quantile metric is an amount
    of money, so its averages and differences are written ``$12.40``.

    The test, per metric because a one-sided test's side depends on the metric's direction:
    ``alternative`` is ``two-sided`` (default), ``greater`` (only "the variant is higher" can be
    shown) or ``less``; a primary metric's one-sided test must look in its good direction, and
    guardrails keep their own one-sided non-inferiority test. ``equal_var: true`` makes a mean
    metric's test Student's pooled-variance t-test instead of Welch's. ``test`` picks a
    proportion metric's test: ``auto`` (default: the z-test, Fisher's exact test below 5
    expected successes or failures), ``z_continuity`` (Yates' continuity correction), or the
    exact ``fisher``, ``barnard`` or ``boschloo`` test (Barnard and Boschloo up to 500 units per
    arm; exact tests read counts, so no covariate).
    """

    name: str
    kind: MetricKind = "mean"
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    quantile: float | None = None
    direction: Direction = "increase"
    role: Role = "secondary"
    covariate: str | None = None
    cuped_slope: CupedSlope = "within"
    covariates: list[str] = field(default_factory=list)
    categorical_covariates: list[str] = field(default_factory=list)
    winsorize_lower: float | None = None
    winsorize_upper: float | None = None
    winsorize_scope: Literal["all", "nonzero"] = "all"
    non_inferiority_margin: float | None = None
    missing: MissingPolicy = "error"
    maturity_days: int | None = None
    alternative: Alternative = "two-sided"
    equal_var: bool = False
    test: Test = "auto"
    label: str | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        where = f"metric {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("metric: name must be a non-empty string")
        _check_choice(where, "kind", self.kind, ("mean", "proportion", "ratio", "quantile"))
        _check_choice(where, "direction", self.direction, ("increase", "decrease"))
        _check_choice(where, "role", self.role, ("primary", "secondary", "guardrail"))
        _check_choice(where, "missing", self.missing, ("error", "drop", "zero"))
        _check_choice(where, "winsorize_scope", self.winsorize_scope, ("all", "nonzero"))
        self._check_covariates(where)
        self._check_test(where)
        if self.currency is not None:
            if self.kind == "proportion":
                raise ValueError(f"{where}: a proportion is a share of units, not an amount of money; remove currency")
            object.__setattr__(self, "currency", parse_currency(self.currency, f"{where}: currency"))
        if self.kind == "ratio":
            if not self.numerator or not self.denominator:
                raise ValueError(f"{where}: kind 'ratio' needs 'numerator' and 'denominator' columns")
            if self.column is not None:
                raise ValueError(f"{where}: kind 'ratio' reads 'numerator' and 'denominator'; remove 'column'")
        elif self.numerator or self.denominator:
            raise ValueError(f"{where}: 'numerator'/'denominator' apply to kind 'ratio' only; use 'column'")
        if self.kind == "quantile":
            if self.quantile is None:
                raise ValueError(f"{where}: kind 'quantile' needs 'quantile' (e.g. 0.5 for the median)")
            _check_share(where, "quantile", self.quantile)
            if self.covariate or self.regression_covariates:
                raise ValueError(f"{where}: covariates are not available for kind 'quantile'")
        elif self.quantile is not None:
            raise ValueError(f"{where}: 'quantile' applies to kind 'quantile' only")
        _check_share(where, "winsorize_lower", self.winsorize_lower)
        _check_share(where, "winsorize_upper", self.winsorize_upper)
        if self.winsorized and self.kind in ("proportion", "quantile"):
            raise ValueError(f"{where}: winsorization applies to kinds 'mean' and 'ratio', not {self.kind!r}")
        if (
            self.winsorize_lower is not None
            and self.winsorize_upper is not None
            and self.winsorize_lower >= self.winsorize_upper
        ):
            raise ValueError(f"{where}: winsorize_lower must be below winsorize_upper")
        if self.non_inferiority_margin is not None:
            if self.role != "guardrail":
                raise ValueError(f"{where}: non_inferiority_margin applies to role 'guardrail' only")
            if not 0.0 < self.non_inferiority_margin < 1.0:
                raise ValueError(
                    f"{where}: non_inferiority_margin is a relative margin between 0 and 1 "
                    f"(0.02 = 2% worse allowed), got {self.non_inferiority_margin!r}"
                )

        if self.maturity_days is not None and (
            isinstance(self.maturity_days, bool) or not isinstance(self.maturity_days, int) or self.maturity_days < 1
        ):
            raise ValueError(f"{where}: maturity_days must be a whole number of days of at least 1 (e.g. 7 for day-7 "
                             f"retention), got {self.maturity_days!r}")

    def _check_covariates(self, where: str) -> None:
        _check_choice(where, "cuped_slope", self.cuped_slope, ("within", "pooled"))
        for name in ("covariates", "categorical_covariates"):
            values = getattr(self, name)
            if isinstance(values, str):  # a single column written without brackets
                values = [values]
            if not isinstance(values, list | tuple) or not all(isinstance(v, str) and v.strip() for v in values):
                raise ValueError(f"{where}: {name} must be a list of column names, got {values!r}")
            object.__setattr__(self, name, list(values))
        named = self.covariates + self.categorical_covariates
        repeated = sorted({column for column in named if named.count(column) > 1})
        if repeated:
            raise ValueError(f"{where}: covariate column {repeated[0]!r} is listed twice; list each column once")
        if self.covariate and named:
            raise ValueError(f"{where}: use 'covariate' (CUPED, one column) or 'covariates'/'categorical_covariates' "
                             "(regression adjustment), not both; move the CUPED column into 'covariates'")
        if self.cuped_slope != "within" and not self.covariate:
            raise ValueError(f"{where}: cuped_slope applies to CUPED; set 'covariate' or remove cuped_slope")

    @property
    def regression_covariates(self) -> list[str]:
        """The columns of the regression adjustment, numeric first (empty without one)."""
        return self.covariates + self.categorical_covariates

    def _check_test(self, where: str) -> None:
        _check_choice(where, "alternative", self.alternative, get_args(Alternative))
        _check_choice(where, "test", self.test, get_args(Test))
        if not isinstance(self.equal_var, bool):
            raise ValueError(f"{where}: equal_var must be true or false, got {self.equal_var!r}")
        if self.equal_var and self.kind != "mean":
            raise ValueError(f"{where}: equal_var (Student's pooled-variance t-test) applies to kind 'mean', "
                             f"not {self.kind!r}")
        if self.test != "auto" and self.kind != "proportion":
            raise ValueError(f"{where}: test {self.test!r} is a test of two proportions and {self.name} is kind "
                             f"{self.kind!r}; use it on a 0/1 metric of kind 'proportion' or remove 'test'")
        adjusted = [self.covariate] if self.covariate else self.regression_covariates
        if self.test != "auto" and adjusted:
            raise ValueError(f"{where}: test {self.test!r} reads counts and cannot use the covariate "
                             f"{adjusted[0]!r}; remove one of the two")
        if self.equal_var and adjusted:
            raise ValueError(f"{where}: equal_var (Student's pooled-variance t-test) does not combine with the "
                             f"covariate {adjusted[0]!r}; remove one of the two")
        if self.alternative == "two-sided":
            return
        if self.kind == "quantile":
            raise ValueError(f"{where}: alternative {self.alternative!r} is not available for kind 'quantile' "
                             "(its bootstrap interval is two-sided)")
        if self.role == "guardrail":
            raise ValueError(f"{where}: a guardrail is already tested one-sided (non-inferiority); remove 'alternative'")
        good = "greater" if self.direction == "increase" else "less"
        if self.role == "primary" and self.alternative != good:
            raise ValueError(f"{where}: alternative {self.alternative!r} on a primary metric with direction "
                             f"{self.direction!r} can never show an improvement; use {good!r} or 'two-sided'")

    @property
    def display_name(self) -> str:
        """The metric as a reader sees it: ``label``, else the name with spaces."""
        return self.label or metric_words(self.name)

    @property
    def value_column(self) -> str:
        """The column holding the unit value (the numerator for ratio metrics)."""
        if self.kind == "ratio":
            return str(self.numerator)
        return self.column or self.name

    @property
    def columns(self) -> list[str]:
        """Every numeric data column this metric reads (categorical covariates are not numeric)."""
        names = [self.value_column]
        if self.kind == "ratio":
            names.append(str(self.denominator))
        if self.covariate:
            names.append(self.covariate)
        return names + self.covariates

    @property
    def winsorized(self) -> bool:
        return self.winsorize_lower is not None or self.winsorize_upper is not None


@dataclass(frozen=True)
class ExperimentSpec:
    """An experiment: where its variants are, which one is the control, what it measures.

    ``expected_split`` maps every variant to its planned share of units (default: equal
    shares over the variants found). ``alpha`` is the significance level of every test and
    ``1 - alpha`` the level of every interval (one-sided where a metric's ``alternative`` is);
    ``correction`` adjusts p-values over all primary and secondary metric x variant comparisons:
    ``holm`` (default), ``bonferroni``, ``holm_sidak``, ``hochberg`` (family-wise error rate),
    ``fdr_bh``, ``fdr_by`` (false discovery rate) or ``none``. ``relative_interval`` is ``log``
    (default, the delta method on log(variant/control), never below -100%) or ``linear`` (the
    delta method on the ratio itself, symmetric, as some experimentation platforms report it).
    ``srm_alpha`` is the sample ratio mismatch alarm level and ``srm_test`` its test:
    ``chi_square`` (default) or ``exact`` (the exact binomial test, for two variants); ``max_crossover_share`` the share of units seen in more than one
    variant above which the analysis raises an alarm (those units are always dropped).
    ``prior_mean``/``prior_sd`` put a Gaussian prior on the relative lift for the Bayesian
    view (no ``prior_sd``: flat prior). ``prior: learned`` instead learns each metric's prior
    from past experiments (:mod:`.priors`): the report's ledger and the ``history`` CSV (past
    results in the ledger's import format), months before the report's only; a metric that fewer
    than ``prior_min_experiments`` past experiments measured keeps the flat prior. ``team`` is
    the team that ran the experiment, for the program's win rates by team. ``mde`` is the relative minimum detectable effect the
    experiment was planned for (e.g. 0.02); with it, an inconclusive result that has not yet
    reached the planned sample is "keep running". ``start_date``/``end_date`` give the
    experiment's days when there is no ``timestamp_column``. ``max_covariate_levels`` caps the
    levels of each categorical covariate: the most frequent levels are kept and the rest are
    merged into one "other" level (counted in the notes), so the regression stays small.
    """

    name: str
    metrics: list[MetricSpec]
    hypothesis: str = ""
    theme: str = ""
    team: str | None = None
    unit: str | None = None
    variant_column: str = "variant"
    control: str = "control"
    expected_split: dict[str, float] | None = None
    alpha: float = 0.05
    power: float = 0.8
    correction: Correction = "holm"
    relative_interval: RelativeInterval = "log"
    srm_test: SrmMethod = "chi_square"
    segments: list[str] = field(default_factory=list)
    timestamp_column: str | None = None
    srm_alpha: float = 0.001
    max_crossover_share: float = 0.01
    prior_mean: float = 0.0
    prior_sd: float | None = None
    prior: PriorSource = "fixed"
    history: str | None = None
    prior_min_experiments: int = 10
    mde: float | None = None
    max_segment_values: int = 8
    max_covariate_levels: int = 20
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    def __post_init__(self) -> None:
        where = f"experiment {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("experiment: name must be a non-empty string")
        metrics = [_as_metric(metric, index) for index, metric in enumerate(self.metrics or [])]
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "segments", list(self.segments or []))
        if not metrics:
            raise ValueError(f"{where}: metrics is empty; list at least one metric")
        names = [metric.name for metric in metrics]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"{where}: metric names must be unique; {duplicated[0]!r} appears twice")
        primary = [metric.name for metric in metrics if metric.role == "primary"]
        if len(primary) != 1:
            raise ValueError(
                f"{where}: exactly one metric needs role 'primary' (found {len(primary)}"
                + (f": {', '.join(primary)})" if primary else ")")
            )
        _check_share(where, "alpha", self.alpha)
        _check_share(where, "power", self.power)
        _check_share(where, "srm_alpha", self.srm_alpha)
        _check_share(where, "max_crossover_share", self.max_crossover_share)
        _check_choice(where, "correction", self.correction, get_args(Correction))
        _check_choice(where, "relative_interval", self.relative_interval, get_args(RelativeInterval))
        _check_choice(where, "srm_test", self.srm_test, get_args(SrmMethod))
        if not str(self.control).strip():
            raise ValueError(f"{where}: control must name the control variant")
        if self.expected_split is not None:
            self._check_split(where)
        if self.prior_sd is not None and not self.prior_sd > 0:
            raise ValueError(f"{where}: prior_sd must be positive (or null for a flat prior)")
        self._check_prior(where)
        if self.mde is not None and not self.mde > 0:
            raise ValueError(f"{where}: mde is a relative effect and must be positive (e.g. 0.02)")
        if not isinstance(self.max_covariate_levels, int) or self.max_covariate_levels < 2:
            raise ValueError(f"{where}: max_covariate_levels must be a whole number of at least 2")
        if self.max_segment_values < 1:
            raise ValueError(f"{where}: max_segment_values must be at least 1")
        if self.variant_column in self.segments:
            raise ValueError(f"{where}: segments must not include the variant column {self.variant_column!r}")
        maturing = next((metric.name for metric in metrics if metric.maturity_days), None)
        if maturing and not self.timestamp_column:
            raise ValueError(f"{where}: metric {maturing!r} has maturity_days, which needs timestamp_column "
                             "(each unit's exposure time) to tell which units are mature")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"{where}: end_date {self.end_date} is before start_date {self.start_date}")

    def _check_prior(self, where: str) -> None:
        _check_choice(where, "prior", self.prior, get_args(PriorSource))
        if self.prior == "learned" and (self.prior_sd is not None or self.prior_mean != 0):
            given = "prior_sd" if self.prior_sd is not None else "prior_mean"
            raise ValueError(f"{where}: prior: learned takes each metric's mean and sd from past experiments, and "
                             f"{given} sets them by hand; remove {given} or set prior: fixed")
        if self.history is not None and self.prior != "learned":
            raise ValueError(f"{where}: history is read only to learn priors; set prior: learned or remove history")
        minimum = self.prior_min_experiments
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 2:
            raise ValueError(f"{where}: prior_min_experiments must be a whole number of at least 2 (a spread needs "
                             f"two experiments), got {minimum!r}")

    def _check_split(self, where: str) -> None:
        split = self.expected_split or {}
        if len(split) < 2:
            raise ValueError(f"{where}: expected_split needs at least two variants")
        for variant, share in split.items():
            if not isinstance(share, int | float) or not math.isfinite(share) or share <= 0:
                raise ValueError(f"{where}: expected_split[{variant!r}] must be a positive share, got {share!r}")
        total = sum(split.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"{where}: expected_split sums to {total:.6g}; the shares must sum to 1")
        if self.control not in split:
            raise ValueError(f"{where}: control {self.control!r} is not in expected_split ({', '.join(split)})")

    @property
    def primary_metric(self) -> MetricSpec:
        return next(metric for metric in self.metrics if metric.role == "primary")

    def metric_label(self, name: str) -> str:
        """How the report names the metric called ``name`` (:attr:`MetricSpec.display_name`)."""
        return self.metric(name).display_name

    def metric(self, name: str) -> MetricSpec:
        """The metric called ``name``."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise ValueError(f"experiment {self.name!r}: no metric named {name!r} ({', '.join(m.name for m in self.metrics)})")


_METRIC_FIELDS = {item.name for item in fields(MetricSpec)}


def _as_metric(metric: MetricSpec | dict, index: int) -> MetricSpec:
    """Accept plain dicts too, so a notebook can write ``metrics=[{"name": ...}]``."""
    if isinstance(metric, MetricSpec):
        return metric
    if isinstance(metric, dict):
        unknown = sorted(set(metric) - _METRIC_FIELDS)
        if unknown:
            raise ValueError(f"metrics[{index}]: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(_METRIC_FIELDS))}")
        try:
            return MetricSpec(**metric)
        except TypeError as error:
            raise ValueError(f"metrics[{index}]: {error}") from None
    raise ValueError(f"metrics[{index}]: expected a MetricSpec or a mapping, got {type(metric).__name__}")
