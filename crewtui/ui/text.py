"""Untrusted strings as renderables that cannot carry markup or terminal escapes.

``Static("...")`` and ``Label("...")`` parse markup: a stray ``[/bold]`` in an LLM output
raises and takes the app down, and ``[@click=app.quit]`` would become a live action. Every
string from the API, a webhook or the store goes through these helpers instead: the text is
made inert by ``crewtui.api.sanitize`` and wrapped in a ``Text``/``Content`` object, which
no widget parses again.
"""

from __future__ import annotations

import json
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.content import Content

from crewtui.api.sanitize import inert, inert_line


def safe_text(text: str | None, style: str | Style = "") -> Text:
    """Multi-line untrusted text (outputs, errors, messages) as a rich ``Text``."""
    return Text(inert(text or ""), style=style, end="")


def safe_line(text: str | None, style: str | Style = "", *, limit: int | None = 500) -> Text:
    """One line of untrusted text (names, ids, cells): line breaks shown as ⏎, cut long."""
    return Text(inert_line(text, limit), style=style, end="", no_wrap=True)


def safe_content(text: str | None, style: str = "") -> Content:
    """Multi-line untrusted text as a Textual ``Content`` (for ``Static``/``Label``)."""
    return Content.styled(inert(text or ""), style) if style else Content(inert(text or ""))


def safe_line_content(text: str | None, style: str = "", *, limit: int | None = 500) -> Content:
    """One line of untrusted text as a Textual ``Content``."""
    line = inert_line(text, limit)
    return Content.styled(line, style) if style else Content(line)


def pretty_json(value: Any) -> str:
    """A payload as indented JSON, keeping every script readable (not sanitized: raw)."""
    if value is None:
        return ""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    except (TypeError, ValueError):
        return repr(value)
