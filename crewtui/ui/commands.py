"""The command palette (ctrl+p): every main-screen command, and a new kickoff per crew."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from crewtui.api.sanitize import inert_line
from crewtui.ui.bindings import KEYS_BY_ID, MAIN_KEYS, effective_key


class KickoffCommands(Provider):
    """Commands of the main screen, named as the help screen names them; the description
    gives the key (never the title again)."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        # Imported here: the app module imports this one.
        from crewtui.ui.screens.main import MainScreen

        screen = self.screen
        if not isinstance(screen, MainScreen):
            return
        for spec in MAIN_KEYS:
            key = effective_key(spec, screen.keymap)
            yield spec.help, f"key {key}", partial(screen.run_action, spec.action)
        new_key = effective_key(KEYS_BY_ID["new"], screen.keymap)
        for crew in screen.tracker.crews:
            name = inert_line(crew, 40)
            yield (
                f"New kickoff on {name}",
                f"the form with this crew chosen (key {new_key} picks the crew of the row)",
                partial(screen.open_form_for, crew),
            )

    async def discover(self) -> Hits:
        for title, help_text, command in self._commands():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, command in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, text=title, help=help_text)
