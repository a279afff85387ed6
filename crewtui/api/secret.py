"""A value that must never be shown: a token, a signing secret, a URL holding a password.

``Secret`` hides its value from ``repr`` and ``str`` (so from logs, tracebacks' locals,
f-strings and dataclass reprs); the value comes out only through ``get_secret_value``, the
one call a reader can grep for. It replaces pydantic's ``SecretStr`` (same method name) in
the config, which the app reads before its first frame and where pydantic cost a third of it.
"""

from __future__ import annotations

from typing import Final

_HIDDEN: Final = "**********"


class Secret:
    """A string kept out of every repr; equal to another ``Secret`` with the same value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The value itself, for the one place that must send or write it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_HIDDEN}')"

    def __str__(self) -> str:
        return _HIDDEN

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
