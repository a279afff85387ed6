"""Make untrusted text inert before it reaches a terminal.

Everything the API or a webhook returns was written by a model or a stranger. Rich and
Textual strip only a few control characters: ESC and C1 bytes pass straight to the terminal
(an OSC 52 sequence in an LLM output can write the user's clipboard). These functions turn
every control character into a visible escape such as ``\\x1b``, neutralize bidi overrides,
and replace lone surrogates, so the result is safe to print or to put in a ``rich.text.Text``.
Markup is a separate matter: never pass API text to anything that parses markup.
"""

from __future__ import annotations

import re

# C0 controls except TAB and LF, DEL, C1 controls; bidi embeddings, overrides and isolates;
# lone surrogates (valid in JSON, unprintable and unencodable). One line also shows the
# line and paragraph separators (U+2028, U+2029): a notification or a reader of
# ``crewtui logs`` (Python's splitlines, for one) would break the line there.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CRLF = re.compile("\r\n")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"<U+{code:04X}>"


def _visible_line(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\n":
        return " ⏎ "
    if char == "\t":
        return " "
    return _visible(match)


def inert(text: str) -> str:
    """Text safe for a terminal, keeping line breaks and tabs (for outputs and messages)."""
    if not text:
        return text
    text = _CRLF.sub("\n", text)
    return _UNSAFE.sub(_visible, text)


def inert_line(text: str | None, limit: int | None = None) -> str:
    """One line safe for a terminal (for table cells, titles, agent names, status lines).

    ``limit`` cuts the text first, so a 1 MB line costs no more than a short one.
    """
    if not text:
        return ""
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return _UNSAFE_LINE.sub(_visible_line, _CRLF.sub("\n", text))
