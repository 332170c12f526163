"""The watched folder ingests each dropped file once and moves it aside."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ehx.adapters.ingest import IngestSummary
from ehx.adapters.watch import FolderWatcher


class CountingIngest:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, path: Path) -> IngestSummary:
        self.seen.append(path.read_bytes().decode())  # noqa: ASYNC240 - a tiny test file
        return IngestSummary("police", records=1, accepted=1)


def drop(folder: Path, name: str, text: str, age: float = 5.0) -> Path:
    path = folder / name
    path.write_text(text)
    old = time.time() - age
    os.utime(path, (old, old))
    return path


async def test_a_dropped_file_is_ingested_once_and_moved_aside(tmp_path: Path) -> None:
    ingest = CountingIngest()
    watcher = FolderWatcher(tmp_path, ingest)
    drop(tmp_path, "a.jsonl", "first")
    [(moved, _)] = await watcher.poll_once()
    assert await watcher.poll_once() == []
    assert ingest.seen == ["first"]
    assert moved.parent == tmp_path / "processed" and moved.name.endswith("-a.jsonl")
    assert json.loads(moved.with_name(moved.name + ".summary.json").read_text())["accepted"] == 1
    assert not (tmp_path / "a.jsonl").exists()


async def test_files_still_being_written_are_left_alone(tmp_path: Path) -> None:
    ingest = CountingIngest()
    watcher = FolderWatcher(tmp_path, ingest)
    drop(tmp_path, "b.jsonl.part", "partial")
    drop(tmp_path, "c.jsonl", "fresh", age=0)
    drop(tmp_path, ".hidden", "hidden")
    assert await watcher.poll_once() == []
    assert ingest.seen == []


async def test_a_file_left_mid_ingest_by_a_crash_is_finished_on_restart(tmp_path: Path) -> None:
    watcher = FolderWatcher(tmp_path, CountingIngest())
    (tmp_path / ".processing" / "d.jsonl").write_text("interrupted")
    ingest = CountingIngest()
    restarted = FolderWatcher(tmp_path, ingest)
    [(moved, _)] = await restarted.poll_once()
    assert ingest.seen == ["interrupted"]
    assert moved.name.endswith("-d.jsonl")
    assert list(watcher.processing.iterdir()) == []
