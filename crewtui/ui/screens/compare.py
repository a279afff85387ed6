"""Two marked runs of a crew side by side (``space`` on one row, then on another): their
tasks with times, tokens and agents, the inputs that differ, and a diff of the outputs.

The comparison is read and computed in a thread (``core/compare.py``: outputs capped, the
diff cut); this screen only draws it. Every string in it came from a crew: inert.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, RichLog, Static

from crewtui.api.errors import CrewtuiError
from crewtui.core.compare import (
    TABLE_COLUMNS,
    Comparison,
    compare,
    load_compared,
    run_line,
    table_rows,
)
from crewtui.core.history import History
from crewtui.core.pricing import Price
from crewtui.ui.text import safe_line

# The colour of a diff line by its first character (theme variables, through CSS classes).
_DIFF_CLASSES = {"+": "compare--added", "-": "compare--removed", "@": "compare--hunk"}


class CompareScreen(Screen[None]):
    """Runs A and B of one crew; escape or q goes back to the list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {*_DIFF_CLASSES.values()}
    DEFAULT_CSS = """
    CompareScreen { layout: vertical; }
    CompareScreen #compare-head { height: auto; padding: 0 1; background: $panel; }
    CompareScreen #compare-tasks { height: auto; max-height: 40%; }
    CompareScreen #compare-rest { height: 1fr; padding: 0 1; }
    CompareScreen #compare-inputs { height: auto; }
    CompareScreen #compare-diff { height: 1fr; }
    CompareScreen #compare-keys { dock: bottom; height: 1; color: $text-muted; padding: 0 1; }
    CompareScreen > .compare--added { color: $success; }
    CompareScreen > .compare--removed { color: $error; }
    CompareScreen > .compare--hunk { color: $accent; }
    """

    def __init__(
        self,
        store: History,
        left_id: str,
        right_id: str,
        *,
        now: datetime,
        prices: Mapping[str, Price],
    ) -> None:
        super().__init__()
        self.store = store
        self.ids = (left_id, right_id)
        self.now = now
        self.prices = prices
        self.comparison: Comparison | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"Comparing {self.ids[0][:8]} and {self.ids[1][:8]}…", id="compare-head")
        table: DataTable[Text] = DataTable(
            id="compare-tasks", cursor_type="row", zebra_stripes=True
        )
        yield table
        with Vertical(id="compare-rest"):
            yield Static(id="compare-inputs")
            yield RichLog(id="compare-diff", wrap=False, markup=False, highlight=False)
        yield Static("A is the run marked first · escape back", id="compare-keys")

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="compare")
    async def load(self) -> None:
        """Read both runs (their outputs only as far as the cap) and compare, in a thread."""
        try:
            comparison = await asyncio.to_thread(self._compare)
        except CrewtuiError as error:
            self.query_one("#compare-head", Static).update(safe_line(error.message))
            return
        self.comparison = comparison
        self._show(comparison)

    def _compare(self) -> Comparison:
        left, left_output = load_compared(self.store, self.ids[0])
        right, right_output = load_compared(self.store, self.ids[1])
        return compare(left, right, left_output, right_output)

    def _show(self, comparison: Comparison) -> None:
        head = safe_line(comparison.left.crew, "bold", limit=40)
        head.append(f"\nA  {run_line(comparison.left, self.now, self.prices)}")
        head.append(f"\nB  {run_line(comparison.right, self.now, self.prices)}")
        self.query_one("#compare-head", Static).update(head)
        table = self.query_one("#compare-tasks", DataTable)
        table.add_columns(*TABLE_COLUMNS)
        for row in table_rows(comparison):
            table.add_row(*(safe_line(cell, limit=60) for cell in row))
        inputs = Text()
        if comparison.inputs:
            inputs.append("Inputs that differ\n", "bold")
            for name, left, right in comparison.inputs:
                line = safe_line(name, limit=40)
                line.append(": ")
                line.append_text(safe_line("(not given)" if left is None else left, limit=80))
                line.append(" → ")
                line.append_text(safe_line("(not given)" if right is None else right, limit=80))
                inputs.append_text(line)
                inputs.append("\n")
        inputs.append(
            "The outputs are the same." if comparison.same_output else "Output diff", "bold"
        )
        for note in comparison.notes:
            inputs.append(f"\n({note})", "italic")
        self.query_one("#compare-inputs", Static).update(inputs)
        log = self.query_one("#compare-diff", RichLog)
        styles = {
            prefix: self.get_component_rich_style(name, partial=True)
            for prefix, name in _DIFF_CLASSES.items()
        }
        for diff_line in comparison.diff:
            log.write(safe_line(diff_line, styles.get(diff_line[:1], Style()), limit=2000))

    def action_close(self) -> None:
        self.dismiss(None)
