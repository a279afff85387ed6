"""The inbox (``i``): every run that waits for a person, the one waiting longest first.

Each row says which run waits, for how long, and what it asks (inert text: it comes from
the service or a flow's request). Enter (or ``a``) answers the highlighted run with the
answer dialog the main screen opens for ``a`` (``AnswerScreen``), on top of the inbox; the
row leaves once the answer is taken. ``v`` closes the inbox on that run in the list.

The screen does no I/O: the main screen hands it the rows (``set_rows``) whenever the
tracker changes a waiting run, and is called back with the id to answer or show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from crewtui.api.rows import KickoffSummary
from crewtui.core.inbox import waited, what_it_asks, who_waits

NOBODY_WAITS = "No run is waiting for you."
# The keys under the box: answering and showing need a run to act on.
KEYS_WITH_RUNS = "⏎ answer · v show in list · escape to close"
KEYS_WHEN_EMPTY = "a run that pauses for input shows here · escape to close"


def row_prompt(run: KickoffSummary, now: datetime) -> Text:
    """Two lines: who waits and for how long, then what it asks (both inert already)."""
    text = Text(end="")
    text.append(who_waits(run), style="bold")
    text.append(f"  waiting {waited(run, now)}", style="dim")
    text.append(f"\n{what_it_asks(run)}")
    return text


class InboxScreen(ModalScreen[str | None]):
    """The waiting runs; dismissed with the id to show in the list, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "answer", "Answer"),
        Binding("v", "show", "Show in list"),
        Binding("escape,q,i", "close", "Close"),
    ]

    DEFAULT_CSS = """
    InboxScreen #inbox-body { width: 96; }
    InboxScreen #inbox-runs { height: auto; max-height: 20; border: none; }
    InboxScreen #inbox-empty { color: $text-muted; }
    """

    def __init__(
        self,
        runs: Sequence[KickoffSummary],
        *,
        answer: Callable[[str], object],
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__()
        self._runs = list(runs)
        self._answer = answer
        self._clock = clock

    def compose(self) -> ComposeResult:
        with Vertical(id="inbox-body", classes="dialog"):
            yield OptionList(id="inbox-runs")
            yield Static(NOBODY_WAITS, id="inbox-empty", markup=False)

    def on_mount(self) -> None:
        self.set_rows(self._runs)
        self.set_interval(1.0, self._tick)

    @property
    def runs(self) -> list[KickoffSummary]:
        """The rows shown, top to bottom."""
        return list(self._runs)

    def set_rows(self, runs: Sequence[KickoffSummary]) -> None:
        """Show ``runs`` (oldest wait first), keeping the highlight on the same run."""
        self._runs = list(runs)
        options = self.query_one("#inbox-runs", OptionList)
        kept = self._highlighted_id()
        now = self._clock()
        options.clear_options()
        rows: list[Option | None] = []
        for run in self._runs:  # a rule between two runs: each takes two lines or more
            rows += [None] if rows else []
            rows.append(Option(row_prompt(run, now), id=run.kickoff_id))
        options.add_options(rows)
        ids = [run.kickoff_id for run in self._runs]
        if ids:
            options.highlighted = ids.index(kept) if kept in ids else 0
        options.display = bool(ids)
        self.query_one("#inbox-empty").display = not ids
        count = len(ids)
        body = self.query_one("#inbox-body")
        body.border_title = f"Inbox · {count} waiting" if count else "Inbox"
        body.border_subtitle = KEYS_WITH_RUNS if count else KEYS_WHEN_EMPTY
        options.focus()

    def _tick(self) -> None:
        """How long each run has waited, once a second."""
        options = self.query_one("#inbox-runs", OptionList)
        now = self._clock()
        for run in self._runs:
            options.replace_option_prompt(run.kickoff_id, row_prompt(run, now))

    def _highlighted_id(self) -> str | None:
        options = self.query_one("#inbox-runs", OptionList)
        if options.highlighted is None or options.option_count == 0:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_answer()

    def action_answer(self) -> None:
        kickoff_id = self._highlighted_id()
        if kickoff_id is not None:
            self._answer(kickoff_id)

    def action_show(self) -> None:
        kickoff_id = self._highlighted_id()
        if kickoff_id is not None:
            self.dismiss(kickoff_id)

    def action_close(self) -> None:
        self.dismiss(None)
