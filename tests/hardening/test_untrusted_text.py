"""Text from the API reaches the terminal inert, and ``--json`` and the store keep it exact.

Every corpus string (``corpus.py``) is served by a real hostile crew (``hostile_crew.py``)
in every field of every answer, in both dialects. The CLI's human output (stdout and
stderr, as bytes) must hold none of the forbidden characters and must show the text
visibly; ``--json`` output and the store must give back exactly what the server sent.
The big matrix runs the CLI in-process (fast); a smaller set runs it as a real process.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crewtui.api.errors import ExitCode
from crewtui.api.sanitize import inert, inert_line
from crewtui.core.store import Store
from crewtui.headless import emit_json
from tests.cli_helpers import QUICK_POLLS
from tests.hardening.cli_support import NO_BACKOFF, Cli, Outcome, run_process
from tests.hardening.corpus import BY_NAME, CORPUS, EVERYTHING, Entry, assert_inert
from tests.hardening.hostile_crew import HostileCrew, inputs_body, selected, status_body

DIALECTS = ("live", "documented")
TOKEN = "tok-hardening-0000"

# Each entry with every field hostile at once (live); the whole corpus in one string in both
# dialects, with every command; the 1 MB line a few groups of fields at a time (all at once
# would exceed the client's body cap, which is a protection too). Documented answers carry no
# meta or step.
FULL = {EVERYTHING.name, "huge_line"}
HUGE_GROUPS = ("output", "names", "message+extra+inputs", "meta+step")
CASES = [
    *(("live", entry.name, "all") for entry in CORPUS if entry.name != "huge_line"),
    ("documented", EVERYTHING.name, "all"),
    *(("live", "huge_line", fields) for fields in HUGE_GROUPS),
    *(("documented", "huge_line", fields) for fields in HUGE_GROUPS[:3]),
]


def check_human(
    outcome: Outcome, entry: Entry, visible: bool, code: ExitCode = ExitCode.OK
) -> None:
    """The expected exit; nothing a terminal acts on in stdout or stderr; the text shown."""
    assert outcome.code == code, outcome.err
    assert_inert(outcome.stdout)
    assert_inert(outcome.stderr)
    if visible:
        assert entry.shows in outcome.out + outcome.err


def new_id() -> str:
    return str(uuid.uuid4())


# -- the building blocks -------------------------------------------------------------------------


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.name)
def test_inert_and_inert_line_leave_nothing_forbidden(entry: Entry) -> None:
    assert_inert(inert(entry.text))
    assert_inert(inert_line(entry.text))
    assert entry.shows in inert(entry.text)
    assert entry.shows in inert_line(entry.text, 60)


def test_one_line_stays_one_line_for_readers_that_split_at_unicode_separators() -> None:
    line = inert_line("done\u2028EVIL 12:00 forged\u2029line")
    assert line.splitlines() == [line]
    assert line == "done<U+2028>EVIL 12:00 forged<U+2029>line"


def test_the_corpus_check_catches_every_forbidden_entry() -> None:
    """The checker itself: each control-bearing entry, unsanitized, is caught."""
    plain = {"markup_link", "markup_click", "markup_close"}
    for entry in CORPUS:
        if entry.name in plain:
            assert_inert(entry.text)
        else:
            with pytest.raises(AssertionError):
                assert_inert(entry.text)


def test_emit_json_is_faithful_and_ascii(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    values = {entry.name: entry.text for entry in CORPUS}
    emit_json({"keys": {text: name for name, text in values.items()}, "values": values})
    printed = capsysbinary.readouterr().out
    assert printed.isascii()
    assert_inert(printed)
    assert json.loads(printed) == {
        "keys": {text: name for name, text in values.items()},
        "values": values,
    }


# -- every field of every answer, in-process ------------------------------------------------


@pytest.mark.parametrize(("dialect", "case", "fields"), CASES)
def test_every_field_is_shown_inert_and_kept_exact(
    hostile_crew: HostileCrew, cli: Cli, home: Path, dialect: str, case: str, fields: str
) -> None:
    entry = BY_NAME[case]
    text = entry.text

    def crew(mode: str) -> list[str]:
        return ["--url", hostile_crew.url(dialect, mode, case, fields), "--token", TOKEN]

    done_id, failed_id = new_id(), new_id()
    done = cli("status", done_id, *crew("done"))
    check_human(done, entry, selected(fields, "output"))
    if selected(fields, "names"):
        assert entry.shows in done.out.split("\n\n")[0], "task id and agent are shown"
    check_status_json(cli("status", done_id, "--json", *crew("done")), dialect, text, fields)

    failed = cli("watch", failed_id, "--exit-status", *crew("failed"))
    check_human(failed, entry, selected(fields, "message"), ExitCode.RUN_FAILED)
    failed_json = json.loads(cli("status", failed_id, "--json", *crew("failed")).stdout)
    assert failed_json["raw"] == status_body(dialect, "failed", text, fields)
    if selected(fields, "message"):
        assert failed_json["error"] == text

    running = cli("status", new_id(), *crew("running"))
    check_human(running, entry, selected(fields, "names"))
    inputs = cli("inputs", *crew("done"))
    check_human(inputs, entry, selected(fields, "inputs"))
    if case in FULL:
        check_other_commands(cli, entry, fields, crew)

    store = Store.open(home / "data" / "history.sqlite3")
    try:
        check_store(store, dialect, text, fields, done_id, failed_id)
    finally:
        store.close()


def check_status_json(outcome: Outcome, dialect: str, text: str, fields: str) -> None:
    """``status --json`` is ASCII and gives back every string exactly."""
    assert outcome.code == ExitCode.OK, outcome.err
    assert outcome.stdout.isascii()
    status = json.loads(outcome.stdout)
    assert status["raw"] == status_body(dialect, "done", text, fields)
    if selected(fields, "output"):
        assert status["output"] == text
        assert status["tasks"][0]["output"] == text
    if selected(fields, "names"):
        assert status["tasks"][0]["task_id"] == text
        assert status["tasks"][0]["agent"] == text


def check_other_commands(
    cli: Cli, entry: Entry, fields: str, crew: Callable[[str], list[str]]
) -> None:
    """track, list, doctor and the JSON of inputs and watch, for the cases that hold it all."""
    for outcome in (
        cli("track", new_id(), *crew("running")),
        cli("list"),
        cli("list", "--all", "--state", "running"),
    ):
        check_human(outcome, entry, visible=False)
    doctor = cli("doctor", *crew("done"))
    check_human(doctor, entry, selected(fields, "inputs"))
    inputs = json.loads(cli("inputs", "--json", *crew("done")).stdout)
    assert inputs["inputs"] == inputs_body(entry.text, fields)["inputs"]
    lines = cli("watch", new_id(), "--json", *crew("failed")).stdout.splitlines()
    assert json.loads(lines[-1])["state"] == "failed"
    listed = json.loads(cli("list", "--json").stdout)
    assert {row["state"] for row in listed} == {"completed", "failed", "running"}


def check_store(
    store: Store, dialect: str, text: str, fields: str, done_id: str, failed_id: str
) -> None:
    """The store gives back every string exactly, lone surrogates included."""
    done = store.get_kickoff(done_id)
    failed = store.get_kickoff(failed_id)
    assert done is not None and failed is not None
    assert done.raw == status_body(dialect, "done", text, fields)
    assert failed.raw == status_body(dialect, "failed", text, fields)
    if selected(fields, "output"):
        assert done.output == text
        assert done.tasks[0].output == text
    if selected(fields, "names"):
        assert done.tasks[0].task_id == text
        assert done.tasks[0].agent == text
    if selected(fields, "message"):
        assert failed.error == text


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("entry", [*CORPUS, EVERYTHING], ids=lambda e: e.name)
def test_server_errors_reach_stderr_inert(
    hostile_crew: HostileCrew, cli: Cli, dialect: str, entry: Entry
) -> None:
    def crew(mode: str) -> list[str]:
        fields = "output" if entry.name == "huge_line" else "all"
        return ["--url", hostile_crew.url(dialect, mode, entry.name, fields), "--token", TOKEN]

    outcomes = [
        (cli("inputs", *crew("http500")), ExitCode.UNREACHABLE),
        (cli("kickoff", "-i", "topic=x", *crew("http422")), ExitCode.USAGE),
    ]
    if entry.name in FULL:
        outcomes += [
            (cli("status", new_id(), *crew("http500")), ExitCode.UNREACHABLE),
            (cli("kickoff", "-i", "topic=x", *crew("http500")), ExitCode.UNREACHABLE),
            (cli("doctor", *crew("http500")), ExitCode.UNREACHABLE),
        ]
    for outcome, code in outcomes:
        check_human(outcome, entry, visible=False, code=code)
        assert "Traceback" not in outcome.err
    # Live errors are plain text, shown as an excerpt with whitespace (CR, VT, FF) collapsed.
    if dialect == "documented" and entry.name != "huge_line":
        assert entry.shows in outcomes[0][0].err


@pytest.mark.parametrize("entry", [*CORPUS, EVERYTHING], ids=lambda e: e.name)
def test_a_hostile_kickoff_id_is_refused_and_never_printed(
    hostile_crew: HostileCrew, cli: Cli, entry: Entry
) -> None:
    """An id that is not an id is an unusable answer (exit 7) after which the run may have
    started: the attempt is kept as "may have started", and nothing of the id reaches the
    terminal."""
    url = hostile_crew.url("live", "badid", entry.name)
    started = cli("kickoff", "-i", "topic=x", "--url", url, "--token", TOKEN)
    check_human(started, entry, visible=False, code=ExitCode.UNUSABLE_ANSWER)
    assert "may have started" in started.err
    listed = cli("list", "--json")
    rows = json.loads(listed.out)
    assert [row["submission"] for row in rows] == ["uncertain"]


# -- a real process: the bytes a terminal would get -------------------------------------------


def process_crew(hostile_crew: HostileCrew, dialect: str, mode: str, entry: Entry) -> list[str]:
    fields = "output" if entry.name == "huge_line" else "all"
    return ["--url", hostile_crew.url(dialect, mode, entry.name, fields), "--token", TOKEN]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_real_process_writes_no_control_bytes(
    hostile_crew: HostileCrew, home: Path, dialect: str
) -> None:
    entry = EVERYTHING

    def crew(mode: str) -> list[str]:
        return process_crew(hostile_crew, dialect, mode, entry)

    kicked = run_process(home, "kickoff", "-i", "topic=x", "--watch", *QUICK_POLLS, *crew("done"))
    check_human(kicked, entry, visible=False)
    kickoff_id = kicked.out.split()[1]
    runs: list[tuple[Outcome, ExitCode, bool]] = [
        (run_process(home, "status", kickoff_id, *crew("done")), ExitCode.OK, True),
        (run_process(home, "watch", new_id(), *QUICK_POLLS, *crew("failed")), ExitCode.OK, True),
        (run_process(home, "track", new_id(), *crew("running")), ExitCode.OK, dialect == "live"),
        (run_process(home, "list"), ExitCode.OK, False),
        (run_process(home, "doctor", *crew("done")), ExitCode.OK, True),
        (run_process(home, "inputs", *crew("done")), ExitCode.OK, True),
        (
            run_process(home, "inputs", *crew("http500"), env=NO_BACKOFF),
            ExitCode.UNREACHABLE,
            dialect == "documented",
        ),
    ]
    for outcome, code, visible in runs:
        check_human(outcome, entry, visible, code)
    as_json = run_process(home, "status", kickoff_id, "--json", *crew("done"))
    assert json.loads(as_json.stdout)["output"] == entry.text
    assert json.loads(as_json.stdout)["raw"] == status_body(dialect, "done", entry.text, "all")


def test_a_real_process_shows_a_one_megabyte_line_inert(
    hostile_crew: HostileCrew, home: Path
) -> None:
    entry = BY_NAME["huge_line"]
    crew = process_crew(hostile_crew, "live", "done", entry)
    started = run_process(home, "kickoff", "-i", "topic=x", "--watch", *QUICK_POLLS, *crew)
    assert started.code == ExitCode.OK, started.err
    kickoff_id = started.out.split()[1]
    shown = run_process(home, "status", kickoff_id, *crew)
    check_human(shown, entry, visible=True)
    assert inert(entry.text) in shown.out
    as_json: dict[str, Any] = json.loads(
        run_process(home, "status", kickoff_id, "--json", *crew).stdout
    )
    assert as_json["output"] == entry.text
