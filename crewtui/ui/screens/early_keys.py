"""Dialogs that keep the keys typed before they are ready, and move focus in key order.

Textual hands a key to the focused widget when the key is read, not when the keys before it
have been handled. Two things go wrong in a burst (a fast typist, a paste without bracketed
paste, ``tmux send-keys``):

- keys typed right after the key that opens a dialog reach the dialog before any of its
  widgets has focus, and are dropped;
- in ``abc<Tab>def``, ``def`` is handed to the first input before the tab that moves the
  focus has been handled, so all six letters land in one input.

A screen built on ``EarlyKeys`` keeps the keys that reach it with nothing focused and gives
them, in order, to the widget that gets the focus; and it moves focus on tab/shift+tab as a
priority binding, which the app runs as it reads the key, before it routes the next one.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, ScreenResultType
from textual.widget import Widget

_FOCUS_KEYS: dict[str, int] = {"tab": 1, "shift+tab": -1}


class EarlyKeys(ModalScreen[ScreenResultType]):
    """A dialog that loses no key typed while it mounts and moves focus in key order.

    It is a ModalScreen itself rather than a mixin beside one: Textual takes a screen's CSS
    type names (and so the modal look: centred over the dimmed app) from the first base
    class only, and a ``(EarlyKeys, ModalScreen)`` dialog drew at the top left on black.
    """

    # The screen says where the keys go (its on_mount); Textual's auto-focus would first
    # focus the first widget and hand it the kept keys.
    AUTO_FOCUS: ClassVar[str | None] = ""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "move_focus(1)", "Next field", show=False, priority=True),
        Binding("shift+tab", "move_focus(-1)", "Previous field", show=False, priority=True),
    ]

    def __init__(
        self, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name, id, classes)
        self._early_keys: list[events.Key] = []
        self._ready = False

    def _forward_event(self, event: events.Event) -> None:
        """The app routes a key here only while nothing in the screen has focus."""
        if isinstance(event, events.Key) and not self._ready and not event.is_forwarded:
            self._early_keys.append(event)
            return
        super()._forward_event(event)

    def _on_mount(self, event: events.Mount) -> None:
        # A dialog that focuses nothing still gets its keys, once it is on screen.
        self.call_after_refresh(self._release_early_keys)

    def set_focus(
        self, widget: Widget | None, scroll_visible: bool = True, from_app_focus: bool = False
    ) -> None:
        super().set_focus(widget, scroll_visible, from_app_focus)
        if self.focused is not None:
            self._release_early_keys()

    def action_move_focus(self, direction: int) -> None:
        if direction > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def _release_early_keys(self) -> None:
        """Hand the kept keys, in order, to whatever has focus (focus keys move it first)."""
        if self._ready:
            return
        self._ready = True
        while self._early_keys:
            key = self._early_keys.pop(0)
            if key.key in _FOCUS_KEYS:
                self.action_move_focus(_FOCUS_KEYS[key.key])
            elif self.focused is not None:
                self.focused._forward_event(key)
            else:
                super()._forward_event(key)
