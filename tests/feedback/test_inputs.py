"""Feedback inputs: Excel channels, wording that follows the configuration (channels, revenue
measure), and one plain sentence when there is too little feedback to find themes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from prodops_lib import params
from prodops_lib.feedback.config import (
    AccountColumns,
    AccountsSource,
    ClusteringParams,
    ColumnMap,
    FeedbackParams,
    FeedbackSource,
    feedback_intro,
)
from prodops_lib.feedback.prepare import (
    MIN_TEXTS_FOR_THEMES,
    NotEnoughFeedback,
    load_feedback,
    prepare_feedback,
    require_enough_feedback,
    texts_needed_for_themes,
)
from prodops_lib.io import DropLog, InputError

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY = ROOT / "data" / "sample" / "taxonomy.yaml"
TICKETS = ColumnMap(id="ticket_id", text=["subject", "description"], date="created_at", customer="account_id",
                    date_format="%d/%m/%Y")


def tickets_workbook(tmp_path, rows: list[list], name: str = "tickets.xlsx") -> Path:
    """A support export as people keep it in Excel: a title row, the table on sheet 'Tickets'
    (not the first sheet), real date cells."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Read me"
    book.active.append(["Exported from the help desk"])
    sheet = book.create_sheet("Tickets")
    sheet.append(["Support tickets, October"])
    sheet.append(["ticket_id", "created_at", "subject", "description", "account_id"])
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def settings(sources: list[FeedbackSource], **options) -> FeedbackParams:
    return FeedbackParams(sources=sources, taxonomy=TAXONOMY, **options)


def source(name: str, arr: str | None = None) -> FeedbackSource:
    return FeedbackSource(name, Path(f"{name}.csv"), ColumnMap(id="id", text="text", date="date", arr=arr))


# --------------------------------------------------------------------------- Excel channels


def test_an_excel_channel_loads_beside_a_csv_one(tmp_path):
    path = tickets_workbook(tmp_path, [
        [1001, dt.datetime(2026, 10, 2, 9, 30), "Export broken", "The CSV export drops columns.", "A1"],
        [1002, "14/10/2026", "Slow search", None, "A2"],  # a date typed as text: date_format applies
        [1003, dt.date(2026, 3, 1), "Old", "outside the window", "A1"],
    ])
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("id,date,text\nr1,2026-10-05,Love the app\n", encoding="utf-8")
    sources = [FeedbackSource("support", path, TICKETS, sheet="Tickets"),
               FeedbackSource("app_reviews", reviews, ColumnMap(id="id", text="text", date="date"))]
    log = DropLog()
    items = load_feedback(sources, log, period="2026-10", history_months=3)
    assert items["item_id"].tolist() == ["1001", "1002", "r1"]  # numeric ids stay '1001', not '1001.0'
    assert items["text"].tolist()[:2] == ["Export broken. The CSV export drops columns", "Slow search"]
    assert items["created"].tolist()[:2] == [pd.Timestamp("2026-10-02 09:30"), pd.Timestamp("2026-10-14")]
    assert items["customer_id"].tolist()[:2] == ["A1", "A2"]
    assert log.dropped("support") == 1 and [e["rows"] for e in log.inputs] == [3, 1]


def test_without_an_id_column_items_are_numbered_by_their_data_row(tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("date,title,review,rating\n2026-10-05,Great,Love the app,5\n2026-03-01,Old,outside the window,4\n"
                       "2026-10-07,Crash,Crashes on start,1\n2026-10-07,Crash,Crashes on start,1\n", encoding="utf-8")
    source = FeedbackSource("app_store", reviews, ColumnMap(text=["title", "review"], date="date", rating="rating"))
    items = load_feedback([source], DropLog(), period="2026-10", history_months=3)
    assert items["item_id"].tolist() == ["row 1", "row 3", "row 4"]  # data rows; the header is not counted
    assert prepare_feedback(items).items["votes"].tolist() == [1, 2]  # the repeated review is a vote, not an item


def test_a_bad_date_in_an_excel_channel_is_one_line_naming_the_sheet_row(tmp_path):
    path = tickets_workbook(tmp_path, [[1001, dt.datetime(2026, 10, 2), "Export", "broken", "A1"],
                                       [1002, "next tuesday", "Search", "slow", "A2"]])
    with pytest.raises(InputError) as error:
        load_feedback([FeedbackSource("support", path, TICKETS, sheet="Tickets")], DropLog(), period="2026-10")
    # the same form as a CSV's "column 'created', data row 2: 'next tuesday' is not a date-time"
    assert str(error.value) == ("support: column 'created_at' (read as created), row 4 of sheet 'Tickets': 'next tuesday' is not a "
                                "date-time like %d/%m/%Y; fix the value")


def test_a_missing_sheet_names_the_file_and_the_sheets_there(tmp_path):
    path = tickets_workbook(tmp_path, [[1001, dt.datetime(2026, 10, 2), "Export", "broken", "A1"]])
    with pytest.raises(InputError) as error:
        load_feedback([FeedbackSource("support", path, TICKETS, sheet="Tikets")], DropLog(), period="2026-10")
    assert str(error.value) == f"{path}: no sheet named 'Tikets'; did you mean 'Tickets'?"
    # without sheet:, the first sheet is read: it has no such columns, and the message says so
    with pytest.raises(InputError, match=r"^.*tickets.xlsx: has a header but no data rows \(read sheet 'Read me'; "
                                         r"if the table is on another, set sheet: to it: 'Tickets'\)$"):
        load_feedback([FeedbackSource("support", path, TICKETS)], DropLog(), period="2026-10")


def test_an_accounts_workbook_gives_segment_and_revenue(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["account_id", "name", "segment", "mrr"])
    book.active.append(["A1", "Acme", "Enterprise", 1250.5])
    book.save(tmp_path / "accounts.xlsx")
    path = tickets_workbook(tmp_path, [[1001, dt.datetime(2026, 10, 2), "Export", "broken", "A1"]])
    accounts = AccountsSource(tmp_path / "accounts.xlsx", AccountColumns(arr="mrr"))
    items = load_feedback([FeedbackSource("support", path, TICKETS, sheet="Tickets")], DropLog(),
                          period="2026-10", accounts=accounts)
    assert items[["customer_name", "segment", "arr"]].values.tolist() == [["Acme", "Enterprise", 1250.5]]


def test_a_sheet_is_named_in_yaml_as_on_its_tab_even_when_it_is_a_number():
    data = {"sources": [{"name": "support", "path": "t.xlsx", "sheet": 2026,
                         "columns": {"id": "id", "text": "text", "date": "date"}},
                        {"name": "sales", "path": "s.xlsx", "sheet": "Notes Q3",
                         "columns": {"id": "id", "text": "text", "date": "date"}}],
            "taxonomy": str(TAXONOMY)}
    built = params.build(FeedbackParams, data)
    assert [s.sheet for s in built.sources] == ["2026", "Notes Q3"]
    assert FeedbackSource("a", Path("a.xlsx"), TICKETS).sheet is None


# --------------------------------------------------------------------------- wording


def test_the_intro_names_one_channel():
    assert feedback_intro(settings([source("support")])) == (
        "What customers are telling us in the support channel: the themes this month, how big they are in "
        "items and customers, what is emerging or fading, which customers are affected, and what they say "
        "in their own (redacted) words.")


def test_the_intro_names_two_channels_and_the_revenue_measure():
    text = feedback_intro(settings([source("support", arr="mrr"), source("app_reviews")], revenue_label="MRR"))
    assert text.startswith("What customers are telling us across 2 channels, support and app reviews: ")
    assert "how big they are in items, customers and MRR" in text and "high-value customers" in text
    assert "ARR" not in text


def test_the_intro_names_four_channels_and_arr_from_the_accounts():
    configured = settings([source("support"), source("sales"), source("nps"), source("app_reviews")],
                          accounts=AccountsSource(Path("accounts.csv")))
    text = feedback_intro(configured)
    assert "across 4 channels, support, sales, nps and app reviews: " in text
    assert "items, customers and ARR" in text


def test_revenue_columns_are_labelled_with_the_configured_measure():
    revenue = settings([source("sales", arr="mrr")], revenue_label="MRR").revenue
    themes = pd.DataFrame({"label": ["export"], "items": [4], "share": [0.4], "customers": [3],
                           "arr": [12_345.0], "arr_share": [0.25]})
    html = revenue.table(themes, formats={"share": "{:.1%}"}, caption="Themes in 2026-10")
    assert ">MRR<" in html and ">MRR share<" in html and "12,345" in html and "25.0%" in html
    assert "ARR" not in html and ">arr" not in html
    assert revenue.clause(12_345.0) == ", MRR 12,345"
    assert revenue.top_customers == "Highest-MRR customers"


def test_without_a_revenue_column_no_revenue_is_shown():
    for configured in (settings([source("support"), source("app_reviews")]),
                       settings([source("support")], accounts=AccountsSource(Path("a.csv"), AccountColumns(arr=None)))):
        revenue = configured.revenue
        assert not configured.has_revenue and not revenue.shown
        themes = pd.DataFrame({"label": ["export"], "items": [4], "arr": [0.0], "arr_share": [0.0]})
        assert revenue.columns(themes).columns.tolist() == ["label", "items"]
        html = revenue.table(themes)
        assert "arr" not in html.lower() and "revenue" not in html.lower()
        assert revenue.clause(0.0) == ""
        assert revenue.top_customers == "Customers with the most feedback"
        assert "ARR" not in feedback_intro(configured) and "high-value" not in feedback_intro(configured)


def test_the_revenue_label_must_be_a_few_words():
    with pytest.raises(ValueError, match="revenue_label: name the revenue measure in a few words"):
        settings([source("support")], revenue_label="  ")
    assert settings([source("support")], revenue_label=" Contract   value ").revenue_label == "Contract value"


def test_the_notebook_names_no_fixed_channels_or_revenue_measure():
    notebook = nbformat.read(ROOT / "notebooks" / "feedback_clustering.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells)
    for fixed in ("ARR", "four", "support tickets", "NPS comments", "app reviews"):
        assert fixed not in text, f"the notebook hard-codes {fixed!r}; take it from the parameters"
    assert "feedback_intro(settings)" in text and "revenue.table(" in text


# --------------------------------------------------------------------------- too little feedback


def tiny_export(tmp_path) -> Path:
    """12 rows: 3 usable in 2026-10, 5 empty texts, 4 from before the one-month window."""
    usable = ["The export drops our custom columns", "Search is slow on big projects", "Please add SSO login"]
    rows = ([f"{i},2026-10-0{i},{text}" for i, text in enumerate(usable, start=1)]
            + [f"{i},2026-10-05," for i in range(4, 9)]
            + [f"{i},2026-08-01,old complaint {i}" for i in range(9, 13)])
    path = tmp_path / "survey.csv"
    path.write_text("id,date,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_too_little_feedback_stops_with_one_plain_sentence(tmp_path):
    sources = [FeedbackSource("survey", tiny_export(tmp_path), ColumnMap(id="id", text="text", date="date"))]
    log = DropLog()
    prepared = prepare_feedback(load_feedback(sources, log, period="2026-10", history_months=1))
    with pytest.raises(NotEnoughFeedback) as error:
        require_enough_feedback(prepared, log, period="2026-10", history_months=1, sources=sources)
    assert str(error.value) == (
        "Only 3 feedback texts in 2026-10 after preparation (12 read, 9 dropped: 5 empty text, 4 dated before "
        "2026-10); themes need at least 10 — widen history_months or add sources.")
    assert isinstance(error.value, InputError) and (error.value.texts, error.value.minimum) == (3, 10)


def test_repeats_do_not_count_as_texts_and_the_window_is_named(tmp_path):
    path = tmp_path / "survey.csv"
    rows = [f"{i},2026-10-0{i},The CSV export drops our custom columns" for i in range(1, 4)]
    path.write_text("id,date,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    sources = [FeedbackSource("survey", path, ColumnMap(id="id", text="text", date="date"))]
    log = DropLog()
    prepared = prepare_feedback(load_feedback(sources, log, period="2026-10", history_months=6))
    with pytest.raises(NotEnoughFeedback, match=r"^Only 1 feedback text from 2026-05 to 2026-10 after preparation "
                                                r"\(3 read, none dropped; 2 repeats counted as votes\); "):
        require_enough_feedback(prepared, log, period="2026-10", history_months=6, sources=sources)


def test_no_feedback_in_the_period_is_one_plain_sentence(tmp_path):
    path = tmp_path / "survey.csv"
    rows = [f"{i},2026-09-{10 + i},complaint number {i} about topic {i * 7}" for i in range(12)]
    path.write_text("id,date,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    sources = [FeedbackSource("survey", path, ColumnMap(id="id", text="text", date="date"))]
    log = DropLog()
    prepared = prepare_feedback(load_feedback(sources, log, period="2026-10", history_months=3))
    with pytest.raises(NotEnoughFeedback) as error:
        require_enough_feedback(prepared, log, period="2026-10", history_months=3, sources=sources)
    assert str(error.value) == ("No feedback texts in 2026-10 after preparation (12 in the months before; 12 read, "
                                "none dropped); check the sources' date columns, or run the report for a month "
                                "that has feedback.")


def test_enough_feedback_passes_and_the_bar_follows_the_clustering_settings(tmp_path):
    path = tmp_path / "survey.csv"
    rows = [f"{i},2026-10-{1 + i},complaint number {i} about topic {i * 7}" for i in range(13)]
    path.write_text("id,date,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    sources = [FeedbackSource("survey", path, ColumnMap(id="id", text="text", date="date"))]
    log = DropLog()
    prepared = prepare_feedback(load_feedback(sources, log, period="2026-10"))
    require_enough_feedback(prepared, log, period="2026-10", history_months=6, sources=sources)
    # k-means makes k non-empty groups: two of min_issue_size need 2·size + (k − 2) texts
    assert texts_needed_for_themes(ClusteringParams()) == MIN_TEXTS_FOR_THEMES == 10
    assert texts_needed_for_themes(ClusteringParams(n_issues=2)) == 10
    assert texts_needed_for_themes(ClusteringParams(n_issues=8)) == 16
    assert texts_needed_for_themes(ClusteringParams(min_issue_size=20, n_issues=8)) == 46
    with pytest.raises(NotEnoughFeedback, match="themes need at least 14"):
        require_enough_feedback(prepared, log, period="2026-10", history_months=1, sources=sources, minimum=14)


def run_sample_report(tmp_path, change) -> str:
    """The notebook run end to end on the sample parameters as ``change`` edits them (TF-IDF
    embeddings, so no model is needed); returns the text and HTML the reader sees, without
    the appendix (which lists the parameters themselves)."""
    papermill = pytest.importorskip("papermill")
    sample = params.load_yaml(ROOT / "parameters" / "feedback_clustering.yaml")
    sample["clustering"] = {**sample["clustering"], "embedding": "tfidf", "cache_dir": None}
    for entry in [*sample["sources"], sample["accounts"]]:
        entry["path"] = str(ROOT / entry["path"])
    sample["taxonomy"] = str(ROOT / sample["taxonomy"])
    change(sample)
    parameters = tmp_path / "feedback.yaml"
    parameters.write_text(json.dumps(sample), encoding="utf-8")  # JSON is YAML
    executed = papermill.execute_notebook(
        str(ROOT / "notebooks" / "feedback_clustering.ipynb"), str(tmp_path / "out.ipynb"),
        parameters={"parameters_file": str(parameters), "results_dir": str(tmp_path / "results")},
        kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    appendix = next(i for i, cell in enumerate(executed.cells) if cell.source.startswith("## Appendix"))
    outputs = [output for cell in executed.cells[:appendix] for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    return "\n".join(str(output.get("data", {}).get(kind, "")) + str(output.get("text", ""))
                     for output in outputs for kind in ("text/html", "text/plain"))  # not the PNG bytes


@pytest.mark.slow
def test_the_report_says_mrr_and_never_arr_when_the_measure_is_mrr(tmp_path):
    shown = run_sample_report(tmp_path, lambda sample: sample.update(revenue_label="MRR"))
    assert "across 4 channels, support, sales, nps and app reviews" in shown
    assert "customers and MRR" in shown and "Highest-MRR customers" in shown and ">Share of MRR on product themes<" in shown
    assert "ARR" not in shown


@pytest.mark.slow
def test_the_report_shows_no_revenue_when_no_input_maps_one(tmp_path):
    def without_revenue(sample):
        for entry in sample["sources"]:
            entry["columns"].pop("arr", None)
        sample["accounts"]["columns"]["arr"] = None

    shown = run_sample_report(tmp_path, without_revenue)
    assert "how big they are in items and customers" in shown
    assert "Customers with the most feedback raising" in shown
    # not "revenue" itself: customers' own words (quotes, issue names) may use it
    for revenue in ("ARR", ">arr", "arr_share", "high-value"):
        assert revenue not in shown


@pytest.mark.slow
def test_without_a_taxonomy_or_scores_the_report_runs_and_says_what_to_set(tmp_path):
    def bare(sample):
        del sample["taxonomy"]
        for entry in sample["sources"]:
            entry["columns"].pop("rating", None)
            entry["columns"].pop("nps", None)

    shown = run_sample_report(tmp_path, bare)
    assert "No taxonomy is set (taxonomy: in the parameters)" in shown
    assert "map a source&#x27;s columns.rating or columns.nps" in shown
    demand = pd.read_csv(tmp_path / "results" / "demand_by_theme.csv")
    assert set(demand["product_theme"]) == {"unmapped"}


@pytest.mark.parametrize(("csv", "columns", "message"), [
    # a product id is not a review id
    ("product_id,date,text\nP1,2026-10-05,Love it\nP1,2026-10-06,Broke in a week\n",
     ColumnMap(id="product_id", text="text", date="date"),
     r"^reviews: id 'P1' is used by rows with different text; set columns.id to a column that is unique per "
     r"feedback item, or leave columns.id out to number the rows$"),
    # a 1–10 score read as 1–5 stars would count 2 of 10 as a low score
    ("date,text,stars\n2026-10-01,ok,4\n2026-10-02,great,8\n", ColumnMap(text="text", date="date", rating="stars"),
     r"^reviews: column 'stars' \(read as rating\), data row 2: '8' is not a number from 1 to 5; fix the value$"),
])
def test_a_review_export_that_cannot_be_read_as_mapped_is_one_line_saying_what_to_set(tmp_path, csv, columns, message):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(csv, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_feedback([FeedbackSource("reviews", reviews, columns)], DropLog(), period="2026-10", history_months=3)
