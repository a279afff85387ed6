"""Large text as lines read in pieces: what a view needs to show, wrap and search megabytes.

A :class:`LineDocument` is a :class:`TextSource` (UTF-8 bytes readable by offset: a string
held in memory, or an output read from the history by blob I/O) and an index of where each
line starts, built in a thread by :meth:`LineDocument.build_index`. Nothing here reads or
transforms the whole text at once, so a 200 MB output costs its index (a few bytes per line)
and what is on the screen:

- **Segments.** A line longer than ``MAX_SEGMENT`` bytes is cut into segments (at a
  character boundary), so no single line costs more than that to show or to search.
- **Display text.** Each segment is shown as :func:`display_line` makes it: inert
  (``crewtui.api.sanitize``), tabs expanded. Its width in cells is indexed, so the rows a
  width folds it into (:class:`RowMap`) are known without reading the text again.
- **Search** (:meth:`LineDocument.search`) runs in a thread over the display text and
  reports matches in batches as it goes.
"""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from rich._unicode_data import load as load_cell_table
from rich.cells import chop_cells

from crewtui.api.sanitize import inert

MAX_SEGMENT = 16_384
"""Bytes of one line shown and searched as a unit; longer lines are cut."""
READ_CHUNK = 1 << 18
"""Bytes read at a time while indexing and searching: each chunk is a few calls into C
that hold the GIL throughout (split, regex, decode), so it is kept small enough for the
event loop to get its turn every few milliseconds."""
MAX_MATCHES = 100_000
"""Matches remembered by one search; more are counted, not kept."""
TAB_SIZE = 4

# UTF-8 of what makes a line's display text differ from the line: C0 controls (tab and CR
# included), DEL, C1 controls, bidi controls, surrogates (see crewtui.api.sanitize).
_CONTROL_BYTES = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]")
_SPECIAL_SEQUENCES = re.compile(
    rb"\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]|\xed[\xa0-\xbf]"
)
# Characters that may be two cells wide: only these are looked up in the exact table.
_MAYBE_WIDE = re.compile("[\u1100-\U0010ffff]")


@cache
def _wide() -> re.Pattern[str]:
    """Characters two cells wide (from Rich's table); counting them bounds a line's width.

    Compiled when a line first needs it (20 ms): not on the way to the app's first frame.
    """
    ranges = "".join(
        f"{re.escape(chr(start))}-{re.escape(chr(end))}"
        for start, end, width in load_cell_table("auto").widths
        if width == 2
    )
    return re.compile(f"[{ranges}]")


class TextSource(Protocol):
    """UTF-8 bytes that can be read by offset, whatever holds them."""

    @property
    def size(self) -> int:
        """How many bytes the text has."""
        ...

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end)."""
        ...


class HeldText(TextSource, Protocol):
    """A text source that holds something (a spill file, a connection) until closed: what
    a history gives for an output too large to read with its run."""

    def close(self) -> None:
        """Let go of what it holds; a later read starts again."""
        ...


class MemoryText:
    """A string held in memory, as a :class:`TextSource`.

    It is encoded on the first read, which :meth:`LineDocument.build_index` makes in its
    thread: encoding tens of MB on the event loop would stall it.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._data: bytes | None = None
        self._lock = threading.Lock()

    def _bytes(self) -> bytes:
        with self._lock:
            if self._data is None:
                self._data = self.text.encode("utf-8", "surrogatepass")
            return self._data

    @property
    def size(self) -> int:
        return len(self._bytes())

    def read(self, offset: int, length: int) -> bytes:
        return self._bytes()[offset : offset + length]


def read_all(source: TextSource) -> str:
    """The whole text of a source (for copy and export: run it in a thread)."""
    pieces = [source.read(offset, READ_CHUNK) for offset in range(0, source.size, READ_CHUNK)]
    return b"".join(pieces).decode("utf-8", "replace")


def display_line(raw: str) -> str:
    """A line as it is shown and searched: inert, without its CR, tabs expanded."""
    return inert(raw.removesuffix("\r")).expandtabs(TAB_SIZE)


def fold(text: str, width: int) -> list[str]:
    """``text`` cut into rows of at most ``width`` cells (at least one row)."""
    if not text:
        return [""]
    if text.isascii():
        return [text[start : start + width] for start in range(0, len(text), width)]
    return chop_cells(text, width) or [""]


def _cut(data: bytes, limit: int) -> Iterator[bytes]:
    """``data`` in pieces of at most ``limit`` bytes, never inside a UTF-8 character."""
    start = 0
    while len(data) - start > limit:
        end = start + limit
        while end > start + 1 and (data[end] & 0xC0) == 0x80:
            end -= 1
        yield data[start:end]
        start = end
    yield data[start:]


def _plain(data: bytes) -> bool:
    """Text without controls: its display text is the text itself."""
    if _CONTROL_BYTES.search(data) is not None:
        return False
    return data.isascii() or _SPECIAL_SEQUENCES.search(data) is None


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


@dataclass(frozen=True)
class Match:
    """A match: in which segment, and which characters of its display text."""

    segment: int
    start: int
    end: int


class Matches:
    """Matches kept flat (three integers each): a search may find hundreds of thousands,
    and as many objects kept alive would make the garbage collector walk them all, on
    whichever thread, the event loop's included."""

    def __init__(self) -> None:
        self._flat = array("q")

    def __len__(self) -> int:
        return len(self._flat) // 3

    def __getitem__(self, index: int) -> Match:
        segment, start, end = self._flat[index * 3 : index * 3 + 3]
        return Match(segment, start, end)

    def add(self, segment: int, start: int, end: int) -> None:
        self._flat.extend((segment, start, end))

    def extend(self, other: Matches) -> None:
        self._flat.extend(other._flat)


BLOCK_SHIFT = 6
BLOCK = 1 << BLOCK_SHIFT
"""Segments per block: offsets and row counts are kept per block, lengths per segment."""


def _rows_of(packed: int, width: int) -> int:
    """Rows a segment of this packed width folds into at ``width`` (an upper bound for
    wide characters, which may leave a cell unused at the end of a row)."""
    per_row = width - 1 if packed & 1 else width
    return max(1, -(-(packed >> 1) // per_row))


class RowMap:
    """Where each segment starts in rows once folded at ``width``: a prefix sum per block of
    ``BLOCK`` segments, the rest computed from the widths when asked."""

    def __init__(self, width: int) -> None:
        self.width = max(width, 2)
        self.block_rows = array("q", [0])
        self.segments = 0
        self._partial = 0

    @property
    def rows(self) -> int:
        return self.block_rows[-1] + self._partial

    def extend(self, widths: Iterable[int]) -> None:
        """Add the rows of the next segments, given their packed widths."""
        width = self.width
        partial = self._partial
        segments = self.segments
        block_rows = self.block_rows
        for packed in widths:
            partial += _rows_of(packed, width)
            segments += 1
            if not segments & (BLOCK - 1):
                block_rows.append(block_rows[-1] + partial)
                partial = 0
        self._partial = partial
        self.segments = segments

    def start(self, segment: int, widths: array[int]) -> int:
        """The row at which ``segment`` starts."""
        first = segment & ~(BLOCK - 1)
        width = self.width
        rows = self.block_rows[segment >> BLOCK_SHIFT]
        return rows + sum(_rows_of(packed, width) for packed in widths[first:segment])

    def locate(self, row: int, widths: array[int]) -> tuple[int, int]:
        """The segment shown at ``row`` (below :attr:`rows`) and which of its rows it is."""
        block = bisect_right(self.block_rows, row) - 1
        segment = block << BLOCK_SHIFT
        at = self.block_rows[block]
        width = self.width
        last = self.segments - 1
        while segment < last:
            rows = _rows_of(widths[segment], width)
            if row < at + rows:
                break
            at += rows
            segment += 1
        return segment, row - at


class LineDocument:
    """A text, its segment index, its rows at a width, and searches over it; see the
    module's docstring.

    The index grows in a thread while the event loop reads it: the loop only reads the
    first :attr:`segments` entries, which the thread publishes after appending them. Per
    segment it costs six bytes (its length and its width), plus a few per block.
    """

    def __init__(self, source: TextSource, width: int = 80) -> None:
        self.source = source
        self.size = 0
        self.complete = False
        self.segments = 0
        self._block_starts = array("q")
        # Bytes of each segment, its newline included; its display width in cells, times
        # two, plus one if it has wide characters.
        self._lengths = array("H")
        self._widths = array("I")
        self._at = 0
        self._read_lock = threading.Lock()
        self._indexed = threading.Event()
        self._rows = RowMap(width)
        self._rows_lock = threading.Lock()

    @property
    def rows(self) -> RowMap:
        """The rows of the indexed segments at the current width (see :meth:`rewrap`)."""
        return self._rows

    # -- the index ---------------------------------------------------------------------------

    def build_index(self, stop: threading.Event, progress: Callable[[], None]) -> None:
        """Index every segment (run in a thread); ``progress`` after each chunk read."""
        source = self.source
        size = source.size
        self.size = size
        offset = 0
        carry = b""
        while offset < size and not stop.is_set():
            chunk = self._read(offset, READ_CHUNK)
            if not chunk:
                break
            offset += len(chunk)
            data = carry + chunk if carry else chunk
            lines = data.split(b"\n")
            carry = lines.pop()
            self._add_lines(lines, plain=_plain(data), ascii_only=data.isascii())
            if len(carry) > MAX_SEGMENT:
                # A line still going on: index its full segments now, keep the rest.
                pieces = list(_cut(carry, MAX_SEGMENT))
                for piece in pieces[:-1]:
                    self._add_segment(piece, 0)
                carry = pieces[-1]
            self._publish()
            progress()
        if not stop.is_set():
            if carry or not self._lengths:
                self._add_segment(carry, 0)
            self._publish()
            self.complete = True
            self._indexed.set()
            progress()

    def _publish(self) -> None:
        """Count the new segments' rows, then let the loop see them."""
        with self._rows_lock:
            rows = self._rows
            rows.extend(self._widths[rows.segments : len(self._widths)])
        self.segments = len(self._lengths)

    def _add_lines(self, lines: list[bytes], *, plain: bool, ascii_only: bool) -> None:
        """Index whole lines. Plain ASCII (the common case) is shown as it is: its widths
        are its lengths."""
        if plain and ascii_only and max(map(len, lines), default=0) <= MAX_SEGMENT:
            for line in lines:
                self._append(len(line) + 1, len(line) << 1)
            return
        for line in lines:
            if len(line) <= MAX_SEGMENT:
                self._add_segment(line, 1, plain=plain)
                continue
            pieces = list(_cut(line, MAX_SEGMENT))
            for piece in pieces[:-1]:
                self._add_segment(piece, 0, plain=plain)
            self._add_segment(pieces[-1], 1, plain=plain)

    def _add_segment(self, data: bytes, newline: int, *, plain: bool = False) -> None:
        text = _decode(data) if plain else display_line(_decode(data))
        if text.isascii():
            packed = len(text) << 1
        else:
            # An upper bound: zero-width characters count as one cell.
            wide = len(_wide().findall("".join(_MAYBE_WIDE.findall(text))))
            packed = ((len(text) + wide) << 1) | (wide > 0)
        self._append(len(data) + newline, packed)

    def _append(self, length: int, packed: int) -> None:
        if not len(self._lengths) & (BLOCK - 1):
            self._block_starts.append(self._at)
        self._lengths.append(length)
        self._widths.append(packed)
        self._at += length

    def wait_indexed(self, stop: threading.Event) -> None:
        """Block (in a thread) until the index is complete or ``stop`` is set."""
        while not stop.is_set() and not self._indexed.wait(0.05):
            pass

    def rewrap(self, width: int) -> None:
        """Count the rows at a new width (in a thread for long texts)."""
        rows = RowMap(width)
        rows.extend(self._widths[: self.segments])
        with self._rows_lock:
            rows.extend(self._widths[rows.segments : self.segments])
            self._rows = rows

    def locate(self, row: int) -> tuple[int, int]:
        """The segment shown at ``row`` and which of its rows it is."""
        return self._rows.locate(row, self._widths)

    def row_of(self, segment: int) -> int:
        """The row at which ``segment`` starts."""
        return self._rows.start(segment, self._widths)

    # -- reading -----------------------------------------------------------------------------

    def _read(self, offset: int, length: int) -> bytes:
        with self._read_lock:
            return self.source.read(offset, length)

    def start(self, segment: int) -> int:
        """The byte offset of a segment."""
        first = segment & ~(BLOCK - 1)
        return self._block_starts[segment >> BLOCK_SHIFT] + sum(self._lengths[first:segment])

    def text(self, segment: int) -> str:
        """The display text of one segment (its newline left out)."""
        data = self._read(self.start(segment), self._lengths[segment])
        return display_line(_decode(data.removesuffix(b"\n")))

    def close(self) -> None:
        """Let go of the source's resources, if it has any (a spill file)."""
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    # -- search ------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        stop: threading.Event,
        found: Callable[[Matches, int, int, bool], None],
    ) -> None:
        """Find ``query`` (case-insensitive) in the display text, in a thread.

        ``found(matches, total, searched, done)`` gets each batch of new matches (the first
        ``MAX_MATCHES`` are kept), how many there are so far and how many segments are
        searched, once per chunk read and once at the end.
        """
        pattern = re.compile(re.escape(query), re.IGNORECASE)
        segment = 0
        kept = 0
        while segment < self.segments and not stop.is_set():
            first = segment
            start = self.start(first)
            # Whole segments up to about a chunk, in one read.
            end = start
            last = first
            while last < self.segments and (last == first or end - start < READ_CHUNK):
                end += self._lengths[last]
                last += 1
            data = self._read(start, end - start)
            batch = Matches()
            plain = _plain(data)
            if plain and not pattern.search(_decode(data)):
                segment = last
                found(batch, kept, segment, False)
                continue
            at = 0
            for index in range(first, last):
                length = self._lengths[index]
                line = data[at : at + length].removesuffix(b"\n")
                at += length
                if not line:
                    continue
                text = _decode(line) if plain else display_line(_decode(line))
                for match in pattern.finditer(text):
                    if kept < MAX_MATCHES:
                        batch.add(index, match.start(), match.end())
                    kept += 1
            segment = last
            found(batch, kept, segment, False)
        if not stop.is_set():
            found(Matches(), kept, segment, True)
