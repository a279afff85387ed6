"""The detail's panes: side by side, scrolled to the one in front (see ``tab_bar`` for why
not Textual's ``TabbedContent``).

A module of its own, imported where the detail composes its panes: ``TabPane`` brings
Textual's TabbedContent module, which the first frame (the list alone) does not need.
"""

from __future__ import annotations

from textual.containers import Container
from textual.events import Resize
from textual.widgets import TabPane


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
