"""``crewtui doctor``: everything that can be wrong, checked in one go.

For each crew: reachable, token accepted, which dialect it speaks, its required inputs;
then the history store (and which process polls each crew for it) and the config file.
Each problem says what to do, one crew's problem never stops the others being checked,
and the verdict at the end (and the exit code) counts every problem the report shows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crewtui.api.client import ClientPolicy, CrewClient
from crewtui.api.errors import ApiError, ExitCode, StoreError
from crewtui.api.profile import CrewProfile
from crewtui.api.sanitize import inert_line
from crewtui.config import Config, Paths, plain_http_warning, unresolved_token
from crewtui.core.format import counted, format_duration
from crewtui.core.history import History
from crewtui.core.store_rows import Lease


@dataclass
class CrewCheck:
    """What doctor found out about one crew."""

    name: str
    url: str
    token: str
    reachable: bool = False
    # What GET / said: "Healthy" (live), None when the deployment has no health check (404).
    health: str | None = None
    dialect: str | None = None
    inputs: list[str] | None = None
    latency_ms: float | None = None
    problems: list[str] = field(default_factory=list)
    exit_code: int = int(ExitCode.OK)

    def add_problem(self, problem: str, code: ExitCode = ExitCode.USAGE) -> None:
        """Record a problem; the crew's exit code is the gravest of its problems'."""
        self.problems.append(problem)
        self.exit_code = max(self.exit_code, int(code))


@dataclass
class DoctorReport:
    crews: list[CrewCheck]
    store: dict[str, Any]
    config_file: str
    config_present: bool = True
    problems: list[str] = field(default_factory=list)
    # Which process polls each crew for the history (its poller lease), live or not.
    leases: list[Lease] = field(default_factory=list)
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def store_ok(self) -> bool:
        return bool(self.store.get("ok"))

    @property
    def problem_count(self) -> int:
        """Every problem the report shows: the crews', the history's and the others."""
        crews = sum(len(check.problems) for check in self.crews)
        return crews + (0 if self.store_ok else 1) + len(self.problems)

    @property
    def exit_code(self) -> int:
        codes = [check.exit_code for check in self.crews if check.exit_code]
        if self.problems or not self.store_ok:
            codes.append(int(ExitCode.USAGE))
        return max(codes, default=int(ExitCode.OK))

    def as_dict(self) -> dict[str, Any]:
        return {
            "config_file": self.config_file,
            "config_present": self.config_present,
            "crews": [vars(check) for check in self.crews],
            "store": self.store,
            "leases": [
                {
                    "crew": lease.crew,
                    "poller": lease.poller,
                    "live": lease.is_live(self.checked_at),
                    "expires_at": lease.expires_at.isoformat(),
                    "refreshed_at": lease.refreshed_at.isoformat() if lease.refreshed_at else None,
                    "trouble": lease.trouble,
                }
                for lease in self.leases
            ],
            "problems": self.problems,
            "ok": self.exit_code == 0,
        }

    def lines(self) -> list[str]:
        """The human report; every value from outside is made inert."""
        config = inert_line(self.config_file)
        if not self.config_present:
            config += " (not present: using the environment and flags)"
        out = [f"config   {config}"]
        for check in self.crews:
            mark = "✔" if not check.problems else "✖"
            out.append(f"{mark} crew {inert_line(check.name)}  {inert_line(check.url)}")
            out.append(f"    token     {inert_line(check.token, 200)}")
            if check.reachable:
                out.append(f"    reachable yes ({check.latency_ms:.0f} ms)")
                out.append(f"    health    {inert_line(check.health or 'no health check (404)')}")
                out.append(f"    dialect   {check.dialect or 'unknown'}")
                names = ", ".join(inert_line(n, 60) for n in check.inputs or []) or "(none)"
                out.append(f"    inputs    {names}")
            out.extend(f"    problem   {inert_line(p, 400)}" for p in check.problems)
        out.extend(self._store_lines())
        out.extend(f"✖ {inert_line(p, 400)}" for p in self.problems)
        out.append(self._verdict())
        return out

    def _store_lines(self) -> list[str]:
        store = self.store
        mark = "✔" if self.store_ok else "✖"
        where = inert_line(str(store.get("path") or "in memory"))
        if store.get("exists") is False:
            return [f"○ history  {where} (none yet: the first kickoff or track starts it)"]
        out = [f"{mark} history  {where}"]
        for key in ("schema_version", "journal_mode", "server", "quick_check", "problem"):
            if store.get(key) is not None:
                out.append(f"    {key:<14} {inert_line(str(store[key]), 400)}")
        counts = store.get("counts")
        if isinstance(counts, dict):
            out.append(f"    {'holds':<14} {describe_counts(counts)}")
        out.extend(
            f"    {'poller':<14} {lease_line(lease, self.checked_at)}" for lease in self.leases
        )
        if not self.store_ok and store.get("problem") is None:
            out.append(
                f"    {'problem':<14} SQLite found damage: keep a copy of the file, then move it "
                "away and crewtui starts a new history"
            )
        return out

    def _verdict(self) -> str:
        count = self.problem_count
        if count == 0:
            return "All good."
        return f"{counted(count, 'problem')} found: see the ✖ lines above."


def describe_counts(counts: dict[str, Any]) -> str:
    """The store's counts in words: "12 kickoffs (2 archived), 30 tasks, 1 step, 3 crews"."""
    parts = []
    kickoffs = counts.get("kickoffs")
    if kickoffs is not None:
        archived = counts.get("archived") or 0
        shown = counted(kickoffs, "kickoff")
        parts.append(f"{shown} ({archived} archived)" if archived else shown)
    parts.extend(
        counted(counts[name], name.removesuffix("s"))
        for name in ("tasks", "steps", "crews")
        if counts.get(name) is not None
    )
    return ", ".join(parts) or "nothing yet"


def lease_line(lease: Lease, now: datetime) -> str:
    """Who polls a crew for the history, and how fresh it left it:
    "research  4242@box polls it, last round 1s ago"."""
    crew = inert_line(lease.crew, 40)
    if lease.is_live(now):
        said = f"{crew}  {lease.poller} polls it"
    else:
        ago = format_duration((now - lease.expires_at).total_seconds())
        said = f"{crew}  nobody polls it ({lease.poller} stopped {ago} ago)"
    if lease.refreshed_at is not None:
        said += f", last round {format_duration((now - lease.refreshed_at).total_seconds())} ago"
    if lease.trouble:
        said += f"; its last round was told: {lease.trouble}"
    return said


async def check_crew(profile: CrewProfile, policy: ClientPolicy) -> CrewCheck:
    """Ask one crew for its inputs (token and reachability) and an unknown id (dialect)."""
    check = CrewCheck(name=profile.name, url=profile.url, token=_token_state(profile))
    unset = unresolved_token(profile)
    if unset is not None:
        # Asking the crew without its token would only add a 401 to the same problem.
        check.add_problem(unset)
        return check
    warning = plain_http_warning(profile)
    if warning:
        check.add_problem(warning)
    async with CrewClient(profile, policy) as client:
        started = time.monotonic()
        try:
            check.inputs = await client.inputs()
            check.reachable = True
            check.latency_ms = (time.monotonic() - started) * 1000
            probe = await client.status(str(uuid.uuid4()))
            check.dialect = probe.dialect.value if probe.dialect else None
        except ApiError as error:
            check.add_problem(error.message, error.exit_code)
            return check
        # GET / answers "Healthy" or 404 depending on the deployment: both are fine, and
        # anything else is said but is no problem (/inputs already proved the token).
        try:
            check.health = await client.health()
        except ApiError as error:
            check.health = f"unknown ({error.message})"
    return check


def _token_state(profile: CrewProfile) -> str:
    """Whether the crew has a token and where it came from; never the token."""
    if profile.token is not None:
        return f"set (from {profile.token_source})" if profile.token_source else "set"
    if profile.token_env is not None:
        return f"missing (${profile.token_env} is not set)"
    return "none (fine if the crew asks for none)"


async def diagnose(
    config: Config,
    paths: Paths,
    crews: Sequence[CrewProfile],
    store: History | None,
    setup_problems: Sequence[str] = (),
) -> DoctorReport:
    """``store`` None: no history exists yet (and none is opened just to be checked);
    ``setup_problems``: what stopped crews being chosen (no crew configured at all)."""
    policy = ClientPolicy(
        deadline=min(config.poll.request_deadline, 15.0),
        max_body_bytes=int(config.poll.max_body_mb * (1 << 20)),
        max_retries=1,
    )
    checks = await asyncio.gather(*(check_crew(crew, policy) for crew in crews))
    problems = list(setup_problems)
    config_file = Path(config.path or paths.config_file)
    if store is None:
        return DoctorReport(
            crews=list(checks),
            store={"path": str(paths.store_file), "ok": True, "exists": False},
            config_file=str(config_file),
            config_present=await asyncio.to_thread(config_file.exists),
            problems=problems,
        )
    try:
        store_health = await asyncio.to_thread(store.health)
        store_health["ok"] = store_health.get("quick_check") in ("ok", None)
    except StoreError as error:
        store_health = {"ok": False, "problem": error.message}
    try:
        leases = await asyncio.to_thread(store.leases)
    except StoreError:
        leases = {}  # the history's own line says what is wrong with it
    if not store.persistent:
        problems.append(
            f"The history could not be opened at {paths.store_file}; nothing is being saved."
        )
    return DoctorReport(
        crews=list(checks),
        store=dict(store_health),
        config_file=str(config_file),
        config_present=await asyncio.to_thread(config_file.exists),
        problems=problems,
        leases=sorted(leases.values(), key=lambda lease: lease.crew),
    )
