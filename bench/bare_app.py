"""The floor of the start benchmark: a bare Textual app showing the same list.

A Header, a DataTable with the newest 200 kickoffs of the history (read with the standard
library's sqlite3: the rows a list needs, nothing more) and a Footer. ``bench_start.py``
starts it in a new process on a terminal, as it starts crewtui, and waits for the same
kickoff id to reach the terminal. Deliberately no import of crewtui, pydantic or httpx.

    python bench/bare_app.py STORE
"""

from __future__ import annotations

import sqlite3
import sys

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

PAGE = 200


class BareApp(App[None]):
    def __init__(self, store: str) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("State", "Crew", "ID", "Started")
        with sqlite3.connect(f"file:{self.store}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT state, crew, substr(kickoff_id, 1, 8), created_at FROM kickoffs"
                " WHERE archived = 0 ORDER BY created_at DESC, kickoff_id DESC LIMIT ?",
                (PAGE,),
            ).fetchall()
        table.add_rows(rows)


if __name__ == "__main__":
    BareApp(sys.argv[1]).run()
