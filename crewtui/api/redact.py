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

# Replaced, never changed in place, so a thread redacting a log record reads a whole set.
_remembered: frozenset[str] = frozenset()
_log_factory_installed = False


def remember_secret(secret: str) -> None:
    """Redact ``secret`` from every later ``redact`` call and every log record."""
    global _remembered
    if len(secret) < MIN_REDACTED_LENGTH:
        return
    _remembered = _remembered | {secret}
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


@functools.lru_cache(maxsize=256)
def _pattern(secret: str) -> re.Pattern[str]:
    """A regex matching ``secret`` with each character raw or escaped in any common way."""
    return re.compile("".join(_character(char) for char in secret))


def _character(char: str) -> str:
    """Every way one character of a token may be written, as a regex alternation."""
    code = ord(char)
    # One or more backslashes: escaped once (JSON, repr) or again (JSON inside JSON). Each
    # form starts with a literal character, which lets the regex engine skip ahead fast.
    slashes = r"\\\\*"
    forms = [
        re.escape(char),  # raw
        rf"{slashes}(?i:u{code:04x})",  # JSON and Python \uXXXX
        "".join(rf"%(?i:{byte:02x})" for byte in char.encode("utf-8")),  # percent-encoding
        rf"&#0*{code};?",  # HTML decimal reference
        rf"&#(?i:x0*{code:x};?)",  # HTML hexadecimal reference
    ]
    if code < 0x100:
        forms.append(rf"{slashes}(?i:x{code:02x})")  # Python \xXX (repr of str or bytes)
    if char in "\\'\"/":
        forms.append(slashes + re.escape(char))  # a quote, backslash or slash escaped
    if char == " ":
        forms.append(r"\+")  # a space in a query string
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
    """Blank the secrets in a record's message, traceback and stack, as soon as it is made.

    A record without a secret is left as it is. One with a secret keeps its arguments when
    blanking them (and the format string) is enough, since some formatters read them;
    otherwise its message becomes the redacted text. The traceback is formatted now and
    redacted; formatters print ``exc_text`` when it is set, and dropping ``exc_info`` keeps
    handlers that render frames' locals away from the token.
    """
    message = _message(record)
    clean = redact(message)
    if clean != message:
        record.msg, record.args = _redacted_parts(record, clean)
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a bad format string: logging reports it later; keep it as text
        return f"{record.msg!r} % {record.args!r}"


def _redacted_parts(record: logging.LogRecord, clean: str) -> tuple[object, Any]:
    """The record's format string and arguments each redacted, if that removes every secret."""
    if isinstance(record.msg, str) and isinstance(record.args, tuple):
        msg = redact(record.msg)
        args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        try:
            formatted = msg % args if args else msg
        except (TypeError, ValueError):
            return clean, None
        if redact(formatted) == formatted:
            return msg, args
    return clean, None
