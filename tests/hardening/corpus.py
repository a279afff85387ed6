"""Hostile strings, as a server or a webhook could send them, and the check that they are inert.

Shared by the hardening tests of the CLI and the app's tests::

    from tests.hardening.corpus import CORPUS, FORBIDDEN, assert_inert

Each ``Entry`` has a ``name`` (plain ASCII, usable in URLs and test ids), the hostile
``text``, and ``shows``: a short fragment that must appear in human output once the text
is made inert (the control characters written visibly, the markup literally). ``shows``
comes first in ``text`` so that a cut to 40 characters keeps it.

``FORBIDDEN`` is every character that must never reach a terminal: C0 controls other than
TAB and LF, DEL, C1 controls, the bidi embeddings, overrides and isolates, and surrogates
(which cannot even be encoded). ``assert_inert`` accepts text or the raw bytes a process
wrote, and fails naming the first forbidden character and where it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One hostile string and the visible fragment its inert form must contain."""

    name: str
    text: str
    shows: str


def _huge_line() -> str:
    """About 1 MB on one line, an escape sequence every kilobyte: no newline to cut at."""
    block = "A" * 1000 + "\x1b[2J\x1b]52;c;?\x07"
    return "huge:" + block * 1000


CORPUS: tuple[Entry, ...] = (
    Entry("osc52_set_bel", "\x1b]52;c;SGVsbG8=\x07", "\\x1b]52;c;SGVsbG8=\\x07"),
    Entry("osc52_set_st", "\x1b]52;c;SGVsbG8=\x1b\\", "\\x1b]52;c;SGVsbG8=\\x1b\\"),
    Entry("osc52_query_bel", "\x1b]52;c;?\x07", "\\x1b]52;c;?\\x07"),
    Entry("osc52_query_st", "\x1b]52;c;?\x1b\\", "\\x1b]52;c;?\\x1b\\"),
    Entry(
        "osc8_link",
        "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
        "\\x1b]8;;https://evil",
    ),
    Entry("osc0_title", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    Entry("csi_clear", "\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    Entry("alt_screen", "\x1b[?1049h", "\\x1b[?1049h"),
    Entry("dcs", "\x1bP+q544e\x1b\\", "\\x1bP+q544e\\x1b\\"),
    Entry("c1_csi", "\x9b2J", "\\x9b2J"),
    Entry("c1_osc", "\x9d0;title\x9c", "\\x9d0;title\\x9c"),
    Entry("bare_esc", "before\x1bafter", "before\\x1bafter"),
    Entry("nul", "a\x00b", "a\\x00b"),
    Entry("cr_overwrite", "safe text\rEVIL", "safe text\\x0dEVIL"),
    Entry("backspace", "ls\x08\x08rm -rf ~", "ls\\x08\\x08rm"),
    Entry("bell_vt_ff_del", "ding\x07\x0b\x0c\x7f", "ding\\x07\\x0b\\x0c\\x7f"),
    Entry("rlo", "invoice\u202egpj.exe", "invoice<U+202E>gpj.exe"),
    Entry("bidi_isolate", "\u2066abc\u2069", "<U+2066>abc<U+2069>"),
    Entry("lone_surrogate", "x\ud800y", "x\ufffdy"),
    Entry("markup_link", "[link=https://x]click[/link]", "[link=https://x]click"),
    Entry("markup_click", "[@click=app.quit]quit[/]", "[@click=app.quit]quit"),
    Entry("markup_close", "[/bold]", "[/bold]"),
    Entry("huge_line", _huge_line(), "huge:AAAA"),
)

BY_NAME: dict[str, Entry] = {entry.name: entry for entry in CORPUS}

# Every entry but the huge one, in one string: one request carries the whole corpus.
EVERYTHING = Entry(
    "everything",
    "|".join(entry.text for entry in CORPUS if entry.name != "huge_line"),
    BY_NAME["osc52_set_bel"].shows,
)
BY_NAME[EVERYTHING.name] = EVERYTHING

FORBIDDEN: frozenset[str] = frozenset(
    [chr(code) for code in range(0x20) if chr(code) not in "\t\n"]
    + [chr(code) for code in range(0x7F, 0xA0)]
    + [chr(code) for code in range(0x202A, 0x202F)]
    + [chr(code) for code in range(0x2066, 0x206A)]
    + [chr(code) for code in range(0xD800, 0xE000)]
)

# The same as single bytes in UTF-8 output (C1, bidi and surrogates are multi-byte there).
_FORBIDDEN_BYTES = frozenset(code for code in range(0x20) if code not in (0x09, 0x0A)) | {0x7F}


def find_forbidden(text: str | bytes) -> tuple[int, str] | None:
    """The index and repr of the first forbidden byte or character, or None."""
    if isinstance(text, bytes):
        for index, byte in enumerate(text):
            if byte in _FORBIDDEN_BYTES:
                return index, repr(bytes([byte]))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc.start, f"invalid UTF-8 {text[exc.start : exc.end]!r}"
    for index, char in enumerate(text):
        if char in FORBIDDEN:
            return index, repr(char)
    return None


def assert_inert(text: str | bytes) -> None:
    """Fail if ``text`` (or a process's raw output) holds anything a terminal would act on."""
    found = find_forbidden(text)
    if found is not None:
        index, what = found
        context = text[max(index - 30, 0) : index + 30]
        raise AssertionError(f"{what} at {index} reaches the terminal: ...{context!r}...")
