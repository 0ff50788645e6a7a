"""``prodops check`` for a feedback report: each channel's file, columns, dates and drops, and
the texts per channel and month that the report will group (:mod:`prodops_lib.check`)."""

from __future__ import annotations

import dataclasses

import pandas as pd

from prodops_lib.check import InputCheck, date_reading, describe_columns, describe_drops
from prodops_lib.feedback.config import FeedbackParams
from prodops_lib.feedback.prepare import (
    NotEnoughFeedback,
    load_feedback,
    prepare_feedback,
    read_source,
    require_enough_feedback,
    texts_needed_for_themes,
)
from prodops_lib.io import DropLog, read_frame

__all__ = ["check_feedback"]


def check_feedback(settings: FeedbackParams, period: str | None = None) -> InputCheck:
    """What the feedback report of ``settings`` reads for ``period`` (default: the last month
    with feedback), and its warnings; an unusable input raises its one-line error."""
    check = InputCheck()
    months: set[str] = set()
    for source in settings.sources:
        raw, _, _ = read_frame(source.path, delimiter=source.delimiter, encoding=source.encoding, sheet=source.sheet)
        mapping = {name: value for name, value in dataclasses.asdict(source.columns).items() if name != "date_format"}
        frame = read_source(source, DropLog())
        found = set(pd.to_datetime(frame["created"]).dt.strftime("%Y-%m").dropna())
        months |= found
        check.lines.append(f"{source.name}: {source.path}")
        check.lines.extend("  " + line for line in describe_columns(list(raw.columns), mapping))
        check.add_dates(date_reading(raw[source.columns.date], source.columns.date_format), source.columns.date)
        scored = {name: frame[name].notna().sum() for name in ("rating", "nps") if getattr(source.columns, name)}
        for name, count in scored.items():
            check.lines.append(f"  {name}: {count:,} of {len(frame):,} rows have one")
        if not found:
            check.warnings.append(f"{source.name}: no row has a readable date; check columns.date and date_format")
    check.months = sorted(months)
    if not check.months:
        return check
    period = period or check.months[-1]
    log = DropLog()
    items = load_feedback(settings.sources, log, period=period, history_months=settings.history_months,
                          accounts=settings.accounts)
    for source in settings.sources:
        check.lines.append(f"{source.name}, {period} and the {settings.history_months - 1} months before: "
                           f"{describe_drops(log, source.name)}")
    prepared = prepare_feedback(items, settings.duplicates)
    counts = prepared.items.groupby(["source", "month"]).size().unstack("month", fill_value=0)
    counts = counts.reindex(index=[s.name for s in settings.sources], fill_value=0)
    check.tables["texts per channel and month (repeats counted once)"] = counts.reset_index()
    check.lines.append(f"{prepared.n_items:,} distinct texts to group ({prepared.n_duplicates:,} repeats kept as votes)")
    for name, row in counts.iterrows():
        if period in counts.columns and row.get(period, 0) == 0:
            check.warnings.append(f"{name}: no feedback in {period}; its trends will read as a fall to zero")
    try:
        require_enough_feedback(prepared, log, period=period, history_months=settings.history_months,
                                sources=settings.sources, minimum=texts_needed_for_themes(settings.clustering))
    except NotEnoughFeedback as error:
        check.warnings.append(str(error))
    if settings.taxonomy is None:
        check.warnings.append("no taxonomy: set taxonomy: to map issues to product themes (the review needs them)")
    return check
