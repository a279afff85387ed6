"""crewtui's log file: while it is in force, no library log reaches the terminal, no token
reaches the file, and afterwards the handlers are as they were."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from crewtui.api.redact import REDACTED, redact
from crewtui.core.logs import logs_to_file

TOKEN = "log-canary-token-\u00a0x"


def terminal_stderr() -> TextIO:
    return open(2, "w", encoding="utf-8", closefd=False)


@contextlib.contextmanager
def terminal_handler() -> Iterator[None]:
    """What ``crewtui.cli.main`` sets up: a root handler writing to stderr.

    Made inside the test: pytest swaps ``sys.stderr`` between a fixture and the test.
    Its stream is file descriptor 2 itself, as a real terminal's stderr is (captured)."""
    handler = logging.StreamHandler(terminal_stderr())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def test_every_library_log_goes_to_the_file_redacted_and_none_to_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "logs" / "crewtui.log"
    with terminal_handler():
        with logs_to_file(path, [TOKEN]):
            # (uvicorn's own loggers may have been configured by a simulator in this
            # process: the test after this one covers that case.)
            logging.getLogger("h11").warning("Exceeded concurrency limit.")
            logging.getLogger("httpx").warning("header %r refused", f"Bearer {TOKEN}")
            try:
                raise RuntimeError(f"token={TOKEN}")
            except RuntimeError:
                logging.getLogger("asyncio").exception("Task exception was never retrieved")
            warnings.warn(f"deprecated, {TOKEN}", DeprecationWarning, stacklevel=1)
        assert capfd.readouterr().err == ""
        # Afterwards the terminal handler is back, and the file's is gone.
        logging.getLogger("httpx").warning("after the app")
        assert "after the app" in capfd.readouterr().err
    written = path.read_text(encoding="utf-8")
    for expected in ("Exceeded concurrency limit.", "h11", "httpx", "RuntimeError"):
        assert expected in written
    assert "DeprecationWarning" in written and REDACTED in written
    assert "after the app" not in written
    assert redact(written, [TOKEN]) == written  # no spelling of the token is left
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_logger_that_keeps_its_records_to_itself_is_routed_too(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """As uvicorn's own logging config does: a stderr handler, and no propagation."""
    own = logging.getLogger("crewtui-test.uvicorn")
    own.propagate = False
    own.addHandler(logging.StreamHandler(terminal_stderr()))
    path = tmp_path / "crewtui.log"
    try:
        with logs_to_file(path, []):
            own.warning("Exceeded concurrency limit.")
    finally:
        own.handlers.clear()
    assert capfd.readouterr().err == ""
    assert "Exceeded concurrency limit." in path.read_text(encoding="utf-8")


def test_a_log_file_that_cannot_be_written_still_keeps_the_terminal_clean(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with terminal_handler(), logs_to_file(blocker / "crewtui.log", []):
        logging.getLogger("uvicorn.error").warning("Exceeded concurrency limit.")
    assert capfd.readouterr().err == ""


async def test_an_unretrieved_task_exception_is_logged_to_the_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "crewtui.log"

    async def fails() -> None:
        raise RuntimeError("lost")

    with terminal_handler(), logs_to_file(path, []):
        task = asyncio.get_running_loop().create_task(fails())
        await asyncio.wait({task})
        context = {"message": "Task exception was never retrieved", "exception": task.exception()}
        asyncio.get_running_loop().default_exception_handler(context)
    assert capfd.readouterr().err == ""
    assert "Task exception was never retrieved" in path.read_text(encoding="utf-8")
