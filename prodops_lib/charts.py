"""What every chart of the kit does the same way: its series colours, how many series are told
apart by colour, where a legend goes and how point labels are kept apart.

The rules a PM can rely on in any report: at most :data:`HIGHLIGHTED` series in colour and the
rest in grey (more colours cannot be told apart at a glance); a legend never covers data (it
sits outside the axes, where constrained layout makes room for it); labels never overlap
(adjustText moves them apart). ``tests/chart_checks.py`` measures the last two on every chart.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.ticker import Formatter

from prodops_lib.display import PALETTE
from prodops_lib.labels import money, step_decimals

__all__ = ["COLOURS", "GREY", "HIGHLIGHTED", "MoneyFormatter", "label_line_ends", "label_points", "legend_outside",
           "no_data", "spread"]


class MoneyFormatter(Formatter):
    """Tick labels as amounts of ``currency`` (``$1,200``, ``+$0.50``) with the decimals the
    ticks' step needs: ticks 0.001 apart read ``$0.001``, not all ``$0.00``. ``signed`` puts a
    + on gains (a difference between variants)."""

    def __init__(self, currency: str | None, *, signed: bool = False) -> None:
        self.currency, self.signed = currency, signed

    def format_ticks(self, values) -> list[str]:
        ticks = sorted(set(values))
        step = min((b - a for a, b in itertools.pairwise(ticks)), default=0.0)
        return [self._text(value, step) for value in values]

    def __call__(self, value: float, pos: int | None = None) -> str:  # one value alone: the cursor's readout
        return self._text(value, 10 ** math.floor(math.log10(abs(value) / 100)) if value else 0.0)

    def _text(self, value: float, step: float) -> str:
        return money(value, self.currency, f"{'+' if self.signed else ''},.{step_decimals(step, self.currency)}f")

HIGHLIGHTED = 5  # series in colour per chart; the rest are grey
GREY = "#BBBBBB"
# Okabe–Ito without black, then colour-blind-safe extras from Paul Tol's "muted" set, for
# charts whose categories need a colour each (stacked shares, channels).
COLOURS = [c for c in PALETTE if c != "#000000"] + ["#882255", "#44AA99", "#999933", "#AA4499", "#332288",
                                                     "#DDCC77", "#117733", "#88CCEE"]


def no_data(title: str, message: str) -> Figure:
    """A small figure that says why a chart is empty, instead of empty axes."""
    figure = Figure(figsize=(8.5, 1.6), layout="constrained")
    axis = figure.subplots()
    axis.set_axis_off()
    axis.set_title(title)
    axis.text(0.5, 0.4, message, ha="center", va="center", fontsize=11, color="#8a6100", wrap=True)
    return figure


def legend_outside(figure: Figure, handles: Sequence | None = None, labels: Sequence[str] | None = None, *,
                   below: bool = False, **options) -> Legend | None:
    """The figure's legend beside (right, top-aligned) or below its axes, never over the data.

    Matplotlib's ``outside`` locations let constrained layout shrink the axes to make room;
    without ``handles`` the labelled artists of every axes are collected (twin axes included).
    ``below`` suits a short legend under a wide chart; a long one goes to the right.
    """
    if handles is None:
        pairs = [pair for axis in figure.axes for pair in zip(*axis.get_legend_handles_labels(), strict=True)]
        handles, labels = [h for h, _ in pairs], [label for _, label in pairs]
    if not handles:
        return None
    where = {"loc": "outside lower center", "ncols": min(len(handles), 3)} if below else {"loc": "outside right upper"}
    return figure.legend(handles, labels, **(where | {"fontsize": 9} | options))


def label_points(axis: Axes, x: Sequence[float], y: Sequence[float], labels: Sequence[str], *,
                 fontsize: float = 9, **text_options) -> list[Text]:
    """Name each point of a scatter, the labels pushed apart from each other and from the points
    by adjustText (a short leader line joins a label moved away from its point).

    The figure is laid out first: adjustText measures text in pixels, so the axes must have
    their final size. Deterministic: adjustText's jitter is seeded and the iterations bounded.
    """
    from adjustText import adjust_text

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    texts = [axis.text(xi, yi, str(label), fontsize=fontsize, **text_options)
             for xi, yi, label in zip(x, y, labels, strict=True)]
    if texts:
        axis.figure.draw_without_rendering()
        adjust_text(texts, x=x, y=y, ax=axis, iter_lim=500, expand=(1.15, 1.4),
                    arrowprops={"arrowstyle": "-", "color": "#777777", "linewidth": 0.6})
    return texts


def label_line_ends(axis: Axes, ends: Sequence[float], labels: Sequence[str], colours: Sequence[str], *,
                    fontsize: float = 9, gap: float = 1.3) -> list[Text]:
    """Name lines directly, just right of the axes, instead of in a legend: each label at its
    line's last value (``ends``), moved up or down just enough that no two overlap (``gap``
    line heights apart), in the line's colour.

    Direct labels spare the reader the trip to a legend and back; the spacing is done in
    pixels after layout, so it holds whatever the data range.
    """
    if not len(ends):
        return []
    figure = axis.figure
    figure.draw_without_rendering()
    left = axis.get_xlim()[0]
    wanted = np.array([axis.transData.transform((left, end))[1] for end in ends])
    positions = spread(wanted, fontsize * gap * figure.dpi / 72)
    texts = []
    for position, label, colour in zip(positions, labels, colours, strict=True):
        y = axis.transData.inverted().transform((0, position))[1]
        texts.append(axis.annotate(str(label), (1, y), xycoords=("axes fraction", "data"), xytext=(6, 0),
                                   textcoords="offset points", va="center", fontsize=fontsize, color=colour,
                                   annotation_clip=False))
    return texts


def spread(wanted: Sequence[float], step: float) -> np.ndarray:
    """Positions as near ``wanted`` as they can be while at least ``step`` apart, order kept:
    labels that would collide form a block centred on where they wanted to be, and blocks that
    then collide merge (a label alone stays where it is)."""
    wanted = np.asarray(wanted, dtype=float)
    order = np.argsort(wanted, kind="stable")
    blocks: list[list[float]] = []  # each: the wanted positions of its labels, bottom to top
    for value in wanted[order]:
        blocks.append([value])
        while len(blocks) > 1 and _bottom(blocks[-1], step) < _bottom(blocks[-2], step) + len(blocks[-2]) * step:
            blocks[-2:] = [blocks[-2] + blocks[-1]]
    placed = np.concatenate([_bottom(block, step) + step * np.arange(len(block)) for block in blocks])
    positions = np.empty_like(placed)
    positions[order] = placed
    return positions


def _bottom(block: list[float], step: float) -> float:
    """Where a block of labels ``step`` apart starts when centred on its labels' wanted mean."""
    return float(np.mean(block)) - step * (len(block) - 1) / 2
