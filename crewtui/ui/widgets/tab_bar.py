"""The detail's tabs: the bar (every label, and the underline under the tab in front, drawn
by one widget) and the panes (side by side, scrolled to the one in front).

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
from textual.containers import Container
from textual.events import Click, Resize
from textual.message import Message
from textual.renderables.bar import Bar
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import TabPane


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


class Pane(TabPane):
    """A pane of ``TabPanes``: the keyboard reaches what is in it only while it is in front."""

    def allow_focus_children(self) -> bool:
        parent = self.parent
        in_front = not isinstance(parent, TabPanes) or parent.front == self.id
        return in_front and super().allow_focus_children()


class TabPanes(Container):
    """The panes side by side, each as wide as this container, scrolled to the one in front
    (the first, until ``show`` says another).

    In Textual 8 showing a hidden pane (``display``, ``visibility``) lays out the whole
    screen and sends every widget of both panes Show, Hide and Resize; a scroll arranges only
    what comes into view and repaints this container's region (``Screen._refresh_layout``'s
    scroll path). The panes behind keep their size and their rendered lines, so one that
    comes forward again repaints from them.
    """

    DEFAULT_CSS = """
    TabPanes {
        layout: horizontal;
        overflow: hidden hidden;
        height: auto;
        & > Pane { width: 100%; }
    }
    """

    _front: str | None = None

    @property
    def front(self) -> str | None:
        """The id of the pane in front."""
        if self._front is None:
            first = next(iter(self.query_children(Pane)), None)
            return first.id if first is not None else None
        return self._front

    def show(self, pane_id: str) -> None:
        """Bring a pane forward; the keyboard leaves the pane going behind (as when hidden)."""
        leaving = self.front
        if pane_id == leaving:
            return
        self._front = pane_id
        self._scroll_to_front()
        focused = self.screen.focused
        behind = next((pane for pane in self.query_children(Pane) if pane.id == leaving), None)
        if focused is not None and behind is not None and behind in focused.ancestors_with_self:
            focused.blur()

    def _scroll_to_front(self) -> None:
        self.scroll_x = self.scroll_target_x = self._front_x()

    def _front_x(self) -> float:
        """Where the pane in front begins: nothing else may scroll this container (a widget
        behind that asks to be scrolled into view stays behind)."""
        panes = [pane.id for pane in self.query_children(Pane)]
        index = panes.index(self.front) if self.front in panes else 0
        return min(index * self.scrollable_content_region.width, self.max_scroll_x)

    def validate_scroll_x(self, value: float) -> float:
        return self._front_x()

    def validate_scroll_target_x(self, value: float) -> float:
        return self._front_x()

    def on_resize(self, event: Resize) -> None:
        self._scroll_to_front()
