"""A read-only view of a text of any size, line by line (Textual's Line API, like toolong).

The text is a :class:`~crewtui.core.text_lines.LineDocument`: its lines are indexed in a
thread, and only the rows on the screen are read, made inert and folded at the widget's
width; the folded rows of recently shown lines are kept in an LRU. A new width re-counts the
rows in a thread once a text has many lines, keeping the line at the top in place. Search
runs in a thread too and reports matches as it finds them; the first one is shown at once.

The reads a frame needs are a screenful of lines (at most ``MAX_SEGMENT`` bytes each, most
of them cached): from memory, or small blob reads of an output in the history.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from crewtui.core.text_lines import LineDocument, Match, Matches, fold

FOLDED_LINES_CACHED = 2_000
# Below this many lines a new width is counted at once (about a millisecond per 10,000).
_REWRAP_IN_PLACE = 20_000


class LineView(ScrollView, can_focus=True):
    """Shows a :class:`LineDocument`, folded at the width; searchable."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"line-view--match"}

    DEFAULT_CSS = """
    LineView {
        height: 1fr;
        overflow-x: hidden;
        /* Always there, so that the width (and the rows it folds into) does not change
           when the text grows past a screenful. */
        overflow-y: scroll;
    }
    LineView > .line-view--match {
        background: $accent;
        color: $text;
        text-style: bold;
    }
    """

    class Indexed(Message):
        """More of the document is indexed (posted from the indexing thread)."""

        def __init__(self, document: LineDocument) -> None:
            super().__init__()
            self.document = document

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LineView.Indexed) and message.document is self.document

    class Rewrapped(Message):
        """The rows of the document at a new width are counted (from a thread)."""

        def __init__(self, document: LineDocument, top: int) -> None:
            super().__init__()
            self.document = document
            self.top = top

    class _Found(Message):
        """A search found more matches (from the search thread)."""

        def __init__(
            self, search: int, matches: Matches, total: int, searched: int, done: bool
        ) -> None:
            super().__init__()
            self.search = search
            self.matches = matches
            self.total = total
            self.searched = searched
            self.done = done

    class SearchUpdated(Message):
        """Where the search stands: the current match, how many so far, whether done."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.document: LineDocument | None = None
        self._folded: LRUCache[tuple[int, int], list[str]] = LRUCache(FOLDED_LINES_CACHED)
        self._stop_index = threading.Event()
        self._stop_search = threading.Event()
        self._searches = 0
        self.matches = Matches()
        self.match_total = 0
        self.match_index = -1
        self.searching = False
        self.searched = 0
        self._query = ""
        self._style = Style()
        self._match_style = Style()

    # -- the document ------------------------------------------------------------------------

    def show_document(self, document: LineDocument | None) -> None:
        """Show ``document`` from its top (``None``: nothing); it is indexed in a thread."""
        self._stop_index.set()
        self.clear_search()
        if self.document is not None:
            self.document.close()
        self.document = document
        self._folded.clear()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._resize_virtual()
        self.refresh()
        if document is None:
            return
        document.rewrap(self._width)
        stop = self._stop_index = threading.Event()

        def progress() -> None:
            self.post_message(self.Indexed(document))

        def index() -> None:
            document.build_index(stop, progress)

        self.run_worker(index, thread=True, group="line-index", name="index output lines")

    def on_unmount(self) -> None:
        self._stop_index.set()
        self._stop_search.set()
        if self.document is not None:
            self.document.close()

    @property
    def rows(self) -> int:
        """Rows the indexed part of the document takes at the current width."""
        return self.document.rows.rows if self.document is not None else 0

    @property
    def _width(self) -> int:
        return max(self.scrollable_content_region.width, 2)

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self._width, self.rows)

    def on_line_view_indexed(self, message: LineView.Indexed) -> None:
        message.stop()
        if message.document is self.document and self.virtual_size.height != self.rows:
            self._resize_virtual()
            self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        width = self._width
        document = self.document
        if document is None or width == document.rows.width:
            return
        top = document.locate(self.scroll_offset.y)[0] if document.rows.rows else 0
        if document.segments <= _REWRAP_IN_PLACE:
            document.rewrap(width)
            self._rewrapped(top)
            return

        def rewrap() -> None:
            document.rewrap(width)
            self.post_message(self.Rewrapped(document, top))

        self.run_worker(rewrap, thread=True, group="line-rewrap", exclusive=True)

    def on_line_view_rewrapped(self, message: LineView.Rewrapped) -> None:
        message.stop()
        if message.document is self.document:
            self._rewrapped(message.top)

    def _rewrapped(self, top: int) -> None:
        """The rows are counted at the new width: keep the line that was at the top there."""
        document = self.document
        if document is None:
            return
        self._resize_virtual()
        self.scroll_to(y=document.row_of(top), animate=False, immediate=True)
        self.refresh()

    # -- drawing -----------------------------------------------------------------------------

    def _fold(self, segment: int, width: int) -> list[str]:
        key = (segment, width)
        folded = self._folded.get(key)
        if folded is None and self.document is not None:
            folded = fold(self.document.text(segment), width)
            self._folded[key] = folded
        return folded or [""]

    def render_lines(self, crop: Region) -> list[Strip]:
        # Once per frame, not per line: a widget's style walks its ancestors' backgrounds.
        self._style = self.rich_style
        self._match_style = self._style + self.get_component_rich_style(
            "line-view--match", partial=True
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        style = self._style
        row = self.scroll_offset.y + y
        document = self.document
        if document is None or row >= document.rows.rows:
            return Strip.blank(width, style)
        segment, part = document.locate(row)
        pieces = self._fold(segment, document.rows.width)
        if part >= len(pieces):
            return Strip.blank(width, style)
        text = pieces[part]
        segments = [Segment(text, style)]
        match = self.current_match
        if match is not None and match.segment == segment:
            offset = sum(len(piece) for piece in pieces[:part])
            start = max(match.start - offset, 0)
            end = min(match.end - offset, len(text))
            if start < end:
                segments = [
                    Segment(text[:start], style),
                    Segment(text[start:end], self._match_style),
                    Segment(text[end:], style),
                ]
        return Strip(segments).crop_extend(0, width, style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    # -- search ------------------------------------------------------------------------------

    @property
    def current_match(self) -> Match | None:
        return self.matches[self.match_index] if 0 <= self.match_index < len(self.matches) else None

    def clear_search(self) -> None:
        self._stop_search.set()
        self._searches += 1
        had = bool(self.matches) or self.searching
        self._query = ""
        self.matches, self.match_total, self.match_index = Matches(), 0, -1
        self.searching = False
        self.searched = 0
        if had:
            self.refresh()

    def search(self, query: str) -> None:
        """Find ``query`` in a thread; the first match is shown as soon as it is found."""
        if query and query == self._query:
            return
        self.clear_search()
        self._query = query
        document = self.document
        if not query or document is None:
            self.post_message(self.SearchUpdated())
            return
        stop = self._stop_search = threading.Event()
        search = self._searches
        self.searching = True

        def found(matches: Matches, total: int, searched: int, done: bool) -> None:
            self.post_message(self._Found(search, matches, total, searched, done))

        def run() -> None:
            document.wait_indexed(stop)
            document.search(query, stop, found)

        self.run_worker(run, thread=True, group="line-search", name="search output")
        self.post_message(self.SearchUpdated())

    def on_line_view__found(self, message: LineView._Found) -> None:
        message.stop()
        if message.search != self._searches:
            return
        first = not self.matches and len(message.matches) > 0
        self.matches.extend(message.matches)
        self.match_total = message.total
        self.searched = message.searched
        self.searching = not message.done
        if first:
            self.match_index = 0
            self._show_match()
        self.post_message(self.SearchUpdated())

    def next_match(self, step: int = 1) -> None:
        """Show the next (or, with ``-1``, the previous) match, wrapping around."""
        if self.matches:
            self.match_index = (self.match_index + step) % len(self.matches)
            self._show_match()
            self.post_message(self.SearchUpdated())

    def _show_match(self) -> None:
        match = self.current_match
        if match is None:
            return
        document = self.document
        if document is None or match.segment >= document.rows.segments:
            return
        pieces = self._fold(match.segment, document.rows.width)
        part, offset = 0, 0
        while part < len(pieces) - 1 and offset + len(pieces[part]) <= match.start:
            offset += len(pieces[part])
            part += 1
        row = document.row_of(match.segment) + part
        height = self.scrollable_content_region.height
        self.scroll_to(y=max(row - height // 2, 0), animate=False, immediate=True)
        self.refresh()
