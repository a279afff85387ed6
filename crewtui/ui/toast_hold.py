"""Toasts held back while a dialog is open, and let out when it closes.

Textual stacks toasts in the bottom-right corner of the screen on top, which is where the
kickoff form, the batch form and every dialog keep their buttons: at 80x24 a busy day's
"Run completed" toasts sat on "Kick off ^s". While a dialog is open the toast rack is hidden
(``crewtui.tcss``) and the toasts that arrive wait here; when the dialog closes they are
raised again with their full time: every warning and error, the newest plain ones, and one
line counting the plain ones left out, so a long stay in a form does not end in a wall of
toasts. A toast raised again keeps its identity, so whoever raised it can still take it back.

A toast made out of date by a newer one (the runs that ended, counted again with the runs
that ended since) is taken back wherever it waits, here or on screen
(``CrewtuiApp.take_back_toast``), so one such toast is seen, never a stack of them.
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

    def take_back(self, notification: Notification) -> bool:
        """Forget a held toast (by identity); whether it was held."""
        kept = [toast for toast in self._held if toast.identity != notification.identity]
        taken = len(kept) < len(self._held)
        self._held = kept
        return taken

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
