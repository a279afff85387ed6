"""Comparing two runs of a crew from a real history (SQLite and PostgreSQL): tasks side by
side, the inputs that differ, a capped diff of the outputs, and one sentence for runs of two
crews."""

from __future__ import annotations

import pytest

from crewtui.api.errors import ConfigError, ExitCode
from crewtui.api.models import TaskResult
from crewtui.api.rows import Usage
from crewtui.api.states import TaskState
from crewtui.core import compare as compare_module
from crewtui.core.compare import (
    DIFF_LINES,
    OUTPUT_CAP,
    NotInHistory,
    compare,
    load_compared,
    table_rows,
)
from crewtui.core.pricing import price_table
from crewtui.core.store import Store
from tests.conftest import HistoryOpener
from tests.core.histories import NOW, past_runs


@pytest.fixture
def store(open_history: HistoryOpener) -> Store:
    """A history on each back end in turn."""
    return open_history()


def two_runs(store: Store, left: dict[str, object], right: dict[str, object]) -> tuple[str, str]:
    first, second = past_runs(store, "travel", "research", [30.0, 42.5], tokens=900)
    store.save_kickoff(first.model_copy(update=left))
    store.save_kickoff(second.model_copy(update=right))
    return first.kickoff_id, second.kickoff_id


def compared(store: Store, left_id: str, right_id: str) -> compare_module.Comparison:
    left, left_output = load_compared(store, left_id)
    right, right_output = load_compared(store, right_id)
    return compare(left, right, left_output, right_output)


def test_tasks_sit_side_by_side_with_times_tokens_agents_and_the_output_diff(
    store: Store,
) -> None:
    later = TaskResult(
        task_id="plan",
        agent="Planner",
        state=TaskState.COMPLETED,
        execution_time=5.0,
        usage=Usage(total_tokens=1234),
    )
    left_id, right_id = two_runs(
        store,
        {"output": "day 1: museum\nday 2: beach\n", "inputs": {"budget": "1000", "age": "35"}},
        {"output": "day 1: museum\nday 2: hike\n", "inputs": {"budget": "2000", "age": "35"}},
    )
    right = store.get_kickoff(right_id)
    assert right is not None
    store.save_kickoff(right.model_copy(update={"tasks": [*right.tasks, later]}))
    comparison = compared(store, left_id, right_id)
    assert table_rows(comparison) == [
        ("research", "Researcher", "30.0s", "42.5s", "+12.5s", "", ""),
        ("plan", "· → Planner", "—", "5.0s", "", "", "1.23k"),
    ]
    assert comparison.inputs == [("budget", "1000", "2000")]
    assert comparison.diff[2:] == [
        "@@ -1,2 +1,2 @@",
        " day 1: museum",
        "-day 2: beach",
        "+day 2: hike",
    ]
    assert comparison.notes == []
    shown = comparison.as_json(NOW, price_table())
    assert shown["left"]["seconds"] == 30.0 and shown["right"]["tokens"] == 900
    assert shown["tasks"][1] == {
        "task_id": "plan",
        "left": None,
        "right": {"state": "completed", "agent": "Planner", "seconds": 5.0, "tokens": 1234},
    }
    assert shown["same_output"] is False


def test_the_same_output_has_no_diff(store: Store) -> None:
    left_id, right_id = two_runs(store, {"output": "same"}, {"output": "same"})
    comparison = compared(store, left_id, right_id)
    assert comparison.same_output and comparison.diff == []


def test_runs_of_two_crews_get_one_sentence(store: Store) -> None:
    [travel] = past_runs(store, "travel", "research", [30.0])
    [content] = past_runs(store, "content", "draft", [30.0])
    with pytest.raises(ConfigError) as raised:
        compared(store, travel.kickoff_id, content.kickoff_id)
    assert raised.value.message == (
        "travel-r is a run of travel and content- of content: compare two runs of the same crew."
    )


def test_a_run_not_in_the_history_is_not_found(store: Store) -> None:
    with pytest.raises(NotInHistory) as raised:
        load_compared(store, "0f0f0f0f-0000-4000-8000-000000000000")
    assert raised.value.exit_code is ExitCode.NOT_FOUND
    assert "0f0f0f0f is not in the local history" in raised.value.message


def test_long_outputs_are_compared_on_their_first_characters_and_the_diff_is_capped(
    store: Store,
) -> None:
    """A 1 MB output is read from the history only as far as the cap, never whole."""
    many = "".join(f"line {n}\n" for n in range(200_000))
    other = "".join(f"other {n}\n" for n in range(200_000))
    left_id, right_id = two_runs(store, {"output": many}, {"output": other})
    left, left_output = load_compared(store, left_id)
    assert left.output is None, "left in the history: too large to load with the record"
    assert left_output.cut and left_output.text == many[:OUTPUT_CAP]
    comparison = compared(store, left_id, right_id)
    assert len(comparison.diff) == DIFF_LINES + 1
    assert comparison.notes == [
        f"The left and right outputs were compared on their first {OUTPUT_CAP:,} characters only.",
        f"The diff was cut at {DIFF_LINES:,} lines.",
    ]


def test_a_missing_output_compares_as_empty(store: Store) -> None:
    left_id, right_id = two_runs(store, {"output": None}, {"output": "new text"})
    comparison = compared(store, left_id, right_id)
    assert comparison.diff[-1] == "+new text"
    assert comparison.notes == ["A run without an output is compared as empty."]
