"""What changed since last month, from the previous period's saved review results.

The review saves three small tables every period (``allocation_by_theme``, ``demand_supply``,
``experiments``); next month's review reads them back from
``<reports_root>/<previous period>/results/<review name>/`` and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prodops_lib.io import Column, DropLog, InputError, Schema, load_table
from prodops_lib.params import previous_period
from prodops_lib.review.experiments import DECIDED

SAVED_TABLES = {
    "allocation_by_theme": Schema(Column("theme"), Column("share", "float")),
    "demand_supply": Schema(Column("theme"), Column("demand_items_share", "float"),
                            Column("effort_share", "float"), Column("gap_pp", "float")),
    "experiments": Schema(Column("name"), Column("decision")),
}


@dataclass(frozen=True)
class Changes:
    """Moves between ``previous_period`` and ``period``; ``available`` is False (with
    ``message`` saying why) when the previous period's results do not exist."""

    period: str
    previous_period: str
    available: bool
    message: str
    allocation_moves: pd.DataFrame
    demand_moves: pd.DataFrame
    emerging: pd.DataFrame
    fading: pd.DataFrame
    decisions: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Every move in one tidy table: ``kind, item, previous, current, change``."""
        parts = [
            self.allocation_moves.assign(kind="effort share").rename(columns={"theme": "item", "change_pp": "change"}),
            self.demand_moves.assign(kind="demand share").rename(columns={"theme": "item", "change_pp": "change"}),
            self.decisions.assign(kind="decision").rename(columns={"name": "item"}),
        ]
        frames = [p.reindex(columns=["kind", "item", "previous", "current", "change"]) for p in parts if len(p)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["kind", "item", "previous", "current", "change"])


def load_saved_review(folder: Path, log: DropLog) -> dict[str, pd.DataFrame] | None:
    """The tables a review saved, or None when that folder or any table is missing."""
    if not folder.is_dir():
        return None
    tables = {}
    for name, schema in SAVED_TABLES.items():
        path = folder / f"{name}.csv"
        if not path.is_file():
            return None
        try:
            tables[name] = load_table(path, schema, log=log, label=f"previous review: {name}.csv", allow_empty=True)
        except InputError:
            return None
    return tables


def what_changed(
    period: str,
    current: dict[str, pd.DataFrame],
    previous: dict[str, pd.DataFrame] | None,
    trends: pd.DataFrame | None,
    *,
    top: int = 5,
) -> Changes:
    """Compare this period's review tables with the previous period's (see :class:`Changes`)."""
    before = previous_period(period)
    emerging, fading = _trend_rows(trends, "emerging"), _trend_rows(trends, "fading")
    if previous is None:
        empty_moves = pd.DataFrame(columns=["theme", "previous", "current", "change_pp"])
        return Changes(period, before, False, f"No saved review for {before}: this is the first period, so there is nothing to compare with.",
                       empty_moves, empty_moves, emerging, fading, _decisions(current["experiments"], None))
    allocation = _moves(previous["allocation_by_theme"], current["allocation_by_theme"], "share", top)
    demand = _moves(previous["demand_supply"], current["demand_supply"], "demand_items_share", top)
    decisions = _decisions(current["experiments"], previous["experiments"])
    return Changes(period, before, True, f"Compared with the saved review of {before}.",
                   allocation, demand, emerging, fading, decisions)


def _moves(before: pd.DataFrame, after: pd.DataFrame, column: str, top: int) -> pd.DataFrame:
    joined = before[["theme", column]].merge(after[["theme", column]], on="theme", how="outer",
                                              suffixes=("_previous", "_current"))
    joined = joined.rename(columns={f"{column}_previous": "previous", f"{column}_current": "current"})
    # a theme known on one side only moved from or to zero; unknown on both sides is no move
    joined = joined.dropna(subset=["previous", "current"], how="all")
    joined[["previous", "current"]] = joined[["previous", "current"]].fillna(0.0)
    joined["change_pp"] = 100 * (joined["current"] - joined["previous"])
    order = joined["change_pp"].abs().sort_values(ascending=False, kind="stable").index
    return joined.loc[order].head(top).reset_index(drop=True)


def _decisions(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Experiments decided this period: decided now, and new or undecided last period."""
    before = {} if previous is None else dict(zip(previous["name"], previous["decision"], strict=True))
    rows = []
    for name, decision in zip(current["name"], current["decision"], strict=True):
        earlier = before.get(name)
        if decision in DECIDED and earlier != decision:
            rows.append({"name": name, "previous": earlier or "—", "current": decision, "change": "decided"})
        elif earlier is not None and earlier != decision:
            rows.append({"name": name, "previous": earlier, "current": decision, "change": "changed"})
    return pd.DataFrame(rows, columns=["name", "previous", "current", "change"])


def _trend_rows(trends: pd.DataFrame | None, kind: str) -> pd.DataFrame:
    if trends is None:
        return pd.DataFrame(columns=["label", "product_theme"])
    return trends[trends["trend"] == kind].reset_index(drop=True)
