"""The ``?`` screen: every key, as remapped by the user's config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from crewtui.ui.bindings import MAIN_KEYS, NAVIGATION_HELP, effective_key


def key_rows(keymap: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, what it does): commands first, then Textual's own navigation."""
    commands = [(effective_key(spec, keymap), spec.help) for spec in MAIN_KEYS]
    return [*commands, ("", ""), *NAVIGATION_HELP]


def key_table(keymap: Mapping[str, str], key_style: Style) -> Table:
    """The keys as a two-column grid, keys right-aligned in the theme's accent."""
    table = Table.grid(padding=(0, 3))
    table.add_column(justify="right", no_wrap=True)
    table.add_column()
    for key, words in key_rows(keymap):
        table.add_row(Text(key, style=key_style), words)
    return table


class HelpScreen(ModalScreen[None]):
    """A calm sheet of keys; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {"help--key"}
    DEFAULT_CSS = """
    HelpScreen > .help--key { color: $accent; text-style: bold; }
    """

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)

    def compose(self) -> ComposeResult:
        key_style = self.get_component_rich_style("help--key", partial=True)
        with VerticalScroll(id="help-body", classes="dialog") as body:
            body.border_title = "Keys"
            body.border_subtitle = "escape to close"
            yield Static(key_table(self.keymap, key_style), id="help-keys")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
