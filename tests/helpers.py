"""Test helpers: a recording publisher and the shared example files."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from adapters import OutboundMessage

EXAMPLES = Path(str(resources.files("ehx") / "examples"))


class RecordingPublisher:
    """A ``MessagePublisher`` fake for unit tests: keeps what it was given."""

    def __init__(self, fail_times: int = 0) -> None:
        self.messages: list[OutboundMessage] = []
        self._fail_times = fail_times

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        if self._fail_times:
            self._fail_times -= 1
            raise ConnectionError("broker went away")
        self.messages.extend(messages)

    def on(self, topic: str) -> list[OutboundMessage]:
        return [m for m in self.messages if m.topic == topic]
