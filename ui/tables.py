"""Tables as the page shows them: numbers in their format, a cell with nothing to show left empty."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def number_columns(table: pd.DataFrame, formats: dict[str, tuple[str, str | None]]) -> tuple[pd.DataFrame, dict]:
    """The table and its ``column_config`` for ``st.dataframe``: each column of ``formats`` (name → printf format,
    help) is a number column, except one with missing cells (a reference row has no temperature, for one), which
    is written out as text in its format with the missing cells empty: Streamlit shows a missing number as "None",
    read as a value. The table itself (for the CSV download) is not changed."""
    shown, config = table.copy(), {}
    for name, (fmt, help_) in formats.items():
        if name not in shown:
            continue
        values = pd.to_numeric(shown[name], errors="coerce")
        if values.isna().any():
            shown[name] = [("" if pd.isna(v) else fmt % v) for v in values]
            config[name] = st.column_config.TextColumn(name, help=help_)
        else:
            config[name] = st.column_config.NumberColumn(name, format=fmt, help=help_)
    return shown, config
