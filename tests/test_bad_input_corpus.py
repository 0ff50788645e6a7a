"""A corpus of bad and unusual inputs across the parameters and the three analyses. Each case
asserts the exact class of what the user gets:

- ``error``: one line (no traceback, no line break) that names the file, column, row or
  parameter, matched by a pattern;
- ``drop``: the run goes on and the rows are counted in the drop log with their reason (the
  report's data-quality section shows that log);
- ``warning``: the run goes on and a warning says what is thin or suspicious (on the page or in
  ``prodops check``);
- ``read``: an unusual but valid input read correctly (the value the test checks).

Nothing may pass silently with a wrong number: every case below once did, or could.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from prodops_lib import io, params
from prodops_lib.allocation import (
    AllocationParams,
    load_items,
    load_people,
    load_targets,
    load_worklogs,
)
from prodops_lib.experiments import (
    ExperimentSpec,
    MetricSpec,
    analyse_aggregates,
    analyse_experiment,
)
from prodops_lib.experiments.report import (
    FakeDoorReport,
    load_fake_door,
    timestamp_notes,
    variant_label_notes,
)
from prodops_lib.feedback.config import ColumnMap, FeedbackParams, FeedbackSource
from prodops_lib.feedback.prepare import load_feedback
from prodops_lib.io import DropLog, InputError
from prodops_lib.params import ParameterError


@dataclass
class Outcome:
    kind: str  # error, drop, warning, read
    text: str  # the error, the drop reasons with counts, the warnings, or what was read


def outcome(run: Callable[[DropLog], object]) -> Outcome:
    log = DropLog()
    try:
        value = run(log)
    except (InputError, ParameterError) as error:
        return Outcome("error", str(error))
    if isinstance(value, Outcome):
        return value
    drops = [f"{entry['reason']}: {entry['rows']}" for entry in log.drops]
    if drops:
        return Outcome("drop", "; ".join(drops))
    return Outcome("read", repr(value))


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- allocation
JIRA_HEAD = "Issue key,Summary,Issue Type,Labels,Created,Resolved,Time Spent\n"


def items(text: str, **options):
    def run(tmp_path):
        def go(log):
            loaded = load_items(write(tmp_path, "items.csv", text), log=log, **options)
            return {"keys": loaded.items["key"].tolist(), "tags": loaded.tags["value"].tolist(),
                    **({"created": loaded.items["created"].dt.strftime("%Y-%m-%d %H:%M").tolist()}
                       if "created" in loaded.items else {}),
                    **({"hours": loaded.items["time_spent"].tolist()} if "time_spent" in loaded.items else {})}
        return outcome(go)
    return run


def worklogs(text: str, **columns):
    def run(tmp_path):
        spec = params.build(AllocationParams, {"sources": {"items": {"path": "x.csv"}, "worklogs": {
            "path": str(write(tmp_path, "worklogs.csv", text)), **({"columns": columns} if columns else {})}},
            "rules": "unused.yaml"}).sources.worklogs
        return outcome(lambda log: load_worklogs(spec, log=log)["hours"].tolist())
    return run


def people(text: str):
    return lambda tmp_path: outcome(lambda log: load_people(write(tmp_path, "people.csv", text), log=log))


def targets(text: str):
    return lambda tmp_path: outcome(lambda log: load_targets(write(tmp_path, "targets.csv", text), log=log))


def allocation_params(settings: dict):
    base = {"sources": {"items": {"path": "x.csv"}, "worklogs": {"path": "w.csv"}}, "rules": "r.yaml"}
    return lambda tmp_path: outcome(lambda log: params.build(AllocationParams, {**base, **settings}))


# ---------------------------------------------------------------- feedback
def feedback(text: str | bytes, columns: dict, **source):
    def run(tmp_path):
        path = write(tmp_path, "reviews" + source.pop("suffix", ".csv"), text)
        channel = FeedbackSource("reviews", path, ColumnMap(**columns), **source)
        return outcome(lambda log: load_feedback([channel], log, period="2026-10", history_months=3)["text"].tolist())
    return run


def feedback_params(settings: dict):
    base = {"sources": [{"name": "s", "path": "x.csv", "columns": {"text": "t", "date": "d"}}]}
    return lambda tmp_path: outcome(lambda log: params.build(FeedbackParams, {**base, **settings}))


# ---------------------------------------------------------------- experiments
def units(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user_id": np.arange(n), "variant": rng.choice(["control", "B"], n),
                         "converted": rng.integers(0, 2, n), "revenue": rng.normal(50, 10, n),
                         "orders": rng.integers(0, 3, n), "sessions": rng.integers(1, 4, n),
                         "seen": pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.uniform(0, 9 * 86400, n), unit="s")})


PRIMARY = MetricSpec("converted", kind="proportion", role="primary")


def experiment(change: Callable[[pd.DataFrame], pd.DataFrame] | None = None, *, metrics=None, as_csv: bool = False,
               inspect: Callable[[object], Outcome] | None = None, **spec):
    def run(tmp_path):
        data = units()
        data = change(data) if change else data
        settings = ExperimentSpec(**{"name": "t", "unit": "user_id", "metrics": metrics or [PRIMARY], **spec})
        source = data
        if as_csv:
            source = tmp_path / "units.csv"
            data.to_csv(source, index=False)

        def go(log):
            result = analyse_experiment(source, settings)
            for row in result.drops.itertuples():
                log.drop("units", row.reason, int(row.rows))
            if inspect:
                return inspect(result)
            return result.results[["metric", "variant", "rel_effect"]].round(4).to_dict("records")
        return outcome(go)
    return run


def experiment_file(content: bytes):
    def run(tmp_path):
        path = write(tmp_path, "units.csv", content)
        return outcome(lambda log: analyse_experiment(path, ExperimentSpec(name="t", unit="user_id", metrics=[PRIMARY])))
    return run


def aggregates(text: str, metric: MetricSpec = PRIMARY):
    def run(tmp_path):
        frame = io.load_table(write(tmp_path, "agg.csv", text), label="agg.csv")
        return outcome(lambda log: analyse_aggregates(frame, ExperimentSpec(name="t", metrics=[metric]), source="agg.csv"))
    return run


def fake_door(text: str):
    def run(tmp_path):
        report = FakeDoorReport(name="f", source=str(write(tmp_path, "fd.csv", text)), target_click_through=0.03)
        return outcome(lambda log: load_fake_door(report, log))
    return run


def warned(texts: list[str]) -> Outcome:
    return Outcome("warning", " | ".join(texts)) if texts else Outcome("read", "no warning")


def notes_of(key: str):
    return lambda result: warned([json.dumps(result.notes[key], default=str)] if result.notes.get(key) else [])


def experiment_params(settings: dict):
    base = {"source": "x.csv", "experiment": {"name": "t", "metrics": [{"name": "c", "kind": "proportion", "role": "primary"}]}}
    from prodops_lib.experiments.report import ExperimentReport

    def merge(base: dict, extra: dict) -> dict:
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        return out
    return lambda tmp_path: outcome(lambda log: params.build(ExperimentReport, merge(base, settings)))


def setting(key: str, value):
    """A parameter with one value replaced, for the generic loader."""
    return {key: value}


CASES = [
    # --- files of any analysis
    ("empty file", items(""), "error", r"items\.csv: the file is empty \(0 bytes\); export it again$"),
    ("header only", items(JIRA_HEAD), "error", r"items\.csv: has a header but no data rows$"),
    ("latin-1 file", items((JIRA_HEAD + "A-1,Café,Bug,,2026-10-01,,\n").encode("latin-1")), "error",
     r"not valid utf-8 text \(byte 0xe9 at offset \d+\); re-save it as UTF-8 or set encoding: latin-1"),
    ("utf-16 file", items((JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,\n").encode("utf-16")), "error", r"UTF-16"),
    ("semicolon delimiter", items(JIRA_HEAD.replace(",", ";") + "A-1;x;Bug;;2026-10-01;;\n"), "error",
     r"delimiter"),
    ("row with an extra field", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,,extra\n"), "error",
     r"data row 1 has 8 fields but the header has 7"),
    ("a directory instead of a file", lambda tmp_path: outcome(lambda log: load_items(tmp_path, log=log)), "error",
     r"is a folder, not a file"),
    ("unsupported file type", lambda tmp_path: outcome(lambda log: load_items(write(tmp_path, "x.docx", "x"))),
     "error", r"unsupported file type '\.docx'"),
    ("json without records", lambda tmp_path: outcome(lambda log: load_items(write(tmp_path, "x.json", '{"a": 1}'))),
     "error", r"holds an object with no list; expected a list of records"),
    ("broken json", lambda tmp_path: outcome(lambda log: load_items(write(tmp_path, "x.json", "[{"))), "error",
     r"not valid JSON at line 1"),
    # --- allocation: work items
    ("missing key column", items("Key,Summary\nA-1,x\n"), "error",
     r"column 'Issue key' \(the key\) is missing; set columns\.key to the export's column; columns present: Key, Summary$"),
    ("blank key", items(JIRA_HEAD + ",x,Bug,,2026-10-01,,\n"), "error", r"data row 1 has no item key"),
    ("duplicate key", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,\nA-1,y,Bug,,2026-10-02,,\n"), "error",
     r"item key 'A-1' appears more than once \(data row 1 and data row 2"),
    ("negative time spent", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,-5\n"), "error",
     r"column 'Time Spent', data row 1: '-5' is not a number ≥ 0; fix the value$"),
    ("text time spent", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,2h\n"), "error", r"'2h' is not a number ≥ 0"),
    ("one unreadable date among good ones", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,\nA-2,y,Bug,,yesterday,,\n"
                                                  "A-3,z,Bug,,2026-10-03,,\n"), "error",
     r"column 'Created', data row 2: 'yesterday' is not a date-time like ISO 8601; fix the value$"),
    ("every date unreadable", items(JIRA_HEAD + "A-1,x,Bug,,soon,,\nA-2,y,Bug,,later,,\n"), "error",
     r"column 'Created': 2 of 2 values cannot be read as dates .*set date_format"),
    ("wrong date_format set", items(JIRA_HEAD + "A-1,x,Bug,,01.10.2026,,\n", date_format="%Y-%m-%d"), "error",
     r"cannot be read with date_format '%Y-%m-%d' .*set date_format: '%d\.%m\.%Y'$"),
    # 13/10 has no 13th month, so the whole column is day first: 03/10 is October too
    ("day-first dates", items(JIRA_HEAD + "A-1,x,Bug,,13/10/2026,,\nA-2,y,Bug,,03/10/2026,,\n"), "read",
     r"'created': \['2026-10-13 00:00', '2026-10-03 00:00'\]"),
    ("German month names", items(JIRA_HEAD + "A-1,x,Bug,,12/Okt/26 10:15 AM,,\n"), "read",
     r"'created': \['2026-10-12 10:15'\]"),
    ("time zone offsets", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01T23:30:00-05:00,,\n"), "read",
     r"'created': \['2026-10-02 04:30'\]"),
    ("list text labels", items(JIRA_HEAD + "A-1,x,Bug,\"['billing', 'ui']\",2026-10-01,,\n"), "read",
     r"'tags': \['billing', 'ui'\]"),
    ("space separated jira labels", items(JIRA_HEAD + "A-1,x,Bug,billing ui,2026-10-01,,\n"), "read",
     r"'tags': \['billing', 'ui'\]"),
    ("jira seconds become hours", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,5400\n"), "read", r"'hours': \[1\.5\]"),
    ("github preset reads hours as set", items("number,title,createdAt,labels\n7,x,2026-10-01T00:00:00Z,bug\n",
                                               tracker="github"), "read", r"'keys': \['7'\]"),
    ("unknown tracker", items(JIRA_HEAD, tracker="trello"), "error", r"tracker 'trello' is not one of jira, github"),
    ("mapping typo", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,\n", columns={"summry": "Summary"}), "error",
     r"columns\.summry is not a field the analysis reads; did you mean 'summary'\?$"),
    ("a mapped column that is absent", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,\n", columns={"epic": "Epic"}),
     "error", r"column 'Epic' \(the epic field\) is missing; set columns\.epic .*columns present: Issue key"),
    ("several columns for a non-key field", items(JIRA_HEAD + "A-1,x,Bug,,2026-10-01,,\n",
                                                  columns={"summary": ["Summary", "Issue Type"]}), "error",
     r"columns\.summary lists several columns; only the key may be composed"),
    ("a repeated header that is not a label", items("Issue key,Summary,Summary\nA-1,x,y\n", needed=("summary",)),
     "error", r"column 'Summary' \(summary\) appears more than once in the header"),
    # --- allocation: worklogs, people, targets, parameters
    ("worklog with negative time", worklogs("Issue key,Author,Started,Time Spent Seconds\nA-1,ann,2026-10-01,-60\n"
                                            "A-1,ann,2026-10-02,3600\n"), "drop",
     r"column 'Time Spent Seconds': below 0 or not a number: 1"),
    ("worklog without author", worklogs("Issue key,Author,Started,Time Spent Seconds\nA-1,,2026-10-01,60\n"
                                        "A-1,ann,2026-10-02,3600\n"), "drop", r"column 'Author': missing value: 1"),
    ("worklog with an unreadable date", worklogs("Issue key,Author,Started,Time Spent Seconds\nA-1,ann,someday,60\n"
                                                 "A-1,ann,2026-10-02,3600\nA-1,bo,2026-10-03,60\n"), "drop",
     r"column 'Started': not a date-time.*: 1"),
    ("worklog columns mapped wrong", worklogs("key,who,when,secs\nA-1,ann,2026-10-01,60\n"), "error",
     r"^worklogs: required column 'Issue key' \(set by sources\.worklogs\.columns\.key\) is missing; set "
     r"sources\.worklogs\.columns\.key to the file's column; columns present: key, who, when, secs$"),
    ("fte above one", people("person,team,fte\nann,Web,1.5\n"), "error",
     r"people: column 'fte': 'ann' has FTE 1\.5; FTE is a fraction of a full-time week, at most 1$"),
    ("two spells on one date", people("person,team,fte,effective_from\nann,Web,1,2026-01-01\nann,App,1,2026-01-01\n"),
     "error", r"'ann' has two rows taking effect on 2026-01-01; keep one per date$"),
    ("targets not adding up", targets("theme,team,target_share\nA,,0.5\nB,,0.3\n"), "error",
     r"targets for team 'ALL' add up to 80\.0%, not 100%"),
    ("target written as percent", targets("theme,team,target_share\nA,,60\nB,,40\n"), "error",
     r"target_share 60 for 'A' is above 1; write shares as fractions"),
    ("period typo", allocation_params({"period": "2026-13"}), "error", r"period"),
    ("unit typo", allocation_params({"unit": "hours"}), "error", r"unit: 'hours' is not allowed; expected one of"),
    ("negative min_effort", allocation_params({"min_effort": -1}), "error", r"min_effort: must be 0 or more, got -1"),
    ("unknown parameter", allocation_params({"taregts": {"A": 1.0}}), "error", r"taregts.*did you mean 'targets'"),
    # --- feedback
    ("feedback text column missing", feedback("date,body\n2026-10-01,hi\n", {"text": "comment", "date": "date"}),
     "error", r"^reviews: required column 'comment' \(set by columns\.text\) is missing; set columns\.text to the "
              r"file's column; columns present: date, body$"),
    ("feedback empty texts dropped", feedback("date,text\n2026-10-01,\n2026-10-02,Login is broken\n",
                                              {"text": "text", "date": "date"}), "drop", r"empty text: 1"),
    ("feedback unreadable date", feedback("date,text\nlast week,slow\n2026-10-02,Login is broken\n2026-10-03,ok\n",
                                          {"text": "text", "date": "date"}), "error", r"column 'date'"),
    ("feedback rating out of range", feedback("date,text,stars\n2026-10-01,ok,4\n2026-10-02,great,8\n",
                                              {"text": "text", "date": "date", "rating": "stars"}), "error",
     r"column 'stars' \(read as rating\), data row 2: '8' is not a number from 1 to 5; fix the value$"),
    ("feedback nps out of range", feedback("date,text,score\n2026-10-01,ok,11\n",
                                           {"text": "text", "date": "date", "nps": "score"}), "error",
     r"'11' is not a number from 0 to 10"),
    ("feedback negative arr", feedback("date,text,arr\n2026-10-01,ok,-5\n", {"text": "text", "date": "date", "arr": "arr"}),
     "error", r"'-5' is not a number ≥ 0"),
    ("feedback id reused for different texts", feedback("id,date,text\nP1,2026-10-05,Love it\nP1,2026-10-06,Broke\n",
                                                        {"id": "id", "text": "text", "date": "date"}), "error",
     r"id 'P1' is used by rows with different text; set columns\.id"),
    ("feedback outside the window", feedback("date,text\n2025-01-01,old news\n2026-10-02,Login is broken\n",
                                             {"text": "text", "date": "date"}), "drop", r"outside|before"),
    ("feedback sheet on a csv", feedback("date,text\n2026-10-01,x\n", {"text": "text", "date": "date"}, sheet="S"),
     "error", r"sheet 'S' is set but the file is not a workbook"),
    ("feedback source without a name", feedback_params({"sources": [{"name": " ", "path": "x.csv",
                                                                      "columns": {"text": "t", "date": "d"}}]}),
     "error", r"every source needs a short name"),
    ("feedback text not named", feedback_params({"sources": [{"name": "s", "path": "x.csv",
                                                               "columns": {"text": "", "date": "d"}}]}),
     "error", r"text: name the column\(s\) holding the feedback text"),
    # --- experiments
    ("variant label in two spellings", experiment(lambda d: d.assign(variant=d["variant"].where(d.index % 7 != 0, "B ")),
                                                  inspect=lambda r: warned(variant_label_notes(r))),
     "warning", r"Variants 'B' and 'B ' differ only in case or spacing and are analysed as two arms"),
    ("missing variant dropped", experiment(lambda d: d.assign(variant=d["variant"].where(d.index % 50 != 0))), "drop",
     r"missing variant: 12"),
    ("unit in two variants dropped", experiment(lambda d: pd.concat([d, d.iloc[:3].assign(
        variant=np.where(d["variant"].iloc[:3] == "B", "control", "B"))], ignore_index=True)), "drop",
     r"unit in more than one variant: 6"),
    ("non-numeric metric", experiment(lambda d: d.assign(converted=d["converted"].astype(object).where(d.index != 5, "yes"))),
     "error", r"metric 'converted': column 'converted' is not numeric \(value 'yes' at row 5\)"),
    ("proportion that is not 0/1", experiment(lambda d: d.assign(converted=d["converted"] * 2)), "error",
     r"metric 'converted' \(kind 'proportion'\) needs 0/1 values in column 'converted', found 2"),
    ("missing metric values", experiment(lambda d: d.assign(converted=d["converted"].astype(float).where(d.index != 3))),
     "error", r"column 'converted' has 1 missing value; set missing: drop or missing: zero"),
    ("control not in the data", experiment(control="ctrl"), "error", r"control 'ctrl' not found in column 'variant'"),
    ("unit column missing", experiment(unit="account_id"), "error", r"account_id"),
    ("zero denominators", experiment(lambda d: d.assign(sessions=0), metrics=[
        PRIMARY, MetricSpec("ops", kind="ratio", numerator="orders", denominator="sessions")]), "error",
     r"metric 'ops': variant 'control' has 0 units with a value after drops \(zero denominator: 600 rows"),
    ("infinite metric value", experiment(lambda d: d.assign(revenue=d["revenue"].where(d.index != 2, np.inf)),
                                         metrics=[PRIMARY, MetricSpec("revenue")]), "error", r"infinite"),
    ("one unit dominates a mean", experiment(lambda d: d.assign(revenue=d["revenue"].where(d.index != 4, 1e9)),
                                             metrics=[PRIMARY, MetricSpec("revenue")], inspect=notes_of("extreme_units")),
     "warning", r'"unit": "4"'),
    ("exposures after the end date", experiment(lambda d: d.assign(seen=d["seen"].where(d.index > 2, pd.Timestamp("2031-01-01"))),
                                                as_csv=True, timestamp_column="seen", end_date=dt.date(2026, 10, 31),
                                                inspect=lambda r: warned(timestamp_notes(r))),
     "warning", r"3 units were first exposed after end_date 2026-10-31 \(latest 2031-01-01\)"),
    ("unreadable exposure times", experiment(lambda d: d.assign(seen=d["seen"].astype(str).where(d.index > 1, "soon")),
                                             as_csv=True, timestamp_column="seen",
                                             inspect=lambda r: warned(timestamp_notes(r))),
     "warning", r"2 units have no readable exposure time in 'seen'"),
    ("unit-level csv empty", experiment_file(b""), "error", r"the file is empty \(0 bytes\)"),
    ("unit-level csv header only", experiment_file(b"user_id,variant,converted\n"), "error",
     r"has a header but no data rows$"),
    ("unit-level csv not utf-8", experiment_file("user_id,variant,converted\n1,contrôl,1\n".encode("latin-1")),
     "error", r"not valid utf-8 text"),
    ("aggregates with impossible successes", aggregates("variant,n,sum\ncontrol,1000,1500\nB,1000,100\n"), "error",
     r"control"),
    ("aggregates with a fractional n", aggregates("variant,n,sum\ncontrol,1000.5,100\nB,1000,100\n"), "error", r"n"),
    ("aggregates with two columns meaning n", aggregates("variant,n,users,sum\ncontrol,10,10,1\nB,10,10,1\n"),
     "error", r"columns 'n' and 'users' both mean 'n'; keep one"),
    ("fake door count not a number", fake_door("variant,exposures,clicks\ncontrol,3000,many\nfake_door,3000,90\n"),
     "error", r"column 'clicks', data row 1: 'many' is not a count; write a whole number of 0 or more$"),
    ("fake door missing column", fake_door("variant,views,clicks\ncontrol,3000,60\n"), "error",
     r"column 'exposures' is missing; a fake door needs variant, exposures and clicks; columns present: variant, views, clicks$"),
    ("experiment metric kind typo", experiment_params({"experiment": {"metrics": [{"name": "c", "kind": "propotion",
                                                                                   "role": "primary"}]}}),
     "error", r"'propotion' is not allowed.*did you mean 'proportion'"),
    ("expected split not adding up", experiment_params({"experiment": {"expected_split": {"control": 0.5, "B": 0.6}}}),
     "error", r"expected_split"),
]


def test_the_corpus_is_large_and_covers_every_analysis():
    assert len(CASES) >= 60
    names = " ".join(case[0] for case in CASES)
    for word in ("worklog", "feedback", "fake door", "aggregates", "exposure"):
        assert word in names


@pytest.mark.parametrize(("name", "run", "kind", "pattern"), CASES, ids=[case[0] for case in CASES])
def test_bad_input_gets_exactly_its_class(tmp_path, name, run, kind, pattern):
    result = run(tmp_path)
    assert result.kind == kind, f"{name}: expected {kind}, got {result.kind}: {result.text}"
    assert re.search(pattern, result.text), f"{name}: {result.text}"
    if kind == "error":
        assert "\n" not in result.text and "Traceback" not in result.text
