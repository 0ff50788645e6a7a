"""Prepare feedback: read every channel into one table, clean, redact and de-duplicate it.

Steps, in order:

1. **Read** each channel file with its own column mapping (:class:`~.config.ColumnMap`) into
   the kit's columns ``item_id, source, text, created, month, customer_id, segment, arr,
   rating, nps``; a missing column, an unparsable date or an id used twice with different
   text stops with one line naming the file, column and row.
2. **Clean**: Unicode NFKC, HTML tags and entities removed, control and zero-width
   characters removed, whitespace collapsed, texts over ``MAX_CHARS`` cut (counted).
3. **Drop** what carries no feedback, each counted in the :class:`~prodops_lib.io.DropLog`:
   empty texts, texts without a letter or digit (only emoji or punctuation), rows outside the
   reporting window, rows repeated verbatim under the same id.
4. **Redact** personal data (:func:`prodops_lib.privacy.redact`) before anything is embedded,
   described or shown.
5. **De-duplicate**: the same customer (or, without a customer, the same channel) sending
   the same complaint again within ``window_days`` — exactly, or with character 4-gram
   Jaccard similarity ≥ ``similarity`` after case and punctuation are ignored — is one item
   with extra *votes*, not extra items. Duplicates are counted and listed, not dropped.
6. **Enough to analyse?** :func:`require_enough_feedback` stops a report that has too few
   texts to find themes with one plain sentence (:class:`NotEnoughFeedback`) saying how many
   were read, dropped and why, instead of an error from deep inside the clustering.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from prodops_lib.feedback.config import (
    AccountsSource,
    ClusteringParams,
    DuplicateParams,
    FeedbackSource,
)
from prodops_lib.io import Column, DropLog, InputError, Schema, load_table
from prodops_lib.params import month_bounds, parse_period
from prodops_lib.privacy import redact

__all__ = [
    "ITEM_COLUMNS",
    "MAX_CHARS",
    "MIN_TEXTS_FOR_THEMES",
    "NotEnoughFeedback",
    "PreparedFeedback",
    "clean_text",
    "find_duplicates",
    "load_accounts",
    "load_feedback",
    "prepare_feedback",
    "read_source",
    "require_enough_feedback",
    "shingle_similarity",
    "texts_needed_for_themes",
]

MAX_CHARS = 5_000
# The fewest distinct texts worth clustering: two issues (the fewest that make a comparison;
# n_issues must be at least 2) of five texts each (the default min_issue_size, below which a
# group goes to "other"). With fewer, no partition can show two issues, and the criteria
# that choose their number are noise on a handful of points. The clustering settings can
# raise the bar: see texts_needed_for_themes.
MIN_TEXTS_FOR_THEMES = 10
ITEM_COLUMNS = ["item_id", "source", "text", "created", "month", "customer_id", "segment", "arr",
                "rating", "nps"]
_TAG = re.compile(r"<[^>]{0,500}>")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WORD = re.compile(r"\w", re.UNICODE)


def clean_text(text: object) -> str:
    """Text normalised for analysis: NFKC, HTML tags/entities removed, control and zero-width
    characters removed, whitespace collapsed to single spaces, trimmed."""
    if text is None or text is pd.NA or (isinstance(text, float) and text != text):
        return ""
    cleaned = unicodedata.normalize("NFKC", str(text))
    cleaned = html.unescape(_TAG.sub(" ", cleaned))
    cleaned = _TAG.sub(" ", cleaned)  # tags that were entity-escaped in the source
    cleaned = _CONTROL.sub(" ", _INVISIBLE.sub("", cleaned))
    return " ".join(cleaned.split())


def load_accounts(accounts: AccountsSource, log: DropLog) -> pd.DataFrame:
    """Accounts as ``customer_id, customer_name, segment, arr`` (one row per customer)."""
    columns = accounts.columns
    rename = {columns.id: "customer_id"}
    schema = [Column("customer_id", nullable=False)]
    for name, target, kind in ((columns.name, "customer_name", "string"),
                               (columns.segment, "segment", "string"), (columns.arr, "arr", "float")):
        if name:
            rename[name] = target
            schema.append(Column(target, kind, minimum=0.0 if kind == "float" else None))
    frame = load_table(accounts.path, Schema(*schema), log=log, label="accounts", rename=rename,
                       sheet=accounts.sheet)
    repeated = frame["customer_id"].duplicated()
    if repeated.any():
        raise InputError(f"accounts: customer id {frame['customer_id'][repeated].iloc[0]!r} appears twice; "
                         "keep one row per account")
    return frame.reindex(columns=["customer_id", "customer_name", "segment", "arr"])


def read_source(source: FeedbackSource, log: DropLog) -> pd.DataFrame:
    """One channel as read, before the window and cleaning: ``item_id, source, raw_text,
    created`` and the optional columns mapped (missing ones empty)."""
    columns = source.columns
    text_columns = columns.text_columns
    rename = {columns.date: "created"} | ({columns.id: "item_id"} if columns.id else {})
    optional = {"customer": "customer_id", "segment": "segment", "arr": "arr", "rating": "rating",
                "nps": "nps"}
    for key, target in optional.items():
        if getattr(columns, key):
            rename[getattr(columns, key)] = target
    schema = Schema(
        *([Column("item_id", nullable=False)] if columns.id else []),
        Column("created", "datetime", nullable=False, date_format=columns.date_format),
        *(Column(name) for name in text_columns),
        Column("customer_id", required=False), Column("segment", required=False),
        Column("arr", "float", required=False, minimum=0.0),
        # a 1–10 score mapped as rating would read 2 as "low": out-of-range scores stop the run
        Column("rating", "float", required=False, minimum=1.0, maximum=5.0),
        Column("nps", "float", required=False, minimum=0.0, maximum=10.0),
    )
    settings = {name: "columns.text" for name in text_columns} | {
        getattr(columns, key): f"columns.{key}" for key in ("date", "id", *optional) if getattr(columns, key)}
    frame = load_table(source.path, schema, log=log, label=source.name, rename=rename, settings=settings,
                       delimiter=source.delimiter, encoding=source.encoding, sheet=source.sheet)
    parts = frame[text_columns].astype("string").fillna("")
    joined = parts.apply(lambda row: ". ".join(p.strip().rstrip(".") for p in row if p.strip()), axis=1) \
        if len(text_columns) > 1 else parts[text_columns[0]]
    # without an id column, an item is its data row (the loader keeps each row's position)
    ids = frame["item_id"].astype("string") if columns.id else ("row " + pd.Series(frame.index + 1, index=frame.index)
                                                                  .astype(str)).astype("string")
    out = pd.DataFrame({"item_id": ids, "source": source.name,
                        "raw_text": joined, "created": frame["created"]}, index=frame.index)
    for key, target in optional.items():  # only what is mapped: an unmapped column named "rating" is not one
        out[target] = frame[target] if getattr(columns, key) else pd.NA
    return out


def load_feedback(
    sources: list[FeedbackSource], log: DropLog, *, period: str, history_months: int = 6,
    accounts: AccountsSource | None = None,
) -> pd.DataFrame:
    """Every channel in one table with the kit's columns (see :data:`ITEM_COLUMNS`), cleaned
    and redacted, limited to the ``history_months`` months ending with ``period``."""
    period = parse_period(period)
    frames = []
    for source in sources:
        frame = read_source(source, log)
        frames.append(_drop_repeated_rows(frame, source.name, log))
    items = pd.concat(frames, ignore_index=True)
    items["created"] = pd.to_datetime(items["created"])
    items["month"] = items["created"].dt.strftime("%Y-%m")
    first_month = (pd.Period(period, "M") - (history_months - 1)).strftime("%Y-%m")
    _, last_day = month_bounds(period)
    for name, group in items.groupby("source", sort=False):
        log.drop(str(name), f"dated before {first_month} (outside the {history_months}-month window)",
                 int((group["month"] < first_month).sum()))
        log.drop(str(name), f"dated after {last_day.isoformat()} (after the period)",
                 int((group["month"] > period).sum()))
    items = items[(items["month"] >= first_month) & (items["month"] <= period)].copy()
    items["text"] = items["raw_text"].map(clean_text)
    items["truncated"] = items["text"].str.len() > MAX_CHARS
    items.loc[items["truncated"], "text"] = items.loc[items["truncated"], "text"].str.slice(0, MAX_CHARS)
    empty = items["text"].eq("")
    # astype(bool): mapping an empty column keeps its text dtype, and `&` would refuse it
    wordless = ~empty & ~items["text"].map(lambda t: bool(_WORD.search(t))).astype(bool)
    for reason, mask in (("empty text", empty), ("no words (only emoji or symbols)", wordless)):
        for name, group in items[mask].groupby("source", sort=False):
            log.drop(str(name), reason, len(group), example=f"id {group['item_id'].iloc[0]}")
    items = items[~empty & ~wordless].copy()
    items["text"] = items["text"].map(redact)
    if accounts is not None:
        items = _join_accounts(items, load_accounts(accounts, log))
    else:
        items["customer_name"] = pd.NA
    items["customer_id"] = items["customer_id"].astype("string").str.strip().replace("", pd.NA)
    items["segment"] = items["segment"].astype("string")
    for column in ("arr", "rating", "nps"):
        items[column] = pd.to_numeric(items[column], errors="coerce").astype("float64")
    return items[[*ITEM_COLUMNS, "customer_name", "truncated"]].reset_index(drop=True)


def _drop_repeated_rows(frame: pd.DataFrame, label: str, log: DropLog) -> pd.DataFrame:
    repeated = frame["item_id"].duplicated(keep=False)
    if not repeated.any():
        return frame
    same = frame.duplicated(subset=["item_id", "raw_text"], keep="first")
    conflicting = frame[repeated & ~frame.duplicated(subset=["item_id", "raw_text"], keep=False)]
    if len(conflicting):
        raise InputError(f"{label}: id {conflicting['item_id'].iloc[0]!r} is used by rows with different "
                         "text; set columns.id to a column that is unique per feedback item, or leave "
                         "columns.id out to number the rows")
    log.drop(label, "row repeated verbatim under the same id", int(same.sum()),
             example=f"id {frame.loc[same, 'item_id'].iloc[0]}")
    return frame[~same]


def _join_accounts(items: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    lookup = accounts.set_index("customer_id")
    ids = items["customer_id"].astype("string")
    items["customer_name"] = ids.map(lookup["customer_name"]) if "customer_name" in lookup else pd.NA
    for column in ("segment", "arr"):
        if column in lookup:
            from_accounts = ids.map(lookup[column])
            items[column] = items[column].where(items[column].notna(), from_accounts)
    return items


# --------------------------------------------------------------------------- duplicates


def _shingles(text: str, size: int = 4) -> frozenset[str]:
    key = " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
    if len(key) <= size:
        return frozenset({key})
    return frozenset(key[i:i + size] for i in range(len(key) - size + 1))


def shingle_similarity(first: str, second: str) -> float:
    """Jaccard similarity of the character 4-gram sets of two texts, ignoring case,
    punctuation and spacing: |A ∩ B| / |A ∪ B|."""
    a, b = _shingles(first), _shingles(second)
    return len(a & b) / len(a | b) if a or b else 1.0


def find_duplicates(items: pd.DataFrame, params: DuplicateParams | None = None) -> pd.Series:
    """For each item, the ``item_id`` of the earlier item it repeats (``<NA>`` if none).

    Items are compared within the same customer (or, without a customer, the same source),
    in time order, with any earlier item of the group no more than ``window_days`` older;
    a repeat points to the first item of its chain, so votes add up on one item."""
    params = params or DuplicateParams()
    result = pd.Series(pd.NA, index=items.index, dtype="string")
    group_key = items["customer_id"].astype("string").fillna("source:" + items["source"].astype(str))
    window = pd.Timedelta(days=params.window_days)
    ordered = items.assign(_group=group_key).sort_values(["_group", "created", "item_id"], kind="stable")
    for _, group in ordered.groupby("_group", sort=False):
        if len(group) < 2:
            continue
        times = group["created"].to_numpy()
        texts = group["text"].tolist()
        shingles = [_shingles(t) for t in texts]
        index = group.index.to_numpy()
        root = {}
        for j in range(1, len(group)):
            for i in range(j - 1, -1, -1):
                if times[j] - times[i] > window:
                    break
                a, b = shingles[i], shingles[j]
                if len(a & b) >= params.similarity * len(a | b):
                    root[j] = root.get(i, i)
                    break
        for j, i in root.items():
            result[index[j]] = items.at[index[i], "item_id"]
    return result


@dataclass(frozen=True)
class PreparedFeedback:
    """Feedback ready to embed: ``items`` (one row per distinct item, with ``votes`` = 1 + its
    repeats) and ``duplicates`` (one row per repeat: ``item_id, source, duplicate_of``)."""

    items: pd.DataFrame
    duplicates: pd.DataFrame

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_duplicates(self) -> int:
        return len(self.duplicates)

    def to_frame(self) -> pd.DataFrame:
        return self.items.copy()

    def summary(self) -> pd.DataFrame:
        """Items and repeats per source, for the data-quality appendix."""
        kept = self.items.groupby("source").size().rename("items")
        repeats = self.duplicates.groupby("source").size().rename("repeats (extra votes)")
        parts = [kept, repeats]
        if "truncated" in self.items:
            parts.append(self.items.groupby("source")["truncated"].sum().rename(f"texts cut to {MAX_CHARS:,} chars"))
        frame = pd.concat(parts, axis=1).fillna(0).astype(int)
        return frame.reset_index(names="source")


def prepare_feedback(items: pd.DataFrame, params: DuplicateParams | None = None) -> PreparedFeedback:
    """Fold repeats into votes (see :func:`find_duplicates`); the items keep a stable order."""
    missing = [c for c in ("item_id", "source", "text", "created", "customer_id") if c not in items]
    if missing:
        raise InputError(f"items: column {missing[0]!r} is missing; build the table with load_feedback")
    if items["item_id"].duplicated().any():
        keys = items["source"].astype(str) + "/" + items["item_id"].astype(str)
        if keys.duplicated().any():
            raise InputError(f"items: id {keys[keys.duplicated()].iloc[0]!r} appears twice; ids must be unique")
        items = items.assign(item_id=keys)
    duplicate_of = find_duplicates(items, params)
    is_repeat = duplicate_of.notna().to_numpy()
    votes = duplicate_of[is_repeat].value_counts()
    kept = items[~is_repeat].copy()
    repeats = kept["item_id"].map(votes).astype("float64")  # float64: an empty map keeps the text dtype
    kept["votes"] = (1 + repeats.fillna(0)).astype(int).to_numpy()
    duplicates = pd.DataFrame({"item_id": items.loc[is_repeat, "item_id"].to_numpy(),
                               "source": items.loc[is_repeat, "source"].to_numpy(),
                               "duplicate_of": duplicate_of[is_repeat].to_numpy()})
    return PreparedFeedback(kept.reset_index(drop=True), duplicates)



# --------------------------------------------------------------------------- enough to analyse?


class NotEnoughFeedback(InputError):
    """Too few feedback texts to find themes (or none in the period); the message is one
    plain sentence for the report's reader, saying what was read and dropped and what to do."""

    def __init__(self, message: str, *, texts: int, minimum: int) -> None:
        super().__init__(message)
        self.texts = texts
        self.minimum = minimum


def texts_needed_for_themes(clustering: ClusteringParams) -> int:
    """The fewest texts with which the clustering can report two issues: k-means makes k
    non-empty groups (k = ``n_issues``, or from 2 up when chosen automatically), so two of
    them reach ``min_issue_size`` only with 2 · min_issue_size + (k − 2) texts; never fewer
    than :data:`MIN_TEXTS_FOR_THEMES`. 10 with the defaults (automatic, min_issue_size 5)."""
    groups = clustering.n_issues or 2
    return max(MIN_TEXTS_FOR_THEMES, 2 * clustering.min_issue_size + max(groups - 2, 0))


def require_enough_feedback(
    prepared: PreparedFeedback, log: DropLog, *, period: str, history_months: int,
    sources: Sequence[FeedbackSource] = (), minimum: int = MIN_TEXTS_FOR_THEMES,
) -> None:
    """Stop with :class:`NotEnoughFeedback` when ``prepared`` holds fewer than ``minimum``
    distinct texts over the window (repeats folded into votes do not count), or none in
    ``period`` itself (the trends compare the period with the months before it). Pass
    ``minimum=texts_needed_for_themes(settings.clustering)`` to follow the clustering settings.

    The sentence counts the rows ``log`` recorded as read from ``sources`` (all of its inputs
    when none are named, the accounts file excepted) and the rows dropped, by reason, e.g.
    "Only 3 feedback texts in 2026-10 after preparation (12 read, 9 dropped: 5 empty text,
    4 dated before 2026-10); themes need at least 10 — widen history_months or add sources."
    """
    if minimum < 1:
        raise ValueError(f"minimum: must be at least 1, got {minimum}")
    period = parse_period(period)
    first_month = (pd.Period(period, "M") - (history_months - 1)).strftime("%Y-%m")
    window = period if history_months == 1 else f"{first_month} to {period}"
    texts = prepared.n_items
    in_period = int((prepared.items["month"] == period).sum()) if "month" in prepared.items else texts
    happened = _what_happened(prepared, log, [source.name for source in sources])
    if texts < minimum:
        where = f"in {window}" if history_months == 1 else f"from {window}"
        detail = f" ({happened})" if happened else ""
        raise NotEnoughFeedback(
            f"{f'Only {texts}' if texts else 'No'} feedback text{'s' * (texts != 1)} {where} after preparation{detail}; "
            f"themes need at least {minimum} — widen history_months or add sources.",
            texts=texts, minimum=minimum)
    if in_period == 0:
        detail = f"; {happened}" if happened else ""
        raise NotEnoughFeedback(
            f"No feedback texts in {period} after preparation ({texts} in the months before{detail}); "
            "check the sources' date columns, or run the report for a month that has feedback.",
            texts=0, minimum=minimum)


def _what_happened(prepared: PreparedFeedback, log: DropLog, names: list[str]) -> str:
    """``12 read, 9 dropped: 5 empty text, 4 dated before 2026-10; 2 repeats counted as
    votes``, from the drop log; an empty string when the log recorded no feedback input."""
    def counted(source: str) -> bool:
        return source in names if names else source != "accounts"

    read = [entry["rows"] or 0 for entry in log.inputs if entry["kind"] == "data" and counted(entry["source"])]
    if not read:
        return ""
    reasons: dict[str, int] = {}
    for drop in log.drops:
        if counted(drop["source"]):
            reason = re.sub(r" \(.*\)$", "", drop["reason"])  # "dated before 2026-05 (outside …)"
            reasons[reason] = reasons.get(reason, 0) + drop["rows"]
    dropped = sum(reasons.values())
    listing = ", ".join(f"{rows:,} {reason}" for reason, rows in sorted(reasons.items(), key=lambda kv: -kv[1]))
    summary = f"{sum(read):,} read, " + (f"{dropped:,} dropped: {listing}" if dropped else "none dropped")
    repeats = prepared.n_duplicates
    if repeats:
        summary += f"; {repeats:,} repeat{'s' * (repeats != 1)} counted as votes"
    return summary
