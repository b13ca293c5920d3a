"""The latest reproduction table of a paper, as each method's page shows it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import reproduce


def latest_table(paper: str, key: str) -> None:
    """An expander with the paper's latest reproduction (what each row is, its value, command, time and machine),
    or the command that makes one."""
    record = reproduce.latest(paper)
    command = f"python -m core reproduce {paper}"
    with st.expander("Reproduction: the paper's figure, its settings and the lab's, with baselines and controls"):
        if record is None:
            st.info(
                f"No reproduction on this machine yet. `{command}` runs one (offline, at most 45 minutes on two CPU "
                "cores; `--online` runs the paper's own inputs, sized for a GPU) and writes the table shown here."
            )
            return
        st.caption(
            f"{record['title']} · {record['variant']} · run {record['started']} on {record['machine']}, "
            f"{record['seconds'] / 60:.0f} min in all. {reproduce.EACH_ROW} Run `{command}` again to refresh."
        )
        said = reproduce.verdicts(record)
        if said:
            st.markdown("**What the paired comparisons say:**\n" + "\n".join(f"- {s}" for s in said))
        st.dataframe(
            pd.DataFrame(reproduce.table_rows(record)),
            hide_index=True,
            width="stretch",
            key=f"{key}-table",
            column_order=reproduce.COLUMNS,
        )
        markdown, page = st.columns(2)
        markdown.download_button(
            "Table (Markdown)", reproduce.markdown(record), f"reproduction-{paper}.md", "text/markdown", key=f"{key}-md"
        )
        page.download_button(
            "Table and verdicts (HTML)",
            lambda: reproduce.html(record),
            f"reproduction-{paper}.html",
            "text/html",
            key=f"{key}-html",
            on_click="ignore",
            help="One HTML file that opens offline: when and where this ran, the verdicts in sentences and the table.",
        )
