"""The detail of the selected kickoff: Tasks (a Gantt), Output, Inputs, Steps and Raw tabs.

The app calls ``show`` on every change of the selected kickoff and every second to tick
elapsed times, so each pane redraws only what changed: the header when its words change,
the Gantt's axis and only the task rows whose text changed, a tab's label when its words
change; the Inputs and Raw panes are rebuilt only while visible (each rebuild of a Static
asks for a layout of the whole screen). Every string
that came from the API is rendered inert through ``crewtui.ui.text``.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial, wraps
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, NamedTuple, ParamSpec, cast

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from crewtui.api.sanitize import inert
from crewtui.api.states import RunState, Submission, TaskState
from crewtui.core.format import (
    STATE_SYMBOLS,
    UNKNOWN,
    attempt_line,
    cancel_note,
    continuation_line,
    duration_text,
    format_duration,
    methods_done,
    not_followed_note,
    restart_note,
    tokens_text,
    unit_word,
    waiting_line,
)
from crewtui.core.pricing import Price, cost_text, estimate_cost, price_table
from crewtui.core.stall import StallRule
from crewtui.core.text_lines import TextSource
from crewtui.core.timeline import Bar, layout
from crewtui.core.timing import run_start
from crewtui.ui.palette import PLAIN, Palette, component_classes, palette_css, palette_of
from crewtui.ui.text import pretty_json, safe_line, safe_text
from crewtui.ui.widgets.tab_bar import TabBar

if TYPE_CHECKING:
    from textual.widgets import OptionList

    from crewtui.api.models import Kickoff, Step, TaskResult
    from crewtui.core.tracker_events import CrewHealth

    # Imported when the Output tab is first shown: it brings Markdown.
    from crewtui.ui.widgets.output_view import Output, OutputView

    # Imported when the panes are composed (``compose_panes``): RichLog, TextArea and the
    # Gantt are not the list's, and the main screen's first frame shows the list.
    from crewtui.ui.widgets.steps_log import StepsLog
    from crewtui.ui.widgets.tab_panes import Pane
    from crewtui.ui.widgets.timeline import Band, TimelineBar

# The palette colour of each run state (the word is always shown too, never colour alone).
RUN_COLOUR: dict[RunState, str] = {
    RunState.PENDING: "muted",
    RunState.RUNNING: "accent",
    RunState.PAUSED: "warning",
    RunState.COMPLETED: "success",
    RunState.FAILED: "error",
    RunState.CANCELLED: "secondary",
    RunState.NOT_FOUND: "warning",
    RunState.LOST: "error",
    RunState.UNKNOWN: "warning",
}
_BOLD = Style(bold=True)
TAB_IDS = ("tasks", "output", "inputs", "steps", "raw")
TAB_LABELS = {tab_id: tab_id.capitalize() for tab_id in TAB_IDS}
_STEP_FIELD_LIMIT = 2_000
# Steps held and shown for the selected run: the newest. Older ones stay in the history, so
# a run streaming events for hours costs the same memory as one with a few hundred steps.
STEP_WINDOW = 500
# The window may grow this much past STEP_WINDOW before it is cut back (and the log
# redrawn), so the redraw happens once per STEP_WINDOW // 2 new steps, not for each one.
_STEP_SLACK = STEP_WINDOW // 2
# Scrolled to the top of the log, this many older steps are read from the history, up to
# STEP_HELD_MAX held in all (then export has the rest): memory stays bounded.
STEP_PAGE = 200
STEP_HELD_MAX = 4 * STEP_WINDOW
_KEY_WIDTH = 22
# The widgets of the panes that the detail draws into (see ``compose_panes``).
_DRAWN_INTO = (
    "#detail-header",
    "#detail-timeline",
    "#inputs-body",
    "#steps-empty",
    "#steps-log",
    "#raw-text",
)
_WEBHOOK_HINT = "turn on webhooks (--webhooks) to see every task"


class DetailKeys(NamedTuple):
    """The keys the detail's notes name ("a to answer", "d archives it"), as the screen
    binds them: a user may remap them in ``[keys]``."""

    archive: str
    delete: str
    answer: str

    @classmethod
    def bound(cls, keymap: Mapping[str, str]) -> DetailKeys:
        """The keys under ``keymap`` (``{}``: the defaults)."""
        from crewtui.ui.bindings import KEYS_BY_ID, effective_key  # it imports this module

        archive, delete, answer = (
            effective_key(KEYS_BY_ID[key], keymap) for key in ("archive", "delete", "answer")
        )
        return cls(archive, delete, answer)


def not_found_note(keys: DetailKeys) -> str:
    """What the Tasks tab says of a tracked id the service answers 404 for (nothing will
    arrive until it knows the run), naming the keys that take it off the list as bound."""
    return (
        "The service does not know this run (its status answers 404): check the id, and "
        "that it was tracked on the crew that started it. It is polled until it is marked "
        f"lost; {keys.archive} archives it, {keys.delete} deletes it."
    )


def _sep(palette: Palette) -> Text:
    return Text(" · ", style=palette.muted)


def run_style(state: RunState, palette: Palette) -> Style:
    """The style of a run's state under the theme's palette; the settled ones in bold."""
    style = palette[RUN_COLOUR[state]]
    bold = state in (RunState.RUNNING, RunState.COMPLETED, RunState.FAILED)
    return style + _BOLD if bold else style


def header_text(
    kickoff: Kickoff,
    now: datetime,
    palette: Palette = PLAIN,
    prices: Mapping[str, Price] | None = None,
    crew_stale: str | None = None,
    answer_key: str | None = None,
) -> Text:
    """Always two lines, each cut to the width (the header's height never changes, so a push
    or a tick redraws it in place): the run at a glance (crew, id, state, progress, elapsed,
    tokens and the estimated cost at ``prices``, the shipped table by default, and the runs
    it continues), then what it is doing now or what needs a look (``now_text``;
    ``crew_stale``: why the runs of its crew, which another process polls, are stale)."""
    state = kickoff.state
    crew = safe_line(kickoff.crew, _BOLD)
    if kickoff.kind == "flow":
        crew.append(" flow", palette.muted)
    parts: list[Text] = [
        crew,
        safe_line(kickoff.short_id, palette.muted),
        Text(f"{STATE_SYMBOLS[state]} {state.value.replace('_', ' ')}", run_style(state, palette)),
    ]
    restarted = restart_note(kickoff)
    if restarted is not None:
        parts.append(Text(restarted, palette.accent + _BOLD))
    progress = kickoff.progress
    if progress is not None and progress.completed is not None and progress.total:
        parts.append(Text(f"{progress.completed}/{progress.total} {unit_word(kickoff)}s"))
    elif kickoff.kind == "flow" and progress is not None and progress.completed is not None:
        parts.append(Text(methods_done(progress.completed)))
    duration = duration_text(kickoff, now)
    if duration == UNKNOWN:
        parts.append(Text("started before tracking", palette.muted))
    elif duration:
        parts.append(Text(duration))
    spent = _usage_text(kickoff, palette, price_table() if prices is None else prices)
    if spent is not None:
        parts.append(spent)
    link = continuation_line(kickoff)
    if link is not None:
        parts.append(Text(link, palette.secondary))
    second = now_text(kickoff, palette, crew_stale, answer_key)
    return Text("\n", end="").join([_sep(palette).join(parts), second])


def now_text(
    kickoff: Kickoff,
    palette: Palette = PLAIN,
    crew_stale: str | None = None,
    answer_key: str | None = None,
) -> Text:
    """The header's second line, never blank: what went wrong, is uncertain or waits for a
    person (or why its crew's runs are stale); else the task the run is on and its agent, or
    when it finished (or was created, or started); then the model when known. A paused run
    names the key that answers it (``answer_key``, the default binding when None)."""
    problem = _problem_text(kickoff, palette, crew_stale, answer_key)
    if problem is not None:
        return problem
    muted = palette.muted
    parts: list[Text] = []
    if kickoff.current_task:
        current = Text("▸ ", muted) + safe_line(kickoff.current_task, palette.accent, limit=60)
        if kickoff.current_agent:
            current.append_text(
                Text(" (", muted) + safe_line(kickoff.current_agent, limit=40) + Text(")", muted)
            )
        parts.append(current)
    elif kickoff.is_terminal and kickoff.finished_at is not None:
        parts.append(Text(f"finished {_moment(kickoff.finished_at)}", muted))
    elif kickoff.state is RunState.PENDING:
        parts.append(Text(f"created {_moment(kickoff.created_at)}, not started yet", muted))
    else:
        parts.append(Text(f"started {_started_words(kickoff)}", muted))
    if kickoff.model:
        parts.append(Text("model ", muted) + safe_line(kickoff.model, palette.secondary, limit=40))
    return _sep(palette).join(parts)


def _usage_text(kickoff: Kickoff, palette: Palette, prices: Mapping[str, Price]) -> Text | None:
    """``12.3k tokens ≈ $0.042 (estimate)``: the cost only when model and tokens are known."""
    usage = kickoff.usage
    if usage is None or usage.total_tokens is None:
        return None
    text = Text(f"{tokens_text(usage.total_tokens)} tokens", palette.secondary)
    cost = estimate_cost(usage, kickoff.model, prices)
    if cost is not None:
        text.append(f" {cost_text(cost)}", palette.muted)
    return text


def crew_stale_note(health: CrewHealth) -> str | None:
    """Why the runs of a crew another process polls are stale, for the header of each of
    them; None while its poller brings news (or this process polls it)."""
    if health.poller is None or health.stale_since is None:
        return None
    note = f"polled by {health.poller}, nothing new since {_moment(health.stale_since)}"
    told = f"; it was told: {health.poller_trouble}" if health.poller_trouble else ""
    return note + told


def _problem_text(
    kickoff: Kickoff, palette: Palette, crew_stale: str | None, answer_key: str | None
) -> Text | None:
    """What went wrong, is uncertain or waits for a person, in one line, or ``None``."""
    warning = palette.warning
    if kickoff.submission is Submission.UNCERTAIN:
        return Text("May have started: the answer to the kickoff request was lost.", warning)
    if kickoff.error and kickoff.state in (RunState.FAILED, RunState.LOST):
        return safe_line(kickoff.error, palette.error, limit=300)
    stale_because = kickoff.poll_error or (None if kickoff.is_terminal else crew_stale)
    if stale_because:
        stale = Text("Stale: ", warning + _BOLD)
        return stale + safe_line(stale_because, warning, limit=300)
    note = cancel_note(kickoff)
    if note is not None:
        return Text(note.capitalize() + ".", palette.muted)
    if (
        kickoff.waiting_for is not None
        and kickoff.state is RunState.PAUSED
        and not kickoff.continues
    ):
        # The key first: a long message is cut at the line's end.
        key = answer_key or DetailKeys.bound({}).answer
        line = Text("Paused", warning + _BOLD) + Text(f" ({key} to answer)", palette.muted)
        line.append(": ", warning + _BOLD)
        return line + Text(waiting_line(kickoff.waiting_for), warning)
    if kickoff.message and kickoff.state in (RunState.NOT_FOUND, RunState.UNKNOWN):
        return safe_line(kickoff.message, warning, limit=300)
    return None


def task_notes(kickoff: Kickoff, palette: Palette, not_found: str) -> list[Text]:
    """Dim lines under the Gantt that say what crewtui could not see (never invent tasks),
    then a restarted flow's earlier attempts (the service overwrote them; crewtui kept them).
    ``not_found`` is the note for a run the service does not know."""
    earlier = [
        Text(attempt_line(number, attempt), palette.muted)
        for number, attempt in enumerate(kickoff.earlier_attempts, start=1)
    ]
    return _unseen_notes(kickoff, palette, not_found) + earlier


def _unseen_notes(kickoff: Kickoff, palette: Palette, not_found: str) -> list[Text]:
    unit = unit_word(kickoff)
    tasks = kickoff.tasks
    total = kickoff.progress.total if kickoff.progress else None
    completed = kickoff.progress.completed if kickoff.progress else None
    done_seen = sum(task.state is not TaskState.RUNNING for task in tasks)
    missed = (completed or 0) > done_seen or kickoff.state is RunState.COMPLETED
    if total and len(tasks) < total and missed:
        return [
            Text(
                f"{len(tasks)} of {total} {unit}s seen; the others finished between polls — "
                f"{_WEBHOOK_HINT}",
                palette.muted,
            )
        ]
    if tasks:
        return []
    muted = palette.muted
    if kickoff.state is RunState.COMPLETED:
        return [Text(f"The service gave no per-{unit} list for this run; {_WEBHOOK_HINT}.", muted)]
    if kickoff.is_terminal:
        return [Text(f"No {unit} was seen before the run ended.", muted)]
    if kickoff.state is RunState.NOT_FOUND:
        return [Text(not_found, palette.warning)]
    return [Text(f"Waiting for the first {unit}…", muted)]


def _key_values(title: str, pairs: Iterable[tuple[str, str]], palette: Palette) -> Text:
    """A titled block of aligned ``key  value`` lines; keys and values untrusted."""
    rows = list(pairs)
    block = Text(title, Style(bold=True, underline=True), end="")
    if not rows:
        block.append("\n  (none)", palette.muted)
        return block
    width = min(max(cell_len(inert(key)) for key, _ in rows), _KEY_WIDTH)
    for key, value in rows:
        name = safe_line(key, palette.accent, limit=200)
        name.truncate(width, overflow="ellipsis", pad=True)
        lines = safe_text(value).split("\n", allow_blank=True)
        block.append("\n  ")
        block.append_text(name)
        block.append("  ")
        block.append_text(Text("\n" + " " * (width + 4)).join(lines))
    return block


def _meta_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _moment(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _started_words(kickoff: Kickoff) -> str:
    """When the run began; for a tracked run, when crewtui began to follow it as well."""
    start = run_start(kickoff)
    if kickoff.tracked_at is None:
        return _moment(start)
    began = _moment(start) if start is not None else "before tracking"
    return f"{began} (tracked since {_moment(kickoff.tracked_at)})"


def inputs_text(kickoff: Kickoff, palette: Palette = PLAIN) -> Text:
    """The Inputs tab: inputs, meta and what crewtui knows about the kickoff."""
    facts = [
        ("kickoff id", kickoff.kickoff_id),
        ("crew", kickoff.crew),
        ("state", kickoff.state.value),
        ("submission", kickoff.submission.value),
        ("dialect", kickoff.dialect.value if kickoff.dialect else "—"),
        ("created", _moment(kickoff.created_at)),
        ("started", _started_words(kickoff)),
        ("finished", _moment(kickoff.finished_at)),
        ("updated", _moment(kickoff.updated_at)),
        (
            "execution time",
            format_duration(kickoff.execution_time, precise=True)
            if kickoff.execution_time is not None
            else "—",
        ),
    ]
    # Whole here: the header has one line for them.
    if kickoff.error:
        facts.append(("error", kickoff.error))
    if kickoff.poll_error:
        facts.append(("last poll", kickoff.poll_error))
    blocks = [
        _key_values("Inputs", kickoff.inputs.items(), palette),
        _key_values("Meta", ((key, _meta_value(v)) for key, v in kickoff.meta.items()), palette),
        _key_values("Kickoff", facts, palette),
    ]
    return Text("\n\n", end="").join(blocks)


def _clip(text: str) -> str:
    return text if len(text) <= _STEP_FIELD_LIMIT else text[:_STEP_FIELD_LIMIT] + "…"


def _first_text(body: dict[str, Any], *names: str) -> str | None:
    texts = (body.get(name) for name in names)
    return next((value for value in texts if isinstance(value, str) and value), None)


def step_owner(step: Step, kickoff: Kickoff | None) -> tuple[str | None, str | None]:
    """(task, agent) of a step: as the step names them (batched events, the 2025 shape),
    else the task crewtui saw running when the step arrived; ``None`` where unknown."""
    raw = step.raw if isinstance(step.raw, dict) else {}
    body = raw["data"] if isinstance(raw.get("data"), dict) else raw
    task = _first_text(body, "task_name", "task_id", "task")
    agent = _first_text(body, "agent_role", "agent")
    if task is None and kickoff is not None:
        moment = step.received_at
        for candidate in kickoff.tasks:
            start, end = candidate.started_at, candidate.finished_at
            if start is not None and start <= moment and (end is None or moment <= end):
                task, agent = candidate.task_id, agent or candidate.agent
    return task, agent


def step_text(step: Step, kickoff: Kickoff | None = None, palette: Palette = PLAIN) -> Text:
    """One agent step: time, kind, tool, task and agent on a line, then thought, input and
    result."""
    line = Text(step.received_at.astimezone(UTC).strftime("%H:%M:%S"), palette.muted, end="")
    line.append(" ▸ ", palette.muted)
    line.append_text(safe_line(step.kind, palette.secondary + _BOLD, limit=40))
    if step.tool:
        line.append("  ")
        line.append_text(safe_line(step.tool, palette.accent + _BOLD, limit=80))
    task, agent = step_owner(step, kickoff)
    if task or agent:
        line.append("  · ", palette.muted)
        line.append_text(safe_line(task or "task unknown", limit=60))
        if agent:
            line.append(" · ", palette.muted)
            line.append_text(safe_line(agent, limit=40))
    for label, value, style in (
        ("thought", step.thought, Style(italic=True)),
        ("input", step.tool_input, Style()),
        ("result", step.result, Style()),
    ):
        if value:
            line.append(f"\n  {label}: ", palette.muted)
            line.append_text(safe_text(_clip(value), style))
    return line


NO_PAYLOAD = "(no payload received yet)"


def raw_text(kickoff: Kickoff) -> str:
    """The Raw tab: the last payload of every source, newest first, each under its source
    and time (a poll, the kickoff answer, each kind of webhook say different things)."""
    payloads = kickoff.raw_by_source
    if not payloads and kickoff.raw is not None:
        # A record from before sources were kept: its last polled payload.
        return f"── poll ──\n{pretty_json(kickoff.raw)}"
    return "\n\n".join(
        f"── {payload.source} · {_moment(payload.received_at)} ──\n{pretty_json(payload.body)}"
        for payload in payloads
    )


def steps_note(total: int, shown: int, dropped: int, cap: int | None) -> str | None:
    """The line above the steps: none received, or what is not shown and why; else None."""
    if total == 0:
        return (
            "No agent steps received. Steps arrive through webhooks: "
            "start crewtui with --webhooks to see them."
        )
    older = total - dropped - shown
    parts = []
    if older > 0:
        parts.append(f"{older:,} older steps are in the history (scroll up to read them)")
    if dropped > 0:
        kept = f"the newest {cap:,}" if cap is not None else "a capped number of"
        parts.append(f"{dropped:,} older ones were dropped (the history keeps {kept} per run)")
    if not parts:
        return None
    return f"Showing the newest {shown:,} of {total:,} steps: " + "; ".join(parts) + "."


class _OutputShown(NamedTuple):
    """What the Output tab shows: a title, the text (untrusted, as received), the line for
    no text, and whether a task's output is shown rather than the run's."""

    title: Text
    text: Output | None
    empty: str = ""
    task: bool = False


_Args = ParamSpec("_Args")


def _once_composed(
    method: Callable[Concatenate[KickoffDetail, _Args], None],
) -> Callable[Concatenate[KickoffDetail, _Args], None]:
    """A call to the detail before its panes are composed (``panes_later``) waits for them,
    in order with the others, instead of drawing into widgets that do not exist yet."""

    @wraps(method)
    def call(detail: KickoffDetail, /, *args: _Args.args, **kwargs: _Args.kwargs) -> None:
        if detail.panes_composed:
            method(detail, *args, **kwargs)
        else:
            detail._waiting.append(partial(method, detail, *args, **kwargs))

    return call


class KickoffDetail(Widget):
    """Tabs with everything known about one kickoff; renders, never fetches.

    Made with ``panes_later``, it is an empty area until ``compose_panes``: the main screen
    composes the header, the tab bar and the five panes (and imports RichLog, TextArea and
    the Gantt) after the frame that shows the list, so the first frame waits for none of
    it. What the screen asks of the detail meanwhile is done, in order, once they are in.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = component_classes("kickoff-detail")

    DEFAULT_CSS = (
        palette_css("KickoffDetail", "kickoff-detail")
        + """
    KickoffDetail {
        height: 1fr;
        /* Textual's default, said: a container, so before its panes come the empty area is
           blank rather than the widget's name ("KickoffDetail#detail") at the first frame. */
        layout: vertical;
    }
    KickoffDetail > #detail-header {
        height: 2;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    KickoffDetail > #detail-tabs {
        height: 1fr;
    }
    KickoffDetail #detail-tab-bar {
        dock: top;
    }
    KickoffDetail #detail-panes {
        height: auto;
    }
    KickoffDetail TabPane {
        padding: 0 1;
    }
    KickoffDetail #raw-text, KickoffDetail #steps-log {
        height: 1fr;
    }
    KickoffDetail #steps-empty {
        color: $text-muted;
        height: auto;
    }
    """
    )

    class OlderStepsWanted(Message):
        """The Steps tab was scrolled to its oldest step held: the screen reads the run's
        ``newest`` steps from the history and gives them to ``add_older_steps``."""

        def __init__(self, kickoff_id: str, newest: int) -> None:
            super().__init__()
            self.kickoff_id = kickoff_id
            self.newest = newest

    class TaskSelected(Message):
        """The user picked a task row; the Output tab now shows that task's output."""

        def __init__(self, kickoff_id: str, task_id: str) -> None:
            super().__init__()
            self.kickoff_id = kickoff_id
            self.task_id = task_id

    def __init__(
        self,
        *,
        keys: DetailKeys | None = None,
        prices: Mapping[str, Price] | None = None,
        panes_later: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        # The keys the notes name, as the screen binds them (the defaults when not given).
        self._keys = keys or DetailKeys.bound({})
        self._not_found = not_found_note(self._keys)
        # Whether ``compose`` yields the panes, the calls made before they were in, and
        # whether they are (see ``compose_panes``).
        self._panes_wanted = not panes_later
        self._waiting: list[Callable[[], None]] = []
        self._panes_ready = asyncio.Event()
        if not panes_later:
            self._panes_ready.set()
        # What the header's cost estimate is priced at (the config's table, given by the app).
        self.prices = price_table() if prices is None else prices
        # How long tasks usually take and when a run is maybe stuck (the screen's rule).
        self.stall_rule = StallRule()
        self._kickoff: Kickoff | None = None
        self._now = datetime.now(UTC)
        self._task_id: str | None = None
        # Outputs the history holds for the shown kickoff object, too large to be in it.
        self._stored: Mapping[str | None, TextSource] = {}
        # The shown run's newest steps (a bounded window) and their keys (repeats are
        # ignored); how many steps it has in all, how many the history dropped, and the
        # history's cap per run (None until the app says).
        self._steps: deque[Step] = deque()
        self._step_keys: set[str] = set()
        self._step_total = 0
        self._steps_dropped = 0
        self._step_cap: int | None = None
        self._older_asked = False
        # Steps held but not yet in the log (written when the Steps pane comes forward); None:
        # the log is rewritten whole then.
        self._steps_unwritten: list[Step] | None = []
        self._raw_shown: object = None
        # Output and Raw are rendered only while visible: Markdown is the costly part, and
        # moving the cursor through the list must not render every row's output.
        self._raw_dirty = False
        self._inputs_dirty = False
        self._output_dirty = False
        self._output_composed = False
        self._focus_output_when_composed = False
        self._header = Text()
        # Why the runs of each crew another process polls are stale (``crew_stale_note``).
        self._crew_stale: dict[str, str] = {}
        # The crews this session polls (None until the screen says): another's runs are stale.
        self._followed: frozenset[str] | None = None
        self._steps_label = ""
        self._steps_note: str | None = ""
        self._tab_bar = TabBar(list(TAB_LABELS.items()), id="detail-tab-bar")

    def compose(self) -> ComposeResult:
        if not self._panes_wanted:
            return
        from textual.containers import Vertical, VerticalScroll
        from textual.widgets import TextArea

        from crewtui.ui.widgets.steps_log import StepsLog
        from crewtui.ui.widgets.tab_panes import TabPanes
        from crewtui.ui.widgets.timeline import TimelineBar

        yield Static(id="detail-header")
        # The panes side by side, scrolled to the one in front: a switch lays nothing out
        # (see TabPanes).
        with Vertical(id="detail-tabs"):
            yield self._tab_bar
            with TabPanes(id="detail-panes"):
                with self._pane("tasks"):
                    yield TimelineBar(id="detail-timeline")
                # Composed with the first kickoff shown (``_compose_output``): the first frame
                # needs the list, not the output view and the Markdown parser it brings.
                yield self._pane("output")
                with self._pane("inputs"), VerticalScroll(id="inputs-scroll"):
                    yield Static(id="inputs-body")
                with self._pane("steps"):
                    yield Static(id="steps-empty")
                    yield StepsLog(id="steps-log", wrap=True, markup=False, highlight=False)
                with self._pane("raw"):
                    yield TextArea(id="raw-text", read_only=True, soft_wrap=True, show_cursor=False)

    def _pane(self, tab_id: str) -> Pane:
        from crewtui.ui.widgets.tab_panes import Pane

        return Pane(TAB_LABELS[tab_id], id=tab_id)

    @property
    def panes_composed(self) -> bool:
        """Whether the header, the tab bar and the panes are in (see ``panes_later``)."""
        return self._panes_ready.is_set()

    async def compose_panes(self) -> None:
        """Compose the panes of a detail made with ``panes_later`` (once), then do what was
        asked of it meanwhile, in order."""
        if self._panes_wanted:
            return
        self._panes_wanted = True
        await self.recompose()
        if not all(self.query(selector) for selector in _DRAWN_INTO):
            return  # the app is closing: Textual mounts nothing into a node it tears down
        self._panes_ready.set()
        waiting, self._waiting = self._waiting, []
        for call in waiting:
            call()

    async def panes_ready(self) -> None:
        """Return once the panes are in: what the screen would read only to show in them
        (the selected run, decoded whole) waits until after the list's first frame."""
        await self._panes_ready.wait()

    def on_mount(self) -> None:
        self.show(None)

    # -- the app's API ---------------------------------------------------------------------

    def set_followed_crews(self, crews: Iterable[str]) -> None:
        """The crews this session polls: an active run of any other is not followed here."""
        self._followed = frozenset(crews)

    @_once_composed
    def set_crew_health(self, health: CrewHealth) -> None:
        """A crew's health changed: the header of its runs says why they are stale, if so."""
        note = crew_stale_note(health)
        if self._crew_stale.get(health.crew) == note:
            return
        if note is None:
            self._crew_stale.pop(health.crew, None)
        else:
            self._crew_stale[health.crew] = note
        if self._kickoff is not None and self._kickoff.crew == health.crew and self.is_mounted:
            self._show_header()

    @_once_composed
    def show(
        self,
        kickoff: Kickoff | None,
        steps: Sequence[Step] = (),
        now: datetime | None = None,
        stored: Mapping[str | None, TextSource] | None = None,
    ) -> None:
        """Show ``kickoff`` (or nothing); cheap when called again with the same kickoff.

        ``stored`` are the outputs left out of this kickoff object because they are large
        (by task id, ``None`` for the final output), as sources that read them in pieces;
        they go with the object, and a new object without them has its outputs in it.
        """
        self._now = now or datetime.now(UTC)
        previous = self._kickoff
        if kickoff is not previous or stored is not None:
            self._stored = stored or {}
        switched = (kickoff is None) != (previous is None) or (
            kickoff is not None
            and previous is not None
            and kickoff.kickoff_id != previous.kickoff_id
        )
        changed = switched or (kickoff is not previous and kickoff != previous)
        self._kickoff = kickoff
        if kickoff is not None and not self._output_composed:
            # After the next frame: the first detail must not hold up the list's first frame.
            after_frame = getattr(self.app, "after_next_frame", self.call_after_refresh)
            after_frame(self._compose_output)
        if switched:
            self._task_id = None
            self._reset_steps()
        if steps:
            self.add_steps(steps)
        self._show_header()
        self._show_timeline()
        if changed:
            self._output_dirty = self._inputs_dirty = self._raw_dirty = True
        self._draw_pane(self._active_tab())

    @_once_composed
    def add_steps(self, steps: Sequence[Step]) -> None:
        """Append steps of the shown kickoff (others and repeats are ignored)."""
        kickoff = self._kickoff
        if kickoff is None:
            return
        fresh = [
            step
            for step in sorted(steps, key=lambda s: (s.sequence is None, s.sequence, s.received_at))
            if step.kickoff_id == kickoff.kickoff_id and step.key not in self._step_keys
        ]
        if not fresh:
            return
        log = self._steps_log()
        self._step_keys.update(step.key for step in fresh)
        self._steps.extend(fresh)
        self._step_total += len(fresh)
        if self._step_cap is not None:
            self._steps_dropped = max(self._steps_dropped, self._step_total - self._step_cap)
        # Following the end, the log keeps the newest window; scrolled back to read older
        # steps, it keeps them until STEP_HELD_MAX.
        following = log.is_vertical_scroll_end
        held = len(self._steps)
        if held > STEP_HELD_MAX or (following and held > STEP_WINDOW + _STEP_SLACK):
            while len(self._steps) > STEP_WINDOW:
                self._step_keys.discard(self._steps.popleft().key)
            self._steps_unwritten = None
        elif self._steps_unwritten is not None:
            self._steps_unwritten.extend(fresh)
        if self._active_tab() == "steps":
            self._write_steps()
        self._show_steps_state()

    @_once_composed
    def add_older_steps(self, kickoff_id: str, steps: Sequence[Step]) -> None:
        """The run's newest steps as the history holds them (see ``OlderStepsWanted``): the
        ones older than the oldest held are put above it, up to ``STEP_HELD_MAX`` held."""
        self._older_asked = False
        kickoff = self._kickoff
        if kickoff is None or kickoff.kickoff_id != kickoff_id or not self._steps:
            return
        keys = [step.key for step in steps]
        oldest = self._steps[0].key
        if oldest not in keys:  # the history let it go meanwhile: nothing older to show
            return
        older = [step for step in steps[: keys.index(oldest)] if step.key not in self._step_keys]
        older = older[max(0, len(older) - (STEP_HELD_MAX - len(self._steps))) :]
        if not older:
            return
        self._steps.extendleft(reversed(older))
        self._step_keys.update(step.key for step in older)
        log = self._steps_log()
        if self._steps_unwritten == [] and self._active_tab() == "steps":
            if not log.prepend([step_text(step, kickoff, self._palette) for step in older]):
                self._steps_unwritten = None
        else:
            self._steps_unwritten = None
        if self._active_tab() == "steps":
            self._write_steps()
        self._show_steps_state()

    @_once_composed
    def set_step_history(self, stored: int, dropped: int, cap: int) -> None:
        """What the history holds for the shown run: ``stored`` steps (the newest of which
        were given to :meth:`show`), ``dropped`` older ones let go, at most ``cap`` kept."""
        self._step_total = max(stored + dropped, len(self._steps))
        self._steps_dropped = dropped
        self._step_cap = cap
        self._show_steps_state()

    def _steps_log(self) -> StepsLog:
        return cast("StepsLog", self.query_one("#steps-log"))

    def _write_steps(self) -> None:
        """Bring the log up to date with the steps held; called while the Steps pane is in
        front or comes forward. Behind, the panes are laid out too (see TabPanes), and each
        write of a RichLog that knows its width asks for a layout of the whole screen: every
        run the cursor rested on wrote its steps there."""
        unwritten = self._steps_unwritten
        if unwritten == []:
            return
        self._steps_unwritten = []
        log = self._steps_log()
        kickoff = self._kickoff
        if unwritten is None:  # rewrite: the held steps changed other than at the end
            log.clear()
            for step in self._steps:
                log.write(step_text(step, kickoff, self._palette))
            return
        following = log.is_vertical_scroll_end
        for step in unwritten:
            log.write(step_text(step, kickoff, self._palette), scroll_end=following)

    def shown_output(self) -> Output | None:
        """The output the Output tab shows, as received (for copy): a string, or a source
        of a large one (read it in a thread)."""
        return self._output_shown().text or None

    @property
    def active_tab(self) -> str:
        """The id of the tab in front (one of ``TAB_IDS``)."""
        return self._active_tab()

    @_once_composed
    def show_tab(self, tab_id: str) -> None:
        """Bring a tab forward, leaving the keyboard where it is (the list, usually)."""
        if tab_id in TAB_IDS:
            self._switch_to(tab_id)

    @_once_composed
    def step_tab(self, step: int) -> None:
        """The next (``1``) or previous (``-1``) tab, wrapping around."""
        index = TAB_IDS.index(self._active_tab()) if self._active_tab() in TAB_IDS else 0
        self.show_tab(TAB_IDS[(index + step) % len(TAB_IDS)])

    @_once_composed
    def focus_tab(self, tab_id: str) -> None:
        """Bring a tab forward and put the keyboard in it."""
        if tab_id not in TAB_IDS:
            return
        self._switch_to(tab_id)
        if tab_id == "output" and self._output_view() is None:
            self._compose_output()
            self._focus_output_when_composed = True
            return
        target = {
            "tasks": "#timeline-rows",
            "output": "#output-text" if self._output_mode() == "text" else "#output-markdown",
            "inputs": "#inputs-scroll",
            "steps": "#steps-log",
            "raw": "#raw-text",
        }[tab_id]
        self.query_one(target).focus()

    @_once_composed
    def select_task(self, task_id: str | None) -> None:
        """Show a task's output in the Output tab (``None``: the final output)."""
        self._task_id = task_id
        self._show_output()

    @_once_composed
    def toggle_markdown(self) -> None:
        """Outputs as rendered Markdown, or as plain text (kept for the next ones); the
        Output tab's view is mounted once the tab is first shown, before that: nothing."""
        view = self._output_view()
        if view is not None:
            view.toggle_markdown()

    @property
    def selected_task(self) -> str | None:
        return self._task_id

    def restyle(self) -> None:
        """The theme changed: draw the header, the Gantt, inputs and output in its colours.

        Steps already written keep the colours they were written in.
        """
        if not self.query("#detail-timeline"):
            return  # not composed yet: the first ``show`` draws in the theme's colours
        self._header = Text()
        self._show_header()
        self._show_timeline()
        self._timeline().restyle()
        self._output_dirty = self._inputs_dirty = True
        self._draw_pane(self._active_tab())

    # -- panes -----------------------------------------------------------------------------

    @property
    def _palette(self) -> Palette:
        return palette_of(self, "kickoff-detail")

    def tab_label(self, tab_id: str) -> str:
        """The label a tab shows now (``Steps (12)``)."""
        return self._tab_bar.label(tab_id)

    def _active_tab(self) -> str:
        return self._tab_bar.active

    def _switch_to(self, tab_id: str) -> None:
        """Bring a pane forward: the bar's two lines and the panes' region change, nothing else
        (its contents drawn first, so the frame that shows it shows them)."""
        self._draw_pane(tab_id)
        shown = self._tab_bar.active
        if tab_id == shown:
            return
        from crewtui.ui.widgets.tab_panes import TabPanes

        self.query_one(TabPanes).show(tab_id)
        self._tab_bar.active = tab_id

    def _draw_pane(self, tab_id: str) -> None:
        """Bring a pane drawn only while visible (Output, Inputs, Raw, the Steps note) up to
        date."""
        if tab_id == "steps":
            self._write_steps()
            self._show_steps_note()
        elif tab_id == "output":
            self._compose_output()
            if self._output_dirty:
                self._show_output()
        elif tab_id == "inputs" and self._inputs_dirty:
            self._show_inputs()
        elif tab_id == "raw" and self._raw_dirty:
            self._show_raw()

    def _output_mode(self) -> str:
        view = self._output_view()
        return view.mode if view is not None else "empty"

    def _output_view(self) -> OutputView | None:
        """The Output tab's view, once mounted (see ``_compose_output``)."""
        found = self.query("#detail-output")
        view = cast("OutputView", found.first()) if found else None
        # A view mounted while the app closes has no children (see LateOutputView).
        return view if view is not None and view.is_mounted and view.children else None

    def _compose_output(self) -> None:
        """Mount the Output tab's view, once: when the first kickoff is shown or the tab
        first comes forward, never on the way to the first frame."""
        if self._output_composed:
            return
        self._output_composed = True
        from crewtui.ui.widgets.late_output import LateOutputView

        self.run_worker(self._mount_output(LateOutputView(id="detail-output")), group="output-view")

    async def _mount_output(self, view: OutputView) -> None:
        await self.query_one("#output").mount(view)
        if self._output_view() is None:
            return
        self._output_dirty = True
        if self._active_tab() == "output":
            self._show_output()
        if self._focus_output_when_composed:
            self._focus_output_when_composed = False
            self.focus_tab("output")

    def _show_header(self) -> None:
        if self._kickoff is None:
            text = Text("No kickoff selected.", self._palette.muted)
        else:
            crew = self._kickoff.crew
            crew_stale = self._crew_stale.get(crew)
            if self._followed is not None and crew not in self._followed:
                crew_stale = not_followed_note(self._followed)
            text = header_text(
                self._kickoff,
                self._now,
                self._palette,
                self.prices,
                crew_stale,
                answer_key=self._keys.answer,
            )
        if text != self._header:
            self._header = text
            # Two lines whatever it says: a new elapsed time every second, a pause or a token
            # count with each push is drawn in place, with no layout of the screen.
            self.query_one("#detail-header", Static).update(text, layout=False)

    def _timeline(self) -> TimelineBar:
        return cast("TimelineBar", self.query_one("#detail-timeline"))

    def _show_timeline(self) -> None:
        timeline = self._timeline()
        # No kickoff, no axis: an empty Gantt header under "No kickoff selected" says nothing.
        timeline.display = self._kickoff is not None
        if self._kickoff is None:
            timeline.set_bars([], 0.0)
            return
        bars, span = layout(self._kickoff, self._now)
        tokens = {
            task.task_id: task.usage.total_tokens
            for task in self._kickoff.tasks
            if task.usage is not None and task.usage.total_tokens is not None
        }
        notes = task_notes(self._kickoff, self._palette, self._not_found)
        bands, expected_notes = self._expected(bars)
        if bands:
            # The axis reaches where the task usually ends, but a running bar still ends now.
            bars = [replace(bar, end=span) if bar.end is None else bar for bar in bars]
            span = max([span, *(high for _, high in bands.values())])
        timeline.set_bars(
            bars, span, [*expected_notes, *notes], tokens, unit_word(self._kickoff), bands
        )

    @_once_composed
    def set_stall_rule(self, rule: StallRule) -> None:
        """The history's durations changed: the expected ranges shown change with them."""
        self.stall_rule = rule
        if self._kickoff is not None:
            self._show_timeline()

    def _expected(self, bars: Sequence[Bar]) -> tuple[dict[str, Band], list[Text]]:
        """Where the running task usually ends on the axis (its p50–p95 in the history), a
        line that says so, and one more when the run is maybe stuck."""
        kickoff = self._kickoff
        if kickoff is None or kickoff.state is not RunState.RUNNING:
            return {}, []
        palette = self._palette
        for bar in bars:
            if bar.end is not None or not bar.known or bar.task_id != kickoff.current_task:
                continue
            expected = self.stall_rule.expected(kickoff.crew, bar.task_id)
            notes = []
            if expected is not None:
                usual = (
                    f"{format_duration(expected.p50, precise=True)}–"
                    f"{format_duration(expected.p95, precise=True)}"
                )
                runs = f"{expected.samples} run{'' if expected.samples == 1 else 's'}"
                line = safe_line(bar.task_id, palette.muted, limit=60)
                line.append(f" usually takes {usual} (p50–p95 of {runs}: ░ on its row)")
                notes.append(line)
            stall = self.stall_rule.judge(kickoff, self._now)
            if stall is not None:
                notes.append(safe_line(f"Maybe stuck: {stall.words()}.", palette.warning))
            if expected is None:
                return {}, notes
            return {bar.task_id: (bar.start + expected.p50, bar.start + expected.p95)}, notes
        return {}, []

    def _output_of(self, task: TaskResult | None) -> Output | None:
        """A task's output (``None``: the final output), in the kickoff or in the history."""
        if task is None:
            held = self._kickoff.output if self._kickoff is not None else None
            return held if held is not None else self._stored.get(None)
        return task.output if task.output is not None else self._stored.get(task.task_id)

    def _find_task(self, task_id: str) -> TaskResult | None:
        tasks = self._kickoff.tasks if self._kickoff else []
        return next((task for task in tasks if task.task_id == task_id), None)

    def _show_output(self) -> None:
        view = self._output_view()
        if view is None:  # drawn when the tab is first shown
            self._output_dirty = True
            return
        self._output_dirty = False
        shown = self._output_shown()
        view.set_output(shown.title, shown.text, empty=shown.empty, task_selected=shown.task)

    def _output_shown(self) -> _OutputShown:
        """What the Output tab shows for the kickoff: the picked task's output, else the
        final output, else the latest task's."""
        kickoff = self._kickoff
        if kickoff is None:
            return _OutputShown(Text(), None, empty="No kickoff selected.")
        task = self._find_task(self._task_id) if self._task_id else None
        if task is not None:
            palette = self._palette
            title = Text("Task ", _BOLD) + safe_line(task.task_id, palette.accent + _BOLD, limit=80)
            if task.agent:
                title += Text(" · ", palette.muted) + safe_line(task.agent, limit=40)
            empty = (
                "This task has no output yet."
                if task.state is TaskState.RUNNING
                else ("The service gave no output for this task.")
            )
            return _OutputShown(title, self._output_of(task), empty=empty, task=True)
        final = self._output_of(None)
        if final is not None or kickoff.is_terminal:
            empty = "No final output: the run ended without one."
            return _OutputShown(Text("Final output", _BOLD), final, empty=empty)
        latest = next((t for t in reversed(kickoff.tasks) if self._output_of(t)), None)
        if latest is None:
            return _OutputShown(Text("Final output", _BOLD), None, empty="No output yet.")
        title = Text("Latest task output: ", _BOLD)
        title.append_text(safe_line(latest.task_id, self._palette.accent, limit=80))
        title.append(" (the final output is not in yet)", self._palette.muted)
        return _OutputShown(title, self._output_of(latest))

    def _show_inputs(self) -> None:
        self._inputs_dirty = False
        body = self.query_one("#inputs-body", Static)
        if self._kickoff is None:
            body.update(Text("No kickoff selected.", self._palette.muted))
        else:
            body.update(inputs_text(self._kickoff, self._palette))

    def _show_raw(self) -> None:
        self._raw_dirty = False
        kickoff = self._kickoff
        shown = (kickoff.raw, kickoff.raw_by_source) if kickoff else None
        previous = self._raw_shown
        if (
            isinstance(previous, tuple)
            and shown is not None
            and all(now is then for now, then in zip(shown, previous, strict=True))
        ):
            return
        self._raw_shown = shown
        text = raw_text(kickoff) if kickoff else ""
        from textual.widgets import TextArea

        from crewtui.ui.widgets.output_view import load_text

        load_text(self.query_one("#raw-text", TextArea), inert(text or NO_PAYLOAD))

    def _reset_steps(self) -> None:
        self._older_asked = False
        self._steps.clear()
        self._step_keys.clear()
        self._step_total = 0
        self._steps_dropped = 0
        self._step_cap = None
        self._steps_unwritten = None
        if self._active_tab() == "steps":
            self._write_steps()
        self._show_steps_state()

    def _show_steps_state(self) -> None:
        label = f"Steps ({self._step_total:,})" if self._step_total else "Steps"
        if label != self._steps_label:
            self._steps_label = label
            self._tab_bar.set_label("steps", label)
        if self._active_tab() == "steps":
            self._show_steps_note()

    def _show_steps_note(self) -> None:
        """The line above the steps, while the Steps pane is in front: each update of a Static
        asks for a layout of the whole screen, hidden or not (a cursor resting on a run
        changed it twice, and a key waited behind the layout)."""
        note = steps_note(self._step_total, len(self._steps), self._steps_dropped, self._step_cap)
        if note != self._steps_note:
            self._steps_note = note
            empty = self.query_one("#steps-empty", Static)
            empty.display = note is not None
            if note is not None:
                empty.update(Text(note))

    # -- events ----------------------------------------------------------------------------

    def on_timeline_bar_task_picked(self, event: TimelineBar.TaskPicked) -> None:
        event.stop()
        if self._kickoff is None:
            return
        self.select_task(event.task_id)
        self._switch_to("output")
        self.post_message(self.TaskSelected(self._kickoff.kickoff_id, event.task_id))

    def on_steps_log_top_reached(self, event: StepsLog.TopReached) -> None:
        event.stop()
        kickoff = self._kickoff
        held = len(self._steps)
        older = self._step_total - self._steps_dropped - held
        if kickoff is None or self._older_asked or not held or older <= 0:
            return
        if held >= STEP_HELD_MAX:
            return
        self._older_asked = True
        self.post_message(self.OlderStepsWanted(kickoff.kickoff_id, held + STEP_PAGE))

    def on_output_view_final_wanted(self, event: OutputView.FinalWanted) -> None:
        event.stop()
        self.select_task(None)

    def on_tab_bar_picked(self, event: TabBar.Picked) -> None:
        event.stop()
        self._switch_to(event.tab_id)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # Moving through task rows is local to the Gantt; the app needs no word of it.
        event.stop()
