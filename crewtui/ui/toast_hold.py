"""Toasts held back while a dialog is open, and let out when it closes.

Textual stacks toasts in the bottom-right corner of the screen on top, which is where the
kickoff form, the batch form and every dialog keep their buttons: at 80x24 a busy day's
"Run completed" toasts sat on "Kick off ^s". While a dialog is open the toast rack is hidden
(``crewtui.tcss``) and the toasts that arrive wait here; when the dialog closes they are
raised again with their full time: every warning and error, the newest plain ones, and one
line counting the plain ones left out, so a long stay in a form does not end in a wall of
toasts.
"""

from __future__ import annotations

from textual.notifications import Notification

# Plain (information) toasts let out when a dialog closes; the earlier ones are counted.
PLAIN_TOASTS_LET_OUT = 2


class ToastHold:
    """The toasts that arrived while a dialog was open, in arrival order."""

    def __init__(self) -> None:
        self._held: list[Notification] = []

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, notification: Notification) -> None:
        self._held.append(notification)

    def release(self) -> list[Notification]:
        """The toasts to raise now, oldest first; the hold is empty afterwards."""
        held, self._held = self._held, []
        plain = [toast for toast in held if toast.severity == "information"]
        left_out = plain[:-PLAIN_TOASTS_LET_OUT] if len(plain) > PLAIN_TOASTS_LET_OUT else []
        if not left_out:
            return held
        left_out_ids = {toast.identity for toast in left_out}
        count = Notification(
            f"{len(left_out)} earlier notices while the dialog was open (l: the Log view).",
            timeout=left_out[-1].timeout,
        )
        return [count, *(toast for toast in held if toast.identity not in left_out_ids)]
