"""Large outputs stay in the history and are read in pieces (SQLite's blob I/O, PostgreSQL's
COPY), by another process's rewrite too: on both back ends (``open_history``)."""

from __future__ import annotations

from datetime import UTC, datetime

from crewtui.api.models import Kickoff, TaskResult
from crewtui.api.states import RunState, TaskState
from crewtui.core.text_lines import read_all
from tests.conftest import HistoryOpener

HOLD = 1_000


def big_run(output: str, task_output: str) -> Kickoff:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return Kickoff(
        kickoff_id="big-run",
        crew="travel",
        state=RunState.COMPLETED,
        created_at=now,
        updated_at=now,
        output=output,
        raw={"result": output},
        tasks=[
            TaskResult(task_id="small", output="short", state=TaskState.COMPLETED),
            TaskResult(task_id="large", output=task_output, state=TaskState.COMPLETED),
        ],
    )


def test_outputs_over_the_hold_stay_in_the_history_and_read_in_pieces(
    open_history: HistoryOpener,
) -> None:
    output = "".join(f"line {n} 行程\n" for n in range(500))
    task_output = "é" * 3_000
    store = open_history()
    store.save_kickoff(big_run(output, task_output))

    lean = store.get_kickoff_lean("big-run", hold=HOLD)

    assert lean is not None
    kickoff, stored = lean
    assert kickoff.output is None and kickoff.raw is None
    assert [task.output for task in kickoff.tasks] == ["short", None]
    assert sorted(stored, key=str) == [None, "large"]
    final = stored[None]
    assert final.size == len(output.encode())
    assert final.read(0, 7) == b"line 0 "
    assert final.read(final.size - 8, 100) == "499 行程\n".encode()[-8:]
    assert read_all(final) == output
    assert read_all(stored["large"]) == task_output
    assert store.get_kickoff_lean("missing", hold=HOLD) is None
    # Under the hold, everything is in the record as before.
    small = store.get_kickoff_lean("big-run", hold=10_000_000)
    assert small is not None and small[0] == store.get_kickoff("big-run") and small[1] == {}


def test_an_output_rewritten_by_another_process_is_never_read_half_old(
    open_history: HistoryOpener,
) -> None:
    store = open_history()
    store.save_kickoff(big_run("a" * 5_000, "b" * 5_000))
    lean = store.get_kickoff_lean("big-run", hold=HOLD)
    assert lean is not None
    final = lean[1][None]

    other = open_history()
    other.save_kickoff(big_run("c" * 6_000, "b" * 5_000))

    assert final.read(0, 10) == b""  # the view is told anew by the change, not given a mix
