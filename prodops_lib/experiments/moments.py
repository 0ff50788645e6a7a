"""Sufficient statistics: everything the tests need, in a few sums per metric and group.

For a metric with unit value ``y``, denominator ``d`` (1 for means and proportions) and
pre-period covariate ``x``, a group (a variant, or a variant within a segment or a day) is
summarised by ``n`` and the sums of ``y, y², d, d², yd, x, x², yx, dx``. Sums add up, so
segments can be merged into "other" and days accumulated without touching the units again;
and the sums can be computed anywhere (numpy, DuckDB, a dashboard) and analysed the same way.

The linearised estimator (Deng et al. 2018, "Applying the Delta Method in Metric
Analytics") treats means and ratios alike: with ``R = Σy / Σd`` and ``d̄ = Σd / n``, the unit
contribution is ``L = (y - R d) / d̄`` and ``Var(R̂) ≈ Var(L) / n``. For a mean ``d ≡ 1`` and
this is the usual ``s² / n``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd


class ArrayFields:
    """For result dataclasses whose fields are arrays with one entry per comparison."""

    def to_frame(self) -> pd.DataFrame:
        """One row per comparison, one column per field."""
        return pd.DataFrame({item.name: np.atleast_1d(getattr(self, item.name)) for item in fields(self)})

__all__ = ["MOMENT_COLUMNS", "ArrayFields", "Moments"]

MOMENT_COLUMNS = ("n", "sum_y", "sum_y2", "sum_d", "sum_d2", "sum_yd", "sum_x", "sum_x2", "sum_yx", "sum_dx")


@dataclass(frozen=True)
class Moments:
    """Sums for one metric over one or many groups (each field a float or an array)."""

    n: np.ndarray
    sum_y: np.ndarray
    sum_y2: np.ndarray
    sum_d: np.ndarray
    sum_d2: np.ndarray
    sum_yd: np.ndarray
    sum_x: np.ndarray
    sum_x2: np.ndarray
    sum_yx: np.ndarray
    sum_dx: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Moments:
        """Read the moment columns of a frame (one group per row)."""
        return cls(**{name: frame[name].to_numpy(dtype=float) for name in MOMENT_COLUMNS})

    @classmethod
    def of_units(cls, y: np.ndarray, d: np.ndarray | None = None, x: np.ndarray | None = None) -> Moments:
        """The sums of one group given its unit values (for tests and small data)."""
        y = np.asarray(y, dtype=float)
        d = np.ones_like(y) if d is None else np.asarray(d, dtype=float)
        x = np.zeros_like(y) if x is None else np.asarray(x, dtype=float)
        return cls(
            n=float(len(y)), sum_y=y.sum(), sum_y2=(y * y).sum(), sum_d=d.sum(), sum_d2=(d * d).sum(),
            sum_yd=(y * d).sum(), sum_x=x.sum(), sum_x2=(x * x).sum(), sum_yx=(y * x).sum(), sum_dx=(d * x).sum(),
        )

    def __add__(self, other: Moments) -> Moments:
        return Moments(**{name: getattr(self, name) + getattr(other, name) for name in MOMENT_COLUMNS})

    def take(self, index: np.ndarray | int) -> Moments:
        """The groups at ``index``."""
        return Moments(**{name: np.asarray(getattr(self, name))[index] for name in MOMENT_COLUMNS})

    def atleast_1d(self) -> Moments:
        """The same sums as float arrays of at least one dimension."""
        return Moments(**{name: np.atleast_1d(np.asarray(getattr(self, name), dtype=float)) for name in MOMENT_COLUMNS})

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: np.atleast_1d(getattr(self, name)) for name in MOMENT_COLUMNS})

    def _cov(self, sum_ab: np.ndarray, sum_a: np.ndarray, sum_b: np.ndarray) -> np.ndarray:
        # (Σab - Σa·(Σb/n)) / (n - 1); written so that b ≡ 1 gives exactly 0
        with np.errstate(invalid="ignore", divide="ignore"):
            return (sum_ab - sum_a * (sum_b / self.n)) / (self.n - 1.0)

    @property
    def ratio(self) -> np.ndarray:
        """Σy / Σd: the mean for means and proportions, the ratio for ratio metrics."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum_y / self.sum_d

    @property
    def mean_d(self) -> np.ndarray:
        return self.sum_d / self.n

    @property
    def mean_x(self) -> np.ndarray:
        return self.sum_x / self.n

    @property
    def var_x(self) -> np.ndarray:
        return self._cov(self.sum_x2, self.sum_x, self.sum_x)

    @property
    def var_linearized(self) -> np.ndarray:
        """Sample variance of ``L = (y - R d) / d̄`` (equals ``s²_y`` for means)."""
        ratio = self.ratio
        var_y = self._cov(self.sum_y2, self.sum_y, self.sum_y)
        cov_yd = self._cov(self.sum_yd, self.sum_y, self.sum_d)
        var_d = self._cov(self.sum_d2, self.sum_d, self.sum_d)
        variance = (var_y - 2.0 * ratio * cov_yd + ratio * ratio * var_d) / self.mean_d**2
        return np.maximum(variance, 0.0)

    @property
    def cov_linearized_x(self) -> np.ndarray:
        """Sample covariance of ``L`` with the covariate ``x``."""
        cov_yx = self._cov(self.sum_yx, self.sum_y, self.sum_x)
        cov_dx = self._cov(self.sum_dx, self.sum_d, self.sum_x)
        return (cov_yx - self.ratio * cov_dx) / self.mean_d

