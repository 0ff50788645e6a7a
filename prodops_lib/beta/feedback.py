"""What beta users raised: their feedback read, redacted and grouped into two-level themes by
the feedback report's own pipeline, and sized by the beta units that raised each issue.

The ``feedback:`` block of the beta's parameters has the feedback report's shape
(:class:`prodops_lib.feedback.config.FeedbackParams`: ``sources`` with their column maps, and
optionally ``clustering``, ``duplicates``, ``taxonomy``). The ``customer`` column of each source
names the beta unit. A row counts when it comes from a beta unit on or after the day that unit
entered the beta; every other row is dropped and counted with its reason (not from a beta
unit, before entry), as are the feedback loader's own drops (empty text, outside the dates).

An issue **blocks** general availability when at least ``blocking_share`` of all beta units
raised it, unless its feedback is scored as praise: an average of at least 4 stars of 5, or
9 of 10 on the recommend scale (NPS promoters), over an issue most of whose texts are scored. Issues group feedback by what it is about, not
by how people feel, so without a score a widely shared compliment would block too; the page
says so when no score is mapped.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from prodops_lib.feedback.cluster import OTHER
from prodops_lib.feedback.config import FeedbackParams
from prodops_lib.feedback.describe import ThemeDescription, quotes_of
from prodops_lib.feedback.pipeline import group_feedback
from prodops_lib.feedback.prepare import load_feedback, prepare_feedback, texts_needed_for_themes
from prodops_lib.io import DropLog, id_text

from .inputs import BetaPanel

__all__ = ["PRAISE_NPS", "PRAISE_RATING", "BetaFeedback", "beta_feedback", "is_scored", "load_beta_feedback"]

PRAISE_RATING = 4.0  # average stars of 5 at which an issue reads as praise
PRAISE_NPS = 9.0  # average of the 0–10 recommend scale: promoters (Reichheld 2003)
MIN_SCORED = 0.5  # share of an issue's texts that must carry a score for its average to count

_ISSUE_COLUMNS = ["issue_id", "theme", "issue", "items", "beta_units", "share_of_beta_units", "average_rating",
                  "average_nps", "praise", "blocks"]
_QUOTE_COLUMNS = ["issue_id", "text", "cite"]
_ITEM_COLUMNS = ["item_id", "customer_id", "issue_id"]


@dataclass(frozen=True)
class BetaFeedback:
    """``issues``: one row per issue, largest first (other last), with its theme, items, beta
    units that raised it, their share of all beta units, average scores and whether it blocks;
    ``quotes``: per issue (``issue_id, text, cite``, redacted); ``items``: each kept text's
    unit and issue (``item_id, customer_id, issue_id``); all empty when there were too few texts
    to group (``texts`` < ``texts_needed``); ``scored``: whether any score was mapped."""

    issues: pd.DataFrame
    quotes: pd.DataFrame
    items: pd.DataFrame
    beta_units: int
    units_writing: int
    texts: int
    texts_needed: int
    scored: bool
    blocking_share: float

    @property
    def grouped(self) -> bool:
        return self.texts >= self.texts_needed

    @property
    def blocking(self) -> pd.DataFrame:
        return self.issues[self.issues["blocks"]]

    def quotes_for(self, issue_id: int) -> list[tuple[str, str]]:
        return quotes_of(self.quotes, issue_id)

    def to_frame(self) -> pd.DataFrame:
        return self.issues.copy()


def _beta_rows(items: pd.DataFrame, panel: BetaPanel, log: DropLog) -> pd.DataFrame:
    """The rows written by a beta unit on or after its entry day; the rest counted in ``log``."""
    beta = panel.units[panel.units["in_beta"]]
    entry = pd.Series(pd.to_datetime(beta["entry_date"]).to_numpy(), index=id_text(beta["unit"]))
    items = items.assign(customer_id=id_text(items["customer_id"]))
    entered = items["customer_id"].map(entry)
    outside = entered.isna()
    # the loader keeps times in UTC: a text written just after midnight east of UTC counts on the day before
    early = ~outside & (items["created"].dt.tz_localize(None).dt.normalize() < entered)
    for reason, mask in (("not from a beta unit", outside), ("before the unit entered the beta", early)):
        for source, group in items[mask].groupby("source", sort=False):
            first = group.iloc[0]
            log.drop(str(source), reason, len(group), example=f"id {first['item_id']} (unit {first['customer_id']})")
    return items[~outside & ~early].reset_index(drop=True)


def _months(panel: BetaPanel) -> tuple[str, int]:
    """The last month of the panel and the months from the first entry to it: feedback from
    before the beta began cannot be about it, and the loader drops it as outside the window."""
    last = pd.Period(panel.panel["period"].max(), "M")
    first = pd.Period(panel.units.loc[panel.units["in_beta"], "entry_date"].min(), "M")
    return last.strftime("%Y-%m"), max(int((last - first).n) + 1, 1)


def _average_score(scores: pd.Series) -> float:
    """The issue's average score, when most of its texts carry one: a few rated texts among
    many unrated do not speak for the issue (NaN then)."""
    return float(scores.mean()) if scores.notna().mean() >= MIN_SCORED else float("nan")


def is_scored(settings: FeedbackParams) -> bool:
    """Whether any source maps a score (stars or the 0–10 recommend scale)."""
    return any(source.columns.rating or source.columns.nps for source in settings.sources)


def _issue_rows(description: ThemeDescription, scores: pd.DataFrame, beta_units: int,
                blocking_share: float) -> pd.DataFrame:
    items = description.items.merge(scores, on="item_id", how="left")
    rows = []
    for issue in description.issues.itertuples():
        members = items[items["issue_id"] == issue.issue_id]
        units = int(members["customer_id"].nunique())
        rating, nps = _average_score(members["rating"]), _average_score(members["nps"])
        praise = bool((rating >= PRAISE_RATING) or (nps >= PRAISE_NPS))
        share = units / beta_units if beta_units else float("nan")
        rows.append({"issue_id": int(issue.issue_id), "theme": issue.theme, "issue": issue.label,
                     "items": int(members["votes"].sum()), "beta_units": units, "share_of_beta_units": share,
                     "average_rating": rating, "average_nps": nps, "praise": praise,
                     "blocks": issue.issue_id != OTHER and not praise and share >= blocking_share})
    frame = pd.DataFrame(rows, columns=_ISSUE_COLUMNS)
    frame["last"] = frame["issue_id"] == OTHER
    return (frame.sort_values(["last", "beta_units", "items", "issue_id"], ascending=[True, False, False, True])
            .drop(columns="last").reset_index(drop=True))


def load_beta_feedback(settings: FeedbackParams, panel: BetaPanel, log: DropLog) -> pd.DataFrame:
    """The feedback rows (cleaned and redacted by the feedback loader) that beta units wrote on
    or after their entry day, from the first entry's month to the panel's last; every other
    row is counted in ``log`` with its reason."""
    period, months = _months(panel)
    items = load_feedback(settings.sources, log, period=period, history_months=months, accounts=settings.accounts)
    return _beta_rows(items, panel, log)


def beta_feedback(settings: FeedbackParams, panel: BetaPanel, log: DropLog, *,
                  blocking_share: float = 0.10) -> BetaFeedback:
    """Load the beta users' feedback, keep what beta units wrote after entry, group it into
    issues and themes, and size each issue by the beta units that raised it."""
    items = load_beta_feedback(settings, panel, log)
    prepared = prepare_feedback(items, settings.duplicates)
    needed = texts_needed_for_themes(settings.clustering)
    scored = is_scored(settings)
    common = {"beta_units": panel.beta_units, "units_writing": int(items["customer_id"].nunique()),
              "texts": prepared.n_items, "texts_needed": needed, "scored": scored, "blocking_share": blocking_share}
    if prepared.n_items < needed:
        return BetaFeedback(pd.DataFrame(columns=_ISSUE_COLUMNS), pd.DataFrame(columns=_QUOTE_COLUMNS),
                            pd.DataFrame(columns=_ITEM_COLUMNS), **common)
    _, _, _, description = group_feedback(prepared, settings)
    scores = prepared.items[["item_id", "rating", "nps"]].astype({"rating": "float64", "nps": "float64"})
    return BetaFeedback(_issue_rows(description, scores, panel.beta_units, blocking_share),
                        description.quotes[_QUOTE_COLUMNS], description.items[_ITEM_COLUMNS], **common)
