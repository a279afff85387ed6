"""The app's crash dump, made safe: no frame locals, no secret.

Textual renders an unhandled error with ``Traceback(show_locals=True)``: a token held by a
crew profile or a request header was printed once per frame, ten times. ``SafeCrash``
wraps the error so that Textual renders it through ``__rich__`` instead: the same
traceback without locals, every form of every secret blanked in its messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import RenderableType

from crewtui.api.redact import redact

if TYPE_CHECKING:  # imported with a crash: it brings Pygments, which no frame needs before
    from rich.traceback import Trace


class SafeCrash(Exception):
    """An unhandled ``error`` that renders without locals and without ``secrets``."""

    def __init__(self, error: BaseException, secrets: Sequence[str]) -> None:
        super().__init__(redact(f"{type(error).__name__}: {error}", secrets))
        self.__cause__ = error
        self._error = error
        self._secrets = list(secrets)

    def __rich__(self) -> RenderableType:
        import rich
        from rich.traceback import Traceback

        error = self._error
        trace = Traceback.extract(type(error), error, error.__traceback__, show_locals=False)
        _redact_trace(trace, self._secrets)
        return Traceback(trace, width=None, suppress=[rich])


def _redact_trace(trace: Trace, secrets: Sequence[str]) -> None:
    for stack in trace.stacks:
        stack.exc_value = redact(stack.exc_value, secrets)
        stack.notes = [redact(note, secrets) for note in stack.notes]
        if stack.syntax_error is not None:
            stack.syntax_error.msg = redact(stack.syntax_error.msg, secrets)
            stack.syntax_error.line = redact(stack.syntax_error.line, secrets)
        for frame in stack.frames:
            frame.locals = None
        for group in stack.exceptions:
            _redact_trace(group, secrets)
