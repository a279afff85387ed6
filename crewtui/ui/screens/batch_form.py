"""The batch form (``b``): a file, a crew, a cap on runs going; a preview of the first rows.

The form does no I/O: it asks the app to read the file (``PreviewWanted``) and shows what
it is given back, and hands the request over (``Submitted``); the app checks every row
against the crew's inputs, records the batch and runs it through the tracker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from crewtui.core.batch import DEFAULT_CONCURRENCY, META_PREFIX, BatchRow
from crewtui.ui.screens.early_keys import EarlyKeys
from crewtui.ui.screens.prompts import _crew_select
from crewtui.ui.text import safe_line, safe_line_content

# Rows and columns the preview shows; the count says how many rows there are in all.
PREVIEW_ROWS = 5
PREVIEW_COLUMNS = 6


@dataclass(frozen=True)
class BatchRequest:
    """What the person asked for: the app reads the file again when it starts the batch."""

    path: str
    crew: str
    concurrency: int


class BatchForm(EarlyKeys[str | None]):
    """Start a batch; dismissed with the batch id once it started, None when cancelled."""

    DEFAULT_CSS = """
    BatchForm #batch-box {
        width: 100;
    }
    BatchForm #batch-preview {
        height: auto;
        max-height: 8;
        margin-top: 1;
    }
    BatchForm #batch-count {
        color: $text-muted;
        height: auto;
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Start", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    class PreviewWanted(Message):
        """The app answers with ``form.show_preview(path, rows, error)``."""

        def __init__(self, path: str, form: BatchForm) -> None:
            super().__init__()
            self.path = path
            self.form = form

    class Submitted(Message):
        """The app starts the batch and answers with ``dismiss`` or ``show_error``."""

        def __init__(self, request: BatchRequest, form: BatchForm) -> None:
            super().__init__()
            self.request = request
            self.form = form

    def __init__(self, crews: Sequence[str], crew: str | None = None) -> None:
        super().__init__()
        self.crews = list(crews)
        self.crew = crew if crew in self.crews else (self.crews[0] if self.crews else "")
        self._busy = False
        self.previewed: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="batch-box", classes="dialog") as box:
            box.border_title = "New batch"
            box.border_subtitle = "ctrl+s to start · escape to cancel"
            yield Label("File (CSV with a header of input names, or JSON Lines)")
            yield Input(placeholder="rows.csv or rows.jsonl", id="batch-path", compact=True)
            yield Label("Crew")
            yield _crew_select(self.crews, self.crew, allow_blank=False)
            yield Label("Runs going at once")
            yield Input(
                str(DEFAULT_CONCURRENCY), type="integer", id="batch-concurrency", compact=True
            )
            yield Static("", id="batch-count")
            yield DataTable(id="batch-preview", show_cursor=False, zebra_stripes=True)
            yield Static("", id="batch-message", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel  esc", id="batch-cancel", compact=True)
                yield Button("Start  ^s", id="batch-start", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#batch-preview", DataTable).display = False
        self.query_one("#batch-path", Input).focus()

    # -- the app's API ---------------------------------------------------------------------

    def show_preview(self, path: str, rows: Sequence[BatchRow] | None, error: str | None) -> None:
        """The first rows of ``path`` and how many there are, or why it cannot be read."""
        if path != self.path:
            return  # an answer for what was typed before
        self.previewed = path
        table = self.query_one("#batch-preview", DataTable)
        table.clear(columns=True)
        count = self.query_one("#batch-count", Static)
        if error is not None or not rows:
            table.display = False
            count.update(safe_line_content(error or "", limit=400))
            return
        columns = _columns(rows[:PREVIEW_ROWS])
        table.add_column("row")
        for name in columns:
            table.add_column(safe_line(name, limit=24))
        for row in rows[:PREVIEW_ROWS]:
            cells = [_cell(row, name) for name in columns]
            table.add_row(str(row.number), *(safe_line(cell, limit=30) for cell in cells))
        table.display = True
        more = f" (the first {PREVIEW_ROWS} shown)" if len(rows) > PREVIEW_ROWS else ""
        noun = "row" if len(rows) == 1 else "rows"
        count.update(safe_line_content(f"{len(rows)} {noun}, one run each{more}"))

    def show_error(self, message: str) -> None:
        """The batch did not start (a row lacks an input, the crew refused): say why."""
        self.set_busy(False)
        self.query_one("#batch-message", Static).update(safe_line_content(message, limit=600))

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        start = self.query_one("#batch-start", Button)
        start.disabled = busy
        start.label = "Starting…" if busy else "Start  ^s"

    @property
    def path(self) -> str:
        return self.query_one("#batch-path", Input).value.strip()

    # -- actions ---------------------------------------------------------------------------

    def action_submit(self) -> None:
        if self._busy:
            return
        message = self.query_one("#batch-message", Static)
        concurrency = self.query_one("#batch-concurrency", Input).value.strip()
        crew = self.query_one("#crew", Select).value
        if not self.path:
            message.update("Give the path of a CSV or JSON Lines file.")
            return
        if not concurrency.isdigit() or int(concurrency) < 1:
            message.update("Runs going at once must be a whole number, 1 or more.")
            return
        if not isinstance(crew, str):
            message.update("Choose a crew.")
            return
        message.update("")
        self.set_busy(True)
        self.post_message(self.Submitted(BatchRequest(self.path, crew, int(concurrency)), self))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Changed, "#batch-path")
    def _path_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.path:
            self.post_message(self.PreviewWanted(self.path, self))

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "batch-start":
            self.action_submit()
        else:
            self.action_cancel()


def _columns(rows: Sequence[BatchRow]) -> list[str]:
    """The inputs, then the meta columns, in the order the rows first name them."""
    names = dict.fromkeys(name for row in rows for name in row.inputs)
    names |= dict.fromkeys(META_PREFIX + name for row in rows for name in row.meta)
    return list(names)[:PREVIEW_COLUMNS]


def _cell(row: BatchRow, column: str) -> str:
    if column.startswith(META_PREFIX) and column not in row.inputs:
        return row.meta.get(column.removeprefix(META_PREFIX), "")
    return row.inputs.get(column, "")
