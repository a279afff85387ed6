"""Runs from "earlier" for the demo's throwaway history: a few days of a team's work.

Each past run is replayed, not invented: the simulator's timeline of the run (its crew's
tasks, agents, durations and outputs) is polled at every event through the simulator's own
answer bodies, read by crewtui's dialect parser and merged by ``crewtui.core.merge``, the
same path a real poll takes; so are the batched events it would have pushed (the demo asks
for them), which alone tell tokens per task and the model. What is written to the store is
therefore exactly what crewtui would have recorded had it watched those runs, raw payloads
and steps included. Only the ends no simulator run reaches on its own are stated directly:
a run cancelled from the dashboard, and one the service forgot (lost after the not-found grace).

A seed and a "now" fix everything: the same pair gives the same history, byte for byte.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from crewtui.api.dialects import parse_status
from crewtui.api.models import Kickoff, Observation, Step
from crewtui.api.pushes import parse_push
from crewtui.api.states import Dialect, RunState
from crewtui.core.history import History
from crewtui.core.merge import DEFAULT_NOT_FOUND_GRACE, apply_observation
from crewtui.demo.inputs import CREW_NAMES, pick_inputs
from crewtui.sim import bodies
from crewtui.sim.crews import CREWS
from crewtui.sim.timeline import Run, snapshot, timeline
from crewtui.sim.webhooks import event_entries

Fate = Literal["completed", "failed", "cancelled", "lost"]

HISTORY_RUNS = 48
# How far back the history goes, how recent its newest run may be, and the "working day
# under way" in which a third of the runs fall.
HISTORY_SPAN = timedelta(days=3)
HISTORY_GAP = timedelta(minutes=20)
_TODAY = timedelta(hours=8)
# How often a run went long, and how its durations compare with the crew's reference ones.
_LONG_ODDS = 0.12
_LONG_SCALE = (4.0, 7.0)
_USUAL_SCALE = (0.7, 1.5)
# What a run given up for lost or cancelled was doing: the cut is this far into its plan.
_CUT = 0.5
_CANCELLED_MESSAGE = "Cancelled from the CrewAI dashboard"
_RARE: tuple[Fate, ...] = ("cancelled", "lost", "failed")
_LATEST = 10


@dataclass(frozen=True)
class PastRun:
    """One run of the history, before it is replayed."""

    kickoff_id: str
    crew: str
    inputs: dict[str, str]
    started: datetime
    scale: float  # its durations relative to the crew's reference ones
    fate: Fate


def plan_history(seed: int, now: datetime, count: int = HISTORY_RUNS) -> list[PastRun]:
    """``count`` runs over the days before ``now``, oldest first, in every finished state.

    A third of them fall in the last hours (a working day under way), the rest on the days
    before; most complete, some fail, one was cancelled and one was lost (both among the
    latest ten), a few ran long.
    """
    rng = random.Random(seed)
    recent = count // 3
    gap, today, span = (d.total_seconds() for d in (HISTORY_GAP, _TODAY, HISTORY_SPAN))
    offsets = [rng.uniform(gap, today) for _ in range(recent)]
    offsets += [rng.uniform(today, span) for _ in range(count - recent)]
    offsets.sort(reverse=True)
    fates: list[Fate] = ["completed"] * count
    # The rare ends fall among the latest runs, where a first look at the list sees them.
    latest = range(max(0, count - _LATEST), count)
    for index, fate in zip(rng.sample(latest, len(_RARE)), _RARE, strict=True):
        fates[index] = fate
    for index in rng.sample(range(count), max(1, count // 10)):
        if fates[index] == "completed":
            fates[index] = "failed"
    runs = []
    for offset, fate in zip(offsets, fates, strict=True):
        crew = rng.choice(CREW_NAMES)
        scale = _LONG_SCALE if rng.random() < _LONG_ODDS else _USUAL_SCALE
        runs.append(
            PastRun(
                kickoff_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                crew=crew,
                inputs=pick_inputs(crew, rng),
                started=(now - timedelta(seconds=offset)).replace(microsecond=0),
                scale=round(rng.uniform(*scale), 2),
                fate=fate,
            )
        )
    return runs


def _sim_run(past: PastRun) -> Run:
    """The simulator's run behind ``past``, on a clock where second 0 is its kickoff."""
    return Run(
        crew=CREWS[past.crew],
        kickoff_id=past.kickoff_id,
        inputs=past.inputs,
        meta=None,
        started_mono=0.0,
        started_wall=past.started.timestamp(),
        speed=1.0,
        scale=past.scale,
        will_fail=past.fate == "failed",
    )


def _at(past: PastRun, seconds: float) -> datetime:
    return past.started + timedelta(seconds=seconds)


def _poll(run: Run, past: PastRun, seconds: float, dialect: Dialect) -> Observation:
    """What ``GET /status`` answered ``seconds`` after the kickoff, as crewtui reads it."""
    snap = snapshot(run, seconds)
    if dialect is Dialect.LIVE:
        body = bodies.live_status(run, snap)
    else:
        body = bodies.documented_status(run, snap)
    return parse_status(past.kickoff_id, 200, body, _at(past, seconds))


def _not_found(past: PastRun, seconds: float, dialect: Dialect) -> Observation:
    """The service's answer for an id it no longer knows (live: 200, documented: 404)."""
    answer = bodies.not_found(dialect.value, past.kickoff_id)
    body = json.loads(bytes(answer.body))
    return parse_status(past.kickoff_id, answer.status_code, body, _at(past, seconds))


def _event_ids(past: PastRun) -> Callable[[], str]:
    """Event ids of the run's own seed: the history stays the same byte for byte."""
    ids = random.Random(past.kickoff_id)
    return lambda: str(uuid.UUID(int=ids.getrandbits(128), version=4))


def _pushed(past: PastRun, entries: list[dict[str, Any]], seconds: float) -> list[Observation]:
    """What the receiver read from a batch of events (the demo asks for pushes): per-task
    tokens and the model come only this way. Its agent steps are left to the polls'."""
    if not entries:
        return []
    told = parse_push("events", {"events": entries}, _at(past, seconds))
    return [fact for fact in told if isinstance(fact, Observation)]


def replay(past: PastRun, dialect: Dialect) -> tuple[Kickoff, list[Step]]:
    """The kickoff and steps crewtui would hold after watching ``past`` to its end, with
    the batched events webhook on, as the demo has it."""
    run = _sim_run(past)
    events = timeline(run)
    if past.fate in ("cancelled", "lost"):
        events = events[: max(2, round(len(events) * _CUT))]
    kickoff = Kickoff(
        kickoff_id=past.kickoff_id,
        crew=past.crew,
        inputs=dict(past.inputs),
        created_at=past.started,
        updated_at=past.started,
    )
    observations = []
    new_id = _event_ids(past)
    sequence = 0
    for event in events:
        entries = event_entries(run, event, sequence, new_id)
        sequence += len(entries)
        observations += _pushed(past, entries, event.at)
        observations.append(_poll(run, past, event.at, dialect))
    end = events[-1].at
    if past.fate == "lost":
        grace = DEFAULT_NOT_FOUND_GRACE.total_seconds()
        observations += [_not_found(past, end + delay, dialect) for delay in (5.0, 5.0 + grace)]
    elif past.fate == "cancelled":
        observations.append(
            Observation(
                kickoff_id=past.kickoff_id,
                observed_at=_at(past, end + 3.0),
                state=RunState.CANCELLED,
                message=_CANCELLED_MESSAGE,
                dialect=dialect,
            )
        )
    steps: list[Step] = []
    for observation in observations:
        kickoff = apply_observation(kickoff, observation)
        steps += observation.steps
    return kickoff, steps


def seed_history(
    store: History,
    *,
    seed: int,
    now: datetime | None = None,
    dialect: Dialect = Dialect.LIVE,
    count: int = HISTORY_RUNS,
) -> list[Kickoff]:
    """Write the history of ``seed`` into ``store`` (through its API) and return it."""
    moment = now or datetime.now(UTC)
    written = []
    for past in plan_history(seed, moment, count):
        kickoff, steps = replay(past, dialect)
        written.append(store.save_kickoff(kickoff))
        store.add_steps(steps)
    return written
