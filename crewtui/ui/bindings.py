"""Every key crewtui answers to, with a stable id so users can remap it.

One table drives the footer, the ``?`` help screen, the command palette and the config file's
``[keys]`` section (``binding-id = "key"``), so the four can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding

from crewtui.ui.widgets.detail import TAB_IDS


@dataclass(frozen=True)
class KeySpec:
    """One user-facing command: its id, default key, action and words for people."""

    id: str
    key: str
    action: str
    label: str
    help: str
    show: bool = True
    key_display: str | None = None
    # Priority keys run as the app reads them, before it routes the next key: a dialog they
    # open is on the stack in time to receive the keys typed right after (see EarlyKeys).
    priority: bool = False


MAIN_KEYS: tuple[KeySpec, ...] = (
    KeySpec("new", "n", "new_kickoff", "New", "Start a new kickoff with the form", priority=True),
    KeySpec(
        "batch",
        "b",
        "new_batch",
        "Batch",
        "Start one kickoff per row of a CSV or JSON Lines file",
        show=False,
        priority=True,
    ),
    KeySpec(
        "batch-runs",
        "B",
        "batch_runs",
        "Batch runs",
        "Show only the batch row's runs, or every run again",
        show=False,
    ),
    KeySpec("rerun", "r", "rerun", "Re-run", "Open the form pre-filled from the selected kickoff"),
    KeySpec("track", "t", "track", "Track", "Track a kickoff id started elsewhere", priority=True),
    KeySpec(
        "filter", "slash", "filter", "Filter", "Filter by crew, state or text", key_display="/"
    ),
    KeySpec(
        "clear-filter",
        "escape",
        "clear_filter",
        "Clear filter",
        "Clear the filter or batch shown: every run again",
        show=False,
        key_display="esc",
    ),
    KeySpec("sort", "s", "cycle_sort", "Sort", "Cycle sort: newest, oldest, state, crew"),
    KeySpec("tokens", "T", "toggle_tokens", "Tokens", "Show or hide the tokens column", show=False),
    KeySpec("copy", "c", "copy_output", "Copy", "Copy the shown output to the clipboard"),
    KeySpec(
        "markdown",
        "m",
        "toggle_markdown",
        "Markdown",
        "Show outputs as rendered Markdown or as plain text",
        show=False,
    ),
    KeySpec("export", "e", "export", "Export", "Export the selected kickoff as Markdown and JSON"),
    KeySpec(
        "archive", "d", "archive", "Archive", "Archive (hide) or unarchive the selected kickoff"
    ),
    KeySpec(
        "delete",
        "D",
        "delete",
        "Delete",
        "Delete the selected kickoff from the local history",
        show=False,
    ),
    KeySpec(
        "answer",
        "a",
        "answer",
        "Answer",
        "Approve or reject the selected run that waits for input",
        show=False,
    ),
    KeySpec(
        "inbox",
        "i",
        "inbox",
        "Inbox",
        "The runs waiting for you, oldest first, to answer there",
        show=False,  # the status line names it ("2 waiting · i") whenever a run waits
    ),
    KeySpec(
        "cancel",
        "x",
        "cancel",
        "Cancel run",
        "Stop the selected run once you confirm (experimental)",
    ),
    KeySpec("refresh", "R", "refresh", "Refresh", "Poll every active kickoff now"),
    KeySpec("log", "l", "app.open_log", "Log", "Show the log of what happens across runs"),
    KeySpec(
        "mark",
        "space",
        "mark",
        "Mark",
        "Mark a run to compare; a second mark opens the comparison",
        show=False,
        key_display="space",
    ),
    KeySpec(
        "stats",
        "S",
        "stats",
        "Stats",
        "Stats of the selected crew: runs, success, times, cost",
        show=False,
    ),
    KeySpec(
        "focus-detail",
        "enter",
        "focus_detail",
        "Detail",
        "Move the focus to the detail pane",
        show=False,
        key_display="⏎",
    ),
    *(
        KeySpec(
            f"tab-{tab}",
            str(number),
            f"show_tab('{tab}')",
            tab.capitalize(),
            f"Show the {tab.capitalize()} tab of the detail",
            show=False,
        )
        for number, tab in enumerate(TAB_IDS, start=1)
    ),
    KeySpec(
        "tab-previous",
        "left_square_bracket",
        "step_tab(-1)",
        "Previous tab",
        "Show the previous tab of the detail",
        show=False,
        key_display="[",
    ),
    KeySpec(
        "tab-next",
        "right_square_bracket",
        "step_tab(1)",
        "Next tab",
        "Show the next tab of the detail",
        show=False,
        key_display="]",
    ),
    KeySpec("help", "question_mark", "help", "Help", "Show every key", key_display="?"),
    KeySpec("quit", "q", "quit", "Quit", "Quit crewtui (running kickoffs keep running)"),
)
"""The main screen's commands, in the order the footer and the help screen show them."""

LOG_KEYS: tuple[KeySpec, ...] = (
    KeySpec(
        "log-pause",
        "space,p",
        "toggle_pause",
        "Pause",
        "Pause or resume the log (space or p); new lines are counted meanwhile",
        key_display="space",
    ),
    KeySpec(
        "log-filter",
        "f",
        "filter",
        "Filter",
        "Show only some lines: crew:NAME kind:KIND and words",
    ),
    KeySpec(
        "log-search",
        "slash",
        "search",
        "Search",
        "Find a text in the log; n and N move between the lines that hold it",
        key_display="/",
    ),
    KeySpec("log-next", "n", "next_match(1)", "Next", "The next line found", show=False),
    KeySpec(
        "log-previous", "N", "next_match(-1)", "Previous", "The previous line found", show=False
    ),
    KeySpec("log-top", "g", "top", "Top", "The oldest line", show=False),
    KeySpec("log-end", "G", "end", "End", "The newest line, following new ones"),
    KeySpec("log-back", "escape,l", "back", "Back", "Back to the list", key_display="esc"),
    KeySpec("log-quit", "q", "app.quit", "Quit", "Quit crewtui (running kickoffs keep running)"),
)
"""The Log view's commands (``ui/screens/log.py``)."""

NAVIGATION_HELP: tuple[tuple[str, str], ...] = (
    ("j / ↓", "Next kickoff"),
    ("k / ↑", "Previous kickoff"),
    ("tab / shift+tab", "Next / previous pane"),
    ("pgup / pgdn", "Page up / down"),
    ("ctrl+p", "Command palette"),
    ("escape", "Close a dialog"),
)
"""Keys that are Textual's own (not remappable here), listed for the help screen."""

KEYS_BY_ID = {spec.id: spec for spec in (*MAIN_KEYS, *LOG_KEYS)}
KEY_IDS = frozenset(KEYS_BY_ID)
PRIORITY_ACTIONS = frozenset(spec.action for spec in MAIN_KEYS if spec.priority)


def main_bindings() -> list[Binding]:
    """Textual bindings for the main screen, each carrying its id for the keymap."""
    return bindings_of(MAIN_KEYS)


def bindings_of(specs: tuple[KeySpec, ...]) -> list[Binding]:
    """Textual bindings for a screen's keys, each carrying its id for the keymap."""
    return [
        Binding(
            spec.key,
            spec.action,
            spec.label,
            show=spec.show,
            key_display=spec.key_display,
            tooltip=spec.help,
            id=spec.id,
            priority=spec.priority,
        )
        for spec in specs
    ]


def keymap_from_config(keys: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Split the config's ``[keys]`` into a Textual keymap and the ids nobody knows.

    Unknown ids are returned rather than raised: a typo in the config should be reported
    once, not keep the app from starting.
    """
    keymap = {binding_id: key for binding_id, key in keys.items() if binding_id in KEY_IDS}
    unknown = sorted(binding_id for binding_id in keys if binding_id not in KEY_IDS)
    return keymap, unknown


def effective_key(spec: KeySpec, keymap: Mapping[str, str]) -> str:
    """The key a person presses for ``spec``, after remapping, as they would type it."""
    if spec.id in keymap:
        return keymap[spec.id]
    return spec.key_display or spec.key
