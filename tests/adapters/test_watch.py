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


async def test_links_are_left_alone_and_their_targets_never_read(tmp_path: Path) -> None:
    """Finding 7: a symbolic link to a private file was followed, and a refusal copied
    its first cells into the summary. A hard link is the same door."""
    folder, private = tmp_path / "drop", tmp_path / "private.jsonl"
    folder.mkdir()
    private.write_text("a secret outside the folder")
    private.chmod(0o600)
    (folder / "soft.jsonl").symlink_to(private)
    os.link(private, folder / "hard.jsonl")
    for link in (folder / "soft.jsonl", folder / "hard.jsonl"):
        old = time.time() - 5
        os.utime(link, (old, old), follow_symlinks=False)
    ingest = CountingIngest()
    watcher = FolderWatcher(folder, ingest)
    assert await watcher.poll_once() == []
    assert ingest.seen == [] and (folder / "soft.jsonl").is_symlink()
    assert list((folder / "processed").iterdir()) == []


async def test_with_a_marker_a_file_is_taken_only_once_it_is_marked_done(
    tmp_path: Path,
) -> None:
    ingest = CountingIngest()
    watcher = FolderWatcher(tmp_path, ingest, marker=".done")
    drop(tmp_path, "e.jsonl", "complete")
    assert await watcher.poll_once() == []  # however old, not without its marker
    drop(tmp_path, "e.jsonl.done", "")
    [(moved, _)] = await watcher.poll_once()
    assert ingest.seen == ["complete"] and moved.name.endswith("-e.jsonl")
    assert not (tmp_path / "e.jsonl.done").exists()


async def test_a_file_that_grows_after_it_was_taken_is_read_again_not_cut_short(
    tmp_path: Path,
) -> None:
    """Finding 12: a writer that paused over a second had its file taken half-written,
    and the rest was lost. Now the file is read again once it is still."""

    class SlowWriter(CountingIngest):
        async def __call__(self, path: Path) -> IngestSummary:
            summary = await super().__call__(path)
            if len(self.seen) == 1:  # the writer wakes up while the first read runs
                with path.open("a") as file:
                    file.write(" and the rest")
            return summary

    ingest = SlowWriter()
    watcher = FolderWatcher(tmp_path, ingest, settle=0.05)
    drop(tmp_path, "f.jsonl", "the start")
    [(moved, summary)] = await watcher.poll_once()
    assert ingest.seen == ["the start", "the start and the rest"]
    assert moved.read_text() == "the start and the rest"
    assert "read again" in summary.warnings[0].reason
