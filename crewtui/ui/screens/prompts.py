"""Small dialogs: track a kickoff id, filter the list, confirm a deletion.

Each returns its answer through ``dismiss``; the app acts on it (dialogs do no I/O).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from crewtui.api.errors import CrewtuiError
from crewtui.api.validate import validate_kickoff_id
from crewtui.ui.screens.early_keys import EarlyKeys
from crewtui.ui.text import safe_line_content
from crewtui.ui.widgets.kickoff_list import STATE_CHOICES, ListFilter, state_choice

_T = TypeVar("_T")
_CANCEL: list[BindingType] = [Binding("escape", "cancel", "Cancel")]


@dataclass(frozen=True)
class TrackRequest:
    """A kickoff id started elsewhere, and the crew it belongs to."""

    crew: str
    kickoff_id: str


class _Dialog(EarlyKeys[_T | None]):
    """Escape cancels every dialog; the answer of a cancelled dialog is None."""

    BINDINGS: ClassVar[list[BindingType]] = _CANCEL

    def action_cancel(self) -> None:
        self.dismiss(None)


def _crew_select(crews: Sequence[str], value: str | None, *, allow_blank: bool) -> Select[str]:
    options = [(safe_line_content(name, limit=40), name) for name in crews]
    select: Select[str] = Select(
        options,
        prompt="any crew",
        allow_blank=allow_blank,
        value=value if value is not None and value in crews else Select.NULL,
        id="crew",
        compact=True,
    )
    return select


class TrackScreen(_Dialog[TrackRequest]):
    """Ask for a kickoff id (and its crew when there are several)."""

    def __init__(self, crews: Sequence[str], crew: str | None = None) -> None:
        super().__init__()
        self.crews = list(crews)
        self.crew = crew if crew in self.crews else (self.crews[0] if self.crews else None)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Track a kickoff"
            dialog.border_subtitle = "enter to track · escape to cancel"
            yield Label("Crew")
            yield _crew_select(self.crews, self.crew, allow_blank=False)
            yield Label("Kickoff id")
            yield Input(
                placeholder="5f1c2d3e-1234-4abc-9def-0123456789ab", id="kickoff-id", compact=True
            )
            yield Static("", id="track-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#kickoff-id", Input).focus()

    @on(Input.Submitted, "#kickoff-id")
    def submit(self) -> None:
        """Refuse what is not a kickoff id here, with the text kept, before anything is sent."""
        given = self.query_one("#kickoff-id", Input).value
        crew = self.query_one("#crew", Select).value
        error = self.query_one("#track-error", Static)
        if not given.strip():
            error.update(Content("Paste the kickoff id to track."))
            return
        try:
            kickoff_id = validate_kickoff_id(given)
        except CrewtuiError as refused:
            error.update(Content(refused.message))
            return
        if isinstance(crew, str):
            self.dismiss(TrackRequest(crew, kickoff_id))

    @on(Input.Changed, "#kickoff-id")
    def clear_error(self) -> None:
        self.query_one("#track-error", Static).update("")


class FilterScreen(_Dialog[ListFilter]):
    """Crew, state, free text and archived, applied as they change (``on_change``).

    Enter (or Apply) keeps the filter; escape answers ``None`` so the app puts back the
    filter it had before the dialog opened.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *_CANCEL,
        Binding("ctrl+r", "clear", "Clear"),
    ]

    def __init__(
        self,
        crews: Sequence[str],
        current: ListFilter,
        on_change: Callable[[ListFilter], None] | None = None,
    ) -> None:
        super().__init__()
        self.crews = list(crews)
        self.current = current
        self.on_change = on_change

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="filter-dialog") as dialog:
            dialog.border_title = "Filter (applied as you type)"
            if self.current.batch is not None:
                yield Label(
                    f"Runs of batch {self.current.batch[:8]} only (esc on the list: all runs)",
                    id="filter-batch",
                    markup=False,
                )
            yield Label("Crew")
            yield _crew_select(self.crews, self.current.crew, allow_blank=True)
            yield Label("State")
            states: Select[str] = Select(
                [(name.replace("_", " "), name) for name in STATE_CHOICES],
                prompt="any state",
                value=state_choice(self.current.states) or Select.NULL,
                id="state",
                compact=True,
            )
            yield states
            yield Label("Text (id, crew, task, inputs)")
            yield Input(self.current.text, placeholder="type to filter", id="text", compact=True)
            yield Checkbox(
                "Show archived instead", self.current.archived, id="archived", compact=True
            )
            with Horizontal(classes="buttons"):
                yield Button("Clear", id="clear", compact=True)
                yield Button("Apply", variant="primary", id="apply", compact=True)

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#text", Input))

    def chosen(self) -> ListFilter:
        """The filter as the dialog's fields say now; a batch's row expanded (``B``), which
        the dialog does not show, stays expanded."""
        crew = self.query_one("#crew", Select).value
        state = self.query_one("#state", Select).value
        return replace(
            self.current,
            crew=crew if isinstance(crew, str) else None,
            states=STATE_CHOICES.get(state) if isinstance(state, str) else None,
            text=self.query_one("#text", Input).value.strip(),
            archived=self.query_one("#archived", Checkbox).value,
        )

    def hint(self) -> str:
        """What enter does here depends on the field that has the focus."""
        focused = self.focused
        if isinstance(focused, Select) or (focused and isinstance(focused.parent, Select)):
            enter = "enter opens the choices"
        elif isinstance(focused, Checkbox):
            enter = "space toggles"
        elif isinstance(focused, Button):
            enter = "enter presses"
        else:
            enter = "enter to close"
        return f"{enter} · ctrl+r to clear · escape to undo"

    def watch_focused(self) -> None:
        self.query_one("#filter-dialog").border_subtitle = self.hint()

    @on(Input.Changed, "#text")
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.chosen())

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def apply(self) -> None:
        self.dismiss(self.chosen())

    @on(Button.Pressed, "#clear")
    def action_clear(self) -> None:
        self.dismiss(ListFilter())


class ConfirmScreen(_Dialog[bool]):
    """A yes/no question; only an explicit yes answers True."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *_CANCEL,
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.title_text
            yield Static(safe_line_content(self.question, limit=300), id="question")
            with Horizontal(classes="buttons"):
                yield Button("No (n)", variant="primary", id="no", compact=True)
                yield Button("Yes (y)", variant="error", id="yes", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
