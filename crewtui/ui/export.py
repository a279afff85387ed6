"""Export one kickoff as Markdown (to read) and JSON (to process), or its output as text.

No Textual here, so the CLI may use it too. Kickoffs never hold a token, so neither does an
export. Text from the API is made inert in the Markdown (people ``cat`` it in a terminal);
the JSON keeps it as data.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from crewtui.api.sanitize import inert, inert_line
from crewtui.core.format import duration_text, format_duration

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff, Step

_SURROGATE = re.compile("[\ud800-\udfff]")


def export_directory(configured: str | None, data_dir: Path) -> Path:
    """Where exports go, as an absolute path: ``[ui] export_dir`` when set, else the user's
    Downloads folder, else Documents, when one exists, else ``data_dir/exports``.

    Never the current directory: the app may have been started anywhere (a repository, a
    read-only mount), and a file dropped there unasked is a surprise.
    """
    if configured is not None:
        return Path(configured).expanduser().absolute()
    for folder in (platformdirs.user_downloads_dir(), platformdirs.user_documents_dir()):
        candidate = Path(folder)
        if candidate.is_dir() and os.access(candidate, os.W_OK):
            return candidate.absolute()
    return (data_dir / "exports").absolute()


def _fence(text: str) -> str:
    """A code fence longer than any backtick run inside ``text``."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{inert(text)}\n{ticks}"


def kickoff_markdown(kickoff: Kickoff, steps: Sequence[Step] = ()) -> str:
    """A readable record of the run: summary, inputs, each task's output, the final output."""
    lines = [
        f"# {inert_line(kickoff.crew)} · {kickoff.kickoff_id}",
        "",
        f"- state: {kickoff.state.value}",
        f"- created: {kickoff.created_at.isoformat()}",
    ]
    duration = duration_text(kickoff, datetime.now(UTC))
    if duration:
        lines.append(f"- duration: {duration}")
    if kickoff.error:
        lines.append(f"- error: {inert_line(kickoff.error)}")
    lines += ["", "## Inputs", ""]
    lines += [
        f"- {inert_line(name)}: {inert_line(value)}" for name, value in kickoff.inputs.items()
    ]
    if not kickoff.inputs:
        lines.append("(none)")
    if kickoff.meta:
        lines += ["", "## Meta", ""]
        lines += [
            f"- {inert_line(name)}: {_meta_text(value)}" for name, value in kickoff.meta.items()
        ]
    for task in kickoff.tasks:
        lines += ["", f"## Task {inert_line(task.task_id)}", ""]
        if task.agent:
            lines.append(f"Agent: {inert_line(task.agent)}")
        if task.execution_time is not None:
            lines.append(f"Time: {format_duration(task.execution_time, precise=True)}")
        if task.output:
            lines += ["", _fence(task.output)]
    if kickoff.output:
        lines += ["", "## Output", "", _fence(kickoff.output)]
    if steps:
        lines += ["", f"## Steps ({len(steps)})", ""]
        lines += [
            f"- {inert_line(step.kind)}: {inert_line(step.thought or step.tool, 200)}"
            for step in steps
        ]
    return "\n".join(lines) + "\n"


def _meta_text(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return inert_line(text)


def kickoff_json(kickoff: Kickoff, steps: Sequence[Step] = ()) -> str:
    """The full record crewtui keeps, with its steps, as indented JSON.

    A lone surrogate (valid in JSON, unencodable in UTF-8) is written as its ``\\u``
    escape, so the file is UTF-8 and reads back to the very same strings.
    """
    # Pydantic's JSON mode raises on a lone surrogate: dump Python values, dates by hand.
    record = kickoff.model_dump()
    record["steps"] = [step.model_dump() for step in steps]
    text = json.dumps(record, indent=2, ensure_ascii=False, default=_iso_or_str)
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def encodable(text: str) -> str:
    """The text as received, but encodable as UTF-8: lone surrogates become U+FFFD.

    For raw text leaving the app (the clipboard): ``str.encode`` raises on a lone
    surrogate, which a JSON answer may legally carry.
    """
    return _SURROGATE.sub("\ufffd", text)


def _iso_or_str(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def export_kickoff(kickoff: Kickoff, steps: Sequence[Step], directory: Path) -> tuple[Path, Path]:
    """Write ``crewtui-<crew>-<id>.md`` and ``.json`` into ``directory``; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"crewtui-{_safe_name(kickoff.crew)}-{_safe_name(kickoff.short_id)}"
    markdown = directory / f"{stem}.md"
    data = directory / f"{stem}.json"
    markdown.write_text(kickoff_markdown(kickoff, steps), encoding="utf-8")
    data.write_text(kickoff_json(kickoff, steps), encoding="utf-8")
    return markdown, data


def _safe_name(text: str) -> str:
    """A file-name part made of letters, digits, dash and underscore only."""
    cleaned = "".join(char if char.isalnum() or char in "-_" else "-" for char in text)
    return cleaned.strip("-")[:40] or "kickoff"
