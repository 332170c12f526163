"""The project's exception tree: one root, a subclass per layer, each carrying data."""

from __future__ import annotations


class ExchangeError(Exception):
    """Root of every error this project raises."""


class RecordRefused(ExchangeError):
    """An agency record that cannot be accepted, with where it was and why.

    ``position`` says where in the source the record sits (``police.jsonl:3``,
    ``Bundle uhb-2026-10-31-004455``); ``field`` names the offending field where
    there is one. Neither the reason nor the position ever holds the record's
    content: messages built from these are safe to log.
    """

    def __init__(self, agency: str, position: str, reason: str, field: str | None = None) -> None:
        self.agency = agency
        self.position = position
        self.reason = reason
        self.field = field
        where = f"{position} ({field})" if field else position
        super().__init__(f"{agency} record refused at {where}: {reason}")


class SignatureInvalid(ExchangeError):
    """An event whose signature is missing, wrong, or made with another agency's key."""

    def __init__(self, event_id: str, reason: str) -> None:
        self.event_id = event_id
        self.reason = reason
        super().__init__(f"event {event_id}: {reason}")


class KeyMissing(ExchangeError):
    """No signing or verifying key for an agency in the key directory."""

    def __init__(self, agency: str, key_dir: str) -> None:
        self.agency = agency
        self.key_dir = key_dir
        super().__init__(f"no key for agency {agency!r} in {key_dir}: run `ehx keys init` first")


class LinkDecisionRefused(ExchangeError):
    """A reviewer's merge or split the linker cannot apply (a person it has never seen).

    Carries ids only: safe to log and to quarantine with.
    """

    def __init__(self, review_id: str, reason: str) -> None:
        self.review_id = review_id
        self.reason = reason
        super().__init__(f"link decision {review_id}: {reason}")
