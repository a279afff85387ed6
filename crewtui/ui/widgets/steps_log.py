"""The Steps tab's log, in a module of its own: Textual's RichLog brings rich's pretty
printer (and attrs), which the list's first frame does not need; the detail imports this
when it composes its panes, after that frame."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.widgets import RichLog


class StepsLog(RichLog):
    """The Steps tab's log: says when it is scrolled to its top (older steps are read from
    the history then), and takes older steps above the lines it holds."""

    class TopReached(Message):
        """The log was scrolled to its first line."""

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(new_value) <= 0 < round(old_value):
            self.post_message(self.TopReached())

    def prepend(self, texts: Sequence[Text]) -> bool:
        """Write ``texts`` above the lines held, the lines in view staying in view; False
        (nothing done) while the log's width is not known yet (its writes wait for it)."""
        if not self._size_known:
            return False
        held, top, widest = list(self.lines), self.scroll_y, self._widest_line_width
        self.clear()
        for text in texts:
            self.write(text, scroll_end=False)
        added = len(self.lines)
        self.lines.extend(held)
        self._widest_line_width = max(self._widest_line_width, widest)
        self.virtual_size = Size(self._widest_line_width, len(self.lines))
        self.scroll_to(y=top + added, animate=False, immediate=True)
        return True
