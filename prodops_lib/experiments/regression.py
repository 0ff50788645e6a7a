"""Regression adjustment with several covariates, from per-arm sums of cross-products.

A metric with ``covariates: [pre_revenue, pre_sessions]`` and ``categorical_covariates:
[country]`` is adjusted by Lin's (2013) estimator: in each arm ``a`` the unit values are
regressed on the covariates, and the arm's adjusted estimate is its prediction at the covariate
means of the two arms compared, pooled (``x̄``)::

    μ̂_a = R̂_a + β̂_a'(x̄ - x̄_a)            ATE = μ̂_v - μ̂_c

This is the treatment coefficient of the fully interacted OLS ``y ~ T + Xc + T:Xc`` with ``Xc``
the covariates centred at ``x̄``. For ratio metrics the regression is on the linearised unit
values ``L = (y - R̂_a d) / d̄_a`` (as CUPED in :mod:`.inference` does), so ``R̂_a`` plays the
part of ``ȳ_a``; for means and proportions ``L = y - ȳ_a``. A CUPAC covariate (the prediction
of a model trained on pre-period data, written as a column) is one more numeric covariate.

Everything comes from sums a collector computes in one pass (numpy or one DuckDB query, and a
warehouse could compute them too): per arm ``n, Σy, Σy², (Σd, Σd², Σyd)`` (:mod:`.moments`)
and, for the design terms ``t``, ``Σt, Σt·u, Σy·t (, Σd·t)``, i.e. ``X'X`` and ``X'y``.

**Variance.** Conditional on the covariates, each arm's prediction at ``x̄`` has the classical
OLS variance ``V_a = s²_a (1/n_a + (x̄ - x̄_a)' S_a⁻¹ (x̄ - x̄_a))`` with ``S_a`` the arm's
centred ``X'X`` and ``s²_a = RSS_a / (n_a - k_a - 1)`` its own residual variance (``k_a``
covariate columns): the fully interacted regression with a separate error variance per arm
(statsmodels OLS per arm, the prediction's ``se_mean``). The pooled mean ``x̄`` is itself an
estimate, and when the covariates act differently in the two arms it moves the difference:
``Var(ATE) = V_c + V_v + (β_v - β_c)' S_x (β_v - β_c) / N`` with ``S_x`` the covariance of the
pooled units' covariates (zero when the slopes agree; without it an independent simulation with
slopes differing by (1.5, -1, 1.2) covered 80.8% instead of 95%). The relative lift's variance
gets the same term with the gradient ``β_v/μ̂_v - β_c/μ̂_c`` (log scale) or ``β_v/μ̂_c - μ̂_v
β_c/μ̂_c²`` (linear). The heteroskedasticity-robust HC0–HC3 errors of Lin's regression need
fourth moments (``Σe²xx'``), which no sums of cross-products give; they agree with this variance
to ``O(1/n)`` (the tests pin both).
Means use Welch's t with Satterthwaite's degrees of freedom from ``n_a - k_a - 1``; proportions
and ratios the normal reference. The relative lift is ``μ̂_v / μ̂_c - 1`` (the adjusted difference
over the adjusted control mean), with the log-scale delta-method interval of :mod:`.inference`
with that variance. The variance reduction is ``1 - Var(ATE) / (s²_{L,c}/n_c + s²_{L,v}/n_v)``.

**Redundant columns.** Over the two arms compared, a constant column, or one that is a linear
combination of those before it (an indicator of every level, a covariate listed as a sum of
two others), is left out and named in the method. Within one arm a direction that does not vary
(a level absent from that arm) is handled by the pseudo-inverse of the arm's standardised
``S_a``: the arm's fit ignores it, as if the column were left out there.

**Categories.** A categorical covariate becomes one indicator per level except the most
frequent (the reference); beyond ``max_covariate_levels`` levels the rarest are merged into
one "other" level, counted in the analysis notes. A missing value is its own level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..labels import count_of
from .moments import Moments

__all__ = [
    "MISSING_LEVEL", "OTHER_LEVEL", "Adjustment", "CategoryLevels", "CovariateSums", "Term", "category_levels",
    "design_terms", "regression_adjustment", "term_products",
]

MISSING_LEVEL = "(missing)"
OTHER_LEVEL = "other"
_CONSTANT = 1e-10  # a centred sum of squares below this share of the raw one: the column does not vary
_REDUNDANT = 1e-9  # share of a standardised column left after the columns before it: a linear combination of them
_TERM = re.compile(r"^sum_([ck]\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class CategoryLevels:
    """The levels of a categorical covariate: ``kept`` (most frequent first, the first is the
    reference) and how many levels and rows were merged into "other"."""

    column: str
    kept: tuple[str, ...]
    merged_levels: int
    merged_rows: int

    def to_dict(self) -> dict:
        return {"levels": len(self.kept) + self.merged_levels, "kept": len(self.kept), "reference": self.kept[0],
                "merged_into_other": self.merged_levels, "rows_in_other": self.merged_rows}


def category_levels(column: str, counts: pd.Series, max_levels: int) -> CategoryLevels:
    """Keep the ``max_levels`` most frequent levels of ``counts`` (level -> rows; ties by
    name), merge the rest into "other"."""
    ordered = sorted(((str(level), int(rows)) for level, rows in counts.items()), key=lambda item: (-item[1], item[0]))
    kept, merged = ordered[:max_levels], ordered[max_levels:]
    return CategoryLevels(column, tuple(level for level, _ in kept), len(merged), sum(rows for _, rows in merged))


@dataclass(frozen=True)
class Term:
    """One column of the design: a numeric covariate (``c<j>``) or the indicator of one level
    of a categorical covariate (``k<m>.<l>``; ``other_than`` set for the merged "other")."""

    id: str
    column: str
    level: str | None = None
    other_than: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.other_than:
            return f"{self.column}={OTHER_LEVEL}"
        return self.column if self.level is None else f"{self.column}={self.level}"


def design_terms(metric, levels: dict[str, CategoryLevels]) -> list[Term]:
    """The numeric covariates, then an indicator per non-reference level of each categorical one."""
    terms = [Term(f"c{j}", column) for j, column in enumerate(metric.covariates)]
    for m, column in enumerate(metric.categorical_covariates):
        found = levels[column]
        terms += [Term(f"k{m}.{position}", column, level) for position, level in enumerate(found.kept[1:])]
        if found.merged_levels:
            terms.append(Term(f"k{m}.{len(found.kept) - 1}", column, OTHER_LEVEL, other_than=found.kept))
    return terms


def term_products(kind: str, term_ids: list[str]) -> dict[str, tuple[str, ...]]:
    """The sums a collector adds for the terms: moment name -> the roles it multiplies
    (``y``, ``d`` or a term id)."""
    products = {}
    for position, term in enumerate(term_ids):
        products[f"sum_{term}"] = (term,)
        products[f"sum_y*{term}"] = ("y", term)
        if kind == "ratio":
            products[f"sum_d*{term}"] = ("d", term)
        for other in term_ids[position:]:
            products[f"sum_{term}*{other}"] = (term, other)
    return products


def _term_order(term: str) -> tuple:
    return (term[0], *map(int, term[1:].split(".")))


@dataclass(frozen=True)
class CovariateSums:
    """The terms' sums for ``G`` groups: ``Σt`` (G, q), ``Σt·u`` (G, q, q), ``Σy·t`` and ``Σd·t`` (G, q)."""

    terms: list[str]
    sum_t: np.ndarray
    sum_tt: np.ndarray
    sum_yt: np.ndarray
    sum_dt: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, kind: str, suffix: str = "") -> CovariateSums:
        """Read the term sums of every row of ``frame`` (all rows of one metric); a term is a
        ``sum_<id>`` column that is not missing on these rows."""
        terms = sorted((match.group(1) for name in frame.columns if (match := _TERM.match(name.removesuffix(suffix)))
                        and name.endswith(suffix) and frame[name].notna().any()), key=_term_order)

        def column(name: str) -> np.ndarray:
            return frame[name + suffix].to_numpy(dtype=float)

        size = len(frame)
        sum_tt = np.empty((size, len(terms), len(terms)))
        for a, first in enumerate(terms):
            for b, second in enumerate(terms[a:], start=a):
                sum_tt[:, a, b] = sum_tt[:, b, a] = column(f"sum_{first}*{second}")
        sum_t = np.stack([column(f"sum_{t}") for t in terms], axis=1) if terms else np.empty((size, 0))
        sum_yt = np.stack([column(f"sum_y*{t}") for t in terms], axis=1) if terms else np.empty((size, 0))
        sum_dt = np.stack([column(f"sum_d*{t}") for t in terms], axis=1) if kind == "ratio" and terms else sum_t
        return cls(terms, sum_t, sum_tt, sum_yt, sum_dt)

    @classmethod
    def of_units(cls, y, x, d=None) -> CovariateSums:
        """The sums of one group given its unit values, ``x`` of shape (n, q) (for tests)."""
        y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float).reshape(len(y), -1)
        d = np.ones_like(y) if d is None else np.asarray(d, dtype=float)
        return cls([f"c{j}" for j in range(x.shape[1])], x.sum(0)[None], (x.T @ x)[None], (y @ x)[None], (d @ x)[None])

    def take(self, index: np.ndarray) -> CovariateSums:
        return CovariateSums(self.terms, self.sum_t[index], self.sum_tt[index], self.sum_yt[index], self.sum_dt[index])


@dataclass(frozen=True)
class Adjustment:
    """Each arm's adjusted estimate and the variance of that estimate, per group; the residual
    degrees of freedom ``n_a - k_a - 1``; the method's wording, per group; and the variance the
    pooled covariate mean adds when the arms' slopes differ, to the difference (``var_shared``),
    to the log ratio (``var_shared_log``) and to the ratio (``var_shared_ratio``)."""

    estimate_control: np.ndarray
    estimate_variant: np.ndarray
    var_control: np.ndarray
    var_variant: np.ndarray
    df_control: np.ndarray
    df_variant: np.ndarray
    label: np.ndarray
    var_shared: np.ndarray
    var_shared_log: np.ndarray
    var_shared_ratio: np.ndarray


def regression_adjustment(control: Moments, variant: Moments, control_sums: CovariateSums, variant_sums: CovariateSums,
                          term_columns: dict[str, str] | None = None) -> Adjustment:
    """Lin's estimator for each group (see the module docstring). ``term_columns`` maps a term
    id to its covariate's name (for the method's wording; default: the id)."""
    control, variant = control.atleast_1d(), variant.atleast_1d()
    size = max(len(control.n), len(variant.n))  # one control row may face several variants
    fields = {name: np.full(size, np.nan) for name in
              ("estimate_control", "estimate_variant", "var_control", "var_variant", "df_control", "df_variant",
               "var_shared", "var_shared_log", "var_shared_ratio")}
    labels = np.full(size, "", dtype=object)
    names = term_columns or {}
    for group in range(size):
        arms = [(arm_moments.take(min(group, len(arm_moments.n) - 1)), _arm(sums, min(group, len(arm_moments.n) - 1)))
                for arm_moments, sums in ((control, control_sums), (variant, variant_sums))]
        kept = _independent_terms(arms)
        x_bar = (arms[0][1]["sum_t"] + arms[1][1]["sum_t"]) / (arms[0][0].n + arms[1][0].n)
        total = _total_centred(arms)
        scale = np.sqrt(np.diag(total))[kept]
        slopes = {}
        for (moments, sums), side in zip(arms, ("control", "variant"), strict=True):
            estimate, variance, dof, slopes[side] = _fit_arm(moments, sums, kept, scale, x_bar)
            fields[f"estimate_{side}"][group], fields[f"var_{side}"][group], fields[f"df_{side}"][group] = estimate, variance, dof
        # both predictions are taken at the pooled covariate mean x̄, itself an estimate: with
        # slopes that differ between the arms it moves the difference, Var = g'Σ_x g / N for the
        # gradient g of each scale (Lin 2013's robust errors include it; per-arm errors do not)
        units = float(arms[0][0].n + arms[1][0].n)
        spread = total[np.ix_(kept, kept)] / np.outer(scale, scale) / max(units - 1.0, 1.0)  # of the standardised x
        mean_c, mean_v = fields["estimate_control"][group], fields["estimate_variant"][group]
        for name, gradient in (("var_shared", slopes["variant"] - slopes["control"]),
                               ("var_shared_log", slopes["variant"] / mean_v - slopes["control"] / mean_c),
                               ("var_shared_ratio", slopes["variant"] / mean_c - mean_v * slopes["control"] / mean_c**2)):
            fields[name][group] = float(gradient @ spread @ gradient) / units
        source = [names.get(term.split(".")[0], term) for term in control_sums.terms]
        used = list(dict.fromkeys(name for name, keep in zip(source, kept, strict=True) if keep))
        left_out = [name if term[0] == "c" else f"a level of {name}"
                    for term, name, keep in zip(control_sums.terms, source, kept, strict=True) if not keep]
        labels[group] = f"regression adjustment ({count_of(len(used), 'covariate')}" + (
            f"; left out as constant or redundant: {', '.join(dict.fromkeys(left_out))})" if left_out else ")")
    return Adjustment(**fields, label=labels)


def _arm(sums: CovariateSums, group: int) -> dict[str, np.ndarray]:
    return {"sum_t": sums.sum_t[group], "sum_tt": sums.sum_tt[group], "sum_yt": sums.sum_yt[group],
            "sum_dt": sums.sum_dt[group]}


def _centred(moments: Moments, sums: dict) -> np.ndarray:
    n = float(moments.n)
    return sums["sum_tt"] - np.outer(sums["sum_t"], sums["sum_t"]) / n


def _total_centred(arms) -> np.ndarray:
    """The centred X'X of the two arms' units together."""
    (m_c, s_c), (m_v, s_v) = arms
    n_c, n_v = float(m_c.n), float(m_v.n)
    gap = s_c["sum_t"] / n_c - s_v["sum_t"] / n_v
    return _centred(m_c, s_c) + _centred(m_v, s_v) + n_c * n_v / (n_c + n_v) * np.outer(gap, gap)


def _independent_terms(arms) -> np.ndarray:
    """Which terms to keep: not constant over the two arms, and not a linear combination of the
    terms kept before them (greedy, in the order listed)."""
    total = _total_centred(arms)
    raw = np.diag(arms[0][1]["sum_tt"] + arms[1][1]["sum_tt"])
    varies = np.diag(total) > _CONSTANT * np.maximum(raw, np.finfo(float).tiny)
    kept = np.zeros(len(raw), dtype=bool)
    scale = np.sqrt(np.where(varies, np.diag(total), 1.0))
    standard = total / np.outer(scale, scale)
    for term in np.flatnonzero(varies):
        before = np.flatnonzero(kept)
        left = standard[term, term]
        if before.size:
            left -= standard[term, before] @ np.linalg.solve(standard[np.ix_(before, before)], standard[before, term])
        kept[term] = left > _REDUNDANT
    return kept


def _fit_arm(moments: Moments, sums: dict, kept: np.ndarray, scale: np.ndarray,
             x_bar: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """One arm's prediction at ``x_bar``, its variance with ``x_bar`` held fixed, the residual
    degrees of freedom, and the slopes on the standardised terms."""
    n, ratio, mean_d = float(moments.n), float(moments.ratio), float(moments.mean_d)
    sum_t = sums["sum_t"][kept]
    cross = _centred(moments, sums)[np.ix_(kept, kept)] / np.outer(scale, scale)
    with_y = sums["sum_yt"][kept] - float(moments.sum_y) * sum_t / n
    with_d = sums["sum_dt"][kept] - float(moments.sum_d) * sum_t / n
    with_l = (with_y - ratio * with_d) / mean_d / scale  # centred Σ L·t, standardised
    values, vectors = np.linalg.eigh(cross) if cross.size else (np.empty(0), np.empty((0, 0)))
    rank = values > 1e-10 * max(values.max(initial=0.0), np.finfo(float).tiny)
    inverse = (vectors[:, rank] / values[rank]) @ vectors[:, rank].T
    slope = inverse @ with_l  # per standardised term
    gap = (x_bar[kept] - sum_t / n) / scale
    residual = max((n - 1.0) * float(moments.var_linearized) - float(with_l @ slope), 0.0)
    dof = n - int(rank.sum()) - 1.0
    variance = residual / dof * (1.0 / n + float(gap @ inverse @ gap)) if dof > 0 else np.nan
    return ratio + float(slope @ gap), variance, dof, slope


def term_columns(metric) -> dict[str, str]:
    """Term id prefix -> the covariate it comes from (``c<j>`` numeric, ``k<m>.*`` categorical)."""
    names = {f"c{j}": column for j, column in enumerate(metric.covariates)}
    return names | {f"k{m}": column for m, column in enumerate(metric.categorical_covariates)}
