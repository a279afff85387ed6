"""The main screen's footer: the keys that fit, chosen by importance, never cut mid-word.

Textual's Footer draws every shown binding in order and cuts the line at the edge, so at 80
columns the last keys (``? Help``, ``q Quit``) were the ones lost. This footer ranks the keys:
help and quit always stay, then the keys a newcomer needs first; the rest are left out whole
(``?`` lists them all), and the command palette's hint shows when there is room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.events import Click, Resize
from textual.widget import Widget

from crewtui.ui.bindings import KeySpec, effective_key

# Most important first; other shown keys (``KeySpec.show``) follow in their own order, and
# hidden ones are left to the help screen.
FOOTER_RANKS: tuple[str, ...] = (
    "help",
    "quit",
    "new",
    "track",
    "filter",
    "rerun",
    "cancel",
    "archive",
    "copy",
    "export",
    "sort",
    "refresh",
)
PALETTE_HINT = "^p palette"
_GAP = "  "


@dataclass(frozen=True)
class _Entry:
    spec: KeySpec
    key: str

    @property
    def width(self) -> int:
        return len(self.key) + 1 + len(self.spec.label)


def fit_keys(
    specs: Sequence[KeySpec], keymap: Mapping[str, str], width: int
) -> tuple[list[KeySpec], bool]:
    """The keys that fit in ``width`` cells (in their own order) and whether the palette
    hint fits after them."""
    order = {key_id: rank for rank, key_id in enumerate(FOOTER_RANKS)}
    shown = [spec for spec in specs if spec.show or spec.id in order]
    shown.sort(key=lambda spec: order.get(spec.id, len(order)))
    ranked = [_Entry(spec, effective_key(spec, keymap)) for spec in shown]
    chosen: set[str] = set()
    used = 0
    for entry in ranked:
        extra = entry.width + (len(_GAP) if chosen else 0)
        if used + extra > width and entry.spec.id not in ("help", "quit"):
            continue
        chosen.add(entry.spec.id)
        used += extra
    palette = used + len(_GAP) * 2 + len(PALETTE_HINT) <= width
    return [spec for spec in specs if spec.id in chosen], palette


class KeyFooter(Widget):
    """One line of ``key Label`` pairs; a click runs the key's action."""

    DEFAULT_CSS = """
    KeyFooter {
        height: 1;
        dock: bottom;
        background: $footer-background;
        color: $footer-foreground;
        padding: 0 1;
    }
    KeyFooter > .key-footer--key { color: $footer-key-foreground; text-style: bold; }
    KeyFooter > .key-footer--muted { color: $text-muted; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-footer--key", "key-footer--muted"}

    def __init__(
        self, specs: Sequence[KeySpec], keymap: Mapping[str, str], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.specs = tuple(specs)
        self.keymap = dict(keymap)
        self._spans: list[tuple[int, int, str]] = []
        self._line = Text()

    def on_resize(self, event: Resize) -> None:
        self._layout()

    def on_mount(self) -> None:
        self._layout()

    def restyle(self) -> None:
        self._layout()

    @property
    def shown_text(self) -> str:
        """The footer as drawn now (for tests)."""
        return self._line.plain

    def _layout(self) -> None:
        width = self.content_region.width
        shown, palette = fit_keys(self.specs, self.keymap, width)
        key_style = self._style("key")
        line = Text(no_wrap=True, end="")
        self._spans = []
        for spec in shown:
            if line:
                line.append(_GAP)
            start = line.cell_len
            line.append(effective_key(spec, self.keymap), style=key_style)
            line.append(f" {spec.label}")
            self._spans.append((start, line.cell_len, spec.action))
        if palette:
            hint = Text(PALETTE_HINT, style=self._style("muted"))
            line.append(" " * max(len(_GAP), width - line.cell_len - hint.cell_len))
            line.append_text(hint)
        self._line = line
        self.refresh()

    def render(self) -> Text:
        return self._line

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"key-footer--{name}", partial=True)

    async def on_click(self, event: Click) -> None:
        x = event.x - self.styles.padding.left
        for start, end, action in self._spans:
            if start <= x < end:
                await self.screen.run_action(action)
                return
