"""Hostile text from the API is inert in the kickoff form, down to the terminal's bytes.

The form shows four things the service wrote: the names of required inputs (GET /inputs),
the error of a failed GET /inputs, the 422 message and the fields added from its list of
missing inputs, and the error of a failed kickoff. Each is driven here against the hostile
crew (``tests.hardening.hostile_crew``) and checked like every other view
(``tests.ui.test_untrusted_app``): nothing forbidden on screen or on the wire, and markup
shown as typed, never interpreted (``[@click=app.quit]`` parsed would vanish from the screen
and become a live action).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.ui.app import CrewtuiApp
from crewtui.ui.pilot import settle
from crewtui.ui.screens.kickoff_form import KickoffForm
from tests.hardening.corpus import BY_NAME, EVERYTHING
from tests.hardening.hostile_crew import HostileCrew
from tests.ui.app_helpers import AppFactory
from tests.ui.test_untrusted_app import check_view, recorded

__all__ = ["recorded"]  # the fixture, used by name below

pytestmark = pytest.mark.timeout(120)

CLICK = BY_NAME["markup_click"]
# The part of the markup that fits a field's 18-column label.
CLICK_LABEL = CLICK.shows[:17]

# (crew name, dialect, mode, corpus entry, fields carrying it): every way text reaches the form.
CASES = [
    ("live-422-click", "live", "http422", CLICK.name, "inputs"),
    ("documented-422-all", "documented", "http422", EVERYTHING.name, "inputs"),
    ("live-500-click", "live", "http500", CLICK.name, "all"),
    ("documented-500-all", "documented", "http500", EVERYTHING.name, "all"),
]


@pytest.fixture(scope="module")
def hostile_crew() -> Iterator[HostileCrew]:
    with HostileCrew() as crew:
        yield crew


def profiles(crew: HostileCrew) -> list[CrewProfile]:
    return [
        CrewProfile(
            name=name,
            url=crew.url(dialect, mode, case, fields),
            token=Secret("tok-untrusted-form"),
        )
        for name, dialect, mode, case, fields in CASES
    ]


def form_of(app: CrewtuiApp) -> KickoffForm:
    assert isinstance(app.screen, KickoffForm)
    return app.screen


def asked(form: KickoffForm) -> bool:
    """The crew's inputs arrived: fields were built, or the hint says the request failed."""
    hint = form.query_one("#required-hint", Static)
    return bool(form.query("#required-fields Input")) or "Could not" in str(hint.render())


def answered(form: KickoffForm) -> bool:
    message = str(form.query_one("#form-message", Static).render())
    return bool(message) and "Sending" not in message


async def open_on(pilot: Pilot[int], crew: str) -> KickoffForm:
    app = pilot.app
    assert isinstance(app, CrewtuiApp)
    if not isinstance(app.screen, KickoffForm):
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, KickoffForm))
    form = form_of(app)
    form.query_one("#form-crew", Select).value = crew
    await settle(pilot, lambda: form.crew == crew and asked(form))
    return form


@pytest.mark.usefixtures("recorded")
async def test_hostile_input_names_and_errors_are_inert_in_the_form(
    make_app: AppFactory, hostile_crew: HostileCrew
) -> None:
    app = make_app(profiles(hostile_crew))
    async with app.run_test(size=(130, 45)) as pilot:
        for name, _dialect, mode, case, _fields in CASES:
            form = await open_on(pilot, name)
            text = await check_view(pilot, f"{name}: the inputs")
            if case == CLICK.name:
                shown = CLICK_LABEL if mode == "http422" else CLICK.shows
                assert shown in text, f"{name}: markup interpreted in the inputs"
            for field in form.query("#required-fields Input").results(Input):
                field.value = "x"
            await pilot.press("ctrl+s")
            await settle(pilot, lambda form=form: answered(form))  # type: ignore[misc]
            text = await check_view(pilot, f"{name}: the kickoff's refusal")
            if case == CLICK.name:
                assert CLICK.shows in text, f"{name}: markup interpreted in the refusal"
            if mode == "http422":
                marked = form.query("#required-fields Input.bad")
                assert marked, f"{name}: the missing input is not marked"
        assert app.is_running
