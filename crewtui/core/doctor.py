"""``crewtui doctor``: everything that can be wrong, checked in one go.

For each crew: reachable, token accepted, which dialect it speaks, its required inputs;
then the history store and the config file. Each problem says what to do.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crewtui.api.client import ClientPolicy, CrewClient
from crewtui.api.errors import ApiError, ExitCode, StoreError
from crewtui.api.profile import CrewProfile
from crewtui.api.sanitize import inert_line
from crewtui.config import Config, Paths, plain_http_warning
from crewtui.core.store import Store


@dataclass
class CrewCheck:
    """What doctor found out about one crew."""

    name: str
    url: str
    token: str
    reachable: bool = False
    dialect: str | None = None
    inputs: list[str] | None = None
    latency_ms: float | None = None
    problems: list[str] = field(default_factory=list)
    exit_code: int = int(ExitCode.OK)


@dataclass
class DoctorReport:
    crews: list[CrewCheck]
    store: dict[str, Any]
    config_file: str
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        codes = [check.exit_code for check in self.crews if check.exit_code]
        if self.problems:
            codes.append(int(ExitCode.USAGE))
        return max(codes, default=int(ExitCode.OK))

    def as_dict(self) -> dict[str, Any]:
        return {
            "config_file": self.config_file,
            "crews": [vars(check) for check in self.crews],
            "store": self.store,
            "problems": self.problems,
            "ok": self.exit_code == 0,
        }

    def lines(self) -> list[str]:
        """The human report; every value from outside is made inert."""
        out = [f"config   {inert_line(self.config_file)}"]
        for check in self.crews:
            mark = "✔" if not check.problems else "✖"
            out.append(f"{mark} crew {inert_line(check.name)}  {inert_line(check.url)}")
            out.append(f"    token     {check.token}")
            if check.reachable:
                out.append(f"    reachable yes ({check.latency_ms:.0f} ms)")
                out.append(f"    dialect   {check.dialect or 'unknown'}")
                names = ", ".join(inert_line(n, 60) for n in check.inputs or []) or "(none)"
                out.append(f"    inputs    {names}")
            out.extend(f"    problem   {inert_line(p, 400)}" for p in check.problems)
        store = self.store
        mark = "✔" if store.get("ok") else "✖"
        out.append(f"{mark} history  {inert_line(str(store.get('path', 'in memory')))}")
        for key in ("schema_version", "journal_mode", "counts", "quick_check"):
            if key in store:
                out.append(f"    {key:<14} {inert_line(str(store[key]))}")
        out.extend(f"✖ {inert_line(p, 400)}" for p in self.problems)
        if self.exit_code == 0:
            out.append("All good.")
        return out


async def check_crew(profile: CrewProfile, policy: ClientPolicy) -> CrewCheck:
    """Ask one crew for its inputs (token and reachability) and an unknown id (dialect)."""
    token = "set" if profile.token else "missing"
    if profile.token and profile.token_env:
        token += f" (from ${profile.token_env})"
    check = CrewCheck(name=profile.name, url=profile.url, token=token)
    warning = plain_http_warning(profile)
    if warning:
        check.problems.append(warning)
    if profile.token is None:
        check.problems.append(
            "No token: set CREWAI_BEARER_TOKEN or the crew's token in the config file."
        )
    async with CrewClient(profile, policy) as client:
        started = time.monotonic()
        try:
            check.inputs = await client.inputs()
            check.reachable = True
            check.latency_ms = (time.monotonic() - started) * 1000
            probe = await client.status(str(uuid.uuid4()))
            check.dialect = probe.dialect.value if probe.dialect else None
        except ApiError as error:
            check.problems.append(error.message)
            check.exit_code = int(error.exit_code)
    return check


async def diagnose(
    config: Config, paths: Paths, crews: Sequence[CrewProfile], store: Store
) -> DoctorReport:
    policy = ClientPolicy(deadline=min(config.poll.request_deadline, 15.0), max_retries=1)
    checks = await asyncio.gather(*(check_crew(crew, policy) for crew in crews))
    try:
        store_health = await asyncio.to_thread(store.health)
        store_health["ok"] = store_health.get("quick_check") in ("ok", None)
    except StoreError as error:
        store_health = {"ok": False, "problem": error.message}
    problems = []
    if store.path is None:
        problems.append(
            f"The history could not be opened at {paths.store_file}; nothing is being saved."
        )
    return DoctorReport(
        crews=list(checks),
        store=dict(store_health),
        config_file=str(config.path or paths.config_file),
        problems=problems,
    )
