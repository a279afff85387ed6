"""The Output tab's view as the detail mounts it: late, so possibly while the app closes.

The detail mounts its output view with the first kickoff it shows, after the first frame
(the view brings the Markdown parser). If the app quits in the moment between that mount
and the view's compose, Textual skips mounting into a node it is tearing down, and the
view would start without its children: its ``on_mount`` must then do nothing.
"""

from __future__ import annotations

from textual.events import Mount

from crewtui.ui.widgets.output_view import OutputView


class LateOutputView(OutputView):
    """An ``OutputView`` that tolerates being torn down before its children exist."""

    def on_mount(self, event: Mount | None = None) -> None:
        if event is not None and not self.children:  # mounted into a closing app
            event.prevent_default()
