"""A crew's stats (``S``): runs, success rate, tokens and estimated cost over 24 h, 7 d or
30 d (``w`` switches), sparklines of runs, failures and tokens across the window, and a bar
per task from its median to its 95th percentile.

The numbers are computed in a thread from the history (``core/stats.py``: one SQL aggregate
and the task durations), so a long history never holds up the screen; this screen draws.
Textual's ``Sparkline`` is enough for the series and the task bars are text: a plotting
library would add a dependency and draw slower for what these few shapes say.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Sparkline, Static

from crewtui.core.format import counted, format_duration, tokens_text
from crewtui.core.history import History
from crewtui.core.pricing import Price, cost_text
from crewtui.core.stats import WINDOWS, CrewStats, crew_stats
from crewtui.ui.text import safe_line

_WINDOW_ORDER = tuple(WINDOWS)
_BAR = 30
_SERIES = (("runs", "runs"), ("failed", "failures"), ("tokens", "tokens"))


def task_bars(stats: CrewStats, width: int = _BAR) -> Text:
    """One line per task: name, p50, p95, and a bar (█ to the median, ▒ on to the p95) on
    a scale shared by every task, so the slow ones stand out."""
    lines = Text()
    if not stats.tasks:
        return Text("No completed task in this window.", "italic")
    longest = max(task.expected.p95 for task in stats.tasks) or 1.0
    name_width = min(max(len(task.task_id) for task in stats.tasks), 32)
    lines.append(f"{'task'.ljust(name_width)}  {'p50':>7}  {'p95':>7}  runs\n", "bold")
    for task in stats.tasks:
        expected = task.expected
        median = max(1, math.ceil(expected.p50 / longest * width))
        tail = max(0, math.ceil(expected.p95 / longest * width) - median)
        name = safe_line(task.task_id, limit=name_width)
        name.pad_right(name_width - name.cell_len)
        lines.append_text(name)
        lines.append(
            f"  {format_duration(expected.p50, precise=True):>7}"
            f"  {format_duration(expected.p95, precise=True):>7}  {expected.samples:>4}  "
        )
        lines.append("█" * median, "bold")
        lines.append("▒" * tail)
        lines.append("\n")
    lines.rstrip()
    return lines


def summary_text(stats: CrewStats) -> Text:
    """``travel · last 7d`` then runs, success rate, tokens and cost in words."""
    text = safe_line(stats.crew, "bold", limit=40)
    text.append(f" · last {stats.window.name}", "bold")
    rate = stats.success_rate
    ended = (
        f"{stats.succeeded} of {stats.ended} ended runs completed ({rate:.0%})"
        if rate is not None
        else "none ended yet"
    )
    text.append(f"\n{counted(stats.runs, 'run')} · {ended}")
    running = stats.runs - stats.ended
    if running:
        text.append(f" · {running} still going")
    if stats.runs_with_tokens:
        runs = counted(stats.runs_with_tokens, "run")
        text.append(f"\n{tokens_text(stats.tokens)} tokens over {runs}")
        if stats.cost is not None:
            text.append(
                f" · {cost_text(stats.cost)} for {counted(stats.runs_costed, 'priced run')}"
            )
    return text


class StatsScreen(Screen[None]):
    """One crew at a time; ``w`` cycles the window, ``c`` the crew, escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("w", "next_window", "Window"),
        Binding("c", "next_crew", "Crew"),
    ]
    DEFAULT_CSS = """
    StatsScreen #stats-summary { height: auto; padding: 0 1; background: $panel; }
    StatsScreen #stats-body { padding: 0 1; }
    StatsScreen .series { height: 3; margin-top: 1; }
    StatsScreen .series > Static { width: 10; }
    StatsScreen .series > Sparkline { width: 1fr; height: 3; }
    StatsScreen #stats-axis { height: 1; color: $text-muted; }
    StatsScreen #stats-tasks { height: auto; margin-top: 1; }
    StatsScreen #stats-keys { dock: bottom; height: 1; color: $text-muted; padding: 0 1; }
    """

    def __init__(
        self,
        store: History,
        crews: Sequence[str],
        crew: str,
        *,
        clock: Callable[[], datetime],
        prices: Mapping[str, Price],
        window: str = "7d",
    ) -> None:
        super().__init__()
        self.store = store
        self.crews = list(crews) if crew in crews else [crew, *crews]
        self.crew = crew
        self.window = WINDOWS[window]
        self.clock = clock
        self.prices = prices
        self.stats: CrewStats | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="stats-summary")
        with VerticalScroll(id="stats-body"):
            for series, label in _SERIES:
                with Horizontal(classes="series"):
                    yield Static(label)
                    yield Sparkline([], id=f"stats-{series}", summary_function=max)
            yield Static(id="stats-axis")
            yield Static(id="stats-tasks")
        yield Static("w window (24h · 7d · 30d)   c next crew   escape back", id="stats-keys")

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="stats")
    async def load(self) -> None:
        """Compute in a thread (a month of a busy crew must not freeze the screen)."""
        crew, window = self.crew, self.window
        self.query_one("#stats-summary", Static).update(
            safe_line(f"{crew} · last {window.name} · reading the history…", limit=80)
        )
        stats = await asyncio.to_thread(
            crew_stats, self.store, crew, window, self.clock(), self.prices
        )
        if (crew, window) != (self.crew, self.window) or not self.is_attached:
            return
        self.stats = stats
        self.query_one("#stats-summary", Static).update(summary_text(stats))
        self.query_one("#stats-runs", Sparkline).data = [float(n) for n in stats.runs_per_bucket]
        self.query_one("#stats-failed", Sparkline).data = [
            float(n) for n in stats.failed_per_bucket
        ]
        self.query_one("#stats-tokens", Sparkline).data = [
            float(n) for n in stats.tokens_per_bucket
        ]
        bucket = format_duration(window.seconds / window.buckets)
        self.query_one("#stats-axis", Static).update(
            Text(f"{'':10}{window.name} ago ← one bar per {bucket} → now", "italic")
        )
        self.query_one("#stats-tasks", Static).update(task_bars(stats))

    def action_next_window(self) -> None:
        index = _WINDOW_ORDER.index(self.window.name) if self.window.name in WINDOWS else -1
        self.window = WINDOWS[_WINDOW_ORDER[(index + 1) % len(_WINDOW_ORDER)]]
        self.load()

    def action_next_crew(self) -> None:
        self.crew = self.crews[(self.crews.index(self.crew) + 1) % len(self.crews)]
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)
