"""An output, searchable: Markdown while it is small, a line-based view for any size.

``Markdown.update`` is superlinear (seconds for tens of KB), so only outputs under
``MARKDOWN_CAP`` bytes are rendered as Markdown, and only while Markdown is on (a key turns
it off and on); everything else goes to a :class:`LineView`, which indexes lines in a thread
and draws only the visible ones, so a 20 MB output opens as fast as a 1 KB one. The output
is a string, or a :class:`~crewtui.core.text_lines.TextSource` that reads a large output
from the history in pieces. Search runs in a thread over the text as displayed and shows
each match in the line view, the same for a 1 KB answer and a 200 MB dump.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeGuard

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Click, DescendantBlur
from textual.message import Message
from textual.widgets import Button, Input, Markdown, Static, TextArea

from crewtui.api.sanitize import inert
from crewtui.core.text_lines import LineDocument, MemoryText, TextSource
from crewtui.ui.widgets.line_view import LineView

MARKDOWN_CAP = 20_000
"""Bytes (UTF-8) of output above which Markdown is not used."""

ViewMode = Literal["markdown", "text", "empty"]
Output = str | TextSource
"""An output: the text itself, or a source that reads it in pieces."""


def load_text(text_area: TextArea, text: str) -> None:
    """Replace a TextArea's text and repaint it.

    ``TextArea.load_text`` repaints only when the virtual size changes, so a new payload
    of the same shape would keep showing the old one.
    """
    text_area.load_text(text)
    text_area.refresh()


def _small(text: Output | None) -> TypeGuard[str]:
    """Whether ``text`` is under the Markdown cap (a source never is: it is large)."""
    if not isinstance(text, str) or len(text) > MARKDOWN_CAP:
        return False
    return len(text.encode("utf-8", "replace")) <= MARKDOWN_CAP


def _size_words(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MB"
    return f"{size / 1024:.0f} KB"


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
        self._raw: Output | None = None
        self._title = Text()
        self._empty = ""
        self._mode: ViewMode = "empty"
        # Markdown for small outputs; a key turns it off to read them as plain text.
        self.markdown_on = True

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
        yield LineView(id="output-text")

    def on_mount(self) -> None:
        self._apply_mode()
        self.query_one("#output-final", Button).display = False

    @property
    def mode(self) -> ViewMode:
        """Which renderer shows the output: Markdown, the line view, or none."""
        return self._mode

    @property
    def raw_text(self) -> str | None:
        """The output as received (not sanitized) when it is held as a string, else
        ``None`` (nothing shown, or a source: see :attr:`source`)."""
        return self._raw if isinstance(self._raw, str) else None

    @property
    def source(self) -> Output | None:
        """The output shown, as given: a string or a source that reads it in pieces."""
        return self._raw

    @property
    def match_count(self) -> int:
        return self._lines.match_total

    @property
    def searching(self) -> bool:
        """A search is still running through the output."""
        return self._lines.searching

    @property
    def _lines(self) -> LineView:
        return self.query_one("#output-text", LineView)

    def set_output(
        self, title: Text, text: Output | None, *, empty: str = "", task_selected: bool = False
    ) -> None:
        """Show ``text`` (untrusted) under ``title``; a no-op when nothing changed."""
        self.query_one("#output-final", Button).display = task_selected
        if title != self._title:
            self._title = title
            self.query_one("#output-title", Static).update(title)
        if empty != self._empty:
            self._empty = empty
            self.query_one("#output-empty", Static).update(Content(empty))
        # The same output again keeps its place, its index and its Markdown, whatever the
        # title says: a poll of a running run, a theme's colours in the title, and the final
        # output of a run that ends with its last task's output ("Latest task output" becomes
        # "Final output") are the same text, and rendering it again costs a parse and a scroll.
        if text is self._raw or (
            isinstance(text, str) and text == self._raw and self._mode != "empty"
        ):
            return
        self._raw = text if text else None
        source = MemoryText(text) if isinstance(text, str) else text
        self._lines.show_document(LineDocument(source) if source is not None and text else None)
        if _small(text):
            self.query_one("#output-markdown", Markdown).update(inert(text))
        self._show_mode()
        query = self.query_one("#output-search", Input).value
        if query:
            self._lines.search(query)

    def toggle_markdown(self) -> None:
        """Turn Markdown off (plain text) or back on, for this output and the next ones."""
        self.markdown_on = not self.markdown_on
        raw = self._raw
        if self.markdown_on and _small(raw):
            self.query_one("#output-markdown", Markdown).update(inert(raw))
        self._show_mode()

    def _show_mode(self) -> None:
        raw = self._raw
        small = _small(raw)
        self._mode = "empty" if not raw else "markdown" if small and self.markdown_on else "text"
        self._apply_mode()
        self._show_note()

    def _show_note(self) -> None:
        note = ""
        raw = self._raw
        if self._mode == "text" and raw is not None:
            if _small(raw):
                note = "Plain text (Markdown is off)"
            else:
                size = raw.size if not isinstance(raw, str) else len(raw)
                cap = MARKDOWN_CAP // 1000
                note = f"{_size_words(size)}: shown as plain text (Markdown stops at {cap} KB)"
        self.query_one("#output-note", Static).update(Content(note))

    def _apply_mode(self, mode: ViewMode | None = None) -> None:
        mode = mode or self._mode
        self.query_one("#output-markdown", Markdown).display = mode == "markdown"
        self._lines.display = mode == "text"
        self.query_one("#output-empty", Static).display = mode == "empty"
        self.query_one("#output-note", Static).display = self._mode == "text"

    def search(self, query: str) -> None:
        """Find ``query`` (case-insensitive) in a thread; the first match is shown once found
        (:attr:`match_count` and :attr:`searching` say where it stands)."""
        self.query_one("#output-search", Input).value = query
        self._lines.search(query)

    def next_match(self, step: int = 1) -> None:
        """Show the next match (``-1``: the previous), wrapping around."""
        self._lines.next_match(step)

    def on_line_view_search_updated(self, event: LineView.SearchUpdated) -> None:
        """Say where the search stands; a match in a Markdown output shows in the line view
        (it can point at it), and clearing the search brings Markdown back."""
        event.stop()
        lines = self._lines
        label = self.query_one("#output-matches", Static)
        query = self.query_one("#output-search", Input).value
        if not query or self._raw is None:
            label.update("")
            self._apply_mode()
            return
        total = f"{lines.match_total:,}" + ("…" if lines.searching else "")
        if lines.current_match is not None:
            label.update(f"{lines.match_index + 1}/{total}")
            if self._mode == "markdown":
                self._apply_mode("text")
        elif lines.searching:
            label.update("searching…")
        else:
            label.update("no match")
            self._apply_mode()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._lines.search(event.value)

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
        self._apply_mode()
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
