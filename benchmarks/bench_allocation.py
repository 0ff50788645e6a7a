"""Benchmark: the full allocation on 1,000,000 work items and 5,000,000 worklogs.

    .venv/bin/python benchmarks/bench_allocation.py            # full size (about a minute)
    .venv/bin/python benchmarks/bench_allocation.py --scale 0.05   # a quick run

Generates (seeded) a Jira-like export of work items with repeated Labels columns, epics,
sub-tasks, components and story points; worklogs by 2,000 people in 40 teams over 24 months
(some people move team mid-way); a people file and targets. It then times, each in a fresh
process so that peak memory is the run's own:

- **floor**: the least any allocation must do — one pandas merge of the worklogs (with team
  and month already on them) with each item's theme, and one groupby of hours by theme, team
  and month;
- **full**: the whole analysis from the typed tables: column mapping and label collection,
  theme rules with inheritance and splits, team at each worklog's date, logged hours,
  person-months and cost, shares by theme × team × month, targets, trends, concentration
  and estimates (:func:`prodops_lib.allocation.analyse`).

Each phase runs ``--repeat`` times, alternating, and the best time counts (other processes
on a shared machine only ever slow a run down). It prints wall time and peak resident memory
of each, and the ratio full / floor (target: at most 2×). Reading CSV is left out of both:
it is the same for every analysis.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

THEMES = ("Onboarding", "Billing", "Reporting", "Integrations", "Performance", "Mobile", "Search",
          "Permissions", "KTLO", "Tech debt")
LABELS = ("onboarding", "billing", "reporting", "integrations", "performance", "mobile", "search",
          "permissions", "ktlo", "tech-debt")
COMPONENTS = ("Signup", "Payments", "Dashboards", "API", "Infrastructure", "iOS", "Search", "Admin", "Ops", "Core")
PROJECTS = ("APP", "PAY", "MOB", "PLAT", "OPS")
WORDS = ("Fix", "Add", "Improve", "Remove", "Refactor", "Upgrade", "Investigate", "Document",
         "incident", "export", "login", "invoice", "chart", "webhook", "cache", "query", "screen")
FIRST_MONTH, N_MONTHS = np.datetime64("2024-11", "M"), 24
PERIOD = "2026-10"


def rules():
    from prodops_lib.allocation import Rule, ThemeRules

    return ThemeRules(
        rules=[Rule(theme=t, labels=[label]) for t, label in zip(THEMES, LABELS, strict=True)]
        + [Rule(theme=t, components=[c]) for t, c in zip(THEMES, COMPONENTS, strict=True)]
        + [Rule(theme="Mobile", projects=["MOB"]),
           Rule(theme="KTLO", summary=r"(?i)\bincident\b"),
           Rule(theme="Tech debt", summary=r"(?i)\b(refactor|upgrade)\b"),
           Rule(theme="KTLO", issue_types=["Bug"])],
        split_multiple_label_matches=True, capitalizable=list(THEMES[:8]),
        categories={t: ("roadmap" if i < 8 else "ktlo" if t == "KTLO" else "tech_debt") for i, t in enumerate(THEMES)},
    )


def generate(scale: float, folder: Path, seed: int = 20261101) -> dict:
    """Write items, worklogs, people (parquet) and the floor's inputs into ``folder``."""
    rng = np.random.default_rng(seed)
    n_items, n_logs, n_people = int(1_000_000 * scale), int(5_000_000 * scale), max(40, int(2_000 * scale))
    start_day = FIRST_MONTH.astype("datetime64[D]")
    n_days = int(((FIRST_MONTH + N_MONTHS).astype("datetime64[D]") - start_day).astype(int))

    people = pd.DataFrame({"person": [f"Person {i:04d}" for i in range(n_people)],
                           "team": [f"Team {i % 40:02d}" for i in range(n_people)],
                           "fte": rng.choice([1.0, 1.0, 1.0, 0.8, 0.5], n_people),
                           "effective_from": pd.Timestamp("2024-01-01")})
    people["monthly_cost"] = (people["fte"] * rng.uniform(9_000, 15_000, n_people)).round(-2)
    movers = people.sample(frac=0.05, random_state=seed).copy()
    movers["team"] = [f"Team {(int(t[-2:]) + 7) % 40:02d}" for t in movers["team"]]
    movers["effective_from"] = pd.Timestamp("2025-11-01") + pd.to_timedelta(rng.integers(0, 300, len(movers)), unit="D")
    people = pd.concat([people, movers], ignore_index=True)

    kind = rng.choice(["Epic", "Story", "Sub-task", "Bug", "Task"], n_items, p=[0.02, 0.55, 0.15, 0.13, 0.15])
    kind[:10] = "Epic"
    project = rng.choice(PROJECTS, n_items)
    keys = pd.Series(project).str.cat(pd.Series(np.arange(n_items) + 1000).astype(str), sep="-")
    theme = rng.integers(0, len(THEMES), n_items)
    epics, stories = np.flatnonzero(kind == "Epic"), np.flatnonzero(kind == "Story")
    epic_link = np.full(n_items, None, dtype=object)
    linked = (kind == "Story") | ((kind == "Task") & (rng.random(n_items) < 0.5))
    epic_link[linked] = keys.to_numpy()[rng.choice(epics, linked.sum())]
    parent = np.full(n_items, None, dtype=object)
    parent[kind == "Sub-task"] = keys.to_numpy()[rng.choice(stories, (kind == "Sub-task").sum())]
    labels = np.where((kind == "Epic") | (rng.random(n_items) < 0.2), np.array(LABELS)[theme], None)
    second = np.where(rng.random(n_items) < 0.01, np.array(LABELS)[(theme + 1) % len(LABELS)], None)
    other = np.where(rng.random(n_items) < 0.1, "customer-ask", None)
    component = np.where(rng.random(n_items) < 0.1, np.array(COMPONENTS)[theme], None)
    summary = pd.Series(np.array(WORDS)[rng.integers(0, len(WORDS), n_items)]).str.cat(
        pd.Series(np.array(WORDS)[rng.integers(8, len(WORDS), n_items)]), sep=" ")
    created = start_day + rng.integers(0, n_days - 5, n_items).astype("timedelta64[D]")
    resolved = created + rng.gamma(2.0, 12.0, n_items).astype(int).astype("timedelta64[D]")
    resolved = np.where(rng.random(n_items) < 0.1, np.datetime64("NaT"), resolved)
    points = np.where(np.isin(kind, ["Story", "Task", "Bug"]), rng.choice([1, 2, 3, 5, 8, 13], n_items), np.nan)
    estimate = np.where(rng.random(n_items) < 0.5, points * 4 * 3600, np.nan)
    assignee = people["person"].to_numpy()[rng.integers(0, n_people, n_items)]
    items = pd.DataFrame({
        "Summary": summary.astype("string"), "Issue key": keys.astype("string"), "Issue Type": kind,
        "Project": project, "Assignee": assignee, "Created": created.astype("datetime64[ns]"),
        "Resolved": resolved.astype("datetime64[ns]"), "Labels": labels, "Labels.1": second,
        "Labels.2": other, "Component/s": component, "Custom field (Epic Link)": epic_link,
        "Parent": parent, "Custom field (Story Points)": points, "Original Estimate": estimate,
    })
    for column in ("Issue Type", "Project", "Assignee", "Labels", "Labels.1", "Labels.2", "Component/s",
                   "Custom field (Epic Link)", "Parent"):
        items[column] = items[column].astype("string")

    workable = np.flatnonzero(kind != "Epic")
    item = workable[rng.integers(0, len(workable), n_logs)]
    day = start_day + rng.integers(0, n_days, n_logs).astype("timedelta64[D]")
    author = rng.integers(0, n_people, n_logs)
    worklogs = pd.DataFrame({"Issue key": keys.to_numpy()[item], "Author": people["person"].to_numpy()[author],
                             "Started": day.astype("datetime64[ns]"),
                             "Time Spent Seconds": rng.choice([1800, 3600, 7200, 10800, 14400, 28800], n_logs)})
    worklogs["Issue key"] = worklogs["Issue key"].astype("string")
    worklogs["Author"] = worklogs["Author"].astype("string")
    targets = {t: s for t, s in zip(THEMES, (0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.08, 0.07, 0.15, 0.1), strict=True)}

    # The floor's inputs: each item's theme (its own), each worklog's team and month.
    floor_logs = pd.DataFrame({"key": worklogs["Issue key"], "team": people["team"].to_numpy()[author],
                               "month": day.astype("datetime64[M]"), "hours": worklogs["Time Spent Seconds"] / 3600})
    floor_logs["team"] = floor_logs["team"].astype("string")
    item_theme = pd.DataFrame({"key": keys.astype("string"), "theme": np.array(THEMES)[theme]})
    item_theme["theme"] = item_theme["theme"].astype("string")

    for name, frame in (("items", items), ("worklogs", worklogs), ("people", people),
                        ("floor_logs", floor_logs), ("item_theme", item_theme)):
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "targets.json").write_text(json.dumps(targets))
    return {"items": n_items, "worklogs": n_logs, "people": n_people, "months": N_MONTHS}


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def run_phase(phase: str, folder: Path) -> dict:
    """Run one phase on the generated data and report its time and memory (in this process)."""
    if phase == "floor":
        logs = pd.read_parquet(folder / "floor_logs.parquet")
        item_theme = pd.read_parquet(folder / "item_theme.parquet")
        before = _rss_mb()
        started, cpu_started = time.perf_counter(), _cpu()
        merged = logs.merge(item_theme, on="key", how="inner")
        result = merged.groupby(["theme", "team", "month"], sort=False)["hours"].sum()
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu_started
        check = {"groups": len(result), "hours": float(result.sum())}
    else:
        from prodops_lib.allocation import (
            AllocationInputs,
            AllocationParams,
            ItemSource,
            Sources,
            TableSource,
            analyse,
            load_items,
            load_people,
            load_targets,
            load_worklogs,
        )
        from prodops_lib.io import DropLog

        items_raw = pd.read_parquet(folder / "items.parquet")
        logs_raw = pd.read_parquet(folder / "worklogs.parquet")
        people_raw = pd.read_parquet(folder / "people.parquet")
        targets_raw = json.loads((folder / "targets.json").read_text())
        theme_rules = rules()
        settings = AllocationParams(
            sources=Sources(items=ItemSource(path="items"), worklogs=TableSource(path="worklogs"),
                            people=TableSource(path="people")),
            rules=theme_rules, unit="logged_hours", period=PERIOD, months_of_history=N_MONTHS)
        before = _rss_mb()
        started, cpu_started = time.perf_counter(), _cpu()
        log = DropLog()
        inputs = AllocationInputs(
            items=load_items(items_raw, needed=("labels", "components", "project", "issue_type", "summary",
                                                "parent", "epic"), log=log),
            rules=theme_rules,
            worklogs=load_worklogs(logs_raw, log=log),
            people=load_people(people_raw, log=log),
            targets=load_targets(targets_raw),
        )
        allocation = analyse(inputs, settings, log)
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu_started
        org = allocation.shares.frame
        check = {"share_rows": len(org), "hours": float(org.loc[org["team"] == "ALL", "effort"].sum()),
                 "unclassified_share": allocation.unclassified_share(),
                 "misallocation": allocation.targets.misallocation["ALL"]}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"phase": phase, "seconds": seconds, "user_seconds": cpu[0], "system_seconds": cpu[1], "peak_rss_mb": peak,
            "peak_above_inputs_mb": peak - before, **check}


def _cpu() -> np.ndarray:
    """User and system CPU seconds of this process so far. System time is mostly page faults
    on fresh memory, which vary a lot from run to run on a virtual machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return np.array([usage.ru_utime, usage.ru_stime])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase; the best counts (default 3)")
    parser.add_argument("--phase", choices=["floor", "full"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(run_phase(args.phase, args.data)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_allocation_") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        size = generate(args.scale, folder)
        print(f"generated {size['items']:,} items, {size['worklogs']:,} worklogs, {size['people']:,} people, "
              f"{size['months']} months in {time.perf_counter() - started:.1f} s")
        runs: dict[str, list[dict]] = {"floor": [], "full": []}
        for _ in range(args.repeat):  # alternate, so a busy machine slows both alike
            for phase in ("floor", "full"):
                output = subprocess.run([sys.executable, __file__, "--phase", phase, "--data", str(folder)],
                                        check=True, capture_output=True, text=True).stdout
                runs[phase].append(json.loads(output.strip().splitlines()[-1]))
    best = {phase: min(rows, key=lambda row: row["seconds"]) for phase, rows in runs.items()}
    for phase, row in best.items():
        times = ", ".join(f"{r['seconds']:.2f}" for r in runs[phase])
        print(f"{phase:>5}: {row['seconds']:6.2f} s wall (best of {args.repeat}: {times}), CPU {row['user_seconds']:.2f} s "
              f"user + {row['system_seconds']:.2f} s system, peak RSS {row['peak_rss_mb']:,.0f} MB "
              f"({row['peak_above_inputs_mb']:,.0f} MB above the loaded inputs)")
    ratio = best["full"]["seconds"] / best["floor"]["seconds"]
    medians = {phase: float(np.median([r["seconds"] for r in rows])) for phase, rows in runs.items()}
    print(f"ratio full / floor: {ratio:.2f}× on the best times, {medians['full'] / medians['floor']:.2f}× on the "
          f"medians (target ≤ 2×) — {'met' if ratio <= 2 else 'NOT met'}")
    print(f"check: floor hours {best['floor']['hours']:,.0f}; full hours {best['full']['hours']:,.0f} "
          f"(the full run drops none); unclassified {best['full']['unclassified_share']:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
