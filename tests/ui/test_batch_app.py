"""The batch form (``b``) and the batch row above the list, on the simulator: the preview
of the first rows and their count, a batch started and followed to its end through the
tracker, its row's counts, and the list expanded to its runs (``B``) and back."""

from __future__ import annotations

import json
from pathlib import Path

from textual.message import Message
from textual.notifications import Notify
from textual.widgets import DataTable, Input, Select, Static

from crewtui.sim import SimServer
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle
from crewtui.ui.screens.batch_form import BatchForm
from tests.hardening.corpus import EVERYTHING, assert_inert
from tests.ui.app_helpers import AppFactory, sim_crews


def _topics(tmp_path: Path, *topics: str) -> Path:
    path = tmp_path / "topics.csv"
    path.write_text("topic,meta.owner\n" + "".join(f"{t},ana\n" for t in topics), "utf-8")
    return path


def _static(form: BatchForm, selector: str) -> str:
    return str(form.query_one(selector, Static).render())


async def test_a_batch_from_the_form_runs_and_its_row_expands_to_its_runs(
    tmp_path: Path, sim: SimServer, make_app: AppFactory
) -> None:
    path = _topics(tmp_path, "bees", "owls", "ants", "moths", "frogs", "wasps")
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot, lambda: isinstance(app.screen, BatchForm))
        form = app.screen
        assert isinstance(form, BatchForm)
        form.query_one("#batch-path", Input).value = str(path)
        await settle(pilot, lambda: form.previewed == str(path))
        assert _static(form, "#batch-count") == "6 rows, one run each (the first 5 shown)"
        preview = form.query_one("#batch-preview", DataTable)
        assert preview.row_count == 5
        assert [str(c.label) for c in preview.columns.values()] == ["row", "topic", "meta.owner"]
        form.query_one("#crew", Select).value = "research"
        form.query_one("#batch-concurrency", Input).value = "2"
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: app.screen is app.main)

        main = app.main
        await settle(pilot, lambda: "6 done" in _batch_line(app), within=60)
        assert main.batch_rows.option_count == 1
        assert "research" in _batch_line(app) and "topics.csv" in _batch_line(app)

        await pilot.press("B")
        await settle(pilot, lambda: len(main.rows()) == 6 and main.filter.batch is not None)
        batch_id = main.filter.batch
        assert all(row.meta["batch"] == batch_id for row in main.rows())
        assert sorted(row.meta["row"] for row in main.rows()) == [1, 2, 3, 4, 5, 6]
        assert _batch_line(app).startswith("▾")

        await pilot.press("B")
        await settle(pilot, lambda: main.filter.batch is None)
        assert _batch_line(app).startswith("▸")

        # Enter on the batch's row expands it too.
        main.batch_rows.focus()
        await pilot.press("enter")
        await settle(pilot, lambda: main.filter.batch == batch_id and len(main.rows()) == 6)
        # Escape shows every run again, as it clears any filter.
        await pilot.press("escape")
        await settle(pilot, lambda: main.filter.batch is None and _batch_line(app).startswith("▸"))


async def test_the_same_rows_again_say_their_batch_is_resumed_and_start_no_run(
    tmp_path: Path, sim: SimServer, make_app: AppFactory
) -> None:
    path = _topics(tmp_path, "bees", "owls")
    sent_before = len(sim.counts.kickoff_metas)
    notes: list[Message] = []
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 40), notifications=True, message_hook=notes.append) as pilot:
        for _ in range(2):
            await pilot.press("b")
            await settle(pilot, lambda: isinstance(app.screen, BatchForm))
            form = app.screen
            assert isinstance(form, BatchForm)
            form.query_one("#batch-path", Input).value = str(path)
            form.query_one("#crew", Select).value = "research"
            await settle(pilot, lambda: form.previewed == str(path))  # noqa: B023
            await pilot.press("ctrl+s")
            await settle(pilot, lambda: app.screen is app.main)
            await settle(pilot, lambda: "2 done" in _batch_line(app), within=60)
        toasts = [m.notification for m in notes if isinstance(m, Notify)]
        titles = [toast.title for toast in toasts if toast.title.startswith("Batch ")]
        assert titles == ["Batch started", "Batch ended", "Batch resumed", "Batch ended"]
        assert "batched before" in toasts[[t.title for t in toasts].index("Batch resumed")].message
        assert len(sim.counts.kickoff_metas) == sent_before + 2


async def test_a_row_missing_an_input_keeps_the_form_open_and_sends_nothing(
    tmp_path: Path, sim: SimServer, make_app: AppFactory
) -> None:
    path = _topics(tmp_path, "bees", "", "ants")
    sent_before = len(sim.counts.kickoff_metas)
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot, lambda: isinstance(app.screen, BatchForm))
        form = app.screen
        assert isinstance(form, BatchForm)
        form.query_one("#batch-path", Input).value = str(path)
        form.query_one("#crew", Select).value = "research"
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: "Row 2 of" in _static(form, "#batch-message"))
        assert "'topic'" in _static(form, "#batch-message")
        assert app.screen is form
        assert app.main.batch_rows.option_count == 0
    assert len(sim.counts.kickoff_metas) == sent_before


def _batch_line(app: CrewtuiApp) -> str:
    rows = app.main.batch_rows
    if rows.option_count == 0:
        return ""
    return str(rows.get_option_at_index(0).prompt)


async def test_the_preview_shows_hostile_cells_inert(
    tmp_path: Path, sim: SimServer, make_app: AppFactory
) -> None:
    path = tmp_path / "hostile.jsonl"
    record = {EVERYTHING.text[:40]: EVERYTHING.text, "meta.x": EVERYTHING.text}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot, lambda: isinstance(app.screen, BatchForm))
        form = app.screen
        assert isinstance(form, BatchForm)
        form.query_one("#batch-path", Input).value = str(path)
        await settle(pilot, lambda: form.previewed == str(path))
        table = form.query_one("#batch-preview", DataTable)
        shown = [str(cell) for cell in table.get_row_at(0)]
        shown += [str(column.label) for column in table.columns.values()]
        for text in shown:
            assert_inert(text)
        assert any(EVERYTHING.shows in text for text in shown)
