"""Files that cannot be records are refused with a reason, and never stop the good ones."""

from __future__ import annotations

import io
from pathlib import Path

from ehx.adapters.framing import MAX_RECORD_BYTES, read_csv, read_json_documents, read_lines
from ehx.adapters.schools import HEADER
from tests.helpers import EXAMPLES

GOOD = (EXAMPLES / "police.jsonl").read_bytes().splitlines()[0]


def test_an_empty_file_is_refused_as_empty() -> None:
    [frame] = read_lines(io.BytesIO(b""), "empty.jsonl")
    assert frame.problem == "file is empty: no records"
    [frame] = read_lines(io.BytesIO(b"\n \n"), "blank.jsonl")
    assert frame.problem == "file is empty: no records"


def test_a_truncated_line_is_refused_and_the_lines_around_it_are_read() -> None:
    data = GOOD + b"\n" + GOOD[:80] + b"\n" + GOOD + b"\n"
    frames = list(read_lines(io.BytesIO(data), "p.jsonl"))
    assert [f.problem is None for f in frames] == [True, False, True]
    assert frames[1].position == "p.jsonl:2"
    assert frames[1].problem is not None and frames[1].problem.startswith("not valid JSON")


def test_wrong_encoding_is_refused_naming_the_byte() -> None:
    latin1 = '{"name": "Zoë"}'.encode("latin-1")
    frames = list(read_lines(io.BytesIO(GOOD + b"\n" + latin1 + b"\n"), "p.jsonl"))
    assert frames[0].problem is None
    assert frames[1].problem == "not valid UTF-8 at byte 12"


def test_a_utf8_byte_order_mark_is_tolerated() -> None:
    [frame] = read_lines(io.BytesIO(b"\xef\xbb\xbf" + GOOD), "bom.jsonl")
    assert frame.problem is None


def test_a_json_array_line_is_not_a_record() -> None:
    [frame] = read_lines(io.BytesIO(b"[1, 2]\n"), "p.jsonl")
    assert frame.problem == "a record must be a JSON object"


def test_a_50_megabyte_single_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out:
        out.write(GOOD + b"\n")
        out.write(b'{"summary": "')
        chunk = b"x" * (1024 * 1024)
        for _ in range(50):
            out.write(chunk)
        out.write(b'"}\n')
        out.write(GOOD + b"\n")
    with path.open("rb") as stream:
        frames = list(read_lines(stream, "huge.jsonl"))
    assert [f.problem is None for f in frames] == [True, False, True]
    assert frames[1].problem is not None and "over the" in frames[1].problem
    assert frames[1].length > 50 * 1024 * 1024
    assert len(frames[1].data) <= MAX_RECORD_BYTES  # only the head is kept for quarantine


def test_csv_with_a_missing_column_in_the_header_is_refused_naming_it() -> None:
    header = ",".join(c for c in HEADER if c != "upn")
    [frame] = read_csv(io.BytesIO(header.encode() + b"\n"), "s.csv", HEADER)
    assert frame.problem == "header row is wrong: missing columns: upn"


def test_csv_with_an_extra_header_column_is_refused_naming_it() -> None:
    header = ",".join((*HEADER, "notes"))
    [frame] = read_csv(io.BytesIO(header.encode() + b"\n"), "s.csv", HEADER)
    # Named by position: the cells of a first line are not quoted back (it may be a pupil).
    assert frame.problem == "header row is wrong: unexpected columns at positions 20"


def test_csv_rows_with_too_few_or_too_many_columns_are_refused_alone() -> None:
    lines = (EXAMPLES / "schools.csv").read_bytes().splitlines()
    data = b"\n".join(
        [lines[0], lines[1], lines[2] + b",extra", lines[3].rsplit(b",", 1)[0], lines[4]]
    )
    frames = list(read_csv(io.BytesIO(data), "s.csv", HEADER))
    assert [f.problem for f in frames] == [
        None,
        "row has 20 columns, the header has 19",
        "row has 18 columns, the header has 19",
        None,
    ]
    assert [f.position for f in frames] == ["s.csv:2", "s.csv:3", "s.csv:4", "s.csv:5"]


def test_csv_row_with_bad_bytes_is_refused_alone() -> None:
    lines = (EXAMPLES / "schools.csv").read_bytes().splitlines()
    data = b"\n".join([lines[0], lines[1].replace(b"Yusuf", b"Y\xffsuf"), lines[2]])
    frames = list(read_csv(io.BytesIO(data), "s.csv", HEADER))
    assert [f.problem for f in frames] == ["not valid UTF-8", None]


def test_csv_with_only_a_header_is_refused() -> None:
    [frame] = read_csv(io.BytesIO(",".join(HEADER).encode() + b"\n"), "s.csv", HEADER)
    assert frame.problem == "file has a header row but no records"


def test_a_pretty_printed_bundle_is_one_record() -> None:
    data = (EXAMPLES / "health-amina-ed.json").read_bytes()
    [frame] = read_json_documents(io.BytesIO(data), "b.json")
    assert frame.problem is None and frame.parsed["id"] == "uhb-2026-10-31-004455"
