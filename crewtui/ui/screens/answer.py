"""The answer to a run that waits for a person: approve or reject, with feedback.

The dialog does no I/O: it returns an ``Answer`` and the main screen sends it through
``Tracker.resume``. When the service refuses, the main screen opens the dialog again with
the same draft and the refusal in one sentence, so nothing typed is lost.

The task answered defaults to the one the run waits on (``waiting_for``), shown as the task
field's placeholder: the field stays empty unless the person types another task id, so a
task id the service sent is never put into an input as text.

A run waiting on a flow's human-in-the-loop request is answered through the request's
callback, which takes text only: there is no task to pick, and the dialog says that the
feedback is what the flow gets ("approved" or "rejected" when none is typed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from crewtui.api.sanitize import inert_line
from crewtui.api.states import RunState
from crewtui.core.format import sentence, unit_word, waiting_line
from crewtui.core.tracker import flow_request_of, waiting_task_of
from crewtui.ui.text import safe_line_content

if TYPE_CHECKING:
    from crewtui.api.models import Kickoff


@dataclass(frozen=True)
class Answer:
    """What the person decided; ``task_id`` None means the task the run waits on."""

    kickoff_id: str
    approve: bool
    feedback: str
    task_id: str | None = None


class AnswerScreen(ModalScreen[Answer | None]):
    """Approve (ctrl+s) or reject (ctrl+r) a paused run, with optional feedback."""

    # Not priority bindings: those run as soon as the app reads the key, before the field has
    # taken the text typed just before it (a burst from a fast typist or a paste), and the
    # answer would leave without it. As ordinary bindings they come through the field, after.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "answer(True)", "Approve"),
        Binding("ctrl+r", "answer(False)", "Reject"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self, kickoff: Kickoff, *, draft: Answer | None = None, error: str | None = None
    ) -> None:
        super().__init__()
        self.kickoff = kickoff
        self.draft = draft
        self.error = error

    def compose(self) -> ComposeResult:
        kickoff = self.kickoff
        with Vertical(classes="dialog", id="answer-dialog") as dialog:
            dialog.border_title = f"Answer {inert_line(kickoff.short_id)}"
            dialog.border_subtitle = "ctrl+s approve · ctrl+r reject · escape to cancel"
            yield Static(self._situation(), id="answer-situation")
            if not self._flow_request:
                unit = unit_word(kickoff)  # a flow waits on a method
                yield Label(f"{unit.capitalize()} answered")
                default = waiting_task_of(kickoff)
                yield Input(
                    (self.draft.task_id or "") if self.draft else "",
                    placeholder=inert_line(default, 60) if default else f"the {unit} id (required)",
                    id="answer-task",
                    compact=True,
                )
            yield Label(
                "Feedback (sent to the flow)" if self._flow_request else "Feedback (optional)"
            )
            yield Input(
                self.draft.feedback if self.draft else "",
                placeholder="what to tell the flow"
                if self._flow_request
                else "what to tell the crew",
                id="answer-feedback",
                compact=True,
            )
            yield Static(safe_line_content(self.error or "", limit=400), classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Reject  ^r", variant="error", id="answer-reject", compact=True)
                yield Button("Approve  ^s", variant="primary", id="answer-approve", compact=True)

    def on_mount(self) -> None:
        self.query_one("#answer-feedback", Input).focus()

    @property
    def _flow_request(self) -> bool:
        """The run waits on a flow's human-in-the-loop request (answered by its callback)."""
        return flow_request_of(self.kickoff) is not None

    def _situation(self) -> Content:
        """What the service said about the pause, or that it said nothing."""
        kickoff = self.kickoff
        if self._flow_request and kickoff.waiting_for is not None:
            asked = sentence(f"The flow {waiting_line(kickoff.waiting_for)}")
            return Content(
                f"{asked} Your feedback goes to its callback as typed; with none, approve "
                'sends "approved" and reject "rejected".'
            )
        if kickoff.waiting_for is not None and kickoff.state is RunState.PAUSED:
            return Content(sentence(f"The run {waiting_line(kickoff.waiting_for)}"))
        return Content(
            "The service has not said that this run waits for input (its documented API "
            "never does): answer only if the crew asked you to."
        )

    def action_answer(self, approve: bool) -> None:
        tasks = self.query("#answer-task").results(Input)
        task = next((field.value.strip() for field in tasks), "")
        self.dismiss(
            Answer(
                kickoff_id=self.kickoff.kickoff_id,
                approve=approve,
                feedback=self.query_one("#answer-feedback", Input).value,
                task_id=task or None,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "answer-approve")
