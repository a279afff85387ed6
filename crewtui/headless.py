"""The headless commands: what scripts and CI run. No Textual import on these paths.

Each ``cmd_*`` coroutine gets a ``Session`` (parsed flags, config, paths) and returns an
exit code. They act only through the tracker, like the app does, so a kickoff started or
polled here is in the same history and merged by the same rules.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter

from crewtui.api.errors import (
    AuthError,
    BadResponseError,
    ConfigError,
    CrewtuiError,
    ExitCode,
    NotFoundError,
    TransportError,
)
from crewtui.api.models import STATUS_FIELDS, Kickoff
from crewtui.api.profile import CrewProfile
from crewtui.api.rows import SUMMARY_FIELDS, KickoffSummary
from crewtui.api.sanitize import inert, inert_line
from crewtui.api.states import RunState
from crewtui.api.validate import check_webhook_url, unique_pairs, validate_kickoff_id
from crewtui.config import (
    Config,
    Paths,
    default_crew_for_commands,
    history_url,
    known_crew_names,
    plain_http_warning,
    select_crews,
)
from crewtui.core.format import (
    STATE_WORDS,
    attempt_line,
    cancel_note,
    continuation_line,
    counted,
    crew_cell,
    duration_text,
    format_duration,
    methods_done,
    pad_cells,
    restart_note,
    run_state_label,
    sentence,
    start_text,
    state_label,
    tokens_text,
    unit_word,
    usage_line,
    waiting_line,
)
from crewtui.core.history import History, is_flow
from crewtui.core.inbox import inbox_line, waiting_runs
from crewtui.core.notify import RunNotices, in_tmux, osc_sequence
from crewtui.core.pricing import Price, cost_text, estimate_cost, price_table
from crewtui.core.runtime import Runtime, assemble, open_store
from crewtui.core.stall import STUCK, Stall, StallRule
from crewtui.core.timing import run_start
from crewtui.core.tracker import Cancelled, Tracker, flow_request_of, progress_signature
from crewtui.core.tracker_events import KickoffChanged, TrackerEvent
from crewtui.core.webhook_urls import WebhookUrls, flow_request_note

if TYPE_CHECKING:  # imported by the commands that use them
    from crewtui.core.compare import Comparison
    from crewtui.core.stats import CrewStats

# How long `watch` keeps retrying a crew that does not answer before it exits 6, and a
# run whose polls get no usable answer before it exits 7. The environment variable
# CREWTUI_GIVE_UP_SECONDS overrides it, so tests need not wait two minutes.
UNREACHABLE_GIVE_UP = 120.0
GIVE_UP_ENV = "CREWTUI_GIVE_UP_SECONDS"


def give_up_budget() -> float:
    """``UNREACHABLE_GIVE_UP``, or the seconds ``CREWTUI_GIVE_UP_SECONDS`` names; a value
    that is not a number of seconds above 0 is a ConfigError (checked before a command that
    follows runs sends anything: ``crewtui.cli``)."""
    given = os.environ.get(GIVE_UP_ENV, "").strip()
    if not given:
        return UNREACHABLE_GIVE_UP
    try:
        seconds = float(given)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise ConfigError(
            f"{GIVE_UP_ENV} is {inert_line(given, 40)!r}, not a number of seconds above 0 "
            f"(for example 300); unset it for the default {UNREACHABLE_GIVE_UP:g}."
        )
    return seconds


# Exit code of a kickoff in a terminal (or stuck) state, for --exit-status.
_STATE_EXIT = {
    RunState.COMPLETED: ExitCode.OK,
    RunState.FAILED: ExitCode.RUN_FAILED,
    RunState.CANCELLED: ExitCode.RUN_FAILED,
    RunState.NOT_FOUND: ExitCode.NOT_FOUND,
    RunState.LOST: ExitCode.NOT_FOUND,
}


class Session:
    """What every headless command needs: flags, config, the store and the chosen crews."""

    def __init__(
        self, args: argparse.Namespace, config: Config, paths: Paths, secrets: list[str]
    ) -> None:
        self.args = args
        self.config = config
        self.paths = paths
        self.secrets = secrets
        self.json: bool = bool(getattr(args, "json", False))
        self._store: History | None = None
        # Where flows' requests for a person reach this process's receiver, while it runs.
        self.hitl_url: str | None = None

    # -- crews ---------------------------------------------------------------------------

    def crews(self) -> list[CrewProfile]:
        """Every crew these flags select (all configured ones when none is named)."""
        crews = select_crews(
            self.config, crew=self.args.crew, url=self.args.url, token=self.args.token
        )
        return [self._noted(crew) for crew in crews]

    def _noted(self, crew: CrewProfile) -> CrewProfile:
        """A crew this command talks to: its token kept out of every message, a plain
        http URL warned about."""
        token = crew.bearer()
        if token and token not in self.secrets:
            self.secrets.append(token)
        warning = plain_http_warning(crew)
        if warning:
            warn(warning)
        return crew

    def crew(self) -> CrewProfile:
        """The one crew a command such as ``kickoff`` acts on."""
        return default_crew_for_commands(self.config, self.crews())

    # -- store ---------------------------------------------------------------------------

    @property
    def store(self) -> History:
        """The history; a store that cannot be opened degrades to memory with a warning."""
        if self._store is None:
            self._store, note = open_store(self.paths, self.config.history)
            if note:
                warn(note)
        return self._store

    def tracker(self, crews: Sequence[CrewProfile], *, interval: float | None = None) -> Tracker:
        return self._runtime(crews, interval, receive=False).tracker

    @asynccontextmanager
    async def following(
        self, crews: Sequence[CrewProfile], *, interval: float | None, receive: bool
    ) -> AsyncIterator[Tracker]:
        """A tracker for a command that follows runs, stopped when the block ends.

        With ``receive`` and ``--webhooks HOST:PORT``, a receiver runs for the block's life
        and the kickoffs started in it ask for pushes, so a script gets steps, per-task
        outputs and usage that polls alone do not show.
        """
        receive = receive and getattr(self.args, "webhooks", None) is not None
        runtime = self._runtime(crews, interval, receive=receive)
        receiver = runtime.receiver
        try:
            if receiver is not None:
                await receiver.start()
                runtime.tracker.webhook_urls = receiver.urls
                self.hitl_url = receiver.hitl_url
            yield runtime.tracker
        finally:
            self.hitl_url = None
            await runtime.tracker.stop()
            if receiver is not None:
                await receiver.stop()

    def _runtime(
        self, crews: Sequence[CrewProfile], interval: float | None, *, receive: bool
    ) -> Runtime:
        settings = self.config.poll
        if interval is not None:
            settings = replace(settings, min_interval=interval, max_interval=interval)
        return assemble(
            crews,
            self.config,
            self.paths,
            store=self.store,
            poll=settings,
            webhooks=receive,
            webhooks_listen=getattr(self.args, "webhooks", None) if receive else None,
            public_url=getattr(self.args, "public_url", None) if receive else None,
        )

    def history_crew(self) -> str | None:
        """The crew whose runs a command reading the history shows (None: every crew).

        ``--url`` (with ``--crew`` naming it, or not) is the crew ``status`` would poll with
        the same flags, so the runs it stored are the ones shown; nothing is sent, so no
        token is needed and ``--token`` changes nothing.
        """
        if self.args.url is None:
            crew: str | None = self.args.crew
            return crew
        [selected] = select_crews(
            self.config, crew=self.args.crew, url=self.args.url, require_tokens=False
        )
        return selected.name

    def crew_of(self, kickoff_id: str) -> CrewProfile:
        """The crew a kickoff belongs to: from the history, else the selected crew.

        A run the history holds is polled at its own crew's URL only: ``--crew``/``--url``
        naming another crew, or a crew gone from the config, get one sentence (exit 2). A
        run started with ``--url`` is polled at the URL the history kept for its crew, with
        the token a ``--url`` of it would take (``--token``, or the environment's)."""
        stored = self.store.get_kickoff(kickoff_id)
        if stored is None:
            return self.crew()
        short, owner = kickoff_id[:8], inert_line(stored.crew, 40)
        if self.args.crew or self.args.url:
            selected = self.crew()
            if selected.name != stored.crew:
                raise ConfigError(
                    f"Kickoff {short} is a run of the {owner} crew in the history, not of "
                    f"{inert_line(selected.name, 40)}: leave out --crew and --url."
                )
            return selected
        if stored.crew in known_crew_names(self.config):
            return next(crew for crew in self.crews() if crew.name == stored.crew)
        # A run started with --url: the history kept its crew's URL (never a token).
        url = dict(self.store.crews()).get(stored.crew)
        if url is not None:
            [crew] = select_crews(self.config, crew=stored.crew, url=url, token=self.args.token)
            if crew.bearer():
                return self._noted(crew)
        if url is None:
            raise ConfigError(
                f"Kickoff {short} is a run of the {owner} crew, which is not configured any "
                f"more: add [crews.{owner}] back to {self.paths.config_file}."
            )
        # Configured once and removed, or started with --url: either way no crew names it.
        raise ConfigError(
            f"Kickoff {short} is a run of the {owner} crew at {inert_line(url, 200)}, which "
            f"is not in {self.paths.config_file}: give its token (CREWAI_BEARER_TOKEN or "
            "--token) to poll it there, or add the crew to the config."
        )

    def resolve(self, given: str) -> str:
        """A full kickoff id from a full one or a unique prefix of one in the history."""
        kickoff_id = validate_kickoff_id(given)
        matches = self.store.resolve_id(kickoff_id)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1 and kickoff_id not in matches:
            raise ConfigError(f"{kickoff_id} matches several kickoffs; give more of the id.")
        return kickoff_id


# -- output helpers ----------------------------------------------------------------------------


def out(text: str = "") -> None:
    """Print a line to stdout; ``text`` must already be inert."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def warn(text: str) -> None:
    sys.stderr.write(f"crewtui: {inert_line(text)}\n")


def emit_json(value: Any) -> None:
    """JSON stays faithful: escaped by JSON (lone surrogates as \\ud800), never altered."""
    out(json.dumps(value, ensure_ascii=True, indent=2, default=str))


def as_json(
    model: BaseModel | KickoffSummary, names: Sequence[str], verbatim: Sequence[str]
) -> dict[str, Any]:
    """``names`` of ``model`` as JSON values, in that order; ``verbatim`` ones as they are.

    The verbatim fields are free-form dicts (the service's payloads, the user's inputs):
    pydantic's JSON mode raises on a dict key holding a lone surrogate, which
    ``json.dumps`` escapes faithfully. A list row (a plain dataclass) is dumped by pydantic
    too, so its values read as a kickoff's do.
    """
    kept = {name: getattr(model, name) for name in verbatim if name in names}
    include = set(names) - set(kept)
    if isinstance(model, BaseModel):
        plain = model.model_dump(mode="json", include=include)
    else:
        plain = _row_json().dump_python(model, mode="json", include=include)
    return {name: kept[name] if name in kept else plain[name] for name in names}


@functools.cache
def _row_json() -> TypeAdapter[KickoffSummary]:
    """The list rows' JSON form, built by the commands that print rows (not ``status``)."""
    return TypeAdapter(KickoffSummary)


def status_json(kickoff: Kickoff) -> dict[str, Any]:
    """The normalized status as JSON values; the service's payloads exactly as received."""
    status = kickoff.to_status()
    fields = as_json(status, STATUS_FIELDS, ("raw", "output_json", "raw_by_source"))
    fields["raw_by_source"] = [
        {
            "source": payload.source,
            "received_at": payload.received_at.isoformat(),
            "body": payload.body,
        }
        for payload in status.raw_by_source
    ]
    return fields


def summary_line(kickoff: Kickoff | KickoffSummary, now: datetime) -> str:
    """One inert line: short id, crew, state, progress, current task, duration."""
    parts = [
        inert_line(kickoff.kickoff_id[:8]),
        inert_line(kickoff.crew, 24),
        run_state_label(kickoff),
    ]
    restarted = restart_note(kickoff)
    if restarted:
        parts.append(f"({restarted})")
    progress = kickoff.progress
    if progress and progress.total:
        parts.append(f"{progress.completed or 0}/{progress.total} {unit_word(kickoff)}s")
    elif kickoff.kind == "flow" and progress and progress.completed is not None:
        parts.append(methods_done(progress.completed))
    if kickoff.current_task:
        parts.append(inert_line(kickoff.current_task, 48))
    duration = duration_text(kickoff, now)
    if duration:
        parts.append(duration)
    note = cancel_note(kickoff)
    if note:
        parts.append(f"({note})")
    return "  ".join(parts)


def print_status(
    kickoff: Kickoff, now: datetime, prices: Mapping[str, Price] | None = None
) -> None:
    """The human form of one kickoff: summary, usage and its estimated cost at ``prices``
    (the shipped table by default), tasks, error, output."""
    out(summary_line(kickoff, now))
    spent = usage_line(kickoff.usage)
    if spent is not None:
        cost = estimate_cost(kickoff.usage, kickoff.model, prices or price_table())
        out(f"  usage: {spent}" + (f" · {cost_text(cost)}" if cost is not None else ""))
    if kickoff.waiting_for is not None:
        out(f"  {waiting_line(kickoff.waiting_for)}")
    link = continuation_line(kickoff)
    if link is not None:
        out(f"  {link}")
    for number, attempt in enumerate(kickoff.earlier_attempts, start=1):
        out(f"  {attempt_line(number, attempt)}")
    for task in kickoff.tasks:
        timing = format_duration(task.execution_time, precise=True) if task.execution_time else ""
        tokens = task.usage.total_tokens if task.usage else None
        used = f"{tokens_text(tokens)} tokens" if tokens is not None else ""
        out(
            f"  {inert_line(task.task_id, 40)}  {inert_line(task.agent or '-', 40)}  "
            f"{task.state.value}  {timing}  {used}".rstrip()
        )
    unseen = _unseen_tasks_note(kickoff)
    if unseen:
        out(f"  ({unseen})")
    if kickoff.error:
        out(f"  error: {inert_line(kickoff.error, 500)}")
    if kickoff.poll_error:
        out(f"  last poll failed: {inert_line(kickoff.poll_error, 300)}")
    if kickoff.output:
        out()
        out(inert(kickoff.output))


def _unseen_tasks_note(kickoff: Kickoff) -> str | None:
    """For a completed run whose polls saw fewer tasks than it has: the rest ended in between.

    Only then is it true; a run at 0/3, paused or failed has simply not run them (yet).
    """
    total = kickoff.progress.total if kickoff.progress else None
    if kickoff.state is not RunState.COMPLETED or not total or len(kickoff.tasks) >= total:
        return None
    return (
        f"{len(kickoff.tasks)} of {total} tasks seen; the others finished between polls: "
        "use webhooks to see every task"
    )


def exit_for(states: Iterable[RunState]) -> int:
    """The worst exit code among several kickoffs' states (not-finished counts as 3)."""
    codes = [int(_STATE_EXIT.get(state, ExitCode.TIMED_OUT)) for state in states]
    for code in (ExitCode.NOT_FOUND, ExitCode.RUN_FAILED, ExitCode.TIMED_OUT):
        if code in codes:
            return int(code)
    return int(ExitCode.OK)


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- commands --------------------------------------------------------------------------------


async def cmd_inputs(session: Session) -> int:
    crew = session.crew()
    tracker = session.tracker([crew])
    try:
        names = await tracker.inputs(crew.name)
    finally:
        await tracker.stop()
    if session.json:
        emit_json({"crew": crew.name, "inputs": names})
    else:
        for name in names:
            out(inert_line(name, 200))
        if not names:
            out("(this crew requires no inputs)")
    return int(ExitCode.OK)


async def cmd_kickoff(session: Session) -> int:
    args = session.args
    crew = session.crew()
    inputs = _filled(unique_pairs(args.inputs, "input"))
    meta = unique_pairs(args.meta, "meta")
    hooks = _webhook_urls(args.task_webhook, args.step_webhook, args.crew_webhook)
    restore_from = _state_id(args.restore_from)
    notices = _notices(session)
    # Only a receiver of this process takes a flow's requests, and only text says where.
    receives = args.watch and args.webhooks is not None and not session.json
    flow = receives and is_flow(session.store, crew.name)
    async with session.following([crew], interval=args.interval, receive=args.watch) as tracker:
        kickoff = await tracker.kickoff(
            crew.name, inputs, meta, webhooks=hooks, restore_from=restore_from
        )
        if kickoff.restarts:
            warn(
                f"The service restarted the {crew.name} run {kickoff.short_id} (its id was "
                f"reused); its earlier attempt is kept ({restart_note(kickoff)})."
            )
        if not args.watch:
            if session.json:
                emit_json({"kickoff_id": kickoff.kickoff_id, "crew": crew.name})
            else:
                out(inert_line(kickoff.kickoff_id))
            return int(ExitCode.OK)
        if not session.json:
            out(f"started {inert_line(kickoff.kickoff_id, 200)} on {inert_line(crew.name)}")
        # Where a flow's requests for a person go, or what it takes that they do: now, or
        # once the run shows it is a flow (a crew's first flow kickoff).
        note = flow_request_note(
            session.hitl_url, session.paths.webhook_secret_file, receiving=True
        )
        if flow:
            out(note)
        said = flow

        def seen(run: Kickoff) -> None:
            nonlocal said
            if receives and not said and run.kind == "flow":
                said = True
                out(note)

        return await _follow(session, tracker, [kickoff.kickoff_id], notices, seen)


async def cmd_batch(session: Session) -> int:
    """One kickoff per row of a file: see ``crewtui.headless_batch``."""
    from crewtui.headless_batch import cmd_batch as run_batch

    return await run_batch(session)


async def cmd_status(session: Session) -> int:
    ids = [session.resolve(given) for given in session.args.ids]
    by_crew = _group_by_crew(session, ids)
    tracker = session.tracker(list({crew.name: crew for crew, _ in by_crew}.values()))
    results: list[Kickoff] = []
    try:
        for crew, kickoff_id in by_crew:
            results.append(await tracker.track(crew.name, kickoff_id, keep_unknown=False))
    finally:
        await tracker.stop()
    _report(session, results)
    if session.args.exit_status:
        return exit_for(k.state for k in results)
    if any(k.state in (RunState.NOT_FOUND, RunState.LOST) for k in results):
        return int(ExitCode.NOT_FOUND)
    return int(ExitCode.OK)


async def cmd_track(session: Session) -> int:
    """Adopt ids into the history; one the service does not know is refused (exit 4)."""
    ids = [validate_kickoff_id(given) for given in session.args.ids]
    by_crew = _group_by_crew(session, ids)
    tracker = session.tracker(list({crew.name: crew for crew, _ in by_crew}.values()))
    results = []
    try:
        for crew, kickoff_id in by_crew:
            results.append(await tracker.track(crew.name, kickoff_id, keep_unknown=False))
        refused = [k for k in results if not tracker.is_tracked(k.kickoff_id)]
        refused_ids = {k.kickoff_id for k in refused}
    finally:
        await tracker.stop()
    if session.json:
        _report(session, results)
    else:
        for kickoff in results:
            if kickoff.kickoff_id not in refused_ids:
                out(f"tracking {summary_line(kickoff, now_utc())}")
    for kickoff in refused:
        warn(
            f"The {kickoff.crew} crew does not know kickoff {kickoff.kickoff_id} (yet): "
            "check the id; it was not added to the history."
        )
    if any(k.state in (RunState.NOT_FOUND, RunState.LOST) for k in results):
        return int(ExitCode.NOT_FOUND)
    return int(ExitCode.OK)


async def cmd_watch(session: Session) -> int:
    ids = [session.resolve(given) for given in session.args.ids]
    by_crew = _group_by_crew(session, ids)
    crews = list({crew.name: crew for crew, _ in by_crew}.values())
    notices = _notices(session)
    async with session.following(crews, interval=session.args.interval, receive=True) as tracker:
        await tracker.start(resume=False)
        for crew, kickoff_id in by_crew:
            await tracker.track(crew.name, kickoff_id)
        return await _follow(session, tracker, ids, notices)


async def cmd_logs(session: Session) -> int:
    """``logs [-f]``: the run log (``crewtui.log_command``)."""
    from crewtui.log_command import run_logs

    return await run_logs(session)


def _nothing_listed(crew: str | None, url: str | None, states: list[str] | None) -> str:
    """Why ``list`` shows nothing: an empty history, or filters that match no run (then
    "start one" would be wrong advice: the history has runs, just none of these)."""
    asked = [f"--crew {inert_line(crew, 40)}"] if crew is not None else []
    asked = [f"--url {inert_line(url, 200)}"] if url is not None else asked
    asked += [f"--state {state}" for state in dict.fromkeys(states or ())]
    if asked:
        return f"No kickoffs in the history match {' '.join(asked)}."
    return "No kickoffs in the history yet; start one with `crewtui kickoff -i KEY=VALUE`."


async def cmd_list(session: Session) -> int:
    args = session.args
    wanted = set(args.state or ())
    states = [RunState(value) for value in wanted - {STUCK}] if wanted else None
    crew = session.history_crew()
    now = now_utc()
    rule = stall_rule(session.store, session.config)
    if STUCK in wanted:
        # Stuck runs are running ones judged now: read the running rows whole, then cut.
        rows = session.store.list_kickoffs(
            crew=crew,
            states={*(states or ()), RunState.RUNNING},
            archived=None if args.all else False,
        )
        asked = set(states or ())
        rows = [row for row in rows if row.state in asked or rule.judge(row, now)][: args.limit]
    else:
        rows = session.store.list_kickoffs(
            crew=crew, states=states, archived=None if args.all else False, limit=args.limit
        )
    if crew is not None and not rows:
        check_crew_is_known(session, crew)
    if session.json or args.fields:
        fields = args.fields or (*SUMMARY_FIELDS, STUCK)
        emit_json([_list_json(row, fields, rule.judge(row, now)) for row in rows])
        return int(ExitCode.OK)
    if not rows:
        out(_nothing_listed(crew, args.url, args.state))
    for row in rows:
        started = start_text(row, lambda moment: moment.astimezone().strftime("%Y-%m-%d %H:%M"))
        duration = duration_text(row, now)
        task = inert_line(row.current_task or "", 40)
        if restarted := restart_note(row):
            task = f"({restarted}) {task}"
        state = run_state_label(row)
        if (stall := rule.judge(row, now)) is not None:
            state = "maybe stuck"
            task = inert_line(stall.words(), 100)
        crew = pad_cells(crew_cell(row.crew, 16), 16)
        out(
            f"{inert_line(row.kickoff_id[:8])}  {started:<16}  {crew}  "
            f"{state:<12}  {duration:>8}  {task}".rstrip()
        )
    return int(ExitCode.OK)


def stall_rule(store: History, config: Config) -> StallRule:
    """The stall rule over the history's task durations and the config's ``[stall]``."""
    return StallRule(store.task_durations(), config.stall)


def _list_json(row: KickoffSummary, fields: Sequence[str], stall: Stall | None) -> dict[str, Any]:
    """A list row as JSON; ``stuck`` is the stall rule's verdict (null: not stuck)."""
    plain = as_json(row, [name for name in fields if name != STUCK], ("inputs", "meta"))
    verdict = None if stall is None else stall.as_json()
    return {name: verdict if name == STUCK else plain[name] for name in fields}


async def cmd_diff(session: Session) -> int:
    """Two runs of one crew from the history, side by side, and a diff of their outputs."""
    from crewtui.core.compare import compare, load_compared

    left_id, right_id = (session.resolve(given) for given in session.args.ids)
    left, left_output = load_compared(session.store, left_id)
    right, right_output = load_compared(session.store, right_id)
    comparison = compare(left, right, left_output, right_output)
    now, prices = now_utc(), session.config.price_table
    if session.json:
        emit_json(comparison.as_json(now, prices))
        return int(ExitCode.OK)
    _print_comparison(comparison, now, prices)
    return int(ExitCode.OK)


def _print_comparison(comparison: Comparison, now: datetime, prices: Mapping[str, Price]) -> None:
    from crewtui.core.compare import TABLE_COLUMNS, run_line, table_rows

    out(f"{inert_line(comparison.left.crew, 40)}")
    out(f"  A  {run_line(comparison.left, now, prices)}")
    out(f"  B  {run_line(comparison.right, now, prices)}")
    out()
    rows = [
        TABLE_COLUMNS,
        *(tuple(inert_line(cell, 40) for cell in row) for row in table_rows(comparison)),
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_COLUMNS))]
    for row in rows:
        out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if comparison.inputs:
        out()
        out("inputs that differ:")
        for name, left, right in comparison.inputs:
            out(f"  {inert_line(name, 40)}: {_shown_input(left)} → {_shown_input(right)}")
    out()
    if comparison.same_output:
        out("The outputs are the same.")
    else:
        out("output diff:")
        for line in comparison.diff:
            out(inert_line(line, 2000))
    for note in comparison.notes:
        out(f"({note})")


def _shown_input(value: str | None) -> str:
    return "(not given)" if value is None else repr(inert_line(value, 80))


async def cmd_stats(session: Session) -> int:
    """Each crew's runs, success rate, task times, tokens and cost over a window."""
    from crewtui.core.stats import crew_stats

    args = session.args
    store = session.store
    if (crew := session.history_crew()) is not None:
        check_crew_is_known(session, crew)
        crews = [crew]
    else:
        crews = sorted(known_crew_names(session.config) | {name for name, _ in store.crews()})
    now, prices = now_utc(), session.config.price_table
    results = [crew_stats(store, crew, args.window, now, prices) for crew in crews]
    if session.json:
        emit_json([result.as_json() for result in results])
        return int(ExitCode.OK)
    if not results:
        out("No crew in the config or the history yet: `crewtui doctor` says where to add one.")
    for number, result in enumerate(results):
        if number:
            out()
        _print_stats(result)
    return int(ExitCode.OK)


def _print_stats(stats: CrewStats) -> None:
    from crewtui.core.stats import spark

    rate = stats.success_rate
    ended = (
        f"{stats.succeeded} of {stats.ended} ended runs completed ({rate:.0%})"
        if rate is not None
        else "none ended"
    )
    runs = counted(stats.runs, "run")
    out(f"{inert_line(stats.crew, 40)} · last {stats.window.name}: {runs}, {ended}")
    if stats.runs_with_tokens:
        line = (
            f"  tokens: {tokens_text(stats.tokens)} over {counted(stats.runs_with_tokens, 'run')}"
        )
        if stats.cost is not None:
            line += f" · {cost_text(stats.cost)} over {counted(stats.runs_costed, 'priced run')}"
        out(line)
    if stats.runs:
        out(f"  runs    |{spark(stats.runs_per_bucket)}|")
        out(f"  failed  |{spark(stats.failed_per_bucket, max(stats.runs_per_bucket))}|")
    if stats.tasks:
        width = max(len(inert_line(task.task_id, 40)) for task in stats.tasks)
        out(f"  {'task'.ljust(width)}  {'p50':>7}  {'p95':>7}  runs")
        for task in stats.tasks:
            expected = task.expected
            out(
                f"  {inert_line(task.task_id, 40).ljust(width)}  "
                f"{format_duration(expected.p50, precise=True):>7}  "
                f"{format_duration(expected.p95, precise=True):>7}  {expected.samples}"
            )


async def cmd_inbox(session: Session) -> int:
    """The runs waiting for a person (the app's ``i``), the one waiting longest first."""
    crew = session.history_crew()
    rows = waiting_runs(session.store, crew)
    if crew is not None and not rows:
        check_crew_is_known(session, crew)
    if session.json:
        emit_json([as_json(row, SUMMARY_FIELDS, ("inputs", "meta")) for row in rows])
        return int(ExitCode.OK)
    if not rows:
        out("No run is waiting for you.")
        return int(ExitCode.OK)
    now = now_utc()
    for row in rows:
        out(inbox_line(row, now))
    out(
        "Answer one with `crewtui resume KICKOFF_ID --approve` (or --reject), "
        "--feedback TEXT to say more."
    )
    return int(ExitCode.OK)


def check_crew_is_known(session: Session, crew: str) -> None:
    """A ``--crew`` filter that names no crew of the config or the history is a typo, not
    an empty list: say so (exit 2) rather than print nothing and succeed. A crew named by
    ``--url`` is an address, not a typo: it may just have no runs yet."""
    if session.args.url is not None:
        return
    known = known_crew_names(session.config) | {name for name, _ in session.store.crews()}
    if crew in known or session.store.count_kickoffs(crew=crew, archived=None):
        return
    names = ", ".join(sorted(known)) or "none yet"
    raise ConfigError(f"No crew is called {crew!r} in the config or the history (crews: {names}).")


async def cmd_resume(session: Session) -> int:
    """Answer a paused run; the task defaults to the one it waits on.

    ``--feedback`` alone still approves, as before ``--approve`` existed. A run waiting on a
    flow's human-in-the-loop request is answered through the request's callback, with the
    feedback (or "approved" / "rejected" when none is given).
    """
    args = session.args
    if not (args.approve or args.reject or args.feedback is not None):
        raise ConfigError("Say how to answer: --approve or --reject, with --feedback TEXT if any.")
    kickoff_id = session.resolve(args.id)
    stored = session.store.get_kickoff(kickoff_id)
    if stored is None:
        crew: CrewProfile | None = _crew_to_ask(session, kickoff_id)
    else:
        # A flow's request is answered through its callback: no crew is needed (its
        # deployment may be none of the configured crews), and the history says what waits.
        crew = None if flow_request_of(stored) else session.crew_of(kickoff_id)
    tracker = session.tracker([crew] if crew is not None else [])
    try:
        if crew is not None:
            await tracker.track(crew.name, kickoff_id, keep_unknown=False)
            if not tracker.is_tracked(kickoff_id):
                raise NotFoundError(
                    f"The {crew.name} crew does not know kickoff {kickoff_id} and the history "
                    "has no run by that id: check the id; nothing was answered or kept."
                )
        resumed = await tracker.resume(kickoff_id, args.task, args.feedback or "", not args.reject)
    finally:
        await tracker.stop()
    if session.json:
        answer = {
            "kickoff_id": resumed.answered_id,
            "task_id": resumed.task_id,
            "approved": resumed.approved,
            "status": resumed.status,
            "message": resumed.message,
            "continues_as": resumed.continues_as,
            "via": "callback" if resumed.callback else "resume",
            "feedback": resumed.feedback,
        }
        emit_json({**status_json(resumed.kickoff), "answered": answer})
        return int(ExitCode.OK)
    if resumed.callback:
        out(
            f"Answered the flow's request on {inert_line(resumed.task_id, 80) or 'its method'} "
            f"of {inert_line(resumed.answered_id)} through its callback with "
            f"“{inert_line(resumed.feedback, 200)}”; the flow resumes when it takes it in."
        )
        out()
        print_status(resumed.kickoff, now_utc())
        return int(ExitCode.OK)
    verb = "Approved" if resumed.approved else "Rejected"
    out(f"{verb} task {inert_line(resumed.task_id, 80)} of {inert_line(resumed.answered_id)}.")
    if resumed.continues_as is not None:
        new_id = inert_line(resumed.continues_as)
        out(
            f"The run continues as {new_id} (the service gave it a new kickoff id); "
            f"follow it with `crewtui watch {new_id}`."
        )
    elif resumed.status:
        said = f": {inert_line(resumed.message, 200)}" if resumed.message else ""
        out(f"The service says {inert_line(resumed.status, 40)}{said}")
    out()
    print_status(resumed.kickoff, now_utc())
    return int(ExitCode.OK)


def _crew_to_ask(session: Session, kickoff_id: str) -> CrewProfile:
    """The crew asked about a run the history does not hold: only its service can say
    whether it exists and what it waits for.

    Such an id is most often mistyped, or a prefix of a run in another history; so when
    no crew was named and no one crew can be asked (none configured, or several), the id
    is what is said first (exit 4), then what asking a crew would take. A crew named with
    ``--crew`` or ``--url`` that cannot be used is a mistake for sure: said as such (exit 2).
    """
    if session.args.crew is not None or session.args.url is not None:
        return session.crew()
    try:
        return session.crew()
    except ConfigError as error:
        raise NotFoundError(
            f"Kickoff {kickoff_id} is not in the history: check the id; a run started "
            f"elsewhere is asked of its crew, and {sentence(error.message)}"
        ) from None


async def cmd_cancel(session: Session) -> int:
    """Stop runs (experimental). Asks first on a terminal unless ``--yes``; with no terminal
    to ask on, sends nothing. Exit 0 cancelled (now or before), 1 it had already ended."""
    ids = [session.resolve(given) for given in session.args.ids]
    by_crew = _group_by_crew(session, ids)
    if not session.args.yes and not _confirmed(session, by_crew):
        raise ConfigError("Nothing was cancelled: you said no.")
    tracker = session.tracker(list({crew.name: crew for crew, _ in by_crew}.values()))
    outcomes: list[Cancelled] = []
    codes: list[int] = []
    try:
        for crew, kickoff_id in by_crew:
            try:
                outcomes.append(await tracker.cancel(crew.name, kickoff_id))
            except CrewtuiError as error:
                warn(error.message)
                codes.append(int(error.exit_code))
    finally:
        await tracker.stop()
    for outcome in outcomes:
        codes.append(_report_cancel(session, outcome))
    if session.json and outcomes:
        payload = [{**status_json(o.kickoff), "cancel": _cancel_word(o)} for o in outcomes]
        emit_json(payload[0] if len(payload) == 1 else payload)
    return next((int(code) for code in _CANCEL_SEVERITY if code in codes), int(ExitCode.OK))


# The exit code of ``cancel`` with several ids: the gravest that happened.
_CANCEL_SEVERITY = (
    ExitCode.UNREACHABLE,
    ExitCode.TOKEN_REJECTED,
    ExitCode.UNUSABLE_ANSWER,
    ExitCode.NOT_FOUND,
    ExitCode.USAGE,
    ExitCode.RUN_FAILED,
)


def _confirmed(session: Session, by_crew: Sequence[tuple[CrewProfile, str]]) -> bool:
    """Ask on the terminal (stderr, so ``--json`` output stays clean); no terminal, no ask."""
    if sys.stdin is None or not sys.stdin.isatty():
        raise ConfigError(
            "crewtui cancel asks before stopping a run and there is no terminal to ask on, "
            "so nothing was sent: add --yes to cancel without asking."
        )
    now = now_utc()
    described = [_cancel_target(session, crew, kickoff_id, now) for crew, kickoff_id in by_crew]
    if len(described) == 1:
        question = f"Cancel {described[0]}? [y/N] "
    else:
        sys.stderr.write("".join(f"  {line}\n" for line in described))
        question = f"Cancel these {len(described)} runs? [y/N] "
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _cancel_target(session: Session, crew: CrewProfile, kickoff_id: str, now: datetime) -> str:
    """The run a confirmation names: crew, short id, and how long it has run."""
    known = session.store.get_kickoff(kickoff_id)
    if known is None:
        return f"{inert_line(crew.name)} {inert_line(kickoff_id[:8])} (not in the history)"
    duration = duration_text(known, now)
    start = run_start(known)
    if not duration and start is not None:  # pending: no duration yet, but a known send
        duration = f"sent {format_duration((now - start).total_seconds())} ago"
    ran = f", {duration}" if duration else ""
    return f"{inert_line(known.crew)} {known.short_id} ({state_label(known.state)}{ran})"


def _cancel_word(outcome: Cancelled) -> str:
    if outcome.stopped:
        return "stopped"
    state = outcome.kickoff.state
    if state in (RunState.CANCELLED, RunState.COMPLETED, RunState.FAILED):
        return f"already_{state.value}"
    return "refused"


def _report_cancel(session: Session, outcome: Cancelled) -> int:
    """One sentence per run (unless --json); the exit code of that run."""
    kickoff = outcome.kickoff
    run = f"{kickoff.short_id} ({inert_line(kickoff.crew)})"
    state = kickoff.state
    if outcome.stopped or state is RunState.CANCELLED:
        if not session.json:
            duration = duration_text(kickoff, now_utc())
            after = f", after {duration}" if duration else ""
            crew = inert_line(kickoff.crew)
            out(
                f"Cancelled {kickoff.short_id} ({crew}{after}): stopped by you."
                if outcome.stopped
                else f"{run} was already cancelled."
            )
        return int(ExitCode.OK)
    if state in (RunState.COMPLETED, RunState.FAILED):
        warn(f"{run} had already {state.value}; there was nothing to cancel.")
    else:
        warn(
            f"The service refused to stop {run}, saying it has ended; crewtui sees it as "
            f"{STATE_WORDS.get(state, state.value)}: check it with `crewtui status`."
        )
    return int(ExitCode.RUN_FAILED)


async def cmd_doctor(session: Session) -> int:
    """Reachability, token, dialect, required inputs and store health, in one screen."""
    from crewtui.core.doctor import diagnose

    # A crew whose token variable is unset is reported with the others, not a stop; so is
    # a home with no crew at all, with where things would be (a crew named on the command
    # line that is not there is still refused: nothing else would be checked).
    args = session.args
    setup_problems: list[str] = []
    try:
        crews = select_crews(
            session.config, crew=args.crew, url=args.url, token=args.token, require_tokens=False
        )
    except ConfigError as error:
        if args.crew is not None or args.url is not None:
            raise
        said = error.message
        crews, setup_problems = [], [sentence(said[:1].upper() + said[1:])]
    # Nothing would ever write a history that no crew can fill: doctor does not start one.
    unstarted = not crews and history_url(session.config.history) is None
    store = None if unstarted and not session.paths.store_file.exists() else session.store
    report = await diagnose(session.config, session.paths, crews, store, setup_problems)
    if session.json:
        emit_json(report.as_dict())
    else:
        for line in report.lines():
            out(line)
    return report.exit_code


# -- shared pieces ----------------------------------------------------------------------------


def _filled(inputs: dict[str, str]) -> dict[str, str]:
    """Refuse an empty input here: the service treats it as missing, after a round trip."""
    empty = [key for key, value in inputs.items() if not value.strip()]
    if empty:
        names = ", ".join(repr(inert_line(key, 60)) for key in empty)
        raise ConfigError(
            f"The input {names} is empty; give it a value (-i KEY=VALUE) or leave it out."
            if len(empty) == 1
            else f"The inputs {names} are empty; give them values (-i KEY=VALUE) or leave them out."
        )
    return inputs


def _state_id(given: str | None) -> str | None:
    """``--restore-from``: a flow's saved state id, refused here when blank."""
    if given is not None and not given.strip():
        raise ConfigError(
            "--restore-from is empty; give the id of the flow execution whose saved state "
            "to start from, or leave the option out."
        )
    return given.strip() if given is not None else None


def _webhook_urls(task: str | None, step: str | None, crew: str | None) -> WebhookUrls | None:
    if not (task or step or crew):
        return None
    return WebhookUrls(
        task=check_webhook_url(task, "--task-webhook") if task else "",
        step=check_webhook_url(step, "--step-webhook") if step else "",
        crew=check_webhook_url(crew, "--crew-webhook") if crew else "",
    )


def _steps_json(session: Session, kickoff: Kickoff) -> dict[str, int]:
    """How many agent steps the history holds for a run, and how many the cap dropped."""
    stats = session.store.step_stats(kickoff.kickoff_id)
    return {"stored": stats.stored, "dropped": stats.dropped}


def _group_by_crew(session: Session, ids: Sequence[str]) -> list[tuple[CrewProfile, str]]:
    return [(session.crew_of(kickoff_id), kickoff_id) for kickoff_id in ids]


def _report(session: Session, kickoffs: Sequence[Kickoff]) -> None:
    if session.json:
        payload = [status_json(k) | {"steps": _steps_json(session, k)} for k in kickoffs]
        emit_json(payload[0] if len(payload) == 1 else payload)
        return
    now = now_utc()
    for index, kickoff in enumerate(kickoffs):
        if index:
            out()
        print_status(kickoff, now, session.config.price_table)


async def _follow(
    session: Session,
    tracker: Tracker,
    ids: Sequence[str],
    notices: RunNotices | None,
    seen: Callable[[Kickoff], None] | None = None,
) -> int:
    """Print every change of ``ids`` until all are terminal; the exit code says how it ended.

    With ``notices`` (``--notify``), a run's end and each new wait is also a desktop
    notification; ``seen`` is told of each run as printed."""
    wanted = set(ids)
    printed: dict[str, tuple[object, ...]] = {}

    def told(kickoff: Kickoff) -> None:
        _print_change(session, kickoff, printed)
        _notify(session, notices, kickoff)
        if seen is not None:
            seen(kickoff)

    # When each run's polls began failing without a break (monotonic seconds).
    stale_since: dict[str, float] = {}
    queue: asyncio.Queue[TrackerEvent] = asyncio.Queue()
    unsubscribe = tracker.listen(queue.put_nowait)
    deadline = time.monotonic() + session.args.timeout if session.args.timeout else None
    await tracker.start(resume=False)
    try:
        for kickoff_id in ids:
            kickoff = tracker.get(kickoff_id)
            if kickoff is not None:
                told(kickoff)
        while True:
            states = {k: tracker.get(k) for k in wanted}
            if all(k is not None and k.is_terminal for k in states.values()):
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                open_runs = [k for k in states.values() if k is not None and not k.is_terminal]
                warn(_gave_up(session.args.timeout, open_runs))
                return int(ExitCode.TIMED_OUT)
            try:
                # Wake at least every few seconds to check the crews' health.
                wait = 5.0 if remaining is None else min(remaining, 5.0)
                event = await asyncio.wait_for(queue.get(), timeout=wait)
            except TimeoutError:
                _raise_if_crew_down(tracker, {k.crew for k in states.values() if k})
                _raise_if_stale_too_long(states, stale_since)
                continue
            if isinstance(event, KickoffChanged) and event.kickoff.kickoff_id in wanted:
                told(event.kickoff)
            _raise_if_crew_down(tracker, {k.crew for k in states.values() if k})
            _raise_if_stale_too_long(states, stale_since)
        # The end may be merged (a push) before its event is read: print what is unprinted.
        for kickoff_id in ids:
            final = tracker.get(kickoff_id)
            if final is not None:
                told(final)
    finally:
        unsubscribe()
    finals = [tracker.get(k) for k in ids]
    states_final = [k.state for k in finals if k is not None]
    if any(s in (RunState.NOT_FOUND, RunState.LOST) for s in states_final):
        return int(ExitCode.NOT_FOUND)
    if session.args.exit_status:
        return exit_for(states_final)
    return int(ExitCode.OK)


def _notices(session: Session) -> RunNotices | None:
    """``--notify``: what to tell the terminal, as ``[notify] osc`` says; refused when the
    config turned them off (the flag would do nothing)."""
    if not getattr(session.args, "notify", False):
        return None
    setting = session.config.notify.osc
    if setting == "off":
        raise ConfigError(
            f'--notify sends the notifications [notify] osc names, and it is "off" in '
            f'{session.paths.config_file}: set it to "ended", "waiting" or "all", or '
            "drop --notify."
        )
    return RunNotices(setting)


def _notify(session: Session, notices: RunNotices | None, kickoff: Kickoff) -> None:
    """A desktop notification on stderr (the terminal; stdout stays the data), if due."""
    due = notices.due(kickoff) if notices is not None else None
    if due is None:
        return
    title, body = due
    sys.stderr.write(osc_sequence(title, body, session.config.notify.form, tmux=in_tmux()))
    sys.stderr.flush()


def _gave_up(timeout: float, open_runs: Sequence[Kickoff]) -> str:
    """What is true of the runs ``watch --timeout`` leaves: unknown to the service, or going."""
    unknown = [k.kickoff_id for k in open_runs if k.state is RunState.NOT_FOUND]
    going = len(open_runs) - len(unknown)
    facts = []
    if unknown:
        facts.append(f"the service does not know {', '.join(unknown)} yet (check the id)")
    if going:
        facts.append("the run goes on" if going == 1 else f"{going} runs go on")
    return f"Gave up waiting after {timeout:g} s" + (f"; {' and '.join(facts)}." if facts else ".")


def _raise_if_crew_down(tracker: Tracker, crews: set[str]) -> None:
    """A rejected token ends a watch at once (exit 5): waiting would never help.

    An unreachable crew ends it (exit 6) once it has stayed unreachable for
    ``UNREACHABLE_GIVE_UP`` seconds: the tracker has retried with backoff all along. So does
    a crew another process polls for the history when that poller has brought nothing new
    for as long (it may be the one told the crew is down): this process only views it.
    """
    for name in crews:
        health = tracker.health(name)
        stale_for = (now_utc() - health.stale_since).total_seconds() if health.stale_since else 0.0
        if stale_for > give_up_budget():
            told = f" It was told: {health.poller_trouble}" if health.poller_trouble else ""
            raise TransportError(
                f"The {name} crew is polled by {health.poller}, which has brought nothing "
                f"new for {format_duration(stale_for)}.{told} Gave up after "
                f"{give_up_budget():g} s."
            )
        if health.state == "token_rejected":
            raise AuthError(health.message or f"The {name} crew rejected the token.")
        if (
            health.state == "unreachable"
            and health.since is not None
            and (now_utc() - health.since).total_seconds() > give_up_budget()
        ):
            raise TransportError(
                f"{health.message or f'The {name} crew is unreachable.'} "
                f"Gave up after {give_up_budget():g} s of retries."
            )


def _raise_if_stale_too_long(
    states: Mapping[str, Kickoff | None], stale_since: dict[str, float]
) -> None:
    """A run whose polls keep failing ends the watch (exit 7) after the give-up budget.

    A crew that is unreachable or refuses the token is ``_raise_if_crew_down``'s; this is
    the crew that answers, but with something unusable (a web page, a body too big) every
    time: the tracker keeps the run stale and retries, and waiting longer would not help.
    """
    now = time.monotonic()
    for kickoff_id, kickoff in states.items():
        if kickoff is None or kickoff.is_terminal or not kickoff.poll_error:
            stale_since.pop(kickoff_id, None)
            continue
        since = stale_since.setdefault(kickoff_id, now)
        budget = give_up_budget()
        if now - since > budget:
            raise BadResponseError(
                f"{kickoff.poll_error} Gave up on {kickoff_id} after {budget:g} s "
                "without a usable answer."
            )


def _print_change(
    session: Session, kickoff: Kickoff, printed: dict[str, tuple[object, ...]]
) -> None:
    """One line (or JSON object) when the run moved; a ticking duration alone is not news."""
    signature = progress_signature(kickoff)
    if printed.get(kickoff.kickoff_id) == signature:
        return
    printed[kickoff.kickoff_id] = signature
    if session.json:
        out(json.dumps({"event": "changed", **status_json(kickoff)}, ensure_ascii=True))
        return
    clock = datetime.now().strftime("%H:%M:%S")
    line = f"{clock}  {summary_line(kickoff, now_utc())}"
    if kickoff.poll_error:
        line += f"  (stale: {inert_line(kickoff.poll_error, 200)})"
    elif kickoff.error and kickoff.is_terminal:
        line += f"  {inert_line(kickoff.error, 300)}"
    out(line)
