"""Cutting agency files into records without ever trusting them.

Each reader yields ``RawRecord``s: the original bytes and where they came from. A
frame that cannot be a record at all (bad encoding, a line over the size limit, an
empty file) is yielded with ``problem`` set, so it is refused and quarantined like any
other bad record and never stops the records around it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

#: The longest record a line-based format may hold. A bigger line is refused, not read.
MAX_RECORD_BYTES = 1024 * 1024
_CHUNK = 64 * 1024


class LineSource(Protocol):
    """Anything with ``readline(limit)``: a binary file, or bytes put back before one."""

    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class RawRecord:
    """One record as the agency sent it, or a frame that is not one (``problem`` set)."""

    source: str
    position: str
    data: bytes
    problem: str | None = None
    #: Length of the original frame; larger than ``len(data)`` when it was cut short.
    length: int = 0
    parsed: Any = None


def _utf8_problem(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 at byte {exc.start}"
    return None


def read_lines(
    stream: LineSource, source: str, limit: int = MAX_RECORD_BYTES
) -> Iterator[RawRecord]:
    """Frame a JSON Lines stream: one record per non-blank line, parsed as a JSON object."""
    line_number = 0
    seen_any = False
    while True:
        line = stream.readline(limit + 1)
        if not line:
            break
        line_number += 1
        position = f"{source}:{line_number}"
        if len(line) > limit and not line.endswith(b"\n"):
            # Skip the rest of the oversized line in bounded chunks.
            length = len(line)
            while True:
                rest = stream.readline(_CHUNK)
                length += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            seen_any = True
            yield RawRecord(
                source,
                position,
                line[:_CHUNK],
                f"line is {length} bytes, over the {limit}-byte record limit",
                length,
            )
            continue
        if line_number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        stripped = line.strip()
        if not stripped:
            continue
        seen_any = True
        yield parse_json_record(stripped, source, position)
    if not seen_any:
        yield RawRecord(source, f"{source}:0", b"", "file is empty: no records")


def parse_json_record(data: bytes, source: str, position: str) -> RawRecord:
    """One JSON object record; anything else is a framed problem."""
    problem = _utf8_problem(data)
    if problem:
        return RawRecord(source, position, data, problem, len(data))
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # exc.msg and the column say what is wrong without repeating the content.
        return RawRecord(
            source, position, data, f"not valid JSON ({exc.msg}, column {exc.colno})", len(data)
        )
    if not isinstance(parsed, dict):
        return RawRecord(source, position, data, "a record must be a JSON object", len(data))
    return RawRecord(source, position, data, depth_problem(parsed), len(data), parsed)


def read_json_documents(
    stream: IO[bytes], source: str, limit: int = MAX_RECORD_BYTES
) -> Iterator[RawRecord]:
    """Frame a file holding one JSON document, or one document per line (NDJSON)."""
    head = stream.read(limit + 1)
    if len(head) <= limit:
        body = head.lstrip(b"\xef\xbb\xbf")
        if not body.strip():
            yield RawRecord(source, f"{source}:0", b"", "file is empty: no records")
            return
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:  # orjson also refuses nesting over 1,024 deep
            document = None
        if isinstance(document, dict):
            problem = depth_problem(document)
            yield RawRecord(source, f"{source}:1", body, problem, len(body), document)
            return
    elif head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") and _opens_a_document(head):
        # One pretty-printed document over the limit: a single refusal, not one per line.
        yield RawRecord(
            source,
            f"{source}:1",
            b"",
            f"one JSON document over the {limit}-byte record limit: send smaller "
            "documents, or one per line (NDJSON)",
        )
        return
    # Not one small document: treat it as one document per line.
    yield from read_lines(_Chain(head, stream), source, limit)


def _opens_a_document(head: bytes) -> bool:
    """Whether the first line opens a document that goes on (it is no record by itself)."""
    first = head.split(b"\n", 1)[0]
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return True
    return False


#: Deeper than any agency format nests: a FHIR Bundle is about a dozen levels.
MAX_DEPTH = 64


def depth_problem(document: object, limit: int = MAX_DEPTH) -> str | None:
    """A reason if the document nests deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return f"nested more than {limit} levels deep"
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return None


class _Chain(io.RawIOBase):
    """Put already-read bytes back in front of a stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._buffer = io.BytesIO(head)
        self._rest = rest
        self._head_done = False

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1, /) -> bytes:
        size = -1 if size is None else size
        if not self._head_done:
            line = self._buffer.readline(size)
            if line.endswith(b"\n") or (size >= 0 and len(line) >= size):
                return line
            self._head_done = True
            more = self._rest.readline(size - len(line) if size >= 0 else -1)
            return line + more
        return self._rest.readline(size)


def read_csv(
    stream: IO[bytes], source: str, header: tuple[str, ...], limit: int = MAX_RECORD_BYTES
) -> Iterator[RawRecord]:
    """Frame a CSV file with a fixed header; each row becomes a dict of column to text."""
    # surrogateescape keeps a bad byte inside its own row, so one row is refused,
    # not the whole file.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield from _csv_rows(text, source, header, limit)
    finally:
        # Hand the byte stream back open: the caller owns it and reads its position.
        text.detach()


def _csv_rows(
    text: io.TextIOWrapper, source: str, header: tuple[str, ...], limit: int
) -> Iterator[RawRecord]:
    reader = csv.reader(text)
    try:
        first = next(reader, None)
    except csv.Error as exc:
        yield RawRecord(source, f"{source}:1", b"", f"not valid CSV: {exc}")
        return
    if first is None:
        yield RawRecord(source, f"{source}:0", b"", "file is empty: no header row and no records")
        return
    if tuple(first) != header:
        missing = [c for c in header if c not in first]
        # Unexpected cells are named by position, never quoted: a file sent without its
        # header row has a pupil's record where the header should be.
        extra = [str(n) for n, c in enumerate(first, start=1) if c not in header]
        detail = []
        if len(missing) == len(header):
            detail.append("the first line is not the header row (send the header row first)")
        elif missing:
            detail.append("missing columns: " + ", ".join(missing))
        if extra and len(missing) != len(header):
            detail.append("unexpected columns at positions " + ", ".join(extra))
        if not detail:
            detail.append("columns are in the wrong order")
        data = ",".join(first).encode("utf-8", "surrogateescape")[:_CHUNK]
        yield RawRecord(source, f"{source}:1", data, "header row is wrong: " + "; ".join(detail))
        return
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield RawRecord(source, f"{source}:{reader.line_num}", b"", f"not valid CSV: {exc}")
            continue
        position = f"{source}:{reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        joined = ",".join(row)
        try:
            data = joined.encode("utf-8")
        except UnicodeEncodeError:
            # Bytes that were not UTF-8 came through as surrogate escapes.
            data = joined.encode("utf-8", "surrogateescape")
            yield RawRecord(source, position, data[:_CHUNK], "not valid UTF-8", len(data))
            continue
        if len(data) > limit:
            yield RawRecord(
                source,
                position,
                data[:_CHUNK],
                f"row is {len(data)} bytes, over the {limit}-byte record limit",
                len(data),
            )
            continue
        if len(row) != len(header):
            yield RawRecord(
                source,
                position,
                data,
                f"row has {len(row)} columns, the header has {len(header)}",
                len(data),
            )
            continue
        yield RawRecord(
            source, position, data, None, len(data), dict(zip(header, row, strict=True))
        )
    if rows == 0:
        yield RawRecord(source, f"{source}:1", b"", "file has a header row but no records")


def open_source(path: Path) -> IO[bytes]:
    return path.open("rb")
