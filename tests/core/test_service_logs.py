"""``crewtui serve``'s log lines: one line per record, tokens blanked, crew text inert."""

from __future__ import annotations

import json
import logging

from crewtui.core.service_logs import JsonLineFormatter, TextLineFormatter, fields

TOKEN = "tok-" + "s3cr3t" * 4
HOSTILE = "done\x1b]52;c;cGF5bG9hZA==\x07 \u202eevil\nsecond line"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("crewtui.serve", logging.WARNING, __file__, 1, message, args, None)
    for name, value in fields(**extra).items():
        setattr(made, name, value)
    return made


def test_a_json_line_is_one_object_with_the_fields_and_no_token() -> None:
    line = JsonLineFormatter([TOKEN]).format(
        record("poll said %s", f"Bearer {TOKEN}", crew="content", kickoff_id="k-1", note=HOSTILE)
    )
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "crewtui.serve"
    assert entry["ts"].endswith("Z")
    assert entry["crew"] == "content" and entry["kickoff_id"] == "k-1"
    assert entry["message"] == "poll said Bearer [redacted]"
    assert entry["note"] == HOSTILE  # JSON escapes it: faithful, and inert on a terminal
    assert TOKEN not in line and "\x1b" not in line


def test_a_token_in_a_field_or_a_traceback_is_blanked_in_json() -> None:
    try:
        raise RuntimeError(f"header Authorization: Bearer {TOKEN}")
    except RuntimeError:
        import sys

        failing = record("failed", crew=f"x{TOKEN}")
        failing.exc_info = sys.exc_info()
    line = JsonLineFormatter([TOKEN]).format(failing)
    assert TOKEN not in line
    assert "[redacted]" in json.loads(line)["error"]


def test_a_text_line_is_inert_and_redacted() -> None:
    line = TextLineFormatter([TOKEN]).format(
        record("output %s", HOSTILE, crew="my crew", token_was=TOKEN)
    )
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert "\\x1b]52" in line  # shown, not obeyed
    assert 'crew="my crew"' in line
    assert TOKEN not in line and "token_was=[redacted]" in line
    assert " WARNING crewtui.serve: output done" in line
