"""The one place a token is blanked out of text that leaves the process.

A token can leave in more shapes than its raw value: Python's ``repr`` (of a str or of
bytes), JSON with any of its characters written as ``\\uXXXX`` (once or escaped again),
percent-encoding, HTML character references. ``redact`` matches every one of them, even
mixed character by character, so a server that echoes the token back in an odd encoding,
an exception that quotes a header, or a log line cannot carry it out.

Which secrets: the ones a caller passes, plus every token the configuration loaded
(``remember_secret``). Remembering the first token also makes every log record redacted
from then on (a log record factory, so it holds whatever handlers are configured later,
by crewtui or by a library).
"""

from __future__ import annotations

import functools
import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
# Real AMP tokens are long; shorter values are test tokens, and blanking every "t" of a body
# for a one-letter token would destroy the text without protecting anything.
MIN_REDACTED_LENGTH = 8

_remembered: set[str] = set()
_log_factory_installed = False


def remember_secret(secret: str) -> None:
    """Redact ``secret`` from every later ``redact`` call and every log record."""
    if len(secret) < MIN_REDACTED_LENGTH:
        return
    _remembered.add(secret)
    _install_log_redaction()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every representation of each secret (and each remembered one) blanked."""
    for secret in sorted({*secrets, *_remembered}, key=len, reverse=True):
        if len(secret) >= MIN_REDACTED_LENGTH:
            text = _pattern(secret).sub(REDACTED, text)
    return text


def redact_bytes(data: bytes, secrets: Iterable[str] = ()) -> bytes:
    """``redact`` for a body: byte for byte the same except where a secret was.

    Latin-1 maps every byte to one character and back, so any body (UTF-8 or not) survives.
    """
    return redact(data.decode("latin-1"), secrets).encode("latin-1")


@functools.lru_cache(maxsize=32)
def _pattern(secret: str) -> re.Pattern[str]:
    """A regex matching ``secret`` with each character raw or escaped in any common way."""
    return re.compile("".join(_character(char) for char in secret))


def _character(char: str) -> str:
    """Every way one character of a token may be written, as a regex alternation."""
    code = ord(char)
    # One or more backslashes: escaped once (JSON, repr) or again (JSON inside JSON).
    slashes = r"\\\\*"
    forms = [re.escape(char), rf"{slashes}(?i:u{code:04x})", rf"&#0*{code};?"]
    forms.append(rf"&#(?i:x0*{code:x};?)")
    if code < 0x100:
        forms.append(rf"{slashes}(?i:x{code:02x})")
    if char in "\\'\"/":
        forms.append(slashes + re.escape(char))
    percent = "".join(rf"%(?i:{byte:02x})" for byte in char.encode("utf-8"))
    forms.append(percent)
    if char == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


def _install_log_redaction() -> None:
    """Make every log record, from any logger, carry its message already redacted."""
    global _log_factory_installed
    if _log_factory_installed:
        return
    _log_factory_installed = True
    make_record = logging.getLogRecordFactory()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(redacted_record)


def redact_record(record: logging.LogRecord) -> None:
    """Format the record's message, traceback and stack now, each redacted.

    Formatters print ``exc_text`` when it is set, so the traceback they show is this one.
    """
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what there is, as text
        message = f"{record.msg!r} % {record.args!r}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        # The exception itself stays out of reach of handlers that render its frames' locals.
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
