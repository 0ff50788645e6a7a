"""Multiple-testing corrections for a family of p-values, by statsmodels' ``multipletests``,
except Holm's (the default), computed here: statsmodels' Holm branch runs a full garbage
collection on every call (``gc.collect()``, 50 ms in a notebook's process, half of a whole
experiment analysis's Python time), and the step-down is three array operations.

Family-wise error rate (the chance of even one false alarm):

* ``bonferroni``: ``p·m``;
* ``holm`` (default): step-down, ``max_{j≤i} min(1, (m - j + 1)·p_(j))`` — same guarantee as
  Bonferroni and never less powerful (Holm 1979);
* ``holm_sidak``: Holm's steps with Šidák's ``1 - (1 - p)^(m - j + 1)``, slightly more powerful,
  exact for independent tests (Šidák 1967);
* ``hochberg``: step-up, ``min_{j≥i} min(1, (m - j + 1)·p_(j))`` — more powerful than Holm, valid
  for independent or positively dependent tests (Hochberg 1988).

False discovery rate (the expected share of false alarms among the clear results):

* ``fdr_bh``: Benjamini–Hochberg step-up, ``min_{j≥i} min(1, m·p_(j)/j)`` (Benjamini & Hochberg
  1995), for independent or positively dependent tests;
* ``fdr_by``: Benjamini–Yekutieli, BH times ``Σ_{k≤m} 1/k``, valid under any dependence
  (Benjamini & Yekutieli 2001).

``none``: unadjusted. Missing p-values (NaN) stay missing and do not count towards ``m``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.multitest import multipletests

__all__ = ["CORRECTIONS", "FAMILYWISE", "adjust_p_values"]

# our name -> statsmodels' name
_STATSMODELS = {"holm": "holm", "bonferroni": "bonferroni", "holm_sidak": "holm-sidak", "hochberg": "simes-hochberg",
                "fdr_bh": "fdr_bh", "fdr_by": "fdr_by"}
CORRECTIONS = (*_STATSMODELS, "none")
FAMILYWISE = ("holm", "bonferroni", "holm_sidak", "hochberg")


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values for ``method`` (one of :data:`CORRECTIONS`), in the input order."""
    if method not in CORRECTIONS:
        raise ValueError(f"correction {method!r} is not one of {', '.join(map(repr, CORRECTIONS))}")
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    if not present.any():
        return adjusted
    if method == "none":
        adjusted[present] = values[present]
    elif method == "holm":
        adjusted[present] = _holm(values[present])
    else:
        adjusted[present] = multipletests(values[present], method=_STATSMODELS[method])[1]
    return adjusted


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down: the running maximum of ``(m - j + 1)·p_(j)`` over the sorted p-values,
    capped at 1, in the input order (what statsmodels' ``multipletests(method="holm")`` gives)."""
    order = np.argsort(p_values, kind="stable")
    steps = np.minimum(1.0, np.maximum.accumulate(p_values[order] * np.arange(len(p_values), 0, -1)))
    adjusted = np.empty_like(steps)
    adjusted[order] = steps
    return adjusted
