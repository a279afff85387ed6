"""Where crewtui keeps things, which crews it talks to, and how the user tuned it.

Sources, strongest first: command-line flags (``--crew``, ``--url``, ``--token``,
``--home``), the TOML config file, then the ecosystem's environment variables
(``CREWAI_API_URL`` with ``CREWAI_BEARER_TOKEN`` or ``CREWAI_USER_BEARER_TOKEN``).

The config file looks like this (every section optional)::

    default_crew = "travel"

    [crews.travel]
    url = "https://travel.crewai.com"
    token_env = "TRAVEL_CREW_TOKEN"     # or: token = "..." (then the file must be 0600)

    [poll]
    max_interval = 10.0

    [ui]
    theme = "nord"
    bell = true
    export_dir = "~/exports"            # default: Downloads, else Documents, else data dir

    [webhooks]
    listen = "127.0.0.1:8787"
    public_url = "https://hooks.example.com"
    form = "events"                     # or "classic": the three per-kind webhook URLs
    hitl_secret = "..."                 # signs flows' human-in-the-loop requests (file 0600)

    [history]
    steps_per_run = 5000
    url = "postgresql://user:password@db.example.com/crewtui"   # shared history (file 0600)

    [keys]
    new_kickoff = "ctrl+n"

    [prices."gpt-4o"]                   # USD per million tokens, for the cost estimate
    input = 2.50
    output = 10.00

    [stall.travel]                      # seconds a task may run before "maybe stuck"
    research_task = 600                 # "*" = every task of the crew; default: history

Decisions worth knowing:

- ``token_env`` is resolved when the file is loaded. A variable that is not set is not an
  error until that crew is used (``select_crews``): a missing variable for a crew you are
  not watching should not stop you watching the others.
- A crew with neither ``token`` nor ``token_env`` is allowed (a local simulator may not
  check tokens); the service's 401 then says clearly that a token is needed.
- A token is checked where it is loaded (``check_token``: printable ASCII, no space, so a
  CR left by a Windows line ending is refused in one sentence that names where the token
  came from, never the token), and each profile records that place (``token_source``) so a
  rejected token's message can point at it. A crew URL gets the same check wherever it
  comes from (``check_crew_url``).
- A crew never has both ``token`` and ``token_env``: the file is refused. That keeps
  ``write_config`` honest: a token that came from the environment is never written to disk.
- The signing secret of flows' human-in-the-loop requests is a secret like a token:
  ``$CREWTUI_HITL_SECRET`` beats ``[webhooks] hitl_secret`` (``hitl_secret``), a file holding
  it must be 0600, it is checked where it is loaded and never written back from the
  environment.
- A shared history's URL may hold the database's password: ``$CREWTUI_HISTORY_URL`` beats
  ``[history] url`` (``history_url``), a file holding one with a password must be 0600, and
  a bad one is refused in a sentence that never repeats it.
- Every ``ConfigError`` raised here is raised ``from None``: the error it replaces may hold
  the input, which may be a token, and must not ride along in a traceback.
- The tables of settings and their rules are in ``crewtui.settings``; this module adds the
  crews, reads and writes the file, and picks the crews a command talks to.
- Nothing here ever writes unless asked (``write_config``, ``add_crew``, ``save_ui_theme``),
  and a write goes to a temporary file that replaces the old one only when complete.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from crewtui.api.errors import ConfigError
from crewtui.api.profile import CrewProfile, check_token
from crewtui.api.secret import Secret
from crewtui.api.validate import check_crew_url, same_crew_url
from crewtui.settings import (
    SETTINGS_KEYS,
    HistorySettings,
    Settings,
    Table,
    TableProblem,
    as_table,
    check_history_url,
    read_settings,
    read_table,
    secret,
    table_document,
    text,
)

APP_NAME = "crewtui"
HOME_ENV = "CREWTUI_HOME"
URL_ENV = "CREWAI_API_URL"
# The organization token first: it allows every crew operation, the user token fewer.
TOKEN_ENVS = ("CREWAI_BEARER_TOKEN", "CREWAI_USER_BEARER_TOKEN")
ENV_CREW_NAME = "default"
# Used for the environment's crew only when a file crew already took ENV_CREW_NAME.
ENV_CREW_FALLBACK_NAME = "env"
# The signing secret of flows' human-in-the-loop requests, over ``[webhooks] hitl_secret``.
HITL_SECRET_ENV = "CREWTUI_HITL_SECRET"  # noqa: S105 (a variable name)
# A shared history on PostgreSQL, over ``[history] url``.
HISTORY_URL_ENV = "CREWTUI_HISTORY_URL"

_PRIVATE_DIR_MODE = 0o700
_PRIVATE_FILE_MODE = 0o600
_GROUP_OTHER_BITS = 0o077


@dataclass(frozen=True)
class Paths:
    """The two directories crewtui owns; everything it writes lives under them."""

    config_dir: Path
    data_dir: Path

    @property
    def config_file(self) -> Path:
        """The TOML file with crews and settings."""
        return self.config_dir / "config.toml"

    @property
    def store_file(self) -> Path:
        """The SQLite history (the API keeps no list of runs, so crewtui does)."""
        return self.data_dir / "history.sqlite3"

    @property
    def webhook_secret_file(self) -> Path:
        """The unguessable webhook path segment; whoever writes it makes it 0600."""
        return self.data_dir / "webhook-secret"

    @property
    def webhook_token_file(self) -> Path:
        """The bearer token batched event pushes must carry; made 0600 like the secret."""
        return self.data_dir / "webhook-token"


def resolve_paths(home: str | Path | None = None, env: Mapping[str, str] | None = None) -> Paths:
    """``--home`` beats ``CREWTUI_HOME`` beats the platform's per-user directories.

    A home holds ``config/`` and ``data/`` side by side, so tests and the demo can move
    everything with one variable and never touch the user's real files.
    """
    env = os.environ if env is None else env
    chosen = home if home is not None and str(home) != "" else env.get(HOME_ENV) or None
    if chosen is not None:
        root = Path(chosen).expanduser().absolute()
        return Paths(config_dir=root / "config", data_dir=root / "data")
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
    )


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700: it may hold tokens or secrets."""
    path.mkdir(mode=_PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if os.name != "nt":
        path.chmod(_PRIVATE_DIR_MODE)


@dataclass(frozen=True)
class _CrewTable(Table):
    """One ``[crews.NAME]`` table as written in the file (the name is the table's)."""

    url: str = text()
    token: Secret | None = secret()
    token_env: str | None = text(optional=True)

    def _check(self) -> None:
        if self.token is not None and self.token_env is not None:
            raise TableProblem("bad", ("token",), "set either token or token_env, not both")


@dataclass(frozen=True)
class Config(Settings):
    """Everything the file says, with ``token_env`` already looked up in the environment."""

    crews: dict[str, CrewProfile] = field(default_factory=dict)
    # Where the file is (or would be: a missing file gives the defaults and still says where
    # to put one); None for a Config built in code.
    path: Path | None = None

    def _check(self) -> None:
        super()._check()
        for key, profile in self.crews.items():
            if profile.name != key:
                raise TableProblem(
                    "bad", ("crews", key), f"crew {profile.name!r} is filed under {key!r}"
                )


# The top-level keys of the file.
_FILE_KEYS = (*SETTINGS_KEYS, "crews")


def load_config(paths: Paths, env: Mapping[str, str] | None = None) -> Config:
    """Read and check the config file; a missing file means the defaults.

    Raises ConfigError (one sentence, naming the file) for unreadable files, TOML syntax
    errors (with line and column), unknown keys, bad values, and a file holding a token that
    other users could read. Never writes.
    """
    env = os.environ if env is None else env
    _env_hitl_secret(env)  # a bad secret in the environment is said now, like a token
    file = paths.config_file
    data = _read_toml(file)
    if data is None:
        return Config(path=file)
    secret = _secret_held(data)
    if secret is not None:
        _refuse_loose_permissions(file, secret)
    try:
        settings = read_settings(data, _FILE_KEYS)
        tables = {
            name: read_table(_CrewTable, table, ("crews", name))
            for name, table in as_table(data.get("crews", {}), ("crews",)).items()
        }
        crews = {name: _profile(name, table, file, env) for name, table in tables.items()}
        return Config(**settings, crews=crews, path=file)
    except TableProblem as problem:
        raise _config_error(problem, file) from None


def hitl_secret(settings: Settings, env: Mapping[str, str] | None = None) -> Secret | None:
    """The signing secret of flows' human-in-the-loop requests: ``$CREWTUI_HITL_SECRET``,
    else ``[webhooks] hitl_secret``; None when neither is set (the route is not served)."""
    from_env = _env_hitl_secret(os.environ if env is None else env)
    return from_env if from_env is not None else settings.webhooks.hitl_secret


def history_url(settings: HistorySettings, env: Mapping[str, str] | None = None) -> str | None:
    """The PostgreSQL history to use: ``$CREWTUI_HISTORY_URL``, else ``[history] url``;
    None for the SQLite file of the home. Raises ConfigError for one that is not a URL."""
    given = (os.environ if env is None else env).get(HISTORY_URL_ENV, "").strip()
    if given:
        return check_history_url(given, f"${HISTORY_URL_ENV}")
    return settings.url.get_secret_value() if settings.url is not None else None


def _env_hitl_secret(env: Mapping[str, str]) -> Secret | None:
    given = env.get(HITL_SECRET_ENV)
    return check_token(given, f"${HITL_SECRET_ENV}") if given else None


def _read_toml(file: Path) -> dict[str, Any] | None:
    """The parsed document, or None when there is no file."""
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {file} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_message(file, text, str(exc))) from None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)$")


def _syntax_message(file: Path, text: str, reason: str) -> str:
    """``FILE:LINE:COL: reason``; tomllib says "at end of document" for the last position."""
    position = _TOML_POSITION.search(reason)
    if position is not None:
        line, column = int(position.group(1)), int(position.group(2))
        reason = reason[: position.start()]
    else:
        reason = _TOML_AT_END.sub("", reason)
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    return f"{file}:{line}:{column}: the config file is not valid TOML: {reason}"


def _secret_held(data: Mapping[str, Any]) -> str | None:
    """The secret the raw document holds, as the refusal names it (the user looks for
    that one): a crew table's ``token``, the webhooks table's signing secret, or the
    password in the history's URL; None without any."""
    crews = data.get("crews")
    if isinstance(crews, dict) and any(
        isinstance(table, dict) and "token" in table for table in crews.values()
    ):
        return "a token"
    webhooks = data.get("webhooks")
    if isinstance(webhooks, dict) and "hitl_secret" in webhooks:
        return "the webhooks' hitl_secret"
    history = data.get("history")
    url = history.get("url") if isinstance(history, dict) else None
    if isinstance(url, str) and (urlsplit(url).password or "password=" in url.lower()):
        return "a password (in [history] url)"
    return None


def _refuse_loose_permissions(file: Path, secret: str) -> None:
    """A secret in a file others can read (or replace) is refused, with the exact fix."""
    if os.name == "nt":
        return
    loose = [
        (path, wanted)
        for path, wanted in ((file.parent, _PRIVATE_DIR_MODE), (file, _PRIVATE_FILE_MODE))
        if stat.S_IMODE(path.stat().st_mode) & _GROUP_OTHER_BITS
    ]
    if not loose:
        return
    modes = " and ".join(
        f"{path} has mode {stat.S_IMODE(path.stat().st_mode):04o}" for path, _ in loose
    )
    fix = " && ".join(f"chmod {wanted:o} {shlex.quote(str(path))}" for path, wanted in loose)
    raise ConfigError(
        f"refusing to read {file}: it holds {secret} and {modes}, so other users can get at it; "
        f"fix it with `{fix}`"
    )


def _profile(name: str, table: _CrewTable, file: Path, env: Mapping[str, str]) -> CrewProfile:
    """A file crew as a CrewProfile, its ``token_env`` looked up now if it is set."""
    token, source = None, None
    if table.token is not None:
        source = f"crews.{name}.token in {file}"
        token = check_token(table.token.get_secret_value(), source)
    elif table.token_env is not None and env.get(table.token_env):
        source = f"${table.token_env} (the token_env of crew {name!r} in {file})"
        token = check_token(env[table.token_env], source)
    try:
        return CrewProfile(
            name=name, url=table.url, token=token, token_env=table.token_env, token_source=source
        )
    except ConfigError as error:
        raise TableProblem("bad", ("crews", name, "url"), error.message) from None


def _config_error(problem: TableProblem, file: Path) -> ConfigError:
    """The problem as one sentence naming the key and the file (never the value)."""
    dotted = ".".join(problem.path) or "the top level"
    if problem.kind == "unknown":
        hint = f" (known keys there: {', '.join(problem.known)})" if problem.known else ""
        return ConfigError(f"unknown key '{dotted}' in {file}{hint}")
    if problem.kind == "missing":
        return ConfigError(f"'{dotted}' is missing in {file}")
    return ConfigError(f"bad value for '{dotted}' in {file}: {problem.problem}")


def select_crews(
    config: Config,
    *,
    crew: str | None = None,
    url: str | None = None,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
    require_tokens: bool = True,
) -> list[CrewProfile]:
    """The crews this invocation talks to, after flags, file and environment.

    ``--url`` makes one crew (named by ``--crew`` or the URL's host and path); its token is
    ``--token``, else that of a known crew with the very same URL: a token never goes to a URL
    it was not configured for. ``--crew`` picks one known crew. No flag: every known crew.
    ``--token`` replaces the token of the one selected crew. A crew whose ``token_env`` is not
    set is a ConfigError, unless ``require_tokens`` is false (``doctor`` reports it with the
    others).
    """
    env = os.environ if env is None else env
    known = _known_crews(config, env)
    if url is not None:
        selected = [_ad_hoc_crew(url, crew, known, env)]
    elif crew is not None:
        selected = [_named_crew(crew, known)]
    else:
        selected = list(known.values())
    if not selected:
        raise ConfigError(_how_to_configure(config))
    if token is not None:
        selected = [_with_token(selected, token)]
    if require_tokens:
        for profile in selected:
            problem = unresolved_token(profile)
            if problem is not None:
                raise ConfigError(problem)
    return selected


def known_crew_names(config: Config, env: Mapping[str, str] | None = None) -> set[str]:
    """The names of the file's crews and of the environment's crew, if any."""
    return set(_known_crews(config, os.environ if env is None else env))


def _known_crews(config: Config, env: Mapping[str, str]) -> dict[str, CrewProfile]:
    """The file's crews plus the environment's, unless a file crew has the same URL."""
    known = dict(config.crews)
    env_crew = _env_crew(env, taken=known)
    if env_crew is not None:
        known[env_crew.name] = env_crew
    return known


def _env_crew(env: Mapping[str, str], taken: Mapping[str, CrewProfile]) -> CrewProfile | None:
    """The crew ``CREWAI_API_URL`` (+ a token variable) describes, if any."""
    raw_url = env.get(URL_ENV, "").strip()
    if not raw_url:
        return None
    name = ENV_CREW_FALLBACK_NAME if ENV_CREW_NAME in taken else ENV_CREW_NAME
    url = _checked_url(raw_url, URL_ENV)
    profile = CrewProfile(name=name, url=url, **_env_token(env))
    if any(same_crew_url(crew.url, profile.url) for crew in taken.values()):
        return None
    return profile


def _env_token(env: Mapping[str, str]) -> dict[str, Any]:
    """The profile fields of the first token variable set (``token``, ``token_env``,
    ``token_source``), all None when none is."""
    token_env = next((name for name in TOKEN_ENVS if env.get(name)), None)
    if token_env is None:
        return {"token": None, "token_env": None, "token_source": None}
    source = f"${token_env}"
    return {
        "token": check_token(env[token_env], source),
        "token_env": token_env,
        "token_source": source,
    }


def _ad_hoc_crew(
    url: str, name: str | None, known: Mapping[str, CrewProfile], env: Mapping[str, str]
) -> CrewProfile:
    """The crew ``--url`` names: a known crew at the same URL is that crew (its name and
    token) unless ``--crew`` names it anew, when it only lends its token.

    With no such crew, a token variable (``CREWAI_BEARER_TOKEN``...) that no
    ``CREWAI_API_URL`` ties to another crew is taken, as CrewAI's own tools do: it was
    exported for whichever crew the command names.
    """
    profile = CrewProfile(name=name or "crew", url=_checked_url(url, "--url"))
    if name is None:
        # Host, port and path: crews served under paths of one host (a gateway, the
        # simulator) are different crews, and a poller uses a crew's URL for all its runs.
        parts = urlsplit(profile.url)
        host = parts.hostname or "crew"
        where = host if parts.port is None else f"{host}:{parts.port}"
        profile = replace(profile, name=where + parts.path.rstrip("/"))
    same_url = next((crew for crew in known.values() if same_crew_url(crew.url, profile.url)), None)
    if same_url is not None and name is None:
        return same_url  # the configured crew itself, so its runs in the history match
    if same_url is None:
        if env.get(URL_ENV, "").strip():
            return profile
        return replace(profile, **_env_token(env))
    return replace(
        profile,
        token=same_url.token,
        token_env=same_url.token_env,
        token_source=same_url.token_source,
    )


def _checked_url(url: str, where: str) -> str:
    """``check_crew_url``'s sentence, prefixed with where the URL came from."""
    try:
        return check_crew_url(url)
    except ConfigError as error:
        raise ConfigError(f"{where} {error.message}") from None


def _named_crew(name: str, known: Mapping[str, CrewProfile]) -> CrewProfile:
    """The known crew called ``name``, or a ConfigError listing the names there are."""
    if name in known:
        return known[name]
    raise ConfigError(f"there is no crew named {name!r} ({_known_names(known)})")


def _known_names(known: Mapping[str, CrewProfile] | Sequence[CrewProfile]) -> str:
    names = sorted(known) if isinstance(known, Mapping) else sorted(c.name for c in known)
    return f"known: {', '.join(names)}" if names else "none is configured"


def _with_token(selected: Sequence[CrewProfile], token: str) -> CrewProfile:
    """The one selected crew with ``--token``; one token is never sent to several crews."""
    if not token:
        raise ConfigError("--token is empty")
    if len(selected) > 1:
        raise ConfigError(
            f"--token applies to one crew but {len(selected)} are configured; "
            f"pick one with --crew NAME ({_known_names(selected)})"
        )
    checked = check_token(token, "--token")
    return replace(selected[0], token=checked, token_env=None, token_source="--token")  # noqa: S106


def unresolved_token(profile: CrewProfile) -> str | None:
    """The sentence for a crew whose token variable is not set (a mistake worth stopping for)."""
    if profile.token is None and profile.token_env is not None:
        return (
            f"crew {profile.name!r} takes its token from ${profile.token_env}, which is not set; "
            f"export {profile.token_env}=<token> or pass --token"
        )
    return None


def _how_to_configure(config: Config) -> str:
    where = config.path if config.path is not None else "the config file"
    return (
        f"no crew is configured: set {URL_ENV} and {TOKEN_ENVS[0]}, add a [crews.NAME] table "
        f"with url and token to {where}, or run `crewtui sim` for a local demo crew"
    )


def default_crew_for_commands(config: Config, crews: Sequence[CrewProfile]) -> CrewProfile:
    """The one crew a single-crew command (``kickoff``) uses among ``select_crews``' result.

    The only crew if there is one, else the file's ``default_crew``, else a ConfigError
    asking for ``--crew``.
    """
    if not crews:
        raise ConfigError(_how_to_configure(config))
    if len(crews) == 1:
        return crews[0]
    if config.default_crew is None:
        raise ConfigError(
            f"several crews are configured; pick one with --crew NAME ({_known_names(crews)})"
        )
    for profile in crews:
        if profile.name == config.default_crew:
            return profile
    raise ConfigError(
        f"default_crew {config.default_crew!r} in {config.path or 'the config file'} "
        f"names no configured crew ({_known_names(crews)})"
    )


def plain_http_warning(profile: CrewProfile) -> str | None:
    """The sentence to show before a token goes unencrypted to another machine, else None."""
    if profile.token is None or not profile.is_plain_http_remote:
        return None
    return (
        f"crew {profile.name!r} uses plain http to {urlsplit(profile.url).hostname}, "
        "so its token would cross the network unencrypted; use an https URL"
    )


def write_config(paths: Paths, config: Config) -> None:
    """Write ``config`` atomically: directory 0700, file 0600, written in full or not at all.

    Tokens are written as given; a token read from ``token_env`` is not (the variable's name
    is). Defaults are left out so that a future default change reaches the user.
    """
    import tomli_w  # only a write needs it, and every command and the app read the config

    ensure_private_dir(paths.config_dir)
    payload = tomli_w.dumps(_to_document(config)).encode("utf-8")
    # mkstemp creates the file 0600, so the token is never readable by others, not even briefly.
    fd, temp_name = tempfile.mkstemp(dir=paths.config_dir, prefix=".config.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, paths.config_file)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _to_document(config: Config) -> dict[str, Any]:
    """The TOML document for ``config``: only what differs from the defaults.

    A secret is written as read from the file: those from the environment (the signing
    secret, the history's URL) are never kept in ``config``, so never written.
    """
    document = table_document(config, skip=("crews", "path"))
    if config.crews:
        document["crews"] = {name: _crew_table(crew) for name, crew in config.crews.items()}
    return document


def _crew_table(profile: CrewProfile) -> dict[str, str]:
    table = {"url": profile.url}
    if profile.token_env is not None:
        table["token_env"] = profile.token_env
    elif profile.token is not None:
        table["token"] = profile.token.get_secret_value()
    return table


def add_crew(paths: Paths, profile: CrewProfile) -> None:
    """Add ``profile`` to the config file, replacing a crew of the same name."""
    config = load_config(paths)
    write_config(paths, replace(config, crews={**config.crews, profile.name: profile}))


def save_ui_theme(paths: Paths, theme: str) -> None:
    """Remember the theme the user picked; crews, tokens and other settings are kept."""
    config = load_config(paths)
    try:
        ui = replace(config.ui, theme=theme)
    except TableProblem:
        raise ConfigError(f"{theme!r} is not a theme name") from None
    write_config(paths, replace(config, ui=ui))
