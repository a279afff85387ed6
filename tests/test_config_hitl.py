"""``[webhooks] hitl_secret``: the signing secret of flows' human-in-the-loop requests.

It is a secret like a token: checked where it is loaded, only in a private file, never in a
repr or an error, overridden by ``$CREWTUI_HITL_SECRET`` and never written back from there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crewtui.api.errors import ConfigError
from crewtui.config import (
    HITL_SECRET_ENV,
    Paths,
    hitl_secret,
    load_config,
    resolve_paths,
    write_config,
)
from tests.test_config import mode, write_file

FILE_SECRET = "file-signing-secret-0123"
ENV_SECRET = "env-signing-secret-4567"
WITH_SECRET = f'[webhooks]\nlisten = ":8787"\nhitl_secret = "{FILE_SECRET}"\n'


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return resolve_paths(home=tmp_path / "home", env={})


def test_the_file_gives_the_secret_and_the_environment_beats_it(paths: Paths) -> None:
    write_file(paths, WITH_SECRET)
    config = load_config(paths, env={})
    secret = hitl_secret(config, env={})
    assert secret is not None and secret.get_secret_value() == FILE_SECRET
    chosen = hitl_secret(config, env={HITL_SECRET_ENV: ENV_SECRET})
    assert chosen is not None and chosen.get_secret_value() == ENV_SECRET
    assert FILE_SECRET not in repr(config) and FILE_SECRET not in str(config.webhooks)


def test_no_secret_anywhere_is_none(paths: Paths) -> None:
    assert hitl_secret(load_config(paths, env={}), env={}) is None


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_file_holding_the_secret_must_be_private(paths: Paths) -> None:
    write_file(paths, WITH_SECRET, file_mode=0o644)
    with pytest.raises(ConfigError, match=f"chmod 600 {paths.config_file}"):
        load_config(paths, env={})


def test_a_bad_secret_in_the_file_is_refused_without_quoting_it(paths: Paths) -> None:
    write_file(paths, '[webhooks]\nhitl_secret = "two words-0123456789"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(paths, env={})
    message = str(caught.value)
    assert "webhooks.hitl_secret" in message and str(paths.config_file) in message
    assert "two words" not in message


def test_a_bad_secret_in_the_environment_is_refused_at_load(paths: Paths) -> None:
    with pytest.raises(ConfigError, match=f"\\${HITL_SECRET_ENV}") as caught:
        load_config(paths, env={HITL_SECRET_ENV: "with a space-0123456789"})
    assert "with a space" not in str(caught.value)


def test_the_files_secret_is_written_back_and_the_environments_never(paths: Paths) -> None:
    write_file(paths, WITH_SECRET)
    config = load_config(paths, env={HITL_SECRET_ENV: ENV_SECRET})
    write_config(paths, config)
    text = paths.config_file.read_text(encoding="utf-8")
    assert FILE_SECRET in text and ENV_SECRET not in text
    assert mode(paths.config_file) == 0o600
    again = hitl_secret(load_config(paths, env={}), env={})
    assert again is not None and again.get_secret_value() == FILE_SECRET
