"""What only the PostgreSQL history has: its migrations table, LISTEN/NOTIFY, the escapes of
text PostgreSQL refuses, its COPY reader, and a password that is never shown.

The store's behaviour itself is the contract in test_store.py and test_store_text.py, which
runs on both back ends; these run on the test session's own server (``postgres_url``).
"""

from __future__ import annotations

import json
import tempfile
import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crewtui.api.errors import ExitCode, StoreError
from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.core import pg_schema, pg_store, store_schema
from crewtui.core.batch import Batch, BatchRow
from crewtui.core.pg_sql import escape_json, escape_text, unescape_json, unescape_text
from crewtui.core.pg_store import HistoryUnreachable, PgStore, _CopyReader, redact_url
from crewtui.core.text_lines import read_all
from tests.postgres import PostgresServer

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def kickoff(kickoff_id: str, **fields: object) -> Kickoff:
    return Kickoff.model_validate(
        {"kickoff_id": kickoff_id, "crew": "travel", "created_at": T0, "updated_at": T0, **fields}
    )


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or ""
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


# -- schema -----------------------------------------------------------------------------------


def test_the_schema_versions_are_sqlites_recorded_in_a_migrations_table(postgres_url: str) -> None:
    assert pg_schema.SCHEMA_VERSION == store_schema.SCHEMA_VERSION
    store = PgStore.open(postgres_url)
    try:
        assert store.schema_version == store_schema.SCHEMA_VERSION
        assert store.health()["schema_version"] == store_schema.SCHEMA_VERSION
    finally:
        store.close()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT version FROM crewtui_migrations ORDER BY version").fetchall()
    assert [row[0] for row in rows] == list(range(1, store_schema.SCHEMA_VERSION + 1))
    PgStore.open(postgres_url).close()  # opening again applies nothing


def test_crewtuis_opening_a_new_database_at_once_migrate_it_once(postgres_url: str) -> None:
    opened: list[PgStore] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PgStore.open(postgres_url))
        except BaseException as error:  # collected for the assert below
            failures.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for store in opened:
        store.close()
    assert failures == [] and len(opened) == 4


def test_a_database_with_someone_elses_kickoffs_is_left_untouched(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kickoffs (id int)")
    with pytest.raises(StoreError, match="kickoffs table crewtui did not create"):
        PgStore.open(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('crewtui_migrations')").fetchone() == (None,)


def test_a_history_of_a_newer_crewtui_is_left_untouched(postgres_url: str) -> None:
    PgStore.open(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO crewtui_migrations (version) VALUES (99)")
    with pytest.raises(StoreError, match=r"newer crewtui \(schema 99"):
        PgStore.open(postgres_url)


# -- other processes --------------------------------------------------------------------------


def test_a_commit_elsewhere_wakes_this_process_and_changes_since_reads_it(
    postgres_url: str,
) -> None:
    writer, reader = PgStore.open(postgres_url), PgStore.open(postgres_url)
    try:
        mark = reader.change_mark()
        woken = threading.Event()
        reader.watch(woken.set)
        before = reader.data_version()
        writer.save_kickoff(kickoff("k", state=RunState.RUNNING))
        assert woken.wait(30), "no notification reached the other process"
        assert reader.data_version() != before
        changes = reader.changes_since(mark)
        assert [kickoff.kickoff_id for kickoff in changes.kickoffs] == ["k"]
        # What a process wrote itself is not a change for it.
        assert writer.changes_since(mark).kickoffs == []
    finally:
        writer.close()
        reader.close()


def test_after_a_server_restart_calls_work_again_and_the_listener_hears_again(
    postgres_server: PostgresServer, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer, reader = PgStore.open(postgres_url), PgStore.open(postgres_url)
    try:
        mark = reader.change_mark()
        postgres_server.restart()
        woken = threading.Event()
        reader.watch(woken.set)
        # The pool's connections were cut: they are replaced, and nothing fails.
        writer.save_kickoff(kickoff("after"))
        assert woken.wait(30), "the listener did not listen again"
        ids = {kickoff.kickoff_id for kickoff in reader.changes_since(mark).kickoffs}
        assert "after" in ids
    finally:
        writer.close()
        reader.close()
    lost = [r for r in caplog.records if "lost the connection" in r.getMessage()]
    assert len(lost) <= 2  # once per store at most, not at every retry


def test_closing_wakes_the_listener_instead_of_waiting_for_its_tick(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a listener's tick of an hour, close() still ends at once: it used to wait for
    the tick (a second at every quit of the app and every command on a team's history)."""
    monkeypatch.setattr(pg_store, "LISTEN_TICK", 3600.0)
    store = PgStore.open(postgres_url)
    closing = threading.Thread(target=store.close, daemon=True)
    closing.start()
    closing.join(timeout=60)
    assert not closing.is_alive(), "close() waited for the listener's tick"


def test_a_batch_runner_on_another_machine_holds_its_batch_while_its_heartbeat_lasts(
    postgres_url: str,
) -> None:
    """Its pid means nothing on this host: only its heartbeat says whether it runs."""
    runner, other = PgStore.open(postgres_url), PgStore.open(postgres_url)
    try:
        runner.save_batch(Batch("b1", "c", "f.csv", "fp", (BatchRow(1, {}),), 1, T0))
        runner.beat()
        assert runner.claim_batch("b1", alive_within=10) is None
        elsewhere = 2**22 + 12345  # above Linux's pid_max: no such process here
        with runner._write() as conn:
            conn.execute("UPDATE batches SET runner_pid = ?", (elsewhere,))
        assert other.claim_batch("b1", alive_within=10) == elsewhere
        runner.retire()  # its heartbeat gone: the batch is free
        assert other.claim_batch("b1", alive_within=10) is None
    finally:
        runner.close()
        other.close()


# -- text PostgreSQL refuses -------------------------------------------------------------------


@given(st.text())
def test_text_escapes_round_trip_and_leave_nothing_postgresql_refuses(text: str) -> None:
    escaped = escape_text(text)
    assert "\x00" not in escaped
    assert not any(0xD800 <= ord(char) <= 0xDFFF for char in escaped)
    assert unescape_text(escaped) == text


def _refused(value: object) -> bool:
    """Whether any string in ``value`` (keys too) holds NUL or a surrogate."""
    if isinstance(value, str):
        return any(char == "\x00" or 0xD800 <= ord(char) <= 0xDFFF for char in value)
    if isinstance(value, dict):
        return any(_refused(key) or _refused(item) for key, item in value.items())
    return isinstance(value, list) and any(_refused(item) for item in value)


@settings(max_examples=50)
@given(st.recursive(st.text(), lambda inner: st.dictionaries(st.text(), inner) | st.lists(inner)))
def test_json_escapes_round_trip_and_leave_nothing_postgresql_refuses(value: object) -> None:
    escaped = escape_json(json.dumps(value, ensure_ascii=True))
    assert json.loads(unescape_json(escaped)) == value
    assert not _refused(json.loads(escaped))


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1000])
def test_the_copy_reader_undoes_escapes_cut_anywhere(piece: int) -> None:
    text = "a\x00b\ud800c\ue000d" * 50 + "é\ue000"
    field = escape_text(text).encode("utf-8")
    stream = (
        b"PGCOPY\n\xff\r\n\x00"
        + bytes(8)
        + (1).to_bytes(2, "big")
        + len(field).to_bytes(4, "big")
        + field
        + b"\xff\xff"
    )
    with tempfile.TemporaryFile() as spill:
        reader = _CopyReader(spill)
        for start in range(0, len(stream), piece):
            reader.feed(stream[start : start + piece])
        assert reader.found
        spill.seek(0)
        assert spill.read() == text.encode("utf-8", "surrogatepass")


def test_a_large_output_with_refused_text_reads_back_exactly(postgres_url: str) -> None:
    output = ("line \x00 \ud800 \ue000 行程\n" * 400).encode("utf-8", "surrogatepass")
    text = output.decode("utf-8", "surrogatepass")
    store = PgStore.open(postgres_url)
    try:
        store.save_kickoff(kickoff("big", output=text))
        lean = store.get_kickoff_lean("big", hold=1_000)
        assert lean is not None
        source = lean[1][None]
        assert source.read(0, source.size) == output  # size: an upper bound here
        assert read_all(source).startswith("line \x00 ")
    finally:
        store.close()


# -- the password ------------------------------------------------------------------------------


def test_the_password_is_in_no_name_no_health_and_no_repr(postgres_url: str) -> None:
    password = urlsplit(postgres_url).password
    assert password
    store = PgStore.open(postgres_url)
    try:
        shown = [repr(store), store.location, str(store.health())]
    finally:
        store.close()
    assert all(password not in text for text in shown), shown
    assert store.location == redact_url(postgres_url)
    assert redact_url("postgresql://u:pw@h:5/db?password=pw&sslmode=require") == (
        "postgresql://u@h:5/db?sslmode=require"
    )
    with pytest.raises(StoreError) as closed:
        store.get_kickoff("k")
    assert password not in closed.value.message


def test_a_url_libpq_refuses_is_one_sentence_without_its_password() -> None:
    with pytest.raises(StoreError) as refused:
        PgStore.open("postgresql://team:pa%zzss-9876@db.example.com/x?bogus=1")
    assert refused.value.message.startswith(
        "The history URL postgresql://team@db.example.com/x?bogus=1 is not a PostgreSQL "
        "connection URL ("
    )
    assert "pa%zzss-9876" not in refused.value.message
    assert refused.value.exit_code is ExitCode.USAGE


def test_a_wrong_password_is_one_sentence_without_it(postgres_url: str) -> None:
    wrong = with_password(postgres_url, "not-the-password-42")
    with pytest.raises(StoreError) as refused:
        PgStore.open(wrong)
    assert refused.value.message == (
        f"The PostgreSQL history at {redact_url(wrong)} refused the login: check the user "
        "and password in [history] url or $CREWTUI_HISTORY_URL."
    )
    assert refused.value.exit_code is ExitCode.USAGE
    assert "not-the-password-42" not in refused.value.message


def test_an_unreachable_server_is_exit_6_and_a_missing_database_or_user_exit_2(
    postgres_server: PostgresServer,
) -> None:
    with pytest.raises(HistoryUnreachable, match="cannot be reached") as unreachable:
        PgStore.open(f"postgresql://crewtui:{postgres_server.password}@127.0.0.1:1/x")
    assert unreachable.value.exit_code is ExitCode.UNREACHABLE
    assert postgres_server.password not in unreachable.value.message
    with pytest.raises(StoreError, match="does not exist on that server") as missing:
        PgStore.open(postgres_server.url("no_such_history"))
    assert missing.value.exit_code is ExitCode.USAGE
    unknown_user = postgres_server.url().replace("crewtui:", "nobody:")
    with pytest.raises(StoreError, match="refused the login") as nobody:
        PgStore.open(unknown_user)
    assert nobody.value.exit_code is ExitCode.USAGE
    with pytest.raises(HistoryUnreachable, match=r"\(its host name is not known\)"):
        PgStore.open("postgresql://crewtui@nohost.invalid/x")
