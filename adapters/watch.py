"""A watched folder for agency systems that can only drop files.

A file is claimed by moving it into ``.processing/`` (a rename, so a file is never
picked twice), ingested, then moved to ``processed/`` with a summary beside it. A file
left in ``.processing/`` by a crash is ingested again on the next start; the record
registry makes that publish nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from ehx.adapters.ingest import IngestSummary

#: Files still being written are left alone until they have been still this long.
SETTLE_SECONDS = 1.0
#: Names an agency system uses while it is still writing a file.
PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".filepart")

IngestFile = Callable[[Path], Awaitable[IngestSummary]]


class FolderWatcher:
    """Polls one folder and ingests each new file exactly once."""

    def __init__(self, folder: Path, ingest: IngestFile, settle: float = SETTLE_SECONDS) -> None:
        self.folder = folder
        self.processing = folder / ".processing"
        self.processed = folder / "processed"
        self.ingest = ingest
        self.settle = settle
        for path in (self.processing, self.processed):
            path.mkdir(parents=True, exist_ok=True)

    def ready(self) -> list[Path]:
        """Files that are complete: not hidden, not partial, and not changed lately."""
        now = time.time()
        files = []
        for path in sorted(self.folder.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            if path.name.endswith(PARTIAL_SUFFIXES):
                continue
            if now - path.stat().st_mtime < self.settle:
                continue
            files.append(path)
        return files

    async def poll_once(self) -> list[tuple[Path, IngestSummary]]:
        """Ingest what is waiting (a crash's leftovers first); return what was done."""
        done = []
        leftovers = sorted(p for p in self.processing.iterdir() if p.is_file())
        claimed = []
        for path in self.ready():
            target = self.processing / path.name
            path.rename(target)
            claimed.append(target)
        for path in [*leftovers, *claimed]:
            summary = await self.ingest(path)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            final = self.processed / f"{stamp}-{path.name}"
            path.rename(final)
            final.with_name(final.name + ".summary.json").write_text(
                json.dumps(summary.as_dict(), indent=2)
            )
            done.append((final, summary))
        return done

    async def run(
        self, interval: float = 2.0, on_file: Callable[[Path, IngestSummary], None] | None = None
    ) -> None:
        """Poll until cancelled."""
        while True:
            for path, summary in await self.poll_once():
                if on_file is not None:
                    on_file(path, summary)
            await asyncio.sleep(interval)
