"""The kickoff form: local checks, the app's answers (422, 401), pre-filling, keyboard only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from crewtui.api.client import EventsWebhook
from crewtui.api.models import Kickoff
from crewtui.core.webhook_urls import WebhookUrls
from crewtui.ui.screens.kickoff_form import KickoffForm, KickoffRequest

REQUIRED = {
    "travel": ["budget", "interests", "duration", "age"],
    "content": ["topic", "audience"],
}
TRAVEL = {"budget": "1000 USD", "interests": "games, tech, ai", "duration": "7 days", "age": "35"}


class FormApp(App[None]):
    """Hosts the form and plays the app's part: answers GET /inputs, records submissions."""

    def __init__(self, form: KickoffForm, *, answer_required: bool = True) -> None:
        super().__init__()
        self.form = form
        self.answer_required = answer_required
        self.submitted: list[KickoffRequest] = []
        self.asked: list[str] = []
        self.result: list[Kickoff | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.form, self.result.append)

    def on_kickoff_form_required_inputs_wanted(
        self, message: KickoffForm.RequiredInputsWanted
    ) -> None:
        self.asked.append(message.crew)
        if self.answer_required:
            message.form.set_required(message.crew, REQUIRED.get(message.crew, []))

    def on_kickoff_form_submitted(self, message: KickoffForm.Submitted) -> None:
        assert message.form is self.form
        self.submitted.append(message.request)


def make_form(
    crew: str = "travel",
    *,
    values: Mapping[str, str] | None = None,
    meta: Mapping[str, Any] | None = None,
    webhooks: WebhookUrls | None = None,
    remembered: Mapping[str, Mapping[str, str]] | None = None,
) -> KickoffForm:
    return KickoffForm(
        ["travel", "content"],
        crew,
        values=values,
        meta=meta,
        webhooks=webhooks,
        remembered=remembered,
    )


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


def field(form: KickoffForm, name: str) -> Input:
    """The input of a required field or a webhook field, by its name."""
    return next(i for i in form.query(Input) if i.name == name)


def error_under(widget: Input) -> str:
    marked = next(
        a for a in widget.ancestors if a.has_class("form-field") or a.has_class("pair-row")
    )
    error = marked.query_one(".field-error", Static)
    return str(error.render()) if error.display else ""


def values(form: KickoffForm) -> dict[str, str]:
    return {str(i.name): i.value for i in form.query(Input) if i.name}


async def test_required_fields_come_from_the_app_and_empty_ones_are_marked_and_focused() -> None:
    form = make_form(values={"budget": "1000 USD"})
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        assert app.asked == ["travel"]
        assert values(form)["budget"] == "1000 USD"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.submitted == []
        interests = field(form, "interests")
        assert app.focused is interests
        assert interests.has_class("bad") and "Required" in error_under(interests)
        assert not field(form, "budget").has_class("bad")


async def test_ctrl_s_posts_the_request_with_inputs_rows_meta_and_webhooks() -> None:
    hooks = WebhookUrls(task="http://127.0.0.1:8765/s/task", step="", crew="")
    form = make_form(values={**TRAVEL, "extra": "more"}, meta={"requestId": "r-1"}, webhooks=hooks)
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        await pilot.click("#add-meta")
        await settle(pilot)
        await pilot.press(*"tags", "tab", *"a=b")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.submitted == [
            KickoffRequest(
                crew="travel",
                inputs={**TRAVEL, "extra": "more"},
                meta={"requestId": "r-1", "tags": "a=b"},
                webhooks=WebhookUrls(task="http://127.0.0.1:8765/s/task", step="", crew=""),
            )
        ]


async def test_enter_on_the_last_field_sends_and_blank_webhooks_are_none() -> None:
    form = make_form(values=TRAVEL)
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        field(form, "hook-crew").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert [request.webhooks for request in app.submitted] == [None]
        assert app.submitted[0].inputs == TRAVEL


async def test_bad_webhook_url_and_bad_rows_are_marked() -> None:
    form = make_form(values={**TRAVEL})
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        field(form, "hook-step").value = "ftp://example.test/x"
        await pilot.press("ctrl+n")
        await settle(pilot)
        row_key = form.query_one(".pair-row .pair-key", Input)
        assert app.focused is row_key
        row_key.value = "budget"  # a key the required fields have
        form.query_one(".pair-row .pair-value", Input).value = "again"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.submitted == []
        step = field(form, "hook-step")
        assert step.has_class("bad") and "absolute http(s) URL" in error_under(step)
        duplicate = form.query_one(".pair-row .pair-key", Input)
        assert duplicate.has_class("bad") and "already set" in error_under(duplicate)
        assert app.focused is duplicate  # rows come before webhooks in the form


async def test_mark_missing_marks_focuses_and_adds_unknown_fields() -> None:
    form = make_form(values=TRAVEL)
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        form.set_busy(True)
        form.mark_missing(["season", "age"], "The crew says inputs are missing: season, age.")
        await settle(pilot)
        season = field(form, "season")
        assert app.focused is season
        assert season.has_class("bad") and field(form, "age").has_class("bad")
        assert "missing" in error_under(season)
        assert "season, age" in str(form.query_one("#form-message", Static).render())
        assert values(form)["age"] == "35"  # kept


async def test_show_error_keeps_every_value_and_allows_sending_again() -> None:
    form = make_form(values={**TRAVEL, "extra": "x"}, meta={"n": 3, "o": {"k": [1]}})
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        before = {i.id or i.name or str(n): i.value for n, i in enumerate(form.query(Input))}
        form.set_busy(True)
        await pilot.press("ctrl+s")  # in flight: no second send
        form.show_error("The crew rejected the token (401): check it with `crewtui doctor`.")
        await settle(pilot)
        after = {i.id or i.name or str(n): i.value for n, i in enumerate(form.query(Input))}
        assert after == before
        assert "401" in str(form.query_one("#form-message", Static).render())
        assert len(app.submitted) == 1
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert len(app.submitted) == 2 and app.submitted[1].meta == {"n": 3, "o": {"k": [1]}}


async def test_remembered_values_prefill_and_follow_the_crew_selector() -> None:
    remembered = {"travel": TRAVEL, "content": {"topic": "AI agents", "audience": "devs"}}
    form = make_form(remembered=remembered)
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        assert values(form) | TRAVEL == values(form)
        form.query_one("#form-crew", Select).value = "content"
        await settle(pilot)
        assert app.asked == ["travel", "content"]
        assert field(form, "topic").value == "AI agents"
        assert field(form, "audience").value == "devs"
        assert form.crew == "content"


async def test_rerun_values_win_over_remembered_ones_and_fill_rows_too() -> None:
    form = make_form(
        values={"budget": "5 EUR", "note": "rerun"},
        meta={"requestId": "old"},
        remembered={"travel": TRAVEL},
    )
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        assert field(form, "budget").value == "5 EUR"
        assert field(form, "age").value == ""
        keys = [i.value for i in form.query(".pair-key").results(Input)]
        assert keys == ["note", "requestId"]


async def test_form_without_an_inputs_answer_still_sends_free_rows_and_escape_cancels() -> None:
    form = make_form(values={"topic": "x"})
    app = FormApp(form, answer_required=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form.set_required("travel", None, "the crew did not answer")
        await settle(pilot)
        assert "did not answer" in str(form.query_one("#required-hint", Static).render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.submitted[0].inputs == {"topic": "x"}
        await pilot.press("escape")
        await settle(pilot)
        assert app.result == [None]


async def test_at_80x24_the_form_scrolls_to_the_focused_field() -> None:
    many = {f"key{n}": str(n) for n in range(12)}
    form = make_form(values={**TRAVEL, **many})
    app = FormApp(form)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        body = form.query_one("#form-body")
        assert body.max_scroll_y > 0
        assert form.query_one("#form-send").region.bottom <= 24  # the buttons stay visible
        hook = field(form, "hook-crew")
        hook.focus()
        await settle(pilot)
        assert body.scroll_y > 0
        assert form.screen.get_widget_at(hook.region.x, hook.region.y)[0] is hook


async def test_shift_tab_from_the_first_field_goes_to_a_control_not_the_scrolled_body() -> None:
    """At 80x24 the body scrolls; it is no stop of tab: shift+tab from the crew goes round
    to the last button, and tab from there comes back to the crew."""
    form = make_form(values={**TRAVEL, **{f"key{n}": str(n) for n in range(12)}})
    app = FormApp(form)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert form.query_one("#form-body").max_scroll_y > 0
        crew = form.query_one("#form-crew", Select)
        assert form.focused is crew
        await pilot.press("shift+tab")
        await settle(pilot)
        assert form.focused is form.query_one("#form-send")
        await pilot.press("tab")
        await settle(pilot)
        assert form.focused is crew


async def test_key_value_typed_into_a_key_box_is_split_and_empty_values_are_refused() -> None:
    form = make_form(values=TRAVEL)
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press(*"hold=1")
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press(*"note")  # a key with no value: refused, like `-i note=`
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.submitted == []
        keys = list(form.query(".pair-key").results(Input))
        vals = list(form.query(".pair-value").results(Input))
        assert [(k.value, v.value) for k, v in zip(keys, vals, strict=True)] == [
            ("hold", "1"),
            ("note", ""),
        ]
        assert vals[1].has_class("bad") and "'note' is empty" in error_under(vals[1])
        assert app.focused is vals[1]
        await pilot.press(*"x", "ctrl+s")
        await settle(pilot)
        assert [request.inputs for request in app.submitted] == [
            {**TRAVEL, "hold": "1", "note": "x"}
        ]


async def test_a_required_error_clears_once_the_field_is_filled() -> None:
    form = make_form(values={k: v for k, v in TRAVEL.items() if k != "age"})
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        age = field(form, "age")
        assert age.has_class("bad") and "Required" in error_under(age)
        await pilot.press(*"35")
        await settle(pilot)
        assert not age.has_class("bad") and error_under(age) == ""


async def test_switching_crew_carries_no_input_names_of_the_previous_crew() -> None:
    form = make_form(values={**TRAVEL, "hold": "1"})
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        form.query_one("#form-crew", Select).value = "content"
        await settle(pilot)
        await settle(pilot)
        assert app.asked == ["travel", "content"]
        assert [i.value for i in form.query(".pair-key").results(Input)] == ["hold"]
        assert set(values(form)) - {"hook-task", "hook-step", "hook-crew"} == {"topic", "audience"}


async def test_the_receivers_secret_is_masked_on_screen_and_sent_in_full() -> None:
    secret = "s3cr3t-path-0123456789abcdef"
    base = f"http://127.0.0.1:8765/hooks/{secret}"
    hooks = WebhookUrls(task=f"{base}/task", step=f"{base}/step", crew=f"{base}/crew")
    form = make_form(values=TRAVEL, webhooks=hooks)
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert secret not in shown and "127.0.0.1:8765/hooks/" in shown
        assert all(secret not in i.value for i in form.query(Input))
        field(form, "hook-step").value = "https://example.test/mine"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.submitted[0].webhooks == WebhookUrls(
            task=hooks.task, step="https://example.test/mine", crew=hooks.crew
        )


async def test_the_receivers_urls_left_as_shown_keep_its_batched_events_request() -> None:
    base = "http://127.0.0.1:8765/hooks/s3cr3t-path-0123456789abcdef"
    events = EventsWebhook(url=f"{base}/events", token="push-token-0123456789abcdef")
    hooks = WebhookUrls(
        task=f"{base}/task", step=f"{base}/step", crew=f"{base}/crew", events=events
    )
    form = make_form(values=TRAVEL, webhooks=hooks)
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.submitted[0].webhooks == hooks


async def test_typing_goes_to_the_first_empty_required_field_once_the_inputs_are_known() -> None:
    """The form opens on the crew selector and the inputs come a moment later: then the
    keys typed go to the first input left empty, not to the selector (where they were
    lost)."""
    form = make_form(values={"budget": "1000 USD"})
    app = FormApp(form)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        assert app.focused is field(form, "interests")
        await pilot.press("g", "o")
        assert values(form)["interests"] == "go"


@pytest.mark.parametrize("answer_first", [False, True])
async def test_an_answer_for_the_crew_just_left_moves_the_cursor_to_no_field_of_it(
    answer_first: bool,
) -> None:
    """Arrowing to another crew just as the first crew's inputs come (before or after the
    pick): that answer must not build the old crew's fields or move the cursor there; the
    new crew's answer does."""
    form = make_form()
    app = FormApp(form, answer_required=False)
    async with app.run_test(size=(100, 34)) as pilot:
        await settle(pilot)
        crews = form.query_one("#form-crew", Select)
        assert app.focused is crews
        if answer_first:
            form.set_required("travel", REQUIRED["travel"])
        crews.value = "content"  # picked; the form hears of it a moment later
        if not answer_first:
            form.set_required("travel", REQUIRED["travel"])
        await settle(pilot)
        assert app.asked == ["travel", "content"]
        form.set_required("content", REQUIRED["content"])
        await settle(pilot)
        assert [str(f.name) for f in form.query("#required-fields > .form-field")] == [
            "topic",
            "audience",
        ]
        assert app.focused is field(form, "topic")
