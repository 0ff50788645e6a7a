"""prodops_lib.display: text from data is escaped and redacted everywhere it is rendered."""

from __future__ import annotations

import json

import pandas as pd

from prodops_lib import display
from prodops_lib.io import DropLog

HOSTILE = '<script>window.__prodops_injected=1</script> mail jane.doe@example.com'
SAFE = "&lt;script&gt;window.__prodops_injected=1&lt;/script&gt; mail [email]"


def test_every_helper_escapes_and_redacts_data_text():
    rendered = [
        display.table(pd.DataFrame({HOSTILE: [HOSTILE]})),
        display.kpi_cards([display.Kpi(HOSTILE, HOSTILE, HOSTILE)]),
        display.callout(HOSTILE, title=HOSTILE),
        display.paragraph(HOSTILE),
        display.bullets([HOSTILE]),
        display.heading(HOSTILE),
        display.quotes([(HOSTILE, HOSTILE)]),
    ]
    for html in rendered:
        assert "<script>" not in html
        assert "jane.doe" not in html
        assert SAFE in html
        assert html._repr_html_() == str(html)


def test_attribute_context_is_escaped_too():
    assert display.safe_text('"><img src=x onerror=alert(1)>') == "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"


def test_table_formats_numbers_and_truncates():
    frame = pd.DataFrame({"metric": ["a", "b", "c"], "share": [0.1234, 0.5, None], "n": [1200, 5, 7]})
    html = display.table(frame, formats={"share": "{:.1%}"}, max_rows=2)
    assert "12.3%" in html and "50.0%" in html and "1,200" in html
    assert "Showing 2 of 3 rows" in html
    assert "n/a" in display.table(pd.DataFrame({"share": ["n/a"]}), formats={"share": "{:.1%}"})


def test_a_missing_timestamp_shows_as_a_dash():
    html = display.table(pd.DataFrame({"t": [pd.Timestamp("2026-10-01 12:30"), pd.NaT]}))
    assert "2026-10-01 12:30" in html and "—" in html


def test_format_value_rules():
    assert display.format_value(1234567) == "1,234,567"
    assert display.format_value(0.012345) == "0.0123"
    assert display.format_value(12.345) == "12.35"
    assert display.format_value(float("nan")) == "—"
    assert display.format_value(pd.Timestamp("2026-10-01")) == "2026-10-01"


def test_save_result_writes_csv_and_json(tmp_path):
    import numpy as np

    assert display.save_result(pd.DataFrame({"a": [1, 2]}), "table", tmp_path) is None
    assert (tmp_path / "table.csv").read_text() == "a\n1\n2\n"
    display.save_result(pd.DataFrame({"theme": ["x", "y"], "share": [0.4, 0.6]}).set_index("theme"), "shares", tmp_path)
    assert (tmp_path / "shares.csv").read_text() == "theme,share\nx,0.4\ny,0.6\n"  # the index is kept
    display.save_result({"p": np.float64(0.5), "n": np.int64(3), "x": float("nan"), "when": pd.Timestamp("2026-10-01"),
                         "values": np.array([1, 2]), "series": pd.Series([0.5]), "wait": pd.Timedelta(hours=1)},
                        "summary", tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "p": 0.5, "n": 3, "x": None, "when": "2026-10-01T00:00:00", "values": [1, 2], "series": [0.5], "wait": "P0DT1H0M0S"}


def test_saved_results_are_redacted(tmp_path):
    display.save_result(pd.DataFrame({"text": ["mail jane.doe@example.com"], "n": [1]}), "items", tmp_path)
    display.save_result({"quotes": ["call +1 415-555-0134"]}, "quotes", tmp_path)
    assert (tmp_path / "items.csv").read_text() == "text,n\nmail [email],1\n"
    assert json.loads((tmp_path / "quotes.json").read_text()) == {"quotes": ["call [phone]"]}


def test_headline_and_appendix_are_saved_for_the_runner(tmp_path):
    display.save_headline("Ship it", tmp_path, status="good")
    assert json.loads((tmp_path / "headline.json").read_text()) == {"headline": "Ship it", "tone": "good"}
    log = DropLog()
    log.record_input("units.csv", None, 10)
    log.drop("units.csv", "unit in two variants", 2)
    html = display.appendix(log, {"alpha": 0.05, "metrics": ["a"], "months": 6}, tmp_path)
    assert "2 rows dropped" in html and "unit in two variants" in html
    assert {p.name for p in tmp_path.iterdir()} >= {"data_quality.csv", "inputs.json", "parameters.json"}


def test_theme_is_applied_once_for_every_chart():
    import matplotlib as mpl
    from matplotlib.colors import to_hex

    display.use_theme()
    colours = [to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"][:3]]
    assert colours == [c.lower() for c in display.PALETTE[:3]]
    assert mpl.rcParams["axes.spines.top"] is False


def test_charts_are_drawn_at_twice_their_size_with_their_title_as_alt_text():
    import base64
    import re

    from matplotlib.figure import Figure

    from prodops_lib import display

    chart = Figure(figsize=(4.0, 2.0), dpi=100)
    chart.subplots().set_title("Effort <by> theme")
    data, width, height = display.chart_png(chart)
    assert abs(int.from_bytes(data[20:24], "big") - 2 * height) <= 1
    assert abs(int.from_bytes(data[16:20], "big") - 2 * width) <= 1  # PNG header: twice the shown width
    assert display.chart_alt(chart) == "Effort <by> theme"
    assert display.chart_alt(Figure()) == "chart"
    html = str(display.figure(chart))
    assert 'alt="Effort &lt;by&gt; theme"' in html and f'width="{width}"' in html
    encoded = re.search(r"base64,([^\"]+)", html).group(1)
    assert base64.b64decode(encoded) == data


def test_column_labels_are_for_people_and_data_values_stay_as_they_are():
    from prodops_lib.labels import column_label

    assert column_label("rel_ci_low") == "Change, low end (95%)"
    assert column_label("gap_pp") == "Gap, demand − effort (pp)"
    assert column_label("some_new_pp") == "Some new (pp)"  # not listed: still readable
    assert column_label("2026-10") == "2026-10" and column_label("Billing & invoicing") == "Billing & invoicing"
    frame = pd.DataFrame({"rel_effect": [0.1], "significant": [True]})
    html = str(display.table(frame, formats={"rel_effect": "{:+.1%}"}))
    assert ">Change vs control</th>" in html and ">Clear result</th>" in html and ">+10.0%<" in html and ">yes<" in html


def test_a_value_that_rounds_to_zero_takes_no_sign():
    assert display.format_value(-0.04, "{:+.1f}") == "0.0"
    assert display.format_value(0.0, "{:+.2f}") == "0.00"
    assert display.format_value(0.004, "{:+.2f} pp") == "0.00 pp"
    assert display.format_value(0.05, "{:+.1f}") == "+0.1"  # half-even on the double 0.05000000000000000277
    assert display.format_value(-0.06, "{:+.1f}") == "-0.1"
    assert display.format_value(float("-inf"), "{:+.1%}") == "-inf%"


def test_p_values_are_written_one_way_with_two_significant_digits():
    from prodops_lib.labels import p_equals, p_value_text

    assert [p_value_text(p) for p in (0.0383, 0.0128, 0.175, 0.5, 0.0095, 0.001)] == [
        "0.038", "0.013", "0.17", "0.50", "0.0095", "0.0010"]
    assert p_value_text(6.3e-05) == "<0.001" and p_equals(6.3e-05) == "p < 0.001"
    assert p_equals(0.0383) == "p = 0.038"
    # a table that compares p-values with LORD++ levels of about 1e-4 writes them down to 1e-6
    assert p_value_text(4.7e-06, floor=1e-6) == "0.0000047"
    assert p_value_text(float("nan")) == "—" and p_equals(float("nan")) == "no p-value"
    # never rounded up onto a level it is below: "p = 0.050" beside "clear" reads as a contradiction
    assert [p_value_text(p) for p in (0.0496, 0.04999, 0.00999, 0.0995, 0.0504)] == [
        "0.0496", "0.0499", "0.00999", "0.0995", "0.050"]
    assert p_value_text(0.000999, floor=1e-6) == "0.000999"


def test_amounts_drop_decimals_that_are_zeros():
    from prodops_lib.labels import number_text

    assert [number_text(v) for v in (1679.0, 620.5, 0.04, -0.04, 1234567.25)] == [
        "1,679", "620.5", "0", "0", "1,234,567.2"]
