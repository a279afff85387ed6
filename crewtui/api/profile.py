"""A crew as crewtui addresses it: a name, a base URL and a bearer token kept secret."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from crewtui.api.errors import ConfigError
from crewtui.api.redact import remember_secret
from crewtui.api.secret import Secret
from crewtui.api.validate import check_crew_url


@dataclass(frozen=True, slots=True)
class CrewProfile:
    """One deployed crew. ``token`` is a ``Secret``: it never shows in a repr or a log.

    A plain dataclass checked in ``__post_init__`` (so ``dataclasses.replace`` checks too):
    the app builds profiles before its first frame. A bad URL or token raises ConfigError
    with one sentence that never quotes the value.
    """

    name: str
    url: str
    token: Secret | None = None
    # The name of an environment variable holding the token (config files may name it
    # instead of holding the token itself).
    token_env: str | None = None
    # Where the token came from, in the words a message should use to point at it
    # ("--token", "$CREWAI_BEARER_TOKEN", "crews.travel.token in FILE"); never the token.
    token_source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", check_crew_url(self.url))
        if self.token is not None:
            # The loaders check with a better-named source; this covers profiles made in code.
            check_token(self.token.get_secret_value(), f"crew {self.name!r}")

    @property
    def origin(self) -> str:
        """scheme://host:port, the only place the token may be sent."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def is_plain_http_remote(self) -> bool:
        """True when the token would cross a network unencrypted (http to a non-loopback host)."""
        parts = urlsplit(self.url)
        return parts.scheme == "http" and not is_loopback_host(parts.hostname or "")

    @property
    def token_hint(self) -> str:
        """Where to look when the service rejects this crew's token."""
        return self.token_source or f"the {self.name} crew's token"

    def bearer(self) -> str | None:
        """The token's value, for the Authorization header and nothing else."""
        return self.token.get_secret_value() if self.token is not None else None


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses, and nothing that merely looks alike.

    ``127.example.invalid`` is a name anyone can point anywhere; only an address parsed by
    ``ipaddress`` (or the literal name ``localhost``) proves the packets stay on this machine.
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_token(value: str, source: str) -> Secret:
    """A token as loaded from ``source``, kept secret and remembered for redaction.

    Only printable ASCII without spaces can go into an HTTP header: a CR or LF left by a
    Windows line ending, or a non-breaking space pasted from a web page, would otherwise
    fail deep in the HTTP library with an error that quotes the token. The message names
    where the token came from and never the token itself.
    """
    if any(not "!" <= char <= "~" for char in value):
        raise ConfigError(
            f"The token from {source} contains a space, a control character (such as the CR "
            "or LF of a Windows line ending) or a non-ASCII character: remove it and try again."
        )
    remember_secret(value)
    return Secret(value)
