"""The parameters of an allocation report, as frozen dataclasses the YAML loader builds.

``parameters/resource_allocation.yaml`` maps onto :class:`AllocationParams` key for key
(:func:`prodops_lib.params.load`); a theme-rules file maps onto :class:`ThemeRules`. Every
cross-field rule is checked on construction and fails with one line naming the field.

A rule matches an item when every criterion it names matches (a list matches when the item
has any of its values; text is compared case-insensitively, ``summary`` is a regular
expression searched in the title). Rules on the item's own tags (``labels``, ``components``,
``epics``) beat inheritance from the parent or epic, which beats the descriptive rules
(``projects``, ``issue_types``, ``summary``, ``fields``): a story without tags belongs to its
epic's theme even if its title mentions "upgrade".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from prodops_lib.params import ParameterError, build, parse_currency, parse_period

__all__ = [
    "MIN_EFFORT",
    "TAG_CRITERIA",
    "UNIT_LABELS",
    "AllocationParams",
    "ItemSource",
    "Rule",
    "Sources",
    "StatusBands",
    "TableSource",
    "ThemeRules",
    "Unit",
]

Unit = Literal["logged_hours", "time_spent", "story_points", "item_count", "days_in_progress",
               "person_months"]
Tracker = Literal["jira", "github", "linear", "azure_devops"]
TimeUnit = Literal["seconds", "minutes", "hours"]

UNIT_LABELS: dict[str, str] = {
    "logged_hours": "logged hours",
    "time_spent": "hours of time spent",
    "story_points": "story points",
    "item_count": "work items",
    "days_in_progress": "days in progress",
    "person_months": "person-months",
}
# The least effort in a month that supports a verdict on shares and gaps to plan: about two
# person-weeks of hours, or the same order of points or items. Below it one item moves a share
# by tens of points ("misallocation 50%" from 8 hours), so the report says there is too little.
MIN_EFFORT: dict[str, float] = {
    "logged_hours": 80.0, "time_spent": 80.0, "story_points": 20.0, "item_count": 20.0,
    "days_in_progress": 20.0, "person_months": 0.5,
}
# Criteria that are tags people put on the item on purpose: they beat inheritance.
TAG_CRITERIA = ("labels", "components", "epics")
DESCRIPTIVE_CRITERIA = ("projects", "issue_types", "summary", "fields")


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(options[:12])


@dataclass(frozen=True)
class Rule:
    """One theme rule: every named criterion must match (values in a list are alternatives)."""

    theme: str
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    epics: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    issue_types: list[str] = field(default_factory=list)
    summary: str | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.theme.strip():
            raise ValueError("theme: a rule needs a theme name")
        if not self.criteria:
            raise ValueError(
                f"rule for {self.theme!r} has no criterion; give it labels, components, epics, "
                "projects, issue_types, summary or fields"
            )
        if self.summary is not None:
            try:
                re.compile(self.summary)
            except re.error as error:
                raise ValueError(
                    f"summary: {self.summary!r} (rule for {self.theme!r}) is not a valid "
                    f"regular expression: {error}"
                ) from None

    @property
    def criteria(self) -> tuple[str, ...]:
        """The criteria this rule uses, e.g. ``("labels",)``."""
        names = [n for n in (*TAG_CRITERIA, "projects", "issue_types") if getattr(self, n)]
        names += ["summary"] if self.summary is not None else []
        names += ["fields"] if self.fields else []
        return tuple(names)

    @property
    def is_tag_rule(self) -> bool:
        """True when the rule matches on the item's own tags (so it beats inheritance)."""
        return any(name in TAG_CRITERIA for name in self.criteria)


@dataclass(frozen=True)
class ThemeRules:
    """Ordered theme rules and what to do with items they do not decide.

    ``inherit_from`` lists the fields whose item an unmatched item takes its theme from, in
    order (canonical ``parent``/``epic`` or the export's column names). With
    ``split_multiple_label_matches`` an item whose labels match label rules of two or more
    themes has its effort split equally between them; otherwise the first matching rule
    wins. ``capitalizable`` names themes whose cost may be capitalised; ``categories`` maps
    themes to groups such as roadmap / ktlo / tech_debt (targets may be set per category).
    """

    rules: list[Rule]
    unclassified: str = "Unclassified"
    inherit_from: list[str] = field(default_factory=lambda: ["parent", "epic"])
    split_multiple_label_matches: bool = False
    capitalizable: list[str] = field(default_factory=list)
    categories: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.rules:
            raise ValueError("rules: the list is empty; add at least one rule")
        themes = self.themes
        if self.unclassified in themes:
            raise ValueError(
                f"unclassified: {self.unclassified!r} is also a rule's theme; give unmatched work "
                "its own name"
            )
        for name in self.capitalizable:
            if name not in themes:
                raise ValueError(f"capitalizable: {name!r} is not a theme of the rules; {_suggest(name, themes)}")
        for name in self.categories:
            if name not in themes:
                raise ValueError(f"categories: {name!r} is not a theme of the rules; {_suggest(name, themes)}")

    @property
    def themes(self) -> list[str]:
        """Theme names in the order their first rule appears."""
        return list(dict.fromkeys(rule.theme for rule in self.rules))


@dataclass(frozen=True)
class TableSource:
    """A CSV/parquet file and how its columns map to the names the analysis uses.

    ``columns`` maps an analysis name (e.g. ``author``) to the file's column; names left out
    use the defaults of the table (or of the tracker, for work items).
    """

    path: str
    columns: dict[str, str | list[str]] = field(default_factory=dict)
    date_format: str | None = None
    time_unit: TimeUnit | None = None
    delimiter: str = ","
    encoding: str = "utf-8"


@dataclass(frozen=True)
class ItemSource(TableSource):
    """A tracker's work-item export; ``tracker`` picks the default column names.
    ``label_separator`` splits label and component cells (``" "`` at any whitespace); unset,
    the tracker's separator is used, or one is detected, and list text is always read."""

    tracker: Tracker = "jira"
    label_separator: str | None = None


@dataclass(frozen=True)
class Sources:
    """Where the inputs are: work items (required), worklogs and people (optional)."""

    items: ItemSource
    worklogs: TableSource | None = None
    people: TableSource | None = None


@dataclass(frozen=True)
class StatusBands:
    """How far from target, in percentage points, is still "on target" or only "drifting"."""

    on_target_pp: float = 2.0
    drifting_pp: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.on_target_pp < self.drifting_pp:
            raise ValueError(
                f"on_target_pp ({self.on_target_pp}) must be ≥ 0 and below drifting_pp "
                f"({self.drifting_pp})"
            )


@dataclass(frozen=True)
class AllocationParams:
    """Everything an allocation report needs.

    ``rules`` is the path of a rules YAML file or the rules themselves (a mapping with the keys
    of :class:`ThemeRules`). ``targets`` is a CSV path (theme, team, target_share; a blank team is the organisation) or
    an inline mapping theme → share for the organisation. ``target_basis`` says what actual
    shares are compared with targets: ``classified`` effort (Unclassified left out, since no
    target covers it) or ``all`` effort. ``item_date`` dates item-level units (time spent,
    story points, item count) by resolution or creation. ``unknown_people`` says what happens to
    worklogs whose author is not in the people file: ``keep`` (team "Unknown", reported) or
    ``drop`` (counted in the drop log). ``months_of_history`` ending at ``period``
    (``null`` = everything). ``min_effort`` is the least effort in the period, in the unit, for
    a verdict on shares and gaps (default per unit: :data:`MIN_EFFORT`); below it the report
    shows the numbers but says there is too little effort to judge them. ``currency`` is the
    ISO 4217 code of the people file's ``monthly_cost`` (``EUR``), written with every cost.
    """

    sources: Sources
    rules: Any
    unit: Unit = "logged_hours"
    targets: str | dict[str, float] | None = None
    target_basis: Literal["classified", "all"] = "classified"
    status_bands: StatusBands = field(default_factory=StatusBands)
    capitalizable: list[str] | None = None
    period: str | None = None
    months_of_history: int | None = 6
    item_date: Literal["resolved", "created"] = "resolved"
    unknown_people: Literal["keep", "drop"] = "keep"
    unknown_team: str = "Unknown"
    min_effort: float | None = None
    currency: str | None = None

    @property
    def effort_needed(self) -> float:
        return MIN_EFFORT[self.unit] if self.min_effort is None else self.min_effort

    def __post_init__(self) -> None:
        if self.min_effort is not None and self.min_effort < 0:
            raise ValueError(f"min_effort: must be 0 or more, got {self.min_effort}")
        if self.currency is not None:
            object.__setattr__(self, "currency", parse_currency(self.currency))
        if isinstance(self.rules, dict):
            object.__setattr__(self, "rules", build(ThemeRules, self.rules, source="rules"))
        elif not isinstance(self.rules, (str, ThemeRules)):
            raise ParameterError(
                f"rules: expected the path of a rules YAML file or a mapping of rules, got {type(self.rules).__name__}"
            )
        if self.period is not None:
            object.__setattr__(self, "period", parse_period(self.period, "period"))
        if self.months_of_history is not None and self.months_of_history < 1:
            raise ValueError(f"months_of_history: must be at least 1 (or null for all), got {self.months_of_history}")
        if self.unit in ("logged_hours",) and self.sources.worklogs is None:
            raise ValueError(
                "unit: 'logged_hours' needs sources.worklogs; add the worklog export or choose "
                "time_spent, story_points, item_count or days_in_progress"
            )
        if self.unit == "person_months" and self.sources.people is None:
            raise ValueError("unit: 'person_months' needs sources.people (person, team, fte); add the people file")
