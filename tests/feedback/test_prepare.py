"""Preparation: cleaning, redaction, duplicates as votes, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from prodops_lib.feedback.config import ColumnMap, DuplicateParams, FeedbackSource
from prodops_lib.feedback.prepare import (
    clean_text,
    find_duplicates,
    load_feedback,
    prepare_feedback,
    shingle_similarity,
)
from prodops_lib.io import DropLog, InputError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "feedback"


def _source(path, **columns) -> FeedbackSource:
    mapping = {"id": "id", "text": "text", "date": "date"} | columns
    return FeedbackSource("survey", path, ColumnMap(**mapping))


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "feedback.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_clean_text_removes_markup_invisible_characters_and_extra_spaces():
    raw = "  <b>Export</b>\u200b is <script>alert(1)</script>broken&nbsp;again\n\n &lt;i&gt;x "
    assert clean_text(raw) == "Export is alert(1) broken again x"
    assert clean_text("ｆｕｌｌ　ｗｉｄｔｈ") == "full width"
    assert clean_text(None) == ""


def test_shingle_similarity_ignores_case_punctuation_and_spacing():
    # 4-grams of "abcdef" {abcd, bcde, cdef} and "abcdxx" {abcd, bcdx, cdxx}: 1 shared of 5
    assert shingle_similarity("abcdef", "abcdxx") == pytest.approx(0.2)
    assert shingle_similarity("The export is broken!", "the  export is broken") == 1.0


def test_near_duplicates_of_the_same_customer_become_votes():
    items = pd.DataFrame({
        "item_id": ["a", "b", "c", "d", "e"], "source": "support",
        "text": ["The CSV export drops our custom columns.", "the csv export drops our custom columns!!",
                 "The CSV export drops our custom columns.", "Search is slow", "The CSV export drops our custom columns."],
        "created": pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-02", "2026-10-03", "2026-10-20"]),
        "customer_id": pd.array(["X", "X", "Y", "X", "X"], dtype="string"),
    })
    duplicate_of = find_duplicates(items, DuplicateParams(similarity=0.85, window_days=7))
    # b repeats a (same customer, a day later); c is another customer; e is outside the 7-day window
    assert duplicate_of.tolist() == [pd.NA, "a", pd.NA, pd.NA, pd.NA]
    prepared = prepare_feedback(items, DuplicateParams())
    assert prepared.items.set_index("item_id")["votes"].to_dict() == {"a": 2, "c": 1, "d": 1, "e": 1}
    assert prepared.duplicates.to_dict("records") == [{"item_id": "b", "source": "support", "duplicate_of": "a"}]


def test_sample_duplicates_and_empty_texts_are_counted():
    from prodops_lib.feedback.config import AccountsSource

    sources = [
        FeedbackSource("support", SAMPLE / "support_tickets.csv",
                       ColumnMap(id="ticket_id", text=["subject", "description"], date="created_at", customer="account_id")),
        FeedbackSource("sales", SAMPLE / "sales_notes.csv",
                       ColumnMap(id="note_id", text="note", date="date", customer="account", arr="arr")),
        FeedbackSource("nps", SAMPLE / "nps_survey.csv",
                       ColumnMap(id="response_id", text="comment", date="submitted", customer="account_id", nps="score")),
        FeedbackSource("app_reviews", SAMPLE / "app_reviews.csv",
                       ColumnMap(id="review_id", text="review_text", date="review_date", rating="rating")),
    ]
    log = DropLog()
    items = load_feedback(sources, log, period="2026-10", accounts=AccountsSource(SAMPLE / "accounts.csv"))
    prepared = prepare_feedback(items)
    truth = pd.read_csv(ROOT / "data" / "sample" / "truth" / "feedback_labels.csv", dtype=str, keep_default_na=False)
    planted = set(truth.loc[truth["is_duplicate_of"] != "", "id"])
    assert set(prepared.duplicates["item_id"]) == planted  # all 90 planted repeats, nothing else
    assert len(planted) == 90
    assert log.dropped() == 7  # 5 empty NPS comments + 2 empty app reviews (truth.json empty_texts)
    every_text = " ".join(items["text"])
    for personal in ("jane.doe@example.com", "415-555-0134", "7946 0958", "4111 1111 1111 1111",
                     "token=abc123", "@jdoe_ops", "@maria.k"):
        assert personal not in every_text
    for label in ("[email]", "[phone]", "[card]", "[url]", "[handle]"):
        assert label in every_text
    assert "<script" not in every_text.lower()


def test_missing_text_column_is_one_line(tmp_path):
    path = _write(tmp_path, "id,date,comment\n1,2026-10-01,hello\n")
    with pytest.raises(InputError) as error:
        load_feedback([_source(path)], DropLog(), period="2026-10")
    assert "'text' (set by columns.text) is missing; set columns.text to the file's column" in str(error.value)
    assert "comment" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_date_that_does_not_parse_is_one_line(tmp_path):
    path = _write(tmp_path, "id,date,text\n1,2026-10-01,hello there\n2,next tuesday,export broken\n")
    with pytest.raises(InputError) as error:
        load_feedback([_source(path)], DropLog(), period="2026-10")
    message = str(error.value)
    assert "column 'date' (read as created)" in message and "data row 2" in message and "next tuesday" in message and "\n" not in message


def test_empty_file_is_one_line(tmp_path):
    path = _write(tmp_path, "")
    with pytest.raises(InputError, match="empty") as error:
        load_feedback([_source(path)], DropLog(), period="2026-10")
    assert "\n" not in str(error.value)


def test_an_id_reused_for_different_text_is_an_error_and_a_verbatim_repeat_a_drop(tmp_path):
    path = _write(tmp_path, "id,date,text\n1,2026-10-01,hello there\n1,2026-10-01,hello there\n2,2026-10-02,search\n")
    log = DropLog()
    items = load_feedback([_source(path)], log, period="2026-10")
    assert len(items) == 2 and log.dropped() == 1
    path = _write(tmp_path, "id,date,text\n1,2026-10-01,hello there\n1,2026-10-02,other words\n")
    with pytest.raises(InputError, match="'1' is used by rows with different text"):
        load_feedback([_source(path)], DropLog(), period="2026-10")


def test_wordless_huge_and_out_of_window_texts(tmp_path):
    huge = "slow " * 30_000
    path = _write(tmp_path, f"id,date,text\n1,2026-10-01,🙂🙂🙂\n2,2026-10-02,{huge}\n3,2025-01-01,old\n4,2026-11-02,future\n")
    log = DropLog()
    items = load_feedback([_source(path)], log, period="2026-10")
    assert items["item_id"].tolist() == ["2"]
    assert bool(items["truncated"].iloc[0]) and len(items["text"].iloc[0]) == 5_000
    reasons = {d["reason"] for d in log.drops}
    assert "no words (only emoji or symbols)" in reasons
    assert any(r.startswith("dated before") for r in reasons) and any(r.startswith("dated after") for r in reasons)


def test_a_window_with_no_rows_left_gives_an_empty_table_not_an_error(tmp_path):
    # every row outside the window: load and prepare return empty tables (the enough-feedback
    # check then says so in one sentence) instead of failing on the empty text column's dtype
    path = _write(tmp_path, "id,date,text\n1,2025-01-01,old\n2,2025-02-01,older\n")
    log = DropLog()
    items = load_feedback([_source(path)], log, period="2026-10")
    prepared = prepare_feedback(items)
    assert items.empty and prepared.n_items == 0 and log.dropped() == 2
