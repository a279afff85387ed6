"""Checks of what people type (ids, URLs, KEY=VALUE pairs) before anything is sent or written.

The CLI and the kickoff form use the same checks, so both give the same one sentence.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from crewtui.api.errors import ConfigError

_KICKOFF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def validate_kickoff_id(kickoff_id: str) -> str:
    """A kickoff id as the service issues them (a UUID, or at least a plain token)."""
    cleaned = kickoff_id.strip()
    if not _KICKOFF_ID.match(cleaned):
        shown = cleaned[:60].encode("unicode_escape").decode("ascii")
        raise ConfigError(
            f"'{shown}' is not a kickoff id; ids look like 5f1c2d3e-1234-4abc-9def-0123456789ab."
        )
    return cleaned


def check_webhook_url(url: str, field: str) -> str:
    """An absolute http(s) URL, as the service requires for webhook targets."""
    cleaned = url.strip()
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{field} must be an absolute http(s) URL such as https://example.com/hooks/task."
        )
    return cleaned


_CREW_URL_EXAMPLE = "https://my-crew.crewai.com"


def check_crew_url(url: str) -> str:
    """A crew's base URL, without a trailing slash; a ConfigError says what is wrong with it.

    Every way a crew URL enters (``--url``, ``CREWAI_API_URL``, the config file) goes
    through here. The message quotes the URL with any user info masked, never a password.
    """
    return _check_base_url(
        url,
        example=_CREW_URL_EXAMPLE,
        what="the crew's base URL",
        no_user_info="crewtui signs in to a crew with its bearer token only",
    )


# The port a URL without one is served on.
_DEFAULT_PORTS = {"http": 80, "https": 443}


def same_crew_url(one: str, other: str) -> bool:
    """Whether two checked crew URLs name the same crew: scheme and host are read in any
    case and a default port may be written or not (``HTTPS://Travel.crewai.com:443`` is
    ``https://travel.crewai.com``), while the path is the crew's own and compared as is."""

    def key(url: str) -> tuple[str, str | None, int | None, str]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return (scheme, parts.hostname, parts.port or _DEFAULT_PORTS.get(scheme), parts.path)

    return key(one) == key(other)


def check_public_url(url: str) -> str:
    """The receiver's public URL (``[webhooks] public_url``), without a trailing slash.

    Every hook URL is built on it, so it is held to a crew URL's rules (a path is fine);
    user info is refused because the URL goes to the service with every kickoff.
    """
    return _check_base_url(
        url,
        example="https://hooks.example.com",
        what="the receiver's base URL",
        no_user_info="the service is sent this URL with every kickoff",
    )


def _check_base_url(url: str, *, example: str, what: str, no_user_info: str) -> str:
    """A base URL other paths are appended to: http(s), a host, a valid port, nothing after."""
    cleaned = url.strip().rstrip("/")
    shown = repr(_masked(cleaned))
    parts = urlsplit(cleaned)
    if "@" in parts.netloc:
        raise ConfigError(
            f"{shown} has a user name or password in it (USER:PASSWORD@): remove it, {no_user_info}"
        )
    if any(char.isspace() or not char.isprintable() for char in cleaned):
        raise ConfigError(f"{shown} has a space or a control character in it: remove it")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{shown} is not an http(s) URL such as {example}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ConfigError(f"{shown} has no valid port: a port is a number from 1 to 65535")
    if parts.query or parts.fragment or "?" in cleaned or "#" in cleaned:
        raise ConfigError(
            f"{shown} has a query (?...) or a fragment (#...), which would break every "
            f"path added to it: give {what} only, such as {example}"
        )
    return cleaned


def _masked(url: str) -> str:
    """``url`` with whatever precedes an ``@`` in it masked: it may be a password."""
    return re.sub(r"^([^/]*//)?[^@]*@", r"\1***@", url)


def unique_pairs(pairs: Iterable[tuple[str, str]], what: str) -> dict[str, str]:
    """KEY=VALUE pairs as a dict; an empty or repeated key is refused, never overwritten."""
    result: dict[str, str] = {}
    for key, value in pairs:
        if not key.strip():
            raise ConfigError(f"An {what} has an empty name; write it as KEY=VALUE.")
        if key in result:
            raise ConfigError(f"The {what} {key!r} is given twice; give each key once.")
        result[key] = value
    return result


def check_input_value(key: str, value: str) -> str:
    """An input's value; an empty one is refused, since the service takes it for missing."""
    if not value.strip():
        raise ConfigError(f"The input {key!r} is empty; give it a value or leave it out.")
    return value


LOOPBACK = "127.0.0.1"

_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_PORT = re.compile(r"[0-9]{1,5}")


def parse_listen(value: str, what: str = "The webhook address") -> tuple[str, int]:
    """``HOST:PORT``, ``[::1]:PORT``, ``:PORT`` or ``PORT`` (loopback) as (host, port);
    ``what`` names the address in the sentence that refuses it."""
    text = value.strip()
    host, _, port_text = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    if _PORT.fullmatch(port_text) and int(port_text) <= 65535:
        if not host and not bracketed:
            return LOOPBACK, int(port_text)
        if _valid_host(host, bracketed):
            return host, int(port_text)
    raise ConfigError(
        f"{what} {value!r} is not HOST:PORT, such as 127.0.0.1:8787, [::1]:8787 or :8787."
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as ``parse_listen`` gives it) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _valid_host(host: str, bracketed: bool) -> bool:
    """An IPv6 address only in brackets; otherwise an IPv4 address or a host name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return not bracketed and _HOSTNAME.fullmatch(host) is not None
    return bracketed == (address.version == 6)
