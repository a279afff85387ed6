"""A crew's name fits its column in terminal cells, whatever characters it is written in."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from crewtui.core.format import crew_cell


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("127.0.0.1:8799/旅行研究员旅行研究员", "…究员旅行研究员"),  # the end, in 15 cells
        ("127.0.0.1:8799/content", "….1:8799/content"),
        ("旅行研究员旅行研究员旅行", "旅行研究员旅行…"),  # no URL: the start
        ("旅行研究员", "旅行研究员"),
        ("a/" + "b" * 10_000, "…" + "b" * 15),
        ("127.0.0.1:8799/a\x1b[31m", "…:8799/a\\x1b[31m"),  # cut once inert
    ],
)
def test_a_name_is_cut_to_the_cells_of_its_column(name: str, shown: str) -> None:
    assert crew_cell(name, 16) == shown
    assert cell_len(crew_cell(name, 16)) <= 16
