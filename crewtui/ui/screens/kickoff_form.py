"""The kickoff form: pick a crew, fill its inputs, optionally meta and webhooks, send.

The form does no I/O. It asks the app for the crew's required inputs
(``RequiredInputsWanted``), checks what can be checked locally (required fields, KEY=VALUE
rows, URL syntax) and posts ``Submitted``; the app sends the kickoff and answers with
``mark_missing`` (422), ``show_error`` (401, unreachable, uncertain) or ``dismiss`` (success).
Values survive every error, so nobody retypes a form because a token was wrong.

Every mutation of the dynamic rows goes through ``call_later``, so rebuilding fields for a
new crew and marking missing ones happen in the order the app asked for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, OptionList, Select, Static

from crewtui.api.errors import ConfigError
from crewtui.api.models import Kickoff
from crewtui.api.validate import check_input_value, check_webhook_url
from crewtui.core.webhook_urls import WebhookUrls, masked_hook_url
from crewtui.ui.screens.early_keys import EarlyKeys
from crewtui.ui.text import safe_line_content

HOOKS = (("task", "task webhook"), ("step", "step webhook"), ("crew", "crew webhook"))
PairKind = Literal["input", "meta"]


@dataclass(frozen=True)
class KickoffRequest:
    """What the user asked to send; the app passes it to ``Tracker.kickoff``."""

    crew: str
    inputs: dict[str, str]
    meta: dict[str, Any]
    webhooks: WebhookUrls | None


def meta_text(value: Any) -> str:
    """A meta value as shown in a row: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _Marked(Vertical):
    """A field or row with a one-sentence error under it."""

    # What the marked input held when marked: an edit away from it makes the error stale.
    _marked_value: str | None = None

    def compose_error(self) -> Static:
        return Static(classes="field-error")

    def mark(self, message: str | None, target: Input | None = None) -> None:
        """Show ``message`` under the row and mark ``target`` (``None`` clears)."""
        error = self.query_one(".field-error", Static)
        error.update(Content(message or ""))
        error.display = bool(message)
        for field in self.query(Input):
            field.set_class(message is not None and field is target, "bad")
        self._marked_value = target.value if message is not None and target else None

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        """An error is about what was typed: once the marked field changes, it is stale."""
        if event.input.has_class("bad") and event.value != self._marked_value:
            self.mark(None)

    def first_input(self) -> Input:
        return self.query(Input).first()


class _Field(_Marked):
    """A labelled single input: a required crew input or a webhook URL."""

    def __init__(self, label: str, value: str, *, name: str, placeholder: str = "") -> None:
        super().__init__(name=name, classes="form-field")
        self._label = label
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-line"):
            yield Static(safe_line_content(self._label, limit=60), classes="form-label")
            yield Input(self._value, placeholder=self._placeholder, compact=True, name=self.name)
        yield self.compose_error()

    @property
    def input(self) -> Input:
        return self.first_input()


class _PairRow(_Marked):
    """A free KEY=VALUE row, for more inputs or for meta."""

    def __init__(self, kind: PairKind, key: str = "", value: str = "") -> None:
        super().__init__(classes=f"pair-row pair-{kind}")
        self.kind: PairKind = kind
        self._key = key
        self._value = value

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-line"):
            yield Input(self._key, placeholder="KEY", compact=True, classes="pair-key")
            yield Input(self._value, placeholder="value", compact=True, classes="pair-value")
            yield Button("✕", compact=True, classes="pair-remove", tooltip="Remove this row")
        yield self.compose_error()

    @property
    def key_input(self) -> Input:
        return self.query_one(".pair-key", Input)

    @property
    def value_input(self) -> Input:
        return self.query_one(".pair-value", Input)

    @property
    def pair(self) -> tuple[str, str]:
        return self.key_input.value.strip(), self.value_input.value

    @property
    def blank(self) -> bool:
        key, value = self.pair
        return not key and not value

    def split_typed_pair(self) -> None:
        """``KEY=VALUE`` typed (or pasted) into the key box, value box empty: split it."""
        key, value = self.pair
        if "=" in key and not value:
            name, _, rest = key.partition("=")
            self.key_input.value = name.strip()
            self.value_input.value = rest


class _CrewSelect(Select[str]):
    """The crew selector, with the focus moved to its list as it opens and back as it closes.

    Textual moves it a moment later; keys typed in that moment (``enter down enter`` in one
    burst) went to the closed selector and were lost, and the list opened on the old crew."""

    def watch_expanded(self, expanded: bool) -> None:
        choices = self.query_one(OptionList)
        if expanded:
            self.screen.set_focus(choices, scroll_visible=False)
        elif self.screen.focused is choices:
            self.screen.set_focus(self, scroll_visible=False)


class KickoffForm(EarlyKeys[Kickoff | None]):
    """A modal to start a kickoff; keyboard only works fully (ctrl+s sends, escape cancels)."""

    DEFAULT_CSS = """
    KickoffForm {
        align: center middle;
    }
    KickoffForm > #form-box {
        width: 96;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        border-title-style: bold;
        background: $surface;
    }
    KickoffForm #form-body {
        height: auto;
        max-height: 100%;
        padding: 0 1;
    }
    KickoffForm .form-line, KickoffForm .form-field, KickoffForm .pair-row {
        height: auto;
    }
    KickoffForm .form-label {
        width: 18;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        color: $text-muted;
    }
    KickoffForm .form-line > Input {
        width: 1fr;
        background: $boost;
        &:focus {
            background: $primary 25%;
        }
    }
    KickoffForm .pair-key {
        max-width: 24;
    }
    KickoffForm .pair-value {
        margin-left: 1;
    }
    KickoffForm .form-line > Input.bad {
        background: $error 30%;
    }
    KickoffForm .field-error {
        color: $text-error;
        padding-left: 18;
        display: none;
        height: auto;
    }
    KickoffForm .pair-row .field-error {
        padding-left: 0;
    }
    KickoffForm .form-section {
        margin-top: 1;
        text-style: bold;
        height: 1;
    }
    KickoffForm .form-hint {
        color: $text-muted;
        height: auto;
    }
    KickoffForm .form-section-bar {
        height: auto;
        margin-top: 1;
    }
    KickoffForm .form-section-bar > .form-section {
        width: 1fr;
        margin-top: 0;
    }
    KickoffForm #form-footer {
        dock: bottom;
        height: auto;
    }
    KickoffForm #form-message {
        height: auto;
        padding: 0 1;
    }
    KickoffForm #form-message.error {
        color: $text-error;
    }
    KickoffForm #form-buttons {
        height: auto;
        padding: 0 1;
        align-horizontal: right;
    }
    KickoffForm #form-buttons > Button {
        margin-left: 2;
    }
    KickoffForm #form-crew {
        width: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Send", priority=True),
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+n", "add_row('input')", "Add input row"),
    ]

    class Submitted(Message):
        """Local checks passed: the app sends ``request`` and answers through the form."""

        def __init__(self, request: KickoffRequest, form: KickoffForm) -> None:
            super().__init__()
            self.request = request
            self.form = form

    class RequiredInputsWanted(Message):
        """The app should answer with ``form.set_required(crew, names)`` (GET /inputs)."""

        def __init__(self, crew: str, form: KickoffForm) -> None:
            super().__init__()
            self.crew = crew
            self.form = form

    def __init__(
        self,
        crews: Sequence[str],
        crew: str | None = None,
        *,
        values: Mapping[str, str] | None = None,
        meta: Mapping[str, Any] | None = None,
        webhooks: WebhookUrls | None = None,
        remembered: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self._crews = list(crews)
        self._crew = crew if crew in self._crews else (self._crews[0] if self._crews else "")
        self._remembered = {name: dict(vals) for name, vals in (remembered or {}).items()}
        start = values if values is not None else self._remembered.get(self._crew, {})
        self._initial_values = dict(start)
        self._initial_meta = {key: meta_text(value) for key, value in (meta or {}).items()}
        # Typed values are strings, as on the command line; a re-run keeps a non-string meta
        # value (a number, an object) as it was unless its row is edited.
        self._meta_kept = {
            key: value for key, value in (meta or {}).items() if not isinstance(value, str)
        }
        # The receiver's URLs, shown masked: a field left as shown sends the real URL.
        self._real_hooks: dict[str, str] = {
            key: str(getattr(webhooks, key))
            for key, _ in HOOKS
            if webhooks and getattr(webhooks, key)
        }
        self._masked_hooks = {key: masked_hook_url(url) for key, url in self._real_hooks.items()}
        # Sent as given (the batched events form included) while the fields are left as shown.
        self._receiver_hooks = webhooks
        # Values of the previous crew's required fields, for the same names in the next crew.
        self._carried: dict[str, str] = {}
        self._required: list[str] | None = None
        # A flow's GET /inputs names its state fields, none of them required.
        self._flow = False
        self._busy = False

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box") as box:
            box.border_title = "New kickoff"
            # Not a stop of tab itself: focusing a field scrolls the body to it.
            with VerticalScroll(id="form-body", can_focus=False):
                with Horizontal(classes="form-line"):
                    yield Static("crew", classes="form-label")
                    yield _CrewSelect(
                        [(Content(name), name) for name in self._crews],
                        value=self._crew or Select.NULL,
                        allow_blank=not self._crews,
                        id="form-crew",
                        compact=True,
                    )
                yield Static("Required inputs", classes="form-section", id="required-title")
                yield Static(Content("Asking the crew for its inputs…"), id="required-hint")
                yield Vertical(id="required-fields", classes="form-line")
                with Horizontal(classes="form-section-bar"):
                    yield Static("More inputs (KEY=VALUE)", classes="form-section")
                    yield Button("+ input  ^n", id="add-input", compact=True)
                yield Vertical(id="input-rows", classes="form-line")
                with Horizontal(classes="form-section-bar"):
                    yield Static("Meta (echoed in webhooks)", classes="form-section")
                    yield Button("+ meta", id="add-meta", compact=True)
                yield Vertical(id="meta-rows", classes="form-line")
                yield Static("Webhooks (absolute http(s) URLs)", classes="form-section")
                for key, label in HOOKS:
                    value = self._masked_hooks.get(key, "")
                    yield _Field(label, value, name=f"hook-{key}", placeholder="https://…")
            with Vertical(id="form-footer"):
                yield Static(id="form-message")
                with Horizontal(id="form-buttons"):
                    yield Button("Cancel  esc", id="form-cancel", compact=True)
                    yield Button("Kick off  ^s", id="form-send", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.call_later(self._fill, [], self._initial_values, self._initial_meta)
        self._ask_required()
        self.query_one("#form-crew", Select).focus()

    # -- the app's API ---------------------------------------------------------------------

    def set_required(
        self,
        crew: str,
        names: Sequence[str] | None,
        error: str | None = None,
        *,
        flow: bool = False,
    ) -> None:
        """The crew's required inputs (GET /inputs); stale answers for another crew are ignored.

        For a ``flow`` the names are its state fields: shown, none required, and an empty
        one is not sent (the flow keeps its default)."""
        if not self._is_current(crew):
            return
        self._flow = flow
        title = "State fields (optional)" if flow else "Required inputs"
        self.query_one("#required-title", Static).update(Content(title))
        hint = self.query_one("#required-hint", Static)
        if error is not None or names is None:
            hint.update(
                safe_line_content(
                    f"Could not read the crew's inputs: {error or 'no answer'} "
                    "Add inputs as KEY=VALUE rows below.",
                    limit=400,
                )
            )
        elif not names:
            hint.update(Content("This crew requires no inputs."))
        elif flow:
            hint.update(Content("A flow: a field left empty keeps the flow's default."))
        else:
            hint.update(Content(""))
        hint.display = bool(error is not None or names is None or not names or flow)
        self._required = list(dict.fromkeys(names or []))
        self.call_later(self._refill_and_go_to_the_first_empty_field, crew)

    def _is_current(self, crew: str) -> bool:
        """``crew`` is the one chosen: the selector's value changes at once, ``_crew`` once
        the form hears of it, and an answer for the crew just left may come in between."""
        return crew == self._crew == self.query_one("#form-crew", Select).value

    async def _refill_and_go_to_the_first_empty_field(self, crew: str) -> None:
        """Once the crew's inputs are known, typing goes to the first one left empty, unless
        the person has moved on from the crew selector (the form opens on it: the inputs
        come a moment later, and what was typed then went to the selector and was lost)."""
        if not self._is_current(crew):
            return
        await self._refill()
        if not isinstance(self.focused, Select):
            return
        empty = next((f for f in self._required_fields() if not f.input.value), None)
        if empty is not None:
            empty.input.focus()

    def mark_missing(self, names: Sequence[str], message: str) -> None:
        """The service said these inputs are missing (422): mark them, focus the first."""
        self.set_busy(False)
        self._message(message, error=True)
        self.call_later(self._mark_missing, list(names))

    def show_error(self, message: str) -> None:
        """The kickoff failed (401, unreachable, uncertain): say so, keep every value."""
        self.set_busy(False)
        self._message(message, error=True)

    def set_busy(self, busy: bool) -> None:
        """While the POST is in flight: no second send, and say so."""
        self._busy = busy
        send = self.query_one("#form-send", Button)
        send.disabled = busy
        send.label = "Sending…" if busy else "Kick off  ^s"
        if busy:
            self._message("Sending the kickoff…", error=False)

    @property
    def crew(self) -> str:
        return self._crew

    @property
    def flow(self) -> bool:
        """The crew is a flow (its fields were optional state fields)."""
        return self._flow

    # -- actions ---------------------------------------------------------------------------

    def action_submit(self) -> None:
        """Check locally; on success post ``Submitted``, else mark and focus the first problem."""
        if self._busy:
            return
        for marked in self.query(_Marked):
            marked.mark(None)
        first = self._check()
        if first is not None:
            self._message("Fix the marked fields, then send again.", error=True)
            first.focus()
            return
        self._message("", error=False)
        self.post_message(self.Submitted(self._request(), self))

    def action_cancel(self) -> None:
        self.dismiss(None)

    async def action_add_row(self, kind: PairKind) -> None:
        """Add an empty KEY=VALUE row and put the cursor in its key."""
        row = _PairRow(kind)
        await self.query_one(f"#{kind}-rows", Vertical).mount(row)
        row.key_input.focus()
        row.scroll_visible()

    # -- events ----------------------------------------------------------------------------

    @on(Select.Changed, "#form-crew")
    def _crew_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self._crew:
            return
        # The previous crew's required names are not this crew's inputs: only the free rows
        # move over, and a typed value waits for a field of the same name (``_refill``).
        self._carried = {str(f.name): f.input.value for f in self._required_fields()}
        free_rows = dict(row.pair for row in self._rows("input") if not row.blank)
        self._crew = event.value
        self._required = None
        self._flow = False
        self.query_one("#required-title", Static).update(Content("Required inputs"))
        values = self._remembered.get(self._crew, free_rows)
        hint = self.query_one("#required-hint", Static)
        hint.update(Content("Asking the crew for its inputs…"))
        hint.display = True
        self.call_later(self._fill, [], values, None)
        self._ask_required()

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        """Enter moves on; on the last field it sends."""
        event.stop()
        if event.input is self._hook_field("crew").input:
            self.action_submit()
        else:
            self.focus_next(Input)

    @on(Button.Pressed)
    async def _button(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button
        if button.id == "form-send":
            self.action_submit()
        elif button.id == "form-cancel":
            self.action_cancel()
        elif button.id in ("add-input", "add-meta"):
            await self.action_add_row("input" if button.id == "add-input" else "meta")
        elif button.has_class("pair-remove"):
            row = next(a for a in button.ancestors if isinstance(a, _PairRow))
            await row.remove()

    # -- internals -------------------------------------------------------------------------

    def _ask_required(self) -> None:
        if self._crew:
            self.post_message(self.RequiredInputsWanted(self._crew, self))

    def _message(self, text: str, *, error: bool) -> None:
        message = self.query_one("#form-message", Static)
        message.update(safe_line_content(text, limit=400))
        message.set_class(error, "error")

    def _hook_url(self, key: str) -> str:
        """What the webhook field sends: the real URL behind a mask left as shown."""
        shown = self._hook_field(key).input.value.strip()
        if key in self._masked_hooks and shown == self._masked_hooks[key]:
            return self._real_hooks[key]
        return shown

    def _hook_field(self, key: str) -> _Field:
        return next(f for f in self.query(_Field) if f.name == f"hook-{key}")

    def _required_fields(self) -> list[_Field]:
        return list(self.query_one("#required-fields").query(_Field))

    def _rows(self, kind: PairKind) -> list[_PairRow]:
        return list(self.query_one(f"#{kind}-rows").query(_PairRow))

    def _input_pairs(self, *, sent: bool = False) -> list[tuple[str, str]]:
        """Every input as typed so far: required fields, then non-blank rows; as ``sent``,
        without a flow's empty state fields."""
        pairs = [(str(f.name), f.input.value) for f in self._required_fields()]
        if sent and self._flow:
            pairs = [(name, value) for name, value in pairs if value.strip()]
        return pairs + [row.pair for row in self._rows("input") if not row.blank]

    async def _refill(self) -> None:
        """Rebuild the fields for the current required names, keeping what was typed."""
        required = self._required or []
        carried = {name: value for name, value in self._carried.items() if name in required}
        await self._fill(required, carried | dict(self._input_pairs()), None)

    async def _fill(
        self, required: Sequence[str], values: Mapping[str, str], meta: Mapping[str, str] | None
    ) -> None:
        """Required fields for ``required``; every other value becomes a KEY=VALUE row."""
        fields = self.query_one("#required-fields", Vertical)
        rows = self.query_one("#input-rows", Vertical)
        await fields.remove_children()
        await rows.remove_children()
        placeholder = "optional" if self._flow else "required"
        await fields.mount_all(
            _Field(name, values.get(name, ""), name=name, placeholder=placeholder)
            for name in required
        )
        extra = [(key, value) for key, value in values.items() if key not in required]
        await rows.mount_all(_PairRow("input", key, value) for key, value in extra)
        if meta is not None:
            meta_rows = self.query_one("#meta-rows", Vertical)
            await meta_rows.remove_children()
            await meta_rows.mount_all(_PairRow("meta", key, value) for key, value in meta.items())

    async def _mark_missing(self, names: list[str]) -> None:
        shown = {str(field.name): field for field in self._required_fields()}
        new = [name for name in names if name not in shown and not self._row_with_key(name)]
        fields = [_Field(name, "", name=name, placeholder="required") for name in new]
        await self.query_one("#required-fields", Vertical).mount_all(fields)
        shown.update({str(field.name): field for field in fields})
        first: Input | None = None
        for name in names:
            row = self._row_with_key(name)
            if name in shown:
                target = shown[name].input
                shown[name].mark("The crew says this input is missing.", target)
            elif row is not None:
                target = row.value_input
                row.mark("The crew says this input is missing.", target)
            else:
                continue
            first = first or target
        if first is not None:
            first.focus()
            first.scroll_visible()

    def _row_with_key(self, key: str) -> _PairRow | None:
        return next((row for row in self._rows("input") if row.pair[0] == key), None)

    def _check(self) -> Input | None:
        """Mark every local problem; the first bad input, or ``None`` when all is well."""
        bad: list[Input] = []
        taken: set[str] = set()
        for field in self._required_fields():
            taken.add(str(field.name))
            if not self._flow and not field.input.value.strip():
                field.mark("Required by the crew: give it a value.", field.input)
                bad.append(field.input)
        for row in self._rows("input"):
            row.split_typed_pair()
        bad += self._check_rows(self._rows("input"), taken, "input")
        bad += self._check_rows(self._rows("meta"), set(), "meta key")
        for key, label in HOOKS:
            field = self._hook_field(key)
            value = field.input.value.strip()
            if not value:
                continue
            try:
                check_webhook_url(value, f"The {label}")
            except ConfigError as error:
                field.mark(str(error), field.input)
                bad.append(field.input)
        return bad[0] if bad else None

    @staticmethod
    def _check_rows(rows: Sequence[_PairRow], taken: set[str], what: str) -> list[Input]:
        """KEY=VALUE rows: a key for every value, each key once (blank rows are ignored)."""
        bad: list[Input] = []
        for row in rows:
            key, _ = row.pair
            if row.blank:
                continue
            target = row.key_input
            if not key:
                row.mark("Give this value a KEY.", target)
            elif "=" in key:
                row.mark("A KEY holds no '='; put the value in the value box.", target)
            elif key in taken:
                row.mark(f"The {what} {key!r} is already set above; give each key once.", target)
            elif row.kind == "input" and not row.pair[1].strip():
                target = row.value_input
                try:
                    check_input_value(key, row.pair[1])
                except ConfigError as error:
                    row.mark(str(error), target)
            else:
                taken.add(key)
                continue
            bad.append(target)
        return bad

    def _request(self) -> KickoffRequest:
        inputs = dict(self._input_pairs(sent=True))
        meta: dict[str, Any] = {}
        for key, text in (row.pair for row in self._rows("meta")):
            kept = self._meta_kept.get(key)
            unchanged = key in self._meta_kept and text == meta_text(kept)
            meta[key] = kept if unchanged else text
        meta.pop("", None)
        hooks = {key: self._hook_url(key) for key, _ in HOOKS}
        webhooks: WebhookUrls | None = None
        if hooks == self._real_hooks and self._receiver_hooks is not None:
            webhooks = self._receiver_hooks
        elif any(hooks.values()):
            webhooks = WebhookUrls(task=hooks["task"], step=hooks["step"], crew=hooks["crew"])
        return KickoffRequest(crew=self._crew, inputs=inputs, meta=meta, webhooks=webhooks)
