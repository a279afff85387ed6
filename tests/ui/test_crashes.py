"""What the app does with an error nobody expected: it goes on, and tells no secret.

A worker that raises (here a crew client failing in a way no one planned for, quoting the
token) costs its action: one toast, one redacted record in crewtui's log file, the app
keeps running. Any other unhandled error still ends the app, but its dump, printed on the
terminal, has no frame locals and no form of the token (Textual's own dump shows the
locals of every frame: the token came out ten times). And while the app runs, library
logs (uvicorn's, asyncio's) go to that log file, never onto the screen through stderr.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Static

from crewtui.api.client import CrewClient
from crewtui.api.redact import redact
from crewtui.core.logs import log_file
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.kickoff_form import KickoffForm
from crewtui.ui.screens.main import MainScreen
from tests.ui.app_helpers import AppFactory, sim_crews


def contains_secret(text: str, token: str) -> bool:
    """True if any spelling of ``token`` (raw, repr, escaped...) is in ``text``."""
    return redact(text, [token]) != text


def toasts(notes: list[Message], title: str) -> list[str]:
    return [
        m.notification.message
        for m in notes
        if isinstance(m, Notify) and m.notification.title == title
    ]


async def test_an_unexpected_error_in_a_worker_is_one_toast_and_the_app_goes_on(
    sim: SimServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = sim.options.token

    async def unexpected(self: CrewClient) -> list[str]:
        header = f"Bearer {token}\u00a0"  # a local holding the token, as httpx's had
        raise UnicodeEncodeError("ascii", header, len(header) - 1, len(header), header)

    monkeypatch.setattr(CrewClient, "inputs", unexpected)
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(100, 30), notifications=True, message_hook=notes.append) as pilot:
        await pilot.press("n")
        await settle(pilot, lambda: bool(toasts(notes, "Unexpected error")))
        [toast] = toasts(notes, "Unexpected error")
        assert "UnicodeEncodeError" in toast and str(log_file(app.paths)) in toast
        assert not contains_secret(toast, token)
        # Still running and answering keys: the form closes, the list is back.
        assert isinstance(app.screen, KickoffForm)
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is app.main)
        assert app.is_running and app.return_code is None
    logged = log_file(app.paths).read_text(encoding="utf-8")
    assert "an action failed unexpectedly" in logged and "UnicodeEncodeError" in logged
    assert not contains_secret(logged, token)
    [error] = app.unexpected_errors
    assert isinstance(error, UnicodeEncodeError)
    app.unexpected_errors.clear()  # expected here (make_app fails a test on any other)


async def test_an_unexpected_error_reading_the_inputs_is_shown_in_the_form(
    sim: SimServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form does not stay on "Asking the crew for its inputs…": it says what failed."""

    async def unexpected(self: CrewClient) -> list[str]:
        raise RuntimeError("a bug nobody planned for")

    monkeypatch.setattr(CrewClient, "inputs", unexpected)
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        await settle(pilot, lambda: bool(app.unexpected_errors))
        form = app.screen
        assert isinstance(form, KickoffForm)
        hint = str(form.query_one("#required-hint", Static).render())
        assert "Asking the crew" not in hint
        assert "Could not read the crew's inputs" in hint and "KEY=VALUE" in hint
    [error] = app.unexpected_errors
    assert isinstance(error, RuntimeError)
    app.unexpected_errors.clear()  # expected here (make_app fails a test on any other)


async def test_a_fatal_error_dump_holds_no_locals_and_no_token(
    sim: SimServer, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    token = f"crash-canary-{uuid.uuid4().hex}"

    def explode(self: MainScreen) -> None:
        profile = self.tracker.crews["travel"]
        secret = profile.bearer()
        header = f"Bearer {secret}".encode()
        shown_only_as_a_local = "-".join(("only", "in", "locals"))  # noqa: F841
        raise ValueError(f"Illegal header value {header!r}")

    monkeypatch.setattr(MainScreen, "action_new_kickoff", explode)
    app = make_app(sim_crews(sim, token=token))
    with pytest.raises(Exception):  # noqa: B017 (Textual re-raises whatever ended the app)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("n")
            await pilot.pause()
    dump = capsys.readouterr().err
    assert "ValueError" in dump and "Illegal header value" in dump
    assert "explode" in dump  # the frames are there, only their locals are not
    assert "only-in-locals" not in dump
    assert not contains_secret(dump, token)


async def test_library_logs_go_to_the_log_file_while_the_app_runs(
    sim: SimServer, make_app: AppFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    # What crewtui.cli.main sets up: a handler on the terminal's stderr (fd 2, captured).
    terminal = logging.StreamHandler(open(2, "w", encoding="utf-8", closefd=False))  # noqa: SIM115
    logging.getLogger().addHandler(terminal)
    app = make_app(sim_crews(sim))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            logging.getLogger("asyncio").error("Task exception was never retrieved")
            await pilot.pause()
    finally:
        logging.getLogger().removeHandler(terminal)
    assert "never retrieved" not in capfd.readouterr().err
    assert "never retrieved" in log_file(app.paths).read_text(encoding="utf-8")
