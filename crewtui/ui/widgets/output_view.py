"""An output, searchable: Markdown while it is small, a line-based view beyond a size cap.

``Markdown.update`` is superlinear (seconds for tens of KB), so only outputs under
``MARKDOWN_CAP`` bytes are rendered as Markdown; larger ones go to a read-only ``TextArea``,
which renders only the visible lines. Search runs over the text as displayed and selects
each match in the line view, so it works the same for a 1 KB answer and a 1 MB dump.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Click, DescendantBlur
from textual.message import Message
from textual.widgets import Button, Input, Markdown, Static, TextArea
from textual.widgets.text_area import Selection

from crewtui.api.sanitize import inert

MARKDOWN_CAP = 20_000
"""Bytes (UTF-8) of output above which Markdown is not used."""

ViewMode = Literal["markdown", "text", "empty"]


def load_text(text_area: TextArea, text: str) -> None:
    """Replace a TextArea's text and repaint it.

    ``TextArea.load_text`` repaints only when the virtual size changes, so a new payload
    of the same shape would keep showing the old one.
    """
    text_area.load_text(text)
    text_area.refresh()


def _location(text: str, index: int) -> tuple[int, int]:
    """(line, column) of a character index, as ``TextArea`` selections want it."""
    line = text.count("\n", 0, index)
    return line, index - (text.rfind("\n", 0, index) + 1)


class OutputView(Vertical):
    """One output with a title, a search box and the right renderer for its size."""

    DEFAULT_CSS = """
    OutputView {
        height: 1fr;
    }
    OutputView > #output-bar {
        height: auto;
    }
    OutputView #output-title {
        width: 1fr;
        height: 1;
        padding: 0 1 0 0;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    OutputView #output-search {
        width: 30;
    }
    OutputView #output-matches {
        width: auto;
        min-width: 9;
        padding: 0 1;
        color: $text-muted;
    }
    OutputView #output-final {
        min-width: 14;
    }
    OutputView > #output-markdown {
        height: 1fr;
        overflow-y: auto;
        margin: 0;
        padding: 0 1;
    }
    OutputView > #output-text {
        height: 1fr;
    }
    OutputView > #output-note, OutputView > #output-empty {
        height: auto;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search output", show=False),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    class FinalWanted(Message):
        """The user asked to go back from a task's output to the final output."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._raw: str | None = None
        self._shown = ""
        self._title = Text()
        self._empty = ""
        self._mode: ViewMode = "empty"
        self._matches: list[int] = []
        self._match_index = -1

    def compose(self) -> ComposeResult:
        with Horizontal(id="output-bar"):
            yield Static(id="output-title")
            yield Button("Final output", id="output-final", compact=True)
            search = Input(placeholder="search  /", id="output-search", compact=True)
            # Out of the focus chain until `/`: tab must never land in it and have the next
            # key meant for the app (q, d) typed as text.
            search.can_focus = False
            yield search
            yield Static(id="output-matches")
        yield Static(id="output-note")
        yield Static(id="output-empty")
        markdown = Markdown(id="output-markdown", open_links=False)
        markdown.can_focus = True  # so it scrolls with the keyboard and `/` reaches the view
        yield markdown
        yield TextArea(id="output-text", read_only=True, soft_wrap=True)

    def on_mount(self) -> None:
        self._apply_mode()
        self.query_one("#output-final", Button).display = False

    @property
    def mode(self) -> ViewMode:
        """Which renderer shows the output: Markdown, the line view, or none."""
        return self._mode

    @property
    def raw_text(self) -> str | None:
        """The output as received (not sanitized), or ``None`` when nothing is shown."""
        return self._raw

    @property
    def match_count(self) -> int:
        return len(self._matches)

    def set_output(
        self, title: Text, text: str | None, *, empty: str = "", task_selected: bool = False
    ) -> None:
        """Show ``text`` (untrusted) under ``title``; a no-op when nothing changed."""
        self.query_one("#output-final", Button).display = task_selected
        if title != self._title:
            self._title = title
            self.query_one("#output-title", Static).update(title)
        if empty != self._empty:
            self._empty = empty
            self.query_one("#output-empty", Static).update(Content(empty))
        if text is self._raw or (text == self._raw and self._mode != "empty"):
            return
        self._raw = text if text else None
        self._shown = inert(text or "")
        self._matches, self._match_index = [], -1
        size = len(self._shown.encode("utf-8", "replace"))
        self._mode = "empty" if not text else "markdown" if size <= MARKDOWN_CAP else "text"
        note = ""
        if self._mode == "text":
            cap = MARKDOWN_CAP // 1000
            note = f"{size / 1024:.0f} KB: shown as plain text (Markdown stops at {cap} KB)"
        self.query_one("#output-note", Static).update(Content(note))
        if self._mode == "markdown":
            self.query_one("#output-markdown", Markdown).update(self._shown)
        load_text(
            self.query_one("#output-text", TextArea), self._shown if self._mode == "text" else ""
        )
        self._apply_mode()
        self._search(self.query_one("#output-search", Input).value)

    def _apply_mode(self, mode: ViewMode | None = None) -> None:
        mode = mode or self._mode
        self.query_one("#output-markdown", Markdown).display = mode == "markdown"
        self.query_one("#output-text", TextArea).display = mode == "text"
        self.query_one("#output-empty", Static).display = mode == "empty"
        self.query_one("#output-note", Static).display = self._mode == "text"

    def search(self, query: str) -> int:
        """Find ``query`` (case-insensitive), select the first match; the number of matches."""
        self.query_one("#output-search", Input).value = query
        return self._search(query)

    def next_match(self) -> None:
        """Select the next match, wrapping around."""
        if self._matches:
            self._match_index = (self._match_index + 1) % len(self._matches)
            self._select_match()

    def _search(self, query: str) -> int:
        matches_label = self.query_one("#output-matches", Static)
        if not query or not self._shown:
            self._matches, self._match_index = [], -1
            matches_label.update("")
            if self._mode == "markdown":
                self._apply_mode()
            return 0
        pattern = re.compile(re.escape(query), re.IGNORECASE)
        self._matches = [match.start() for match in pattern.finditer(self._shown)]
        self._match_index = 0 if self._matches else -1
        if self._matches:
            self._select_match()
        else:
            matches_label.update("no match")
        return len(self._matches)

    def _select_match(self) -> None:
        """Show the line view (it can highlight) with the current match selected."""
        query = self.query_one("#output-search", Input).value
        text_area = self.query_one("#output-text", TextArea)
        if self._mode == "markdown":
            if text_area.text != self._shown:
                load_text(text_area, self._shown)
            self._apply_mode("text")
        start = self._matches[self._match_index]
        text_area.selection = Selection(
            _location(self._shown, start), _location(self._shown, start + len(query))
        )
        text_area.call_after_refresh(text_area.scroll_cursor_visible, center=True)
        self.query_one("#output-matches", Static).update(
            f"{self._match_index + 1}/{len(self._matches)}"
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.next_match()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.FinalWanted())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`/` types a slash while in the search box; escape goes up when there is nothing
        to leave or clear."""
        search = self.query_one("#output-search", Input)
        if action == "focus_search":
            return not search.has_focus
        if action == "clear_search":
            return bool(search.value) or search.has_focus
        return True

    def action_focus_search(self) -> None:
        search = self.query_one("#output-search", Input)
        search.can_focus = True
        search.focus()

    def action_clear_search(self) -> None:
        """Escape clears the search and, from the search box, gives the keys back."""
        search = self.query_one("#output-search", Input)
        self.search("")
        if search.has_focus and self._mode == "empty":
            search.blur()
        elif search.has_focus:
            target = "#output-text" if self._mode == "text" else "#output-markdown"
            self.screen.set_focus(self.query_one(target))

    def on_descendant_blur(self, event: DescendantBlur) -> None:
        if event.widget.id == "output-search":
            event.widget.can_focus = False

    def on_click(self, event: Click) -> None:
        """A click in the search box is as deliberate as `/`."""
        if event.widget is not None and event.widget.id == "output-search":
            self.action_focus_search()
