"""avalley.tables: three significant digits, a dash for missing values, flat headers, and
HTML that scrolls inside its own box."""
import math

import numpy as np
import pandas as pd
import pytest

from avalley.tables import MISSING, Table, format_table, format_value


@pytest.mark.parametrize("value, text", [
    (0.5, "0.500"), (0.123456, "0.123"), (12.3456, "12.3"), (99.96, "100"), (1234.5, "1230"),
    (-0.0456789, "-0.0457"), (0.0009999, "0.00100"), (0.00012345, "1.23e-04"),
    (123456.0, "1.23e+05"), (0.0, "0"), (np.float32(2.5), "2.50"), (np.float64(1 / 3), "0.333"),
    (7, "7"), (200000, "200000"), (np.int64(42), "42"), (True, "yes"), (np.bool_(False), "no"),
    (None, MISSING), (float("nan"), MISSING), (np.nan, MISSING), (pd.NA, MISSING),
    (math.inf, "∞"), (-math.inf, "-∞"), ("SGD", "SGD"),
])
def test_format_value(value, text):
    assert format_value(value) == text


def test_digits_can_be_changed():
    assert format_value(3.14159, digits=2) == "3.1"
    assert format_value(3.14159, digits=5) == "3.1416"


def test_multiindex_headers_are_joined_and_missing_values_dashed():
    cols = pd.MultiIndex.from_tuples([("SGD", "train loss"), ("SGD", "test loss"),
                                      ("SWA", "train loss"), ("SWA", "")])
    df = pd.DataFrame([[0.0123456, np.nan, 1.5, None]], columns=cols)
    t = format_table(df)
    assert list(t.frame.columns) == ["SGD train loss", "SGD test loss", "SWA train loss", "SWA"]
    assert t.frame.iloc[0].tolist() == ["0.0123", MISSING, "1.50", MISSING]
    assert format_table(df, sep=" / ").frame.columns[0] == "SGD / train loss"


def test_informative_index_becomes_a_column_and_a_default_one_does_not():
    df = pd.DataFrame({"loss": [0.25, 0.5]}, index=pd.Index(["a", "b"], name="net"))
    assert list(format_table(df).frame.columns) == ["net", "loss"]
    assert list(format_table(df.reset_index()).frame.columns) == ["net", "loss"]
    assert list(format_table(df, index=False).frame.columns) == ["loss"]
    two = df.set_index(pd.MultiIndex.from_tuples([("x", 1), ("y", 2)], names=["kind", "seed"]))
    assert list(format_table(two).frame.columns) == ["kind", "seed", "loss"]


def test_a_styler_and_a_series_are_accepted():
    df = pd.DataFrame({"a": [1.23456]})
    assert format_table(df.style.format(precision=1)).frame.iloc[0, 0] == "1.23"
    assert format_table(df["a"]).frame.iloc[0, 0] == "1.23"


def test_html_scrolls_in_its_own_box_and_is_escaped():
    df = pd.DataFrame({f"column {i}": [i / 7] for i in range(30)})
    df["note"] = ["<b>x</b> & y"]
    html = format_table(df, caption="A wide table")._repr_html_()
    assert html.startswith('<div class="avalley-table" style="overflow-x: auto;')
    assert "<caption>A wide table</caption>" in html
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in html and "<b>x</b>" not in html
    assert html.count("<th>") == 31 and "<td>0.143</td>" in html


def test_markdown_form_is_a_pipe_table():
    df = pd.DataFrame({"name": ["a|b", "c"], "value": [1.0, np.nan]})
    md = format_table(df)._repr_markdown_().splitlines()
    assert md[0] == "| name | value |"
    assert md[1] == "|---|---|"
    assert md[2] == "| a\\|b | 1.00 |" and md[3] == f"| c | {MISSING} |"


def test_jupyter_sees_html_and_markdown():
    from IPython.core.formatters import DisplayFormatter
    data, _ = DisplayFormatter().format(format_table(pd.DataFrame({"x": [1.0]})))
    assert {"text/html", "text/markdown", "text/plain"} <= set(data)
    assert isinstance(format_table(pd.DataFrame({"x": [1.0]})), Table)
