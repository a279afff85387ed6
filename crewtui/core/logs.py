"""crewtui's log file: where every library's log goes while the app owns the terminal.

While the TUI runs, stderr is the screen: a library's warning written there (uvicorn's,
asyncio's "Task exception was never retrieved", a ``warnings.warn``) draws over the
interface. ``logs_to_file`` sends every Python log record to crewtui's own log file
(``logs/crewtui.log`` in the data directory, rotated, private), with tokens blanked, and
takes the handlers that write to the terminal out for as long as it lasts. The headless
commands keep their one-line warnings on stderr: there stderr is not a screen.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

from crewtui.api.redact import redact
from crewtui.config import Paths, ensure_private_dir

LOG_FILENAME = "crewtui.log"
_MAX_BYTES = 1_000_000
_BACKUPS = 2
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_file(paths: Paths) -> Path:
    """Where the app's log goes: beside the history, in a private directory."""
    return paths.data_dir / "logs" / LOG_FILENAME


class RedactingFormatter(logging.Formatter):
    """Blanks every secret anywhere in the formatted record, traceback included.

    Records are already redacted when made (``crewtui.api.redact``) of the tokens the
    configuration loaded; this also covers the secrets the app names itself."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__(_FORMAT)
        self._secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


@contextlib.contextmanager
def logs_to_file(path: Path, secrets: Iterable[str]) -> Iterator[None]:
    """Every log record goes to ``path`` (or nowhere, if it cannot be written), none to the
    terminal, until the block ends; then the handlers are as they were."""
    handler = _file_handler(path)
    handler.setFormatter(RedactingFormatter(secrets))
    muted = _terminal_handlers()
    for logger, terminal in muted:
        logger.removeHandler(terminal)
    # The root, and any logger that kept its records to itself (uvicorn's own config does).
    fed = [logging.getLogger()]
    fed += [logger for logger, _ in muted if not logger.propagate and logger not in fed]
    for logger in fed:
        logger.addHandler(handler)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for logger in fed:
            logger.removeHandler(handler)
        handler.close()
        for logger, terminal in muted:
            logger.addHandler(terminal)


def _file_handler(path: Path) -> logging.Handler:
    try:
        ensure_private_dir(path.parent)
        # Made 0600 before anything is written: a log may quote a service's answers.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        return RotatingFileHandler(
            path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8"
        )
    except OSError:
        # No log file is a pity; a log drawn over the screen would be worse.
        return logging.NullHandler()


def _terminal_handlers() -> list[tuple[logging.Logger, logging.Handler]]:
    """Every (logger, handler) pair that writes to the process's stdout or stderr."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return [
        (logger, handler)
        for logger in loggers
        for handler in logger.handlers
        if _writes_to_terminal(handler)
    ]


def _writes_to_terminal(handler: logging.Handler) -> bool:
    if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
        return False
    stream = handler.stream
    if stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        return True
    if getattr(stream, "name", None) in ("<stdout>", "<stderr>"):
        return True
    try:
        return stream.fileno() in (1, 2)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
