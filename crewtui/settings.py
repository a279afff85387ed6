"""The config file's tables of settings (``[poll]``, ``[ui]``, ``[webhooks]``...) and their rules.

Each table is a frozen dataclass whose fields carry their rule (``number``, ``flag``,
``choice``...), checked in ``__post_init__``: a table built in code is held to the same rules
as one read from the file (``read_table``). A broken rule raises ``TableProblem``, which
names the key and says what is wrong without quoting the value (it may be a secret);
``crewtui.config`` turns it into one sentence that names the file.

Why not pydantic, which the wire models use: the app reads the config before its first
frame, and building pydantic's validators for these tables cost about 85 ms of CPU there,
a third of that frame on a 2-core machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from crewtui.api.errors import ConfigError
from crewtui.api.profile import check_token
from crewtui.api.secret import Secret
from crewtui.api.states import WebhookForm
from crewtui.api.validate import check_public_url, parse_listen
from crewtui.core.pricing import Price, price_table

# ``[notify] osc``: which events send a desktop notification (``crewtui.core.notify``).
OscSetting = Literal["off", "ended", "waiting", "all"]
# ``[notify] form``: the sequence the terminal understands.
OscForm = Literal["osc9", "osc777"]

ProblemKind = Literal["unknown", "missing", "bad"]


class TableProblem(ValueError):
    """What is wrong with one key: ``path`` is the key's place (``("poll", "min_interval")``),
    ``known`` the keys its table accepts (for an unknown key), ``problem`` the reason."""

    def __init__(
        self,
        kind: ProblemKind,
        path: tuple[str, ...],
        problem: str = "",
        known: Sequence[str] = (),
    ) -> None:
        super().__init__(problem or kind)
        self.kind = kind
        self.path = path
        self.problem = problem
        self.known: tuple[str, ...] = tuple(known)

    def under(self, *prefix: str) -> TableProblem:
        """The same problem, placed inside the tables ``prefix`` names."""
        return TableProblem(self.kind, (*prefix, *self.path), self.problem, self.known)


@dataclass(frozen=True)
class _Rule:
    """What one field accepts; ``coerce`` returns the value as kept, or raises ValueError."""

    kind: Literal["number", "integer", "flag", "text", "choice", "secret"]
    above: float | None = None
    at_least: float | None = None
    finite: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False

    def coerce(self, value: Any) -> Any:
        if value is None:
            if self.optional:
                return None
            raise ValueError("must be given")
        kept = _KINDS[self.kind](self, value)
        limit_above = self.above is not None and not kept > self.above
        if limit_above or (self.at_least is not None and not kept >= self.at_least):
            bound = f"greater than {self.above:g}" if limit_above else f"at least {self.at_least:g}"
            raise ValueError(f"must be {bound}")
        return kept


def _number(rule: _Rule, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if math.isnan(value) or (rule.finite and math.isinf(value)):
        raise ValueError("must be a finite number")
    return float(value)


def _integer(rule: _Rule, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def _flag(rule: _Rule, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _text(rule: _Rule, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _choice(rule: _Rule, value: Any) -> str:
    if value not in rule.choices:
        raise ValueError(f"must be one of {', '.join(repr(c) for c in rule.choices)}")
    return str(value)


def _secret(rule: _Rule, value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return Secret(value)


_KINDS: dict[str, Callable[[_Rule, Any], Any]] = {
    "number": _number,
    "integer": _integer,
    "flag": _flag,
    "text": _text,
    "choice": _choice,
    "secret": _secret,
}
_RULE = "crewtui.rule"


def _ruled(default: Any, rule: _Rule) -> Any:
    return field(default=default, metadata={_RULE: rule})


def number(
    default: Any = MISSING,
    *,
    above: float | None = None,
    at_least: float | None = None,
    finite: bool = False,
) -> Any:
    """A float field (an integer in the file is taken as one)."""
    return _ruled(default, _Rule("number", above=above, at_least=at_least, finite=finite))


def integer(default: int, *, at_least: int | None = None) -> Any:
    """A whole-number field."""
    return _ruled(default, _Rule("integer", at_least=at_least))


def flag(default: bool) -> Any:
    """A true/false field."""
    return _ruled(default, _Rule("flag"))


def text(default: str | None = None, *, optional: bool = False) -> Any:
    """A non-empty string field (``default=None`` with ``optional``: may be left out)."""
    kept = MISSING if default is None and not optional else default
    return _ruled(kept, _Rule("text", optional=optional))


def choice(default: str, choices: Any) -> Any:
    """One of the strings of a ``Literal`` type."""
    return _ruled(default, _Rule("choice", choices=get_args(choices)))


def secret() -> Any:
    """An optional secret: a string in the file, a ``Secret`` once read."""
    return _ruled(None, _Rule("secret", optional=True))


_Self = TypeVar("_Self", bound="Table")


@dataclass(frozen=True)
class Table:
    """A table of the file: unknown keys are refused (a typo must not pass silently) and each
    field's rule is checked, from the file and from code alike."""

    def __post_init__(self) -> None:
        for item in fields(self):
            rule = item.metadata.get(_RULE)
            if rule is not None:
                kept = _coerce_in(rule, (item.name,), getattr(self, item.name))
                object.__setattr__(self, item.name, kept)
        self._check()

    def _check(self) -> None:
        """Rules across fields, or owned by another module; raise ``TableProblem``."""


def read_table(cls: type[_Self], data: Any, path: tuple[str, ...] = ()) -> _Self:
    """``data`` (a table parsed from TOML) as a ``cls``; a TableProblem placed at ``path``."""
    if not isinstance(data, Mapping):
        raise TableProblem("bad", path, "must be a table")
    accepted = [item.name for item in fields(cls) if item.init]
    unknown = sorted(key for key in data if key not in accepted)
    if unknown:
        raise TableProblem("unknown", (*path, unknown[0]), known=accepted)
    for item in fields(cls):
        if item.init and item.name not in data and _required(item):
            raise TableProblem("missing", (*path, item.name))
    try:
        return cls(**data)
    except TableProblem as problem:
        raise problem.under(*path) from None


def _required(item: Field[Any]) -> bool:
    return item.default is MISSING and item.default_factory is MISSING


def table_document(table: Table, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """What ``table`` sets that its defaults do not, as plain values for a file: tables
    within it as tables (left out when all theirs are defaults), secrets as their value.
    A table with required fields (a price) has no defaults: all of its fields are kept."""
    defaults = None if any(map(_required, fields(table))) else type(table)()
    document: dict[str, Any] = {}
    for item in fields(table):
        value = getattr(table, item.name)
        if item.name in skip or value is None:
            continue
        if defaults is not None and value == getattr(defaults, item.name):
            continue
        document[item.name] = _document_value(value)
    return document


def _document_value(value: Any) -> Any:
    if isinstance(value, Table):
        return table_document(value)
    if isinstance(value, Secret):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {key: _document_value(item) for key, item in value.items()}
    return value


def _value_error(key: str, error: ConfigError) -> TableProblem:
    return TableProblem("bad", (key,), error.message)


@dataclass(frozen=True)
class PollSettings(Table):
    """``[poll]``: how hard crewtui may press on a crew's API."""

    min_interval: float = number(1.0, above=0)
    max_interval: float = number(15.0, above=0)
    max_in_flight: int = integer(8, at_least=1)
    requests_per_second: float = number(10.0, above=0)
    # How long a kickoff id may answer 404 before crewtui gives up on it.
    not_found_grace: float = number(300.0, at_least=0)
    # The overall deadline of one request (httpx timeouts are per socket operation).
    request_deadline: float = number(30.0, above=0)
    # The largest answer read, in MB (decompressed): enough for a 20 MB output by default.
    max_body_mb: float = number(64.0, above=0)

    def _check(self) -> None:
        if self.max_interval < self.min_interval:
            raise TableProblem(
                "bad",
                ("max_interval",),
                f"max_interval ({self.max_interval}) must be at least "
                f"min_interval ({self.min_interval})",
            )


@dataclass(frozen=True)
class HistorySettings(Table):
    """``[history]``: where the history is and what it keeps."""

    # Agent steps kept per run (the newest); older ones are dropped and counted.
    steps_per_run: int = integer(5000, at_least=1)
    # A shared history on PostgreSQL (``postgresql://user:password@host:port/database``);
    # None keeps it in the SQLite file of the home. Secret: it may hold a password.
    url: Secret | None = secret()

    def _check(self) -> None:
        if self.url is not None:
            try:
                check_history_url(self.url.get_secret_value(), "[history] url")
            except ConfigError as error:
                raise _value_error("url", error) from None


def check_history_url(url: str, where: str) -> str:
    """``url`` if it is a PostgreSQL URL; else one sentence that never repeats it (it may
    hold a password)."""
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"{where} is not a PostgreSQL URL: write it as "
            "postgresql://user:password@host:port/database (or leave it out for the "
            "SQLite history of the home)"
        )
    return url


@dataclass(frozen=True)
class UiSettings(Table):
    """``[ui]``: the look of the app, written back when the user picks a theme."""

    theme: str = text("textual-dark")
    bell: bool = flag(False)
    # Where ``e`` writes exports (``~`` is expanded); unset: see ``ui.export.export_directory``.
    export_dir: str | None = text(optional=True)


@dataclass(frozen=True)
class NotifySettings(Table):
    """``[notify]``: desktop notifications through the terminal (OSC 9 or OSC 777), which
    reach the laptop over SSH and through tmux; the app sends them, and ``watch`` and
    ``kickoff --watch`` with ``--notify``."""

    osc: OscSetting = choice("all", OscSetting)
    form: OscForm = choice("osc9", OscForm)


@dataclass(frozen=True)
class WebhookSettings(Table):
    """``[webhooks]``: where the receiver listens, the URL the crew should POST to, and the
    form kickoffs ask for: ``events`` (batched crewai events, the only form with per-call
    usage and the model, authenticated by a bearer token) or ``classic`` (the three
    per-kind URLs, for deployments that predate the batched form)."""

    listen: str | None = text(optional=True)
    public_url: str | None = text(optional=True)
    form: WebhookForm = choice("events", WebhookForm)
    # The secret a flow deployment signs its human-in-the-loop requests with; the receiver
    # serves ``/hooks/<secret>/hitl`` only when one is set (here or ``$CREWTUI_HITL_SECRET``).
    hitl_secret: Secret | None = secret()

    def _check(self) -> None:
        try:
            if self.hitl_secret is not None:
                check_token(self.hitl_secret.get_secret_value(), "the signing secret")
        except ConfigError as error:
            raise _value_error("hitl_secret", error) from None
        try:
            if self.listen is not None:
                parse_listen(self.listen)
        except ConfigError as error:
            raise _value_error("listen", error) from None
        try:
            if self.public_url is not None:
                object.__setattr__(self, "public_url", check_public_url(self.public_url))
        except ConfigError as error:
            raise _value_error("public_url", error) from None

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """``listen`` as (host, port), IPv6 brackets removed; None when not set."""
        return None if self.listen is None else parse_listen(self.listen)


@dataclass(frozen=True)
class ModelPrice(Table):
    """``[prices."model-name"]``: USD per million prompt (input) and completion (output)
    tokens; adds a model to the shipped price table or corrects one."""

    input: float = number(at_least=0, finite=True)
    output: float = number(at_least=0, finite=True)


# ``[stall.CREW]`` values: how long a task may run, in seconds.
_STALL_SECONDS = _Rule("number", above=0, finite=True)


@dataclass(frozen=True)
class Settings(Table):
    """Everything the file sets besides its crews."""

    default_crew: str | None = text(optional=True)
    poll: PollSettings = field(default_factory=PollSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    # Binding id → key string ("new_kickoff" → "ctrl+n"); the app checks the ids.
    keys: dict[str, str] = field(default_factory=dict)
    # Model name → price, on top of the shipped table (``crewtui.core.pricing``).
    prices: dict[str, ModelPrice] = field(default_factory=dict)
    # Crew → task (or "*") → seconds past which a running task is "maybe stuck"
    # (``crewtui.core.stall``); the history decides for the tasks not named.
    stall: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def price_table(self) -> dict[str, Price]:
        """The prices the cost estimate uses: the shipped table, then the configured ones."""
        configured = {name: Price(p.input, p.output) for name, p in self.prices.items()}
        return price_table(configured)

    def _check(self) -> None:
        for binding, key in self.keys.items():
            if not isinstance(key, str):
                raise TableProblem("bad", ("keys", binding), "must be a key name, like ctrl+n")
        empty = sorted(binding for binding, key in self.keys.items() if not key.strip())
        if empty:
            raise TableProblem("bad", ("keys",), f"no key given for {', '.join(empty)}")
        stall = {}
        for crew, tasks in self.stall.items():
            if not isinstance(tasks, Mapping):
                raise TableProblem("bad", ("stall", crew), "must be a table")
            stall[crew] = {
                task: _coerce_in(_STALL_SECONDS, ("stall", crew, task), seconds)
                for task, seconds in tasks.items()
            }
        object.__setattr__(self, "stall", stall)


def _coerce_in(rule: _Rule, path: tuple[str, ...], value: Any) -> Any:
    try:
        return rule.coerce(value)
    except ValueError as error:
        raise TableProblem("bad", path, str(error)) from None


_SECTIONS: dict[str, type[Table]] = {
    "poll": PollSettings,
    "ui": UiSettings,
    "history": HistorySettings,
    "webhooks": WebhookSettings,
    "notify": NotifySettings,
}


def read_settings(data: Mapping[str, Any], accepted: tuple[str, ...]) -> dict[str, Any]:
    """The ``Settings`` fields of a parsed file, as keyword arguments; ``accepted`` are the
    top-level keys the file may hold (the settings' and the caller's own, like ``crews``)."""
    unknown = sorted(key for key in data if key not in accepted)
    if unknown:
        raise TableProblem("unknown", (unknown[0],), known=accepted)
    settings: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            settings[key] = read_table(_SECTIONS[key], value, (key,))
        elif key == "prices":
            settings[key] = {
                name: read_table(ModelPrice, table, ("prices", name))
                for name, table in as_table(value, (key,)).items()
            }
        elif key in ("keys", "stall"):
            settings[key] = dict(as_table(value, (key,)))
        elif key in SETTINGS_KEYS:
            settings[key] = value
    return settings


def as_table(value: Any, path: tuple[str, ...]) -> Mapping[str, Any]:
    """``value`` if it is a table (a TOML table parsed), else a problem at ``path``."""
    if not isinstance(value, Mapping):
        raise TableProblem("bad", path, "must be a table")
    return value


SETTINGS_KEYS = tuple(item.name for item in fields(Settings))
