"""The bytes of a desktop notification: OSC 9, OSC 777, wrapped for tmux, and inert text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crewtui.api.models import Kickoff
from crewtui.api.rows import WaitingFor
from crewtui.api.states import RunState
from crewtui.core.notify import RunNotices, in_tmux, osc_sequence, sends
from tests.hardening.corpus import CORPUS, EVERYTHING, find_forbidden

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def run(state: RunState, **fields: object) -> Kickoff:
    return Kickoff(
        kickoff_id="5f1c2d3e-0000-4000-8000-000000000000",
        crew="travel",
        state=state,
        created_at=START,
        updated_at=START + timedelta(seconds=108),
        started_at=START,
        finished_at=START + timedelta(seconds=108) if state.is_terminal else None,
        **fields,
    )


def test_osc9_is_the_title_then_the_body_ended_by_bel() -> None:
    assert osc_sequence("Run completed", "travel 5f1c2d3e") == (
        "\x1b]9;Run completed: travel 5f1c2d3e\x07"
    )


def test_osc777_names_title_and_body_as_separate_fields() -> None:
    assert osc_sequence("Run completed", "travel 5f1c2d3e", "osc777") == (
        "\x1b]777;notify;Run completed;travel 5f1c2d3e\x07"
    )


def test_inside_tmux_the_sequence_is_wrapped_in_passthrough_with_every_esc_doubled() -> None:
    assert osc_sequence("Run completed", "x", tmux=True) == (
        "\x1bPtmux;\x1b\x1b]9;Run completed: x\x07\x1b\\"
    )
    assert osc_sequence("T", "b", "osc777", tmux=True) == (
        "\x1bPtmux;\x1b\x1b]777;notify;T;b\x07\x1b\\"
    )


def test_tmux_is_recognised_by_its_variable() -> None:
    assert in_tmux({"TMUX": "/tmp/tmux-1000/default,123,0"})
    assert not in_tmux({})
    assert not in_tmux({"TMUX": ""})


@pytest.mark.parametrize("entry", [*CORPUS, EVERYTHING], ids=lambda entry: entry.name)
@pytest.mark.parametrize("form", ["osc9", "osc777"])
def test_no_control_character_from_the_service_escapes_into_the_sequence(
    entry: object, form: str
) -> None:
    text = entry.text  # type: ignore[attr-defined]
    sequence = osc_sequence(text, text, form)  # type: ignore[arg-type]
    head = "\x1b]9;" if form == "osc9" else "\x1b]777;notify;"
    assert sequence.startswith(head) and sequence.endswith("\x07")
    inner = sequence[len(head) : -1]
    assert find_forbidden(inner) is None, inner[:80]
    if form == "osc777":  # a ; in the text would shift the fields
        assert inner.count(";") == 1


def test_each_setting_sends_the_events_it_names() -> None:
    assert sends("all", "ended") and sends("all", "waiting")
    assert sends("ended", "ended") and not sends("ended", "waiting")
    assert sends("waiting", "waiting") and not sends("waiting", "ended")
    assert not sends("off", "ended") and not sends("off", "waiting")


def test_a_run_s_end_is_told_once_and_each_new_wait_once() -> None:
    notices = RunNotices("all")
    assert notices.due(run(RunState.RUNNING)) is None
    wait = WaitingFor(task_id="review", message="Approve the plan?", since=START)
    assert notices.due(run(RunState.PAUSED, waiting_for=wait)) == (
        "Run waits for input",
        "travel 5f1c2d3e waits for input on review: Approve the plan?",
    )
    assert notices.due(run(RunState.PAUSED, waiting_for=wait)) is None
    assert notices.due(run(RunState.RUNNING)) is None
    assert notices.due(run(RunState.PAUSED, waiting_for=wait)) is not None
    assert notices.due(run(RunState.COMPLETED)) == (
        "Run completed",
        "travel 5f1c2d3e completed in 1m48s",
    )
    assert notices.due(run(RunState.COMPLETED)) is None


def test_a_setting_of_ends_only_says_nothing_of_waits() -> None:
    notices = RunNotices("ended")
    wait = WaitingFor(task_id="review", since=START)
    assert notices.due(run(RunState.PAUSED, waiting_for=wait)) is None
    assert notices.due(run(RunState.FAILED, error="boom")) == (
        "Run failed",
        "travel 5f1c2d3e failed in 1m48s",
    )
