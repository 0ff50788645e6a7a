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

import numpy as np
import pandas as pd

from prodops_lib.io import InputError

from .config import AllocationParams, ThemeRules
from .sources import TRACKERS, WorkItems

__all__ = ["Classification", "classify", "fields_used"]

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
    needed |= {_inherit_field(name, mapping) for name in rules.inherit_from}
    return tuple(sorted(needed))


def _inherit_field(name: str, mapping: dict[str, str]) -> str:
    if name in ("parent", "epic"):
        return name
    by_column = {column: field for field, column in mapping.items() if field in ("parent", "epic")}
    if name in by_column:
        return by_column[name]
    raise InputError(
        f"inherit_from: {name!r} is neither 'parent' nor 'epic' nor the export column mapped to them"
        + (f" ({', '.join(repr(c) for c in by_column)})" if by_column else "")
        + "; fix the name or the column mapping"
    )


@dataclass(frozen=True, eq=False)
class Classification:
    """Each item's theme(s).

    ``item_themes`` has one row per item and theme: ``key, theme, weight, how, rule`` (weights
    of an item sum to 1; ``how`` says which step decided; ``rule`` is the 1-based rule number,
    0 when inherited or unclassified). ``codes`` gives each item (in row order) an assignment
    code: ``code < len(themes)`` is a single theme, larger codes index ``splits``.
    """

    item_themes: pd.DataFrame
    themes: tuple[str, ...]
    unclassified: str
    codes: np.ndarray
    splits: tuple[tuple[int, ...], ...]
    notes: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.item_themes.copy()

    def summary(self) -> pd.DataFrame:
        """Items per decision step, with their share of all items."""
        per_item = self.item_themes.drop_duplicates("key")
        counts = per_item["how"].value_counts().rename_axis("how").reset_index(name="items")
        counts["share"] = counts["items"] / counts["items"].sum()
        return counts

    def expand(self, item_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For records pointing at item rows: (record index, theme index, weight), with one
        output row per theme of a split item, so weights of a record sum to 1."""
        codes = self.codes[item_rows]
        n_themes = len(self.themes)
        lengths = np.ones(len(codes), dtype=np.int64)
        split_rows = codes >= n_themes
        if not split_rows.any():
            return np.arange(len(codes)), codes.astype(np.int64), np.ones(len(codes))
        split_size = np.array([len(s) for s in self.splits], dtype=np.int64)
        lengths[split_rows] = split_size[codes[split_rows] - n_themes]
        record = np.repeat(np.arange(len(codes)), lengths)
        themes = np.repeat(codes.astype(np.int64), lengths)
        weight = np.ones(len(record))
        is_split = themes >= n_themes
        if is_split.any():
            offsets = np.arange(len(record)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            members = self.splits
            flat = np.array([t for s in members for t in s], dtype=np.int64)
            starts = np.cumsum([0] + [len(s) for s in members])[:-1]
            split_code = themes[is_split] - n_themes
            themes[is_split] = flat[starts[split_code] + offsets[is_split]]
            weight[is_split] = 1.0 / split_size[split_code]
        return record, themes, weight


def _lower(values: pd.Series) -> np.ndarray:
    return values.astype("string").str.strip().str.casefold().fillna("").to_numpy(dtype=object)


def _rule_masks(items: WorkItems, rules: ThemeRules) -> list[np.ndarray]:
    frame, n = items.items, len(items.items)
    cache: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = _lower(frame[name]) if name in frame else np.full(n, "", dtype=object)
        return cache[name]

    tags = items.tags
    masks = []
    for number, rule in enumerate(rules.rules, start=1):
        mask = np.ones(n, dtype=bool)
        for criterion in ("labels", "components"):
            wanted = getattr(rule, criterion)
            if wanted:
                if criterion not in items.fields:
                    raise InputError(
                        f"rule {number} ({rule.theme}): matches on {criterion}, but {items.label} has no "
                        f"{criterion} column; map it with columns.{criterion} or change the rule"
                    )
                hit = np.zeros(n, dtype=bool)
                chosen = tags[(tags["field"] == criterion).to_numpy() & tags["value"].isin([w.casefold().strip() for w in wanted]).to_numpy()]
                hit[chosen["item"].to_numpy()] = True
                mask &= hit
        if rule.epics:
            wanted = {w.casefold().strip() for w in rule.epics}
            hit = pd.Series(column("key")).isin(wanted).to_numpy().copy()
            if "epic" in frame:
                hit |= pd.Series(column("epic")).isin(wanted).to_numpy()
            mask &= hit
        for criterion, name in (("projects", "project"), ("issue_types", "issue_type")):
            wanted = getattr(rule, criterion)
            if wanted:
                mask &= pd.Series(column(name)).isin({w.casefold().strip() for w in wanted}).to_numpy()
        for criterion, name in (("projects", "project"), ("issue_types", "issue_type"), ("summary", "summary")):
            if criterion in rule.criteria and name not in items.fields:
                raise InputError(
                    f"rule {number} ({rule.theme}): matches on {criterion}, but {items.label} has no "
                    f"{name} column; map it with columns.{name} or change the rule"
                )
        if rule.summary is not None:
            with warnings.catch_warnings():  # groups in a pattern are fine: only the match counts
                warnings.simplefilter("ignore", UserWarning)
                found = frame["summary"].str.contains(rule.summary, regex=True)
            mask &= found.fillna(False).to_numpy(dtype=bool)
        for name, wanted in rule.fields.items():
            if name not in items.raw.columns:
                close = [c for c in items.raw.columns if c.casefold() == name.casefold()]
                hint = f"did you mean {close[0]!r}?" if close else "check the column name in the export"
                raise InputError(f"rule {number} ({rule.theme}): fields names column {name!r}, which {items.label} does not have; {hint}")
            mask &= pd.Series(_lower(items.raw[name])).isin({w.casefold().strip() for w in wanted}).to_numpy()
        masks.append(mask)
    return masks


def _first(masks: Sequence[np.ndarray], rule_numbers: Sequence[int], n: int) -> np.ndarray:
    """The index (into the rule list) of the first matching rule per item, or -1."""
    if not rule_numbers:
        return np.full(n, -1)
    stacked = np.vstack([masks[i] for i in rule_numbers])
    first = np.asarray(rule_numbers)[stacked.argmax(axis=0)]
    return np.where(stacked.any(axis=0), first, -1)


def classify(items: WorkItems, rules: ThemeRules) -> Classification:
    """Assign every item a theme, or a split across themes (see the module docstring)."""
    n = len(items.items)
    themes = (*rules.themes, rules.unclassified)
    theme_index = {name: i for i, name in enumerate(themes)}
    unclassified = len(themes) - 1
    rule_theme = np.array([theme_index[r.theme] for r in rules.rules])
    masks = _rule_masks(items, rules)
    tag_rules = [i for i, r in enumerate(rules.rules) if r.is_tag_rule]
    other_rules = [i for i, r in enumerate(rules.rules) if not r.is_tag_rule]
    tag_first = _first(masks, tag_rules, n)
    other_first = _first(masks, other_rules, n)

    codes = np.where(tag_first >= 0, rule_theme[np.maximum(tag_first, 0)], -1)
    how = np.full(n, "", dtype=object)
    criteria_name = np.array([r.criteria[0] for r in rules.rules] + [""], dtype=object)
    how[tag_first >= 0] = criteria_name[tag_first[tag_first >= 0]]
    rule_number = np.where(tag_first >= 0, tag_first + 1, 0)

    splits: list[tuple[int, ...]] = []
    if rules.split_multiple_label_matches:
        label_rules = [i for i, r in enumerate(rules.rules) if r.labels]
        by_theme = np.zeros((len(themes), n), dtype=bool)
        for i in label_rules:
            by_theme[rule_theme[i]] |= masks[i]
        several = by_theme.sum(axis=0) >= 2
        if several.any():
            patterns, inverse = np.unique(by_theme[:, several].T, axis=0, return_inverse=True)
            splits = [tuple(np.flatnonzero(p).tolist()) for p in patterns]
            codes[several] = len(themes) + inverse.ravel()
            how[several] = "labels (split)"

    mapping = dict(items.columns)
    refs = []
    notes = []
    key_index = pd.Index(items.items["key"])
    for name in rules.inherit_from:
        field = _inherit_field(name, mapping)
        if field not in items.items:
            raise InputError(f"inherit_from: {name!r}: {items.label} has no {field} column; map it or remove it from inherit_from")
        linked = items.items[field]
        ref = key_index.get_indexer(linked.fillna(""))
        dangling = int((linked.notna() & (linked != "") & (ref < 0)).sum())
        if dangling:
            notes.append({"issue": f"items whose {field} is not in the export (theme not inherited)",
                          "rows": dangling, "action": "classified by their own fields"})
        refs.append(ref)

    decided = codes >= 0
    classified = np.zeros(n, dtype=bool)
    classified[decided] = True
    inherited_from = np.full(n, -1)
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
        inherited_from[done[inherit]] = source[inherit]
        how[done[inherit]] = "inherited"
        own = done[~inherit]
        fallback = other_first[own]
        codes[own] = np.where(fallback >= 0, rule_theme[np.maximum(fallback, 0)], unclassified)
        how[own] = np.where(fallback >= 0, criteria_name[fallback], "unclassified")
        rule_number[own] = np.where(fallback >= 0, fallback + 1, 0)
        decided[done] = True
        classified[done] = codes[done] != unclassified
        rule_number[done[inherit]] = 0

    item_themes = _item_themes(items.items["key"].to_numpy(), codes, splits, themes, how, rule_number)
    notes_frame = pd.DataFrame(notes, columns=["issue", "rows", "action"])
    return Classification(item_themes, themes, rules.unclassified, codes, tuple(splits), notes_frame)


def _item_themes(keys: np.ndarray, codes: np.ndarray, splits: list[tuple[int, ...]],
                 themes: tuple[str, ...], how: np.ndarray, rule_number: np.ndarray) -> pd.DataFrame:
    stub = Classification(pd.DataFrame(), themes, "", codes, tuple(splits), pd.DataFrame())
    record, theme, weight = stub.expand(np.arange(len(codes)))
    return pd.DataFrame({
        "key": pd.array(keys[record], dtype="string"),
        "theme": pd.Categorical.from_codes(theme, categories=list(themes)),
        "weight": weight,
        "how": pd.array(how[record], dtype="string"),
        "rule": rule_number[record].astype(np.int64),
    })

