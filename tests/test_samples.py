"""The committed sample data is what the generator makes, and its planted truths hold.

Every planted number is recomputed here with pandas/scipy straight from the files, so a
report that disagrees with truth.json is wrong about the data, not the other way round.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from scipy import stats

from prodops_lib.samples import write_sample_data

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TEXT_FILES = {  # file -> columns holding free text
    "allocation/jira_export.csv": ["Summary"],
    "feedback/support_tickets.csv": ["subject", "description"],
    "feedback/sales_notes.csv": ["note"],
    "feedback/nps_survey.csv": ["comment"],
    "feedback/app_reviews.csv": ["review_text"],
    "beta/feedback.csv": ["comment"],
}
HOSTILE = ("<script>window.__prodops_injected=1</script>",
           '<img src=x onerror="window.__prodops_injected=1">',
           '"><svg onload=window.__prodops_injected=1>', "javascript:", "**bold** <b>x</b>",
           "4111 1111 1111 1111", "https://app.example.com/reset?token=", "@jdoe_ops",
           "\u200b", "\u00a0", "\u0301", "\U0001f525", "\u05e9\u05dc\u05d5\u05dd")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}")
PHONE = re.compile(r"\+1 \d{3}-\d{3}-\d{4}|\(0\d{2}\) \d{4} \d{4}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("sample")
    return out, write_sample_data(out)


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(SAMPLE / name, keep_default_na=False, na_values=[""])


def test_regenerating_gives_byte_identical_files(regenerated: tuple[Path, list[Path]]) -> None:
    out, _ = regenerated
    committed, fresh = _files(SAMPLE), _files(out)
    assert sorted(committed) == sorted(fresh)
    for name, path in committed.items():
        if path.suffix == ".parquet":
            writer = pq.ParquetFile(path).metadata.created_by
            if writer != pq.ParquetFile(fresh[name]).metadata.created_by:
                # another pyarrow writes other bytes: the data must still be the same
                assert pq.read_table(path).equals(pq.read_table(fresh[name])), name
                continue
        assert _sha256(path) == _sha256(fresh[name]), f"{name} differs from a fresh generation"


def test_write_sample_data_returns_every_file_sorted(regenerated: tuple[Path, list[Path]]) -> None:
    out, written = regenerated
    assert written == sorted(written)
    assert sorted(written) == sorted(_files(out).values())


def test_sample_data_is_under_five_megabytes() -> None:
    assert sum(p.stat().st_size for p in _files(SAMPLE).values()) < 5 * 1024 * 1024


# ---------------------------------------------------------------- experiments
def test_onboarding_checklist_has_the_planted_sample_ratio_mismatch(truth: dict) -> None:
    counts = _read("experiments/onboarding_checklist.csv")["variant"].value_counts()
    assert counts.to_dict() == {"control": 5200, "treatment": 4800}
    result = stats.chisquare(counts.to_numpy())
    # chi-square = 2 * 200**2 / 5000 = 16 with 1 df; p = erfc(sqrt(16 / 2)) (closed form)
    assert result.statistic == pytest.approx(16.0)
    assert result.pvalue == pytest.approx(math.erfc(math.sqrt(8.0)), rel=1e-9)
    assert result.pvalue == pytest.approx(6.334248e-05, rel=1e-5)
    assert result.pvalue < 0.001
    assert truth["experiments"]["onboarding_checklist"]["srm_p_value"] == pytest.approx(result.pvalue, rel=1e-5)


def test_checkout_conversion_lift_is_within_sampling_error_of_the_planted_lift(truth: dict) -> None:
    checkout = pd.read_parquet(SAMPLE / "experiments/checkout_redesign.parquet")
    planted = truth["experiments"]["checkout_redesign"]
    twice = checkout["user_id"].duplicated(keep=False)
    assert checkout.loc[twice, "user_id"].nunique() == planted["users_in_both_variants"] == 8
    assert checkout["revenue"].isna().sum() == planted["rows_with_missing_revenue"] == 12
    units = checkout[~twice]
    rate = units.groupby("variant")["converted"].agg(["mean", "count"])
    difference = rate.loc["treatment", "mean"] - rate.loc["control", "mean"]
    standard_error = math.sqrt(sum(rate.loc[v, "mean"] * (1 - rate.loc[v, "mean"]) / rate.loc[v, "count"]
                                   for v in ("control", "treatment")))
    true_difference = planted["true"]["converted"]["treatment"] - planted["true"]["converted"]["control"]
    assert true_difference == pytest.approx(0.01)
    assert abs(difference - true_difference) < 3 * standard_error
    assert difference > 0
    assert stats.chisquare(units["variant"].value_counts().to_numpy()).pvalue > 0.01  # no SRM here
    converters = units.loc[units["converted"] == 1, "revenue"].dropna()
    assert converters.mean() == pytest.approx(60.0, rel=0.1)
    correlation = units[["pre_revenue", "revenue"]].dropna().corr().iloc[0, 1]
    assert 0.6 <= correlation <= 0.7
    assert correlation == pytest.approx(planted["sample_correlation_pre_revenue_revenue"], abs=1e-4)
    assert (units["orders"] <= units["sessions"]).all() and (units["sessions"] >= 1).all()
    load = units.groupby("variant")["page_load_ms"].median()
    assert load.to_numpy() == pytest.approx([800, 800], rel=0.05)


def test_search_ranking_variant_a_is_underpowered(truth: dict) -> None:
    search = _read("experiments/search_ranking.csv")
    assert search["variant"].value_counts().to_dict() == {"control": 4000, "variant_a": 4000, "variant_b": 4000}
    clicks = search.groupby("variant")["clicked"].sum()
    table = [[clicks["variant_a"], 4000 - clicks["variant_a"]], [clicks["control"], 4000 - clicks["control"]]]
    assert stats.chi2_contingency(table, correction=False).pvalue > 0.05
    assert truth["experiments"]["search_ranking"]["users_per_arm_needed_for_variant_a"] > 50 * 4000
    assert search["clicked"].mean() == pytest.approx(0.30, abs=0.02)


def test_aggregate_experiment_files_match_their_truth(truth: dict) -> None:
    fake_door = _read("experiments/fake_door_ai_summary.csv").set_index("variant")
    assert fake_door.loc["fake_door", "clicks"] / fake_door.loc["fake_door", "exposures"] == pytest.approx(0.042)
    dashboard = _read("experiments/dashboard_aggregates.csv").set_index("variant")
    means = dashboard["sum"] / dashboard["n"]
    assert means.to_dict() == pytest.approx(truth["experiments"]["dashboard_aggregates"]["sample_means"], abs=1e-5)
    variance = (dashboard["sum_sq"] - dashboard["sum"] ** 2 / dashboard["n"]) / (dashboard["n"] - 1)
    # gamma(shape 1.5, mean mu) has variance mu**2 / 1.5
    assert variance["control"] == pytest.approx(12.0**2 / 1.5, rel=0.1)


def test_experiment_registry_names_existing_files_and_taxonomy_themes(truth: dict) -> None:
    registry = yaml.safe_load((SAMPLE / "experiments/experiments.yaml").read_text(encoding="utf-8"))
    themes = {t["name"] for t in truth["taxonomy"]}
    assert [e["name"] for e in registry["experiments"]] == list(truth["experiments"])
    for experiment in registry["experiments"]:
        assert (SAMPLE / "experiments" / experiment["file"]).is_file()
        assert experiment["theme"] in themes
        assert experiment["theme"] == truth["experiments"][experiment["name"]]["theme"]


# ---------------------------------------------------------------- allocation
def _valid_worklogs() -> pd.DataFrame:
    worklogs = _read("allocation/worklogs.csv")
    known = set(_read("allocation/jira_export.csv")["Issue key"])
    return worklogs[worklogs["Issue key"].isin(known) & (worklogs["Time Spent Seconds"] > 0)]


def _effort_share(month: str) -> pd.Series:
    items = _read("truth/allocation_items.csv")
    logs = _valid_worklogs()
    logs = logs[logs["Started"].str.startswith(month)].merge(items, left_on="Issue key", right_on="key")
    hours = (logs["Time Spent Seconds"] * logs["weight"]).groupby(logs["theme"]).sum()
    return hours / hours.sum()


def test_effort_shares_are_as_planted(truth: dict) -> None:
    for month in ("2026-09", "2026-10"):
        share = _effort_share(month)
        assert 0.04 <= share["Reporting & dashboards"] <= 0.06
        assert 0.22 <= share["Mobile app"] <= 0.25
        assert 0.04 <= share["Unclassified"] <= 0.06
        assert share.to_dict() == pytest.approx(truth["allocation"]["effort"]["share_by_month"][month], abs=1e-6)


def test_worklog_and_people_defects_match_truth(truth: dict) -> None:
    planted = truth["allocation"]
    worklogs = _read("allocation/worklogs.csv")
    known = set(_read("allocation/jira_export.csv")["Issue key"])
    assert (~worklogs["Issue key"].isin(known)).sum() == planted["dropped_worklogs"]["unknown_issue_key"] == 7
    assert (worklogs["Time Spent Seconds"] < 0).sum() == planted["dropped_worklogs"]["negative_seconds"] == 3
    assert len(worklogs) == planted["worklog_rows"]
    assert sorted(worklogs["Started"].str[:7].unique()) == truth["months"]
    people = _read("allocation/people.csv")
    unknown_authors = set(worklogs["Author"]) - set(people["person"])
    assert unknown_authors == {planted["author_missing_from_people"]["author"]}
    assert (worklogs["Author"].isin(unknown_authors)).sum() == planted["author_missing_from_people"]["worklogs"]
    assert people["person"].nunique() == 40 and people["team"].nunique() == 5
    movers = people[people["person"].duplicated(keep=False)]
    assert movers["person"].nunique() == len(planted["team_moves"]) == 2
    targets = _read("allocation/targets.csv")
    assert targets.loc[targets["team"].isna(), "target_share"].sum() == pytest.approx(1.0)


def test_jira_export_repeats_the_labels_header() -> None:
    with (SAMPLE / "allocation/jira_export.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header.count("Labels") == 3
    assert {"Issue key", "Issue Type", "Custom field (Epic Link)", "Parent", "Time Spent"} <= set(header)
    created = pd.to_datetime(_read("allocation/jira_export.csv")["Created"], format="%d/%b/%y %I:%M %p")
    assert created.min() >= pd.Timestamp("2026-04-01") and created.max() < pd.Timestamp("2026-11-01")


def _classify(jira: pd.DataFrame, rules: dict) -> dict[str, dict[str, float]]:
    """An independent reading of theme_rules.yaml (see its comments) over the Jira export."""
    label_columns = [c for c in jira.columns if c.split(".")[0] == "Labels"]
    rows = {row["Issue key"]: row for row in jira.to_dict("records")}

    def own(row: dict) -> dict[str, float] | None:
        labels = {row[c] for c in label_columns if isinstance(row[c], str)}
        by_label = list(dict.fromkeys(r["theme"] for r in rules["rules"] if labels & set(r.get("labels", []))))
        if by_label:
            return {theme: 1 / len(by_label) for theme in by_label}
        for rule in rules["rules"]:
            if row["Component/s"] in rule.get("components", []) or {
                    row["Issue key"], row["Custom field (Epic Link)"]} & set(rule.get("epics", [])):
                return {rule["theme"]: 1.0}
        return None

    def fallback(row: dict) -> dict[str, float]:
        for rule in rules["rules"]:
            if (row["Project"] in rule.get("projects", []) or row["Issue Type"] in rule.get("issue_types", [])
                    or ("summary" in rule and re.search(rule["summary"], row["Summary"]))):
                return {rule["theme"]: 1.0}
        return {rules["unclassified"]: 1.0}

    def theme(key: str) -> dict[str, float]:
        row = rows[key]
        found = own(row)
        if found is None:
            parent = row["Parent"] if isinstance(row["Parent"], str) else row["Custom field (Epic Link)"]
            found = theme(parent) if isinstance(parent, str) else fallback(row)
        return found

    return {key: theme(key) for key in rows}


def test_theme_rules_reproduce_the_true_item_themes() -> None:
    rules = yaml.safe_load((SAMPLE / "allocation/theme_rules.yaml").read_text(encoding="utf-8"))
    classified = _classify(_read("allocation/jira_export.csv"), rules)
    items = _read("truth/allocation_items.csv")
    expected = {key: dict(zip(group["theme"], group["weight"], strict=True)) for key, group in items.groupby("key")}
    assert classified == expected
    assert sum(len(themes) == 2 for themes in expected.values()) > 0  # fractional splits are exercised


# ---------------------------------------------------------------- feedback
def _labels() -> pd.DataFrame:
    return _read("truth/feedback_labels.csv")


def test_demand_shares_are_as_planted(truth: dict) -> None:
    labels = _labels()
    real = labels[labels["is_duplicate_of"].isna() & labels["taxonomy_theme"].ne("(empty)")]
    mapped = real[real["taxonomy_theme"] != "unmapped"]
    for month in ("2026-09", "2026-10"):
        share = mapped.loc[mapped["month"] == month, "taxonomy_theme"].value_counts(normalize=True)
        assert 0.22 <= share["Reporting & dashboards"] <= 0.25
        assert 0.04 <= share["Mobile app"] <= 0.05
        expected = truth["feedback"]["demand"]["share_of_taxonomy_themes_by_month"][month]
        assert share.to_dict() == pytest.approx(expected, abs=1e-6)


def test_integrations_emerges_and_onboarding_fades_in_october() -> None:
    labels = _labels()
    real = labels[labels["is_duplicate_of"].isna() & labels["true_theme"].ne("(empty)")]
    october = real["month"] == "2026-10"
    before = real.loc[~october, "true_theme"].value_counts(normalize=True)
    now = real.loc[october, "true_theme"].value_counts(normalize=True)
    assert before["Integrations"] == pytest.approx(0.06, abs=0.005)
    assert now["Integrations"] == pytest.approx(0.18, abs=0.005)
    assert now["Onboarding"] == pytest.approx(before["Onboarding"] / 2, rel=0.05)
    support = _read("feedback/support_tickets.csv")
    slack = support["description"].str.contains("Slack", na=False)
    assert slack[support["created_at"].str.startswith("2026-10")].mean() > 3 * slack.mean() / 2


def test_near_duplicates_and_empty_texts_match_truth(truth: dict) -> None:
    labels = _labels()
    planted = truth["feedback"]
    duplicates = labels[labels["is_duplicate_of"].notna()]
    assert len(duplicates) == planted["near_duplicates"] == 90
    text_of = {}
    for channel, name in planted["files"].items():
        if channel in ("accounts", "labels"):
            continue
        frame = _read(name)
        id_column, text_column = frame.columns[0], TEXT_FILES[name][-1]
        text_of |= dict(zip(frame[id_column], frame[text_column].fillna(""), strict=True))
        empty = frame[text_column].fillna("").str.strip().eq("").sum()
        assert empty == planted["empty_texts"].get(channel, 0), name

    def normalise(value: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"[.!?]+", "", value)).strip().casefold()

    for copy, original in zip(duplicates["id"], duplicates["is_duplicate_of"], strict=True):
        assert text_of[copy] != text_of[original]
        assert normalise(text_of[copy]) == normalise(text_of[original])
    assert len(labels) == planted["items"]


# ---------------------------------------------------------------- hostile text and PII
@pytest.mark.parametrize("name", sorted(TEXT_FILES))
def test_hostile_text_and_personal_data_are_planted(name: str, truth: dict) -> None:
    frame = _read(name)
    text = frame[TEXT_FILES[name]].fillna("").agg(" ".join, axis=1)
    for snippet in HOSTILE:
        assert text.str.contains(snippet, regex=False).any(), f"{snippet!r} missing from {name}"
    counts = truth["hostile_text"]["files"][name]
    assert text.str.contains(EMAIL).sum() == counts["rows_with_email"] >= 1
    assert text.str.contains(PHONE).sum() == counts["rows_with_phone"] >= 2
    assert text.str.contains("__prodops_injected").sum() >= 5
    assert counts["rows_with_hostile_text"] >= max(5, round(0.01 * len(frame)))
    assert truth["hostile_text"]["injected_global"] == "window.__prodops_injected"


def test_taxonomy_is_shared_and_has_seed_keywords(truth: dict) -> None:
    taxonomy = yaml.safe_load((SAMPLE / "taxonomy.yaml").read_text(encoding="utf-8"))
    names = [theme["name"] for theme in taxonomy["themes"]]
    assert names == [t["name"] for t in truth["taxonomy"] if t["category"] == "roadmap"]
    assert len(names) == 8 and all(3 <= len(t["keywords"]) <= 6 for t in taxonomy["themes"])
    feedback_themes = set(_labels()["taxonomy_theme"]) - {"unmapped", "(empty)"}
    effort_themes = set(_read("truth/allocation_items.csv")["theme"])
    assert feedback_themes == set(names) and set(names) < effort_themes
    assert np.isin(["Maintenance (KTLO)", "Tech debt", "Unclassified"], list(effort_themes)).all()


def test_the_history_of_past_experiments_holds_its_planted_lifts_and_the_winners_curse(truth: dict) -> None:
    from prodops_lib.experiments.program import cumulative_impact

    history = _read("experiments/history.csv")
    planted = truth["experiment_history"]
    assert len(history) == planted["experiments"] == 48 and history["period"].nunique() == 12
    true = history["experiment"].map(planted["true_effects"])
    # each estimate is its true lift plus noise of its standard error
    z = (history["effect"] - true) / history["standard_error"]
    assert abs(z.mean()) < 3 / math.sqrt(len(z)) and 0.7 < z.std() < 1.3
    # shipped on significance, so the shipped estimates overstate their true lifts
    assert (history["decision"] == "ship").tolist() == (history["effect"] > 1.96 * history["standard_error"]).tolist()
    shipped = history[(history["metric"] == "converted") & (history["decision"] == "ship")]
    assert shipped["effect"].sum() > 1.5 * true[shipped.index].sum()
    impact = cumulative_impact(history.assign(shipped=history["decision"] == "ship"), "converted")
    assert abs(impact.shrunk - true[shipped.index].sum()) < abs(impact.naive - true[shipped.index].sum())
