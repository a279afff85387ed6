"""The status line: each crew's health on the left, what the list shows on the right.

Trouble stays here, calm and one line long: a crew that rejects its token or stopped
answering is named with since when, and the rest of the screen keeps updating.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from crewtui.core.format import format_duration
from crewtui.core.tracker import CrewHealth
from crewtui.ui.text import safe_line

_HEALTH_LOOK: dict[str, tuple[str, str, str]] = {
    "ok": ("●", "success", ""),
    "token_rejected": ("✗", "error", "token rejected"),
    "unreachable": ("▲", "warning", "unreachable"),
    "unknown": ("○", "muted", ""),
}


class StatusLine(Horizontal):
    """One line on top: crews and their health, then the list's order, filter and counts."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    StatusLine > #crews { width: 1fr; height: 1; }
    StatusLine > #view { width: auto; height: 1; color: $text-muted; }
    StatusLine > .status-line--muted { color: $text-muted; }
    StatusLine > .status-line--accent { color: $accent; text-style: bold; }
    StatusLine > .status-line--success { color: $success; }
    StatusLine > .status-line--warning { color: $warning; }
    StatusLine > .status-line--error { color: $error; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        f"status-line--{name}" for name in ("muted", "accent", "success", "warning", "error")
    }

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self._healths: dict[str, CrewHealth] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="crews", markup=False)
        yield Static(id="view", markup=False)

    def set_healths(self, healths: Iterable[CrewHealth]) -> None:
        for health in healths:
            self._healths[health.crew] = health
        self._render_crews()

    def set_health(self, health: CrewHealth) -> None:
        self.set_healths([health])

    def set_view(self, description: str) -> None:
        """The right side: order, filter and counts (crewtui's own words, not API text)."""
        self.query_one("#view", Static).update(Text(description, no_wrap=True, end=""))

    def describe(self, crew: str) -> str:
        """One crew's health in words (for tests and the help screen)."""
        health = self._healths.get(crew)
        return "" if health is None else self._health_text(health).plain

    def _render_crews(self) -> None:
        line = Text(no_wrap=True, end="", overflow="ellipsis")
        for index, health in enumerate(self._healths.values()):
            if index:
                line.append("  ")
            line.append_text(self._health_text(health))
        crews = self.query_one("#crews", Static)
        crews.update(line)
        troubles = [
            f"{health.crew}: {health.message}"
            for health in self._healths.values()
            if health.message and health.state in ("unreachable", "token_rejected")
        ]
        crews.tooltip = safe_line("  ·  ".join(troubles), limit=600) if troubles else None

    def _health_text(self, health: CrewHealth) -> Text:
        symbol, variable, words = _HEALTH_LOOK.get(health.state, _HEALTH_LOOK["unknown"])
        colour = self._colour(variable)
        text = Text(f"{symbol} ", style=colour, end="")
        text.append_text(safe_line(health.crew, limit=24))
        if words:
            text.append(f" {words}", style=colour)
        if health.state == "unreachable" and health.since is not None:
            text.append(f" since {self._clock(health.since)}", style=colour)
        if health.state == "ok" and health.interval is not None:
            text.append(
                f" ↻{format_duration(health.interval, precise=True)}", style=self._colour("muted")
            )
        return text

    def _clock(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%H:%M:%S")

    def _colour(self, name: str) -> Style:
        """A theme colour resolved through CSS (``muted``, ``accent``, ``error``...)."""
        return self.get_component_rich_style(f"status-line--{name}", partial=True)

    def restyle(self) -> None:
        """Render again with the current theme's colours."""
        self._render_crews()
