"""The detail's tabs: the bar (every label, and the underline under the tab in front, drawn
by one widget); the panes are in ``tab_panes`` (imported with them, after the first frame).

Textual's ``TabbedContent`` is a dozen widgets (a ``Tab`` per label, an ``Underline``, three
containers): a switch repainted each of them, and a label whose width changed (``Steps
(12)``) asked for a layout of the whole screen. Here a switch or a new label repaints the
bar's two lines, and a switch scrolls the panes: nothing is laid out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.events import Click
from textual.message import Message
from textual.renderables.bar import Bar
from textual.strip import Strip
from textual.widget import Widget


class TabBar(Widget):
    """Labels on the first line, the underline on the second; clicking a label picks it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tab-bar--tab",
        "tab-bar--active",
        "tab-bar--underline",
    }

    # The look of Textual's Tabs, which this bar replaces.
    DEFAULT_CSS = """
    TabBar {
        height: 2;
        & > .tab-bar--tab { color: $foreground 50%; }
        & > .tab-bar--active { color: $foreground; }
        & > .tab-bar--underline { color: $block-cursor-background; background: $foreground 10%; }
        &:ansi {
            & > .tab-bar--tab { text-style: dim; }
            & > .tab-bar--active { text-style: not dim bold; }
            & > .tab-bar--underline { background: $border-blurred; }
        }
    }
    """

    class Picked(Message):
        """A label was clicked."""

        def __init__(self, tab_id: str) -> None:
            super().__init__()
            self.tab_id = tab_id

    def __init__(self, tabs: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        """``tabs``: (id, label) of each tab, in order; the first is in front."""
        super().__init__(id=id)
        self._labels = dict(tabs)
        self._active = tabs[0][0]
        self._lines: list[Strip] | None = None
        self._styles: dict[str, Style] | None = None

    @property
    def active(self) -> str:
        """The id of the tab in front."""
        return self._active

    @active.setter
    def active(self, tab_id: str) -> None:
        if tab_id != self._active:
            self._active = tab_id
            self._redraw()

    def label(self, tab_id: str) -> str:
        return self._labels[tab_id]

    def set_label(self, tab_id: str, label: str) -> None:
        if self._labels[tab_id] != label:
            self._labels[tab_id] = label
            self._redraw()

    def _redraw(self) -> None:
        self._lines = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines = self._styles = None
        self.refresh()

    def _style(self, name: str) -> Style:
        """The bar's styles, resolved once per theme (resolving costs more than drawing)."""
        if self._styles is None:
            self._styles = {
                "base": self.rich_style,
                **{
                    part: self.get_component_rich_style(f"tab-bar--{part}")
                    for part in ("tab", "active", "underline")
                },
            }
        return self._styles[name]

    def _spans(self) -> dict[str, tuple[int, int]]:
        """Each label's columns, its padding of one cell each side included."""
        spans, x = {}, 0
        for tab_id, label in self._labels.items():
            width = Text(label).cell_len + 2
            spans[tab_id] = (x, x + width)
            x += width
        return spans

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._lines is None or self._lines[0].cell_length != width:
            self._lines = self._draw(width)
        return self._lines[y] if y < len(self._lines) else Strip.blank(width, self.rich_style)

    def _draw(self, width: int) -> list[Strip]:
        console, base = self.app.console, self._style("base")
        # Each label its own segment, as a terminal and a screenshot place it.
        labels_line = Strip(
            Segment(
                f" {label} ",
                self._style("active" if tab_id == self._active else "tab")
                + Style.from_meta({"tab": tab_id}),
            )
            for tab_id, label in self._labels.items()
        )
        start, end = self._spans()[self._active]
        underline = self._style("underline")
        bar = Bar(
            highlight_range=(start + 1, end - 1),
            highlight_style=Style.from_color(underline.color),
            background_style=Style.from_color(underline.bgcolor),
            width=width,
        )
        bar_line = Strip(console.render(bar, console.options.update_width(width)))
        return [
            line.apply_style(base).extend_cell_length(width, base).crop(0, width)
            for line in (labels_line, bar_line)
        ]

    def on_click(self, event: Click) -> None:
        for tab_id, (start, end) in self._spans().items():
            if start <= event.x < end:
                event.stop()
                if tab_id != self._active:
                    self.post_message(self.Picked(tab_id))
                return
