"""Theme rules: order, tiers, fractional splits and inheritance, each as a worked example."""

from __future__ import annotations

import pandas as pd
import pytest

from prodops_lib.allocation import Rule, ThemeRules, classify, load_items, load_rules
from prodops_lib.io import InputError

from .helpers import items_from, jira_frame


def themes_of(classification) -> dict[str, dict[str, float]]:
    table = classification.to_frame()
    return {key: dict(zip(group["theme"].astype(str), group["weight"], strict=True))
            for key, group in table.groupby("key", sort=False)}


def how_of(classification) -> dict[str, str]:
    table = classification.to_frame().drop_duplicates("key")
    return dict(zip(table["key"], table["how"].astype(str), strict=True))


RULES = ThemeRules(
    rules=[
        Rule(theme="Billing", labels=["billing"]),
        Rule(theme="Integrations", labels=["integrations"]),
        Rule(theme="Billing", components=["Payments"]),
        Rule(theme="Reliability", epics=["OPS-1"]),
        Rule(theme="Mobile", projects=["MOB"]),
        Rule(theme="Tech debt", summary=r"(?i)\brefactor\b"),
        Rule(theme="KTLO", issue_types=["Bug"]),
    ],
    inherit_from=["parent", "epic"],
)


def test_first_matching_rule_wins_in_rule_order():
    items = items_from([
        {"key": "A-1", "labels": ["integrations", "billing"], "summary": "Sync"},
        {"key": "A-2", "components": "payments", "labels": ["INTEGRATIONS"], "summary": "Pay"},
    ])
    result = themes_of(classify(items, RULES))
    # Without splitting, rule 1 (billing) comes before rule 2 (integrations).
    assert result["A-1"] == {"Billing": 1.0}
    # Labels and components are matched case-insensitively; rule 2 precedes rule 3.
    assert result["A-2"] == {"Integrations": 1.0}


def test_split_multiple_label_matches_divides_the_item_equally():
    rules = ThemeRules(rules=RULES.rules, split_multiple_label_matches=True)
    items = items_from([
        {"key": "A-1", "labels": ["integrations", "billing"], "summary": "Sync invoices"},
        {"key": "A-2", "labels": ["billing"], "components": "API", "summary": "One theme only"},
    ])
    classification = classify(items, rules)
    assert themes_of(classification)["A-1"] == {"Billing": 0.5, "Integrations": 0.5}
    assert themes_of(classification)["A-2"] == {"Billing": 1.0}
    assert how_of(classification)["A-1"] == "labels (split)"
    assert classification.to_frame().groupby("key")["weight"].sum().tolist() == [1.0, 1.0]


def test_tags_beat_inheritance_which_beats_descriptive_rules():
    items = items_from([
        {"key": "OPS-1", "type": "Epic", "summary": "Uptime"},                        # epics rule
        {"key": "OPS-2", "type": "Story", "epic": "OPS-1", "summary": "Refactor the pager"},
        {"key": "OPS-3", "type": "Sub-task", "parent": "OPS-2", "summary": "Bug bash"},
        {"key": "OPS-4", "type": "Story", "epic": "OPS-1", "labels": ["billing"], "summary": "x"},
        {"key": "MOB-1", "type": "Epic", "project": "MOB", "summary": "App"},         # project rule
        {"key": "MOB-2", "type": "Bug", "epic": "MOB-1", "project": "MOB", "summary": "Crash"},
        {"key": "APP-1", "type": "Task", "summary": "Refactor the importer"},          # summary rule
        {"key": "APP-2", "type": "Bug", "summary": "Typo"},                            # issue type rule
        {"key": "APP-3", "type": "Task", "summary": "Lunch"},                          # nothing
    ])
    classification = classify(items, RULES)
    result, how = themes_of(classification), how_of(classification)
    # OPS-2 is in epic OPS-1 ("epics" matches the epic's children): Reliability, not Tech debt.
    assert result["OPS-1"] == {"Reliability": 1.0} and how["OPS-1"] == "epics"
    assert result["OPS-2"] == {"Reliability": 1.0}
    # OPS-3 has no epic link of its own: it inherits from its parent OPS-2, not from "Bug bash".
    assert result["OPS-3"] == {"Reliability": 1.0} and how["OPS-3"] == "inherited"
    assert result["OPS-4"] == {"Billing": 1.0}                      # own label beats its epic
    assert result["MOB-2"] == {"Mobile": 1.0} and how["MOB-2"] == "inherited"
    assert result["APP-1"] == {"Tech debt": 1.0} and how["APP-1"] == "summary"
    assert result["APP-2"] == {"KTLO": 1.0} and how["APP-2"] == "issue_types"
    assert result["APP-3"] == {"Unclassified": 1.0} and how["APP-3"] == "unclassified"


def test_children_of_an_unclassified_parent_use_their_own_fields():
    items = items_from([
        {"key": "A-1", "type": "Epic", "summary": "Misc"},
        {"key": "A-2", "type": "Bug", "epic": "A-1", "summary": "Crash"},
        {"key": "A-3", "type": "Story", "epic": "A-1", "summary": "Nothing"},
    ])
    result = themes_of(classify(items, RULES))
    assert result["A-1"] == {"Unclassified": 1.0}
    assert result["A-2"] == {"KTLO": 1.0}
    assert result["A-3"] == {"Unclassified": 1.0}


def test_split_parent_passes_its_split_to_children():
    rules = ThemeRules(rules=RULES.rules, split_multiple_label_matches=True)
    items = items_from([
        {"key": "A-1", "type": "Story", "labels": ["billing", "integrations"], "summary": "Both"},
        {"key": "A-2", "type": "Sub-task", "parent": "A-1", "summary": "Half each"},
    ])
    assert themes_of(classify(items, rules))["A-2"] == {"Billing": 0.5, "Integrations": 0.5}


def test_dangling_links_and_cycles_are_noted_not_silent():
    items = items_from([
        {"key": "A-1", "type": "Story", "epic": "GONE-9", "summary": "x"},
        {"key": "A-2", "type": "Sub-task", "parent": "A-3", "summary": "y"},
        {"key": "A-3", "type": "Sub-task", "parent": "A-2", "summary": "Refactor z"},
    ])
    classification = classify(items, RULES)
    notes = classification.notes.set_index("issue")["rows"].to_dict()
    assert notes["items whose epic is not in the export (theme not inherited)"] == 1
    assert notes["items in (or under) a cycle of parent/epic links"] == 2
    assert themes_of(classification)["A-3"] == {"Tech debt": 1.0}


def test_summary_counts_items_per_step():
    items = items_from([
        {"key": "A-1", "labels": ["billing"], "summary": "a"},
        {"key": "A-2", "parent": "A-1", "summary": "b"},
        {"key": "A-3", "summary": "c"},
    ])
    summary = classify(items, RULES).summary().set_index("how")
    assert summary["items"].to_dict() == {"labels": 1, "inherited": 1, "unclassified": 1}
    assert summary.loc["labels", "share"] == pytest.approx(1 / 3)


def test_a_rule_on_a_column_the_export_lacks_is_a_one_line_error():
    items = items_from([{"key": "A-1", "summary": "a"}])
    rules = ThemeRules(rules=[Rule(theme="Platform", fields={"Team": ["core"]})])
    with pytest.raises(InputError, match=r"^rule 1 \(Platform\): fields names column 'Team', which work items does not have; check the column name in the export$"):
        classify(items, rules)


def test_a_rule_on_other_columns_matches_their_values():
    frame_rows = [{"key": "A-1", "summary": "a"}, {"key": "A-2", "summary": "b"}]
    items = items_from(frame_rows)
    items.raw["Team"] = pd.array([" Core ", "edge"], dtype="string")
    rules = ThemeRules(rules=[Rule(theme="Platform", fields={"Team": ["core"]})])
    assert themes_of(classify(items, rules)) == {"A-1": {"Platform": 1.0}, "A-2": {"Unclassified": 1.0}}


def test_a_rule_on_labels_needs_a_labels_column():
    frame = jira_frame([{"key": "A-1", "summary": "a"}]).drop(columns=["Labels"])
    items = load_items(frame, date_format="%Y-%m-%d")
    with pytest.raises(InputError, match=r"^rule 1 \(Billing\): matches on labels, but work items has no labels column; map it with columns.labels or change the rule$"):
        classify(items, RULES)


def test_inherit_from_must_name_parent_epic_or_their_columns():
    items = items_from([{"key": "A-1", "summary": "a"}])
    rules = ThemeRules(rules=RULES.rules, inherit_from=["Parnt"])
    with pytest.raises(InputError, match=r"^inherit_from: 'Parnt' is neither 'parent' nor 'epic' nor the export column mapped to them \('Custom field \(Epic Link\)', 'Parent'\); write inherit_from: \[parent, epic\] \(the fields, whatever the tracker\), or \[\] to inherit nothing$"):
        classify(items, rules)
    by_column = ThemeRules(rules=RULES.rules, inherit_from=["Parent", "Custom field (Epic Link)"])
    assert themes_of(classify(items, by_column)) == {"A-1": {"Unclassified": 1.0}}


def test_inheriting_from_a_field_the_export_lacks_is_a_note_not_an_error():
    # a Jira Cloud export has no Epic Link column: the items still inherit from their parent
    frame = jira_frame([{"key": "A-1", "summary": "a", "labels": ["billing"]},
                        {"key": "A-2", "summary": "b", "parent": "A-1"}]).drop(columns=["Custom field (Epic Link)"])
    items = load_items(frame, date_format="%Y-%m-%d")
    result = classify(items, ThemeRules(rules=RULES.rules, inherit_from=["parent", "epic"]))
    assert themes_of(result)["A-2"] == {"Billing": 1.0}
    assert result.notes["issue"].tolist() == [
        "inherit_from lists 'epic', but work items has no epic column (looked for 'Custom field (Epic Link)')"]


@pytest.mark.parametrize(("rule", "message"), [
    ({"theme": "X"}, "rule for 'X' has no criterion; give it labels, components, epics, projects, issue_types, summary or fields"),
    ({"theme": "X", "summary": "(unclosed"}, "summary: '(unclosed' (rule for 'X') is not a valid regular expression: missing ), unterminated subpattern at position 0"),
    ({"theme": " ", "labels": ["a"]}, "theme: a rule needs a theme name"),
])
def test_bad_rules_fail_in_one_line(rule, message):
    with pytest.raises(ValueError) as caught:
        Rule(**rule)
    assert str(caught.value) == message


def test_rules_file_typos_are_named(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {theme: Billing, lables: [billing]}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rules\[0\]\.lables: unknown key; did you mean 'labels'\?$"):
        load_rules(path)
    path.write_text("rules:\n  - {theme: Billing, labels: [billing]}\ncapitalizable: [Biling]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"capitalizable: 'Biling' is not a theme of the rules; did you mean 'Billing'\?$"):
        load_rules(path)
