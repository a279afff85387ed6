"""A flow run in the app: its methods on the Tasks tab, a run the service restarted under
the same id reads "restarted" in the list and the detail header, and a flow waiting for its
reviewer is answered with ``a`` like a paused crew."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Input, Static

from crewtui.api.models import Kickoff
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.api.states import RunState
from crewtui.core.webhooks import WebhookReceiver
from crewtui.sim import SimServer
from crewtui.ui.pilot import settle
from crewtui.ui.screens.kickoff_form import KickoffForm
from crewtui.ui.screens.main import MainScreen
from tests.ui.app_helpers import AppFactory, main_screen
from tests.ui.test_answer import header, open_answer
from tests.ui.test_detail import screen_text

FLOW = "onboarding"
METHODS = ["collect_profile", "verify_identity", "approve_account", "send_welcome"]


async def test_a_flow_shows_its_methods_and_a_restarted_run_reads_restarted(
    sim_documented: SimServer, make_app: AppFactory
) -> None:
    """Documented polls list every method of a finished run, and have no word for flows:
    what says "flow" here is the answer to a kickoff that reused the run's id."""
    sim = sim_documented
    flow = CrewProfile(name=FLOW, url=sim.crew_url(FLOW), token=Secret(sim.options.token))
    app = make_app([flow])
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await main_screen(pilot)
        first = await app.tracker.kickoff(FLOW, {"hold": "0"})
        kickoff_id = first.kickoff_id

        def known() -> Kickoff:
            kickoff = app.tracker.get(kickoff_id)
            assert kickoff is not None
            return kickoff

        def shows(*texts: str) -> bool:
            shown = screen_text(app)
            return all(text in shown for text in texts)

        await settle(pilot, lambda: known().state is RunState.COMPLETED and shows(*METHODS))
        assert "restarted" not in screen_text(app)

        again = await app.tracker.kickoff(FLOW, {"hold": "0", "id": kickoff_id})
        assert again.kickoff_id == kickoff_id
        await settle(pilot, lambda: known().state is RunState.COMPLETED and shows(*METHODS))
        await settle(pilot, lambda: shows("onboarding flow", "restarted", "attempt 1: ✓ completed"))
        lines = screen_text(app).splitlines()
        # The Tasks tab titles its rows as methods; the list's row reads restarted too.
        assert any("method" in line and "state" in line for line in lines)
        listed = [line.split("││")[0] for line in lines]
        row = next(line for line in listed if kickoff_id[:8] in line and "restarted" in line)
        assert "✓ completed" in row
        assert screen.selected is not None and screen.selected.kickoff_id == kickoff_id


async def test_a_paused_flow_waits_on_its_method_and_is_answered_with_a(
    sim: SimServer, make_app: AppFactory
) -> None:
    flow = CrewProfile(name=FLOW, url=sim.crew_url(FLOW), token=Secret(sim.options.token))
    app = make_app([flow])
    async with app.run_test(size=(150, 36)) as pilot:
        screen = await main_screen(pilot)
        kickoff = await app.tracker.kickoff(FLOW, dict(sim.sample_inputs(FLOW)))
        paused = kickoff.kickoff_id
        await settle(pilot, lambda: paused in screen.kickoffs)
        screen.kickoffs.select(paused)
        await settle(
            pilot,
            lambda: "Paused (a to answer): waits for input on approve_account" in header(screen),
        )
        dialog = await open_answer(pilot)
        assert dialog.query_one("#answer-task", Input).placeholder == "approve_account"
        assert "Method answered" in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: (k := screen.selected) is not None and k.kickoff_id != paused)
        continued = screen.selected
        assert continued is not None

        def welcomed() -> bool:
            known = app.tracker.get(continued.kickoff_id)
            return known is not None and "Welcome to Beacon" in (known.output or "")

        await settle(pilot, welcomed)
        # A flow has no total: the list counts the methods done, not "n of n" (``4✓`` when
        # the list is compact, beside the detail).
        done = "4✓" if screen.kickoffs.compact else "4 done"
        await settle(pilot, lambda: done == progress_cell(screen, continued.kickoff_id))


def progress_cell(screen: MainScreen, kickoff_id: str) -> str:
    cell = screen.kickoffs.cell(kickoff_id, "progress")
    assert isinstance(cell, Text)
    return cell.plain


async def test_a_flow_s_state_fields_are_optional_in_the_form(
    sim: SimServer, make_app: AppFactory
) -> None:
    """GET /inputs names a flow's state fields as it names a crew's required inputs: the
    history says the crew is a flow, so the form sends with them left empty (the flow keeps
    its defaults) instead of asking for every one."""
    flow = CrewProfile(name=FLOW, url=sim.crew_url(FLOW), token=Secret(sim.options.token))
    app = make_app([flow])
    tracker, secret = app.tracker, "s" * 32
    app.receiver = WebhookReceiver(
        tracker.ingest,
        tracker.is_tracked,
        secret=secret,
        hitl_secret="signing",
        on_hitl=tracker.hitl_requested,
    )
    notes: list[Message] = []
    async with app.run_test(size=(120, 40), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        first = await app.tracker.kickoff(FLOW, {"hold": "0"})
        await settle(pilot, lambda: (k := app.tracker.get(first.kickoff_id)) and k.kind == "flow")
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, KickoffForm))
        form = app.screen
        assert isinstance(form, KickoffForm)
        hint = form.query_one("#required-hint", Static)
        await settle(pilot, lambda: "flow's default" in str(hint.render()))
        optional = [str(i.name) for i in form.query(Input) if i.placeholder == "optional"]
        assert optional == ["name", "email", "company", "plan"]
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: (k := screen.selected) and k.kickoff_id != first.kickoff_id)
        sent = screen.selected
        assert app.screen is screen and sent is not None
        assert sent.inputs == {}, "an empty state field is not sent: the flow keeps its default"
        # Where the flow's requests for a person reach the receiver, its secret masked.
        (said,) = [
            n.notification
            for n in notes
            if isinstance(n, Notify) and n.notification.title == "Flow started"
        ]
        assert said.title == "Flow started" and sent.short_id in said.message
        assert "/hooks/••••••/hitl" in said.message and secret not in said.message


async def test_a_crew_s_first_flow_kickoff_says_its_requests_do_not_reach_crewtui(
    sim: SimServer, make_app: AppFactory
) -> None:
    """Nothing in the history says the crew is a flow when its first run is sent, and this
    app receives no webhooks: once the run shows it is a flow, a toast says that its
    requests for a person do not reach crewtui and what it takes that they do."""
    flow = CrewProfile(name=FLOW, url=sim.crew_url(FLOW), token=Secret(sim.options.token))
    app = make_app([flow])
    notes: list[Message] = []
    async with app.run_test(size=(120, 40), notifications=True, message_hook=notes.append) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, KickoffForm))
        form = app.screen
        assert isinstance(form, KickoffForm) and not form.flow
        await settle(pilot, lambda: len(form.query("#required-fields Input")) >= 4)
        for field in form.query("#required-fields Input").results(Input):
            field.value = f"{field.name}-x"
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: app.screen is screen and screen.selected is not None)
        sent = screen.selected
        assert sent is not None

        def said() -> list[str]:
            return [
                n.notification.message
                for n in notes
                if isinstance(n, Notify) and n.notification.title == "Flow started"
            ]

        await settle(pilot, lambda: len(said()) == 1)
        [note] = said()
        assert sent.short_id in note
        assert "do not reach crewtui" in note
        assert "--webhooks HOST:PORT" in note and "hitl_secret" in note
