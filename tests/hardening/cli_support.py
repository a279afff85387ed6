"""Running the ``crewtui`` command for the hardening tests, capturing what it writes as bytes.

Two ways, same isolation (its own ``CREWTUI_HOME``, no ``CREWAI_*``/``CREWTUI_*`` variables
from the caller):

- ``run_process``: a real child process; stdout and stderr are exactly the bytes a
  terminal would receive.
- ``Cli`` (the ``cli`` fixture): ``crewtui.cli.main`` in this process, stdout and stderr
  captured as bytes through a strict UTF-8 writer like a terminal's (a lone surrogate that
  escaped sanitizing would raise there). Much faster, for the large matrices.
"""

from __future__ import annotations

import functools
import os
import ssl
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from crewtui import cli
from crewtui.api import http

_SCRUBBED = ("CREWAI_", "CREWTUI_")
# The environment of a child whose crew keeps failing, in a test that is not about the
# waits between retries: every attempt is made, without the seconds of backoff between
# them (``run_process`` keeps the real waits unless a test passes this).
NO_BACKOFF = {http.BACKOFF_SCALE_ENV: "0"}


@dataclass(frozen=True)
class Outcome:
    """What one run of the command wrote, and how it exited."""

    code: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8")


def child_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["CREWTUI_HOME"] = str(home)
    env.update(extra or {})
    return env


def run_process(
    home: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 90
) -> Outcome:
    """``python -m crewtui ARGS`` in a child process."""
    result = subprocess.run(
        [sys.executable, "-m", "crewtui", *args],
        capture_output=True,
        env=child_env(home, env),
        timeout=timeout,
        check=False,
    )
    return Outcome(result.returncode, result.stdout, result.stderr)


_cached_tls_context = functools.cache(ssl.create_default_context)


def _no_backoff(attempt: int, policy: http.ClientPolicy) -> float:
    return 0.0


class Cli:
    """``crewtui.cli.main`` in-process, with its own home and captured bytes."""

    def __init__(
        self, home: Path, monkeypatch: pytest.MonkeyPatch, capture: pytest.CaptureFixture[bytes]
    ) -> None:
        self.home = home
        self._monkeypatch = monkeypatch
        self._capture = capture
        for name in list(os.environ):
            if name.startswith(_SCRUBBED):
                monkeypatch.delenv(name)
        monkeypatch.setenv("CREWTUI_HOME", str(home))
        # Test speed only: every crew here is plain http on loopback, so no TLS context is
        # ever used, but each client builds one (75 ms of loading CA certificates).
        monkeypatch.setattr(ssl, "create_default_context", _cached_tls_context)
        # Test speed only: a failing crew is still retried as often, without the real waits
        # between attempts (run_process keeps them).
        monkeypatch.setattr(http, "backoff_delay", _no_backoff)

    def setenv(self, name: str, value: str) -> None:
        self._monkeypatch.setenv(name, value)

    def __call__(self, *args: str) -> Outcome:
        self._capture.readouterr()
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        captured = self._capture.readouterr()
        return Outcome(code, captured.out, captured.err)
