"""The one redaction function: every representation of a token, in text, bodies and logs."""

from __future__ import annotations

import io
import json
import logging
import uuid
from urllib.parse import quote

import pytest

from crewtui.api.redact import REDACTED, redact, redact_bytes, remember_secret

# Characters a repr or JSON escapes (quote, backslash, slash) and one percent-encoding keeps.
TOKEN = "tok-" + uuid.uuid4().hex[:12] + "/'\"\\+x"


def escaped(text: str, template: str) -> str:
    return "".join(template.format(ord(char)) for char in text)


REPRESENTATIONS = {
    "raw": TOKEN,
    "repr": repr(TOKEN),
    "bytes repr": repr(TOKEN.encode()),
    "json": json.dumps(TOKEN),
    "json of json": json.dumps(json.dumps(TOKEN)),
    "repr of json": repr(json.dumps(TOKEN)),
    "every char \\u, lower": escaped(TOKEN, "\\u{:04x}"),
    "every char \\u, upper": escaped(TOKEN, "\\u{:04X}"),
    "every other char \\u": "".join(
        f"\\u{ord(char):04x}" if index % 2 else char for index, char in enumerate(TOKEN)
    ),
    "every char \\x": escaped(TOKEN, "\\x{:02x}"),
    "percent-encoded": quote(TOKEN, safe=""),
    "every byte percent-encoded": escaped(TOKEN, "%{:02X}"),
    "html entities": escaped(TOKEN, "&#{};"),
    "html hex entities": escaped(TOKEN, "&#x{:x};"),
}


@pytest.mark.parametrize("form", REPRESENTATIONS.values(), ids=REPRESENTATIONS.keys())
def test_every_representation_is_redacted(form: str) -> None:
    redacted = redact(f"before {form} after", [TOKEN])
    assert redacted.startswith("before ") and redacted.endswith(" after")
    assert REDACTED in redacted
    assert TOKEN[4:16] not in redacted
    assert "\\u" not in redacted
    assert "%" not in redacted and "&#" not in redacted


def test_a_body_is_redacted_byte_for_byte_elsewhere() -> None:
    """Bytes that are not UTF-8 stay exactly as they were around the redaction."""
    body = b"\xff\xfe{" + escaped(TOKEN, "\\u{:04x}").encode() + b"}\x80 caf\xc3\xa9"
    assert redact_bytes(body, [TOKEN]) == b"\xff\xfe{" + REDACTED.encode() + b"}\x80 caf\xc3\xa9"


def test_a_json_body_stays_json_with_the_token_gone() -> None:
    body = json.dumps({"said": f"you sent Bearer {TOKEN}", "n": 1}, ensure_ascii=True)
    decoded = json.loads(redact_bytes(body.encode(), [TOKEN]))
    assert decoded == {"said": f"you sent Bearer {REDACTED}", "n": 1}


def test_short_secrets_are_left_alone() -> None:
    """A one-letter test token would otherwise blank every "t" of every message."""
    assert redact("the text stays", ["t", "te", ""]) == "the text stays"


def test_remembered_secrets_are_redacted_without_being_passed() -> None:
    secret = "tok-remembered-" + uuid.uuid4().hex
    assert redact(secret) == secret
    remember_secret(secret)
    assert redact(f"x {quote(secret, safe='')} y {escaped(secret, '%{:02x}')}") == (
        f"x {REDACTED} y {REDACTED}"
    )


def test_log_records_are_redacted_for_any_handler() -> None:
    """Message, arguments, traceback and stack: a remembered token leaves in none of them."""
    secret = "tok-logged-" + uuid.uuid4().hex
    remember_secret(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("tests.redact.any_library")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("header %r sent", f"Bearer {secret}", stack_info=True)
        logger.warning("escaped %s", json.dumps(escaped(secret, "\\u{:04x}")))
        try:
            raise RuntimeError(f"Illegal header value b'Bearer {secret}\\r'")
        except RuntimeError:
            logger.exception("request failed for %s", secret)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "Traceback" in text and "RuntimeError" in text and "Stack (most recent" in text
    assert text.count(REDACTED) >= 4
    assert secret[11:] not in text
    assert "\\u" not in text


def test_a_log_record_keeps_its_arguments_when_blanking_them_is_enough() -> None:
    """Formatters that read ``record.args`` (uvicorn's access log does) keep working."""
    secret = "tok-args-" + uuid.uuid4().hex
    remember_secret(secret)
    logger = logging.getLogger("tests.redact.args")
    clean = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "%s %d", ("a", 1), None)
    assert (clean.msg, clean.args) == ("%s %d", ("a", 1))
    request = ("GET", f"/x?t={secret}", 200)
    quoted = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "%s %s %d", request, None)
    assert quoted.args == ("GET", f"/x?t={REDACTED}", 200)
    assert quoted.getMessage() == f"GET /x?t={REDACTED} 200"
    in_an_object = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "headers %r", ({"auth": secret},), None
    )
    assert in_an_object.args is None
    assert in_an_object.getMessage() == f"headers {{'auth': '{REDACTED}'}}"
