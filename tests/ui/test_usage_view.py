"""Tokens and the estimated cost in the app: the detail header, the Tasks tab, the list."""

from __future__ import annotations

from crewtui.api.models import Kickoff
from crewtui.api.rows import Usage
from crewtui.api.states import RunState
from crewtui.core.format import tokens_text
from crewtui.core.pricing import Price
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.widgets.detail import KickoffDetail, header_text
from tests.ui.app_helpers import AppFactory, main_screen, sim_crews
from tests.ui.test_detail import DetailApp, at, done, row_of, screen_lines
from tests.ui.test_detail import settle as settle_detail


def spent(**update: object) -> Kickoff:
    """The reference run, completed, with the tokens each task and the run used."""
    research, planning = done().tasks
    fields: dict[str, object] = {
        "model": "openai/gpt-4o-2024-08-06",
        "usage": Usage(
            total_tokens=12_000,
            prompt_tokens=10_000,
            completion_tokens=2_000,
            successful_requests=7,
        ),
        "tasks": [
            research.model_copy(update={"usage": Usage(total_tokens=3_000)}),
            planning.model_copy(update={"usage": Usage(total_tokens=9_000)}),
        ],
    }
    fields.update(update)
    return done(**fields)


def test_the_header_shows_tokens_and_an_estimate_only_when_the_model_is_known() -> None:
    assert "12k tokens ≈ $0.045 (estimate)" in header_text(spent(), at(200)).plain
    unpriced = header_text(spent(model="my-local-llama"), at(200)).plain
    assert "12k tokens" in unpriced and "$" not in unpriced
    assert "$" not in header_text(spent(model=None), at(200)).plain
    assert "tokens" not in header_text(done(), at(200)).plain
    # The config's prices win over the shipped ones.
    own = {"gpt-4o": Price(5.0, 20.0)}
    assert "≈ $0.090 (estimate)" in header_text(spent(), at(200), prices=own).plain


async def test_the_tasks_tab_has_a_tokens_column_and_bar() -> None:
    app = DetailApp()
    async with app.run_test(size=(110, 30)) as pilot:
        app.detail.show(spent(), now=at(200))
        await settle_detail(pilot)
        lines = screen_lines(app)
        research, planning = row_of(lines, "research_task"), row_of(lines, "planning_task")
        assert "3k" in research and "9k" in planning
        assert any("tokens" in line and "task" in line for line in lines)
        # The hungriest task fills its token bar; the other a third of it.
        assert "█████" in planning and "█▋" in research and "██" not in research.split("3k")[1][:7]
        assert "12k tokens ≈ $0.045 (estimate)" in "\n".join(lines)
        # A run with no token counts keeps the Gantt as it was.
        app.detail.show(done(), now=at(200))
        await settle_detail(pilot)
        assert not any("tokens" in line for line in screen_lines(app))


async def test_a_run_shows_its_tokens_in_the_header_and_the_list_on_a_key(
    sim: SimServer, make_app: AppFactory
) -> None:
    """Live polls carry the run's usage_metrics: the header shows the tokens (no model is
    named without events, so no estimate), and T shows the list's tokens column."""
    app = make_app(sim_crews(sim))
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await main_screen(pilot)
        kickoff = await app.tracker.kickoff("travel", sim.sample_inputs("travel"))

        def ended() -> Kickoff | None:
            known = app.tracker.get(kickoff.kickoff_id)
            return known if known is not None and known.state is RunState.COMPLETED else None

        await settle(pilot, lambda: ended() is not None and screen.selected is not None)
        finished = ended()
        assert finished is not None and finished.usage is not None
        total = tokens_text(finished.usage.total_tokens or 0)
        detail = screen.query_one(KickoffDetail)
        await settle(
            pilot, lambda: f"{total} tokens" in str(detail.query_one("#detail-header").render())
        )
        assert "estimate" not in str(detail.query_one("#detail-header").render())
        assert not screen.kickoffs.show_tokens
        await pilot.press("T")
        await settle(pilot, lambda: screen.kickoffs.show_tokens)
        row = screen.kickoffs.cells(kickoff.kickoff_id)
        assert list(row)[-1] == "tokens" and row["tokens"].plain == total
        await pilot.press("T")
        await settle(pilot, lambda: not screen.kickoffs.show_tokens)
        assert "tokens" not in screen.kickoffs.cells(kickoff.kickoff_id)
        assert "tokens" not in screen.kickoffs.column_keys
