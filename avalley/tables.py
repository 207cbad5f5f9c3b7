"""Tables for the book: one number format, flat headers, and HTML that scrolls inside the page.

`format_table(df)` returns a `Table`. Shown as a cell's last expression it renders as HTML
wrapped in `<div class="avalley-table">` with `overflow-x: auto`, so a wide table scrolls
inside its own box instead of widening the page. Its `text/markdown` form is a plain pipe
table, which lets a chapter give a table a number and a caption:

    # in a code cell
    glue("swa_results", format_table(df), display=False)

    # in the Markdown, a numbered table ("Table 1: ...") that {numref}`tbl-swa-results` cites
    ```{table} SWA against SGD, mean over seeds.
    :name: tbl-swa-results

    ```{glue:md} swa_results
    :format: myst
    ```
    ```

(the outer fence needs four backticks). An unnumbered table is `format_table(df)` as the
last expression of a cell.
"""
from __future__ import annotations

import html
import math
import numbers

import pandas as pd

MISSING = "—"          # em dash: the value was not measured or does not apply


def format_value(value, digits: int = 3) -> str:
    """One cell as text: floats to `digits` significant digits (fixed-point between 1e-3
    and 1e5, `1.23e-05` outside), integers in full, missing values (None, NaN, NA) as "—",
    anything else as `str`."""
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, bool):                  # before Integral: bool is an int
        return "yes" if value else "no"
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()                     # NumPy scalar -> Python number
        if isinstance(value, bool):
            return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):
            return MISSING
        if math.isinf(x):
            return "∞" if x > 0 else "-∞"
        if x == 0:
            return "0"
        rounded = float(f"{x:.{digits}g}")       # round to `digits` significant digits
        if 1e-3 <= abs(rounded) < 1e5:
            decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
            return f"{rounded:.{decimals}f}"
        return f"{x:.{digits - 1}e}"
    return str(value)


def _header(col, sep: str) -> str:
    """A column label as one string: the levels of a MultiIndex joined by `sep`, with empty
    and pandas' `Unnamed: …` levels left out."""
    if isinstance(col, tuple):
        parts = [str(c) for c in col
                 if c is not None and str(c) != "" and not str(c).startswith("Unnamed:")]
        return sep.join(dict.fromkeys(parts))     # ("loss", "loss") -> "loss"
    return str(col)


class Table:
    """A formatted table: `.frame` holds the cells as strings with single-level headers.
    Jupyter shows it as HTML (`_repr_html_`); `{glue:md}` pastes its Markdown form."""

    def __init__(self, frame: pd.DataFrame, caption: str | None = None):
        self.frame = frame
        self.caption = caption

    def to_html(self) -> str:
        cap = (f"<caption>{html.escape(self.caption)}</caption>" if self.caption else "")
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.frame.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
            for row in self.frame.itertuples(index=False, name=None))
        # the inline style keeps the scrolling where the book's stylesheet is absent
        # (Jupyter, an exported notebook); _static/avalley.css styles the table itself
        return ('<div class="avalley-table" style="overflow-x: auto; max-width: 100%;">'
                f'<table class="avalley-table">{cap}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>")

    def to_markdown(self) -> str:
        def cell(s: str) -> str:
            return s.replace("|", "\\|").replace("\n", " ")
        cols = list(self.frame.columns)
        lines = ["| " + " | ".join(cell(c) for c in cols) + " |",
                 "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |"
                  for row in self.frame.itertuples(index=False, name=None)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return self.frame.to_string(index=False)


def format_table(df: pd.DataFrame, digits: int = 3, index: bool | None = None,
                 sep: str = " ", caption: str | None = None) -> Table:
    """Format a DataFrame for the page.

    - numbers to `digits` significant digits (`format_value`), "—" for missing values;
    - headers flattened to one level: MultiIndex column levels joined by `sep`;
    - the row index becomes ordinary leading column(s) when it carries information (a named
      index or one that is not 0..n-1); `index=True/False` forces it in or out;
    - a pandas Styler is accepted too (its data is used, its formatting is not).
    """
    if hasattr(df, "data") and not isinstance(df, pd.DataFrame):    # a Styler
        df = df.data
    if isinstance(df, pd.Series):
        df = df.to_frame()
    df = df.copy()
    if index is None:
        default = isinstance(df.index, pd.RangeIndex) and df.index.start == 0 \
            and df.index.step == 1 and not any(df.index.names)
        index = not default
    if index:
        names = [n if n is not None else ("" if df.index.nlevels == 1 else f"level {i}")
                 for i, n in enumerate(df.index.names)]
        df.index = df.index.set_names(names)
        df = df.reset_index()
    columns = [_header(c, sep) for c in df.columns]
    cells = {i: df.iloc[:, i].map(lambda v: format_value(v, digits)).tolist()
             for i in range(df.shape[1])}
    frame = pd.DataFrame({i: cells[i] for i in range(df.shape[1])}, dtype=object)
    frame.columns = columns
    return Table(frame, caption=caption)
