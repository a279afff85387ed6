"""``python -m crewtui.sim`` / ``crewtui.sim.main``: the banner, the flags, a clean stop."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from crewtui.sim import main
from crewtui.sim.cli import _faults


@contextlib.contextmanager
def sim_process(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m crewtui.sim ARGS`` on a free port, killed if a test leaves it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crewtui.sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _read_banner(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:  # the child prints the banner once it is listening
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            return lines
    pytest.fail(f"no banner; got {lines!r}")


def test_module_prints_urls_and_tokens_then_stops_on_ctrl_c() -> None:
    documented = ("--dialect", "documented", "--token", "org-token", "--user-token", "user-token")
    with sim_process(*documented) as process:
        banner = "\n".join(_read_banner(process))
        urls = dict(re.findall(r"^\s+(travel|outreach|content|research)\s+(\S+)$", banner, re.M))
        assert set(urls) == {"travel", "outreach", "content", "research"}
        flow = re.search(r"^\s+onboarding\s+(\S+)\s+\(a flow\)$", banner, re.M)
        assert flow is not None and flow.group(1).endswith("/onboarding")
        assert "documented dialect" in banner
        assert "Bearer Token:      org-token" in banner
        assert "User Bearer Token: user-token" in banner
        assert f"export CREWAI_API_URL={urls['travel']} CREWAI_BEARER_TOKEN=org-token" in banner
        answer = httpx.get(
            urls["outreach"] + "/inputs", headers={"Authorization": "Bearer org-token"}
        )
        assert answer.json()["inputs"][0] == "name"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


def test_ctrl_c_stops_it_when_started_with_sigint_ignored() -> None:
    """As a job a shell without job control starts in the background (a test run too)."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child inherits it
    try:
        with sim_process() as process:
            signal.signal(signal.SIGINT, before)  # inherited: this process's own comes back
            _read_banner(process)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 0
    finally:
        signal.signal(signal.SIGINT, before)


def test_sigterm_also_stops_cleanly() -> None:
    with sim_process() as process:
        _read_banner(process)
        process.terminate()
        assert process.wait(timeout=15) == 0


def test_a_busy_port_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["--port", str(busy.getsockname()[1])]) == 1
    assert "could not listen" in capsys.readouterr().err


def test_fault_flag_parses_every_setting() -> None:
    faults = _faults("latency=0.5,error_rate=0.1,rate_limit_rate=0.2,retry_after=2,drop_rate=0.05")
    assert (faults.latency, faults.error_rate, faults.rate_limit_rate) == (0.5, 0.1, 0.2)
    assert (faults.retry_after, faults.drop_rate) == ("2", 0.05)


@pytest.mark.parametrize("flag", ["latency", "bogus=1", "error_rate=2", "drop_rate=x"])
def test_bad_fault_flags_are_usage_errors(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--fault", flag])
    assert exit_info.value.code == 2
    assert "--fault" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--port=-5"], "--port"),
        (["--port", "70000"], "--port"),
        (["--port", "http"], "--port"),
        (["--failure-rate", "2"], "--failure-rate"),
        (["--failure-rate", "nan"], "--failure-rate"),
    ],
)
def test_a_port_or_rate_out_of_range_is_one_usage_line(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """uvicorn printed a traceback for a port out of range; now argparse refuses it."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
