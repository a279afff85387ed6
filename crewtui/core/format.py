"""Words and symbols for states and durations, shared by the CLI and the app."""

from __future__ import annotations

from crewtui.api.models import RunState

STATE_SYMBOLS: dict[RunState, str] = {
    RunState.PENDING: "◌",
    RunState.RUNNING: "▶",
    RunState.PAUSED: "⏸",
    RunState.COMPLETED: "✔",
    RunState.FAILED: "✖",
    RunState.CANCELLED: "⊘",
    RunState.NOT_FOUND: "?",
    RunState.LOST: "⚠",
    RunState.UNKNOWN: "·",
}

STATE_WORDS: dict[RunState, str] = {
    RunState.NOT_FOUND: "not found",
}


def state_label(state: RunState) -> str:
    """``✔ completed``: a symbol for the eye, a word for the colour-blind and for grep."""
    return f"{STATE_SYMBOLS[state]} {STATE_WORDS.get(state, state.value)}"


def describe_duration(seconds: float | None) -> str:
    """``45.2s``, ``1m48s``, ``2h05m``: short, and precise where it matters."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
