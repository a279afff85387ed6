"""Speaking the history's SQL to PostgreSQL: placeholders, text PostgreSQL refuses, rows.

The store's statements are written once, for SQLite (``?`` and ``:name`` placeholders), and
:class:`PgConnection` runs them on a psycopg connection, so that the PostgreSQL store shares
every read-modify-write of :class:`crewtui.core.store.Store` instead of copying it.

**Text PostgreSQL refuses.** A ``text`` value cannot hold NUL, nor a lone surrogate (valid
JSON, and so possible in anything a server sends), and its ``json`` type refuses ``\\u0000``
and lone surrogate escapes. Both are escaped, reversibly: the character U+E000 (private use)
followed by four hex digits stands for NUL, a surrogate or U+E000 itself, in text as
``"\\ue000" + "d800"`` and in JSON text as the escape ``\\ue000d800``. Text without them, which
is nearly all, is stored as it is, so it is searched and sorted as it is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import RowMaker

from crewtui.core.store_rows import JSON_COLUMNS

ESCAPE = "\ue000"
ESCAPE_BYTES = ESCAPE.encode()
_REFUSED = re.compile("[\x00\ud800-\udfff\ue000]")
_ESCAPED = re.compile("\ue000([0-9a-f]{4})")
# In JSON text (ASCII, from json.dumps): an escape of NUL, a surrogate or U+E000, after an
# even number of backslashes (so that it is an escape, not an escaped backslash).
_JSON_REFUSED = re.compile(r"(?<!\\)((?:\\\\)*)\\u(0000|d[89a-f][0-9a-f]{2}|e000)")
_JSON_ESCAPED = re.compile(r"(?<!\\)((?:\\\\)*)\\ue000([0-9a-f]{4})")


def escape_text(value: str) -> str:
    """``value`` as PostgreSQL ``text`` can hold it (see the module doc)."""
    if _REFUSED.search(value) is None:
        return value
    return _REFUSED.sub(lambda found: f"{ESCAPE}{ord(found.group()):04x}", value)


def unescape_text(value: str) -> str:
    """Undo :func:`escape_text`."""
    if ESCAPE not in value:
        return value
    return _ESCAPED.sub(lambda found: chr(int(found.group(1), 16)), value)


def escape_json(value: str) -> str:
    """JSON text as PostgreSQL's ``json`` type accepts it (see the module doc)."""
    if "\\u" not in value:
        return value
    return _JSON_REFUSED.sub(r"\1\\ue000\2", value)


def unescape_json(value: str) -> str:
    """Undo :func:`escape_json`."""
    if "\\ue000" not in value:
        return value
    return _JSON_ESCAPED.sub(r"\1\\u\2", value)


def _bind(value: object, json_column: bool = False) -> object:
    """A value bound as the store binds it for SQLite, made one PostgreSQL accepts."""
    if isinstance(value, bytes):  # bind_text's surrogate-holding text
        value = value.decode("utf-8", "surrogatepass")
    if isinstance(value, str):
        value = escape_text(value)
        return escape_json(value) if json_column else value
    return value


def _read(name: str, value: object) -> object:
    if not isinstance(value, str):
        return value
    if name in JSON_COLUMNS:
        value = unescape_json(value)
    return unescape_text(value)


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite's ``?`` and ``:name`` placeholders as psycopg's ``%s`` and ``%(name)s``."""
    sql = sql.replace("%", "%%")
    sql = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql)
    return sql.replace("?", "%s")


class Row:
    """A row read by name or by position, like ``sqlite3.Row`` (what the store's code uses)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: Sequence[object]) -> None:
        self._index = index
        self._values = tuple(values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    """psycopg's hook: rows as :class:`Row`, their text unescaped."""
    names = [column.name for column in cursor.description or ()]
    index = {name: n for n, name in enumerate(names)}

    def make(values: Sequence[Any]) -> Row:
        return Row(index, [_read(name, value) for name, value in zip(names, values, strict=True)])

    return make


Params = Sequence[object] | Mapping[str, object]


def _params(params: Params) -> Params:
    if isinstance(params, Mapping):
        return {name: _bind(value, name in JSON_COLUMNS) for name, value in params.items()}
    return [_bind(value) for value in params]


class PgConnection:
    """The part of ``sqlite3.Connection`` the store uses, on a psycopg connection."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[Row]:
        return self.raw.execute(translate(sql), _params(params))

    def executemany(self, sql: str, params: Sequence[Params]) -> psycopg.Cursor[Row]:
        cursor = self.raw.cursor()
        if params:
            cursor.executemany(translate(sql), [_params(p) for p in params])
        return cursor
