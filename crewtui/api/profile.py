"""A crew as crewtui addresses it: a name, a base URL and a bearer token kept secret."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class CrewProfile(BaseModel):
    """One deployed crew. ``token`` is a ``SecretStr``: it never shows in a repr or a log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    url: str
    token: SecretStr | None = None
    # The name of an environment variable holding the token (config files may name it
    # instead of holding the token itself).
    token_env: str | None = None

    @field_validator("url")
    @classmethod
    def _normalize_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL such as https://my-crew.crewai.com")
        return value

    @property
    def origin(self) -> str:
        """scheme://host:port, the only place the token may be sent."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def is_plain_http_remote(self) -> bool:
        """True when the token would cross a network unencrypted (http to a non-loopback host)."""
        parts = urlsplit(self.url)
        host = (parts.hostname or "").lower()
        return parts.scheme == "http" and host not in LOOPBACK_HOSTS and not host.startswith("127.")

    def bearer(self) -> str | None:
        """The token's value, for the Authorization header and nothing else."""
        return self.token.get_secret_value() if self.token is not None else None
