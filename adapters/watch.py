"""A watched folder for agency systems that can only drop files.

A file is claimed by moving it into ``.processing/`` (a rename, so a file is never
picked twice), ingested, then moved to ``processed/`` with a summary beside it. A file
left in ``.processing/`` by a crash is ingested again on the next start; the record
registry makes that publish nothing twice.

When is a file complete? Best, the agency says so: it writes under a partial name
(``.part``, ``.tmp``) and renames, or, with ``marker``, drops ``NAME.done`` after NAME.
Otherwise a file is taken once it has been still for ``settle`` seconds, and if it
still grows after it was taken (a writer that paused longer), it is read again until it
stops: the registry publishes each record once, so the rest is never lost.

Only regular files of the folder itself are taken: a symbolic link (or a second hard
link) could point anywhere the service can read, and is left alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ehx.adapters.ingest import IngestSummary, Refusal

log = logging.getLogger(__name__)

#: Files still being written are left alone until they have been still this long.
SETTLE_SECONDS = 1.0
#: Names an agency system uses while it is still writing a file.
PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".filepart")

IngestFile = Callable[[Path], Awaitable[IngestSummary]]


def _own_regular_file(path: Path) -> bool:
    """A regular file that is this folder's alone: not a link of either kind."""
    info = path.lstat()
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1


def _shape(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


class FolderWatcher:
    """Polls one folder and ingests each new file exactly once."""

    def __init__(
        self,
        folder: Path,
        ingest: IngestFile,
        settle: float = SETTLE_SECONDS,
        marker: str | None = None,
    ) -> None:
        """``marker``: a suffix (``.done``) the agency adds as a second, empty file once
        a file is complete; with it, no file is taken before its marker is there."""
        self.folder = folder
        self.processing = folder / ".processing"
        self.processed = folder / "processed"
        self.ingest = ingest
        self.settle = settle
        self.marker = marker
        self._ignored: set[str] = set()
        for path in (self.processing, self.processed):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)

    def ready(self) -> list[Path]:
        """Files that are complete: regular, not hidden, not partial, marked or settled."""
        now = time.time()
        files = []
        for path in sorted(self.folder.iterdir()):
            name = path.name
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
                continue
            if self.marker and name.endswith(self.marker):
                continue
            if path.is_dir() and not path.is_symlink():
                continue
            if not _own_regular_file(path):
                if name not in self._ignored:  # said once, not every poll
                    self._ignored.add(name)
                    log.warning("watched folder: %s is a link, not a file: left alone", name)
                continue
            if self.marker:
                if not path.with_name(name + self.marker).exists():
                    continue
            elif now - path.lstat().st_mtime < self.settle:
                continue
            files.append(path)
        return files

    async def poll_once(self) -> list[tuple[Path, IngestSummary]]:
        """Ingest what is waiting (a crash's leftovers first); return what was done."""
        done = []
        leftovers = sorted(
            p for p in self.processing.iterdir() if not p.is_symlink() and p.is_file()
        )
        claimed = []
        for path in self.ready():
            target = self.processing / path.name
            path.rename(target)
            if self.marker:
                path.with_name(path.name + self.marker).unlink(missing_ok=True)
            claimed.append(target)
        for path in [*leftovers, *claimed]:
            summary = await self._ingest_whole(path)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            final = self.processed / f"{stamp}-{path.name}"
            path.rename(final)
            # What was accepted and refused, with positions and reasons: never content.
            final.with_name(final.name + ".summary.json").write_text(
                json.dumps(summary.as_dict(), indent=2)
            )
            done.append((final, summary))
        return done

    async def _ingest_whole(self, path: Path) -> IngestSummary:
        """Ingest the file; if it changed meanwhile, its writer had only paused: wait
        until it is still, and read it again (what was published shows as duplicates)."""
        before = _shape(path)
        summary = await self.ingest(path)
        while _shape(path) != before:
            before = _shape(path)
            await asyncio.sleep(self.settle)
            if _shape(path) != before:
                continue
            again = await self.ingest(path)
            note = Refusal(
                path.name,
                path.name,
                None,
                "the file grew while it was read (its writer paused): it was read again; "
                "records from the first reading show as duplicates",
            )
            summary = replace(again, warnings=[*again.warnings, note])
        return summary

    async def run(
        self, interval: float = 2.0, on_file: Callable[[Path, IngestSummary], None] | None = None
    ) -> None:
        """Poll until cancelled."""
        while True:
            for path, summary in await self.poll_once():
                if on_file is not None:
                    on_file(path, summary)
            await asyncio.sleep(interval)
