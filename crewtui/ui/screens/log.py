"""The Log view (``l``): what happens across runs, the same stream ``crewtui logs -f`` prints.

The app turns every tracker event into run-log entries (``core.run_log``) and keeps the
newest in a bounded ring from the start; this screen shows that ring, filtered, and the
history's earlier entries, read once in a worker the first time it opens. New entries arrive
as ``Added`` messages while it is shown. Paused (space or p), it keeps what it shows and
counts what came meanwhile ("paused, 12 new"). A filter (``f``: ``crew:NAME kind:KIND``
and words) hides the rest; a search (``/``) marks lines and ``n`` / ``N`` move between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import ClassVar, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from crewtui.core.history import History
from crewtui.core.run_log import (
    LogEntry,
    LogFilter,
    LogRing,
    parse_filter,
    stored_history,
)
from crewtui.ui.bindings import LOG_KEYS, bindings_of
from crewtui.ui.widgets.key_footer import KeyFooter
from crewtui.ui.widgets.log_view import LogView

# The history read when the view first opens: the newest runs, and each one's newest steps.
HISTORY_RUNS = 200
HISTORY_STEPS = 50

Prompt = Literal["filter", "search"]


class LogScreen(Screen[None]):
    """The run log: a status line, the lines, a prompt for filter and search, the keys."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings_of(LOG_KEYS))

    DEFAULT_CSS = """
    LogScreen > #log-status {
        height: 1;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    LogScreen > #log-prompt { dock: bottom; margin-bottom: 1; display: none; }
    LogScreen > #log-prompt.-shown { display: block; }
    """

    class Added(Message):
        """New entries in the ring (the app posts them while this screen is shown)."""

        def __init__(self, entries: Sequence[LogEntry]) -> None:
            super().__init__()
            self.entries = tuple(entries)

    def __init__(
        self,
        ring: LogRing,
        store: History,
        keymap: Mapping[str, str],
        *,
        tz: tzinfo | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.ring = ring
        self.store = store
        self.choice = LogFilter()
        self.choice_text = ""
        self.paused = False
        # While paused: the ring's count when the pause began, and the new lines that match.
        self._paused_at = 0
        self.unseen = 0
        self._prompt: Prompt | None = None
        self._filter_before = ""
        # Whether the history's earlier entries are in the ring (read once, when mounted).
        self.history_read = False
        self.status = Static(id="log-status", markup=False)
        self.view = LogView(tz=tz, clock=clock, id="log-lines")
        self.prompt = Input(id="log-prompt")
        self.footer = KeyFooter(LOG_KEYS, keymap, id="log-footer")

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.view
        yield self.prompt
        yield self.footer

    def on_mount(self) -> None:
        self.read_history()

    def on_screen_resume(self) -> None:
        """Shown (again): everything the ring took while away (paused: counted)."""
        if self.paused:
            self.unseen = self._matching(self.ring.newest(self.ring.added - self._paused_at))
        self.view.show(self._shown())
        self.view.focus()
        self._describe()

    def _shown(self) -> list[LogEntry]:
        """What the view holds: the ring's entries the filter wants; paused, only those
        that came before the pause."""
        entries = list(self.ring)
        if self.paused:
            entries = entries[: max(len(entries) - (self.ring.added - self._paused_at), 0)]
        return [entry for entry in entries if self.choice.matches(entry)]

    def _matching(self, entries: Sequence[LogEntry]) -> int:
        return sum(1 for entry in entries if self.choice.matches(entry))

    # -- the stream ------------------------------------------------------------------------

    @work(group="log-history")
    async def read_history(self) -> None:
        """The history's entries before this session, read in a thread, put before the
        live ones (the ring keeps only those older than its start)."""
        entries = await asyncio.to_thread(_stored_entries, self.store)
        self.ring.add_history(entries)
        self.view.show(self._shown())
        self.history_read = True
        self._describe()

    @on(Added)
    def added(self, message: Added) -> None:
        if self.paused:
            self.unseen += self._matching(message.entries)
        else:
            wanted = [entry for entry in message.entries if self.choice.matches(entry)]
            self.view.append(wanted, self.ring.capacity)
        self._describe()

    def _describe(self) -> None:
        count = len(self.view.entries)
        parts = [f"Log · {count:,} line{'' if count == 1 else 's'}"]
        if self.choice_text:
            parts.append(f"filter {self.choice_text}")
        if self.view.query_text:
            found = len(self.view.matches)
            where = f"{self.view.current + 1}/{found}" if found else "none"
            parts.append(f"search “{self.view.query_text}” {where}")
        if self.paused:
            parts.append(f"paused, {self.unseen:,} new (space resumes)")
        elif self.view.at_bottom:
            parts.append("following")
        self.status.update(" · ".join(parts))

    # -- keys ------------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self._paused_at = self.ring.added
            self.unseen = 0
        else:
            self.view.show(self._shown())
        self._describe()

    def action_filter(self) -> None:
        self._open_prompt("filter", self.choice_text, "crew:NAME kind:tool,task words…")

    def action_search(self) -> None:
        self._open_prompt("search", self.view.query_text, "a text to find")

    def action_next_match(self, step: int) -> None:
        self.view.next_match(step)
        self._describe()

    def action_top(self) -> None:
        self.view.scroll_home(animate=False)
        self._describe()

    def action_end(self) -> None:
        self.view.scroll_end(animate=False, x_axis=False)
        self._describe()

    def action_back(self) -> None:
        """Escape closes the prompt first (a filter being typed goes back to the one
        before), then the view."""
        if self._prompt is not None:
            if self._prompt == "filter":
                self._apply_filter(self._filter_before, quiet=True)
            self._close_prompt()
            return
        self.app.pop_screen()

    def _open_prompt(self, prompt: Prompt, value: str, placeholder: str) -> None:
        self._prompt = prompt
        self._filter_before = self.choice_text
        self.prompt.placeholder = f"{prompt}: {placeholder}"
        self.prompt.value = value
        self.prompt.add_class("-shown")
        self.prompt.focus()

    def _close_prompt(self) -> None:
        self._prompt = None
        self.prompt.remove_class("-shown")
        self.view.focus()

    @on(Input.Changed, "#log-prompt")
    def prompt_changed(self, event: Input.Changed) -> None:
        """The filter follows the typing; a search waits for enter."""
        if self._prompt == "filter":
            self._apply_filter(event.value, quiet=True)

    @on(Input.Submitted, "#log-prompt")
    def prompt_submitted(self, event: Input.Submitted) -> None:
        if self._prompt == "filter":
            if not self._apply_filter(event.value, quiet=False):
                self._apply_filter(self._filter_before, quiet=True)
                return
        elif self._prompt == "search":
            self.view.search(event.value)
        self._close_prompt()
        self._describe()

    def _apply_filter(self, text: str, *, quiet: bool) -> bool:
        """Show only what ``text`` asks for; a kind that does not exist is said once, on
        enter (half-typed words are not mistakes yet)."""
        try:
            choice = parse_filter(text)
        except ValueError as error:
            if not quiet:
                self.notify(str(error), severity="warning", timeout=4, markup=False)
            return False
        self.choice, self.choice_text = choice, text.strip()
        if self.paused:
            self.unseen = self._matching(self.ring.newest(self.ring.added - self._paused_at))
        self.view.show(self._shown())
        self._describe()
        return True

    def restyle(self) -> None:
        self.view.restyle()
        self.footer.restyle()


def _stored_entries(store: History) -> list[LogEntry]:
    """The history's entries of its newest runs (a thread's work: it reads the store)."""
    runs = store.list_kickoffs(order="newest", limit=HISTORY_RUNS)
    oldest_first = [row.kickoff_id for row in reversed(runs)]
    return list(stored_history(store, oldest_first, steps=HISTORY_STEPS))
