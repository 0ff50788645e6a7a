"""The parameters of a feedback-clustering report, as frozen dataclasses the YAML loader builds.

``parameters/feedback_clustering.yaml`` maps onto :class:`FeedbackParams` key for key
(:func:`prodops_lib.params.load`). Each channel file has its own column names, so every
source carries a :class:`ColumnMap` from the file's columns to the kit's names. Cross-field
rules are checked on construction and fail with one line naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from prodops_lib.display import Html, table
from prodops_lib.params import ParameterError, resolve_path

__all__ = [
    "AccountColumns",
    "AccountsSource",
    "ClusteringParams",
    "ColumnMap",
    "DuplicateParams",
    "FeedbackParams",
    "FeedbackSource",
    "ProductTheme",
    "RevenueMeasure",
    "TrendParams",
    "feedback_intro",
    "load_taxonomy",
]

Embedding = Literal["sentence-transformers", "tfidf"]


@dataclass(frozen=True)
class ColumnMap:
    """File column names for one channel. ``text`` may list several columns (a ticket's
    subject and description), joined with a full stop; every other field is optional except
    ``date``. ``id`` names a column that identifies each item; without one (a review export
    often has none) items are numbered by their data row in the file, ``row 1`` … ``arr`` is the revenue column (the measure ``revenue_label`` names,
    ARR or MRR), ``rating`` a 1–5 star score, ``nps`` a 0–10 likelihood score."""

    text: str | list[str]
    date: str
    id: str | None = None
    customer: str | None = None
    segment: str | None = None
    arr: str | None = None
    rating: str | None = None
    nps: str | None = None
    date_format: str | None = None

    def __post_init__(self) -> None:
        texts = [self.text] if isinstance(self.text, str) else list(self.text)
        if not texts or any(not name.strip() for name in texts):
            raise ValueError("text: name the column(s) holding the feedback text")

    @property
    def text_columns(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) else list(self.text)


def _sheet_name(sheet: str | int | None) -> str | None:
    """A worksheet is named as on its tab; YAML reads an unquoted ``2026`` as a number, which
    is taken as that name (not a position: the default is already the first sheet)."""
    if sheet is None:
        return None
    if isinstance(sheet, bool) or not str(sheet).strip():
        raise ValueError(f"sheet: name the worksheet as shown on its tab, got {sheet!r}")
    return str(sheet)


@dataclass(frozen=True)
class FeedbackSource:
    """One channel file (CSV, Excel, OpenDocument or parquet): ``name`` labels it in the
    report (e.g. ``support``; ``app_reviews`` reads "app reviews"). ``sheet`` names the
    worksheet of a workbook, as on its tab (default: the first visible sheet); ``encoding``
    and ``delimiter`` apply to CSV only."""

    name: str
    path: Path
    columns: ColumnMap
    encoding: str = "utf-8"
    delimiter: str = ","
    sheet: str | int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("name: every source needs a short name, e.g. support")
        object.__setattr__(self, "sheet", _sheet_name(self.sheet))

    @property
    def channel(self) -> str:
        """The name as the report's sentences say it: ``app_reviews`` → ``app reviews``."""
        return " ".join(self.name.replace("_", " ").split())


@dataclass(frozen=True)
class AccountColumns:
    """Columns of the accounts file (customer id → name, segment, revenue). ``arr`` is the
    revenue column, whatever the measure (``revenue_label`` names it); ``arr: null`` when the
    file has none."""

    id: str = "account_id"
    name: str | None = "name"
    segment: str | None = "segment"
    arr: str | None = "arr"


@dataclass(frozen=True)
class AccountsSource:
    """The accounts file (CSV, Excel, OpenDocument or parquet); ``sheet`` as for a source."""

    path: Path
    columns: AccountColumns = field(default_factory=AccountColumns)
    sheet: str | int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sheet", _sheet_name(self.sheet))


@dataclass(frozen=True)
class DuplicateParams:
    """Near duplicates: the same customer (or, without one, the same channel) sending text whose
    character 4-gram Jaccard similarity is at least ``similarity`` within ``window_days``."""

    similarity: float = 0.85
    window_days: int = 7

    def __post_init__(self) -> None:
        if not 0.0 < self.similarity <= 1.0:
            raise ValueError(f"similarity: must be in (0, 1], got {self.similarity}")
        if self.window_days < 0:
            raise ValueError(f"window_days: must be 0 or more, got {self.window_days}")


@dataclass(frozen=True)
class ClusteringParams:
    """How texts become issues and themes. ``n_issues`` fixes the number of issues and
    ``n_themes`` the number of themes; left empty, the data chooses both (issues: no preset
    ceiling; themes: 5–15). See :mod:`prodops_lib.feedback.cluster`."""

    embedding: Embedding = "sentence-transformers"
    model: str = "all-MiniLM-L6-v2"
    cache_dir: Path | None = Path(".cache/embeddings")
    n_issues: int | None = None
    n_themes: int | None = None
    neighbour_smoothing: int = 10
    selection_sample: int = 10_000
    min_issue_size: int = 5
    incoherence_cutoff: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_issues is not None and self.n_issues < 2:
            raise ValueError(f"n_issues: must be at least 2 (or null for automatic), got {self.n_issues}")
        if self.n_themes is not None and self.n_themes < 1:
            raise ValueError(f"n_themes: must be at least 1 (or null for automatic), got {self.n_themes}")
        if self.n_themes is not None and self.n_issues is not None and self.n_themes > self.n_issues:
            raise ValueError(f"n_themes: must be at most n_issues ({self.n_issues}), got {self.n_themes}")
        if self.neighbour_smoothing < 0:
            raise ValueError(f"neighbour_smoothing: must be 0 (off) or more, got {self.neighbour_smoothing}")
        if self.selection_sample < 100:
            raise ValueError(f"selection_sample: must be at least 100, got {self.selection_sample}")
        if self.min_issue_size < 1:
            raise ValueError(f"min_issue_size: must be at least 1, got {self.min_issue_size}")
        if self.incoherence_cutoff <= 0:
            raise ValueError(f"incoherence_cutoff: must be positive, got {self.incoherence_cutoff}")


@dataclass(frozen=True)
class TrendParams:
    """Emerging and fading themes: the period against the ``baseline_months`` before it, a
    one-sided exact test at false-discovery rate ``alpha`` and a share ratio of at least
    ``min_ratio`` (or at most its inverse); ``min_items`` in the period to call a theme new."""

    baseline_months: int = 3
    alpha: float = 0.05
    min_ratio: float = 1.5
    min_items: int = 5

    def __post_init__(self) -> None:
        if self.baseline_months < 1:
            raise ValueError(f"baseline_months: must be at least 1, got {self.baseline_months}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha: must be between 0 and 1, got {self.alpha}")
        if self.min_ratio <= 1.0:
            raise ValueError(f"min_ratio: must be above 1, got {self.min_ratio}")
        if self.min_items < 1:
            raise ValueError(f"min_items: must be at least 1, got {self.min_items}")


@dataclass(frozen=True)
class FeedbackParams:
    """Everything a feedback report needs: sources, taxonomy, and the analysis settings.

    ``history_months`` months up to the period are clustered together, and each issue keeps its
    key and name from last month's run (:mod:`prodops_lib.feedback.identity`), read from
    ``<reports_root>/<previous month>/results/<report name>`` (``reports_root`` by default the
    folder above this run's period folder). ``mapping_min_similarity`` is the cosine similarity
    an issue needs to its nearest product theme to be mapped to it (else ``unmapped``); without
    a ``taxonomy`` every issue is unmapped and the report says so.
    ``revenue_label`` is how the report names the revenue the ``arr`` columns hold (``ARR``,
    ``MRR``, ``Contract value``); with no ``arr`` column mapped anywhere the report shows no
    revenue at all (:attr:`revenue`)."""

    sources: list[FeedbackSource]
    taxonomy: Path | None = None
    accounts: AccountsSource | None = None
    history_months: int = 6
    clustering: ClusteringParams = field(default_factory=ClusteringParams)
    duplicates: DuplicateParams = field(default_factory=DuplicateParams)
    trends: TrendParams = field(default_factory=TrendParams)
    mapping_min_similarity: float = 0.3
    quotes_per_issue: int = 4
    top_themes: int = 8
    revenue_label: str = "ARR"
    reports_root: str | None = None

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("sources: list at least one feedback file")
        names = [source.name for source in self.sources]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"sources: name {repeated[0]!r} is used twice; give every source its own name")
        if self.history_months < 1:
            raise ValueError(f"history_months: must be at least 1, got {self.history_months}")
        if not -1.0 <= self.mapping_min_similarity <= 1.0:
            raise ValueError(f"mapping_min_similarity: must be a cosine in [-1, 1], got {self.mapping_min_similarity}")
        if not 3 <= self.quotes_per_issue <= 5:
            raise ValueError(f"quotes_per_issue: must be 3 to 5, got {self.quotes_per_issue}")
        if self.top_themes < 1:
            raise ValueError(f"top_themes: must be at least 1, got {self.top_themes}")
        label = " ".join(self.revenue_label.split())
        if not label or len(label) > 40:
            raise ValueError(f"revenue_label: name the revenue measure in a few words, e.g. ARR or MRR; got {self.revenue_label!r}")
        object.__setattr__(self, "revenue_label", label)

    @property
    def has_revenue(self) -> bool:
        """Whether any source or the accounts file maps a revenue (``arr``) column."""
        in_accounts = self.accounts is not None and self.accounts.columns.arr is not None
        return in_accounts or any(source.columns.arr is not None for source in self.sources)

    @property
    def revenue(self) -> RevenueMeasure:
        """How the report shows revenue: labelled ``revenue_label``, or not at all."""
        return RevenueMeasure(self.revenue_label if self.has_revenue else None)


# --------------------------------------------------------------------------- wording


@dataclass(frozen=True)
class RevenueMeasure:
    """The revenue measure as the report names it (``label``: ARR, MRR, …), or ``None`` when
    no input maps a revenue column; then every revenue column and sentence is left out,
    rather than showing a column of zeros that reads as "no revenue at stake".

    The analysis keeps the kit's column names (``arr``, ``arr_share``) in its tables and in
    the saved results, which other reports read; only what a reader sees is relabelled."""

    label: str | None

    @property
    def shown(self) -> bool:
        return self.label is not None

    def columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` for display: ``arr`` → the label (``MRR``), ``arr_share`` → ``MRR share``;
        both dropped when no revenue is configured."""
        present = [column for column in _REVENUE_COLUMNS if column in frame.columns]
        if not self.shown:
            return frame.drop(columns=present)
        return frame.rename(columns={column: self._name(column) for column in present})

    def formats(self, formats: Mapping[str, str] | None = None) -> dict[str, str]:
        """Display formats for :func:`prodops_lib.display.table`: ``formats`` plus the revenue
        columns' own (whole amounts with thousands separators; shares as percentages)."""
        merged = dict(formats or {})
        if self.shown:
            merged.update({self._name(column): spec for column, spec in _REVENUE_COLUMNS.items()})
        return merged

    def table(self, frame: pd.DataFrame, *, formats: Mapping[str, str] | None = None,
              caption: str | None = None, max_rows: int = 50) -> Html:
        """:func:`prodops_lib.display.table` of ``frame`` with the revenue columns relabelled
        (or left out) and formatted."""
        return table(self.columns(frame), formats=self.formats(formats), caption=caption, max_rows=max_rows)

    def clause(self, amount: float) -> str:
        """``", MRR 12,345"`` to end a phrase about a theme's customers, or ``""``."""
        return f", {self.label} {amount:,.0f}" if self.shown else ""

    @property
    def top_customers(self) -> str:
        """How the affected-customers table is ranked: ``Highest-MRR customers`` (by revenue,
        then items), or ``Customers with the most feedback`` without revenue."""
        return f"Highest-{self.label} customers" if self.shown else "Customers with the most feedback"

    def _name(self, column: str) -> str:
        names = {"arr": str(self.label), "arr_share": f"{self.label} share",
                 "product_arr_share": f"Share of {self.label} on product themes"}
        return names[column]


_REVENUE_COLUMNS = {"arr": "{:,.0f}", "arr_share": "{:.1%}", "product_arr_share": "{:.1%}"}


def _and_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def feedback_intro(settings: FeedbackParams) -> str:
    """The report's opening sentence, from what is configured: the channels by name and the
    measures of size (items, customers and the revenue measure when there is one). With
    sources ``support`` and ``app_reviews`` and ``revenue_label: MRR``: "What customers are
    telling us across 2 channels, support and app reviews: the themes this month, how big they
    are in items, customers and MRR, …". Plain text: show it with ``display.paragraph``."""
    channels = [source.channel for source in settings.sources]
    where = (f"in the {channels[0]} channel" if len(channels) == 1
             else f"across {len(channels)} channels, {_and_list(channels)}")
    revenue = settings.revenue
    sizes = "items, customers and " + str(revenue.label) if revenue.shown else "items and customers"
    who = "which high-value customers are affected" if revenue.shown else "which customers are affected"
    return (f"What customers are telling us {where}: the themes this month, how big they are in {sizes}, "
            f"what is emerging or fading, {who}, and what they say in their own (redacted) words.")


@dataclass(frozen=True)
class ProductTheme:
    """A product theme of the taxonomy: its name and the seed phrases that describe it."""

    name: str
    keywords: tuple[str, ...]

    @property
    def description(self) -> str:
        """The text embedded to place the theme among the feedback: name and seed phrases."""
        return ", ".join((self.name, *self.keywords))


def load_taxonomy(path: str | Path) -> list[ProductTheme]:
    """The product themes (``themes:`` list, each ``{name, keywords}``) of a taxonomy file.

    Allocation-only themes (engineering work that is not product demand) are left out."""
    file = resolve_path(path)
    if not file.is_file():
        raise ParameterError(f"{path}: taxonomy file not found (looked at {file})")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ParameterError(f"{path}: invalid YAML ({str(error).splitlines()[0]})") from None
    entries = data.get("themes") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ParameterError(f"{path}: expected a 'themes:' list of {{name, keywords}} entries")
    themes = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not str(entry.get("name") or "").strip():
            raise ParameterError(f"{path}: themes[{position}] needs a name")
        keywords = entry.get("keywords") or []
        if not isinstance(keywords, list):
            raise ParameterError(f"{path}: themes[{position}].keywords must be a list of phrases")
        themes.append(ProductTheme(str(entry["name"]).strip(), tuple(str(k) for k in keywords)))
    return themes
