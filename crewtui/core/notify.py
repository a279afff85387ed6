"""Desktop notifications that travel with the terminal: OSC 9 and OSC 777.

A toast or a bell reaches only someone looking at crewtui's window. An OSC 9
(``ESC ] 9 ; body BEL``: iTerm2, WezTerm, kitty, Ghostty, Windows Terminal) or OSC 777
(``ESC ] 777 ; notify ; title ; body BEL``: urxvt, foot, Ghostty, VTE) sequence asks the
terminal itself for a desktop notification, and since it is just bytes on the terminal, it
goes wherever the terminal goes: over SSH to the laptop, and through tmux when wrapped in
tmux's passthrough (``ESC P tmux ; … ESC \\`` with every ESC inside doubled; tmux 3.3+ needs
``set -g allow-passthrough on``). Terminals that know neither ignore them.

The text of a notification names a crew and quotes the service: it is made inert here, so
no control character from the API can end the sequence early and start another one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from crewtui.api.rows import WaitingFor
from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState
from crewtui.core.format import duration_text, waiting_line
from crewtui.core.timing import run_duration
from crewtui.settings import OscForm, OscSetting

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff

NotifyEvent = Literal["ended", "waiting"]

ESC = "\x1b"
BEL = "\x07"
_TITLE_LIMIT = 60
_BODY_LIMIT = 200


def sends(setting: OscSetting, event: NotifyEvent) -> bool:
    """Whether ``setting`` (``[notify] osc``) asks for a notification of ``event``."""
    return setting == "all" or setting == event


def in_tmux(env: Mapping[str, str] | None = None) -> bool:
    """Inside tmux, a sequence must be wrapped to reach the terminal outside it."""
    return bool((os.environ if env is None else env).get("TMUX"))


def _field(text: str, limit: int) -> str:
    """One inert line: no control character (ESC, BEL, C1) survives, nor a ``;`` that would
    split OSC 777's fields."""
    return inert_line(text, limit).replace(";", ",")


def osc_sequence(title: str, body: str, form: OscForm = "osc9", *, tmux: bool = False) -> str:
    """The bytes (as text) that ask the terminal for a notification saying ``title: body``.

    OSC 9 has no title field, so the title leads the body; it also keeps a body that starts
    with a number from reading as ConEmu's ``9;N`` commands (progress, for one)."""
    title_text = _field(title, _TITLE_LIMIT) or "crewtui"
    body_text = _field(body, _BODY_LIMIT)
    if form == "osc777":
        sequence = f"{ESC}]777;notify;{title_text};{body_text}{BEL}"
    else:
        sequence = f"{ESC}]9;{title_text}: {body_text}{BEL}"
    if tmux:
        return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ESC}\\"
    return sequence


def ended_words(kickoff: Kickoff) -> tuple[str, str]:
    """Title and body for a run that ended: ``Run completed`` / ``travel 5f1c2d3e in 1m48s``."""
    title = "Run completed" if kickoff.state is RunState.COMPLETED else "Run failed"
    if kickoff.state is RunState.CANCELLED:
        title = "Run cancelled"
    took = duration_text(kickoff, kickoff.finished_at or kickoff.updated_at)
    known = run_duration(kickoff, kickoff.updated_at) is not None
    body = f"{kickoff.crew} {kickoff.short_id} {kickoff.state.value}"
    return title, body + (f" in {took}" if known and took else "")


def waiting_words(kickoff: Kickoff) -> tuple[str, str]:
    """Title and body for a run that now waits for a person."""
    body = f"{kickoff.crew} {kickoff.short_id}"
    if kickoff.waiting_for is not None:
        body += f" {waiting_line(kickoff.waiting_for)}"
    return "Run waits for input", body


class RunNotices:
    """Each end of a run and each new wait told once, as the setting asks (``watch``).

    ``due`` is given every version of a run seen; it answers the title and body of a
    notification when this version ended the run or began a wait not told yet."""

    def __init__(self, setting: OscSetting) -> None:
        self.setting = setting
        self._ended: set[str] = set()
        self._waits: dict[str, WaitingFor] = {}

    def due(self, kickoff: Kickoff) -> tuple[str, str] | None:
        kickoff_id = kickoff.kickoff_id
        if kickoff.is_terminal:
            if kickoff_id in self._ended:
                return None
            self._ended.add(kickoff_id)
            return ended_words(kickoff) if sends(self.setting, "ended") else None
        waiting = kickoff.waiting_for
        if kickoff.state is not RunState.PAUSED or waiting is None:
            self._waits.pop(kickoff_id, None)
            return None
        if self._waits.get(kickoff_id) == waiting:
            return None
        self._waits[kickoff_id] = waiting
        return waiting_words(kickoff) if sends(self.setting, "waiting") else None
