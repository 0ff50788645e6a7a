"""The allocation charts, in the report theme (:func:`prodops_lib.display.use_theme`).

Each function draws one chart from a result object and returns the figure; the table behind
it is the result's ``to_frame()`` (or the frame named in the docstring), which the notebook
saves with :func:`prodops_lib.display.save_result`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from prodops_lib.charts import COLOURS, HIGHLIGHTED, MoneyFormatter, legend_outside
from prodops_lib.display import PALETTE
from prodops_lib.labels import money

from .cost import CostByTheme
from .estimates import EstimateAccuracy
from .shares import ORGANISATION, EffortShare
from .targets import TargetComparison

__all__ = ["cost_bars", "estimate_ratio", "share_area", "target_deviation", "team_heatmap",
           "theme_colours", "unclassified_trend"]

_UNCLASSIFIED = "#C8C8C8"
_OTHER_THEMES = "#E6E6E6"  # lighter than Unclassified: classified work, only not told apart
STATUS_COLOURS = {"on target": "#1b7f4b", "drifting": "#E69F00", "off target": "#D55E00", "no effort": "#999999"}


def theme_colours(themes: tuple[str, ...] | list[str], unclassified: str) -> dict[str, str]:
    """One stable colour per theme (grey for Unclassified): a stacked share must tell every
    theme apart, so it keeps a colour each instead of greying all but the largest."""
    colours, position = {}, 0
    for theme in themes:
        if theme == unclassified:
            colours[theme] = _UNCLASSIFIED
        else:
            colours[theme] = COLOURS[position % len(COLOURS)]
            position += 1
    return colours


def _figure(ax, size: tuple[float, float]):
    if ax is None:  # a Figure without pyplot: a notebook shows it once, as the cell's value
        fig = Figure(figsize=size, layout="constrained")
        return fig, fig.subplots()
    return ax.figure, ax


OTHER_THEMES = "Other themes"


def share_area(shares: EffortShare, team: str = ORGANISATION, ax=None) -> Figure:
    """Stacked area of each theme's share by month: the :data:`HIGHLIGHTED` largest themes of
    the last month in colour, the others together in light grey and Unclassified on top in
    grey (more colours cannot be told apart; the table beside it lists every theme)."""
    full = shares.matrix(team)
    themes = [t for t in shares.themes if t != shares.unclassified and t in full.columns]
    top = list(full[themes].iloc[-1].nlargest(HIGHLIGHTED).index) if themes else []
    top = [t for t in themes if t in top]  # the taxonomy's order, so colours stay put
    rest = [t for t in themes if t not in top]
    matrix = full[top].copy()
    if rest:
        matrix[OTHER_THEMES] = full[rest].sum(axis=1)
    matrix[shares.unclassified] = full.get(shares.unclassified, 0.0)
    ordered = list(matrix.columns)
    colours = theme_colours(shares.themes, shares.unclassified) | {OTHER_THEMES: _OTHER_THEMES}
    fig, ax = _figure(ax, (9.5, 4.6))
    x = np.arange(len(matrix))
    ax.stackplot(x, matrix.T.to_numpy(), labels=ordered, colors=[colours[t] for t in ordered],
                 edgecolor="white", linewidth=0.4)
    ax.set_xticks(x, matrix.index.astype(str))
    ax.set_xlim(0, max(len(x) - 1, 1))
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(f"share of {shares.unit.replace('_', ' ')}")
    where = "the organisation" if team == ORGANISATION else f"team {team}"
    ax.set_title(f"Where effort went, by month ({where})")
    handles, labels = ax.get_legend_handles_labels()
    legend_outside(fig, handles[::-1], labels[::-1])  # top to bottom, as the areas are stacked
    return fig


def target_deviation(comparison: TargetComparison, team: str = ORGANISATION, ax=None) -> Figure:
    """Diverging bars: actual minus target in percentage points, coloured by status, with the
    on-target and drifting bands shaded."""
    rows = comparison.for_team(team).sort_values("deviation_pp")
    fig, ax = _figure(ax, (9.0, 0.45 * len(rows) + 1.4))
    y = np.arange(len(rows))
    bands = comparison.bands
    ax.axvspan(-bands.drifting_pp, bands.drifting_pp, color="#fff6e0", zorder=0)
    ax.axvspan(-bands.on_target_pp, bands.on_target_pp, color="#e8f5ee", zorder=0)
    ax.barh(y, rows["deviation_pp"].fillna(0), color=[STATUS_COLOURS[s] for s in rows["status"]], zorder=2)
    ax.axvline(0, color="#333333", linewidth=0.8, zorder=3)
    ax.set_yticks(y, rows["theme"])
    limit = max(float(np.nanmax(np.abs(rows["deviation_pp"].to_numpy()))) if len(rows) else 0, bands.drifting_pp) * 1.35
    ax.set_xlim(-limit, limit)
    for position, row in zip(y, rows.itertuples(), strict=True):
        if np.isnan(row.deviation_pp):
            continue
        text = f"{row.actual_share:.0%} vs {row.target_share:.0%}"
        inside = row.deviation_pp >= 0
        ax.text(row.deviation_pp + (0.3 if inside else -0.3), position, text, va="center",
                ha="left" if inside else "right", fontsize=8.5, color="#333333", zorder=4)
    ax.set_xlabel("actual − target (percentage points)")
    where = "organisation" if team == ORGANISATION else f"team {team}"
    ax.set_title(f"Actual against plan, {comparison.period} ({where}; {comparison.basis} effort)")
    ax.grid(axis="y", visible=False)
    meaning = {"on target": f"on target (within ±{bands.on_target_pp:g} pp)",
               "drifting": f"drifting (within ±{bands.drifting_pp:g} pp)", "off target": "off target",
               "no effort": "no effort"}
    shown = [status for status in STATUS_COLOURS if status in set(rows["status"])]
    legend_outside(fig, [Patch(color=STATUS_COLOURS[s]) for s in shown], [meaning[s] for s in shown], below=True,
                   ncols=len(shown))
    return fig


def team_heatmap(shares: EffortShare, period: str | None = None, ax=None) -> Figure:
    """Teams × themes: each cell is the theme's share of the team's effort in ``period``."""
    period = period or shares.periods[-1]
    frame = shares.frame
    rows = frame[(frame[shares.granularity] == period) & (frame["team"] != ORGANISATION)]
    table = rows.pivot_table(index="team", columns="theme", values="share", aggfunc="sum")
    table = table.reindex(columns=list(shares.themes)).fillna(0.0)
    table = table.loc[[t for t in shares.teams if t in table.index]]
    fig, ax = _figure(ax, (10.5, 0.5 * len(table) + 2.6))
    image = ax.imshow(table.to_numpy(), cmap="Blues", vmin=0, vmax=max(0.5, float(table.to_numpy().max())),
                      aspect="auto")
    ax.set_xticks(np.arange(table.shape[1]), table.columns, rotation=35, ha="right")
    ax.set_yticks(np.arange(table.shape[0]), table.index)
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        if value >= 0.005:
            ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if value > 0.35 else "#222222")
    ax.grid(False)
    ax.set_title(f"Each team's effort by theme, {period} (share of all the team's effort)")
    fig.colorbar(image, ax=ax, format=PercentFormatter(1.0), fraction=0.03, pad=0.02)
    return fig


def cost_bars(cost: CostByTheme, ax=None) -> Figure:
    """Loaded cost per theme in the period; capitalisable themes in blue."""
    rows = cost.frame.sort_values("cost")
    fig, ax = _figure(ax, (9.0, 0.42 * len(rows) + 1.4))
    colours = [PALETTE[0] if flag else PALETTE[1] for flag in rows["capitalizable"]]
    ax.barh(rows["theme"], rows["cost"], color=colours)
    for position, row in enumerate(rows.itertuples()):
        ax.text(row.cost, position, f"  {money(row.cost, cost.currency)} ({row.share:.0%})", va="center", fontsize=8.5)
    ax.set_xlim(0, rows["cost"].max() * 1.3 if len(rows) else 1)
    ax.xaxis.set_major_formatter(MoneyFormatter(cost.currency))
    ax.set_xlabel(f"loaded cost ({cost.currency})" if cost.currency else "loaded cost")
    ax.set_title(f"Cost per theme, {cost.period}: {cost.capitalizable_share:.0%} capitalisable (blue)")
    ax.grid(axis="y", visible=False)
    return fig


def unclassified_trend(shares: EffortShare, ax=None) -> Figure:
    """The share of effort no rule could place, by month: the data-quality trend."""
    series = shares.unclassified_share()
    fig, ax = _figure(ax, (8.0, 3.2))
    ax.plot(series.index.astype(str), series.to_numpy(), marker="o", color=PALETTE[3])
    for x, value in zip(series.index.astype(str), series.to_numpy(), strict=True):
        ax.annotate(f"{value:.1%}", (x, value), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8.5)
    ax.set_ylim(0, max(0.1, float(series.max()) * 1.4) if len(series) else 0.1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share unclassified")
    ax.set_title("Effort that matches no theme rule, by month")
    return fig


def estimate_ratio(estimates: EstimateAccuracy, ax=None) -> Figure:
    """Actual over estimated hours per theme (1 = on estimate), pooled over finished items."""
    rows = estimates.frame.sort_values("actual_to_estimate")
    fig, ax = _figure(ax, (8.5, 0.42 * len(rows) + 1.4))
    colours = [PALETTE[3] if r > 1.1 else (PALETTE[2] if r < 0.9 else PALETTE[0]) for r in rows["actual_to_estimate"]]
    ax.barh(rows["theme"], rows["actual_to_estimate"], color=colours)
    ax.axvline(1.0, color="#333333", linewidth=0.8)
    for position, row in enumerate(rows.itertuples()):
        ax.text(row.actual_to_estimate, position, f"  ×{row.actual_to_estimate:.2f} ({row.items:,.0f} items)",
                va="center", fontsize=8.5)
    ax.set_xlim(0, rows["actual_to_estimate"].max() * 1.35 if len(rows) else 2)
    ax.set_xlabel("actual hours ÷ estimated hours")
    ax.set_title("Estimates against actuals, finished items")
    ax.grid(axis="y", visible=False)
    return fig
