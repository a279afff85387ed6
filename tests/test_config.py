"""Config and paths: precedence, the file's checks, permissions, and writing back."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from crewtui.api.errors import ConfigError
from crewtui.api.profile import CrewProfile
from crewtui.api.secret import Secret
from crewtui.config import (
    Config,
    Paths,
    add_crew,
    default_crew_for_commands,
    load_config,
    plain_http_warning,
    resolve_paths,
    save_ui_theme,
    select_crews,
    write_config,
)
from crewtui.settings import PollSettings, TableProblem, UiSettings, WebhookSettings

SECRET = "tok-s3cret-value-1234"
OTHER_SECRET = "tok-other-secret-5678"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Whatever a test forgets to pass, nothing reaches the real home or the real env."""
    monkeypatch.setenv("CREWTUI_HOME", str(tmp_path / "env-home"))
    for name in ("CREWAI_API_URL", "CREWAI_BEARER_TOKEN", "CREWAI_USER_BEARER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return resolve_paths(home=tmp_path / "home", env={})


def write_file(paths: Paths, text: str, *, file_mode: int = 0o600, dir_mode: int = 0o700) -> Path:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_dir.chmod(dir_mode)
    paths.config_file.write_text(text, encoding="utf-8")
    paths.config_file.chmod(file_mode)
    return paths.config_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def config_error(paths: Paths, text: str, **modes: int) -> ConfigError:
    write_file(paths, text, **modes)
    with pytest.raises(ConfigError) as caught:
        load_config(paths, env={})
    return caught.value


# --- paths -------------------------------------------------------------------------------


def test_home_flag_beats_crewtui_home(tmp_path: Path) -> None:
    paths = resolve_paths(home=tmp_path / "flag", env={"CREWTUI_HOME": str(tmp_path / "env")})
    assert paths.config_dir == tmp_path / "flag" / "config"
    assert paths.data_dir == tmp_path / "flag" / "data"
    assert paths.config_file == tmp_path / "flag" / "config" / "config.toml"
    assert paths.store_file == tmp_path / "flag" / "data" / "history.sqlite3"
    assert paths.webhook_secret_file == tmp_path / "flag" / "data" / "webhook-secret"


def test_crewtui_home_beats_platform_dirs(tmp_path: Path) -> None:
    paths = resolve_paths(env={"CREWTUI_HOME": str(tmp_path / "env")})
    assert paths.config_dir == tmp_path / "env" / "config"
    assert paths.data_dir == tmp_path / "env" / "data"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG variables steer platformdirs on Linux")
def test_platform_dirs_when_no_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    paths = resolve_paths(env={"CREWTUI_HOME": ""})
    assert paths.config_dir == tmp_path / "xdg-config" / "crewtui"
    assert paths.data_dir == tmp_path / "xdg-data" / "crewtui"


def test_missing_file_gives_defaults_and_writes_nothing(paths: Paths) -> None:
    config = load_config(paths, env={})
    assert config.crews == {}
    assert config.poll == PollSettings()
    assert config.ui == UiSettings()
    assert config.path == paths.config_file
    assert not paths.config_dir.exists()


# --- crews from the environment and flags --------------------------------------------------


@pytest.mark.parametrize("token_var", ["CREWAI_BEARER_TOKEN", "CREWAI_USER_BEARER_TOKEN"])
def test_env_alone_gives_a_default_crew(paths: Paths, token_var: str) -> None:
    env = {"CREWAI_API_URL": "https://travel.crewai.com/", token_var: SECRET}
    (crew,) = select_crews(load_config(paths, env=env), env=env)
    assert crew.name == "default"
    assert crew.url == "https://travel.crewai.com"
    assert crew.bearer() == SECRET
    assert crew.token_env == token_var


def test_org_token_beats_user_token(paths: Paths) -> None:
    env = {
        "CREWAI_API_URL": "https://travel.crewai.com",
        "CREWAI_BEARER_TOKEN": SECRET,
        "CREWAI_USER_BEARER_TOKEN": OTHER_SECRET,
    }
    (crew,) = select_crews(load_config(paths, env=env), env=env)
    assert crew.bearer() == SECRET


def test_bad_env_url_is_a_config_error(paths: Paths) -> None:
    env = {"CREWAI_API_URL": "travel.crewai.com", "CREWAI_BEARER_TOKEN": SECRET}
    with pytest.raises(ConfigError, match="CREWAI_API_URL"):
        select_crews(load_config(paths, env=env), env=env)


TWO_CREWS = f"""
[crews.travel]
url = "https://travel.crewai.com"
token = "{SECRET}"

[crews.writer]
url = "https://writer.crewai.com"
token_env = "WRITER_TOKEN"
"""


def test_no_flags_gives_file_crews_plus_env_crew(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    env = {
        "WRITER_TOKEN": OTHER_SECRET,
        "CREWAI_API_URL": "https://research.crewai.com",
        "CREWAI_BEARER_TOKEN": "env-token",
    }
    crews = select_crews(load_config(paths, env=env), env=env)
    assert [crew.name for crew in crews] == ["travel", "writer", "default"]
    assert [crew.bearer() for crew in crews] == [SECRET, OTHER_SECRET, "env-token"]


def test_env_crew_with_a_file_crews_url_is_not_added_twice(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    env = {
        "WRITER_TOKEN": OTHER_SECRET,
        "CREWAI_API_URL": "https://travel.crewai.com/",
        "CREWAI_BEARER_TOKEN": "env-token",
    }
    crews = select_crews(load_config(paths, env=env), env=env)
    assert [crew.name for crew in crews] == ["travel", "writer"]
    assert crews[0].bearer() == SECRET


def test_crew_flag_picks_one_and_token_flag_overrides(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    config = load_config(paths, env={})
    (crew,) = select_crews(config, crew="travel", token=OTHER_SECRET, env={})
    assert crew.name == "travel"
    assert crew.bearer() == OTHER_SECRET


def test_token_flag_with_several_crews_is_refused(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    with pytest.raises(ConfigError, match=r"--crew NAME \(known: travel, writer\)"):
        select_crews(load_config(paths, env={}), token=OTHER_SECRET, env={"WRITER_TOKEN": "x"})


def test_url_flag_makes_an_ad_hoc_crew_named_from_the_host(paths: Paths) -> None:
    (crew,) = select_crews(
        load_config(paths, env={}), url="http://127.0.0.1:8321/", token=SECRET, env={}
    )
    assert crew.name == "127.0.0.1:8321"
    assert crew.url == "http://127.0.0.1:8321"
    assert crew.bearer() == SECRET


def test_url_flag_borrows_the_token_of_a_crew_at_the_same_url_only(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    config = load_config(paths, env={})
    (same,) = select_crews(config, url="https://travel.crewai.com", crew="mine", env={})
    (elsewhere,) = select_crews(config, url="https://evil.example.com", crew="travel", env={})
    assert (same.name, same.bearer()) == ("mine", SECRET)
    assert (elsewhere.name, elsewhere.bearer()) == ("travel", None)


def test_url_flag_names_a_configured_crew_in_any_case_and_with_its_default_port(
    paths: Paths,
) -> None:
    """`list --url HTTPS://Travel.crewai.com` shows the travel crew's runs, as its URL does."""
    write_file(paths, TWO_CREWS)
    config = load_config(paths, env={})
    for url in ("HTTPS://Travel.crewai.com", "https://travel.crewai.com:443/"):
        (crew,) = select_crews(config, url=url, env={})
        assert (crew.name, crew.bearer()) == ("travel", SECRET), url
    (other,) = select_crews(config, url="https://travel.crewai.com/other", env={})
    assert other.name == "travel.crewai.com/other"


def test_url_flag_takes_an_exported_token_that_no_env_url_claims(paths: Paths) -> None:
    """`CREWAI_BEARER_TOKEN=… crewtui --url U` uses the token, as CrewAI's tools do; a token
    exported with its own CREWAI_API_URL stays with that crew."""
    config = load_config(paths, env={})
    alone = {"CREWAI_BEARER_TOKEN": SECRET}
    (crew,) = select_crews(config, url="http://127.0.0.1:8321", env=alone)
    assert (crew.bearer(), crew.token_source) == (SECRET, "$CREWAI_BEARER_TOKEN")
    claimed = alone | {"CREWAI_API_URL": "https://travel.crewai.com"}
    (other,) = select_crews(
        load_config(paths, env=claimed), url="http://127.0.0.1:8321", env=claimed
    )
    assert other.bearer() is None


def test_bad_url_flag_is_a_config_error(paths: Paths) -> None:
    with pytest.raises(ConfigError, match="--url 'ftp://x' is not an http"):
        select_crews(load_config(paths, env={}), url="ftp://x", env={})


def test_unknown_crew_lists_the_known_names(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    with pytest.raises(ConfigError) as caught:
        select_crews(load_config(paths, env={}), crew="trvel", env={})
    assert str(caught.value) == "there is no crew named 'trvel' (known: travel, writer)"


def test_nothing_configured_says_how_to_configure(paths: Paths) -> None:
    with pytest.raises(ConfigError) as caught:
        select_crews(load_config(paths, env={}), env={})
    message = str(caught.value)
    assert "CREWAI_API_URL" in message
    assert str(paths.config_file) in message
    assert "crewtui sim" in message


# --- token_env --------------------------------------------------------------------------


def test_token_env_is_resolved_from_the_environment(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    config = load_config(paths, env={"WRITER_TOKEN": OTHER_SECRET})
    assert config.crews["writer"].bearer() == OTHER_SECRET
    assert config.crews["writer"].token_env == "WRITER_TOKEN"


def test_unset_token_env_fails_only_when_that_crew_is_used(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    config = load_config(paths, env={})
    (travel,) = select_crews(config, crew="travel", env={})
    assert travel.bearer() == SECRET
    with pytest.raises(ConfigError, match=r"\$WRITER_TOKEN, which is not set"):
        select_crews(config, crew="writer", env={})
    (writer,) = select_crews(config, crew="writer", token=OTHER_SECRET, env={})
    assert writer.bearer() == OTHER_SECRET


def test_crew_without_any_token_is_allowed(paths: Paths) -> None:
    write_file(paths, '[crews.sim]\nurl = "http://127.0.0.1:8000"\n', file_mode=0o644)
    (crew,) = select_crews(load_config(paths, env={}), env={})
    assert crew.bearer() is None


def test_token_and_token_env_together_are_refused(paths: Paths) -> None:
    error = config_error(
        paths, f'[crews.a]\nurl = "https://a.example"\ntoken = "{SECRET}"\ntoken_env = "A"\n'
    )
    assert "crews.a" in str(error)
    assert "not both" in str(error)


# --- the file's checks --------------------------------------------------------------------


def test_syntax_error_names_file_line_and_column(paths: Paths) -> None:
    error = config_error(paths, f'[crews.a]\nurl = "https://a.example"\ntoken = {SECRET}\n')
    assert str(error).startswith(f"{paths.config_file}:3:9: ")
    assert "not valid TOML" in str(error)


def test_syntax_error_at_end_of_document_still_has_a_position(paths: Paths) -> None:
    error = config_error(paths, f'[ui]\ntheme = "nord"\n[crews.a]\ntoken = "{SECRET}')
    assert str(error).startswith(f"{paths.config_file}:4:")


def test_unknown_key_names_the_key_the_file_and_the_right_keys(paths: Paths) -> None:
    error = config_error(paths, "[poll]\nmin_intervall = 2\n")
    message = str(error)
    assert message.startswith(f"unknown key 'poll.min_intervall' in {paths.config_file}")
    assert "min_interval" in message.split("known keys there:")[1]


def test_unknown_key_in_a_crew_table(paths: Paths) -> None:
    error = config_error(paths, '[crews.a]\nurl = "https://a.example"\ntokn = "x"\n')
    assert "unknown key 'crews.a.tokn'" in str(error)
    assert "token_env" in str(error)


def test_unknown_section(paths: Paths) -> None:
    assert "unknown key 'colours'" in str(config_error(paths, "[colours]\nx = 1\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[poll]\nmin_interval = -1\n", "bad value for 'poll.min_interval'"),
        ("[poll]\nmin_interval = 20\n", "max_interval (15.0) must be at least min_interval"),
        ('[crews.a]\nurl = "a.example"\n', "bad value for 'crews.a.url'"),
        ("[crews.a]\ntoken_env = 'A'\n", "'crews.a.url' is missing"),
        ('[webhooks]\nlisten = "localhost:http"\n', "is not HOST:PORT"),
        ('[webhooks]\npublic_url = "hooks.example"\n', "bad value for 'webhooks.public_url'"),
        ('[webhooks]\nform = "batched"\n', "bad value for 'webhooks.form'"),
        ('[keys]\nnew_kickoff = " "\n', "no key given for new_kickoff"),
        ('[ui]\nbell = "loud"\n', "bad value for 'ui.bell'"),
        ("[poll]\nmax_in_flight = 1.5\n", "'poll.max_in_flight' in"),
        ('[notify]\nosc = "sometimes"\n', "'notify.osc' in"),
        ("[keys]\nnew_kickoff = 5\n", "bad value for 'keys.new_kickoff'"),
        ('[prices."m"]\ninput = -1\noutput = 1\n', "bad value for 'prices.m.input'"),
        ('[prices."m"]\ninput = inf\noutput = 1\n', "'prices.m.input' in"),
        ('[prices."m"]\ninput = 1\n', "'prices.m.output' is missing"),
        ("[stall.travel]\nresearch = 0\n", "bad value for 'stall.travel.research'"),
        ("crews = 3\n", "bad value for 'crews'"),
        ("[history]\nsteps_per_run = 0\n", "bad value for 'history.steps_per_run'"),
    ],
)
def test_bad_values_name_the_key_and_file(paths: Paths, text: str, expected: str) -> None:
    message = str(config_error(paths, text))
    assert expected in message
    assert str(paths.config_file) in message


def test_an_unknown_key_in_a_price_names_the_keys_a_price_has(paths: Paths) -> None:
    message = str(config_error(paths, '[prices."m"]\ninput = 1\noutput = 2\ncached = 1\n'))
    assert message.startswith("unknown key 'prices.m.cached'")
    assert "input, output" in message


def test_settings_built_in_code_are_held_to_the_files_rules() -> None:
    """Tests, the demo and the benchmarks build settings in code: the same rules hold, and a
    whole number is kept as the float the field is."""
    with pytest.raises(TableProblem) as caught:
        PollSettings(min_interval=0)
    assert caught.value.path == ("min_interval",)
    with pytest.raises(TableProblem):
        UiSettings(bell="loud")  # type: ignore[arg-type]
    with pytest.raises(TableProblem):
        WebhookSettings(public_url="hooks.example")
    kept = PollSettings(max_interval=9).max_interval
    assert kept == 9.0 and isinstance(kept, float)
    assert WebhookSettings(public_url="https://hooks.example/").public_url == (
        "https://hooks.example"
    )


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://user:hunter2-pass@hooks.example", "user name or password"),
        ("https://hooks.example:99999", "no valid port"),
        ("https://hooks.example:0/x", "no valid port"),
        ("https://hooks.example/x#top", "a fragment"),
        ("https://hooks.example/x?k=v", "a query"),
    ],
)
def test_a_public_url_is_held_to_a_crew_urls_rules(
    paths: Paths, public_url: str, expected: str
) -> None:
    """Every hook URL is built on ``public_url``: what breaks a crew URL breaks it too."""
    message = str(config_error(paths, f'[webhooks]\npublic_url = "{public_url}"\n'))
    assert "bad value for 'webhooks.public_url'" in message
    assert expected in message
    assert "hunter2" not in message


def test_a_public_url_may_have_a_path(paths: Paths) -> None:
    write_file(paths, '[webhooks]\npublic_url = "https://hooks.example:8443/crewtui/"\n')
    loaded = load_config(paths, env={})
    assert loaded.webhooks.public_url == "https://hooks.example:8443/crewtui"


# --- permissions --------------------------------------------------------------------------

ONE_TOKEN = f'[crews.a]\nurl = "https://a.example"\ntoken = "{SECRET}"\n'


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_readable_file_with_a_token_is_refused_with_the_fix(paths: Paths) -> None:
    error = config_error(paths, ONE_TOKEN, file_mode=0o644)
    assert f"chmod 600 {paths.config_file}" in str(error)
    assert "0644" in str(error)
    assert mode(paths.config_file) == 0o644
    assert paths.config_file.read_text(encoding="utf-8") == ONE_TOKEN


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_open_directory_with_a_token_file_is_refused_with_the_fix(paths: Paths) -> None:
    error = config_error(paths, ONE_TOKEN, dir_mode=0o755)
    assert f"chmod 700 {paths.config_dir}" in str(error)
    assert f"chmod 600 {paths.config_file}" not in str(error)
    assert mode(paths.config_dir) == 0o755


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_readable_file_without_a_token_is_fine(paths: Paths) -> None:
    write_file(
        paths,
        '[crews.a]\nurl = "https://a.example"\ntoken_env = "A"\n',
        file_mode=0o644,
        dir_mode=0o755,
    )
    assert load_config(paths, env={"A": SECRET}).crews["a"].bearer() == SECRET


# --- writing ------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_write_config_is_private_and_round_trips(paths: Paths) -> None:
    config = Config(
        default_crew="a",
        crews={
            "a": CrewProfile(name="a", url="https://a.example", token=Secret(SECRET)),
            "b": CrewProfile(name="b", url="https://b.example", token_env="B_TOKEN"),
        },
        poll=PollSettings(max_interval=9.0, max_in_flight=3),
        ui=UiSettings(theme="nord", bell=True),
        webhooks=WebhookSettings(
            listen="[::1]:8787", public_url="https://hooks.example/", form="classic"
        ),
        keys={"new_kickoff": "ctrl+n"},
    )
    write_config(paths, config)
    assert mode(paths.config_dir) == 0o700
    assert mode(paths.config_file) == 0o600
    assert list(paths.config_dir.iterdir()) == [paths.config_file]
    loaded = load_config(paths, env={"B_TOKEN": OTHER_SECRET})
    assert replace(loaded, crews={}, path=None) == replace(config, crews={}, path=None)
    assert loaded.crews["a"].bearer() == SECRET
    assert loaded.crews["b"].bearer() == OTHER_SECRET
    assert loaded.webhooks.listen_address == ("::1", 8787)
    assert loaded.webhooks.form == "classic"


def test_token_from_the_environment_is_never_written(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    config = load_config(paths, env={"WRITER_TOKEN": OTHER_SECRET})
    write_config(paths, config)
    text = paths.config_file.read_text(encoding="utf-8")
    assert OTHER_SECRET not in text
    assert 'token_env = "WRITER_TOKEN"' in text
    assert SECRET in text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_write_config_tightens_an_existing_directory(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True, mode=0o755)
    paths.config_dir.chmod(0o755)
    write_config(paths, Config())
    assert mode(paths.config_dir) == 0o700


def test_keys_and_ui_sections(paths: Paths) -> None:
    write_file(
        paths,
        '[keys]\nnew_kickoff = "n"\nquit = "ctrl+q"\n\n[ui]\ntheme = "gruvbox"\nbell = true\n',
    )
    config = load_config(paths, env={})
    assert config.keys == {"new_kickoff": "n", "quit": "ctrl+q"}
    assert config.ui == UiSettings(theme="gruvbox", bell=True)


def test_save_ui_theme_keeps_crews_tokens_and_settings(paths: Paths) -> None:
    write_file(paths, TWO_CREWS + '\n[ui]\nbell = true\n\n[keys]\nquit = "q"\n')
    save_ui_theme(paths, "nord")
    config = load_config(paths, env={"WRITER_TOKEN": OTHER_SECRET})
    assert config.ui == UiSettings(theme="nord", bell=True)
    assert config.keys == {"quit": "q"}
    assert config.crews["travel"].bearer() == SECRET
    assert config.crews["writer"].token_env == "WRITER_TOKEN"


def test_save_ui_theme_refuses_an_empty_name(paths: Paths) -> None:
    with pytest.raises(ConfigError):
        save_ui_theme(paths, "")
    assert not paths.config_file.exists()


def test_add_crew_adds_and_replaces(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    add_crew(
        paths, CrewProfile(name="travel", url="https://travel2.crewai.com", token=Secret("new"))
    )
    add_crew(paths, CrewProfile(name="sim", url="http://127.0.0.1:8000"))
    config = load_config(paths, env={})
    assert sorted(config.crews) == ["sim", "travel", "writer"]
    assert config.crews["travel"].url == "https://travel2.crewai.com"
    assert config.crews["travel"].bearer() == "new"


# --- single-crew commands and warnings ----------------------------------------------------


def test_default_crew_for_commands(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    env = {"WRITER_TOKEN": OTHER_SECRET}
    config = load_config(paths, env=env)
    crews = select_crews(config, env=env)
    with pytest.raises(ConfigError) as caught:
        default_crew_for_commands(config, crews)
    assert str(caught.value) == (
        "several crews are configured; pick one with --crew NAME (known: travel, writer)"
    )
    chosen = replace(config, default_crew="writer")
    assert default_crew_for_commands(chosen, crews).name == "writer"
    assert default_crew_for_commands(config, crews[:1]).name == "travel"
    wrong = replace(config, default_crew="nope")
    with pytest.raises(ConfigError, match=r"'nope'.*names no configured crew"):
        default_crew_for_commands(wrong, crews)


@pytest.mark.parametrize(
    ("url", "token", "warns"),
    [
        ("http://travel.example.com", SECRET, True),
        ("http://travel.example.com", None, False),
        ("https://travel.example.com", SECRET, False),
        ("http://127.0.0.1:8000", SECRET, False),
        ("http://localhost:8000", SECRET, False),
    ],
)
def test_plain_http_warning(url: str, token: str | None, warns: bool) -> None:
    secret = None if token is None else Secret(token)
    warning = plain_http_warning(CrewProfile(name="t", url=url, token=secret))
    assert (warning is not None) == warns
    if warning is not None:
        assert "travel.example.com" in warning
        assert "https" in warning
        assert SECRET not in warning


@pytest.mark.parametrize(
    ("url", "warns"),
    [
        ("http://127.example.invalid", True),
        ("http://127.0.0.1.example.com", True),
        ("http://localhost.example.com", True),
        ("http://[::2]:8000", True),
        ("http://127.0.0.2:8000", False),
        ("http://[::1]:8000", False),
        ("http://LOCALHOST:8000", False),
    ],
)
def test_only_a_real_loopback_address_is_spared_the_plain_http_warning(
    url: str, warns: bool
) -> None:
    """A name that starts like 127.x can point anywhere: only an address proves loopback."""
    warning = plain_http_warning(CrewProfile(name="t", url=url, token=Secret(SECRET)))
    assert (warning is not None) == warns


def test_each_crew_records_where_its_token_came_from(paths: Paths) -> None:
    write_file(paths, TWO_CREWS)
    env = {
        "WRITER_TOKEN": OTHER_SECRET,
        "CREWAI_API_URL": "https://research.crewai.com",
        "CREWAI_BEARER_TOKEN": SECRET,
    }
    config = load_config(paths, env=env)
    sources = {crew.name: crew.token_source for crew in select_crews(config, env=env)}
    assert sources == {
        "travel": f"crews.travel.token in {paths.config_file}",
        "writer": f"$WRITER_TOKEN (the token_env of crew 'writer' in {paths.config_file})",
        "default": "$CREWAI_BEARER_TOKEN",
    }
    (flagged,) = select_crews(config, crew="travel", token=OTHER_SECRET, env=env)
    assert flagged.token_source == "--token"
    (borrowed,) = select_crews(config, url="https://travel.crewai.com", env=env)
    assert borrowed.token_source == sources["travel"]
    for crew in (flagged, borrowed):
        assert SECRET not in repr(crew) and OTHER_SECRET not in repr(crew)


# --- secrets ------------------------------------------------------------------------------


def test_token_never_shows_in_repr_or_errors(paths: Paths) -> None:
    write_file(paths, ONE_TOKEN)
    config = load_config(paths, env={})
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    errors = [
        config_error(paths, f'[crews.a]\nurl = "https://a.example"\ntoken = {SECRET}\n'),
        config_error(paths, f'[crews.a]\nurl = "https://a.example"\ntoken = ["{SECRET}"]\n'),
        config_error(paths, f'[crews.a]\nurl = "https://a"\ntokn = "{SECRET}"\n'),
        config_error(paths, f'[crews.a]\nurl = "https://a"\ntoken = "{SECRET}"\nx = 1\n'),
    ]
    for error in errors:
        assert SECRET not in str(error)
        # pydantic's own error quotes the input: it must not ride along as the cause.
        assert error.__cause__ is None
        assert error.__suppress_context__


def test_env_crew_is_renamed_when_a_file_crew_is_called_default(paths: Paths) -> None:
    write_file(paths, '[crews.default]\nurl = "https://a.example"\n', file_mode=0o644)
    env = {"CREWAI_API_URL": "https://b.example", "CREWAI_BEARER_TOKEN": SECRET}
    crews = select_crews(load_config(paths, env=env), env=env)
    assert [(crew.name, crew.url) for crew in crews] == [
        ("default", "https://a.example"),
        ("env", "https://b.example"),
    ]


def test_stall_limits_are_read_written_back_and_a_bad_one_refused(paths: Paths) -> None:
    write_file(paths, '[stall.travel]\nresearch_task = 600\n"*" = 1800.5\n')
    config = load_config(paths, env={})
    assert config.stall == {"travel": {"research_task": 600.0, "*": 1800.5}}
    write_config(paths, config)
    assert load_config(paths, env={}).stall == config.stall
    for bad in ("0", "-1", "inf", '"10m"'):
        error = config_error(paths, f"[stall.travel]\nresearch_task = {bad}\n")
        assert "'stall.travel.research_task'" in error.message
        assert str(paths.config_file) in error.message
