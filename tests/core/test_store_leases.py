"""The poller lease of each crew in the history: claim, renew, expire, release, race.

Stores opened on one history stand for processes (each has its own writer id); the race is
run by real processes. Expiry needs no waiting: a lease claimed for 0 s has already run
out when anyone reads it. The contract runs on SQLite and on PostgreSQL (``open_history``).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crewtui.core import store_schema
from crewtui.core.store import Store
from crewtui.core.store_schema import LEASE_SCHEMA
from tests.conftest import HistoryOpener, open_at

TTL = 60.0
CHILD_TIMEOUT = 120.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def stores(open_history: HistoryOpener) -> HistoryOpener:
    """Opens one store on the history per call (one process each), on each back end."""
    return open_history


def test_a_free_lease_is_taken_and_others_are_refused_while_it_lasts(
    stores: HistoryOpener,
) -> None:
    first, second = stores(), stores()
    assert first.claim_lease("research", TTL)
    assert not second.claim_lease("research", TTL)
    assert second.claim_lease("travel", TTL)  # one lease per crew
    lease = second.leases()["research"]
    here = (first.writer, os.getpid(), socket.gethostname())
    assert (lease.holder, lease.pid, lease.host) == here
    assert lease.poller == f"{os.getpid()}@{socket.gethostname()}"
    assert lease.refreshed_at is None  # no round of polls finished yet
    assert set(first.leases()) == {"research", "travel"}


def test_the_holder_renews_its_lease_and_others_take_it_once_it_expired(
    stores: HistoryOpener,
) -> None:
    first, second = stores(), stores()
    assert first.claim_lease("research", TTL)
    renewed_until = first.leases()["research"].expires_at
    assert first.claim_lease("research", 0.0)  # ours: renewed (here to now, so it lapses)
    assert first.leases()["research"].expires_at < renewed_until
    assert second.claim_lease("research", TTL)  # expired: taken over
    assert second.leases()["research"].holder == second.writer
    assert not first.claim_lease("research", TTL)  # the one that lapsed is refused now


def test_only_the_holder_marks_a_round_of_polls_and_takeover_keeps_the_mark(
    stores: HistoryOpener,
) -> None:
    first, second = stores(), stores()
    assert first.claim_lease("research", 0.0)
    first.mark_refreshed("research")
    marked = first.leases()["research"].refreshed_at
    assert marked is not None
    assert second.claim_lease("research", TTL)
    # How fresh the crew is stays known across the takeover, until the new holder marks.
    assert second.leases()["research"].refreshed_at == marked
    first.mark_refreshed("research")  # no longer the holder: changes nothing
    assert second.leases()["research"].refreshed_at == marked
    second.mark_refreshed("research")
    refreshed = second.leases()["research"].refreshed_at
    assert refreshed is not None and refreshed >= marked


def test_a_round_that_taught_nothing_keeps_the_mark_and_says_why(stores: HistoryOpener) -> None:
    poller, viewer = stores(), stores()
    assert poller.claim_lease("research", TTL)
    poller.mark_refreshed("research")
    marked = viewer.leases()["research"].refreshed_at
    told = "The research crew is unreachable: \x1b]52;c;aGk=\x07connection refused."
    poller.mark_refreshed("research", told)
    lease = viewer.leases()["research"]
    assert lease.refreshed_at == marked  # no fresher than its last useful round
    assert lease.trouble is not None and "connection refused" in lease.trouble
    assert "\x1b" not in lease.trouble and "\x07" not in lease.trouble  # shown: inert
    viewer.mark_refreshed("research", "not the holder")  # changes nothing
    assert viewer.leases()["research"].trouble == lease.trouble
    poller.mark_refreshed("research")  # a round that was answered again
    lease = viewer.leases()["research"]
    assert lease.trouble is None
    assert lease.refreshed_at is not None and marked is not None and lease.refreshed_at >= marked


def test_released_leases_are_taken_at_once_and_still_say_who_polled_last(
    stores: HistoryOpener,
) -> None:
    first, second = stores(), stores()
    assert first.claim_lease("research", TTL)
    assert first.claim_lease("travel", TTL)
    assert second.claim_lease("flow", TTL)
    first.mark_refreshed("research")
    first.release_leases()
    leases = second.leases()
    assert leases["research"].holder == first.writer
    assert leases["research"].refreshed_at is not None
    assert not any(leases[crew].is_live(leases[crew].expires_at) for crew in leases)
    assert second.claim_lease("research", TTL)
    assert second.claim_lease("travel", TTL)
    assert not first.claim_lease("flow", TTL)  # only its own leases were released


def test_on_postgresql_lease_writes_do_not_queue_behind_a_kickoff_save(postgres_url: str) -> None:
    """A writer holding the kickoffs' lock (a save under way, or a queue of them: 100 ms
    each on a loaded machine, ``bench_team.py``) must not hold up a poller's heartbeat,
    or a round of 20 crews' renewals outlasts the lease and viewers take the crews over."""
    import psycopg

    from crewtui.core.pg_schema import WRITE_LOCK
    from crewtui.core.pg_store import PgStore

    store = PgStore.open(postgres_url)
    renewed = threading.Event()

    def heartbeat() -> None:
        store.claim_lease("research", TTL)
        store.mark_refreshed("research")
        store.release_leases()
        renewed.set()

    try:
        with psycopg.connect(postgres_url) as saving, saving.transaction():
            saving.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            threading.Thread(target=heartbeat, daemon=True).start()
            # A deadlock check, not a timing one: without the fix it waits until COMMIT.
            assert renewed.wait(timeout=CHILD_TIMEOUT), "the lease waited for the save"
        assert store.leases()["research"].refreshed_at is not None
    finally:
        store.close()


def test_on_postgresql_leases_are_kept_while_every_pooled_connection_waits_on_saves(
    postgres_url: str,
) -> None:
    """Saves queued behind the writers' lock hold every pooled connection (five viewers
    starting beside a busy poller): a heartbeat that waited for one let its lease lapse."""
    import psycopg

    from crewtui.core.pg_schema import WRITE_LOCK
    from crewtui.core.pg_store import POOL_SIZE, PgStore

    store = PgStore.open(postgres_url)
    holding = threading.Semaphore(0)
    done = threading.Event()

    def save_in_queue() -> None:
        with store._write():  # waits for the lock held below, holding its connection
            holding.release()

    renewed: list[bool] = []

    def heartbeat() -> None:
        try:
            renewed.append(store.claim_lease("research", TTL))
            store.mark_refreshed("research")
            renewed.append(store.leases()["research"].refreshed_at is not None)
        finally:  # a connection waited for in vain raises: the assertion below says it
            done.set()

    try:
        with psycopg.connect(postgres_url) as saving, saving.transaction():
            saving.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            savers = [threading.Thread(target=save_in_queue) for _ in range(POOL_SIZE)]
            for saver in savers:
                saver.start()
            threading.Thread(target=heartbeat, daemon=True).start()
            # A deadlock check, not a timing one: without the fix it waits until COMMIT.
            assert done.wait(timeout=CHILD_TIMEOUT), "the lease waited for a connection"
        for saver in savers:
            saver.join()
        assert renewed == [True, True]
    finally:
        store.close()


def test_a_history_without_other_processes_or_one_not_written_records_nothing(
    path: Path,
) -> None:
    memory = Store.in_memory()
    try:
        assert memory.claim_lease("research", TTL)
        assert memory.leases() == {}
    finally:
        memory.close()
    holder = Store.open(path)
    assert holder.claim_lease("research", TTL)
    # A process that may only read the file (a damaged store, an unwritable place).
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    watcher = Store(conn, path, read_only="The history is read-only here.")
    try:
        # It cannot say it polls: it polls only what no live process polls.
        assert not watcher.claim_lease("research", TTL)
        assert watcher.claim_lease("travel", TTL)
        watcher.mark_refreshed("travel")
        watcher.release_leases()
        assert set(holder.leases()) == {"research"}
    finally:
        watcher.close()
        holder.close()


def test_a_store_from_before_the_leases_gets_the_table(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", LEASE_SCHEMA - 1)
    Store.open(path).close()  # made by a crewtui that knew no leases
    monkeypatch.undo()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "leases" not in tables
    store = Store.open(path)
    try:
        assert store.schema_version == store_schema.SCHEMA_VERSION
        assert store.claim_lease("research", TTL)
        assert set(store.leases()) == {"research"}
    finally:
        store.close()


RACER = r"""
import sys
from pathlib import Path
from crewtui.core.pg_store import PgStore
from crewtui.core.pg_store import PgStore
from crewtui.core.store import Store

where = sys.argv[1]
store = PgStore.open(where) if where.startswith("postgresql://") else Store.open(Path(where))
print("ready", flush=True)
sys.stdin.readline()  # every racer starts together
won = [crew for crew in sys.argv[2:] if store.claim_lease(crew, 60.0)]
print(" ".join(won) or "-", flush=True)
store.close()
"""


def test_processes_racing_for_the_leases_each_get_one_holder(history_at: str) -> None:
    open_at(history_at).close()
    crews = [f"crew-{n}" for n in range(40)]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, history_at, *crews],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for racer in racers:
        assert racer.stdout is not None
        assert racer.stdout.readline().strip() == "ready"
    won: list[str] = []
    for racer in racers:
        out, err = racer.communicate("go\n", timeout=CHILD_TIMEOUT)
        assert racer.returncode == 0, err[-2000:]
        won.extend(crew for crew in out.split() if crew != "-")
    # Each crew was won exactly once, by the process the history names.
    assert sorted(won) == sorted(crews)
    store = open_at(history_at)
    try:
        assert set(store.leases()) == set(crews)
    finally:
        store.close()
