"""The Tasks tab's Gantt: one row per task, a bar on one shared time axis, coloured by state.

Drawing is a pure function of the bars and a width (``render_timeline``) so it can be tested
without a terminal; the widget only feeds it the width it has and redraws on resize. Widths
are measured in terminal cells (``rich.cells``), so agent names such as 旅行研究员 keep the
columns and bars straight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import Reactive
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from crewtui.api.states import TaskState
from crewtui.core.format import UNKNOWN, format_duration, tokens_text
from crewtui.core.timeline import Bar, nice_ticks
from crewtui.ui.palette import PLAIN, Palette, component_classes, palette_css, palette_of
from crewtui.ui.text import safe_line

# The palette colour of each task state; running and failed are bold too.
TASK_COLOUR: dict[TaskState, str] = {
    TaskState.RUNNING: "accent",
    TaskState.COMPLETED: "success",
    TaskState.FAILED: "error",
}
_BOLD = Style(bold=True)
TASK_LABEL: dict[TaskState, str] = {
    TaskState.RUNNING: "● running",
    TaskState.COMPLETED: "✓ done",
    TaskState.FAILED: "✗ failed",
}
_STATE_WIDTH = max(cell_len(label) for label in TASK_LABEL.values())
_DURATION_WIDTH = 6
_MIN_BAR = 12
_MIN_NAME = 6
_MAX_TASK = 40
_MAX_AGENT = 32
# The tokens column: the count, then a bar of its share of the hungriest task's.
_TOKENS_WIDTH = 5
_TOKEN_BAR = 5
_PARTIAL = " ▏▎▍▌▋▊▉"
_FULL = "█"
_TRACK = "·"
# The track where a running task usually ends (its p50–p95 range in the history).
_BAND = "░"
# A task's expected range on the axis: (start + p50, start + p95) in seconds.
Band = tuple[float, float]


@dataclass(frozen=True)
class Columns:
    """Cell widths of each column for one drawing width (agent or tokens 0 = dropped)."""

    task: int
    agent: int
    bar: int
    tokens: int = 0

    @property
    def bar_offset(self) -> int:
        """Cells before the bar column: names, state, duration, tokens and separators."""
        names = self.task + 1 + (self.agent + 1 if self.agent else 0)
        return names + _STATE_WIDTH + 1 + _DURATION_WIDTH + 1 + self.tokens


def fit_columns(
    bars: Sequence[Bar], width: int, with_tokens: bool = False, unit: str = "task"
) -> Columns:
    """Share ``width`` cells: names as wide as needed (capped), the bar gets the rest;
    ``unit`` titles the names (a flow's are methods)."""
    task = min(max([cell_len(unit), *(cell_len(b.task_id) for b in bars)]), _MAX_TASK)
    agent = min(max([cell_len("agent"), *(cell_len(b.agent or "") for b in bars)]), _MAX_AGENT)
    tokens = _TOKENS_WIDTH + 1 + _TOKEN_BAR + 1 if with_tokens else 0
    fixed = _STATE_WIDTH + 1 + _DURATION_WIDTH + 1 + tokens
    # Names are shown whole when they fit; the bar keeps half of what a wide pane adds.
    room = width - fixed - max(_MIN_BAR, (width - 60) // 2) - 2
    if task + agent > room:
        task = max(_MIN_NAME, min(task, room - room // 2))
        agent = max(_MIN_NAME, room - task)
    if task + agent > room:
        agent = 0
        task = max(_MIN_NAME, min(task, room + 1))
    columns = Columns(task=task, agent=agent, bar=0, tokens=tokens)
    return Columns(task=task, agent=agent, bar=max(1, width - columns.bar_offset), tokens=tokens)


def _cell(text: Text, width: int, justify: str = "left") -> Text:
    """Exactly ``width`` cells: cut with an ellipsis or padded, wide characters counted."""
    text = text.copy()
    text.truncate(width, overflow="ellipsis")
    padding = " " * max(0, width - text.cell_len)
    return Text.assemble(padding, text) if justify == "right" else Text.assemble(text, padding)


def task_style(state: TaskState, palette: Palette) -> Style:
    """The style of a task in this state under the theme's palette."""
    style = palette[TASK_COLOUR[state]]
    return style if state is TaskState.COMPLETED else style + _BOLD


def _draw_bar(
    bar: Bar, span: float, width: int, palette: Palette = PLAIN, band: Band | None = None
) -> Text:
    """The bar on a dotted track: full blocks, then eighths for the fraction at the end;
    past it, the ``band`` where the task usually ends, shaded.

    A task whose time is not known gets no bar (its place would be a guess): its note, if
    any, on the track.
    """
    if not bar.known:
        note = Text(bar.note or "", palette.muted)
        note.truncate(width)
        return Text.assemble(note, (_TRACK * (width - note.cell_len), palette.muted))
    scale = width / span if span > 0 else 0.0
    end = bar.end if bar.end is not None else span
    start_cell = min(width - 1, math.floor(bar.start * scale))
    end_pos = min(float(width), max(end * scale, start_cell + 1 / 8))
    full = max(0, math.floor(end_pos) - start_cell)
    eighths = round((end_pos - math.floor(end_pos)) * 8) if full < width - start_cell else 0
    body = _FULL * full
    if eighths == 8:
        body += _FULL
    elif eighths:
        body += _PARTIAL[eighths]
    elif not body:
        body = _PARTIAL[1]
    body = body[: width - start_cell]
    rest = width - start_cell - len(body)
    return Text.assemble(
        (_TRACK * start_cell, palette.muted),
        (body, task_style(bar.state, palette)),
        *_track(start_cell + len(body), rest, scale, band, palette),
    )


def _track(
    first: int, cells: int, scale: float, band: Band | None, palette: Palette
) -> list[tuple[str, Style]]:
    """``cells`` of track from cell ``first``, the ``band`` (seconds) shaded in it."""
    if band is None or cells <= 0:
        return [(_TRACK * cells, palette.muted)]
    low = min(max(math.floor(band[0] * scale) - first, 0), cells)
    high = min(max(math.ceil(band[1] * scale) - first, low), cells)
    return [
        (_TRACK * low, palette.muted),
        (_BAND * (high - low), palette.warning),
        (_TRACK * (cells - high), palette.muted),
    ]


def _duration(bar: Bar, span: float) -> str:
    if not bar.known:
        return UNKNOWN
    end = bar.end if bar.end is not None else span
    return format_duration(max(0.0, end - bar.start), precise=True)


def _tokens_cells(tokens: int | None, most: int, palette: Palette) -> list[Text]:
    """A task's token count and a bar of its share of ``most`` (blank when not known)."""
    if tokens is None:
        return [_cell(Text(""), _TOKENS_WIDTH), Text(" " * (_TOKEN_BAR + 2))]
    eighths = round(_TOKEN_BAR * 8 * tokens / most) if most > 0 else 0
    body = _FULL * (eighths // 8) + (_PARTIAL[eighths % 8] if eighths % 8 else "")
    return [
        _cell(Text(tokens_text(tokens), palette.secondary), _TOKENS_WIDTH, "right"),
        Text(" "),
        _cell(Text(body, palette.secondary), _TOKEN_BAR),
        Text(" "),
    ]


def render_row(
    bar: Bar,
    span: float,
    columns: Columns,
    palette: Palette = PLAIN,
    tokens: tuple[int | None, int] = (None, 0),
    band: Band | None = None,
) -> Text:
    """One task: name, agent, state, duration, tokens (its count and the most any task
    used) and its bar (with its expected ``band``), exactly the drawing width."""
    style = task_style(bar.state, palette)
    parts = [_cell(safe_line(bar.task_id, "bold"), columns.task), Text(" ")]
    if columns.agent:
        parts += [_cell(safe_line(bar.agent or "—"), columns.agent), Text(" ")]
    parts += [
        _cell(Text(TASK_LABEL[bar.state], style), _STATE_WIDTH),
        Text(" "),
        _cell(Text(_duration(bar, span), style), _DURATION_WIDTH, "right"),
        Text(" "),
    ]
    if columns.tokens:
        parts += _tokens_cells(*tokens, palette)
    parts.append(_draw_bar(bar, span, columns.bar, palette, band))
    return Text.assemble(*parts, no_wrap=True, end="")


def render_axis(
    span: float, columns: Columns, palette: Palette = PLAIN, unit: str = "task"
) -> Text:
    """Two lines: column titles with tick labels over the bars, then a rule with tick marks."""
    width = columns.bar
    scale = width / span if span > 0 else 0.0
    labels = [" "] * width
    rule = ["─"] * width
    last_end = -1
    for tick in nice_ticks(span, max(2, width // 8)):
        column = min(width - 1, round(tick * scale))
        label = format_duration(tick)
        if column <= last_end or column + len(label) > width:
            continue
        labels[column : column + len(label)] = label
        rule[column] = "┬"
        last_end = column + len(label)
    titles = [_cell(Text(unit), columns.task), Text(" ")]
    if columns.agent:
        titles += [_cell(Text("agent"), columns.agent), Text(" ")]
    titles += [
        _cell(Text("state"), _STATE_WIDTH),
        Text(" "),
        _cell(Text("time"), _DURATION_WIDTH, "right"),
        Text(" "),
    ]
    if columns.tokens:
        titles += [_cell(Text("tokens"), columns.tokens)]
    head = Text.assemble(*titles, style="bold")
    head.append("".join(labels), palette.muted)
    underline = Text("─" * columns.bar_offset + "".join(rule), palette.muted)
    return Text("\n", end="").join([head, underline])


def render_timeline(
    bars: Sequence[Bar],
    span: float,
    width: int,
    palette: Palette = PLAIN,
    tokens: Mapping[str, int] | None = None,
    unit: str = "task",
    bands: Mapping[str, Band] | None = None,
) -> tuple[Text, list[Text]]:
    """The header (titles, ticks, rule) and one row per bar, all ``width`` cells wide;
    a tokens column when any task's tokens (by task id) are known; ``unit`` names the
    rows (``method`` for a flow); ``bands``: where tasks usually end (by task id)."""
    tokens, bands = tokens or {}, bands or {}
    columns = fit_columns(bars, width, with_tokens=bool(tokens), unit=unit)
    most = max(tokens.values(), default=0)
    rows = [
        render_row(
            bar, span, columns, palette, (tokens.get(bar.task_id), most), bands.get(bar.task_id)
        )
        for bar in bars
    ]
    return render_axis(span, columns, palette, unit), rows


def same_text(old: object, new: Text) -> bool:
    """Whether ``old`` draws exactly as ``new``: rich's ``Text ==`` ignores the base style."""
    return isinstance(old, Text) and old == new and old.style == new.style


class TimelineRows(OptionList):
    """The Gantt's rows: an ``OptionList`` that redraws only the rows whose text changed.

    ``OptionList.replace_option_prompt_at_index`` forgets every rendered row and asks for a
    repaint of all of them; a tick or a push changes one or two rows (py-spy of
    ``bench_push.py``: 5.9 ms per paint of these rows, the most of any widget).
    """

    # A run with another number of tasks is another virtual height; the rows' own height is
    # their pane's (1fr), and OptionList updates the scrollbars itself. Textual's
    # virtual_size asks for a layout of the whole screen on every change: each newly rested
    # row's detail cost one, and a key arriving then waited (67 of 100 cursor keys' layout
    # requests in bench_keys).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def show_rows(self, rows: Sequence[Text], notes: Sequence[Text]) -> None:
        """Show task rows (selectable) then notes (not); keep the highlighted row."""
        old = [option.prompt for option in self.options]
        old_rows = [option.prompt for option in self.options if not option.disabled]
        new = [*rows, *notes]
        if len(old) == len(new) and len(old_rows) == len(rows):
            for index, (was, now) in enumerate(zip(old, new, strict=True)):
                if not same_text(was, now):
                    self._replace_row(index, now, one_line=index < len(rows))
            return
        if len(old) == len(old_rows) and not notes and len(rows) > len(old):
            # Tasks started, and no notes under them: add rows after the ones drawn.
            for index, (was, now) in enumerate(zip(old, rows, strict=False)):
                if not same_text(was, now):
                    self._replace_row(index, now, one_line=True)
            self.add_options(
                Option(row, id=str(index)) for index, row in enumerate(rows) if index >= len(old)
            )
            return
        highlighted = self.highlighted
        options = [Option(row, id=str(index)) for index, row in enumerate(rows)]
        options += [Option(note, disabled=True) for note in notes]
        self.set_options(options)
        if highlighted is not None and highlighted < len(rows):
            self.highlighted = highlighted

    def _replace_row(self, index: int, prompt: Text, *, one_line: bool) -> None:
        """One option's new text; when it is a task row (never wrapped: one line before
        and after), a repaint of that line alone."""
        option = self.get_option_at_index(index)
        option._set_prompt(prompt)
        cache = self._option_render_cache
        for key in [key for key in cache.keys() if key[0] is option]:  # noqa: SIM118 (no __iter__)
            cache.discard(key)
        line = self._line_cache.index_to_line.get(index)
        if line is None or not one_line or self._line_cache.heights.get(index) != 1:
            # Not measured yet, or a note (its new text may wrap to more lines): all again.
            self._clear_caches()
            return
        self.refresh(Region(0, line - self.scroll_offset.y, self.size.width, 1))


class TimelineBar(Vertical):
    """The Gantt of a run: a header with the time axis and a selectable row per task."""

    COMPONENT_CLASSES: ClassVar[set[str]] = component_classes("timeline-bar")

    DEFAULT_CSS = (
        palette_css("TimelineBar", "timeline-bar")
        + """
    TimelineBar {
        height: 1fr;
    }
    TimelineBar > #timeline-axis {
        height: 2;
    }
    TimelineBar > OptionList {
        height: 1fr;
        max-height: 100%;
        scrollbar-gutter: stable;
        background: transparent;
    }
    """
    )

    class TaskPicked(Message):
        """The user chose a task row (Enter or click)."""

        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._bars: tuple[Bar, ...] = ()
        self._span = 0.0
        self._notes: tuple[Text, ...] = ()
        self._tokens: tuple[tuple[str, int], ...] = ()
        self._bands: tuple[tuple[str, Band], ...] = ()
        self._unit = "task"
        self._drawn: tuple[object, ...] | None = None
        self._axis = Text()

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-axis", shrink=False)
        yield TimelineRows(id="timeline-rows", compact=True)

    def set_bars(
        self,
        bars: Sequence[Bar],
        span: float,
        notes: Sequence[Text] = (),
        tokens: Mapping[str, int] | None = None,
        unit: str = "task",
        bands: Mapping[str, Band] | None = None,
    ) -> None:
        """Show these bars on an axis of ``span`` seconds, with dim notes under the rows,
        each task's tokens (by task id) when known and the ``bands`` where tasks usually
        end; ``unit`` names the rows."""
        self._bars, self._span, self._notes = tuple(bars), span, tuple(notes)
        self._tokens = tuple((tokens or {}).items())
        self._bands = tuple((bands or {}).items())
        self._unit = unit
        self._redraw()

    @property
    def task_ids(self) -> list[str]:
        return [bar.task_id for bar in self._bars]

    def on_resize(self) -> None:
        self._redraw()

    def restyle(self) -> None:
        """The theme changed: draw again in its colours."""
        self._redraw()

    def _redraw(self) -> None:
        """Redraw only when something drawn changed; keep the highlighted row."""
        if not self.is_mounted:
            return
        rows_widget = self.query_one("#timeline-rows", TimelineRows)
        # The gutter is stable, so this is the rows' width whether or not they scroll.
        width = self.size.width - rows_widget.styles.scrollbar_size_vertical
        if width <= 0:
            return
        palette = palette_of(self, "timeline-bar")
        key = (
            width,
            self._bars,
            self._span,
            self._notes,
            self._tokens,
            self._bands,
            self._unit,
            palette,
        )
        if key == self._drawn:
            return
        self._drawn = key
        header, rows = render_timeline(
            self._bars,
            self._span,
            width,
            palette,
            dict(self._tokens),
            self._unit,
            dict(self._bands),
        )
        if not same_text(header, self._axis):
            self._axis = header
            # Its height is fixed (two lines): redrawing it needs no layout of the screen.
            self.query_one("#timeline-axis", Static).update(header, layout=False)
        rows_widget.show_rows(rows, self._notes)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        index = int(event.option.id or -1)
        if 0 <= index < len(self._bars):
            self.post_message(self.TaskPicked(self._bars[index].task_id))
