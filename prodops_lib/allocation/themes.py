"""Assigning work items to themes with ordered rules, inheritance and fractional splits.

The decision for one item, in order:

1. **Its own tags.** Rules that match on labels, components or epics (``epics`` matches the
   epic's own key and every item whose epic link is that key) are tried top to bottom; the
   first match decides. With ``split_multiple_label_matches``, an item whose labels match
   label rules of two or more themes is split equally between them (weights 1/k), so its
   effort is counted once in total.
2. **Inheritance.** Otherwise the item takes the theme of the first item named in its
   ``inherit_from`` fields (parent, then epic by default) that is itself classified; the
   parent's own decision follows these same steps, so themes flow down any depth.
3. **Description.** Otherwise the descriptive rules (projects, issue types, summary
   pattern, other columns) are tried top to bottom.
4. Nothing matched: the ``unclassified`` theme, whose share is a headline data-quality figure.

Only themes flow between items, never effort: a parent's effort stays on the parent.
Everything is vectorised over items (boolean masks per rule), so a million items classify in
about a second.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from prodops_lib.io import InputError

from .config import AllocationParams, ThemeRules
from .sources import TRACKERS, WorkItems, text_codes

__all__ = ["HOW", "Classification", "classify", "extend", "fields_used"]

CRITERION_FIELD = {"labels": "labels", "components": "components", "projects": "project",
                   "issue_types": "issue_type", "summary": "summary"}
UNIT_FIELDS = {"time_spent": ("time_spent",), "story_points": ("story_points",),
               "days_in_progress": ("created",)}


def fields_used(rules: ThemeRules, settings: AllocationParams | None = None) -> tuple[str, ...]:
    """The item fields the rules and the unit need, so a missing column fails at load time."""
    needed = {CRITERION_FIELD[c] for rule in rules.rules for c in rule.criteria if c in CRITERION_FIELD}
    mapping = {}
    if settings is not None:
        spec = settings.sources.items
        mapping = {**TRACKERS[spec.tracker].columns, **spec.columns}
        needed |= set(UNIT_FIELDS.get(settings.unit, ()))
        if settings.unit in ("time_spent", "story_points", "item_count"):
            needed.add(settings.item_date)
        if settings.unit == "person_months" and settings.sources.worklogs is None:
            needed |= {"assignee", "created"}
    for name in rules.inherit_from:  # a name that is no field is an error now; an absent column is a note
        _inherit_field(name, mapping)
    return tuple(sorted(needed))


def _inherit_field(name: str, mapping: dict) -> str:
    if name in ("parent", "epic"):
        return name
    by_column = {column: field for field, columns in mapping.items() if field in ("parent", "epic")
                 for column in ((columns,) if isinstance(columns, str) else columns)}
    if name in by_column:
        return by_column[name]
    raise InputError(
        f"inherit_from: {name!r} is neither 'parent' nor 'epic' nor the export column mapped to them"
        + (f" ({', '.join(repr(c) for c in by_column)})" if by_column else "")
        + "; write inherit_from: [parent, epic] (the fields, whatever the tracker), or [] to inherit nothing"
    )


HOW = ("labels", "components", "epics", "projects", "issue_types", "summary", "fields",
       "labels (split)", "inherited", "unclassified")


@dataclass(frozen=True, eq=False)
class Classification:
    """Each item's theme(s), as arrays over the items in row order.

    ``codes`` is an assignment code per item: ``code < len(themes)`` is a single theme, larger
    codes index ``splits`` (tuples of theme indexes sharing the item equally). ``how`` indexes
    :data:`HOW` (which step decided) and ``rule`` is the 1-based rule number (0 when inherited
    or unclassified); ``summaries`` keeps the item titles for reports. :attr:`item_themes`
    is the same as a table.
    """

    keys: np.ndarray
    themes: tuple[str, ...]
    unclassified: str
    codes: np.ndarray
    splits: tuple[tuple[int, ...], ...]
    how: np.ndarray
    rule: np.ndarray
    notes: pd.DataFrame
    summaries: pd.Series | None = None

    @cached_property
    def item_themes(self) -> pd.DataFrame:
        """One row per item and theme: ``key, theme, weight, how, rule`` (an item's weights
        sum to 1)."""
        extra, theme, weight = self.expand(np.arange(len(self.codes)))
        frame = pd.DataFrame({
            "key": pd.array(extend(self.keys, extra), dtype="string"),
            "theme": pd.Categorical.from_codes(theme, categories=list(self.themes)),
            "weight": weight,
            "how": pd.Categorical.from_codes(extend(self.how, extra), categories=list(HOW)),
            "rule": extend(self.rule, extra).astype(np.int64),
            "_row": extend(np.arange(len(self.codes)), extra),
        })
        return frame.sort_values("_row", kind="stable", ignore_index=True).drop(columns="_row")

    def to_frame(self) -> pd.DataFrame:
        return self.item_themes.copy()

    def summary(self) -> pd.DataFrame:
        """Items per decision step (``how``), with their share of all items."""
        counts = np.bincount(self.how, minlength=len(HOW))
        frame = pd.DataFrame({"how": list(HOW), "items": counts})
        frame = frame[frame["items"] > 0].sort_values("items", ascending=False, kind="stable", ignore_index=True)
        frame["share"] = frame["items"] / max(len(self.codes), 1)
        return frame

    def expand(self, item_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Themes for records pointing at item rows: ``(extra, theme, weight)``.

        The output rows are the input records in order (a split item's record takes its first
        theme), followed by one extra row per further theme of a split item; ``extra`` says
        which input record each extra row repeats. A record's weights sum to 1, so effort
        multiplied by ``weight`` is never counted twice."""
        theme = self.codes[item_rows]  # a fresh array: safe to edit in place
        n_themes, n = len(self.themes), len(theme)
        split_rows = np.flatnonzero(theme >= n_themes)
        if not len(split_rows):
            return np.zeros(0, dtype=np.int64), theme, np.ones(n)
        sizes = np.array([len(s) for s in self.splits], dtype=np.int64)
        flat = np.array([t for s in self.splits for t in s], dtype=np.int64)
        starts = np.cumsum(sizes) - sizes
        split_code = theme[split_rows] - n_themes
        more = sizes[split_code] - 1
        extra = np.repeat(split_rows, more)
        member = np.arange(len(extra)) - np.repeat(np.cumsum(more) - more, more) + 1
        extra_code = np.repeat(split_code, more)
        themes = np.empty(n + len(extra), dtype=np.int64)
        themes[:n] = theme
        themes[split_rows] = flat[starts[split_code]]
        themes[n:] = flat[starts[extra_code] + member]
        weight = np.ones(n + len(extra))
        weight[split_rows] = 1.0 / sizes[split_code]
        weight[n:] = 1.0 / sizes[extra_code]
        return extra, themes, weight


def extend(values: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """``values`` for the output rows of :meth:`Classification.expand`."""
    return np.concatenate([values, values[extra]]) if len(extra) else values


class _Matcher:
    """Evaluates rules on all items or on a subset of rows (descriptive rules are only needed
    for items that neither carry a tag nor inherit, so they run on those rows only)."""

    def __init__(self, items: WorkItems, rules: ThemeRules) -> None:
        self.items, self.rules = items, rules
        self.cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.whole: dict[int, np.ndarray] = {}
        for number, rule in enumerate(rules.rules, start=1):
            for criterion, name in (("labels", "labels"), ("components", "components"), ("projects", "project"),
                                    ("issue_types", "issue_type"), ("summary", "summary")):
                if criterion in rule.criteria and name not in items.fields:
                    raise InputError(
                        f"rule {number} ({rule.theme}): matches on {criterion}, but {items.label} has no "
                        f"{name} column; map it with columns.{name} or change the rule"
                    )
            for name in rule.fields:
                if name not in items.raw.columns:
                    close = [c for c in items.raw.columns if c.casefold() == name.casefold()]
                    hint = f"did you mean {close[0]!r}?" if close else "check the column name in the export"
                    raise InputError(f"rule {number} ({rule.theme}): fields names column {name!r}, which "
                                     f"{items.label} does not have; {hint}")
        self.tag_codes, self.tag_values = text_codes(items.tags["value"], casefold=True)
        self.tag_field = items.tags["field"].to_numpy(dtype=object)
        self.tag_item = items.tags["item"].to_numpy()

    def _matches(self, name: str, wanted: list[str], rows: np.ndarray | None, raw: bool = False) -> np.ndarray:
        """Rows whose (stripped, case-folded) value is one of ``wanted``."""
        key = f"raw:{name}" if raw else name
        if key not in self.cache:
            self.cache[key] = text_codes((self.items.raw if raw else self.items.items)[name], casefold=True)
        codes, distinct = self.cache[key]
        hit = np.append(np.isin(distinct, [w.strip().casefold() for w in wanted]), False)
        return hit[codes if rows is None else codes[rows]]  # code -1 (blank) reads the appended False

    def mask(self, index: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Items (all, or ``rows``) that rule ``index`` matches: every criterion must match."""
        if rows is None:
            if index not in self.whole:
                self.whole[index] = self._mask(index, None)
            return self.whole[index]
        return self._mask(index, rows)

    def _mask(self, index: int, rows: np.ndarray | None) -> np.ndarray:
        rule, frame = self.rules.rules[index], self.items.items
        n = len(frame) if rows is None else len(rows)
        mask = np.ones(n, dtype=bool)
        for criterion in ("labels", "components"):
            wanted = getattr(rule, criterion)
            if wanted:
                hit_value = np.append(np.isin(self.tag_values, [w.strip().casefold() for w in wanted]), False)
                chosen = hit_value[self.tag_codes] & (self.tag_field == criterion)
                hit = np.zeros(len(frame), dtype=bool)
                hit[self.tag_item[chosen]] = True
                mask &= hit if rows is None else hit[rows]
        if rule.epics:
            hit = self._matches("key", rule.epics, rows)
            if "epic" in frame:
                hit = hit | self._matches("epic", rule.epics, rows)
            mask &= hit
        if rule.projects:
            mask &= self._matches("project", rule.projects, rows)
        if rule.issue_types:
            mask &= self._matches("issue_type", rule.issue_types, rows)
        if rule.summary is not None:
            summary = frame["summary"] if rows is None else frame["summary"].iloc[rows]
            with warnings.catch_warnings():  # groups in a pattern are fine: only the match counts
                warnings.simplefilter("ignore", UserWarning)
                found = summary.str.contains(rule.summary, regex=True)
            mask &= found.fillna(False).to_numpy(dtype=bool)
        for name, wanted in rule.fields.items():
            mask &= self._matches(name, wanted, rows, raw=True)
        return mask

    def first(self, indexes: Sequence[int], rows: np.ndarray | None = None) -> np.ndarray:
        """The index (into the rule list) of the first of ``indexes`` matching each item, or -1."""
        n = len(self.items.items) if rows is None else len(rows)
        first = np.full(n, -1)
        for index in reversed(indexes):  # later rules are overwritten by earlier ones
            first[self.mask(index, rows)] = index
        return first


def classify(items: WorkItems, rules: ThemeRules) -> Classification:
    """Assign every item a theme, or a split across themes (see the module docstring)."""
    n = len(items.items)
    themes = (*rules.themes, rules.unclassified)
    theme_index = {name: i for i, name in enumerate(themes)}
    unclassified = len(themes) - 1
    rule_theme = np.array([theme_index[r.theme] for r in rules.rules])
    matcher = _Matcher(items, rules)
    tag_rules = [i for i, r in enumerate(rules.rules) if r.is_tag_rule]
    other_rules = [i for i, r in enumerate(rules.rules) if not r.is_tag_rule]
    tag_first = matcher.first(tag_rules)

    codes = np.where(tag_first >= 0, rule_theme[np.maximum(tag_first, 0)], -1)
    how = np.zeros(n, dtype=np.int64)
    rule_how = np.array([HOW.index(r.criteria[0]) for r in rules.rules], dtype=np.int64)
    how[tag_first >= 0] = rule_how[tag_first[tag_first >= 0]]
    rule_number = np.where(tag_first >= 0, tag_first + 1, 0)

    splits: list[tuple[int, ...]] = []
    if rules.split_multiple_label_matches:
        label_rules = [i for i, r in enumerate(rules.rules) if r.labels]
        by_theme = np.zeros((len(themes), n), dtype=bool)
        for i in label_rules:
            by_theme[rule_theme[i]] |= matcher.mask(i)
        several = by_theme.sum(axis=0) >= 2
        if several.any():
            patterns, inverse = np.unique(by_theme[:, several].T, axis=0, return_inverse=True)
            splits = [tuple(np.flatnonzero(p).tolist()) for p in patterns]
            codes[several] = len(themes) + inverse.ravel()
            how[several] = HOW.index("labels (split)")

    mapping = dict(items.columns)
    notes = []
    fields = []
    for name in rules.inherit_from:
        field = _inherit_field(name, mapping)
        if field in items.items:
            fields.append(field)
        else:  # a Jira Cloud export has no Epic Link, an Azure query may leave Parent out: nothing to inherit
            looked = f"looked for {mapping[field]!r}" if field in mapping else "the tracker preset has no such column"
            notes.append({"issue": f"inherit_from lists {name!r}, but {items.label} has no {field} column ({looked})",
                          "rows": 0, "action": f"nothing inherited from the {field}; map columns.{field} to use it"})
    linked = [items.items[field] for field in fields]
    found = items.rows_of(pd.concat(linked, ignore_index=True)) if linked else np.zeros(0, dtype=np.int64)
    refs = [found[i * n:(i + 1) * n] for i in range(len(linked))]
    for field, values, ref in zip(fields, linked, refs, strict=True):
        dangling = int((values.notna() & (values != "")).to_numpy(dtype=bool, na_value=False)[ref < 0].sum())
        if dangling:
            notes.append({"issue": f"items whose {field} is not in the export (theme not inherited)",
                          "rows": dangling, "action": "classified by their own fields"})

    decided = codes >= 0
    classified = np.zeros(n, dtype=bool)
    classified[decided] = True
    while True:
        pending = np.flatnonzero(~decided)
        if not len(pending):
            break
        ready = np.ones(len(pending), dtype=bool)
        source = np.full(len(pending), -1)
        for ref in refs:
            target = ref[pending]
            has = target >= 0
            waiting = has & ~decided[np.maximum(target, 0)]
            take = (source < 0) & ~waiting & has & classified[np.maximum(target, 0)]
            ready &= ~(waiting & (source < 0))
            source = np.where(take, target, source)
        done = pending[ready]
        if not len(done):  # a cycle of parents: decide the rest by their own fields
            notes.append({"issue": "items in (or under) a cycle of parent/epic links", "rows": len(pending),
                          "action": "classified by their own fields"})
            done, source = pending, np.full(len(pending), -1)
            ready = np.ones(len(pending), dtype=bool)
        source = source[ready]
        inherit = source >= 0
        codes[done[inherit]] = codes[source[inherit]]
        how[done[inherit]] = HOW.index("inherited")
        own = done[~inherit]
        fallback = matcher.first(other_rules, own)
        codes[own] = np.where(fallback >= 0, rule_theme[np.maximum(fallback, 0)], unclassified)
        how[own] = np.where(fallback >= 0, rule_how[np.maximum(fallback, 0)], HOW.index("unclassified"))
        rule_number[own] = np.where(fallback >= 0, fallback + 1, 0)
        decided[done] = True
        classified[done] = codes[done] != unclassified
        rule_number[done[inherit]] = 0

    notes_frame = pd.DataFrame(notes, columns=["issue", "rows", "action"])
    summaries = items.items.get("summary")
    return Classification(items.key_values, themes, rules.unclassified, codes,
                          tuple(splits), how, rule_number, notes_frame, summaries)
