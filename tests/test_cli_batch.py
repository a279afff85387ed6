"""``crewtui batch`` in a child process against the simulator: rows, meta, the cap on runs
going, 429 backoff, refusals before anything is sent, and a resume after SIGKILL that
starts no row twice (the simulator's own count of kickoffs says so)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from crewtui.config import resolve_paths
from crewtui.sim import FaultSettings, SimOptions, SimServer
from tests.cli_helpers import QUICK_POLLS, crew_env, run
from tests.conftest import TEST_SPEED

CREW = "research"  # one required input: topic


def _csv(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "topics.csv"
    lines = ["topic,meta.source"] + [f"topic {n},sheet-{n}" for n in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rows_started(sim: SimServer, batch_id: str) -> Counter[int]:
    """How many kickoffs the simulator accepted for each row of the batch."""
    return Counter(
        meta["row"]
        for meta in sim.counts.kickoff_metas
        if isinstance(meta, dict) and meta.get("batch") == batch_id
    )


def _document(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    return document


def test_csv_rows_become_runs_tagged_with_batch_and_row_under_the_cap(
    tmp_path: Path, fresh_sim: SimServer
) -> None:
    path = _csv(tmp_path, 6)
    env = crew_env(fresh_sim, CREW)

    result = run(
        tmp_path,
        "batch",
        str(path),
        "--concurrency",
        "2",
        "--json",
        "--exit-status",
        *QUICK_POLLS,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    document = _document(result.stdout)
    batch_id = document["batch_id"]
    assert document["counts"]["completed"] == 6
    assert [run["row"] for run in document["runs"]] == [1, 2, 3, 4, 5, 6]
    assert all(run["kickoff_id"] and run["status"] == "completed" for run in document["runs"])
    # The service saw each row once, with its meta column and the batch's tags.
    metas = [m for m in fresh_sim.counts.kickoff_metas if m.get("batch") == batch_id]
    assert sorted(m["row"] for m in metas) == [1, 2, 3, 4, 5, 6]
    assert {m["source"] for m in metas} == {f"sheet-{n}" for n in range(1, 7)}
    assert fresh_sim.counts.max_running <= 2
    assert "row 6/6" in result.stderr  # progress lines go to stderr under --json


def test_jsonl_rows_with_numbers_and_meta(tmp_path: Path, sim: SimServer) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"topic": "bees", "depth": 3, "meta.owner": "ana"}\n\n{"topic": "owls", "fast": true}\n',
        encoding="utf-8",
    )

    result = run(tmp_path, "batch", str(path), "--json", *QUICK_POLLS, env=crew_env(sim, CREW))

    assert result.returncode == 0, result.stderr
    document = _document(result.stdout)
    assert document["rows"] == 2 and document["counts"]["completed"] == 2
    listed = run(tmp_path, "list", "--json", env=crew_env(sim, CREW))
    by_row = {row["meta"]["row"]: row for row in json.loads(listed.stdout)}
    assert by_row[1]["inputs"] == {"topic": "bees", "depth": "3"}
    assert by_row[1]["meta"] == {"owner": "ana", "batch": document["batch_id"], "row": 1}
    assert by_row[2]["inputs"] == {"topic": "owls", "fast": "true"}


def test_a_row_missing_a_required_input_refuses_the_batch_before_sending(
    tmp_path: Path, sim: SimServer
) -> None:
    path = tmp_path / "topics.csv"
    path.write_text("topic,audience\nAI,devs\n,managers\nbees,kids\n", encoding="utf-8")
    sent_before = len(sim.counts.kickoff_metas)

    result = run(tmp_path, "batch", str(path), env=crew_env(sim, CREW))

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Row 2 of" in lines[0] and "'topic'" in lines[0] and "nothing was sent" in lines[0]
    assert len(sim.counts.kickoff_metas) == sent_before
    listed = run(tmp_path, "list", "--json", env=crew_env(sim, CREW))
    assert json.loads(listed.stdout) == []


def test_rate_limited_kickoffs_wait_as_asked_and_start_every_row_once(tmp_path: Path) -> None:
    faults = FaultSettings(kickoff_rate_limits=2, retry_after="1")
    with SimServer(SimOptions(speed=TEST_SPEED, faults=faults)) as limited:
        path = _csv(tmp_path, 3)
        result = run(
            tmp_path, "batch", str(path), "--exit-status", *QUICK_POLLS, env=crew_env(limited, CREW)
        )

        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("rate limiting (HTTP 429): waiting 1 s") == 2
        assert limited.counts.rate_limited == 2
        batch_id = result.stdout.split("batch ", 1)[1].split(":", 1)[0]
        assert _rows_started(limited, batch_id) == Counter({1: 1, 2: 1, 3: 1})


def _sending_attempts(store_file: Path) -> int:
    """Attempts recorded whose answer has not come (read without writing anything)."""
    if not store_file.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{store_file}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM kickoffs WHERE submission = 'sending'")
            return int(row.fetchone()[0])
        except sqlite3.OperationalError:  # the schema is being made
            return 0


def _wait_for_a_kickoff_on_its_way(store_file: Path, child: subprocess.Popen[str]) -> None:
    """Until the child has recorded an attempt and not had its answer (each request takes
    the simulator's latency, so the state lasts that long)."""
    deadline = time.monotonic() + 30
    while _sending_attempts(store_file) == 0:
        assert child.poll() is None, "the batch ended before a kickoff was on its way"
        assert time.monotonic() < deadline, "no kickoff was ever on its way"
        time.sleep(0.01)


def test_a_batch_killed_mid_run_resumes_without_starting_any_row_twice(tmp_path: Path) -> None:
    # Every request takes a while, so the kill lands while a kickoff is on its way.
    faults = FaultSettings(latency=0.3)
    with SimServer(SimOptions(speed=TEST_SPEED, faults=faults)) as slow:
        path = _csv(tmp_path, 8)
        env = crew_env(slow, CREW)
        child_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "CREWTUI_"))
        }
        child_env |= {"CREWTUI_HOME": str(tmp_path), **env}
        command = [sys.executable, "-m", "crewtui", "batch", str(path), "--concurrency", "8"]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_env)
        assert child.stdout is not None
        first = child.stdout.readline()
        batch_id = first.split("batch ", 1)[1].split(":", 1)[0]
        started = 0
        for line in child.stdout:
            started += " started " in line
            if started == 3:
                break
        _wait_for_a_kickoff_on_its_way(resolve_paths(str(tmp_path)).store_file, child)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        before_resume = _rows_started(slow, batch_id)

        resumed = run(tmp_path, "batch", str(path), "--concurrency", "8", "--json", env=env)

        assert resumed.returncode == 0, resumed.stderr
        document = _document(resumed.stdout)
        assert document["batch_id"] == batch_id and document["resumed"] is True
        statuses = {run["row"]: run["status"] for run in document["runs"]}
        counts = _rows_started(slow, batch_id)
        assert all(count == 1 for count in counts.values()), counts
        for row, status in statuses.items():
            assert status in ("completed", "uncertain"), statuses
            if status == "completed":
                assert counts[row] == 1
        # The resume sent what the killed batch had not, and nothing it had.
        assert sum(counts.values()) > sum(before_resume.values())
        assert set(before_resume) <= {row for row, s in statuses.items() if s != "unsent"}
        # The row whose answer never came is uncertain, said so, and was not sent again.
        uncertain = [row for row, status in statuses.items() if status == "uncertain"]
        assert len(uncertain) == 1, statuses
        assert "may have started" in resumed.stderr
        assert counts[uncertain[0]] <= 1

        # Asked to, the uncertain row is sent again (by --resume, with the batch's id).
        again = run(
            tmp_path, "batch", "--resume", batch_id, "--resend-uncertain", "--json", env=env
        )
        assert again.returncode == 0, again.stderr
        assert _document(again.stdout)["counts"]["completed"] == 8
        assert _rows_started(slow, batch_id)[uncertain[0]] == counts[uncertain[0]] + 1


def test_resume_takes_the_short_batch_id_the_app_shows(tmp_path: Path, sim: SimServer) -> None:
    env = crew_env(sim, CREW)
    first = run(tmp_path, "batch", str(_csv(tmp_path, 2)), "--json", *QUICK_POLLS, env=env)
    batch_id = _document(first.stdout)["batch_id"]
    resumed = run(tmp_path, "batch", "--resume", batch_id[:8], "--json", *QUICK_POLLS, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert _document(resumed.stdout)["batch_id"] == batch_id
    assert _rows_started(sim, batch_id) == Counter({1: 1, 2: 1})


def test_resume_of_a_finished_batch_sends_nothing_says_why_and_an_unknown_id_is_refused(
    tmp_path: Path, sim: SimServer
) -> None:
    env = crew_env(sim, CREW)
    first = run(tmp_path, "batch", str(_csv(tmp_path, 2)), "--json", *QUICK_POLLS, env=env)
    batch_id = _document(first.stdout)["batch_id"]

    resumed = run(tmp_path, "batch", "--resume", batch_id, "--json", "--exit-status", env=env)

    assert resumed.returncode == 0, resumed.stderr
    document = _document(resumed.stdout)
    assert document["resumed"] is True and document["counts"]["completed"] == 2
    assert _rows_started(sim, batch_id) == Counter({1: 1, 2: 1})
    assert "--new" not in resumed.stderr  # named by its id: no reason to explain
    again = run(tmp_path, "batch", str(_csv(tmp_path, 2)), "--json", *QUICK_POLLS, env=env)
    assert _document(again.stdout)["batch_id"] == batch_id
    assert "these rows were batched before: --new sends them all again" in again.stderr
    assert _rows_started(sim, batch_id) == Counter({1: 1, 2: 1})
    unknown = run(tmp_path, "batch", "--resume", "nosuchbatch", env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.count("\n") == 1 and "holds no batch 'nosuchbatch'" in unknown.stderr
    neither = run(tmp_path, "batch", env=env)
    assert neither.returncode == 2 and "--resume BATCH_ID" in neither.stderr
