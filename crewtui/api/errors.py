"""Typed errors, each with one sentence for people and an exit code for scripts.

Every error crewtui shows is one of these: the CLI prints ``message`` and exits with
``exit_code``; the app shows ``message`` in a toast or the status line. No traceback ever
reaches a user, and no message ever holds a token.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The CLI's exit codes, documented in the README."""

    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    TIMED_OUT = 3
    NOT_FOUND = 4
    TOKEN_REJECTED = 5
    UNREACHABLE = 6
    UNUSABLE_ANSWER = 7
    INTERRUPTED = 130  # Ctrl-C (SIGINT) before the command was done: 128 + 2, as shells say


class CrewtuiError(Exception):
    """Base of every error crewtui expects; ``message`` is one clear sentence."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(CrewtuiError):
    """The configuration or the command line is wrong; nothing was sent or written."""

    exit_code = ExitCode.USAGE


class StoreError(CrewtuiError):
    """The local history cannot be opened or written."""

    exit_code = ExitCode.USAGE


class ApiError(CrewtuiError):
    """The crew's service answered with an error, or could not be reached."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthError(ApiError):
    """401/403: the token was rejected."""

    exit_code = ExitCode.TOKEN_REJECTED


class InputValidationError(ApiError):
    """422 (or 400): the kickoff was refused, usually for missing inputs."""

    exit_code = ExitCode.USAGE

    def __init__(
        self, message: str, *, missing: list[str] | None = None, status_code: int | None = 422
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.missing = missing or []


class NotFoundError(ApiError):
    """404 on an endpoint (a wrong URL, or an execution the service does not know)."""

    exit_code = ExitCode.NOT_FOUND


class CrewNotFoundError(NotFoundError):
    """404 on the crew's own endpoints (``/inputs``, ``/kickoff``): its URL is wrong.

    That is a configuration problem and exits like one (2); exit 4 is for a kickoff the
    service does not know.
    """

    exit_code = ExitCode.USAGE


class ServerError(ApiError):
    """5xx or an answer that is not what the API sends; ``excerpt`` is short and sanitized."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, message: str, *, status_code: int | None = None, excerpt: str = "") -> None:
        super().__init__(message, status_code=status_code)
        self.excerpt = excerpt


class RateLimitedError(ServerError):
    """429 after retries ran out; ``retry_after`` is the clamped wait the server asked for."""

    def __init__(
        self, message: str, *, status_code: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class BadResponseError(ServerError):
    """The body was not JSON (an HTML page, say), was undecodable, or larger than the cap.

    The service was reached and answered: retrying or calling it unreachable would mislead,
    so it has an exit code of its own.
    """

    exit_code = ExitCode.UNUSABLE_ANSWER


class TransportError(ApiError):
    """The service could not be reached: connect error, timeout, reset."""

    exit_code = ExitCode.UNREACHABLE


class KickoffUncertainError(ApiError):
    """POST /kickoff may have reached the server but no answer came back.

    The run may have started; crewtui never retries it (a retry could start a second run).
    """

    exit_code = ExitCode.UNREACHABLE


class KickoffAnswerUnusableError(KickoffUncertainError):
    """POST /kickoff was answered with something crewtui cannot use (a web page, a body
    without a kickoff id, one over the cap).

    Something answered, so it is not "unreachable": it exits as every unusable answer does
    (7: check that the URL is the crew's own). Whether a run started behind it is not known
    all the same, so everywhere else it is an uncertain kickoff (kept as "may have
    started", never sent again).
    """

    exit_code = ExitCode.UNUSABLE_ANSWER
