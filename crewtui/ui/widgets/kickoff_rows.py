"""The rows of the kickoff list by position: a few held runs of rows out of ``total``.

The list may have a million kickoffs; it holds only the runs of rows the user looked at
(read a page at a time from the store) and knows the rest only by count. A row is found by
its position, or by its kickoff id; a change of a held row updates it in place or moves it
to where its order key puts it. A kickoff placed in a stretch not held is only counted: its
exact position is known once that stretch is read. Every change that moves positions bumps
``version``, so a page read before it (at offsets that have since moved) is dropped, not
placed at the wrong rows.

Pure data: no I/O, no Textual.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from crewtui.api.rows import KickoffSummary

OrderKey = tuple[object, ...]


@dataclass(eq=False)
class _Run:
    """Consecutive rows from position ``start``, with their order keys (sorted)."""

    start: int
    rows: list[KickoffSummary] = field(default_factory=list)
    keys: list[OrderKey] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + len(self.rows)


class KickoffRows:
    """Held runs of rows in list order, out of ``total`` rows."""

    def __init__(self, order_key: Callable[[KickoffSummary], OrderKey]) -> None:
        self.order_key = order_key
        self.total = 0
        self.version = 0
        self._runs: list[_Run] = []
        self._where: dict[str, tuple[_Run, OrderKey]] = {}

    # -- reading -------------------------------------------------------------------------

    @property
    def held(self) -> int:
        return len(self._where)

    def __contains__(self, kickoff_id: object) -> bool:
        return kickoff_id in self._where

    def get(self, index: int) -> KickoffSummary | None:
        """The row at ``index``, if held."""
        run = self._run_at(index)
        return None if run is None else run.rows[index - run.start]

    def summary(self, kickoff_id: str) -> KickoffSummary | None:
        index = self.index_of(kickoff_id)
        return None if index is None else self.get(index)

    def index_of(self, kickoff_id: str) -> int | None:
        found = self._where.get(kickoff_id)
        if found is None:
            return None
        # Keys are sorted and unique (they end in the id): bisect finds the row.
        run, key = found
        return run.start + bisect_left(run.keys, key)

    def held_rows(self) -> Iterator[tuple[int, KickoffSummary]]:
        """Every held row with its position, top to bottom."""
        for run in self._runs:
            for offset, row in enumerate(run.rows):
                yield run.start + offset, row

    def missing(self, start: int, stop: int) -> list[tuple[int, int]]:
        """The stretches of ``[start, stop)`` (within ``total``) that are not held."""
        start, stop = max(start, 0), min(stop, self.total)
        gaps: list[tuple[int, int]] = []
        cursor = start
        for run in self._runs:
            if run.end <= cursor:
                continue
            if run.start >= stop:
                break
            if run.start > cursor:
                gaps.append((cursor, run.start))
            cursor = max(cursor, run.end)
        if cursor < stop:
            gaps.append((cursor, stop))
        return gaps

    # -- writing -------------------------------------------------------------------------

    def reset(self, total: int = 0) -> None:
        """Forget every row (a new query)."""
        self.total = total
        self._runs.clear()
        self._where.clear()
        self.version += 1

    def place(self, offset: int, rows: Sequence[KickoffSummary], asked: int) -> None:
        """Hold a page read at ``offset`` (``asked`` rows were asked for); a held row keeps
        its own summary (it is at least as new: every change of it reached this model)."""
        end = offset + len(rows)
        if len(rows) < asked and end < self.total:
            self.total = end  # the store has fewer rows than counted: rows went away
        self.total = max(self.total, end)
        placed = [self._newest(row) for row in rows]
        kept: list[_Run] = []
        for run in self._runs:
            if run.end <= offset or run.start >= end:
                if run.start < self.total:
                    kept.append(self._clip(run, run.start, min(run.end, self.total)))
                continue
            if run.start < offset:
                kept.append(self._clip(run, run.start, offset))
            if run.end > end:
                kept.append(self._clip(run, end, run.end))
        kept.append(_Run(offset, placed, [self.order_key(row) for row in placed]))
        self._rebuild(kept)

    def update(self, summary: KickoffSummary) -> tuple[int | None, int | None]:
        """A held row changed: (its position before, after); after is None when it moved
        into a stretch that is not held. Positions move only when the order key did."""
        kickoff_id = summary.kickoff_id
        before = self.index_of(kickoff_id)
        assert before is not None, "update() is for held rows"
        run, _key = self._where[kickoff_id]
        offset = before - run.start
        key = self.order_key(summary)
        if key == run.keys[offset]:
            run.rows[offset] = summary
            return before, before
        self.remove(kickoff_id)
        return before, self.insert(summary)

    def insert(self, summary: KickoffSummary) -> int | None:
        """A row that was not in the list: its position if it falls among held rows (or at
        a held edge), else ``None`` (it is only counted)."""
        key = self.order_key(summary)
        self.total += 1
        self.version += 1
        previous_end = 0
        for index, run in enumerate(self._runs):
            if key < run.keys[0]:
                if previous_end == run.start == 0:
                    return self._insert_into(run, 0, summary, key, shift_from=index + 1)
                self._shift(index, 1)
                return None
            if key <= run.keys[-1]:
                at = bisect_left(run.keys, key)
                return self._insert_into(run, at, summary, key, shift_from=index + 1)
            previous_end = run.end
        if self._runs and self._runs[-1].end == self.total - 1:
            run = self._runs[-1]
            return self._insert_into(run, len(run.rows), summary, key, shift_from=len(self._runs))
        if not self._runs and self.total == 1:
            self._rebuild([_Run(0, [summary], [key])])
            return 0
        return None

    def remove(self, kickoff_id: str) -> int | None:
        """Take a held row out of the list; its former position."""
        index = self.index_of(kickoff_id)
        if index is None:
            return None
        run, _key = self._where.pop(kickoff_id)
        offset = index - run.start
        del run.rows[offset]
        del run.keys[offset]
        self._shift(self._runs.index(run) + 1, -1)
        if not run.rows:
            self._runs.remove(run)
        self.total -= 1
        self.version += 1
        return index

    def forget(self, kickoff_id: str, *, was_member: bool) -> None:
        """A row not held left the list (``was_member``): only the count changes."""
        if was_member:
            self.total = max(self.total - 1, 0)
            self.version += 1

    def keep_near(self, centers: Sequence[int], span: int) -> None:
        """Let go of held rows farther than ``span`` // 2 from every one of ``centers`` (the
        cursor, the view): memory stays bounded however far the user goes; positions do not
        move."""
        windows = sorted((center - span // 2, center + span // 2) for center in centers)
        kept = [
            self._clip(run, max(run.start, low), min(run.end, high))
            for run in self._runs
            for low, high in windows
            if run.end > low and run.start < high
        ]
        if sum(len(run.rows) for run in kept) != self.held:
            self._rebuild(kept)

    # -- internals -----------------------------------------------------------------------

    def _newest(self, row: KickoffSummary) -> KickoffSummary:
        """The held summary of a row read from the store, when it is the same row."""
        held = self.summary(row.kickoff_id)
        if held is not None and self.order_key(held) == self.order_key(row):
            return held
        return row

    def _run_at(self, index: int) -> _Run | None:
        for run in self._runs:
            if run.start <= index < run.end:
                return run
            if run.start > index:
                return None
        return None

    def _insert_into(
        self, run: _Run, at: int, summary: KickoffSummary, key: OrderKey, *, shift_from: int
    ) -> int:
        run.rows.insert(at, summary)
        run.keys.insert(at, key)
        self._where[summary.kickoff_id] = (run, key)
        self._shift(shift_from, 1)
        return run.start + at

    def _shift(self, first_run: int, delta: int) -> None:
        for run in self._runs[first_run:]:
            run.start += delta

    @staticmethod
    def _clip(run: _Run, start: int, stop: int) -> _Run:
        low, high = start - run.start, stop - run.start
        return _Run(start, run.rows[low:high], run.keys[low:high])

    def _rebuild(self, runs: list[_Run]) -> None:
        """Sort, drop empty runs, merge touching ones, and index rows by id."""
        merged: list[_Run] = []
        for run in sorted((run for run in runs if run.rows), key=lambda run: run.start):
            if merged and merged[-1].end >= run.start:  # touching or overlapping: one run
                overlap = merged[-1].end - run.start
                merged[-1].rows.extend(run.rows[overlap:])
                merged[-1].keys.extend(run.keys[overlap:])
            else:
                merged.append(run)
        self._runs = merged
        self._where = {
            row.kickoff_id: (run, key)
            for run in merged
            for row, key in zip(run.rows, run.keys, strict=True)
        }
