"""Opening the store file: clear errors, files never overwritten, versioned migrations.

Tests run as root, where chmod stops nothing. The unwritable places used here fail for
every user: a path whose parent is a regular file, a path that is a directory, and a file in
/sys (sysfs refuses new files even to root).
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crewtui.api.errors import StoreError
from crewtui.api.models import Kickoff, Step
from crewtui.core import store_schema as schema_module
from crewtui.core.store import Store
from crewtui.core.store_schema import APPLICATION_ID, SCHEMA_VERSION

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root, with a file's bytes: "left untouched" means this stays equal."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def make_store(path: Path, kickoffs: int = 3) -> None:
    """A real store with a few kickoffs, closed (its log folded into the file)."""
    store = Store.open(path)
    for n in range(kickoffs):
        store.save_kickoff(Kickoff(kickoff_id=f"k{n}", crew="c", created_at=T0, updated_at=T0))
    store.close()


def assert_refused(root: Path, path: Path, message: str) -> None:
    """Opening fails with one clear sentence and changes nothing under root."""
    before = snapshot(root)
    with pytest.raises(StoreError, match=message) as caught:
        Store.open(path)
    assert caught.value.message.count(". ") == 0 and caught.value.message.endswith(".")
    assert snapshot(root) == before


def test_a_parent_that_is_a_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("I am a file")
    for path in (tmp_path / "data" / "history.sqlite3", tmp_path / "data" / "sub" / "h.db"):
        assert_refused(
            tmp_path, path, r"^The history store at .* part of its directory path is a file\.$"
        )


def test_a_directory_in_place_of_the_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "history.sqlite3").mkdir()
    assert_refused(tmp_path, tmp_path / "history.sqlite3", r"is a directory, not a file\.$")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_a_read_only_place_is_reported() -> None:
    with pytest.raises(StoreError, match=r"is in a read-only place; crewtui cannot save"):
        Store.open(Path("/sys/crewtui-history.sqlite3"))
    assert not Path("/sys/crewtui-history.sqlite3").exists()


def test_a_file_that_is_not_a_database_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"my notes, not a database\n" * 400)
    assert_refused(
        tmp_path, path, r"is not an SQLite database, so not a crewtui history; it was left"
    )


def test_someone_elses_database_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.close()
    assert_refused(tmp_path, path, r"is an SQLite database that crewtui did not create")


def test_a_store_from_a_newer_crewtui_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_store(path)
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    assert_refused(
        tmp_path, path, rf"written by a newer crewtui \(schema {SCHEMA_VERSION + 1}, this one"
    )


def test_a_damaged_schema_is_reported_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_store(path)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\x55" * (4096 - 100)  # page 1 after the header: the schema's root
    path.write_bytes(bytes(data))
    assert_refused(tmp_path, path, r"is damaged; crewtui does not repair it")


def test_damage_found_later_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_store(path, kickoffs=20)
    with sqlite3.connect(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'kickoffs'")
        page = int(root.fetchone()[0])
    conn.close()
    data = bytearray(path.read_bytes())
    start = (page - 1) * 4096 + 8  # keep the page header's type byte area, garble the cells
    data[start : page * 4096] = b"\x55" * (page * 4096 - start)
    path.write_bytes(bytes(data))

    store = Store.open(path)  # opening does not wait for the quick check: it stays fast
    damage = store.damage()  # the check at open found it: the store is read-only
    assert damage is not None and "is damaged" in damage
    with pytest.raises(StoreError, match="is damaged"):
        store.get_kickoff("k3")
    health = store.health()  # reported, never raised: doctor says what is wrong
    assert health["counts"] is None
    assert health["quick_check"] != "ok"
    assert health["read_only"] == damage
    store.close()


@pytest.mark.parametrize("prepare", [lambda p: None, lambda p: p.touch()], ids=["none", "empty"])
def test_a_new_store_is_created_private_at_the_current_schema(
    tmp_path: Path, prepare: Callable[[Path], None]
) -> None:
    path = tmp_path / "crewtui" / "data" / "history.sqlite3"
    path.parent.mkdir(parents=True)
    path.parent.chmod(0o755)
    prepare(path)
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert {"crews", "kickoffs", "tasks", "steps"} <= tables


def test_a_created_directory_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "history.sqlite3"
    Store.open(path).close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_migrations_run_in_order_once_and_keep_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.sqlite3"
    make_store(path)
    ran: list[int] = []

    def add_note_column(conn: sqlite3.Connection) -> None:
        ran.append(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute("ALTER TABLE kickoffs ADD COLUMN note TEXT")  # fails if run twice

    monkeypatch.setattr(schema_module, "MIGRATIONS", (*schema_module.MIGRATIONS, add_note_column))
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)

    for _ in range(2):
        store = Store.open(path)
        assert store.health()["schema_version"] == SCHEMA_VERSION + 1
        assert store.count_kickoffs() == 3
        store.close()
    assert ran == [SCHEMA_VERSION]


def test_a_failing_migration_leaves_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.sqlite3"
    make_store(path)

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        conn.execute("THIS IS NOT SQL")

    monkeypatch.setattr(schema_module, "MIGRATIONS", (*schema_module.MIGRATIONS, half_done))
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="failed"):
        Store.open(path)
    monkeypatch.undo()

    store = Store.open(path)
    assert store.health()["schema_version"] == SCHEMA_VERSION
    assert store.count_kickoffs() == 3
    store.close()
    with sqlite3.connect(path) as conn:
        half = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'")
        assert half.fetchone() == (0,)
    conn.close()


def test_two_opens_of_a_fresh_file_both_work(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    first, second = Store.open(path), Store.open(path)
    first.save_kickoff(Kickoff(kickoff_id="a", crew="c", created_at=T0, updated_at=T0))
    assert second.resolve_id("a") == ["a"]
    first.close()
    second.close()


def damage_a_table(path: Path, table: str) -> None:
    """Garble the cells of ``table``'s root page, as a failing disk would."""
    with sqlite3.connect(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,))
        page = int(root.fetchone()[0])
    conn.close()
    data = bytearray(path.read_bytes())
    start = (page - 1) * 4096 + 8
    data[start : page * 4096] = b"\x55" * (page * 4096 - start)
    path.write_bytes(bytes(data))


def test_a_damaged_store_is_opened_read_only_and_never_written(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_store(path, kickoffs=20)
    filler = Store.open(path)
    filler.add_steps([Step(kickoff_id="k1", received_at=T0, raw={"n": n}) for n in range(40)])
    filler.close()
    damage_a_table(path, "steps")  # the kickoffs stay readable
    before = snapshot(tmp_path)

    store = Store.open(path)
    assert store.count_kickoffs() == 20  # reads do not wait for the check
    assert store.damage() is not None
    assert store.read_only is not None
    assert store.read_only.startswith(f"The history store at {path} is damaged (")
    assert store.read_only.endswith("(move it aside to start a new one).")
    assert store.count_kickoffs() == 20  # what can be read is shown
    kickoff = Kickoff(kickoff_id="new", crew="c", created_at=T0, updated_at=T0)
    for write in (
        lambda: store.save_kickoff(kickoff),
        lambda: store.set_archived("k1", True),
        lambda: store.add_steps([Step(kickoff_id="k1", received_at=T0)]),
        lambda: store.upsert_crew("c", "https://example.com"),
    ):
        with pytest.raises(StoreError) as refused:
            write()
        assert refused.value.message == store.read_only
    health = store.health()
    assert health["read_only"] == store.read_only
    assert health["quick_check"] != "ok" and health["counts"] is None
    store.close()
    assert snapshot(tmp_path) == before


def test_a_history_in_a_read_only_place_is_shown_read_only(
    tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    home = tmp_path / "home"
    path = home / "history.sqlite3"
    make_store(path, kickoffs=7)
    before = snapshot(home)
    immutable(path)
    immutable(home)

    store = Store.open(path)
    try:
        assert store.count_kickoffs() == 7
        assert store.get_kickoff("k3") is not None
        assert store.read_only == (
            f"The history store at {path} is in a read-only place; it is shown as it is "
            "and changes in this session will not be saved."
        )
        with pytest.raises(StoreError, match="read-only place"):
            store.save_kickoff(Kickoff(kickoff_id="x", crew="c", created_at=T0, updated_at=T0))
    finally:
        store.close()
    assert snapshot(home) == before


def test_schema_1_is_migrated_with_its_step_counts(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    schema_module.MIGRATIONS[0](old)
    old.execute("PRAGMA user_version = 1")
    old.executemany(
        "INSERT INTO steps (step_key, kickoff_id, received_at, kind, thought)"
        " VALUES (?, 'k', '2026-11-23T10:00:00.000000Z', 'step', ?)",
        [(f"key{n}", f"thought {n}") for n in range(4)],
    )
    old.close()

    store = Store.open(path)
    assert store.schema_version == SCHEMA_VERSION
    assert store.step_stats("k").stored == 4
    assert store.changes_since(0).kickoffs == []
    store.close()
