"""Multiple-testing corrections for a family of p-values.

* ``bonferroni``: ``p·m`` (controls the family-wise error rate);
* ``holm`` (default): step-down, ``max_{j≤i} min(1, (m - j + 1)·p_(j))`` — same guarantee as
  Bonferroni and never less powerful (Holm 1979);
* ``fdr_bh``: Benjamini–Hochberg step-up, ``min_{j≥i} min(1, m·p_(j)/j)`` — controls the false
  discovery rate (Benjamini & Hochberg 1995);
* ``none``: unadjusted.

Missing p-values (NaN) stay missing and do not count towards ``m``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["CORRECTIONS", "adjust_p_values"]

CORRECTIONS = ("holm", "bonferroni", "fdr_bh", "none")


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values for ``method`` (one of :data:`CORRECTIONS`), in the input order."""
    if method not in CORRECTIONS:
        raise ValueError(f"correction {method!r} is not one of {', '.join(CORRECTIONS)}")
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    p = values[present]
    m = len(p)
    if m == 0:
        return adjusted
    if method == "none":
        result = p.copy()
    elif method == "bonferroni":
        result = np.minimum(p * m, 1.0)
    else:
        order = np.argsort(p, kind="stable")
        ranked = p[order]
        if method == "holm":
            steps = np.maximum.accumulate((m - np.arange(m)) * ranked)
        else:
            steps = np.minimum.accumulate((m * ranked / np.arange(1, m + 1))[::-1])[::-1]
        result = np.empty(m)
        result[order] = np.minimum(steps, 1.0)
    adjusted[present] = result
    return adjusted
