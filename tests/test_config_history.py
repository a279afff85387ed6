"""``[history] url``: a shared history on PostgreSQL, named in the file or the environment.

The URL may hold the database's password: it is treated like a token (a private file, never
in a repr or an error), and ``$CREWTUI_HISTORY_URL`` beats the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crewtui.api.errors import ConfigError
from crewtui.config import (
    HISTORY_URL_ENV,
    Paths,
    history_url,
    load_config,
    resolve_paths,
    save_ui_theme,
)
from tests.test_config import write_file

PASSWORD = "db-pass-0123456789"
FILE_URL = f"postgresql://team:{PASSWORD}@db.example.com:5432/crewtui"
ENV_URL = "postgresql://other@db2.example.com/crewtui"


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return resolve_paths(home=tmp_path / "home", env={})


def test_the_file_names_the_history_and_the_environment_beats_it(paths: Paths) -> None:
    write_file(paths, f'[history]\nurl = "{FILE_URL}"\n')
    config = load_config(paths, env={})
    assert history_url(config.history, env={}) == FILE_URL
    assert history_url(config.history, env={HISTORY_URL_ENV: ENV_URL}) == ENV_URL
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.history)


def test_no_url_keeps_the_sqlite_history_of_the_home(paths: Paths) -> None:
    assert history_url(load_config(paths, env={}).history, env={}) is None


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_file_holding_a_password_must_be_private_and_one_without_need_not(
    paths: Paths,
) -> None:
    write_file(paths, f'[history]\nurl = "{FILE_URL}"\n', file_mode=0o644)
    with pytest.raises(ConfigError, match=f"chmod 600 {paths.config_file}") as refused:
        load_config(paths, env={})
    # It names what to look for: there is no token in the file.
    assert "holds a password (in [history] url)" in refused.value.message
    write_file(paths, f'[history]\nurl = "{ENV_URL}"\n', file_mode=0o644)
    assert load_config(paths, env={}).history.url is not None


@pytest.mark.parametrize("url", [f"mysql://team:{PASSWORD}@db/x", f"team:{PASSWORD}@db/x"])
def test_a_url_that_is_not_postgresql_is_refused_without_quoting_it(paths: Paths, url: str) -> None:
    write_file(paths, f'[history]\nurl = "{url}"\n')
    with pytest.raises(ConfigError, match="is not a PostgreSQL URL") as in_file:
        load_config(paths, env={})
    with pytest.raises(ConfigError, match="is not a PostgreSQL URL") as in_env:
        history_url(
            load_config(resolve_paths(home=paths.data_dir / "x", env={})).history,
            env={HISTORY_URL_ENV: url},
        )
    for caught in (in_file, in_env):
        assert PASSWORD not in str(caught.value)


def test_picking_a_theme_keeps_the_shared_historys_url(paths: Paths) -> None:
    """The app writes the file back when the user picks a theme: a file naming a shared
    history used to make that write fail (its URL is a secret the writer could not turn into
    TOML), so the pick was lost, and the URL must still be there after it."""
    write_file(paths, f'[history]\nurl = "{FILE_URL}"\n')
    save_ui_theme(paths, "nord")
    config = load_config(paths, env={})
    assert config.ui.theme == "nord"
    assert history_url(config.history, env={}) == FILE_URL
