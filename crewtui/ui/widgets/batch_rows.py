"""The batches above the kickoff list: one row each, with its counts, expandable to its runs.

It renders what the screen gives it (``BatchProgress``, read from the history in a worker)
and says which row was chosen; the screen filters the list to that batch's runs. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from crewtui.core.batch import BatchProgress
from crewtui.ui.text import safe_line


def batch_line(progress: BatchProgress, *, expanded: bool) -> Text:
    """``▸ batch 3f2a1b0c  research  topics.csv  20 rows  3 done · 2 running · 15 to go``."""
    batch = progress.batch
    line = Text(no_wrap=True, end="")
    line.append("▾ " if expanded else "▸ ")
    line.append(f"batch {batch.short_id}", style="bold")
    line.append("  ")
    line.append_text(safe_line(batch.crew, limit=24))
    line.append("  ")
    line.append_text(safe_line(batch.source.rsplit("/", 1)[-1], limit=40))
    line.append(f"  {len(batch.rows)} rows  ")
    line.append(progress.counts_text() or "nothing yet")
    return line


class BatchRows(OptionList):
    """The newest batches of the history; enter on one shows its runs (again: all runs)."""

    DEFAULT_CSS = """
    BatchRows {
        height: auto;
        max-height: 4;
        border: none;
        padding: 0;
        background: $surface;
        display: none;
    }
    BatchRows.-shown {
        display: block;
    }
    BatchRows:focus {
        border: none;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
    ]

    class Toggled(Message):
        """The person chose a batch's row: show its runs, or all runs if shown already."""

        def __init__(self, batch_id: str) -> None:
            super().__init__()
            self.batch_id = batch_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[tuple[str, Text], ...] = ()

    def show(self, batches: Sequence[BatchProgress], expanded: str | None) -> None:
        """Show these batches (newest first); the one whose runs the list shows is ``▾``."""
        lines = tuple(
            (p.batch.batch_id, batch_line(p, expanded=p.batch.batch_id == expanded))
            for p in batches
        )
        self.set_class(bool(lines), "-shown")
        if lines == self._shown:
            return
        highlighted = self.highlighted_id
        self._shown = lines
        self.set_options([Option(text, id=batch_id) for batch_id, text in lines])
        ids = [batch_id for batch_id, _ in lines]
        if ids:
            self.highlighted = ids.index(highlighted) if highlighted in ids else 0

    @property
    def highlighted_id(self) -> str | None:
        """The batch under the cursor, or the newest when none is."""
        if self.highlighted is not None and self.highlighted < self.option_count:
            return self.get_option_at_index(self.highlighted).id
        return self._shown[0][0] if self._shown else None

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Toggled(event.option.id))
