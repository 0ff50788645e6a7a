"""Sample engineering-allocation inputs: a Jira export, worklogs, people, targets and rules.

The effort is generated theme first: each month, every theme gets a planted share of
the worklogs (``EFFORT_SHARE``); each worklog then picks a work item of that theme that
is open that month and an author from the teams that work on it.  The item's theme is
carried the way real Jira data carries it: epics have the labels/components, their
stories and sub-tasks mostly have none and must inherit.  The true theme of every item
is written to ``truth/allocation_items.csv`` and the true monthly effort share (hours
from the valid worklogs) to truth.json.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import _jira_text as text
from ._common import (
    HOSTILE_SNIPPETS,
    SAMPLE_MONTHS,
    THEME_BY_NAME,
    THEMES,
    UNCLASSIFIED,
    fill,
    inject_hostile,
    month_bounds,
    pick,
    rounded,
    write_csv,
    write_rows,
    write_text,
)
from ._organisation import (
    EXTRA_COMPONENTS,
    KTLO_SUMMARY_PATTERN,
    MOVES,
    TECH_DEBT_SUMMARY_PATTERN,
    monthly_rosters,
    people_table,
    rules_yaml,
    targets_table,
    team_mix,
)

SEED = 20261002
EFFORT_SHARE = {
    "Onboarding": 0.085, "Billing & invoicing": 0.09, "Reporting & dashboards": 0.045,
    "Integrations": 0.09, "Performance & reliability": 0.09, "Mobile app": 0.23, "Search": 0.08,
    "Permissions & admin": 0.08, "Maintenance (KTLO)": 0.10, "Tech debt": 0.06, UNCLASSIFIED: 0.05,
}
SPLIT_SHARE_PER_PAIR = 0.005
OTHER_LABELS = ("q3-roadmap", "customer-ask", "needs-design", "frontend", "backend")
HOURS_PER_MONTH = (6_980, 7_060, 7_130, 7_180, 7_240, 7_300)  # ~2,500 worklogs a month
LOG_HOURS = ((0.5, 0.08), (1.0, 0.17), (1.5, 0.1), (2.0, 0.2), (3.0, 0.15), (4.0, 0.15),
             (6.0, 0.08), (8.0, 0.07))
ITEMS_PER_UNIT_SHARE = 2_450
MISSING_AUTHOR, N_MISSING_AUTHOR_LOGS = "Riley Chen", 25
UNKNOWN_KEYS = ("APP-99991", "APP-99992", "PAY-9001", "MOB-9999", "OPS-12", "OPS-13", "PLAT-99999")
N_NEGATIVE_LOGS = 3
PROJECT_START = {"APP": 1201, "PAY": 40, "MOB": 310, "PLAT": 2050}
DAY = pd.Timedelta(days=1)
HORIZON = pd.Timestamp("2026-11-01")
MONTHS_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _groups() -> dict[str, tuple[float, dict[str, float]]]:
    """Effort groups: share and theme weights (split pairs count half to each theme)."""
    shares = dict(EFFORT_SHARE)
    groups: dict[str, tuple[float, dict[str, float]]] = {}
    for first, second in text.SPLIT_SUMMARIES:
        shares[first] -= SPLIT_SHARE_PER_PAIR / 2
        shares[second] -= SPLIT_SHARE_PER_PAIR / 2
        groups[f"{first} | {second}"] = (SPLIT_SHARE_PER_PAIR, {first: 0.5, second: 0.5})
    return {name: (share, {name: 1.0}) for name, share in shares.items()} | groups


class _ItemBuilder:
    """Collects work items as dicts; ``add`` draws dates and story points."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.items = rng, []

    def add(self, group: str, issue_type: str, project: str, summary: str, *, labels=(),
            component: str = "", epic: int | None = None, parent: int | None = None) -> int:
        rng = self.rng
        anchor = self.items[parent if parent is not None else epic]["created"] if (
            parent is not None or epic is not None) else pd.Timestamp("2026-04-01")
        latest = pd.Timestamp("2026-09-30" if issue_type == "Epic" else "2026-10-31")
        span_days = max(1, min(150, (latest - anchor).days))
        created = anchor.normalize() + DAY * int(rng.integers(0, span_days)) + pd.Timedelta(
            minutes=int(rng.integers(8 * 60, 18 * 60)))
        if not anchor < created < HORIZON:  # a child is created after its parent, before the horizon
            created = anchor + pd.Timedelta(minutes=int(rng.integers(5, 60)))
        points = None if issue_type in ("Epic", "Sub-task") else int(
            rng.choice([1, 2, 3, 5, 8, 13], p=[0.15, 0.2, 0.25, 0.2, 0.15, 0.05]))
        start = created.normalize() + DAY * int(rng.integers(0, 10))
        duration = 3 + (points or 1) * 4 + int(rng.integers(0, 20))
        self.items.append({"group": group, "type": issue_type, "project": project,
                           "summary": summary, "labels": list(labels), "component": component,
                           "epic": epic, "parent": parent, "points": points, "created": created,
                           "start": start, "end": start + DAY * duration})
        return len(self.items) - 1


def _build_items(rng: np.random.Generator) -> list[dict]:
    """Every work item of every effort group (see ``_groups``), parents before children."""
    builder = _ItemBuilder(rng)
    for group, (share, weights) in _groups().items():
        n_items = max(12, round(share * ITEMS_PER_UNIT_SHARE))
        if len(weights) == 2:  # items labelled with two themes
            first, second = weights
            for _ in range(n_items):
                builder.add(group, pick(["Story", "Task"], rng), THEME_BY_NAME[first].project,
                            fill(pick(text.SPLIT_SUMMARIES[(first, second)], rng), text.SLOTS, rng),
                            labels=[THEME_BY_NAME[first].label, THEME_BY_NAME[second].label])
        elif group == UNCLASSIFIED:  # no rule matches these
            for _ in range(n_items):
                labels = ["needs-triage"] if rng.random() < 0.3 else []
                builder.add(group, pick(["Task", "Story"], rng), pick(["APP", "PLAT", "PAY"], rng),
                            fill(pick(text.ITEM_SUMMARIES[UNCLASSIFIED], rng), text.SLOTS, rng),
                            labels=labels)
        else:
            _add_theme_items(builder, group, n_items)
    return builder.items


def _add_epics(builder: _ItemBuilder, group: str, n_epics: int, projects: list[str]) -> list[int]:
    """Epics carry the theme: a label, a component or both (one only through the epics rule)."""
    rng, theme, titles = builder.rng, THEME_BY_NAME[group], text.EPIC_TITLES[group]
    epics = []
    for i in range(n_epics):
        title = titles[i % len(titles)] + (f" (phase {i // len(titles) + 1})" if i >= len(titles) else "")
        style = i % 3
        labels = [] if style == 1 else [theme.label, pick(OTHER_LABELS, rng)]
        component = "" if style == 0 else theme.component
        if group == "Performance & reliability" and i == 0:
            labels, component = [], ""  # classified only through the `epics` rule
        epics.append(builder.add(group, "Epic", pick(projects, rng), title, labels=labels,
                                 component=component))
    return epics


def _add_theme_items(builder: _ItemBuilder, group: str, n_items: int) -> None:
    """Epics, then children that inherit (stories, sub-tasks, tasks) and items with own rules."""
    rng, theme, summaries = builder.rng, THEME_BY_NAME[group], text.ITEM_SUMMARIES[group]
    projects = [theme.project] if theme.category == "roadmap" else ["APP", "PAY", "PLAT"]
    epics = _add_epics(builder, group, max(1 if theme.category != "roadmap" else 2, round(n_items / 40)),
                       projects)
    stories: list[int] = []
    matching = [s for s in summaries if _matches_summary_rule(s)]
    for _ in range(n_items):
        summary = fill(pick(summaries, rng), text.SLOTS, rng)
        if group == "Maintenance (KTLO)" and rng.random() < 0.4:  # found by the issue-type rule
            builder.add(group, "Bug", pick(projects, rng), fill(pick(text.BUG_SUMMARIES, rng), text.SLOTS, rng))
            continue
        draw = rng.random()
        if draw < 0.5 or (draw < 0.75 and not stories):
            epic = pick(epics, rng)
            child_labels = [pick(OTHER_LABELS, rng)] if rng.random() < 0.15 else []
            stories.append(builder.add(group, "Story", builder.items[epic]["project"], summary,
                                       labels=child_labels, epic=epic))
        elif draw < 0.75:
            parent = pick(stories, rng)
            builder.add(group, "Sub-task", builder.items[parent]["project"], summary, parent=parent)
        elif draw < 0.85:
            epic = pick(epics, rng)
            builder.add(group, "Task", builder.items[epic]["project"], summary, epic=epic)
        elif theme.category == "roadmap":
            if draw < 0.95:
                builder.add(group, "Bug", theme.project, fill(pick(text.BUG_SUMMARIES, rng), text.SLOTS, rng),
                            labels=[theme.label])
            else:
                components = (theme.component, *EXTRA_COMPONENTS.get(group, ()))
                builder.add(group, "Story", theme.project, summary, component=pick(components, rng))
        elif draw < 0.92 and matching:  # found by the summary rule
            builder.add(group, "Task", pick(projects, rng), fill(pick(matching, rng), text.SLOTS, rng))
        else:
            builder.add(group, "Task", pick(projects, rng), summary, labels=[theme.label])


def _matches_summary_rule(summary: str) -> bool:
    return any(re.search(pattern, summary) for pattern in (KTLO_SUMMARY_PATTERN, TECH_DEBT_SUMMARY_PATTERN))


def _assign_keys(items: list[dict]) -> None:
    """Issue ids in creation order; keys numbered per project in creation order."""
    counters = dict(PROJECT_START)
    order = sorted(range(len(items)), key=lambda i: (items[i]["created"], i))
    for issue_id, index in enumerate(order, start=10_001):
        item = items[index]
        item["id"] = issue_id
        item["key"] = f"{item['project']}-{counters[item['project']]}"
        counters[item["project"]] += 1


def _hours_summing_to(rng: np.random.Generator, target: float) -> np.ndarray:
    """Worklog durations drawn from ``LOG_HOURS`` whose total is exactly ``target`` hours.

    The last draw is cut to fit, so every theme gets exactly its planted share of the
    month's hours and the true effort share carries no sampling noise.
    """
    hours, hours_p = (np.array(column) for column in zip(*LOG_HOURS, strict=True))
    draws = rng.choice(hours, size=int(target / hours.min()) + 1, p=hours_p)
    total = np.cumsum(draws)
    last = int(np.searchsorted(total, target))
    draws = draws[: last + 1]
    draws[last] = target - (total[last - 1] if last else 0.0)
    return draws


def _worklogs(rng: np.random.Generator, items: list[dict],
              rosters: dict[str, dict[str, list[str]]]) -> pd.DataFrame:
    """Valid worklogs: item index, author, day and seconds (theme first, then item and author)."""
    groups = _groups()
    rows = []
    for month, month_hours in zip(SAMPLE_MONTHS, HOURS_PER_MONTH, strict=True):
        month_start, month_end = month_bounds(month)
        for group, (share, weights) in groups.items():
            own = [i for i, item in enumerate(items) if item["group"] == group and item["type"] != "Epic"]
            open_items = [i for i in own if items[i]["start"] < month_end and items[i]["end"] >= month_start]
            candidates = open_items if len(open_items) >= 3 else [
                i for i in own if items[i]["created"] < month_end]
            points = np.array([items[i]["points"] or 2 for i in candidates], dtype=float)
            mix = team_mix(weights)
            teams, team_p = list(mix), np.array(list(mix.values()))
            log_hours = _hours_summing_to(rng, round(share * month_hours * 4) / 4)
            for index, spent in zip(rng.choice(candidates, size=log_hours.size, p=points / points.sum()),
                                    log_hours, strict=True):
                item = items[index]
                low = max(item["start"], item["created"].normalize(), month_start)
                high = min(max(item["end"], low), month_end - DAY)
                days = pd.bdate_range(low, high)
                day = days[int(rng.integers(len(days)))] if len(days) else low
                team = teams[int(rng.choice(len(teams), p=team_p / team_p.sum()))]
                roster = rosters[month][team]
                rows.append((int(index), roster[int(rng.integers(len(roster)))], day, int(spent * 3600)))
    logs = pd.DataFrame(rows, columns=["item", "author", "day", "seconds"])
    platform = set().union(*(set(r["Platform"]) for r in rosters.values()))
    swapped = rng.choice(np.flatnonzero(logs["author"].isin(platform)), N_MISSING_AUTHOR_LOGS, replace=False)
    logs.loc[swapped, "author"] = MISSING_AUTHOR
    return logs


def _jira_date(moment: pd.Timestamp) -> str:
    """Jira's export format, e.g. ``03/Oct/26 2:15 PM`` (locale-independent)."""
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{moment.day:02d}/{MONTHS_ABBR[moment.month - 1]}/{moment.year % 100:02d} {hour}:{moment.minute:02d} {suffix}"


def _jira_rows(rng: np.random.Generator, items: list[dict], logs: pd.DataFrame,
               rosters: dict[str, dict[str, list[str]]]) -> tuple[list[list[object]], dict[str, int]]:
    spent = logs.groupby("item")["seconds"].sum()
    last_day = logs.groupby("item")["day"].max()
    top_author = (logs.groupby(["item", "author"]).size().reset_index(name="n")
                  .sort_values(["item", "n", "author"], ascending=[True, False, True])
                  .drop_duplicates("item").set_index("item")["author"])
    children: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        if item["epic"] is not None:
            children.setdefault(item["epic"], []).append(index)
        if index in last_day.index:
            item["end"] = max(item["end"], last_day[index])
    summaries, hostile_counts = inject_hostile([item["summary"] for item in items], rng)
    _mark_largest_item(summaries, logs, hostile_counts)
    rows = []
    for index in sorted(range(len(items)), key=lambda i: items[i]["id"]):
        item = items[index]
        end = item["end"] if item["type"] != "Epic" else max(
            (items[c]["end"] for c in children.get(index, [])), default=HORIZON)
        if item["start"] >= HORIZON and item["type"] != "Epic":
            status, resolved = "To Do", ""
        elif end < HORIZON:
            status = "Done" if rng.random() < 0.9 else "Closed"
            resolved = _jira_date(end + pd.Timedelta(minutes=int(rng.integers(9 * 60, 18 * 60))))
        else:
            status, resolved = ("In Progress" if rng.random() < 0.7 else "In Review"), ""
        if index in top_author.index:
            assignee = top_author[index]
        else:
            team = max(team_mix(_groups()[item["group"]][1]).items(), key=lambda kv: kv[1])[0]
            roster = rosters["2026-10"][team]
            assignee = roster[int(rng.integers(len(roster)))]
        estimate = ""
        if item["points"] and rng.random() < 0.6:
            estimate = round(item["points"] * 4 * rng.uniform(0.7, 1.3)) * 3600
        labels = [*item["labels"], "", "", ""][:3]
        rows.append([
            summaries[index], item["key"], item["id"], item["type"], status, item["project"],
            assignee, _jira_date(item["created"]), resolved, *labels, item["component"],
            items[item["epic"]]["key"] if item["epic"] is not None else "",
            items[item["parent"]]["key"] if item["parent"] is not None else "",
            item["points"] if item["points"] is not None else "", estimate,
            int(spent[index]) if index in spent.index else "",
        ])
    return rows, hostile_counts


def _mark_largest_item(summaries: list[str], logs: pd.DataFrame, counts: dict[str, int]) -> None:
    """Give the item with the most logged time in the last sample month a script tag, so the
    allocation report (which lists the period's largest items) shows hostile text as text."""
    last_month = logs[logs["day"] >= HORIZON - pd.offsets.MonthBegin(1)]
    largest = int(last_month.groupby("item")["seconds"].sum().idxmax())
    if "__prodops_injected" in summaries[largest]:
        return
    summaries[largest] = f"{summaries[largest]} {HOSTILE_SNIPPETS[0].text}"
    for kind in ("script", "html", "hostile_text"):
        counts[f"rows_with_{kind}"] += 1


JIRA_HEADER = (
    "Summary", "Issue key", "Issue id", "Issue Type", "Status", "Project", "Assignee", "Created",
    "Resolved", "Labels", "Labels", "Labels", "Component/s", "Custom field (Epic Link)", "Parent",
    "Custom field (Story Points)", "Original Estimate", "Time Spent",
)
def _effort_truth(items: list[dict], logs: pd.DataFrame) -> dict:
    weights = pd.DataFrame([{"item": i, "theme": theme, "weight": w}
                            for i, item in enumerate(items) for theme, w in _groups()[item["group"]][1].items()])
    hours = logs.assign(month=logs["day"].dt.strftime("%Y-%m"), hours=logs["seconds"] / 3600).merge(weights, on="item")
    hours["hours"] *= hours["weight"]
    by_month = hours.pivot_table(index="month", columns="theme", values="hours", aggfunc="sum", fill_value=0.0)
    share = by_month.div(by_month.sum(axis=1), axis=0)
    overall = by_month.sum() / by_month.to_numpy().sum()
    product = [t.name for t in THEMES if t.category == "roadmap"]
    product_share = by_month[product].div(by_month[product].sum(axis=1), axis=0)
    return {
        "hours_by_month": {m: {t: rounded(v, 2) for t, v in row.items()} for m, row in by_month.iterrows()},
        "share_by_month": {m: {t: rounded(v) for t, v in row.items()} for m, row in share.iterrows()},
        "share_all_months": {t: rounded(v) for t, v in overall.items()},
        "share_of_product_effort_by_month": {m: {t: rounded(v) for t, v in row.items()}
                                             for m, row in product_share.iterrows()},
    }


def write_allocation(out_dir: Path) -> tuple[list[Path], dict]:
    """Write ``out_dir/allocation/*`` and ``truth/allocation_items.csv``; return files and truth."""
    rng = np.random.default_rng(SEED)
    folder = out_dir / "allocation"
    people = people_table(rng)
    rosters = monthly_rosters(people)
    items = _build_items(rng)
    _assign_keys(items)
    logs = _worklogs(rng, items, rosters)
    jira, hostile = _jira_rows(rng, items, logs, rosters)
    keys = np.array([item["key"] for item in items])
    valid = pd.DataFrame({"Issue key": keys[logs["item"]], "Author": logs["author"],
                          "Started": logs["day"].dt.strftime("%Y-%m-%d"), "Time Spent Seconds": logs["seconds"]})
    days = pd.bdate_range("2026-05-01", "2026-10-30").strftime("%Y-%m-%d")
    authors = sorted(people["person"].unique())
    unknown = pd.DataFrame({"Issue key": list(UNKNOWN_KEYS),
                            "Author": [authors[int(i)] for i in rng.integers(len(authors), size=len(UNKNOWN_KEYS))],
                            "Started": [days[int(i)] for i in rng.integers(len(days), size=len(UNKNOWN_KEYS))],
                            "Time Spent Seconds": [3600 * int(h) for h in rng.integers(1, 5, len(UNKNOWN_KEYS))]})
    negative = valid.iloc[np.sort(rng.choice(len(valid), N_NEGATIVE_LOGS, replace=False))].copy()
    negative["Time Spent Seconds"] = [-3600, -1800, -7200]
    worklogs = pd.concat([valid, unknown, negative], ignore_index=True).sort_values(
        ["Started", "Issue key", "Author", "Time Spent Seconds"], kind="stable", ignore_index=True)
    epic_rule_key = next(item["key"] for item in items if item["type"] == "Epic"
                         and item["group"] == "Performance & reliability" and not item["labels"] and not item["component"])
    item_truth = pd.DataFrame([{"key": item["key"], "theme": theme, "weight": weight}
                               for item in sorted(items, key=lambda it: it["id"])
                               for theme, weight in _groups()[item["group"]][1].items()])
    files = [
        write_rows(JIRA_HEADER, jira, folder / "jira_export.csv"),
        write_csv(worklogs, folder / "worklogs.csv"),
        write_csv(people, folder / "people.csv"),
        write_csv(targets_table(), folder / "targets.csv"),
        write_text(rules_yaml(epic_rule_key), folder / "theme_rules.yaml"),
        write_csv(item_truth, out_dir / "truth" / "allocation_items.csv"),
    ]
    missing = logs["author"] == MISSING_AUTHOR
    inherits = sum(1 for item in items if (item["epic"] is not None or item["parent"] is not None)
                   and not any(label in {t.label for t in THEMES} for label in item["labels"]))
    truth = {
        "files": {"jira_export": "allocation/jira_export.csv", "worklogs": "allocation/worklogs.csv",
                  "people": "allocation/people.csv", "targets": "allocation/targets.csv",
                  "theme_rules": "allocation/theme_rules.yaml", "item_themes": "truth/allocation_items.csv"},
        "items": len(items),
        "items_by_type": {k: int(v) for k, v in pd.Series([i["type"] for i in items]).value_counts().sort_index().items()},
        "items_by_theme": {k: int(v) for k, v in item_truth.groupby("theme")["key"].nunique().items()},
        "items_inheriting_theme": inherits,
        "items_split_between_two_themes": int(item_truth["key"].duplicated().sum()),
        "epic_classified_by_epics_rule": epic_rule_key,
        "worklog_rows": len(worklogs), "valid_worklog_rows": len(valid),
        "dropped_worklogs": {"unknown_issue_key": len(UNKNOWN_KEYS), "negative_seconds": N_NEGATIVE_LOGS},
        "unknown_issue_keys": list(UNKNOWN_KEYS),
        "author_missing_from_people": {"author": MISSING_AUTHOR, "worklogs": int(missing.sum()),
                                       "hours": rounded(logs.loc[missing, "seconds"].sum() / 3600, 2)},
        "people": int(people["person"].nunique()), "team_moves": [
            {"person": people.loc[(people["effective_from"] == date) & (people["team"] == new), "person"].iloc[0],
             "from_team": old, "to_team": new, "effective_from": date} for old, new, date in MOVES],
        "planted_effort_share": EFFORT_SHARE, "split_share_per_pair": SPLIT_SHARE_PER_PAIR,
        "effort": _effort_truth(items, logs),
        "hostile_text": {"allocation/jira_export.csv": hostile},
    }
    return files, truth
