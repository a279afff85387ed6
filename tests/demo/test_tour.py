"""The README's tour and screenshots/ agree: every picture is shown, none is missing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_tour_shows_every_screenshot_with_a_sentence() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| !\[[^\]]+\]\((screenshots/[^)]+\.svg)\) \| (.+) \|$", readme, re.M)
    shown = {path for path, _ in rows}
    on_disk = {f"screenshots/{path.name}" for path in (ROOT / "screenshots").glob("*.svg")}
    assert shown == on_disk
    assert all(sentence.strip().endswith(".") for _, sentence in rows)


def test_the_readme_links_only_files_of_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    local = re.findall(r"\]\(((?!https?:)[^)#]+)\)", readme)
    assert "ARCHITECTURE.md" in local and "LICENSE" in local
    assert [link for link in local if not (ROOT / link).exists()] == []
