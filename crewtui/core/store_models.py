"""Full kickoffs, tasks and steps (the pydantic models) to history rows and back.

Split from ``crewtui.core.store_rows`` (the codecs and the list's rows, which import no
pydantic): the store imports this module where it first reads or writes a whole kickoff,
so the list's first page does not wait for the models' schemas.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from crewtui.api.models import Kickoff, Step, TaskResult
from crewtui.core.format import STATE_ORDER
from crewtui.core.merge import merge_step
from crewtui.core.store_rows import (
    DERIVED_COLUMNS,
    EPOCH,
    INSERT_STEP,
    KICKOFF_COLUMNS,
    KICKOFF_STAND_INS,
    SELECT_STEP,
    STEP_FIELDS,
    UPDATE_STEP,
    SqlValue,
    bind_text,
    bind_ts,
    clamp_int64,
    decode_row,
    encode,
    note_unreadable,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

_STAND_INS: dict[type[BaseModel], dict[str, Any]] = {
    Kickoff: KICKOFF_STAND_INS,
    Step: {"received_at": EPOCH},
}


def as_model(
    model: type[ModelT], values: dict[str, Any], unreadable: set[str], what: str, key: str
) -> ModelT | None:
    """``values`` as ``model``; unreadable or invalid values are replaced by their defaults
    (or a stand-in) with a logged note, and a row beyond repair is skipped (None)."""
    bad = set(unreadable)
    result: ModelT | None = None
    # Each pass leaves out what the last one refused; a row that fails on no new field
    # (or keeps failing) is beyond repair.
    for _ in range(3):
        repaired = {name: value for name, value in values.items() if name not in bad}
        stand_ins = _STAND_INS.get(model, {})
        repaired.update({name: stand_ins[name] for name in bad if name in stand_ins})
        try:
            result = model.model_validate(repaired)
            break
        except ValidationError as error:
            refused = {str(detail["loc"][0]) for detail in error.errors() if detail["loc"]}
            if refused <= bad:
                break
            bad |= refused
    if bad:
        note_unreadable(what, key, bad, skipped=result is None)
    return result


# Kickoff fields without a column of their own ride in ``extra`` (JSON), so a field added to
# the model is kept without a migration; a migration can give it a column later.
EXTRA_FIELDS = frozenset(Kickoff.model_fields) - {*KICKOFF_COLUMNS, "tasks"}


def kickoff_values(kickoff: Kickoff) -> dict[str, SqlValue]:
    own_columns = (name for name in KICKOFF_COLUMNS if name not in DERIVED_COLUMNS)
    fields = {name: getattr(kickoff, name) for name in own_columns}
    fields["extra"] = {
        # Defaults are left out (they come back on load): most runs have no usage, calls or
        # pause, and a row that stays small keeps the list's table compact.
        **kickoff.model_dump(
            mode="json", include=set(EXTRA_FIELDS) - {"raw_by_source"}, exclude_defaults=True
        ),
        # Excluded from every dump (they may hold a secret path), but kept for POST /resume.
        **({"webhooks": kickoff.webhooks.model_dump()} if kickoff.webhooks else {}),
        # Payloads as received, like ``raw``: JSON mode would refuse a lone surrogate key.
        "raw_by_source": [
            {"source": p.source, "received_at": bind_ts(p.received_at), "body": p.body}
            for p in kickoff.raw_by_source
        ],
    }
    fields["progress"] = asdict(kickoff.progress) if kickoff.progress else None
    fields["task_count"] = len(kickoff.tasks)
    fields["state_rank"] = STATE_ORDER.index(kickoff.state)
    fields["archived"] = int(kickoff.archived)
    return encode(fields)


def task_values(kickoff_id: str, ordinal: int, task: TaskResult) -> dict[str, SqlValue]:
    return encode({"kickoff_id": kickoff_id, "ordinal": ordinal, **task.model_dump()})


def step_values(step: Step) -> dict[str, SqlValue]:
    values = encode(step.model_dump())
    values["sequence"] = clamp_int64(step.sequence)
    values["step_key"] = step.key
    return values


def insert_steps(conn: sqlite3.Connection, steps: Sequence[Step]) -> list[Step]:
    """Store each step once (by its identity); a copy from another channel is merged into
    the stored one. Returns the steps that were new."""
    new: list[Step] = []
    for step in steps:
        values = step_values(step)
        if conn.execute(INSERT_STEP, values).rowcount == 1:
            new.append(step)
            continue
        row = conn.execute(SELECT_STEP, {"step_key": values["step_key"]}).fetchone()
        if row is None:
            continue
        stored = as_model(Step, *decode_row(row), "a step of", step.kickoff_id)
        merged = step if stored is None else merge_step(stored, step)
        if merged != stored:
            conn.execute(UPDATE_STEP, step_values(merged))
    return new


def load_steps(conn: sqlite3.Connection, kickoff_id: str, newest: int | None = None) -> list[Step]:
    """A run's steps in list order; with ``newest``, only the last that many."""
    columns = ", ".join(STEP_FIELDS)
    if newest is None:
        rows = conn.execute(
            f"SELECT {columns} FROM steps WHERE kickoff_id = ? "  # noqa: S608
            "ORDER BY sequence NULLS FIRST, received_at, rowid",
            (bind_text(kickoff_id),),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {columns} FROM steps WHERE kickoff_id = ? "  # noqa: S608
            "ORDER BY sequence DESC NULLS LAST, received_at DESC, rowid DESC LIMIT ?",
            (bind_text(kickoff_id), max(newest, 0)),
        ).fetchall()[::-1]
    loaded = (as_model(Step, *decode_row(row), "a step of", kickoff_id) for row in rows)
    return [step for step in loaded if step is not None]
