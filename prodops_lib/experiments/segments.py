"""The effect within segments (country, platform, ...): exploratory, and labelled so.

Per segment column, the largest ``max_segment_values`` segments (by units of the primary
metric) are kept and the rest are summed into "other" (the sums add up, so no data is read
again). Every mean, proportion and ratio metric is compared within each segment, and
p-values are adjusted over all segments and variants of that column and metric with the
experiment's correction. Looking at many segments finds "effects" by chance, and the
experiment was not randomised to compare them: findings here are hypotheses for a new
experiment, never a reason to ship.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .corrections import adjust_p_values
from .effects import compare_metric
from .moments import MOMENT_COLUMNS
from .spec import ExperimentSpec

__all__ = ["EXPLORATORY_WARNING", "OTHER_SEGMENT", "segment_table"]

OTHER_SEGMENT = "other"
EXPLORATORY_WARNING = (
    "Segment results are exploratory: with many segments some differ by chance, and the experiment was "
    "not designed to compare them. Treat them as ideas for a follow-up experiment, not as reasons to ship."
)


def _grouped(rows: pd.DataFrame, spec: ExperimentSpec) -> pd.DataFrame:
    """Keep the largest segments, sum the rest into "other"; add ``units`` and order by size."""
    ranking_metric = next((m.name for m in spec.metrics if m.role == "primary" and m.kind != "quantile"),
                          rows["metric"].iloc[0])
    size = rows[rows["metric"] == ranking_metric].groupby("segment")["n"].sum().sort_values(ascending=False, kind="stable")
    kept = list(size.index[: spec.max_segment_values]) if len(size) > spec.max_segment_values + 1 else list(size.index)
    label = rows["segment"].where(rows["segment"].isin(kept), OTHER_SEGMENT)
    sums = [name for name in rows.columns if name in MOMENT_COLUMNS or name.startswith("sum_")]  # with .regression's
    grouped = rows.assign(segment=label).groupby(["metric", "variant", "segment"], sort=False)[sums].sum(min_count=1)
    grouped = grouped.reset_index()
    totals = grouped[grouped["metric"] == ranking_metric].groupby("segment")["n"].sum()
    grouped["units"] = grouped["segment"].map(totals).fillna(0).astype(int)
    order = {segment: i for i, segment in enumerate([*kept, OTHER_SEGMENT])}
    return grouped.assign(__order=grouped["segment"].map(order)).sort_values("__order", kind="stable").drop(columns="__order")


def segment_table(segments: pd.DataFrame | None, spec: ExperimentSpec) -> pd.DataFrame | None:
    """Effects per segment, largest segments first, with adjusted p-values and ``exploratory``."""
    if segments is None or segments.empty:
        return None
    parts = []
    for column in spec.segments:
        grouped = _grouped(segments[segments["segment_column"] == column].drop(columns="segment_column"), spec)
        for metric in spec.metrics:
            if metric.kind == "quantile":
                continue
            effects = compare_metric(grouped, metric, spec.control, spec.alpha, keys=["segment"],
                                     relative_interval=spec.relative_interval)
            if effects.empty:
                continue
            effects["p_value_adjusted"] = adjust_p_values(effects["p_value"].to_numpy(), spec.correction)
            units = grouped.drop_duplicates("segment").set_index("segment")["units"]
            effects.insert(0, "segment_column", column)
            effects["units"] = effects["segment"].map(units).to_numpy()
            parts.append(effects)
    if not parts:
        return None
    table = pd.concat(parts, ignore_index=True)
    table["significant"] = (table["p_value_adjusted"] < spec.alpha).astype(bool)
    table["exploratory"] = True
    table["control"] = spec.control
    metric_position = table["metric"].map({m.name: i for i, m in enumerate(spec.metrics)}).to_numpy()
    column_position = table["segment_column"].map({c: i for i, c in enumerate(spec.segments)}).to_numpy()
    is_other = (table["segment"] == OTHER_SEGMENT).to_numpy()
    order = np.lexsort((table["variant"].astype(str), -table["units"].to_numpy(), is_other, metric_position,
                        column_position))
    columns = ["segment_column", "segment", "units", "metric", "variant", "control", "n_control", "n_variant",
               "mean_control", "mean_variant", "abs_effect", "abs_ci_low", "abs_ci_high", "rel_effect", "rel_ci_low",
               "rel_ci_high", "p_value", "p_value_adjusted", "significant", "exploratory", "method"]
    return table.iloc[order][columns].reset_index(drop=True)
