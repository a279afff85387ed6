"""Batches without a crew: reading CSV and JSON Lines rows, the one sentence for each bad
file, the inputs check, and each row's status from the runs the history holds."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crewtui.api.errors import ConfigError
from crewtui.api.models import Kickoff
from crewtui.api.rows import KickoffSummary
from crewtui.api.states import RunState, Submission
from crewtui.core.batch import (
    Batch,
    BatchRow,
    check_inputs,
    progress_of,
    read_rows,
    rows_from_json,
    rows_json,
)
from tests.conftest import HistoryOpener

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_cells_keep_commas_quotes_and_line_breaks_and_blank_ones_are_absent(
    tmp_path: Path,
) -> None:
    text = 'topic,meta.owner,notes\n"bees, wasps",ana,"two\nlines"\n\n owls ,,\n'
    rows = read_rows(_write(tmp_path, "t.csv", text))
    assert rows == (
        BatchRow(1, {"topic": "bees, wasps", "notes": "two\nlines"}, {"owner": "ana"}),
        BatchRow(2, {"topic": " owls "}, {}),
    )


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("topic\nbees\n".encode("utf-8-sig"))
    assert read_rows(path)[0].inputs == {"topic": "bees"}


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("t.txt", "topic\nbees\n", "neither .csv nor .jsonl"),
        ("t.csv", "", "has no rows"),
        ("t.csv", "topic\n", "has no rows"),
        ("t.csv", "topic,\nbees,x\n", "Column 2 of"),
        ("t.csv", "topic\nbees,extra\n", "Row 1 of"),
        ("t.csv", "topic,meta.row\nbees,3\n", "meta.batch and meta.row"),
        ("t.jsonl", '{"topic": "bees"}\n[1, 2]\n', "Line 2 of"),
        ("t.jsonl", '{"topic": "bees"\n', "is not JSON"),
        ("t.jsonl", '{"topic": ["a", "b"]}\n', "a list or an object"),
    ],
)
def test_a_bad_file_gets_one_sentence(tmp_path: Path, name: str, text: str, said: str) -> None:
    with pytest.raises(ConfigError) as refused:
        read_rows(_write(tmp_path, name, text))
    assert said in refused.value.message
    assert "\n" not in refused.value.message


def test_a_missing_file_and_a_non_utf8_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="There is no file"):
        read_rows(tmp_path / "gone.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("topic\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_rows(latin)


def test_jsonl_values_become_text_and_null_is_absent(tmp_path: Path) -> None:
    text = '{"topic": "bees", "n": 3, "x": 1.5, "ok": false, "gone": null, "meta.by": 7}\n'
    (row,) = read_rows(_write(tmp_path, "t.jsonl", text))
    assert row.inputs == {"topic": "bees", "n": "3", "x": "1.5", "ok": "false"}
    assert row.meta == {"by": "7"}


def test_the_inputs_check_names_the_first_row_and_input_missing_or_empty() -> None:
    rows = (BatchRow(1, {"topic": "a", "audience": "b"}), BatchRow(2, {"topic": " "}))
    with pytest.raises(ConfigError) as refused:
        check_inputs(rows, ["topic", "audience"], "content", "rows.csv")
    assert refused.value.message == (
        "Row 2 of rows.csv has no value for the inputs 'topic', 'audience' that the content "
        "crew requires; fill them in (nothing was sent)."
    )
    check_inputs(rows[:1], ["topic", "audience"], "content", "rows.csv")


def test_rows_round_trip_through_the_history_even_with_surrogates() -> None:
    rows = (BatchRow(1, {"topic": "\ud800 odd"}, {"k": "v"}), BatchRow(2, {"topic": "b"}))
    assert rows_from_json(rows_json(rows)) == rows


def _run(row: int, batch: str, state: RunState, submission: Submission) -> KickoffSummary:
    return KickoffSummary(
        kickoff_id=f"k{row}",
        crew="c",
        state=state,
        created_at=NOW,
        updated_at=NOW,
        submission=submission,
        meta={"batch": batch, "row": row},
    )


def test_each_row_stands_where_its_run_does_and_a_dead_senders_attempt_is_uncertain() -> None:
    rows = tuple(BatchRow(n, {"topic": str(n)}) for n in range(1, 7))
    batch = Batch("b1", "c", "f.csv", "fp", rows, 2, NOW)
    runs = [
        _run(1, "b1", RunState.COMPLETED, Submission.ACCEPTED),
        _run(2, "b1", RunState.FAILED, Submission.ACCEPTED),
        _run(3, "b1", RunState.RUNNING, Submission.ACCEPTED),
        _run(4, "b1", RunState.PENDING, Submission.SENDING),
        _run(5, "other", RunState.COMPLETED, Submission.ACCEPTED),
        _run(6, "b1", RunState.UNKNOWN, Submission.UNCERTAIN),
    ]
    live = progress_of(batch, runs)
    assert [s.state for s in live.rows] == [
        "completed", "failed", "running", "sending", "unsent", "uncertain",
    ]  # fmt: skip
    assert live.counts_text() == "1 done · 1 failed · 2 running · 1 uncertain · 1 to go"
    after_crash = progress_of(batch, runs, sender_gone=True)
    assert [s.row.number for s in after_crash.uncertain] == [4, 6]
    assert [row.number for row in after_crash.unsent] == [5]


def test_the_store_keeps_batches_and_finds_their_runs_by_meta(
    open_history: HistoryOpener,
) -> None:
    store = open_history()
    rows = (BatchRow(1, {"topic": "a"}, {"owner": "ana"}),)
    batch = Batch("b1", "c", "f.csv", "fp", rows, 3, NOW)
    store.save_batch(batch)
    assert store.get_batch("b1") == batch
    assert store.find_batch("fp") == batch
    assert store.find_batch("other") is None
    assert store.list_batches() == [batch]
    store.save_batch(Batch("b1f00", "c", "g.csv", "fp2", rows, 3, NOW))
    assert store.resolve_batch_id("b1") == ["b1", "b1f00"]
    assert store.resolve_batch_id("b1f") == ["b1f00"]
    assert store.resolve_batch_id("x") == []
    assert store.batch_runs("b1") == []
    for row in (1, 2):
        batch_id = "b1" if row == 1 else "b2"
        store.save_kickoff(
            Kickoff(
                kickoff_id=f"k{row}",
                crew="c",
                created_at=NOW,
                updated_at=NOW,
                meta={"batch": batch_id, "row": row},
            )
        )
    assert [run.kickoff_id for run in store.batch_runs("b1")] == ["k1"]
    assert [run.kickoff_id for run in store.list_kickoffs(batch="b2")] == ["k2"]
    assert store.count_kickoffs(batch="b1") == 1


def test_one_batch_has_one_sender_at_a_time_and_a_retired_one_frees_it(
    open_history: HistoryOpener,
) -> None:
    first, second = open_history(), open_history()
    first.save_batch(Batch("b1", "c", "f.csv", "fp", (BatchRow(1, {}),), 1, NOW))
    first.beat()
    second.beat()
    assert first.claim_batch("b1", alive_within=10) is None
    # Another process (here: another writer of this one) is refused while it sends...
    assert second.claim_batch("b1", alive_within=10) == os.getpid()
    assert first.claim_batch("b1", alive_within=10) == os.getpid()  # ...and so is a rerun
    first.release_batch("b1")
    assert second.claim_batch("b1", alive_within=10) is None
    # A sender that stopped saying it is alive (killed) no longer holds the batch.
    second.retire()
    assert first.claim_batch("b1", alive_within=10) is None
