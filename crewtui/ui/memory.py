"""The form's memory: the last inputs and meta used per crew, so the next kickoff is quick.

A small JSON file in the data directory, written by the app only, 0600 (inputs may hold
personal data). A damaged file is forgotten, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crewtui.config import ensure_private_dir

MEMORY_FILENAME = "form-memory.json"


class FormMemory:
    """Last values per crew, ``{crew: {"inputs": {...}, "meta": {...}}}``; sync, use a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(crew): entry for crew, entry in data.items() if isinstance(entry, dict)}

    def inputs(self) -> dict[str, dict[str, str]]:
        """The remembered inputs of every crew (what the form pre-fills)."""
        remembered: dict[str, dict[str, str]] = {}
        for crew, entry in self.load().items():
            values = entry.get("inputs")
            if isinstance(values, dict):
                remembered[crew] = {str(name): str(value) for name, value in values.items()}
        return remembered

    def remember(self, crew: str, inputs: Mapping[str, str], meta: Mapping[str, Any]) -> None:
        """Keep this crew's values, replacing its old ones; written atomically, 0600."""
        data = self.load()
        data[crew] = {"inputs": dict(inputs), "meta": dict(meta)}
        ensure_private_dir(self.path.parent)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".form-memory-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=2)
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
