"""Words and symbols for states and durations, shared by the CLI and the app."""

from __future__ import annotations

import functools
import getpass
import math
import socket
from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING

from crewtui.api.rows import KickoffSummary, Usage, WaitingFor
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState, TaskState
from crewtui.core.timing import Run, run_duration, run_start

if TYPE_CHECKING:
    from crewtui.api.models import Attempt, KickoffStatus

# One symbol per state for the CLI and every view of the app; the word is always shown
# beside it (never colour or symbol alone).
STATE_SYMBOLS: dict[RunState, str] = {
    RunState.PENDING: "◌",
    RunState.RUNNING: "●",
    RunState.PAUSED: "◐",
    RunState.COMPLETED: "✓",
    RunState.FAILED: "✗",
    RunState.CANCELLED: "⊘",
    RunState.NOT_FOUND: "?",
    RunState.LOST: "!",
    RunState.UNKNOWN: "?",
}

# The "state" sort order: active runs first, then those needing attention, then the rest.
# The store keeps each row's position as ``state_rank``; changing it needs a migration.
STATE_ORDER: tuple[RunState, ...] = (
    RunState.RUNNING,
    RunState.PAUSED,
    RunState.PENDING,
    RunState.NOT_FOUND,
    RunState.UNKNOWN,
    RunState.FAILED,
    RunState.LOST,
    RunState.CANCELLED,
    RunState.COMPLETED,
)

STATE_WORDS: dict[RunState, str] = {
    RunState.NOT_FOUND: "not found",
}


def state_label(state: RunState) -> str:
    """``✔ completed``: a symbol for the eye, a word for the colour-blind and for grep."""
    return f"{STATE_SYMBOLS[state]} {STATE_WORDS.get(state, state.value)}"


# A paused run answered with ``resume`` that the service continues under a new id: this id
# waits no more (the new one carries on), though no poll of it may ever say so.
CONTINUED_SYMBOL = "→"
CONTINUED = "continued"


def continued_elsewhere(run: KickoffStatus | KickoffSummary) -> bool:
    """A run answered under a new id (``continues``) that no poll has said ended: the new
    id carries on, whatever this one last read (paused, or the new run's state)."""
    return run.continues is not None and not run.state.is_terminal


def run_state_label(run: KickoffStatus | KickoffSummary) -> str:
    """The state label of a run: ``→ continued`` for one answered under a new id."""
    if continued_elsewhere(run):
        return f"{CONTINUED_SYMBOL} {CONTINUED}"
    return state_label(run.state)


def format_duration(seconds: float, *, precise: bool = False) -> str:
    """A duration as people read it: 45s, 1m48s, 1h05m; ``precise`` keeps tenths below 1m."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if precise and seconds < 60:
        return f"{seconds:.1f}s"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


UNKNOWN = "—"


def duration_text(run: Run, now: datetime) -> str:
    """The run's duration as every view prints it (one figure, one rounding).

    Empty while it waits to start; ``—`` when it is not known (a tracked run whose start the
    service has not told).
    """
    if run.state is RunState.PENDING:
        return ""
    seconds = run_duration(run, now)
    return UNKNOWN if seconds is None else format_duration(seconds)


def start_text(run: Run, moment_text: Callable[[datetime], str]) -> str:
    """When the run began, in the caller's format, or ``—`` when not known."""
    start = run_start(run)
    return UNKNOWN if start is None else moment_text(start)


CANCELLING = "cancelling…"
STOPPED_BY_YOU = "stopped by you"


@functools.cache
def this_user() -> str:
    """Who runs this crewtui, as a history shared by several people names them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's user)
        user = "someone"
    return f"{user}@{socket.gethostname()}"


def cancel_note(run: Run) -> str | None:
    """What crewtui's cancel did to the run: asked, not confirmed yet ("cancelling…"), or
    confirmed: "stopped by you", by whoever else asked (the history is shared), or just
    "stopped" when nobody recorded who; None when crewtui never asked."""
    if run.cancel_request == "sent" and not run.state.is_terminal:
        return CANCELLING
    if run.cancel_request != "confirmed" or run.state is not RunState.CANCELLED:
        return None
    if run.cancelled_by is None:
        return "stopped"
    if run.cancelled_by == this_user():
        return STOPPED_BY_YOU
    return f"stopped by {inert_line(run.cancelled_by, 60)}"


def waiting_line(waiting: WaitingFor) -> str:
    """One inert line for a paused run: which task waits, and what the service said."""
    task = inert_line(waiting.task_id, 60) if waiting.task_id else "a task it did not name"
    agent = f" ({inert_line(waiting.agent, 40)})" if waiting.agent else ""
    message = f": {inert_line(waiting.message, 160)}" if waiting.message else ""
    return f"waits for input on {task}{agent}{message}"


def sentence(text: str) -> str:
    """``text`` ended with a full stop, unless it already ends as a sentence does (the
    service's messages often bring their own)."""
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def tokens_text(count: int) -> str:
    """A token count in three significant digits at most: 950, 12.3k, 184k, 1.23M."""
    if count < 1_000:
        return str(count)
    value, unit = count / 1_000, "k"
    for bigger in ("M", "G"):
        if value < 999.5:
            break
        value, unit = value / 1_000, bigger
    digits = 2 if value < 9.995 else 1 if value < 99.95 else 0
    text = f"{value:.{digits}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + unit


def usage_line(usage: Usage | None) -> str | None:
    """``12.3k tokens (9.8k in, 2.5k out) · 7 LLM calls``, or None when no count is known."""
    if usage is None or usage.total_tokens is None:
        return None
    line = f"{tokens_text(usage.total_tokens)} tokens"
    if usage.prompt_tokens is not None and usage.completion_tokens is not None:
        line += (
            f" ({tokens_text(usage.prompt_tokens)} in, {tokens_text(usage.completion_tokens)} out)"
        )
    calls = usage.successful_requests
    if calls is not None:
        line += f" · {calls} LLM call{'s' if calls != 1 else ''}"
    return line


def continuation_line(run: KickoffStatus | KickoffSummary) -> str | None:
    """How an answered pause links two runs: the new one continues the old (short ids)."""
    parts = []
    if run.continued_from:
        parts.append(f"continues {inert_line(run.continued_from)[:8]}")
    if run.continues:
        parts.append(f"continued as {inert_line(run.continues)[:8]}")
    return " · ".join(parts) or None


# An active run of a crew this session does not poll (another crew's run in a shared
# history): its state is the history's last word, as old as the last process that polled it.
NOT_FOLLOWED = "not followed"


def not_followed_note(followed: Collection[str]) -> str:
    """Why a run of a crew this session does not poll may be out of date (the detail's
    words; the list says ``not followed``)."""
    polled = ", ".join(sorted(inert_line(name, 40) for name in followed))
    return f"{NOT_FOLLOWED} in this session, which polls {polled} only"


RESTARTED = "restarted"


def restart_note(run: KickoffStatus | KickoffSummary) -> str | None:
    """``restarted`` (``restarted 3×``) for a flow run the service started over under the same
    id; None for a run that never restarted."""
    if run.restarts <= 0:
        return None
    return RESTARTED if run.restarts == 1 else f"{RESTARTED} {run.restarts}×"


def unit_word(run: KickoffStatus | KickoffSummary) -> str:
    """What a run's units are called: a flow runs methods, a crew tasks."""
    return "method" if run.kind == "flow" else "task"


def methods_done(count: int) -> str:
    """How far a flow got, in words: it has no total to count against."""
    return f"{count} method{'' if count == 1 else 's'} done"


def attempt_line(number: int, attempt: Attempt) -> str:
    """One earlier attempt of a restarted flow run: how it ended, and how far it got."""
    done = sum(1 for task in attempt.tasks if task.state is TaskState.COMPLETED)
    parts = [f"attempt {number}: {state_label(attempt.state)}", methods_done(done)]
    if attempt.error:
        parts.append(inert_line(attempt.error, 120))
    return " · ".join(parts)


def counted(count: int, noun: str) -> str:
    """``1 run``, ``2 runs``: a count and its noun, plural when it is not one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _graphemes(text: str) -> tuple[list[tuple[int, int, int]], int]:
    """Each grapheme of inert text as (start, end, cells), and the text's cells. Inert ASCII
    is one cell a character; other text takes Rich's table, imported only then (a headless
    ``crewtui list`` of ASCII names loads no Rich)."""
    if text.isascii():
        return [(index, index + 1, 1) for index in range(len(text))], len(text)
    from rich.cells import split_graphemes

    return split_graphemes(text)


def pad_cells(text: str, width: int) -> str:
    """Inert ``text`` padded with spaces to ``width`` terminal cells (``str.ljust`` counts
    characters: a CJK name of 15 cells took 8 more, pushing a line's later columns right)."""
    return text + " " * max(0, width - _graphemes(text)[1])


def crew_cell(name: str, limit: int) -> str:
    """A crew's name cut to ``limit`` terminal cells, inert. A name made from a URL
    (``--url``: host, port and path) keeps its end, where crews under one host differ
    (``…8799/content``, not ``127.0.0.1:8799/…``).

    Cut by cells, not characters: a CJK character takes two, and a name cut to ``limit``
    characters was cut again from the right by the list's column, losing the end kept."""
    from_end = "/" in name
    bound = 4 * limit  # enough characters for ``limit`` cells, so a huge name costs nothing
    cut = len(name) > bound
    text = inert_line(name[-bound:] if from_end else name[:bound])
    spans, width = _graphemes(text)
    if width <= limit and not cut:
        return text
    room = limit - 1  # and "…"
    if from_end:
        start = len(text)
        for begin, _end, cells in reversed(spans):
            if (room := room - cells) < 0:
                break
            start = begin
        return "…" + text[start:]
    end = 0
    for _begin, stop, cells in spans:
        if (room := room - cells) < 0:
            break
        end = stop
    return text[:end] + "…"
